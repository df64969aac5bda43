"""Argument checking for the Python layer, in one place.

The in-place functions (torch names) and the initializer objects (Keras/JAX names) take
their arrays, dtypes, shapes, generators and numbers through these helpers, so every check
and every message is written once. The kernels' own buffer checks live in ``_core.pyx``.

Below this module: ``_adapt`` (torch dtypes and tensors as NumPy sees them) and ``_state``
(the default generator). It never imports the torch adapter or anything above it.
"""
import functools
import math
import numbers
import operator
import os
import sys
import warnings

import numpy as np

from fastinit import _adapt, _state
from fastinit._core import BFLOAT16, Generator, plan_index
# Re-exported: the default generator's functions were defined here before _state held them.
from fastinit._state import default_generator, fresh_seed, manual_seed  # noqa: F401

FLOAT_DTYPES = (np.dtype(np.float16), BFLOAT16, np.dtype(np.float32), np.dtype(np.float64))


def generator(gen):
    """A ``fastinit.Generator`` from ``generator=``: a Generator, an int seed, a
    ``torch.Generator`` (one key drawn from it), or None (the default generator)."""
    if gen is None:
        return _state._default
    if isinstance(gen, Generator):
        return gen
    if isinstance(gen, numbers.Integral) and not isinstance(gen, bool):
        return Generator(int(gen))
    if isinstance(gen, np.random.SeedSequence):
        return Generator(gen)
    if _adapt.is_torch(gen, "Generator"):
        return _adapt.generator_from(gen)
    raise TypeError("generator must be a fastinit.Generator, an int seed, a torch.Generator "
                    f"or None, not {type(gen).__name__}")


def seed(value):
    """An initializer's ``seed=``: None or a non-negative int."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise ValueError(f"seed must be None or a non-negative int, got {value!r}")


def dtype(dt):
    """A float dtype fastinit fills: float16, bfloat16, float32 or float64 (NumPy, ml_dtypes
    or torch spellings)."""
    try:
        d = np.dtype(dt)
    except TypeError:
        d = None
        if _adapt.is_torch(dt, "dtype"):
            d = _adapt.numpy_dtype(dt)
    if d not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float16, bfloat16, float32 or float64, not {dt!r}")
    return d


def target(t):
    """The writable float array an in-place function fills: the array itself, or a zero-copy
    NumPy view of a CPU torch tensor."""
    if not isinstance(t, np.ndarray):
        if _adapt.is_torch(t, "Tensor"):
            return _adapt.as_array(t)
        raise TypeError(f"expected a numpy.ndarray or a torch CPU tensor, not "
                        f"{type(t).__name__}")
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"array has dtype {t.dtype}; fastinit fills float16, bfloat16, "
                        "float32 and float64")
    if not t.flags.writeable:
        raise ValueError("array is read-only")
    return t


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    """Warn, attributed to the first caller outside fastinit: the user's line, or the torch.nn
    module that called a patched torch.nn.init function -- where torch's own warnings of the
    same call point (stacklevel=2 in torch.nn.init). Works out the stacklevel from the
    frames, as the wrappers between (_args.inplace, fastinit.torch's patch) vary."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def inplace(fn):
    """Decorate an in-place function so it also takes torch tensors: a ``meta`` tensor is
    returned unchanged, and a written tensor has its autograd version counter bumped, as
    torch's own in-place ops do."""
    @functools.wraps(fn)
    def wrapper(tensor, *args, **kwargs):
        if isinstance(tensor, np.ndarray) or not _adapt.is_torch(tensor, "Tensor"):
            return fn(tensor, *args, **kwargs)
        if tensor.is_meta:
            return tensor
        fn(tensor, *args, **kwargs)
        _adapt.written(tensor)
        return tensor
    return wrapper


def is_meta(t):
    """Whether t is a torch ``meta`` tensor (no storage: in-place functions return it)."""
    return not isinstance(t, np.ndarray) and _adapt.is_torch(t, "Tensor") and t.is_meta


def _dim(d):
    """One dimension as an int. A bool is refused, as NumPy and torch refuse it in a shape:
    ``operator.index(True)`` is 1, and ``shape=(True, 4)`` is a mistake, not (1, 4)."""
    if isinstance(d, (bool, np.bool_)):
        raise TypeError("a bool is not a dimension")
    return operator.index(d)


def shape(s):
    """A shape: an int or a sequence of non-negative ints (not bools)."""
    if type(s) is tuple and all(type(d) is int and d >= 0 for d in s):
        return s                                # the common case, without exceptions
    try:
        dims = (_dim(s),)
    except TypeError:
        try:
            dims = tuple(_dim(d) for d in s)
        except TypeError:
            raise TypeError(f"shape must be an int or a tuple of ints, not {s!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"negative dimensions are not allowed: shape={s!r}")
    return dims


def block_shape(full, index):
    """The shape of full[index], a NumPy basic index (ValueError for a bad one)."""
    return plan_index(full, () if index is None else index)[0]


def shard(arr, full_shape, index):
    """For an in-place function given a shard: (the logical shape fans come from, where),
    where is None for a whole array, else (full shape, index) for the Generator's
    size=/index=. The array must be exactly full[index]."""
    if full_shape is None:
        if index is not None:
            raise ValueError("index= needs full_shape=, the shape of the whole tensor")
        return arr.shape, None
    full = shape(full_shape)
    idx = () if index is None else index
    blk = block_shape(full, idx)
    if blk != arr.shape:
        raise ValueError(f"the array's shape {arr.shape} is not that of "
                         f"full_shape{list(full)}[index], {blk}")
    return full, (full, idx)


def output(shp, dt, out, default_dtype, index=None):
    """What an initializer object writes: (array, full shape, where). The array is ``out``
    (checked against shape, index and dtype) or a new one of ``shape[index]`` and ``dtype``
    (else the initializer's default, else float32); ``where`` as for ``shard``."""
    if out is None:
        if shp is None:
            raise TypeError("an initializer needs a shape or out=")
        full = shape(shp)
        arr = np.empty(full if index is None else block_shape(full, index),
                       dtype(dt if dt is not None else
                             default_dtype if default_dtype is not None else np.float32))
        return arr, full, None if index is None else (full, index)
    arr = target(out)
    if dt is not None and dtype(dt) != arr.dtype:
        raise TypeError(f"dtype {dtype(dt)} does not match out's dtype {arr.dtype}")
    if index is not None:
        if shp is None:
            raise ValueError("index= needs the full shape")
        full, where = shard(arr, shp, index)
        return arr, full, where
    if shp is not None and shape(shp) != arr.shape:
        raise ValueError(f"shape {shape(shp)} does not match out.shape {arr.shape}")
    return arr, arr.shape, None


def real(x, name):
    """A real number (bools and non-numbers are refused)."""
    if type(x) is float or type(x) is int:      # the common case, without the ABC check
        return float(x)
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    return float(x)


def finite(x, name):
    v = real(x, name)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return v


def nonnegative(x, name):
    v = finite(x, name)
    if v < 0:
        raise ValueError(f"{name} must be non-negative, got {x!r}")
    return v


def positive(x, name):
    v = finite(x, name)
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {x!r}")
    return v


def probability(x, name):
    v = real(x, name)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {x!r}")
    return v


def count(x, name):
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 0:
        raise ValueError(f"{name} must be a non-negative int, got {x!r}")
    return int(x)


def choice(x, name, valid):
    if not isinstance(x, str) or x.lower() not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}, got {x!r}")
    return x.lower()
