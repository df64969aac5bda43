"""Where torch's fills are reached from, and replacing them there: ``torch.nn.init``'s
functions wherever a loaded module bound them by name, transformers' ``TORCH_INIT_FUNCTIONS``
and torch.Tensor's methods. fastinit.torch installs its fills through these routes;
fastinit._record installs a recorder through the same ones.

Only torch is imported here, never fastinit's C core: the recording child process
(fastinit._record) loads this module alone, without the fastinit package, so that it pays for
torch and transformers only.
"""
import sys

import torch

# The torch.nn.init functions that are replaced (calculate_gain and the fan helpers compute
# nothing random and stay torch's).
FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
             "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
             "kaiming_normal_", "orthogonal_", "sparse_")

ABSENT = object()       # torch.Tensor does not define the method itself (TensorBase does)


# Python spellings of two methods' signatures, to bind a call's arguments by torch's rules
# (uniform_'s first parameter is ``from`` in torch, a keyword in Python: renamed on the way).
def normal_signature(self, mean=0.0, std=1.0, *, generator=None): ...
def uniform_signature(self, from_=0.0, to=1.0, *, generator=None): ...


def scan_bindings(names):
    """(module, name, value) for every loaded module (torch.nn.init's included) whose
    attribute ``name`` is one of the functions in ``names[name]`` (a collection): the
    functions other code bound by name at import, as in ``from torch.nn.init import
    xavier_uniform_`` (nn.MultiheadAttention, timm models, research code). Names are looked
    up, not every attribute compared, and all in one pass: thousands of modules are loaded
    once transformers is (about 2,900 with transformers, 3,000 with timm too), and patch()
    scans on entry and on exit."""
    ids = {name: {id(fn) for fn in fns} for name, fns in names.items()}
    keys = frozenset(ids)
    out = []
    for mod in list(sys.modules.values()):
        d = getattr(mod, "__dict__", None)
        # One C-level set test per module (its keys against the 14-18 names) skips the
        # modules that bind none of them, nearly all: a third of a dict.get per name each.
        if not isinstance(d, dict) or d.keys().isdisjoint(keys):
            continue
        for name, wanted in ids.items():
            v = d.get(name)
            if v is not None and id(v) in wanted:
                out.append((mod, name, v))
    return out


def captured_dicts():
    """Dicts that hold torch.nn.init's functions by value: transformers'
    ``TORCH_INIT_FUNCTIONS``, recorded when transformers.initialization is imported, which its
    own ``normal_``, ``uniform_``, ... (and so every model's ``_init_weights``) call."""
    mod = sys.modules.get("transformers.initialization")
    d = getattr(mod, "TORCH_INIT_FUNCTIONS", None)
    return [d] if isinstance(d, dict) else []


def _set(where, name, fn):
    if isinstance(where, dict):
        where[name] = fn
    elif fn is ABSENT:
        delattr(where, name)
    else:
        setattr(where, name, fn)


def install(function, methods, method, others=()):
    """Replace, returning [(where, name, previous, replacement)] (``where``: a module, a dict
    or torch.Tensor) for ``restore``. ``function(name, previous)`` makes the replacement of
    each of torch.nn.init's FUNCTIONS, bound wherever found; ``method(name, previous)`` that
    of each torch.Tensor method in ``methods``; ``others``: (name, function, replacement) of
    other libraries' functions (timm's), replaced wherever bound too."""
    module = torch.nn.init
    previous = {name: getattr(module, name) for name in FUNCTIONS if hasattr(module, name)}
    new = {id(fn): function(name, fn) for name, fn in previous.items()}
    new.update((id(fn), rep) for _, fn, rep in others)
    wanted = {name: [fn] for name, fn in previous.items()}
    for name, fn, _ in others:
        wanted.setdefault(name, []).append(fn)
    saved = [(mod, name, fn, new[id(fn)]) for mod, name, fn in scan_bindings(wanted)]
    saved += [(d, name, fn, new[id(fn)]) for d in captured_dicts()
              for name, fn in d.items() if previous.get(name) is fn]
    for name in methods:
        prev = torch.Tensor.__dict__.get(name, ABSENT)
        saved.append((torch.Tensor, name, prev, method(name, getattr(torch.Tensor, name))))
    for where, name, _, fn in saved:
        _set(where, name, fn)
    return saved


def restore(saved):
    """Undo an ``install``."""
    for where, name, fn, _ in reversed(saved):
        _set(where, name, fn)
    # Modules imported (and dicts filled) while installed bound the replacements: they get
    # what those replaced, so nothing of this install outlives it.
    back = {id(new): fn for _, _, fn, new in saved if fn is not ABSENT}
    wanted = {}
    for _, name, _, new in saved:
        wanted.setdefault(name, []).append(new)
    for mod, name, v in scan_bindings(wanted):
        if id(v) in back:
            setattr(mod, name, back[id(v)])
    for d in captured_dicts():
        for name, v in d.items():
            if id(v) in back:
                d[name] = back[id(v)]
