"""``torch.nn.init``'s functions over NumPy arrays: same names, signatures and defaults.

Each fills its array in place and returns it. Fans use torch's ``(out, in, *kernel)`` layout.
Arrays may be float16, bfloat16, float32 or float64, contiguous or not; torch CPU tensors of
those dtypes are written in place too, zero-copy (``meta`` tensors are returned unchanged). ``generator`` is a
``fastinit.Generator``, an int seed, or None for the default generator (seeded by
``fastinit.manual_seed``). Zero-element arrays are left alone, and a zero-size tensor
given as a shard (``full_shape`` with a zero dim) too: nothing is drawn, the generator does
not move. The kaiming functions warn about them, as torch does.

    >>> w = np.empty((4096, 1024), np.float32)
    >>> fastinit.init.kaiming_uniform_(w, a=math.sqrt(5), generator=0)

**Shards.** Every function also takes ``full_shape=`` and ``index=`` (keyword only): the
array is then the block ``full[index]`` of a tensor of ``full_shape`` (a NumPy basic index:
ints and slices, steps allowed), and receives exactly those values of the whole tensor, bit
for bit, without the rest being made. Fans and gains come from ``full_shape``, and the
generator advances as for the whole tensor, so every rank stays in step.

    >>> shard = np.empty((8192, 1024), np.float32)      # columns 1024:2048 of 8192 x 8192
    >>> fastinit.init.kaiming_uniform_(shard, generator=g, full_shape=(8192, 8192),
    ...                                index=np.s_[:, 1024:2048])
"""
import math

import numpy as np

from fastinit import _adapt, _args, _fill
from fastinit._fans import calculate_gain, torch_fan, torch_fans
from fastinit._state import manual_seed


@_args.inplace
def uniform_(tensor, a=0.0, b=1.0, generator=None, *, full_shape=None, index=None):
    """Fill with U[a, b)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    lo, hi = _args.finite(a, "a"), _args.finite(b, "b")
    if lo > hi:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found "
                         f"from={a} > to={b}")
    if _fill.draws(arr, full, where):      # an empty shard still moves g
        _fill.uniform(_args.generator(generator), arr, lo, hi, where)
    return tensor


@_args.inplace
def normal_(tensor, mean=0.0, std=1.0, generator=None, *, full_shape=None, index=None):
    """Fill with N(mean, std**2)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    m, s = _args.finite(mean, "mean"), _args.nonnegative(std, "std")
    if _fill.draws(arr, full, where):      # an empty shard still moves g
        _fill.normal(_args.generator(generator), arr, m, s, where)
    return tensor


@_args.inplace
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *,
                  full_shape=None, index=None):
    """Fill with N(mean, std**2) truncated to [a, b]; the bounds are absolute, as in torch.

    Exact (rejection sampling), for every interval, in every dtype: values lie in [a, b]
    after rounding and do not pile up on the bounds. Warns as torch does when the mean is
    more than 2 std outside [a, b] (its message says torch's sampler may be off there)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    m, s = _args.finite(mean, "mean"), _args.positive(std, "std")
    lo, hi = _args.real(a, "a"), _args.real(b, "b")
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(f"trunc_normal_ needs a < b, got a={a!r}, b={b!r}")
    if m < lo - 2 * s or m > hi + 2 * s:
        # torch's warning, word for word: the values are exact here all the same.
        _args.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                   "The distribution of values may be incorrect.")
    if _fill.draws(arr, full, where):      # an empty shard still moves g
        _fill.truncated_normal(_args.generator(generator), arr, m, s, lo, hi, where)
    return tensor


@_args.inplace
def constant_(tensor, val, *, full_shape=None, index=None):
    """Fill with ``val``."""
    arr = _args.target(tensor)
    _args.shard(arr, full_shape, index)
    v = _args.real(val, "val")
    # 16-bit dtypes through float32, as torch's fill_ converts a Python scalar.
    if abs(v) <= 65504.0:       # float16's largest: no dtype overflows (np.errstate costs
        x = arr.dtype.type(np.float32(v) if arr.itemsize == 2 else v)     # ~5 us a call)
    else:
        with np.errstate(over="ignore"):
            x = arr.dtype.type(np.float32(v) if arr.itemsize == 2 else v)
        if math.isfinite(v) and not np.isfinite(x):
            raise ValueError(f"value cannot be converted to type {arr.dtype} without overflow")
    _fill.constant(arr, x)
    return tensor


def ones_(tensor, *, full_shape=None, index=None):
    """Fill with 1."""
    return constant_(tensor, 1.0, full_shape=full_shape, index=index)


def zeros_(tensor, *, full_shape=None, index=None):
    """Fill with 0."""
    return constant_(tensor, 0.0, full_shape=full_shape, index=index)


@_args.inplace
def eye_(tensor, *, full_shape=None, index=None):
    """The identity matrix of a 2-D array (ones on the main diagonal of a non-square one)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    if len(full) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if where is None:
        arr.fill(0)
        np.fill_diagonal(arr, 1)
    else:
        rows, cols = _fill.positions(full, where[1])
        arr[...] = rows == cols
    return tensor


