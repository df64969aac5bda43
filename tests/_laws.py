"""Checks of a sample against its law, written independently of fastinit's own code
(scipy.stats for the laws): shared by the initializer tests."""
import math

import numpy as np
from scipy import stats

P_MIN = 1e-4
TRUNC = 0.87962566103423978      # std of N(0, 1) truncated to [-2, 2] (Keras's constant)


def check_uniform(x, lo, hi):
    """x ~ U[lo, hi): inside, reaching both ends (pins the bound to ~40/n of the width) and
    KS-consistent with scipy's uniform."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    assert x.min() >= lo and x.max() < hi, (x.min(), x.max(), lo, hi)
    slack = 40.0 * (hi - lo) / n        # P(missing it) < e^-20 for a correct sampler
    assert x.max() > hi - slack and x.min() < lo + slack, (x.min(), x.max(), lo, hi)
    p = stats.kstest(x, stats.uniform(loc=lo, scale=hi - lo).cdf).pvalue
    assert p > P_MIN, f"KS p={p:.3g} against U[{lo}, {hi})"


def check_normal(x, mean, std):
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) < 6 * std / math.sqrt(n), (x.mean(), mean)
    assert abs(x.std() / std - 1) < 6 / math.sqrt(2 * n), (x.std(), std)
    p = stats.kstest(x, stats.norm(loc=mean, scale=std).cdf).pvalue
    assert p > P_MIN, f"KS p={p:.3g} against N({mean}, {std}**2)"


def check_truncnorm(x, mean, std, a, b):
    """x ~ N(mean, std) truncated to the absolute bounds [a, b]."""
    x = np.asarray(x, dtype=np.float64).ravel()
    assert x.min() >= a and x.max() <= b, (x.min(), x.max(), a, b)
    law = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    n = x.size
    assert abs(x.std() / law.std() - 1) < 6 / math.sqrt(n), (x.std(), law.std())
    p = stats.kstest(x, law.cdf).pvalue
    assert p > P_MIN, f"KS p={p:.3g} against truncnorm({mean}, {std}, [{a}, {b}])"
    # the tails are not cut short of the bounds: the sample gets within 0.01 std of each
    # finite bound (the density there is not negligible in any case used here)
    if math.isfinite(b) and law.pdf(b) * std > 0.01:
        assert x.max() > b - 0.01 * std
    if math.isfinite(a) and law.pdf(a) * std > 0.01:
        assert x.min() < a + 0.01 * std


def check(x, expected):
    kind, *params = expected
    {"uniform": check_uniform, "normal": check_normal, "trunc": check_truncnorm}[kind](
        x, *params)


def check_range(x, expected, dtype=None):
    """For 16-bit outputs: every value inside the law's support, the spread about right."""
    kind, *params = expected
    x = np.asarray(x).astype(np.float64).ravel()
    assert np.isfinite(x).all()
    assert np.unique(x).size > 10
    if kind == "uniform":
        lo, hi = params
        assert x.min() >= lo and x.max() <= hi
        assert x.max() > hi - 0.02 * (hi - lo) and x.min() < lo + 0.02 * (hi - lo)
        assert abs(x.std() / ((hi - lo) / math.sqrt(12)) - 1) < 0.03
    elif kind == "normal":
        mean, std = params
        assert abs(x.mean() - mean) < 0.03 * std + 1e-3 * abs(mean)
        assert abs(x.std() / std - 1) < 0.03
    else:
        mean, std, a, b = params
        assert x.min() >= a and x.max() <= b
        law = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
        assert abs(x.std() / law.std() - 1) < 0.03
