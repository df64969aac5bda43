"""Other frameworks' dtypes and tensors as NumPy sees them: the bottom of the Python layer.

A torch float dtype becomes a NumPy dtype, a torch CPU tensor a zero-copy NumPy view of its
storage, a written tensor gets its version counter bumped, and a ``torch.Generator`` keys a
``fastinit.Generator``. torch is never imported here at module level, nor ever for an object
that is not a torch object: an object can only be a torch tensor, dtype or Generator if torch
is already in ``sys.modules`` (whoever made it imported torch), so ``import fastinit`` never
imports torch.

This module imports nothing from the Python layer but ``_core``: the argument checks
(``_args``) and the torch adapter (``fastinit.torch``) both build on it, so neither has to
reach the other.
"""
import copy
import sys

import numpy as np

from fastinit._core import BFLOAT16, Generator


def is_torch(obj, name):
    """Whether obj is a torch.<name>, without importing torch (if torch is not imported,
    nothing is a tensor)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, getattr(torch, name))


_NUMPY_DTYPES = None        # torch dtype -> NumPy dtype, made on first use (torch imported)


def torch_dtypes():
    """{torch dtype: NumPy dtype} of the float dtypes fastinit fills. Only called once torch
    is imported (by the torch adapter, or for an object that is a torch object)."""
    global _NUMPY_DTYPES
    if _NUMPY_DTYPES is None:
        import torch
        _NUMPY_DTYPES = {torch.float16: np.dtype(np.float16), torch.bfloat16: BFLOAT16,
                         torch.float32: np.dtype(np.float32),
                         torch.float64: np.dtype(np.float64)}
    return _NUMPY_DTYPES


def numpy_dtype(dt):
    """The NumPy dtype of a torch float dtype fastinit fills, else None."""
    if sys.modules.get("torch") is None:
        return None         # torch is not imported: dt cannot be one of its dtypes
    return torch_dtypes().get(dt)


def torch_qr(a):
    """np.linalg.qr's (q, r) of a float32 or float64 NumPy matrix, through torch's LAPACK
    (MKL in torch's x86 wheels, several times faster than the OpenBLAS NumPy's wheels bring).
    Only called for a torch tensor's values (torch imported). Its last bits depend on that
    LAPACK and, with MKL, on torch's thread count."""
    import torch
    q, r = torch.linalg.qr(torch.from_numpy(a))
    return q.numpy(), r.numpy()


def torch_write(arr, m):
    """arr[...] = m.reshape(arr.shape) for a matrix m with arr.size elements, through torch's
    threaded copy when it can (m from LAPACK is column-major: the transposing copy takes
    NumPy about twice as long, in one thread). The values round to arr's dtype exactly as
    NumPy's cast rounds them (once, to nearest even)."""
    import torch
    # torch casts float64 to the 16-bit dtypes through float32, rounding twice: NumPy's cast
    # then (fastinit's own small QR gives float64).
    if not arr.flags.c_contiguous or (m.dtype != arr.dtype and m.dtype != np.float32):
        arr[...] = m.reshape(arr.shape)
        return arr
    if arr.dtype == BFLOAT16:
        dst = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    else:
        dst = torch.from_numpy(arr)
    dst.view(m.shape).copy_(torch.from_numpy(m))
    return arr


def as_array(t):
    """A writable NumPy view of a CPU tensor's values (no copy). Refuses what torch's own
    in-place ops refuse: overlapping (expanded) tensors, and inference tensors outside
    inference mode."""
    import torch            # t is a tensor: torch is imported already
    if not t.is_cpu:        # device.type would build a string on every call
        raise ValueError(f"fastinit fills CPU tensors; this one is on {t.device}")
    if t.layout != torch.strided:
        raise TypeError(f"fastinit fills strided tensors, not {t.layout}")
    dt = torch_dtypes().get(t.dtype)
    if dt is None:
        raise TypeError(f"tensor has dtype {t.dtype}; fastinit fills float16, bfloat16, "
                        "float32 and float64")
    if t.is_neg() or t.is_conj():
        raise ValueError("fastinit cannot write a tensor with its negative or conjugate bit "
                         "set; call resolve_neg() first")
    # A contiguous tensor with elements has no dimension of stride 0 and size > 1: the scan
    # only for the others.
    if (not t.is_contiguous() or t.numel() == 0) and \
            any(st == 0 and n > 1 for st, n in zip(t.stride(), t.shape)):
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
    import torch            # t is a tensor: torch is imported already
    torch.autograd.graph.increment_version(t)


_TEMPLATE = Generator(0)


def generator_from(gen):
    """A fastinit Generator keyed by one 63-bit draw from a torch Generator."""
    import torch            # gen is a torch.Generator: torch is imported already
    k = torch.empty((), dtype=torch.int64).random_(generator=gen).item()
    g = copy.copy(_TEMPLATE)
    g.state = {"bit_generator": "Philox4x32-10", "key": (k & 0xFFFFFFFF, k >> 32), "counter": 0}
    return g
