"""Outputs and positions beyond 2**31 (and 2**32) values: no 32-bit index arithmetic."""
import numpy as np
import pytest

import fastinit
from _util import F16, F32, assert_bits_equal, blocks_for

N_BIG = 2**31 + 1000


@pytest.fixture(scope="module")
def big_f16():
    """One 4 GiB float16 array shared by the slow tests below (freed after the module)."""
    a = np.empty(N_BIG, dtype=F16)
    yield a
    del a


def windows(n):
    """Index windows to check: the start, around 2**31, and the last few thousand."""
    return [(0, 3000), (2**31 - 3000, 2**31 + 1000), (n - 5000, n)]


@pytest.mark.slow
def test_random_float16_beyond_2_31(big_f16):
    a = big_f16
    g = fastinit.Generator(1)
    assert g.random(out=a) is a
    assert g.counter == blocks_for(F16, N_BIG) == -(-N_BIG // 64) * 16
    # every value in [0, 1): as bits, non-negative float16 below 1.0 is exactly 0 <= bits < 0x3c00
    assert int(a.view(np.uint16).max()) < 0x3C00
    for lo, hi in windows(N_BIG):
        part = np.empty(hi - lo, dtype=F16)
        fastinit.fill_range("uniform", g.key, 0, lo, part, 0.0, 1.0)
        assert_bits_equal(a[lo:hi], part, f"[{lo}, {hi})")
    # not a constant or a short cycle at the end
    assert np.unique(a[-5000:]).size > 1000


@pytest.mark.slow
def test_reversed_view_beyond_2_31(big_f16):
    # The strided (scatter) path with more than 2**31 logical values: value i of the call
    # goes to a[N_BIG - 1 - i].
    a = big_f16
    g = fastinit.Generator(2)
    view = a[::-1]
    g.standard_normal(out=view)
    for lo, hi in windows(N_BIG):
        part = np.empty(hi - lo, dtype=F16)
        fastinit.fill_range("normal", g.key, 0, lo, part, 0.0, 1.0)
        assert_bits_equal(view[lo:hi], part, f"[{lo}, {hi})")
    assert np.isfinite(a[:10**6].astype(np.float32)).all()


@pytest.mark.slow
def test_truncated_normal_float16_beyond_2_31(big_f16):
    # The per-interval ziggurat and its retries (per-value counters from the flat index)
    # past 2**31 values: every window equals its sub-range made alone.
    a = big_f16
    g = fastinit.Generator(3)
    g.truncated_normal(0.0, 1.0, -2.0, 2.0, out=a)
    for lo, hi in windows(N_BIG):
        part = np.empty(hi - lo, dtype=F16)
        fastinit.fill_range("truncated_normal", g.key, 0, lo, part, 0.0, 1.0, -2.0, 2.0)
        assert_bits_equal(a[lo:hi], part, f"[{lo}, {hi})")
    tail = a[-10**6:].astype(np.float32)
    assert tail.min() >= -2.0 and tail.max() <= 2.0 and np.unique(tail).size > 1000


def test_fill_range_far_positions():
    # Positions past 2**32 and 2**40 values: consistent with each other, and with the
    # Philox words of the blocks they name (float32 uniform = top 24 bits of the word).
    key = (0xA5A5A5A5, 0x5A5A5A5A)
    for start in (2**31 - 7, 2**32 + 3, 2**40 + 123, 2**60 + 1):
        wide = np.empty(300, dtype=F32)
        fastinit.fill_range("uniform", key, 5, start, wide, 0.0, 1.0)
        narrow = np.empty(100, dtype=F32)
        fastinit.fill_range("uniform", key, 5, start + 150, narrow, 0.0, 1.0)
        assert_bits_equal(narrow, wide[150:250])
        for j in (0, 17, 299):
            i = start + j
            group, within = divmod(i, 64)
            word, m = divmod(within, 16)
            block = (5 + 16 * group + m) % 2**64
            w = fastinit.philox4x32((block & 0xFFFFFFFF, block >> 32, 0, 0), key)[word]
            assert int(np.float64(wide[j]) * 2**24) == w >> 8, f"value {i}"
        # normals there too agree between overlapping windows
        wn = np.empty(300, dtype=np.float64)
        fastinit.fill_range("normal", key, 5, start, wn, 0.0, 1.0)
        nn = np.empty(100, dtype=np.float64)
        fastinit.fill_range("normal", key, 5, start + 150, nn, 0.0, 1.0)
        assert_bits_equal(nn, wn[150:250])
