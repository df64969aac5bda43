"""Generator.truncated_normal(mean, std, a, b): the law, the bounds, the stream, invariance.

a and b are absolute bounds (torch's convention). The law is N(mean, std) conditioned on
[a, b], computed in double as x = mean + std*z, clamped to the representable values of the
dtype inside the closed [a, b], then rounded once. So:
  - float32/float64 outputs follow the continuous law (KS, up to the rounding of float32,
    whose relative 2**-24 is far below what 2e5 samples resolve);
  - float16/bfloat16 outputs follow the *rounded* law, which is discrete: each representable
    value v in [a, b] gets the mass of the cell between the midpoints to its neighbours, the
    extreme cells being closed by a and b themselves (a chi-square on exact cell masses);
  - every output, as float64, lies in [a, b].

As in test_distributions.py every statistical test uses a fixed seed, with p >= 1e-4 and
binomial intervals at alpha = 1e-6 (see that module's docstring for the reasoning).
"""
import math
import threading

import numpy as np
import pytest
from scipy import special, stats

import fastinit
from _util import (BF16, DTYPES, F16, F32, F64, SMALL_DTYPES, all_finite_values, as_bits,
                   assert_bits_equal, counts_on_grid, dtype_params, finite_max, gen_at,
                   grouped_chisquare, next_down, next_up, sentinel)

INF = math.inf
P_MIN = 1e-4
ALPHA = 1e-6
Z_MAX = 5.0
KEY = (0x5EED1234, 0x0DDBA11)
SIMD = fastinit.available_simd()
DEFAULT_ATTEMPTS = 200


@pytest.fixture
def fallback():
    """Every value from the exact inverse-CDF fallback (no proposal is tried)."""
    fastinit._core._set_truncnorm_max_attempts(0)
    yield
    fastinit._core._set_truncnorm_max_attempts(DEFAULT_ATTEMPTS)


def tn(g, mean, std, a, b, size=None, dtype=None, out=None):
    return g.truncated_normal(mean, std, a, b, size=size, dtype=dtype, out=out)


# ---- reference laws --------------------------------------------------------------------

def _log_sf(z):
    """log P(Z > z), accurate deep in the upper tail: scipy's log_ndtr switches to an
    asymptotic series below -20, so log_ndtr(-40) is right to ~1e-16 relative although
    P(Z > 40) ~ 1e-350 underflows."""
    return special.log_ndtr(-np.asarray(z, dtype=np.float64))


def truncnorm_cdf(z, alpha, beta):
    """CDF of N(0, 1) conditioned on [alpha, beta], at standardized points z, computed in
    log space where the mass is in a tail (no cancellation and no underflow there):
    for alpha >= 0, F(z) = (1 - S(z)/S(alpha)) / (1 - S(beta)/S(alpha)), S the normal
    survival function, with each ratio exp(log S(.) - log S(alpha)) of order 1; a left
    interval (beta <= 0) is the mirror image of a right one."""
    z = np.asarray(z, dtype=np.float64)
    if beta <= 0:
        return 1.0 - truncnorm_cdf(-z, -beta, -alpha)
    if alpha >= 0:
        la = _log_sf(alpha)
        num = -np.expm1(_log_sf(np.clip(z, alpha, beta)) - la)
        den = -np.expm1(_log_sf(beta) - la) if beta < INF else 1.0
        return num / den
    lo, hi = special.ndtr(alpha), special.ndtr(beta)
    return (special.ndtr(np.clip(z, alpha, beta)) - lo) / (hi - lo)


