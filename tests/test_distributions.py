"""Statistical tests of the uniform and normal distributions.

Every test uses a fixed seed, so each run draws exactly the same values and the outcome is
deterministic: a pass is not luck that could turn into a flaky failure. The thresholds
(p >= 1e-4 for goodness-of-fit tests, binomial intervals at alpha = 1e-6, about 5 standard
errors for moments) are chosen so that a *correct* generator fails any given test with
probability <= 1e-4; across the ~100 statistical tests here that is < 1% even if every seed
were re-drawn (e.g. when the stream layout changes), while real defects (a wrong ziggurat
layer, a biased rounding, a stuck word) give p-values far below 1e-30 at these sample sizes.
"""
import math

import numpy as np
import pytest
from scipy import stats

import fastinit
from _util import (BF16, F16, F32, F64, SMALL_DTYPES, counts_on_grid, dtype_params,
                   grouped_chisquare, rounded_normal_model, rounded_uniform_model)

P_MIN = 1e-4          # goodness-of-fit threshold (see the module docstring)
ALPHA = 1e-6          # binomial intervals for tail counts
Z_MAX = 5.0           # standard errors allowed for moment checks (two-sided p = 5.7e-7)
ZIG_R = 3.6541528853610088
N = 10**6


def rng(seed):
    return fastinit.Generator(seed)


# ---- float32 / float64: Kolmogorov-Smirnov ------------------------------------------

@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_ks_standard_normal(dtype):
    x = rng(101).standard_normal(N, dtype=dtype)
    assert x.dtype == dtype
    assert stats.kstest(x.astype(np.float64), "norm").pvalue > P_MIN


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_ks_random(dtype):
    x = rng(102).random(N, dtype=dtype)
    assert stats.kstest(x.astype(np.float64), "uniform").pvalue > P_MIN


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("low,high", [(-3.0, 7.0), (1e-3, 2e-3), (-1e6, -1e5), (-0.5, 0.5),
                                      (1e30, 3e30), (100.0, 101.0)])
def test_ks_uniform_interval(dtype, low, high):
    x = rng(103).uniform(low, high, N, dtype=dtype).astype(np.float64)
    assert x.min() >= low and x.max() < high
    # Compare in units of the interval (subtracting first would round).
    assert stats.kstest((x - low) / (high - low), "uniform").pvalue > P_MIN


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (5.0, 2.0), (-3.0, 0.01), (1e4, 250.0),
                                       (0.0, 1e-20)])
def test_ks_normal_affine(dtype, loc, scale):
    x = rng(104).normal(loc, scale, N, dtype=dtype).astype(np.float64)
    assert stats.kstest(x, "norm", args=(loc, scale)).pvalue > P_MIN


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("loc,scale", [(5.0, 2.0), (-3.0, 0.01), (1e4, 250.0), (0.0, 0.0),
                                       (7.0, 0.0)])
def test_normal_is_affine_in_the_standard_normal(dtype, loc, scale):
    # normal(loc, scale) = loc + scale * z for the z that standard_normal gives from the same
    # state, up to the one rounding of the output dtype.
    z = rng(105).standard_normal(10**5, dtype=dtype).astype(np.float64)
    x = rng(105).normal(loc, scale, 10**5, dtype=dtype).astype(np.float64)
    exact = loc + scale * z
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    assert np.all(np.abs(x - exact) <= 2 * ulp + np.abs(loc) * 2 * np.finfo(dtype).eps)
    if scale == 0.0:
        assert np.all(x == loc)


# ---- moments ----------------------------------------------------------------------------

