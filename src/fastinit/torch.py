"""PyTorch drop-in: fill torch CPU tensors in place, and patch ``torch.nn.init``.

Importing this module imports torch (``pip install fastinit[torch]``); ``import fastinit``
alone never does.

    >>> import fastinit.torch
    >>> with fastinit.torch.patch():          # or @fastinit.torch.patch(), or install()
    ...     model = build_model()             # nn.Linear, nn.Embedding, _init_weights, ...

Under ``patch()`` every public function of ``torch.nn.init`` that fills values runs through
fastinit when its tensor is a plain CPU tensor or ``nn.Parameter`` of float16, bfloat16,
float32 or float64; anything else (CUDA, meta, other dtypes, tensor subclasses) goes to the
function that was there before. Each call that draws values takes one 63-bit key from the
torch Generator passed as ``generator=``, or else from torch's default CPU generator, so
``torch.manual_seed`` and ``generator=`` work as they do in torch. When fastinit rejects an
argument, torch's own function is called instead, so error types and messages (and the cases
torch accepts) are torch's.

Writes are zero-copy, through a NumPy view of the tensor's storage (bfloat16 through a 16-bit
integer view), and bump the tensor's autograd version counter as torch's in-place ops do.
"""
import contextlib
import copy
import functools
import inspect
import sys

import numpy as np
import torch

from fastinit import _args, init as _init
from fastinit._core import BFLOAT16, Generator

_NUMPY_DTYPES = {torch.float16: np.dtype(np.float16), torch.bfloat16: BFLOAT16,
                 torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}

# The torch.nn.init functions that patch() replaces (calculate_gain and the fan helpers
# compute nothing random and stay torch's).
FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
             "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
             "kaiming_normal_", "orthogonal_", "sparse_")


# ---- tensors as arrays ---------------------------------------------------------------------

def numpy_dtype(dt):
    """The NumPy dtype of a torch float dtype fastinit fills, else None."""
    return _NUMPY_DTYPES.get(dt)


def as_array(t):
    """A writable NumPy view of a CPU tensor's values (no copy). Refuses what torch's own
    in-place ops refuse: overlapping (expanded) tensors, and inference tensors outside
    inference mode."""
    if t.device.type != "cpu":
        raise ValueError(f"fastinit fills CPU tensors; this one is on {t.device}")
    if t.layout != torch.strided:
        raise TypeError(f"fastinit fills strided tensors, not {t.layout}")
    dt = _NUMPY_DTYPES.get(t.dtype)
    if dt is None:
        raise TypeError(f"tensor has dtype {t.dtype}; fastinit fills float16, bfloat16, "
                        "float32 and float64")
    if t.is_neg() or t.is_conj():
        raise ValueError("fastinit cannot write a tensor with its negative or conjugate bit "
                         "set; call resolve_neg() first")
    if any(st == 0 and n > 1 for st, n in zip(t.stride(), t.shape)):
        raise ValueError("unsupported operation: more than one element of the written-to "
                         "tensor refers to a single memory location")
    if t.is_inference() and not torch.is_inference_mode_enabled():
        raise ValueError("Inplace update to inference tensor outside InferenceMode is not "
                         "allowed")
    d = t.detach()
    if dt is BFLOAT16:      # NumPy has no bfloat16 of torch's: view the same bits
        return d.view(torch.int16).numpy().view(BFLOAT16)
    return d.numpy()


def written(t):
    """Mark ``t`` as modified in place for autograd, as ``torch.no_grad`` in-place ops do."""
    torch.autograd.graph.increment_version(t)


_TEMPLATE = Generator(0)


def generator_from(gen):
    """A fastinit Generator keyed by one 63-bit draw from a torch Generator."""
    k = int(torch.empty((), dtype=torch.int64).random_(generator=gen))
    g = copy.copy(_TEMPLATE)
    g.state = {"bit_generator": "Philox4x32-10", "key": (k & 0xFFFFFFFF, k >> 32), "counter": 0}
    return g


# ---- patching torch.nn.init -----------------------------------------------------------------

