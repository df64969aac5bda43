"""uniform(low, high) stays in [low, high) exactly, for every dtype and SIMD path.

"Exactly" means: each output value, converted to float64 (exact for all four dtypes), is
>= low and < high as real numbers, where low and high are the float64 arguments. The least
and greatest values are computed here independently of the library; where the rounded law
puts enough mass on them (>= 30 expected hits in 10**6 draws) the tests also require that
they occur, so a sampler that avoids the ends by shrinking the interval is caught as well.
"""
import math

import numpy as np
import pytest
from scipy import stats

import fastinit
from _util import (BF16, F16, F32, F64, SMALL_DTYPES, finite_max,
                   next_down, next_up, representable_bounds, rounded_uniform_model,
                   counts_on_grid, sentinel)

N = 10**6
F16_MAX = 65504.0
BF16_MAX = finite_max(BF16)
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)
F16_TINY = 2.0**-24                 # least float16 subnormal
BF16_TINY = 2.0**-133               # least bfloat16 subnormal
F32_TINY = 2.0**-149
F64_TINY = 5e-324


def case(dtype, low, high, id):
    return pytest.param(np.dtype(dtype), low, high, id=f"{np.dtype(dtype)}-{id}")


CASES = [
    # float16
    case(F16, 0.0, 1.0, "unit"),
    case(F16, 0.1, 0.3, "unrepresentable-ends"),
    case(F16, -1 / 3, 1 / 3, "thirds"),
    case(F16, -3.0, -1.0, "negative"),
    case(F16, -1e-3, -1e-4, "small-negative"),
    case(F16, 0.25, 0.5, "representable-ends"),
    case(F16, 2047.5, 2048.5, "one-value-2048"),
    case(F16, 1 - 2.0**-13, 1 + 2.0**-12, "one-value-1"),
    case(F16, 0.0, F16_TINY, "only-zero"),
    case(F16, F16_TINY, 2 * F16_TINY, "only-least-subnormal"),
    case(F16, 0.0, 2.0**-20, "subnormals"),
    case(F16, -1e-7, 1e-7, "subnormals-around-zero"),
    case(F16, -F16_MAX, F16_MAX, "full-range"),
    case(F16, -F16_MAX, -65000.0, "bottom-edge"),
    case(F16, 65000.0, F16_MAX, "top-edge"),
    case(F16, 60000.5, 65503.9, "top-unrepresentable"),
    case(F16, 1000.1, 1000.9, "one-value-1000.5"),
    # bfloat16
    case(BF16, 0.0, 1.0, "unit"),
    case(BF16, 0.1, 0.3, "unrepresentable-ends"),
    case(BF16, -3.0, -1.0, "negative"),
    case(BF16, 999.9, 1000.1, "one-value-1000"),
    case(BF16, 1000.5, 1004.5, "one-value-1004"),
    case(BF16, 0.0, 1e-40, "subnormals"),
    case(BF16, -1e-39, 1e-39, "subnormals-around-zero"),
    case(BF16, 0.0, BF16_TINY, "only-zero"),
    case(BF16, -1e38, 1e38, "wide"),
    case(BF16, -BF16_MAX, -1e38, "bottom-edge"),
    case(BF16, 1e38, BF16_MAX, "top-edge"),
    case(BF16, 3.3e38, BF16_MAX, "top-few"),
    # float32
    case(F32, 0.0, 1.0, "unit"),
    case(F32, 0.1, 0.3, "unrepresentable-ends"),
    case(F32, -3.0, -1.0, "negative"),
    case(F32, 1 + 2.0**-30, 1 + 2.0**-22, "one-value"),
    case(F32, 0.0, 1e-44, "subnormals"),
    case(F32, -1e-45, 1e-45, "only-zero"),
    case(F32, -F32_MAX, F32_MAX, "full-range"),
    case(F32, F32_MAX / 2, F32_MAX, "top-half"),
    case(F32, -F32_MAX, -1e38, "bottom-edge"),
    case(F32, 16777216.0, 16777220.0, "integers-2**24"),
    # float64
    case(F64, 0.0, 1.0, "unit"),
    case(F64, 0.1, 0.3, "point-one"),
    case(F64, -3.0, -1.0, "negative"),
    case(F64, 1.0, float(np.nextafter(1.0, 2.0)), "one-value"),
    case(F64, float(np.nextafter(1.0, 0.0)), float(np.nextafter(1.0, 2.0)), "two-values"),
    case(F64, 0.0, 5e-323, "subnormals"),
    case(F64, -F64_TINY, F64_TINY, "two-subnormals"),
    case(F64, -1e308, 1e308, "overflowing-width"),
    case(F64, -F64_MAX, F64_MAX, "full-range"),
    case(F64, -F64_MAX, -1e308, "bottom-edge"),
    case(F64, 1e308, F64_MAX, "top-edge"),
    case(F64, -1e308, 1.0, "overflowing-lopsided"),
    case(F64, 2.0**53, 2.0**53 + 10, "integers-2**53"),
]