@_args.inplace
def dirac_(tensor, groups=1, *, full_shape=None, index=None):
    """The Dirac delta of a conv weight ``(out, in, *k)``: the convolution is the identity on
    the first ``min(out/groups, in)`` channels of each group, with the delta at ``k // 2``."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    if len(full) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if full[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = full[0] // groups
    width = min(per_group, full[1])
    centre = tuple(k // 2 for k in full[2:])
    if where is None:
        d = np.arange(width)
        out_ch = (np.arange(groups)[:, None] * per_group + d).ravel()
        arr.fill(0)
        arr[(out_ch, np.tile(d, groups)) + centre] = 1
    else:
        pos = _fill.positions(full, where[1])
        one = (pos[0] % per_group == pos[1]) & (pos[1] < width)
        for p, c in zip(pos[2:], centre):
            one = one & (p == c)
        arr[...] = one
    return tensor


@_args.inplace
def xavier_uniform_(tensor, gain=1.0, generator=None, *, full_shape=None, index=None):
    """U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    fan_in, fan_out = torch_fans(full)
    g = _args.nonnegative(gain, "gain")     # torch's range would come out reversed
    if _fill.draws(arr, full, where):      # an empty shard still moves g
        bound = math.sqrt(3.0) * g * math.sqrt(2.0 / (fan_in + fan_out))
        _fill.uniform(_args.generator(generator), arr, -bound, bound, where)
    return tensor


@_args.inplace
def xavier_normal_(tensor, gain=1.0, generator=None, *, full_shape=None, index=None):
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    fan_in, fan_out = torch_fans(full)
    g = _args.nonnegative(gain, "gain")     # torch's std would be negative
    if _fill.draws(arr, full, where):      # an empty shard still moves g
        _fill.normal(_args.generator(generator), arr, 0.0,
                     g * math.sqrt(2.0 / (fan_in + fan_out)), where)
    return tensor


def _kaiming_std(arr, full, a, mode, nonlinearity):
    """gain / sqrt(fan), or None for a zero-element tensor (which torch warns about; an
    empty shard of a tensor that is not empty still takes its place in the stream)."""
    if math.prod(full) == 0:
        _args.warn("Initializing zero-element tensors is a no-op")
        return None
    fan = torch_fan(full, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@_args.inplace
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None,
                     *, full_shape=None, index=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al., 2015).

    ``a`` is the negative slope of a leaky_relu; ``mode`` picks fan_in (the forward pass's
    variance) or fan_out (the backward pass's)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    std = _kaiming_std(arr, full, a, mode, nonlinearity)
    if std is not None:
        bound = math.sqrt(3.0) * std
        _fill.uniform(_args.generator(generator), arr, -bound, bound, where)
    return tensor


@_args.inplace
def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None,
                    *, full_shape=None, index=None):
    """N(0, std**2) with std = gain / sqrt(fan)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    std = _kaiming_std(arr, full, a, mode, nonlinearity)
    if std is not None:
        _fill.normal(_args.generator(generator), arr, 0.0, std, where)
    return tensor


def _torch_route(tensor, where):
    """Whether orthogonal_'s large matrices take torch's LAPACK QR (and torch's threaded
    copy into the tensor): for a whole torch tensor, as torch's MKL QR is faster than the
    OpenBLAS of NumPy's wheels. Shards keep NumPy's: its bits do not depend on the thread
    count, MKL's do, and the ranks of one tensor must cut the same matrix."""
    return where is None and _adapt.is_torch(tensor, "Tensor")


@_args.inplace
def orthogonal_(tensor, gain=1, generator=None, *, full_shape=None, index=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013).

    The array is viewed as ``(shape[0], numel // shape[0])``, as torch does. The Gaussian
    matrix is drawn, and its QR taken, in float64 for float64 arrays and in float32 otherwise
    (float16 and bfloat16 included), and the result is rounded once to the array's dtype.
    Small matrices take fastinit's own QR; larger ones LAPACK's: torch's for a whole torch
    tensor (as under ``fastinit.torch.patch()``), NumPy's for arrays and shards. With index=,
    the whole matrix is made (its memory and its QR), then cut: refused above 2**28
    elements. A zero-size tensor (a zero dim, as torch's ``(0, n)`` view of it) is left
    alone, as torch does."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    if len(full) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    g = _args.finite(gain, "gain")
    _fill.whole_for_index(full, where)
    if not _fill.draws(arr, full, where):  # (an empty shard still moves g, below)
        return tensor
    with np.errstate(over="ignore"):     # a huge gain: inf, silently, as torch's mul_
        rows = full[0]
        on_torch = _torch_route(tensor, where)
        q = _fill.orthogonal_matrix(_args.generator(generator), rows,
                                    math.prod(full) // rows, arr.dtype, arr.size > 0, g,
                                    _adapt.torch_qr if on_torch else None)
        if q is not None and on_torch:
            _adapt.torch_write(arr, q)
        elif q is not None:
            _fill.write(arr, q.reshape(full), where)
    return tensor


@_args.inplace
def sparse_(tensor, sparsity, std=0.01, generator=None, *, full_shape=None, index=None):
    """N(0, std**2) with ``ceil(sparsity * rows)`` zeros in every column, at positions drawn
    uniformly (and from ``generator``) for each column (Martens, 2010)."""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    if len(full) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    frac = _args.probability(sparsity, "sparsity")
    s = _args.nonnegative(std, "std")
    if _fill.draws(arr, full, where):      # an empty shard still moves g
        g = _args.generator(generator)
        _fill.normal(g, arr, 0.0, s, where)
        zero = _fill.sparse_mask(g, full, math.ceil(frac * full[0]), 0,
                                 None if where is None else where[1])
        arr[zero] = 0
    return tensor


__all__ = [
    "calculate_gain", "constant_", "dirac_", "eye_", "kaiming_normal_", "kaiming_uniform_",
    "manual_seed", "normal_", "ones_", "orthogonal_", "sparse_", "trunc_normal_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]
