"""Shared helpers for the fastinit tests (imported as a plain module; pytest puts tests/ on
sys.path because tests/ has no __init__.py)."""
import functools
import math

import ml_dtypes
import numpy as np
import pytest

import fastinit

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
DTYPES = [F16, BF16, F32, F64]
DTYPE_IDS = ["float16", "bfloat16", "float32", "float64"]
SMALL_DTYPES = [F16, BF16]

UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

# Values per 16-block group (the unit the counter advances by) for each dtype.
PER_GROUP = {F16: 64, BF16: 64, F32: 64, F64: 32}


def dtype_params(dtypes=DTYPES):
    return [pytest.param(dt, id=str(dt)) for dt in dtypes]


def blocks_for(dtype, n):
    per = PER_GROUP[np.dtype(dtype)]
    return -(-n // per) * 16


def as_bits(a):
    """The raw bits of an array, in logical C order, as unsigned ints of the same width."""
    a = np.ascontiguousarray(a)
    return a.view(UINT[a.dtype.itemsize])


def assert_bits_equal(actual, expected, what=""):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    ba, be = as_bits(actual), as_bits(expected)
    if not np.array_equal(ba, be):
        bad = np.flatnonzero(ba.reshape(-1) != be.reshape(-1))
        i = int(bad[0])
        raise AssertionError(
            f"{what}: {bad.size} of {ba.size} values differ bitwise; first at flat index {i}: "
            f"{actual.reshape(-1)[i]!r} (0x{int(ba.reshape(-1)[i]):x}) != "
            f"{expected.reshape(-1)[i]!r} (0x{int(be.reshape(-1)[i]):x})")


def gen_at(key, counter):
    """A Generator in the given state."""
    g = fastinit.Generator(0)
    g.state = {"bit_generator": "Philox4x32-10", "key": tuple(key), "counter": counter}
    return g


def draw(g, dist, size=None, dtype=None, out=None, a=None, b=None):
    """One fill: dist 'uniform' (a=low, b=high, default [0,1)) or 'normal' (a=loc, b=scale)."""
    if dist == "uniform":
        return g.uniform(0.0 if a is None else a, 1.0 if b is None else b,
                         size=size, dtype=dtype, out=out)
    return g.normal(0.0 if a is None else a, 1.0 if b is None else b,
                    size=size, dtype=dtype, out=out)


def sentinel(shape, dtype):
    """An array filled with a recognizable bit pattern (a NaN payload for floats)."""
    dt = np.dtype(dtype)
    a = np.empty(shape, dtype=dt)
    pattern = {2: 0x7E5A, 4: 0x7FC0_5A5A, 8: 0x7FF8_5A5A_5A5A_5A5A}[dt.itemsize]
    a.view(UINT[dt.itemsize])[...] = pattern
    return a


# ---- the representable values of a dtype ---------------------------------------------

def all_finite_values(dtype):
    """Every finite value of a 16-bit dtype, as sorted float64 (with -0 merged into +0)."""
    return _all_finite_values(np.dtype(dtype))


@functools.lru_cache(maxsize=None)
def _all_finite_values(dt):
    assert dt.itemsize == 2
    with np.errstate(invalid="ignore"):
        v = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(dt).astype(np.float64)
    v = v[np.isfinite(v)]
    v = np.unique(v)        # unique treats -0.0 == 0.0
    v.flags.writeable = False
    return v


def finite_max(dtype):
    dt = np.dtype(dtype)
    if dt == BF16:
        return float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    return float(np.finfo(dt).max)


def next_up(x, dtype):
    """The least value of dtype greater than the dtype value x."""
    dt = np.dtype(dtype)
    if dt in (F32, F64):
        with np.errstate(over="ignore"):
            return float(np.nextafter(dt.type(x), dt.type(np.inf)))
    vals = all_finite_values(dt)
    i = np.searchsorted(vals, x, side="right")
    return float(vals[i]) if i < vals.size else math.inf


def next_down(x, dtype):
    dt = np.dtype(dtype)
    if dt in (F32, F64):
        with np.errstate(over="ignore"):
            return float(np.nextafter(dt.type(x), dt.type(-np.inf)))
    vals = all_finite_values(dt)
    i = np.searchsorted(vals, x, side="left") - 1
    return float(vals[i]) if i >= 0 else -math.inf


def representable_bounds(dtype, low, high):
    """(lo, hi): the least dtype value >= low and the greatest < high, computed
    independently of the library (None if there is none)."""
    dt = np.dtype(dtype)
    if dt in SMALL_DTYPES:
        vals = all_finite_values(dt)
        inside = vals[(vals >= low) & (vals < high)]
        if inside.size == 0:
            return None
        return float(inside[0]), float(inside[-1])
    # float32 / float64: round, then step
    lo = float(dt.type(low)) if abs(low) <= finite_max(dt) else None
    if lo is None or not math.isfinite(lo):
        lo = math.copysign(finite_max(dt), low)
    while lo < low:
        lo = next_up(lo, dt)
    while next_down(lo, dt) >= low:
        lo = next_down(lo, dt)
    hi = float(dt.type(high))
    if not math.isfinite(hi):
        hi = math.copysign(finite_max(dt), high)
    while hi >= high:
        hi = next_down(hi, dt)
    while next_up(hi, dt) < high:
        hi = next_up(hi, dt)
    if lo > hi:
        return None
    return lo, hi


# ---- exact models of the rounded distributions ---------------------------------------

def _midpoints(vals):
    """Midpoints between consecutive sorted values (exact in float64 for 16-bit dtypes)."""
    return vals[:-1] / 2 + vals[1:] / 2


def values_in(dtype, low, high, limit=200000):
    """The sorted float64 values of dtype in [low, high) (for float32/float64 by stepping,
    so only for intervals holding at most `limit` values)."""
    dt = np.dtype(dtype)
    if dt.itemsize == 2:
        vals = all_finite_values(dt)
        return vals[(vals >= low) & (vals < high)]
    bounds = representable_bounds(dt, low, high)
    if bounds is None:
        return np.empty(0)
    lo, hi = bounds
    out = [lo]
    while out[-1] < hi:
        out.append(next_up(out[-1], dt))
        assert len(out) <= limit, "too many values to enumerate"
    return np.array(out)


def rounded_uniform_model(dtype, low, high):
    """(values, probs) of the rounded uniform law: U ~ Uniform[low, high) rounded to the
    nearest dtype value, then clamped into [lo, hi] (the dtype values in [low, high))."""
    inside = values_in(dtype, low, high)
    if np.dtype(dtype) == F64:
        # midpoints of doubles are not doubles: exact rational arithmetic
        from fractions import Fraction
        v = [Fraction(x) for x in inside]
        mids = [(p + q) / 2 for p, q in zip(v, v[1:])]
        left = [Fraction(low)] + mids
        right = mids + [Fraction(high)]
        w = Fraction(high) - Fraction(low)
        return inside, np.array([float((r - l) / w) for l, r in zip(left, right)])
    mids = _midpoints(inside)
    left = np.concatenate([[low], mids])
    right = np.concatenate([mids, [high]])
    probs = (right - left) / (high - low)
    return inside, probs


def rounded_normal_model(dtype, loc, scale):
    """(values, probs): N(loc, scale) rounded to the nearest finite value of a 16-bit dtype
    (or of float32, for a scale of a few float32 ulps of loc)
    (what lies beyond the extreme values is counted on them; it is negligible here). Every
    finite value is kept, even those of (numerically) zero probability, so the grid is also
    the support check."""
    from scipy import stats
    if np.dtype(dtype).itemsize == 2:
        vals = all_finite_values(dtype)
    else:   # float32: the values within 12 scales of loc (beyond is < 1e-32 of the mass)
        assert np.dtype(dtype) == F32
        vals = values_in(F32, loc - 12 * scale, loc + 12 * scale)
    mids = (_midpoints(vals) - loc) / scale
    left = np.concatenate([[-np.inf], mids])
    right = np.concatenate([mids, [np.inf]])
    # P(left < Z < right): through the CDF on the left half and the survival function on the
    # right half (keeps tail precision); for very narrow cells (e.g. around 0 in bfloat16,
    # where the CDF difference cancels to 0) use pdf * width.
    center = np.where(np.isfinite(left) & np.isfinite(right), (left + right) / 2, 0.0)
    with np.errstate(invalid="ignore"):
        width = right - left
    p = np.where(right <= 0, stats.norm.cdf(right) - stats.norm.cdf(left),
                 stats.norm.sf(left) - stats.norm.sf(right))
    narrow = np.isfinite(width) & (width < 1e-6)
    p = np.where(narrow, stats.norm.pdf(center) * np.where(narrow, width, 0.0), p)
    p = np.maximum(p, 0.0)
    return vals, p / p.sum()


def counts_on_grid(samples, vals):
    """Counts of each value of the sorted grid vals among samples; asserts every sample lies
    on the grid (so none falls outside the model's support)."""
    x = np.asarray(samples).astype(np.float64).reshape(-1)
    assert not np.isnan(x).any(), "NaN in the output"
    idx = np.searchsorted(vals, x)
    idx_c = np.minimum(idx, vals.size - 1)
    off = vals[idx_c] != x
    assert not off.any(), (f"{int(off.sum())} samples outside the model's support, e.g. "
                           f"{x[off][:5]} (support [{vals[0]}, {vals[-1]}], {vals.size} values)")
    return np.bincount(idx_c, minlength=vals.size)


def grouped_chisquare(counts, probs, nbins=100, min_expected=20.0):
    """Chi-square test of per-value counts against per-value probabilities after grouping
    consecutive values into about nbins bins of similar probability (each bin keeps an
    expected count >= min_expected). Returns (statistic, pvalue, number of bins)."""
    from scipy import stats
    n = counts.sum()
    if probs.size == 1:
        return 0.0, 1.0, 1
    c = np.cumsum(probs)
    labels = np.minimum(((c - probs / 2) * nbins).astype(np.int64), nbins - 1)
    p = np.bincount(labels, weights=probs, minlength=nbins)
    k = np.bincount(labels, weights=counts, minlength=nbins)
    p, k = list(p), list(k)
    # merge bins whose expected count is too small into their right (or left) neighbour
    i = 0
    while i < len(p):
        if p[i] * n < min_expected and len(p) > 1:
            j = i + 1 if i + 1 < len(p) else i - 1
            p[j] += p[i]
            k[j] += k[i]
            del p[i], k[i]
            i = max(i - 1, 0)
        else:
            i += 1
    p = np.array(p)
    k = np.array(k)
    expected = p / p.sum() * n
    stat, pvalue = stats.chisquare(k, expected)
    return stat, pvalue, len(p)