# bfloat16 intervals wider than float32's range: see test_uniform_bfloat16_width_beyond_float32.
BF16_TOO_WIDE = [
    pytest.param(-BF16_MAX, BF16_MAX, id="full-range"),
    pytest.param(-2e38, 2e38, id="pm2e38"),
    pytest.param(-3e38, 1e38, id="lopsided"),
]


def end_probabilities(dtype, low, high, lo, hi):
    """Probabilities of drawing lo and hi under nearest rounding of Uniform[low, high)."""
    w = high - low
    if not math.isfinite(w):
        return 0.0, 0.0
    if lo == hi:
        return 1.0, 1.0
    p_lo = ((lo / 2 + next_up(lo, dtype) / 2) - low) / w
    p_hi = (high - (hi / 2 + next_down(hi, dtype) / 2)) / w
    return p_lo, p_hi


def check_in_bounds(x, dtype, low, high):
    assert x.dtype == dtype
    v = x.astype(np.float64).reshape(-1)
    assert not np.isnan(v).any(), f"{int(np.isnan(v).sum())} NaN values"
    vmin, vmax = float(v.min()), float(v.max())
    assert vmin >= low, f"min {vmin!r} < low {low!r}"
    assert vmax < high, f"max {vmax!r} >= high {high!r}"
    lo, hi = representable_bounds(dtype, low, high)
    assert lo <= vmin and vmax <= hi
    p_lo, p_hi = end_probabilities(dtype, low, high, lo, hi)
    if p_lo * v.size >= 30:
        assert vmin == lo, f"the least value {lo!r} never drawn (expected {p_lo * v.size:.0f})"
    if p_hi * v.size >= 30:
        assert vmax == hi, f"the greatest value {hi!r} never drawn (expected {p_hi * v.size:.0f})"
    if lo == hi:
        assert np.all(v == lo)
    return v


def check_spread(v, low, high, dtype):
    """The values are spread over the interval: the count below its midpoint is binomial with
    the probability the rounded law gives (1/2 up to rounding), alpha 1e-6."""
    mid = low / 2 + high / 2
    if dtype in SMALL_DTYPES:
        vals, probs = rounded_uniform_model(dtype, low, high)
        p = float(probs[vals < mid].sum())
    else:
        p = 0.5
    below = int(np.count_nonzero(v < mid))
    lo_b, hi_b = stats.binom.interval(1 - 1e-6, v.size, p)
    assert lo_b <= below <= hi_b, f"{below} of {v.size} below the midpoint {mid!r}"


@pytest.mark.parametrize("dtype,low,high", CASES)
def test_uniform_in_bounds(simd, dtype, low, high):
    g = fastinit.Generator(2718)
    x = g.uniform(low, high, size=N, dtype=dtype)
    v = check_in_bounds(x, dtype, low, high)
    lo, hi = representable_bounds(dtype, low, high)
    if dtype in SMALL_DTYPES:
        # every value lies on the grid of representable values in [lo, hi]
        vals, _ = rounded_uniform_model(dtype, low, high)
        counts_on_grid(x, vals)
    # (for float32/float64 only where the interval holds many values, so that 1/2 is right)
    with np.errstate(over="ignore"):
        ulp = float(np.spacing(dtype.type(max(abs(low), abs(high)))))
    if lo != hi and (dtype in SMALL_DTYPES or (high / 2 - low / 2) > 1e6 * ulp):
        check_spread(v, low, high, dtype)


@pytest.mark.parametrize("dtype,low,high", CASES)
def test_uniform_in_bounds_out_strided(dtype, low, high):
    # the same through a strided out= (the scatter path) and with threads
    fastinit.set_num_threads(2)
    base = sentinel((400, 600), dtype)
    view = base[::2, ::-3]
    g = fastinit.Generator(3141)
    g.uniform(low, high, out=view)
    check_in_bounds(view, dtype, low, high)
    rest = np.ones(base.shape, bool)
    rest[::2, ::-3] = False
    np.testing.assert_array_equal(base.view(np.uint8).reshape(400, -1)[:, ::dtype.itemsize][rest],
                                  sentinel((400, 600), dtype).view(np.uint8).reshape(400, -1)[:, ::dtype.itemsize][rest])


@pytest.mark.parametrize("dtype", [F16, BF16, F32])
def test_random_never_reaches_one(simd, dtype):
    x = fastinit.Generator(5).random(4 * N, dtype=dtype)
    v = x.astype(np.float64)
    assert v.min() >= 0.0 and v.max() < 1.0
    assert v.max() == next_down(1.0, dtype)         # 1 - ulp/2 rounds to 1.0: clamped to hi


# Intervals wider than float32's range, for the dtypes computed in float: high - low
# overflows float, so the kernels must work at half scale. (fastinit 551d0b3 did not for
# bfloat16: every value came out equal to hi, and NaN where the 24-bit uniform was 0.)
TOO_WIDE_FOR_FLOAT = [
    pytest.param(BF16, -BF16_MAX, BF16_MAX, id="bfloat16-full-range"),
    pytest.param(BF16, -2e38, 2e38, id="bfloat16-pm2e38"),
    pytest.param(BF16, -3e38, 1e38, id="bfloat16-lopsided"),
    pytest.param(F32, -F32_MAX, F32_MAX, id="float32-full-range"),
    pytest.param(F32, -2e38, 2e38, id="float32-pm2e38"),
    pytest.param(F32, -3e38, 1e38, id="float32-lopsided"),
]