def _log_cell_mass(l, r):
    """log P(l < Z < r) for arrays of standardized cell edges, unnormalized but accurate in
    either tail, and for cells too narrow for a difference of CDFs (pdf * width there)."""
    l = np.asarray(l, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    out = np.empty_like(l)
    with np.errstate(divide="ignore", invalid="ignore"):
        right = l >= 0
        left = r <= 0
        mid = ~right & ~left
        ls_l, ls_r = _log_sf(l), _log_sf(r)
        out[right] = ls_l[right] + np.log(-np.expm1(ls_r[right] - ls_l[right]))
        lc_l, lc_r = special.log_ndtr(l), special.log_ndtr(r)
        out[left] = lc_r[left] + np.log(-np.expm1(lc_l[left] - lc_r[left]))
        out[mid] = np.log(special.ndtr(r[mid]) - special.ndtr(l[mid]))
        w = r - l
        narrow = np.isfinite(w) & (w < 1e-5)
        c = (l + r) / 2
        out[narrow] = -0.5 * c[narrow] ** 2 - 0.5 * math.log(2 * math.pi) + np.log(w[narrow])
    return out


def closed_bounds(dtype, a, b):
    """(lo, hi): the least and greatest values of dtype in the closed [a, b], computed
    independently of the library, or None."""
    dt = np.dtype(dtype)
    mx = finite_max(dt)
    if dt in SMALL_DTYPES:
        vals = all_finite_values(dt)
        inside = vals[(vals >= a) & (vals <= b)]
        return (float(inside[0]), float(inside[-1])) if inside.size else None
    if a > mx or b < -mx:
        return None
    lo = -mx if a < -mx else float(dt.type(a))
    while lo < a:
        lo = next_up(lo, dt)
    while lo > -mx and next_down(lo, dt) >= a:
        lo = next_down(lo, dt)
    hi = mx if b > mx else float(dt.type(b))
    while hi > b:
        hi = next_down(hi, dt)
    while hi < mx and next_up(hi, dt) <= b:
        hi = next_up(hi, dt)
    return (lo, hi) if lo <= hi else None


def rounded_truncnorm_model(dtype, mean, std, a, b):
    """(values, probs) of the rounded law for a 16-bit dtype: every finite value v in
    [a, b] (sorted float64), with the mass of its cell [mid(v-, v), mid(v, v+)] where the
    outermost cells are closed by a and b (x in [a, lo) is clamped to lo, then rounds to lo).
    Every value is kept, even of (numerically) zero mass, so the grid is the support check."""
    vals = all_finite_values(dtype)
    vals = vals[(vals >= a) & (vals <= b)]
    mids = vals[:-1] / 2 + vals[1:] / 2           # exact in float64 for 16-bit values
    left = np.concatenate([[a], mids])
    right = np.concatenate([mids, [b]])
    lp = _log_cell_mass((left - mean) / std, (right - mean) / std)
    p = np.exp(lp - np.max(lp))
    p[~np.isfinite(p)] = 0.0
    return vals, p / p.sum()


def round_to_grid(x, dtype):
    """x (float64) rounded to the nearest value of a 16-bit dtype, ties to even, by search
    on the grid of its values (independent of NumPy's and ml_dtypes' conversions)."""
    vals = all_finite_values(dtype)
    x = np.asarray(x, dtype=np.float64)
    i = np.clip(np.searchsorted(vals, x), 1, vals.size - 1)
    lo, hi = vals[i - 1], vals[i]
    dlo, dhi = x - lo, hi - x
    even_hi = (np.asarray(hi).astype(np.dtype(dtype)).view(np.uint16) & 1) == 0
    r = np.where((dhi < dlo) | ((dhi == dlo) & even_hi), hi, lo)
    return np.where(r == 0, np.copysign(0.0, x), r)      # a negative x rounds to -0


# ---- the law: float32 / float64 --------------------------------------------------------

def iv(mean, std, a, b, id, far=False):
    return pytest.param(mean, std, a, b, far, id=id)


INTERVALS = [
    iv(0.0, 1.0, -2.0, 2.0, "central"),
    iv(0.0, 1.0, -1e-3, 1e-3, "narrow"),
    iv(0.0, 1.0, 0.0, INF, "half"),
    iv(0.0, 1.0, 3.0, INF, "tail3"),
    iv(0.0, 1.0, -INF, -6.0, "left-tail6"),
    iv(0.0, 1.0, 5.0, 6.0, "5-6"),
    iv(0.0, 1.0, 8.0, 9.0, "8-9"),
    iv(0.0, 1.0, 30.0, 31.0, "30-31", far=True),
    iv(0.0, 1.0, -INF, -40.0, "left-tail40", far=True),
    iv(-3.0, 1.0, -0.5, 0.5, "mean-left-of-interval"),
    iv(10.0, 2.0, -1.0, 1.0, "mean-right-of-interval"),
    iv(0.0, 1.0, -1.0, 3.0, "asymmetric"),
    iv(0.0, 1.0, 0.2, 0.7, "0.2-0.7"),
    iv(0.0, 1.0, -INF, INF, "untruncated"),
    iv(0.0, 0.02, -2.0, 2.0, "torch-default-std0.02"),
    iv(2.0, 0.5, 1.0, 4.0, "affine"),
    iv(0.0, 1.0, -0.1, 12.0, "barely-two-sided"),
    iv(0.0, 1.0, -0.7, 0.7, "symmetric0.7"),
    iv(0.0, 1.0, -1.0, 1.0, "symmetric1"),
    iv(0.0, 1.0, -3.0, 3.0, "symmetric3"),
    iv(0.0, 1.0, -3.6, 3.6, "symmetric3.6"),
    iv(0.5, 2.0, -4.0, 1.5, "asymmetric-left"),
]


def reference_cdf(mean, std, a, b, far):
    """The CDF to test against, on the original scale. scipy.stats.truncnorm (standardized
    bounds alpha = (a - mean)/std, beta = (b - mean)/std), except for the far tails, where
    its accuracy is not documented: there the log-space formula of truncnorm_cdf, whose
    soundness test_reference_cdf_is_sound checks."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    if far:
        return lambda x: truncnorm_cdf((np.asarray(x) - mean) / std, alpha, beta)
    return stats.truncnorm(alpha, beta, loc=mean, scale=std).cdf


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("mean,std,a,b,far", INTERVALS)
def test_ks(dtype, mean, std, a, b, far):
    n = 2 * 10**5
    x = tn(fastinit.Generator(3101), mean, std, a, b, size=n, dtype=dtype)
    assert x.dtype == dtype and x.shape == (n,)
    x = x.astype(np.float64)
    assert np.all(x >= a) and np.all(x <= b)
    assert stats.kstest(x, reference_cdf(mean, std, a, b, far)).pvalue > P_MIN


@pytest.mark.parametrize("alpha,beta", [(30.0, 31.0), (40.0, INF), (-INF, -40.0), (8.0, 9.0),
                                        (-2.0, 2.0), (3.0, INF), (0.2, 0.7), (-1e-3, 1e-3)])
def test_reference_cdf_is_sound(alpha, beta):
    # The far-tail reference against two independent computations:
    #  - scipy.stats.truncnorm where it is reliable (moderate intervals), to 1e-12;
    #  - in the far tail, the law of t = z - alpha given z > alpha, exactly
    #    P(Z > alpha + t)/P(Z > alpha) = exp(-alpha*t - t*t/2) * M(alpha + t)/M(alpha), M the
    #    Mills ratio, whose asymptotic series 1/x (1 - 1/x^2 + 3/x^4 - 15/x^6) is good to
    #    1e-9 relative for x >= 30 (next term 105/x^8).
    if alpha < 30 and beta > -30:
        z = np.linspace(alpha if alpha > -INF else beta - 5, beta if beta < INF else alpha + 5, 41)
        np.testing.assert_allclose(truncnorm_cdf(z, alpha, beta),
                                   stats.truncnorm(alpha, beta).cdf(z), rtol=0, atol=1e-12)
        return
    if beta <= 0:
        alpha, beta = -beta, -alpha
        sign = -1.0
    else:
        sign = 1.0

    def mills(x):
        r = 1 / (x * x)
        return (1 - r + 3 * r * r - 15 * r**3) / x

    t = np.linspace(0, 0.5, 51)
    sf_ratio = np.exp(-alpha * t - t * t / 2) * mills(alpha + t) / mills(alpha)
    if beta < INF:
        tb = beta - alpha
        sb = math.exp(-alpha * tb - tb * tb / 2) * mills(beta) / mills(alpha)
        expected = (1 - sf_ratio) / (1 - sb)
    else:
        expected = 1 - sf_ratio
    z = alpha + t
    got = truncnorm_cdf(z, alpha, beta) if sign > 0 else 1 - truncnorm_cdf(-z, -beta, -alpha)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_far_tail_scaled_excess_is_nearly_exponential(dtype):
    # A model-free look at [30, 31]: alpha*(z - alpha) is Exp(1) up to O(1/alpha^2)
    # (the density ratio is exp(-t^2/2) with t ~ 1/30), so its mean is 1 - 2/alpha^2 + ...
    # = 0.9978; 2e5 samples pin the mean to +-0.011 (5 standard errors).
    x = tn(fastinit.Generator(3102), 0.0, 1.0, 30.0, 31.0, size=2 * 10**5, dtype=dtype)
    e = 30.0 * (x.astype(np.float64) - 30.0)
    assert abs(e.mean() - (1 - 2 / 900)) < Z_MAX / math.sqrt(e.size)
    assert e.min() >= 0


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 3.0, INF),
                                          (0.0, 1.0, 0.2, 0.7), (-3.0, 1.0, -0.5, 0.5)])
def test_moments(dtype, mean, std, a, b):
    n = 4 * 10**5
    x = tn(fastinit.Generator(3103), mean, std, a, b, size=n, dtype=dtype).astype(np.float64)
    d = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    m, v = d.mean(), d.var()
    mu4 = d.expect(lambda t: (t - m) ** 4)
    assert abs(x.mean() - m) < Z_MAX * math.sqrt(v / n)
    assert abs(x.var(ddof=1) - v) < Z_MAX * math.sqrt((mu4 - v * v) / n)


# ---- the exact fallback ----------------------------------------------------------------

FALLBACK_INTERVALS = [
    iv(0.0, 1.0, -2.0, 2.0, "central"),
    iv(0.0, 1.0, -INF, INF, "untruncated"),
    iv(0.0, 1.0, 3.0, INF, "tail3"),
    iv(0.0, 1.0, 8.0, 9.0, "tail8-9"),
    iv(0.0, 1.0, -INF, -6.0, "mirrored-tail6"),
    iv(10.0, 2.0, -1.0, 1.0, "mirrored-mean-right"),
    iv(0.0, 1.0, -1e-3, 1e-3, "narrow"),
    iv(0.0, 1.0, 30.0, 31.0, "30-31", far=True),
    iv(0.0, 1.0, -INF, -40.0, "mirrored-tail40", far=True),
]


@pytest.mark.parametrize("mean,std,a,b,far", FALLBACK_INTERVALS)
def test_ks_fallback(fallback, mean, std, a, b, far):
    n = 5 * 10**4
    x = tn(fastinit.Generator(3104), mean, std, a, b, size=n, dtype=F64)
    assert np.all(x >= a) and np.all(x <= b)
    assert stats.kstest(x, reference_cdf(mean, std, a, b, far)).pvalue > P_MIN


def test_ks_fallback_float32(fallback):
    x = tn(fastinit.Generator(3105), 0.0, 1.0, -1.0, 3.0, size=5 * 10**4, dtype=F32)
    assert stats.kstest(x.astype(np.float64), stats.truncnorm(-1.0, 3.0).cdf).pvalue > P_MIN


def test_fallback_hook_changes_the_values_and_is_restored():
    # Proof that the fallback tests above do run the fallback: other values from the same
    # state; and with the default restored, the original values again.
    ref = tn(gen_at(KEY, 0), 0.0, 1.0, -2.0, 2.0, size=1000)
    fastinit._core._set_truncnorm_max_attempts(0)
    try:
        fb = tn(gen_at(KEY, 0), 0.0, 1.0, -2.0, 2.0, size=1000)
        again = tn(gen_at(KEY, 0), 0.0, 1.0, -2.0, 2.0, size=1000)
    finally:
        fastinit._core._set_truncnorm_max_attempts(DEFAULT_ATTEMPTS)
    assert np.count_nonzero(fb != ref) > 990
    assert_bits_equal(fb, again, "the fallback is deterministic too")
    assert_bits_equal(tn(gen_at(KEY, 0), 0.0, 1.0, -2.0, 2.0, size=1000), ref, "restored")
    # a few attempts: values that needed no more than that are unchanged
    fastinit._core._set_truncnorm_max_attempts(3)
    try:
        few = tn(gen_at(KEY, 0), 0.0, 1.0, -2.0, 2.0, size=1000)
    finally:
        fastinit._core._set_truncnorm_max_attempts(DEFAULT_ATTEMPTS)
    # P(Z in [-2, 2]) = 0.954: about 1000 * 0.046^3 ~ 0.1 values need a 4th proposal
    assert np.count_nonzero(few == ref) >= 995


# ---- the law: float16 / bfloat16 (the rounded, discrete law) -----------------------------

INTERVALS_16 = [
    iv(0.0, 1.0, -2.0, 2.0, "central"),
    iv(0.0, 1.0, -1e-3, 1e-3, "narrow"),
    iv(0.0, 1.0, 0.0, INF, "half"),
    iv(0.0, 1.0, 3.0, INF, "tail3"),
    iv(0.0, 1.0, -INF, -6.0, "left-tail6"),
    iv(0.0, 1.0, 5.0, 6.0, "5-6"),
    iv(0.0, 1.0, 8.0, 9.0, "8-9"),
    iv(0.0, 1.0, 30.0, 31.0, "30-31"),
    iv(0.0, 1.0, -INF, -40.0, "left-tail40"),
    iv(-3.0, 1.0, -0.5, 0.5, "mean-left-of-interval"),
    iv(10.0, 2.0, -1.0, 1.0, "mean-right-of-interval"),
    iv(0.0, 1.0, -1.0, 3.0, "asymmetric"),
    iv(0.0, 1.0, 0.2, 0.7, "0.2-0.7-unrepresentable-ends"),
    iv(1.15, 0.1, 1.001, 1.3, "unrepresentable-ends-near-1"),
    iv(0.0, 0.02, -0.05, 0.05, "std0.02"),
    iv(0.0, 1e-6, -1e-6, 3e-6, "float16-subnormals"),
    iv(1000.0, 30.0, 990.3, 1020.7, "coarse-grid"),
]


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
@pytest.mark.parametrize("mean,std,a,b,far", INTERVALS_16)
def test_chisquare_16bit(dtype, mean, std, a, b, far):
    vals, probs = rounded_truncnorm_model(dtype, mean, std, a, b)
    x = tn(fastinit.Generator(3106), mean, std, a, b, size=2 * 10**5, dtype=dtype)
    counts = counts_on_grid(x, vals)          # also: every value is a dtype value in [a, b]
    stat, p, nb = grouped_chisquare(counts, probs)
    assert p > P_MIN, f"chi2={stat:.1f} on {nb} bins, p={p:.3g}"


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
@pytest.mark.parametrize("mean,std,a,b", [(1.15, 0.1, 1.001, 1.3), (0.45, 1.0, 0.2, 0.7),
                                          (0.0, 1.0, 30.01, 31.0), (0.0, 1.0, -INF, -40.01)])
def test_end_values_carry_the_clamped_mass(dtype, mean, std, a, b):
    # Where a (b) is not representable, x in [a, lo) is clamped up to lo: lo's mass is that
    # of [a, mid(lo, lo+)], no more (a pile-up) and no less. Binomial check of both ends.
    vals, probs = rounded_truncnorm_model(dtype, mean, std, a, b)
    assert vals[0] > a or vals[-1] < b
    n = 10**6
    x = tn(fastinit.Generator(3107), mean, std, a, b, size=n, dtype=dtype).astype(np.float64)
    for v, p in ((vals[0], probs[0]), (vals[-1], probs[-1])):
        lo, hi = stats.binom.interval(1 - ALPHA, n, p)
        c = int(np.count_nonzero(x == v))
        assert lo <= c <= hi, f"value {v}: {c} of {n}, expected {n * p:.1f} in [{lo}, {hi}]"


# ---- the normal proposal is normal()'s draw -----------------------------------------------
# With the normal and half-normal proposals, float16, bfloat16 and float32 take one word per
# value. Where the interval holds 0 and reaches no further than 4 std from the mean on
# either side, the proposal is the ziggurat of the normal truncated to [-m, m] (m the
# farther side). Otherwise it is the whole normal's: the first proposal is then the 32-bit
# ziggurat draw that standard_normal() makes from that word, through normal()'s own affine
# step. So where normal()'s value from the same state lies well inside the bounds, the
# truncated normal's value is exactly it; and with infinite bounds every value is.

NORMAL_PROPOSAL_CASES = [
    (0.0, 1.0, -4.5, 4.5), (0.0, 1.0, -INF, INF), (0.0, 1.0, 0.0, INF), (0.0, 1.0, -INF, 0.0),
    (0.0, 1.0, 0.0, 3.0), (1.15, 0.1, 0.7, 1.3), (0.0, 1e-6, -1e-6, 5e-6),
    (0.0, 1e5, -INF, INF), (60000.0, 3000.0, 59000.3, INF), (0.0, 1e38, -INF, INF),
    (0.0, 0.02, -2.0, 2.0), (-1e-3, 2e-3, -4e-3, 1e-2),
]
TRUNCATED_ZIGGURAT_CASES = [(0.0, 1.0, -2.0, 2.0), (1.15, 0.1, 1.001, 1.3),
                            (0.0, 1e-6, -1e-6, 3e-6), (0.0, 1.0, -3.6, 3.6),
                            (0.0, 1.0, 0.1, 3.0), (0.0, 1.0, -INF, -5.0)]


@pytest.mark.parametrize("dtype", dtype_params([F32]))
@pytest.mark.parametrize("mean,std,a,b", TRUNCATED_ZIGGURAT_CASES)
def test_truncated_ziggurat_is_not_normals_draw(dtype, mean, std, a, b):
    # The check above is not vacuous: these intervals draw from their own ziggurat. (In
    # float32: the table for 3.6 is close enough to the normal's that 16-bit values agree.)
    n = 20000
    x = tn(gen_at(KEY, 77), mean, std, a, b, size=n, dtype=dtype)
    y = gen_at(KEY, 77).normal(mean, std, size=n, dtype=dtype)
    assert np.mean(as_bits(x) == as_bits(y)) < 0.5


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("a,b", [(3.0, INF), (5.0, 6.0), (8.0, 9.0), (-INF, -4.0)])
def test_tail_chisquare(dtype, a, b):
    # Robert's proposal finely (its log is in float for float32): 2e6 values in 400 cells
    # of equal mass.
    n = 2 * 10**6
    x = tn(fastinit.Generator(977), 0.0, 1.0, a, b, size=n, dtype=dtype).astype(np.float64)
    law = stats.truncnorm(a, b)
    edges = law.ppf(np.linspace(0, 1, 401))
    counts = np.histogram(x, edges)[0]
    chi2 = ((counts - n / 400) ** 2 / (n / 400)).sum()
    assert stats.chi2.sf(chi2, 399) > P_MIN


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
@pytest.mark.parametrize("beta", [0.6, 1.3, 2.0, 2.9, 3.6])
def test_truncated_ziggurat_chisquare(dtype, beta):
    # The per-interval ziggurat, finely: 2e6 values in 500 equal cells of [-beta, beta]
    # (and of [-beta, beta/3], which rejects one side's draws). A layer table wrong by
    # 1e-3 of its area shows here.
    for a, b in ((-beta, beta), (-beta, beta / 3)):
        n = 2 * 10**6
        x = tn(fastinit.Generator(4242), 0.0, 1.0, a, b, size=n, dtype=dtype).astype(np.float64)
        assert x.min() >= a and x.max() <= b
        edges = np.linspace(a, b, 501)
        counts = np.histogram(x, edges)[0]
        expected = np.diff(stats.truncnorm(a, b).cdf(edges)) * n
        chi2 = ((counts - expected) ** 2 / expected).sum()
        assert stats.chi2.sf(chi2, 499) > P_MIN, (a, b)


@pytest.mark.parametrize("dtype", dtype_params([F16, BF16, F32]))
@pytest.mark.parametrize("mean,std,a,b", NORMAL_PROPOSAL_CASES)
def test_normal_proposal_is_normals_draw(dtype, mean, std, a, b):
    bounds = closed_bounds(dtype, a, b)
    if bounds is None:
        pytest.skip("no value of this dtype in [a, b]")
    n = 20000
    x = tn(gen_at(KEY, 77), mean, std, a, b, size=n, dtype=dtype)
    try:
        y = gen_at(KEY, 77).normal(mean, std, size=n, dtype=dtype)
    except ValueError:
        pytest.skip("normal() refuses a scale beyond the dtype's range")
    half = a >= mean or b <= mean          # the half-normal proposal: |z|, mirrored below
    if half:
        if (mean, std) != (0.0, 1.0):
            pytest.skip("the half-normal check needs x = z exactly")
        y = np.abs(y) if a >= mean else -np.abs(y)
    lo, hi = bounds
    margin = 1e-3 * std
    y64 = y.astype(np.float64)
    inside = (y64 >= lo + margin) & (y64 <= hi - margin)
    if math.isinf(a) and math.isinf(b) and not half:
        inside = np.isfinite(y64)       # normal() overflows where these clamp
    assert inside.mean() > 0.3
    assert_bits_equal(x[inside], y[inside], f"{np.dtype(dtype)} vs normal()")


@pytest.mark.parametrize("dtype", dtype_params([F16, BF16, F32]))
def test_infinite_bounds_are_normal(dtype):
    # N(mean, std) truncated to (-inf, inf) is normal(), bit for bit, stream included
    g, h = gen_at(KEY, 5), gen_at(KEY, 5)
    assert_bits_equal(tn(g, 0.25, 0.02, -INF, INF, size=5000, dtype=dtype),
                      h.normal(0.25, 0.02, size=5000, dtype=dtype), "(-inf, inf)")
    assert g.counter == h.counter


ALL_PROPOSAL_CASES = NORMAL_PROPOSAL_CASES + [
    (0.0, 1.0, 30.0, 31.0), (0.0, 1.0, -INF, -40.0), (0.45, 1.0, 0.2, 0.7),
    (0.0, 1e-3, -2e-5, 2e-5), (-3.0, 1.0, -0.5, 0.5), (10.0, 2.0, -1.0, 1.0),
    (0.0, 1.0, 3.0, INF), (0.0, 1.0, 8.0, 9.0),
]


@pytest.mark.parametrize("dtype", dtype_params(SMALL_DTYPES))
@pytest.mark.parametrize("mean,std,a,b", ALL_PROPOSAL_CASES)
def test_16bit_values_agree_with_float32(dtype, mean, std, a, b):
    # float16/bfloat16/float32 take the same z for every proposal. The float32 value y
    # says the double x lies in y's float32 rounding cell [m-, m+] (midpoints to its
    # neighbours); clamping and rounding are monotone, so the 16-bit value must lie between
    # the 16-bit roundings of the clamped m- and m+ (equal to both when they agree).
    bounds = closed_bounds(dtype, a, b)
    if bounds is None:
        pytest.skip("no value of this dtype in [a, b]")
    n = 20000
    y = tn(gen_at(KEY, 78), mean, std, a, b, size=n, dtype=F32)
    x = tn(gen_at(KEY, 78), mean, std, a, b, size=n, dtype=dtype).astype(np.float64)
    y64 = y.astype(np.float64)
    with np.errstate(over="ignore"):
        down = np.nextafter(y, np.float32(-np.inf)).astype(np.float64)
        up = np.nextafter(y, np.float32(np.inf)).astype(np.float64)
    m_lo = np.where(np.isfinite(down), (y64 + down) / 2, y64)
    m_hi = np.where(np.isfinite(up), (y64 + up) / 2, y64)
    r_lo = round_to_grid(np.clip(m_lo, *bounds), dtype)
    r_hi = round_to_grid(np.clip(m_hi, *bounds), dtype)
    bad = (x < r_lo) | (x > r_hi)
    assert not bad.any(), (f"{int(bad.sum())} values off: e.g. x={x[bad][:3]}, "
                           f"float32={y64[bad][:3]}")
    # and they are not trivially far apart: most values pin x exactly
    assert np.count_nonzero(r_lo == r_hi) > n // 2


# ---- bounds ------------------------------------------------------------------------------

F16_MAX = 65504.0

BOUND_CASES = [
    (0.0, 1.0, -2.0, 2.0), (0.0, 0.1, -2.0, 2.0), (0.0, 1.0, -INF, INF),
    (0.0, 1e5, -INF, INF), (0.0, 1e300, -INF, INF), (0.0, 1e5, -1.0, INF),
    (0.0, 1.0, 0.1, 0.3), (0.0, 1.0, 1.001, 1.3), (0.0, 1.0, -1e-3, 1e-3),
    (0.0, 1.0, 3.0, INF), (0.0, 1.0, -INF, -6.0), (0.0, 1.0, 30.0, 31.0),
    (0.0, 1.0, 200.0, INF), (0.0, 1.0, -INF, -1000.0), (0.0, 1.0, 1e4, 1.00001e4),
    (5.0, 3.0, 4.999, 5.0001), (0.0, 1e-40, -1e-40, 1e-40), (0.0, 1e300, -1.0, 1.0),
    (0.0, 1.0, 65000.0, 65504.0), (0.0, 1e4, 60000.0, 70000.0), (0.0, 1e4, -70000.0, -60000.0),
    (0.0, 3e38, 3e38, INF), (0.0, 1e38, -3.39e38, -3e38), (0.0, 1e300, 1e300, 1.7e308),
]


def bound_params():
    out = []
    for dt in DTYPES:
        for mean, std, a, b in BOUND_CASES:
            if closed_bounds(dt, a, b) is not None:
                out.append(pytest.param(dt, mean, std, a, b,
                                        id=f"{dt}-{mean:g},{std:g},[{a:g},{b:g}]"))
    return out


@pytest.mark.parametrize("dtype,mean,std,a,b", bound_params())
def test_every_value_lies_in_the_closed_interval(simd, dtype, mean, std, a, b):
    x = tn(fastinit.Generator(3108), mean, std, a, b, size=3000, dtype=dtype)
    x = x.astype(np.float64)
    lo, hi = closed_bounds(dtype, a, b)
    assert np.isfinite(x).all(), "an infinite or NaN value"
    assert x.min() >= a and x.max() <= b, f"[{x.min()!r}, {x.max()!r}] not in [{a}, {b}]"
    assert x.min() >= lo and x.max() <= hi


@pytest.mark.parametrize("dtype", dtype_params([F16, BF16, F32]))
def test_no_pile_up_on_bounds_far_from_the_mass(dtype):
    # std 0.1 on [-2, 2]: |x| = 2 is 20 standard deviations out; a sampler that clamps
    # instead of conditioning (or rounds a proposal onto the bounds) would put values there.
    x = tn(fastinit.Generator(3109), 0.0, 0.1, -2.0, 2.0, size=10**6, dtype=dtype)
    x = x.astype(np.float64)
    assert np.count_nonzero(np.abs(x) == 2.0) == 0
    assert np.abs(x).max() < 1.3          # 13 standard deviations: P ~ 1e-38 per value


@pytest.mark.parametrize("dtype", dtype_params([F16, BF16, F32, F64]))
def test_infinite_bounds_never_give_infinities(dtype):
    # std so large that x overflows the dtype: clamped to the finite range, never inf.
    mx = finite_max(dtype)
    x = tn(fastinit.Generator(3110), 0.0, 10 * mx if mx < 1e300 else 1e308, -INF, INF,
           size=2000, dtype=dtype).astype(np.float64)
    assert np.isfinite(x).all()
    assert np.abs(x).max() <= mx


def test_unrepresentable_bfloat16_ends_stay_inside():
    # 0.1 and 0.3 are not bfloat16 values: the nearest values 0.10009765625 (above 0.1)
    # and 0.30078125 (above 0.3) -- the latter outside -- must not be produced.
    a, b = 0.1, 0.3
    lo, hi = closed_bounds(BF16, a, b)
    assert lo > a and hi < b and next_up(hi, BF16) > b and next_down(lo, BF16) < a
    x = tn(fastinit.Generator(3111), 0.2, 1.0, a, b, size=10**5, dtype=BF16).astype(np.float64)
    assert x.min() == lo and x.max() == hi
    # mean far outside, against the upper end: all the mass sits near b
    x = tn(fastinit.Generator(3112), 5.0, 0.01, a, b, size=10**4, dtype=BF16).astype(np.float64)
    assert np.all(x == hi)


@pytest.mark.parametrize("dtype,a,b", [
    (BF16, 1000.5, 1000.9), (F16, 1e-8, 5e-8), (F32, 1 + 2.0**-25, 1 + 2.0**-24),
    (F16, 65505.0, INF), (F16, -INF, -65520.0), (BF16, 3.4e38, INF), (F32, -INF, -3.5e38),
    (F32, 1e39, 1e40),
])
def test_empty_interval_raises(dtype, a, b):
    assert closed_bounds(dtype, a, b) is None
    g = gen_at(KEY, 48)
    out = sentinel(100, dtype)
    with pytest.raises(ValueError):
        tn(g, 0.0, 1.0, a, b, out=out)
    with pytest.raises(ValueError):
        tn(g, 0.0, 1.0, a, b, size=10, dtype=dtype)
    assert g.counter == 48
    assert np.array_equal(as_bits(out), as_bits(sentinel(100, dtype)))


def test_interval_of_one_value():
    # [a, b] holding a single bfloat16 value: every output is that value.
    x = tn(fastinit.Generator(3113), 0.0, 1.0, 0.999, 1.001, size=1000, dtype=BF16)
    assert np.all(x.astype(np.float64) == 1.0)
    x = tn(fastinit.Generator(3113), 0.0, 1.0, 2047.5, 2048.5, size=1000, dtype=F16)
    assert np.all(x.astype(np.float64) == 2048.0)


# ---- the stream -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (0.0, INF), (-INF, -0.1), (8.0, 9.0),
                                 (-0.5, 0.5), (3.0, INF), (5.0, 5.01), (300.0, 301.0)])
@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 64, 65, 1000])
def test_counter_advance(dtype, a, b, n):
    # One word per value for the normal and half-normal proposals in float16, bfloat16 and
    # float32 (ceil(n/64) groups of 16 blocks), which, from their own ziggurats, take every
    # interval but narrow ones (the uniform proposal) and tails past 256; two, laid out as
    # float64's, otherwise.
    one_word = np.dtype(dtype) != F64 and (a, b) not in ((5.0, 5.01), (300.0, 301.0))
    per_group = 64 if one_word else 32
    g = gen_at(KEY, 1000)
    tn(g, 0.0, 1.0, a, b, size=n, dtype=dtype)
    assert g.counter == 1000 + -(-n // per_group) * 16
    g = gen_at(KEY, 1000)
    tn(g, 0.0, 1.0, a, b, dtype=dtype)          # size=None: one value
    assert g.counter == 1016


def test_scalar_and_prefix():
    x = tn(gen_at(KEY, 9), 0.5, 2.0, -1.0, 3.0)
    assert isinstance(x, np.float64)
    whole = tn(gen_at(KEY, 9), 0.5, 2.0, -1.0, 3.0, size=1000)
    assert x == whole[0]
    # value i does not depend on how many values the call has
    for n in (1, 17, 32, 33, 999):
        assert_bits_equal(tn(gen_at(KEY, 9), 0.5, 2.0, -1.0, 3.0, size=n), whole[:n], f"n={n}")
    # and the next call starts where this one ended
    g = gen_at(KEY, 9)
    tn(g, 0.5, 2.0, -1.0, 3.0, size=40)
    nxt = tn(g, 0.5, 2.0, -1.0, 3.0, size=10)
    part = np.empty(10)
    fastinit.fill_range("truncated_normal", KEY, 9 + 32, 0, part, 0.5, 2.0, -1.0, 3.0)
    assert_bits_equal(nxt, part)


def test_default_arguments_are_torch_defaults():
    # mean 0, std 1, a -2, b 2, float64
    x = fastinit.Generator(5).truncated_normal(size=1000)
    y = tn(fastinit.Generator(5), 0.0, 1.0, -2.0, 2.0, size=1000, dtype=F64)
    assert x.dtype == F64
    assert_bits_equal(x, y)


@pytest.mark.parametrize("dtype", dtype_params([F32, F64]))
def test_serial_correlation(dtype):
    # Values of one block land 16 apart and a value's two words 16 apart: no correlation
    # at those lags (nor between a value and its neighbours).
    n = 4 * 10**5
    x = tn(fastinit.Generator(3114), 0.0, 1.0, -1.0, 3.0, size=n, dtype=dtype).astype(np.float64)
    x = (x - x.mean()) / x.std()
    bound = Z_MAX / math.sqrt(n)
    for lag in (1, 2, 15, 16, 17, 32, 64):
        r = float(np.mean(x[:-lag] * x[lag:]))
        assert abs(r) < bound, f"lag {lag}: correlation {r:.2e}"


# ---- bit-identity: SIMD paths, threads, layouts, chunks -----------------------------------

# One interval per proposal (and both mirror images): normal, half-normal, uniform,
# Robert's exponential; with rejections, so that second and later draws occur.
INV_PARAMS = [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 30.0, 31.0), (10.0, 2.0, -1.0, 1.0),
              (0.0, 1.0, -1e-3, 1e-3), (0.0, 1.0, -INF, INF), (0.0, 1.0, 0.0, INF),
              (0.0, 1.0, -INF, -0.1), (0.0, 1.0, 0.1, 3.0), (0.0, 1.0, 3.0, INF),
              (0.45, 1.0, 0.2, 0.7), (0.0, 1.0, -0.3, 2.5), (-3.0, 1.0, -0.5, 0.5),
              (0.0, 1.0, -1.999, 2.001), (0.0, 1.0, -6.0, -5.0), (0.0, 1.0, -301.0, -300.0)]
# Then: bounds that float16 and bfloat16 round inward (their clamp acts, where float32's
# cannot), a mirrored tail with mean 0 and std 1 (x = -z, unclamped), and Robert's
# exponential, which only a tail past alpha = 256 takes (nearer ones get a ziggurat of their
# own), mirrored, with a finite beta.
INV_IDS = ["central", "tail", "mirrored", "narrow", "untruncated", "half", "mirrored-half",
           "half-rejecting", "exp-one-sided", "uniform-upper", "normal-rejecting",
           "exp-two-sided", "inexact-bounds", "mirrored-tail", "exp-far-mirrored"]


def reference(size, dtype, params, counter=1234):
    simd, threads = fastinit.get_simd(), fastinit.get_num_threads()
    try:
        fastinit.set_simd("scalar")
        fastinit.set_num_threads(1)
        return tn(gen_at(KEY, counter), *params, size=size, dtype=dtype)
    finally:
        fastinit.set_simd(simd)
        fastinit.set_num_threads(threads)


@pytest.mark.parametrize("params", INV_PARAMS, ids=INV_IDS)
@pytest.mark.parametrize("dtype", dtype_params())
def test_simd_paths_agree(dtype, params):
    for size in (1, 31, 32, 33, 1000, 70001):
        ref = reference(size, dtype, params)
        for name in SIMD:
            fastinit.set_simd(name)
            assert_bits_equal(tn(gen_at(KEY, 1234), *params, size=size, dtype=dtype), ref,
                              f"simd={name} size={size}")


@pytest.mark.parametrize("counter", [2**32 - 5, 2**32 - 300, 2**32 - 5000, 5 * 2**32 - 77,
                                     2**64 - 2**20])
@pytest.mark.parametrize("dtype", dtype_params())
def test_simd_paths_agree_across_counter_wrap(dtype, counter):
    # The rejected values' retry blocks carry into the counter's high word here.
    for params in INV_PARAMS[:3]:
        ref = reference(9000, dtype, params, counter)
        for name in SIMD:
            fastinit.set_simd(name)
            assert_bits_equal(tn(gen_at(KEY, counter), *params, size=9000, dtype=dtype), ref,
                              f"simd={name} params={params}")


@pytest.mark.parametrize("attempts", [0, 1, 2, 3])
@pytest.mark.parametrize("dtype", dtype_params())
def test_simd_paths_agree_with_few_attempts(dtype, attempts):
    # max_attempts 0 (all from the fallback), 1, 2 (AVX-512 computes the first and second
    # proposals in vectors), 3: the fallback takes over at the same draw on every path.
    fastinit._core._set_truncnorm_max_attempts(attempts)
    try:
        for params in INV_PARAMS:
            ref = reference(2000, dtype, params)
            for name in SIMD:
                fastinit.set_simd(name)
                assert_bits_equal(tn(gen_at(KEY, 1234), *params, size=2000, dtype=dtype), ref,
                                  f"simd={name} params={params}")
    finally:
        fastinit._core._set_truncnorm_max_attempts(DEFAULT_ATTEMPTS)


@pytest.mark.parametrize("dtype", dtype_params())
def test_simd_paths_agree_many_keys(dtype):
    rng = np.random.default_rng(11)
    for _ in range(10):
        key = tuple(int(k) for k in rng.integers(0, 2**32, 2))
        counter = int(rng.integers(0, 2**63))
        for params in INV_PARAMS:
            simd = fastinit.get_simd()
            fastinit.set_simd("scalar")
            ref = tn(gen_at(key, counter), *params, size=700, dtype=dtype)
            fastinit.set_simd(simd)
            for name in SIMD:
                fastinit.set_simd(name)
                assert_bits_equal(tn(gen_at(key, counter), *params, size=700, dtype=dtype),
                                  ref, f"simd={name} key={key} counter={counter} {params}")


@pytest.mark.parametrize("params", INV_PARAMS, ids=INV_IDS)
@pytest.mark.parametrize("dtype", dtype_params())
def test_thread_counts_agree(dtype, params):
    size = 2**17 + 5                         # above the 2**16 values that wake threads
    ref = reference(size, dtype, params)
    for n in (1, 2, 3):
        fastinit.set_num_threads(n)
        assert_bits_equal(tn(gen_at(KEY, 1234), *params, size=size, dtype=dtype), ref,
                          f"threads={n}")


def _padded(shape, dtype, order="C"):
    """A sentinel array of `shape` inside a larger one (so writes outside show)."""
    n = int(np.prod(shape))
    flat = sentinel(n + 16, dtype)
    a = flat[:n].reshape(shape[::-1]).T if order == "F" else flat[:n].reshape(shape)
    return flat, a


# name -> (base shape, order, the view of the base array)
LAYOUTS = {
    "C": ((37, 41), "C", lambda b: b),
    "F": ((37, 41), "F", lambda b: b),
    "F-3d": ((5, 6, 7), "F", lambda b: b),
    "stride3": ((3000,), "C", lambda b: b[::3]),
    "reversed": ((1001,), "C", lambda b: b[::-1]),
    "reversed-step": ((1001,), "C", lambda b: b[-2::-7]),
    "transposed-3d": ((5, 6, 7), "C", lambda b: b.transpose(2, 0, 1)),
    "slice-3d-neg": ((6, 8, 10), "C", lambda b: b[::-1, 1::3, ::-2]),
    "column": ((300, 5), "C", lambda b: b[:, 3]),
    "0d-view": ((4, 4), "C", lambda b: b[2, 3, ...]),
    "big-strided": ((600, 400), "C", lambda b: b[:, ::2]),      # > 65536 values: threads
    "big-transposed": ((300, 500), "C", lambda b: b.T),
}


def check_layout(fill, make_ref, dtype, layout):
    """fill(out=view) equals make_ref(shape) as a fresh array, and nothing outside the view
    of the (padded) base changes."""
    shape, order, take = LAYOUTS[layout]
    flat, base = _padded(shape, dtype, order)
    view = take(base)
    assert fill(view) is view
    ref = make_ref(view.shape)
    assert_bits_equal(np.asarray(view), np.asarray(ref).reshape(view.shape), f"layout {layout}")
    eflat, ebase = _padded(shape, dtype, order)
    take(ebase)[...] = ref
    assert np.array_equal(as_bits(flat), as_bits(eflat)), "wrote outside the view"


@pytest.mark.parametrize("params", [INV_PARAMS[0], INV_PARAMS[8]],
                         ids=[INV_IDS[0], INV_IDS[8]])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", dtype_params())
def test_layouts(dtype, layout, params):
    fastinit.set_num_threads(3)
    p = params
    check_layout(lambda v: tn(gen_at(KEY, 55), *p, out=v),
                 lambda shape: tn(gen_at(KEY, 55), *p, size=shape, dtype=dtype), dtype, layout)


def splits_of(n, rng):
    fixed = {0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 2047, 2048, 2049, n - 1, n}
    fixed |= set(int(v) for v in rng.integers(0, n, 8))
    return sorted(v for v in fixed if 0 <= v <= n)


@pytest.mark.parametrize("counter", [0, 2**32 - 5, 2**64 - 2**20])
@pytest.mark.parametrize("params", INV_PARAMS[:4] + INV_PARAMS[9:10],
                         ids=INV_IDS[:4] + INV_IDS[9:10])
@pytest.mark.parametrize("dtype", dtype_params())
def test_fill_range_chunks_concatenate_to_the_whole(dtype, params, counter):
    n = 5000
    whole = np.empty(n, dtype=dtype)
    fastinit.fill_range("truncated_normal", KEY, counter, 0, whole, *params)
    if counter < 2**63:
        assert_bits_equal(whole, tn(gen_at(KEY, counter), *params, size=n, dtype=dtype),
                          "Generator")
    points = splits_of(n, np.random.default_rng(n + counter % 1000))
    parts = []
    for lo, hi in zip(points, points[1:]):
        part = np.empty(hi - lo, dtype=dtype)
        assert fastinit.fill_range("truncated_normal", KEY, counter, lo, part, *params) is part
        parts.append(part)
    assert_bits_equal(np.concatenate(parts), whole, f"splits {points}")


def test_fill_range_chunks_in_the_fallback(fallback):
    n = 3000
    whole = np.empty(n)
    fastinit.fill_range("truncated_normal", KEY, 7, 0, whole, 0.0, 1.0, 8.0, 9.0)
    for lo, hi in [(0, 1), (1, 33), (33, 1000), (1000, 2999), (2999, 3000)]:
        part = np.empty(hi - lo)
        fastinit.fill_range("truncated_normal", KEY, 7, lo, part, 0.0, 1.0, 8.0, 9.0)
        assert_bits_equal(part, whole[lo:hi], f"[{lo}, {hi})")


def test_fill_range_threads_and_2d():
    n = 2**17 + 3
    whole = np.empty(n, dtype=F32)
    fastinit.set_num_threads(1)
    fastinit.fill_range("truncated_normal", KEY, 99, 0, whole, 0.0, 1.0, -2.0, 2.0)
    fastinit.set_num_threads(3)
    part = np.empty((300, 400), dtype=F32)
    fastinit.fill_range("truncated_normal", KEY, 99, 4321, part, 0.0, 1.0, -2.0, 2.0)
    assert_bits_equal(part.reshape(-1), whole[4321:4321 + 120000])


# ---- library bugs found while writing these tests ---------------------------------------

@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1e17, -2.0, 2.0), (0.0, 1e20, 5.0, 6.0),
                                          (0.0, 1e20, -6.0, -5.0)])
def test_huge_std_is_nearly_uniform_on_the_interval(mean, std, a, b):
    # N(mean, std) with std/(b - a) >= 1e16 is flat on [a, b] to 1e-30 relative.
    x = tn(fastinit.Generator(3115), mean, std, a, b, size=2000)
    assert stats.kstest((x - a) / (b - a), "uniform").pvalue > P_MIN


@pytest.mark.parametrize("a,b", [(-1e300, 1e300), (0.0, 1e300), (-1.0, 1e300)])
def test_fallback_on_a_wide_finite_interval(fallback, a, b):
    x = tn(fastinit.Generator(3116), 0.0, 1.0, a, b, size=2000)
    assert np.abs(x).max() < 10
    assert stats.kstest(x, stats.truncnorm(a, b).cdf).pvalue > P_MIN


def test_fallback_on_a_very_narrow_interval(fallback):
    x = tn(fastinit.Generator(3117), 0.0, 1.0, -1e-300, 1e-300, size=2000)
    assert stats.kstest(x / 1e-300, "uniform", args=(-1.0, 2.0)).pvalue > P_MIN


@pytest.mark.parametrize("a,b,expected", [(1e308, INF, 1e308), (-INF, -1e308, -1e308)])
def test_extreme_tail_is_the_bound(a, b, expected):
    x = tn(fastinit.Generator(3118), 0.0, 1.0, a, b, size=16)
    assert np.all(x == expected)


@pytest.mark.parametrize("mean,std,a,b,expected", [(0.0, 1e-320, 1.0, 2.0, 1.0),
                                                   (0.0, 1e-320, -2.0, -1.0, -1.0),
                                                   (1e17, 1.0, -1.0, 1.0, 1.0)])
def test_standardized_bounds_that_collapse(mean, std, a, b, expected):
    x = tn(fastinit.Generator(3119), mean, std, a, b, size=16)
    assert np.all(x == expected)


def test_interval_tables_are_the_same_from_any_thread_and_cache_state():
    # Each interval's ziggurat is built on first use and kept in a small cache (8 tables):
    # 60 intervals drawn in random order from 4 threads evict and rebuild tables while
    # other threads read them. Every call must give the values a lone first call gave.
    ivs = [(-1 - 0.01 * i, 1 + 0.013 * i) for i in range(30)]
    ivs += [(3 + 0.1 * i, INF) for i in range(30)]
    ref = {iv: tn(fastinit.Generator(1), 0.0, 1.0, *iv, size=2000, dtype=F32).tobytes()
           for iv in ivs}
    bad = []

    def work(k):
        r = np.random.default_rng(k)
        for _ in range(150):
            iv = ivs[r.integers(len(ivs))]
            x = tn(fastinit.Generator(1), 0.0, 1.0, *iv, size=2000, dtype=F32)
            if x.tobytes() != ref[iv]:
                bad.append(iv)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad
