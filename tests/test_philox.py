"""Philox4x32-10 itself, and the word layout of the fill stream (csrc/fastinit.h)."""
import numpy as np
import pytest

import fastinit
from _util import gen_at

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def py_philox4x32(ctr, key):
    """Independent pure-Python Philox4x32-10 (from the round description in reference.md)."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & MASK, (p0 >> 32) ^ c3 ^ k1, p0 & MASK)
    return (c0, c1, c2, c3)


# Random123 kat_vectors for philox4x32_10.
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff),
     (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]


@pytest.mark.parametrize("ctr,key,expected", KAT, ids=["zeros", "ones", "pi"])
def test_random123_known_answers(ctr, key, expected):
    out = fastinit.philox4x32(ctr, key)
    assert out == expected
    assert all(type(w) is int for w in out)
    assert py_philox4x32(ctr, key) == expected      # the reference model agrees too


def test_cpp26_philox4x32_10000th_output():
    # std::philox4x32 default-constructed: key (20111115, 0), counter (n, 0, 0, 0) from 0,
    # four words per block in order; output 10000 is block 2499, word 3.
    key = (20111115, 0)
    assert fastinit.philox4x32((2499, 0, 0, 0), key)[3] == 1955073260
    # Walk the whole sequence the way the C++ engine does, to pin the indexing as well.
    outputs = [w for n in range(2500) for w in fastinit.philox4x32((n, 0, 0, 0), key)]
    assert outputs[9999] == 1955073260


def test_matches_reference_on_random_inputs():
    rng = np.random.default_rng(123)
    words = rng.integers(0, 2**32, size=(300, 6), dtype=np.uint64)
    for row in words:
        ctr, key = tuple(int(v) for v in row[:4]), tuple(int(v) for v in row[4:])
        assert fastinit.philox4x32(ctr, key) == py_philox4x32(ctr, key)


def test_accepts_any_int_sequences():
    expected = KAT[2][2]
    assert fastinit.philox4x32(list(KAT[2][0]), list(KAT[2][1])) == expected
    assert fastinit.philox4x32(np.array(KAT[2][0], dtype=np.uint32),
                               np.array(KAT[2][1], dtype=np.uint64)) == expected
    assert fastinit.philox4x32(iter(KAT[2][0]), iter(KAT[2][1])) == expected


@pytest.mark.parametrize("ctr,key,exc", [
    ((0, 0, 0), (0, 0), ValueError),                # 3 counter words
    ((0, 0, 0, 0, 0), (0, 0), ValueError),          # 5 counter words
    ((0, 0, 0, 0), (0,), ValueError),               # 1 key word
    ((0, 0, 0, 0), (0, 0, 0), ValueError),          # 3 key words
    ((0, 0, 0, 2**32), (0, 0), ValueError),         # counter word too large
    ((-1, 0, 0, 0), (0, 0), ValueError),            # negative counter word
    ((0, 0, 0, 0), (2**32, 0), ValueError),         # key word too large
    ((0, 0, 0, 0), (0, -1), ValueError),            # negative key word
    ((0, 0, 0, 0), (0, 2**70), ValueError),         # huge key word
    ((0.0, 0, 0, 0), (0, 0), TypeError),            # float counter word
    ((0, 0, 0, 0), (0, 1.5), TypeError),            # float key word
    ((0, 0, "a", 0), (0, 0), TypeError),            # str counter word
    (5, (0, 0), TypeError),                         # not a sequence
    ((0, 0, 0, 0), None, TypeError),
])
def test_bad_arguments(ctr, key, exc):
    with pytest.raises(exc):
        fastinit.philox4x32(ctr, key)


# ---- the fill stream's word layout --------------------------------------------------
# float32 random() on [0, 1) is exactly (W[i] >> 8) * 2**-24, and float64 random() is
# exactly (hi * 2**21 + (lo >> 11)) * 2**-53, so the raw words are visible through them.

def expected_words(key, counter, ngroups):
    """W[64g + 16w + m] = philox((block, 0, 0, 0), key)[w], block = counter + 16g + m."""
    w = np.empty(64 * ngroups, dtype=np.uint64)
    for g in range(ngroups):
        for m in range(16):
            block = (counter + 16 * g + m) % 2**64
            out = fastinit.philox4x32((block & MASK, block >> 32, 0, 0), key)
            for j in range(4):
                w[64 * g + 16 * j + m] = out[j]
    return w


COUNTERS = [0, 1, 12345, 2**32 - 5, 2**32 - 16, 2**32 - 17, 2**32 - 31, 2**32 - 32,
            2**32 - 33, 2**32, 2**33 - 7, 2**63 + 2**32 - 3]


@pytest.mark.parametrize("counter", COUNTERS)
def test_word_layout_float32(simd, counter):
    key = (0x12345678, 0x9ABCDEF0)
    ngroups = 5
    g = gen_at(key, counter)
    x = g.random(size=64 * ngroups, dtype=np.float32)
    assert g.counter == counter + 16 * ngroups
    top24 = (x.astype(np.float64) * 2**24).astype(np.uint64)
    np.testing.assert_array_equal(top24, expected_words(key, counter, ngroups) >> 8)


@pytest.mark.parametrize("counter", COUNTERS)
def test_word_layout_float64(simd, counter):
    key = (0xDEADBEEF, 0x01234567)
    ngroups = 3
    g = gen_at(key, counter)
    x = g.random(size=32 * ngroups)
    assert g.counter == counter + 16 * ngroups
    got = (x * 2**53).astype(np.uint64)
    w = expected_words(key, counter, ngroups).reshape(ngroups, 2, 2, 16)  # g, half, lo/hi, m
    lo, hi = w[:, :, 0, :].reshape(-1), w[:, :, 1, :].reshape(-1)
    np.testing.assert_array_equal(got, (hi << 21) | (lo >> 11))


def test_cpp26_anchor_through_the_generator():
    # Block 2499 is block m = 3 of the group starting at counter 2496; its word 3 is
    # W[16*3 + 3] = value 51 of a float32 fill.
    g = gen_at((20111115, 0), 2496)
    x = g.random(size=64, dtype=np.float32)
    assert int(np.float64(x[51]) * 2**24) == 1955073260 >> 8