@pytest.mark.parametrize("dtype,low,high", TOO_WIDE_FOR_FLOAT)
def test_uniform_width_beyond_float32(simd, dtype, low, high):
    x = fastinit.Generator(2718).uniform(low, high, size=N, dtype=dtype)
    v = check_in_bounds(x, dtype, low, high)
    check_spread(v, low, high, dtype)
    assert np.unique(v).size > 1000
    if dtype == F32:    # (bfloat16 is too discrete for KS; its spread is checked above)
        assert stats.kstest((v - low) / (high - low), "uniform").pvalue > 1e-4


@pytest.fixture(scope="module")
def zero_uniform_position():
    """(counter, index) of a value of key (0, 0) whose 24-bit uniform is exactly 0."""
    for start in range(0, 2**27, 2**22):
        x = np.empty(2**22, dtype=F32)
        fastinit.fill_range("uniform", (0, 0), 0, start, x, 0.0, 1.0)
        z = np.flatnonzero(x == 0)
        if z.size:
            i = start + int(z[0])
            return i // 64 * 16, i % 64
    raise AssertionError("no zero uniform in 2**27 values")


@pytest.mark.parametrize("dtype,low,high", TOO_WIDE_FOR_FLOAT)
def test_uniform_width_beyond_float32_zero_draw(simd, zero_uniform_position, dtype, low, high):
    # A 24-bit uniform of 0 must give lo (not NaN from inf * 0).
    counter, i = zero_uniform_position
    out = np.empty(64, dtype=dtype)
    fastinit.fill_range("uniform", (0, 0), counter, 0, out, low, high)
    v = out.astype(np.float64)
    assert not np.isnan(v).any()
    assert v[i] == representable_bounds(dtype, low, high)[0]
    assert v.min() >= low and v.max() < high


def test_uniform_zero_draw_gives_low(simd, zero_uniform_position):
    counter, i = zero_uniform_position
    for dtype in (F16, BF16, F32, F64):
        out = np.empty(64, dtype=dtype)
        fastinit.fill_range("uniform", (0, 0), counter, 0, out, 0.25, 0.75)
        if dtype != F64:    # float64 uses other bits for its uniform
            assert out.astype(np.float64)[i] == 0.25


# ---- empty and out-of-range intervals ------------------------------------------------

EMPTY = [
    case(BF16, 1000.5, 1000.9, "between-1000-and-1004"),
    case(BF16, 1e-41, 5e-41, "below-least-subnormal"),
    case(F16, 0.1, 0.10003, "inside-one-ulp"),
    case(F16, 2048.5, 2049.5, "between-2048-and-2050"),
    case(F16, 1e-8, 5e-8, "below-least-subnormal"),
    case(F16, 65504.0 - 16, 65504.0, "below-max"),
    case(F32, 1 + 2.0**-25, 1 + 2.0**-24, "inside-one-ulp"),
    case(F32, 1e-46, 1e-45, "below-least-subnormal"),
]


@pytest.mark.parametrize("dtype,low,high", EMPTY)
def test_empty_interval_raises(dtype, low, high):
    assert representable_bounds(dtype, low, high) is None       # truly empty
    g = fastinit.Generator(1)
    out = sentinel(10, dtype)
    with pytest.raises(ValueError):
        g.uniform(low, high, size=10, dtype=dtype)
    with pytest.raises(ValueError):
        g.uniform(low, high, out=out)
    assert g.counter == 0
    np.testing.assert_array_equal(out.view(np.uint8), sentinel(10, dtype).view(np.uint8))


OUT_OF_RANGE = [
    case(F16, 0.0, 65505.0, "high-above-max"),
    case(F16, -65505.0, 0.0, "low-below-min"),
    case(F16, 0.0, 1e5, "high-far-above"),
    case(F16, 65504.0, 65505.0, "straddles-max"),
    case(BF16, 0.0, 3.4e38, "high-above-max"),
    case(BF16, -1e39, 0.0, "low-below-min"),
    case(F32, 0.0, 3.5e38, "high-above-max"),
    case(F32, -1e39, -1e38, "low-below-min"),
    case(F32, 0.0, F64_MAX, "double-max"),
]


@pytest.mark.parametrize("dtype,low,high", OUT_OF_RANGE)
def test_out_of_range_bounds_raise(dtype, low, high):
    g = fastinit.Generator(1)
    with pytest.raises(ValueError):
        g.uniform(low, high, size=10, dtype=dtype)
    assert g.counter == 0


@pytest.mark.parametrize("dtype", [F16, BF16, F32, F64])
def test_bounds_at_exactly_max_are_accepted(dtype):
    m = finite_max(dtype)
    x = fastinit.Generator(1).uniform(m / 2, m, size=1000, dtype=dtype)
    assert x.astype(np.float64).max() < m
    x = fastinit.Generator(1).uniform(-m, -m / 2, size=1000, dtype=dtype)
    assert x.astype(np.float64).min() >= -m
