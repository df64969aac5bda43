"""``torch.nn.init``'s functions over NumPy arrays: same names, signatures and defaults.

Each fills its array in place and returns it. Fans use torch's ``(out, in, *kernel)`` layout.
Arrays may be float16, bfloat16, float32 or float64, contiguous or not; torch CPU tensors of
those dtypes are written in place too, zero-copy (``meta`` tensors are returned unchanged). ``generator`` is a
``fastinit.Generator``, an int seed, or None for the default generator (seeded by
``fastinit.manual_seed``). Zero-element arrays are left alone; the kaiming functions warn
about them, as torch does.

    >>> w = np.empty((4096, 1024), np.float32)
    >>> fastinit.init.kaiming_uniform_(w, a=math.sqrt(5), generator=0)
"""
import math
import warnings

import numpy as np

from fastinit import _args, _fill
from fastinit._args import manual_seed
from fastinit._fans import calculate_gain, torch_fan, torch_fans


@_args.inplace
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U[a, b)."""
    arr = _args.target(tensor)
    lo, hi = _args.finite(a, "a"), _args.finite(b, "b")
    if lo > hi:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found "
                         f"from={a} > to={b}")
    if arr.size:
        _fill.uniform(_args.generator(generator), arr, lo, hi)
    return tensor


@_args.inplace
def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std**2)."""
    arr = _args.target(tensor)
    m, s = _args.finite(mean, "mean"), _args.nonnegative(std, "std")
    if arr.size:
        _fill.normal(_args.generator(generator), arr, m, s)
    return tensor


@_args.inplace
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std**2) truncated to [a, b]; the bounds are absolute, as in torch.

    Exact (rejection sampling), for every interval, in every dtype: values lie in [a, b]
    after rounding and do not pile up on the bounds."""
    arr = _args.target(tensor)
    m, s = _args.finite(mean, "mean"), _args.positive(std, "std")
    lo, hi = _args.real(a, "a"), _args.real(b, "b")
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(f"trunc_normal_ needs a < b, got a={a!r}, b={b!r}")
    if arr.size:
        _fill.truncated_normal(_args.generator(generator), arr, m, s, lo, hi)
    return tensor


@_args.inplace
def constant_(tensor, val):
    """Fill with ``val``."""
    arr = _args.target(tensor)
    v = _args.real(val, "val")
    # 16-bit dtypes through float32, as torch's fill_ converts a Python scalar.
    with np.errstate(over="ignore"):
        x = arr.dtype.type(np.float32(v) if arr.itemsize == 2 else v)
    if math.isfinite(v) and not np.isfinite(x):
        raise ValueError(f"value cannot be converted to type {arr.dtype} without overflow")
    arr.fill(x)
    return tensor


def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0.0)


@_args.inplace
def eye_(tensor):
    """The identity matrix of a 2-D array (ones on the main diagonal of a non-square one)."""
    arr = _args.target(tensor)
    if arr.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    arr.fill(0)
    np.fill_diagonal(arr, 1)
    return tensor


@_args.inplace
def dirac_(tensor, groups=1):
    """The Dirac delta of a conv weight ``(out, in, *k)``: the convolution is the identity on
    the first ``min(out/groups, in)`` channels of each group, with the delta at ``k // 2``."""
    arr = _args.target(tensor)
    if arr.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if arr.shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = arr.shape[0] // groups
    d = np.arange(min(per_group, arr.shape[1]))
    out_ch = (np.arange(groups)[:, None] * per_group + d).ravel()
    centre = tuple(k // 2 for k in arr.shape[2:])
    arr.fill(0)
    arr[(out_ch, np.tile(d, groups)) + centre] = 1
    return tensor


@_args.inplace
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    arr = _args.target(tensor)
    fan_in, fan_out = torch_fans(arr.shape)
    g = _args.nonnegative(gain, "gain")     # torch's range would come out reversed
    if arr.size:
        bound = math.sqrt(3.0) * g * math.sqrt(2.0 / (fan_in + fan_out))
        _fill.uniform(_args.generator(generator), arr, -bound, bound)
    return tensor


@_args.inplace
def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    arr = _args.target(tensor)
    fan_in, fan_out = torch_fans(arr.shape)
    g = _args.nonnegative(gain, "gain")     # torch's std would be negative
    if arr.size:
        _fill.normal(_args.generator(generator), arr, 0.0, g * math.sqrt(2.0 / (fan_in + fan_out)))
    return tensor


def _kaiming_std(arr, a, mode, nonlinearity):
    """gain / sqrt(fan), or None for a zero-element array (which torch warns about)."""
    if arr.size == 0:
        # The caller, past kaiming_*_ and the _args.inplace wrapper.
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=4)
        return None
    fan = torch_fan(arr.shape, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@_args.inplace
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al., 2015).

    ``a`` is the negative slope of a leaky_relu; ``mode`` picks fan_in (the forward pass's
    variance) or fan_out (the backward pass's)."""
    arr = _args.target(tensor)
    std = _kaiming_std(arr, a, mode, nonlinearity)
    if std is not None:
        bound = math.sqrt(3.0) * std
        _fill.uniform(_args.generator(generator), arr, -bound, bound)
    return tensor


@_args.inplace
def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std**2) with std = gain / sqrt(fan)."""
    arr = _args.target(tensor)
    std = _kaiming_std(arr, a, mode, nonlinearity)
    if std is not None:
        _fill.normal(_args.generator(generator), arr, 0.0, std)
    return tensor


@_args.inplace
def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013).

    The array is viewed as ``(shape[0], numel // shape[0])``, as torch does. QR runs through
    NumPy's LAPACK in float64 for float64 arrays and in float32 otherwise (float16 and
    bfloat16 included), and the result is rounded once to the array's dtype."""
    arr = _args.target(tensor)
    if arr.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    g = _args.finite(gain, "gain")
    if arr.size:
        rows = arr.shape[0]
        q = _fill.orthogonal_matrix(_args.generator(generator), rows, arr.size // rows,
                                    arr.dtype)
        q *= g
        _fill.write(arr, q.reshape(arr.shape))
    return tensor


@_args.inplace
def sparse_(tensor, sparsity, std=0.01, generator=None):
    """N(0, std**2) with ``ceil(sparsity * rows)`` zeros in every column, at positions drawn
    uniformly (and from ``generator``) for each column (Martens, 2010)."""
    arr = _args.target(tensor)
    if arr.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    frac = _args.probability(sparsity, "sparsity")
    s = _args.nonnegative(std, "std")
    if arr.size:
        rows, cols = arr.shape
        g = _args.generator(generator)
        _fill.normal(g, arr, 0.0, s)
        zero = g.sparse_mask((rows, cols), k=math.ceil(frac * rows), axis=0)
        np.copyto(arr, arr.dtype.type(0), where=zero)
    return tensor


__all__ = [
    "calculate_gain", "constant_", "dirac_", "eye_", "kaiming_normal_", "kaiming_uniform_",
    "manual_seed", "normal_", "ones_", "orthogonal_", "sparse_", "trunc_normal_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]
