"""PyTorch drop-in: fill torch CPU tensors in place, and patch ``torch.nn.init``.

Importing this module imports torch (``pip install fastinit[torch]``); ``import fastinit``
alone never does.

    >>> import fastinit.torch
    >>> with fastinit.torch.patch():          # or @fastinit.torch.patch(), or install()
    ...     model = build_model()             # nn.Linear, nn.Embedding, _init_weights, ...

Under ``patch()`` every public function of ``torch.nn.init`` that fills values runs through
fastinit when its tensor is a plain CPU tensor or ``nn.Parameter`` of float16, bfloat16,
float32 or float64, or a DTensor of those placed by Shard and Replicate (each rank fills its
block of the whole: ``fastinit._dtensor``); anything else (CUDA, meta, other dtypes, other
tensor subclasses, Partial placements) goes to the function that was there before. Each
call that draws values takes one 63-bit key from the torch Generator passed as
``generator=``, or else from torch's default CPU generator, so
``torch.manual_seed`` and ``generator=`` work as they do in torch. When fastinit rejects an
argument, torch's own function is called instead, so error types and messages (and the cases
torch accepts) are torch's.

Writes are zero-copy, through a NumPy view of the tensor's storage (bfloat16 through a 16-bit
integer view), and bump the tensor's autograd version counter as torch's in-place ops do.
"""
import contextlib
import functools
import inspect
import sys

import torch

from fastinit import _adapt, init as _init
# Tensors as arrays live in _adapt, below the argument checks that also need them; they are
# this module's public names too.
from fastinit._adapt import as_array, generator_from, numpy_dtype, written  # noqa: F401

_NUMPY_DTYPES = _adapt.torch_dtypes()

# The torch.nn.init functions that patch() replaces (calculate_gain and the fan helpers
# compute nothing random and stay torch's).
FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
             "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
             "kaiming_normal_", "orthogonal_", "sparse_")


# ---- patching torch.nn.init -----------------------------------------------------------------

_PLAIN = (torch.Tensor, torch.nn.Parameter)


def _ours(t):
    """Whether fastinit writes this tensor (else the previous function does)."""
    return (type(t) in _PLAIN and t.device.type == "cpu" and t.layout == torch.strided
            and t.dtype in _NUMPY_DTYPES and not t.is_neg() and not t.is_conj())


def _dtensor_block(t):
    """(local tensor, full shape, index) of a DTensor fastinit fills (see _dtensor), else
    None. No DTensor exists before torch.distributed.tensor is imported: until then this
    imports nothing."""
    if "torch.distributed.tensor" not in sys.modules:
        return None
    from fastinit import _dtensor
    blk = _dtensor.block(t)
    return blk if blk is not None and _ours(blk[0]) else None


def _patched(name, previous):
    ours = getattr(_init, name)
    params = list(inspect.signature(previous).parameters)
    gen_at = params.index("generator") if "generator" in params else None

    @functools.wraps(previous)
    def patched(*args, **kwargs):
        tensor = args[0] if args else kwargs.get("tensor")
        blk = None
        if not _ours(tensor):
            blk = _dtensor_block(tensor)
            if blk is None:
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
            if blk is not None:
                from fastinit import _dtensor
                return _dtensor.fill(ours, tensor, blk, call_args, call_kwargs)
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