_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _ours(t):
    """Whether fastinit writes this tensor (else the previous function does)."""
    return (type(t) in _PLAIN and t.device.type == "cpu" and t.layout == torch.strided
            and t.dtype in _NUMPY_DTYPES and not t.is_neg() and not t.is_conj())


def _patched(name, previous):
    ours = getattr(_init, name)
    params = list(inspect.signature(previous).parameters)
    gen_at = params.index("generator") if "generator" in params else None

    @functools.wraps(previous)
    def patched(*args, **kwargs):
        tensor = args[0] if args else kwargs.get("tensor")
        if not _ours(tensor):
            return previous(*args, **kwargs)
        call_args, call_kwargs = args, kwargs
        if gen_at is not None:
            # None means torch's default CPU generator; the key is drawn only when values are.
            # Anything but a torch.Generator is torch's to refuse.
            gen = args[gen_at] if len(args) > gen_at else kwargs.get("generator")
            if gen is None:
                gen = torch.default_generator
                if len(args) > gen_at:
                    call_args = args[:gen_at] + (gen,) + args[gen_at + 1:]
                else:
                    call_kwargs = dict(kwargs, generator=gen)
            elif not isinstance(gen, torch.Generator):
                return previous(*args, **kwargs)
        try:
            return ours(*call_args, **call_kwargs)
        except (TypeError, ValueError):
            # Nothing was written and nothing drawn: let torch raise its own error (or
            # accept what it accepts, e.g. sparse_ with sparsity above 1).
            return previous(*args, **kwargs)

    patched.__fastinit__ = True
    return patched


_installed = []      # what each install() still in effect replaced, innermost last


def _bindings(module, previous):
    """torch.nn's own modules that imported these functions by name (``from torch.nn.init
    import xavier_uniform_`` in nn.MultiheadAttention, nn.Transformer): (module, name) pairs
    still bound to the function torch.nn.init holds."""
    out = []
    for mod_name, mod in list(sys.modules.items()):
        if mod is None or mod is module or not mod_name.startswith("torch.nn."):
            continue
        d = getattr(mod, "__dict__", {})
        out.extend((mod, name) for name, fn in previous.items() if d.get(name) is fn)
    return out


def install():
    """Replace ``torch.nn.init``'s functions with fastinit's until ``uninstall()``, in
    ``torch.nn.init`` and in the ``torch.nn`` modules that imported them by name. Nests.
    Returns the functions ``torch.nn.init`` held, by name."""
    return {name: fn for mod, name, fn in _install() if mod is torch.nn.init}


def _install():
    module = torch.nn.init
    previous = {name: getattr(module, name) for name in FUNCTIONS if hasattr(module, name)}
    saved = [(module, name, fn) for name, fn in previous.items()]
    saved += [(mod, name, previous[name]) for mod, name in _bindings(module, previous)]
    patched = {name: _patched(name, fn) for name, fn in previous.items()}
    for mod, name, _ in saved:
        setattr(mod, name, patched[name])
    _installed.append(saved)
    return saved


def _restore(saved):
    for mod, name, fn in saved:
        setattr(mod, name, fn)


def uninstall():
    """Undo the latest ``install()``, restoring exactly the functions it replaced. Returns
    False if nothing was installed."""
    if not _installed:
        return False
    _restore(_installed.pop())
    return True


def is_installed():
    return bool(_installed)


class patch(contextlib.ContextDecorator):
    """``with patch(): ...`` or ``@patch()``: fastinit initializes inside, and on exit (an
    exception included) ``torch.nn.init`` holds exactly what it held on entry."""

    def __init__(self):
        self._saved = []

    def __enter__(self):
        self._saved.append(_install())
        return self

    def __exit__(self, *exc):
        saved = self._saved.pop()
        # Installs made inside this block (and not undone) end with it: drop them, then
        # restore what this block found.
        for i in range(len(_installed) - 1, -1, -1):
            if _installed[i] is saved:
                del _installed[i:]
                break
        _restore(saved)
        return False


__all__ = ["FUNCTIONS", "as_array", "install", "is_installed", "patch", "uninstall"]