def check_moments(x, mean, var, mu4):
    """Sample mean and variance against the true ones, within Z_MAX standard errors
    (SE(mean) = sqrt(var/n); SE(sample variance) ~ sqrt((mu4 - var^2)/n))."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    m = x.mean()
    v = x.var(ddof=1)
    se_m = math.sqrt(var / n)
    se_v = math.sqrt((mu4 - var**2) / n)
    assert abs(m - mean) < Z_MAX * se_m, f"mean {m} vs {mean} (se {se_m})"
    assert abs(v - var) < Z_MAX * se_v, f"variance {v} vs {var} (se {se_v})"


def model_moments(vals, probs):
    mean = float(np.sum(vals * probs))
    d = vals - mean
    return mean, float(np.sum(d**2 * probs)), float(np.sum(d**4 * probs))


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (2.5, 0.5), (-40.0, 7.0)])
def test_normal_moments(dtype, loc, scale):
    x = rng(106).normal(loc, scale, N, dtype=dtype)
    check_moments(x, loc, scale**2, 3 * scale**4)


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("low,high", [(0.0, 1.0), (-2.0, 6.0)])
def test_uniform_moments(dtype, low, high):
    x = rng(107).uniform(low, high, N, dtype=dtype)
    w = high - low
    check_moments(x, (low + high) / 2, w**2 / 12, w**4 / 80)


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (3.0, 0.01), (-100.0, 3.0)])
def test_normal_moments_16bit(dtype, loc, scale):
    # Moments of the exactly rounded distribution, not the continuous one.
    x = rng(108).normal(loc, scale, N, dtype=dtype)
    check_moments(x, *model_moments(*rounded_normal_model(dtype, loc, scale)))


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
@pytest.mark.parametrize("low,high", [(0.0, 1.0), (-3.0, 7.0), (0.1, 0.3)])
def test_uniform_moments_16bit(dtype, low, high):
    x = rng(109).uniform(low, high, N, dtype=dtype)
    check_moments(x, *model_moments(*rounded_uniform_model(dtype, low, high)))


# ---- float16 / bfloat16: chi-square on representable values --------------------------
# The outputs are discrete, so KS (which assumes a continuous law) is invalid. Instead the
# count of every representable value is compared with its exact probability under the
# rounded law; consecutive values are grouped into ~100 bins whose edges are therefore
# representable values of the dtype. counts_on_grid also asserts no sample is off the grid.

UNIFORM_16 = [
    (0.0, 1.0), (-1.0, 1.0), (-3.0, 7.0), (0.1, 0.3), (-1 / 3, 1 / 3), (1000.0, 1100.0),
    (2047.5, 2060.0), (-60000.0, 60000.0), (0.0, 2.0**-20), (-(2.0**-18), 2.0**-19),
]


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
@pytest.mark.parametrize("low,high", UNIFORM_16)
def test_chisquare_uniform_16bit(dtype, low, high):
    vals, probs = rounded_uniform_model(dtype, low, high)
    x = rng(110).uniform(low, high, N, dtype=dtype)
    counts = counts_on_grid(x, vals)
    stat, p, nb = grouped_chisquare(counts, probs)
    assert p > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={p:.3g}"


def test_chisquare_uniform_bfloat16_wide():
    # high - low = 2e38 still fits float32: the supported wide case for bfloat16.
    low, high = -1e38, 1e38
    vals, probs = rounded_uniform_model(BF16, low, high)
    x = rng(111).uniform(low, high, N, dtype=BF16)
    stat, p, nb = grouped_chisquare(counts_on_grid(x, vals), probs)
    assert p > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={p:.3g}"


# float32 intervals only a few float32 ulps wide: there the rounded law is as discrete as
# for the 16-bit dtypes, and the same exact chi-square applies.
NARROW_32 = [
    pytest.param(F32, 1e6, 1e6 + 1.0, id="float32-1e6-representable-ends"),
    pytest.param(F32, 1.0, 1.0 + 16 * 2.0**-23, id="float32-near-1-representable-ends"),
    pytest.param(F32, -1e6 - 1.0, -1e6, id="float32-neg-1e6-representable-ends"),
    pytest.param(F64, 1e15, 1e15 + 2.0, id="float64-1e15"),
    pytest.param(F64, 1.0, 1.0 + 16 * 2.0**-52, id="float64-near-1"),
    pytest.param(F64, -1e15 - 1.75, -1e15 + 0.5, id="float64-neg-1e15"),
]
NARROW_32_UNREPRESENTABLE = [
    pytest.param(F32, 1e6 + 0.03, 1e6 + 1.03, id="float32-1e6-unrepresentable-ends"),
    pytest.param(F32, 1.0 + 0.3 * 2.0**-23, 1.0 + 16.3 * 2.0**-23,
                 id="float32-near-1-unrepresentable-ends"),
    pytest.param(F32, -1e6 - 1.03, -1e6 - 0.03, id="float32-neg-1e6-unrepresentable-ends"),
    pytest.param(F32, 100.01, 100.0101, id="float32-100.01-narrow"),
]


@pytest.mark.parametrize("dtype,low,high", NARROW_32 + NARROW_32_UNREPRESENTABLE)
def test_chisquare_uniform_narrow_32_64(dtype, low, high):
    vals, probs = rounded_uniform_model(dtype, low, high)
    assert 2 <= vals.size <= 100
    x = rng(124).uniform(low, high, N, dtype=dtype)
    stat, p, nb = grouped_chisquare(counts_on_grid(x, vals), probs)
    assert p > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={p:.3g}"


NORMAL_16 = [(0.0, 1.0), (3.0, 0.01), (-100.0, 3.0), (0.5, 1e-3), (0.0, 1e-6), (1e4, 1e3)]


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
@pytest.mark.parametrize("loc,scale", NORMAL_16)
def test_chisquare_normal_16bit(dtype, loc, scale):
    vals, probs = rounded_normal_model(dtype, loc, scale)
    x = rng(112).normal(loc, scale, N, dtype=dtype)
    stat, p, nb = grouped_chisquare(counts_on_grid(x, vals), probs)
    assert p > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={p:.3g}"


@pytest.mark.parametrize("loc,scale", [
    pytest.param(1e6, 0.01, id="1e6-representable-loc"),
    pytest.param(1e6, 0.05, id="1e6-wider"),
    pytest.param(1.0, 2.0**-22, id="1-representable-loc"),
    pytest.param(1e6 + 0.03, 0.01, id="1e6+0.03"),
    pytest.param(1.0 + 0.4 * 2.0**-23, 2.0**-24, id="1+0.4ulp"),
    pytest.param(-1e6 - 0.02, 0.03, id="-1e6-0.02"),
])
def test_chisquare_normal_narrow_float32(loc, scale):
    # A scale of a few float32 ulps of loc: the rounded law is discrete, test it exactly.
    vals, probs = rounded_normal_model(F32, loc, scale)
    x = rng(125).normal(loc, scale, N, dtype=F32)
    stat, p, nb = grouped_chisquare(counts_on_grid(x, vals), probs)
    assert p > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={p:.3g}"


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
def test_chisquare_random_16bit_fine(dtype):
    # random() with 1000 bins and 4e6 samples: sensitive to uneven rounding near 0 and 1.
    vals, probs = rounded_uniform_model(dtype, 0.0, 1.0)
    x = rng(113).random(4 * N, dtype=dtype)
    stat, p, nb = grouped_chisquare(counts_on_grid(x, vals), probs, nbins=1000)
    assert p > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={p:.3g}"


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
def test_16bit_normal_is_the_rounded_float32_normal(dtype):
    # float16 and bfloat16 normals come from the float32 ziggurat, rounded to nearest even.
    z32 = rng(114).standard_normal(10**5, dtype=F32)
    z16 = rng(114).standard_normal(10**5, dtype=dtype)
    np.testing.assert_array_equal(z16.view(np.uint16), z32.astype(dtype).view(np.uint16))


# ---- fine-grained shape of the float32 / float64 normal ------------------------------

@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_chisquare_normal_fine_bins(dtype):
    # 2000 equiprobable bins on 10**7 values: every ziggurat layer (and wedge) spans a few
    # bins, so a wrong layer table or wedge test shows up here even when KS misses it.
    n, nbins = 10**7, 2000
    x = rng(115).standard_normal(n, dtype=dtype)
    edges = stats.norm.ppf(np.arange(1, nbins) / nbins).astype(np.float64)
    counts = np.bincount(np.searchsorted(edges, x.astype(np.float64)), minlength=nbins)
    p = stats.chisquare(counts).pvalue
    assert p > P_MIN


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_chisquare_abs_normal_near_zero(dtype):
    # The innermost layers (255, 254, ...) cover |z| < ~0.3; zoom in there.
    n = 10**7
    x = np.abs(rng(116).standard_normal(n, dtype=dtype).astype(np.float64))
    x = x[x < 0.3]
    edges = np.linspace(0, 0.3, 301)
    counts = np.histogram(x, edges)[0]
    probs = np.diff(stats.norm.cdf(edges))
    stat, p = stats.chisquare(counts, probs / probs.sum() * counts.sum())
    assert p > P_MIN


# ---- tails -------------------------------------------------------------------------------

def check_tail_counts(x, ks=(3.0, ZIG_R, 4.0, 5.0)):
    a = np.abs(np.asarray(x, dtype=np.float64))
    n = a.size
    for k in ks:
        p = 2 * stats.norm.sf(k)
        lo, hi = stats.binom.interval(1 - ALPHA, n, p)
        c = int(np.count_nonzero(a > k))
        assert lo <= c <= hi, f"P(|Z|>{k}): {c} of {n}, expected {n * p:.1f} in [{lo}, {hi}]"
    assert np.isfinite(a).all()
    assert a.max() < 12.23


def normals_in_chunks(seed, n, dtype, chunk=10**7):
    g = rng(seed)
    for start in range(0, n, chunk):
        yield g.standard_normal(min(chunk, n - start), dtype=dtype)


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_tail_counts_1e7(dtype):
    check_tail_counts(rng(117).standard_normal(10**7, dtype=dtype))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_tail_counts_1e8(dtype):
    a = np.concatenate([np.abs(c) for c in normals_in_chunks(118, 10**8, dtype)])
    check_tail_counts(a, ks=(3.0, ZIG_R, 4.0, 4.5, 5.0, 5.5))


def _tail_cdf(x):
    """CDF of |Z| given |Z| > r."""
    return 1.0 - stats.norm.sf(x) / stats.norm.sf(ZIG_R)


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_tail_shape_beyond_r(dtype):
    # Values beyond the ziggurat's base r come from Marsaglia's tail method; given |Z| > r
    # they must follow the normal tail. 2 * 10**7 draws give ~5000 of them.
    a = np.abs(rng(119).standard_normal(2 * 10**7, dtype=dtype).astype(np.float64))
    t = a[a > ZIG_R]
    assert t.size > 4000
    assert stats.kstest(t, _tail_cdf).pvalue > P_MIN


@pytest.mark.slow
def test_tail_shape_beyond_r_1e8():
    t = np.concatenate([np.abs(c.astype(np.float64))[np.abs(c) > ZIG_R]
                        for c in normals_in_chunks(120, 10**8, F32)])
    assert stats.kstest(t, _tail_cdf).pvalue > P_MIN
    # and deeper in: P(|Z| > 4.5 | |Z| > r), binomial
    p = stats.norm.sf(4.5) / stats.norm.sf(ZIG_R)
    lo, hi = stats.binom.interval(1 - ALPHA, t.size, p)
    assert lo <= np.count_nonzero(t > 4.5) <= hi


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_sign_symmetry(dtype):
    x = rng(121).standard_normal(N, dtype=dtype)
    neg = int(np.count_nonzero(x < 0))
    lo, hi = stats.binom.interval(1 - ALPHA, N, 0.5)
    assert lo <= neg <= hi
    # each tail separately
    p = stats.norm.sf(3.0)
    lo, hi = stats.binom.interval(1 - ALPHA, N, p)
    assert lo <= np.count_nonzero(x > 3) <= hi and lo <= np.count_nonzero(x < -3) <= hi


# ---- serial independence ----------------------------------------------------------------
# The words of one Philox block land 16 values apart (W[64g + 16w + m]), and float64 pairs
# words 16 apart; correlations at those lags would reveal a layout or reuse bug.

@pytest.mark.parametrize("dtype", dtype_params([F16, BF16, F32, F64]))
@pytest.mark.parametrize("dist", ["uniform", "normal"])
def test_serial_correlation(dtype, dist):
    g = rng(122)
    n = 2 * N
    x = (g.random(n, dtype=dtype) if dist == "uniform" else g.standard_normal(n, dtype=dtype))
    x = x.astype(np.float64)
    x = (x - x.mean()) / x.std()
    bound = Z_MAX / math.sqrt(n)     # each lag's correlation is ~N(0, 1/n) under independence
    for lag in (1, 2, 15, 16, 17, 32, 48, 64, 1024):
        r = float(np.mean(x[:-lag] * x[lag:]))
        assert abs(r) < bound, f"lag {lag}: correlation {r:.2e} (bound {bound:.2e})"


def test_streams_of_neighbouring_keys_are_uncorrelated():
    xs = [fastinit.Generator(s).standard_normal(N, dtype=F32).astype(np.float64) for s in (1, 2)]
    r = float(np.corrcoef(xs[0], xs[1])[0, 1])
    assert abs(r) < Z_MAX / math.sqrt(N)


def test_uniform_bits_are_balanced():
    # Every one of the 24 bits behind a float32 uniform is set half the time.
    x = rng(123).random(N, dtype=F32).astype(np.float64)
    u = (x * 2**24).astype(np.uint32)
    lo, hi = stats.binom.interval(1 - ALPHA, N, 0.5)
    for b in range(24):
        c = int(np.count_nonzero(u & (1 << b)))
        assert lo <= c <= hi, f"bit {b}: {c}"
