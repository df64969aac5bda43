"""Non-temporal stores: fills of 16 MiB and more (random ones on 4 threads or more) write
through the SIMD path's streaming stores (from an L1 stage, csrc/kernels.inc.h), with their
own head and tail handling at every alignment. They change how values are stored, never which: every fill here, made with
streaming forced on (the threshold set to 0), equals the same fill written through the
caches, on every path, dtype, law, alignment, thread count and index= block."""
import numpy as np
import pytest

import fastinit
from fastinit import _core
from _util import BF16, F16, F32, F64, assert_bits_equal, gen_at

KEY = (0x9E3779B9, 0x7F4A7C15)
NEVER = 2**62


@pytest.fixture
def stream_min():
    """Set the streaming threshold for one test; the default comes back after it."""
    old = _core._set_stream_min(NEVER)
    _core._set_stream_min(old)
    yield _core._set_stream_min
    _core._set_stream_min(old)


LAWS = {
    "uniform": lambda g, **k: g.uniform(-2.0, 3.0, **k),
    "normal": lambda g, **k: g.normal(0.5, 2.0, **k),
    "truncnorm": lambda g, **k: g.truncated_normal(0.0, 1.0, -2.0, 2.0, **k),
    "truncnorm-tail": lambda g, **k: g.truncated_normal(0.0, 1.0, 3.0, 9.0, **k),
    "bernoulli": lambda g, **k: g.bernoulli(0.3, **k),
}
DTYPES = {"float16": F16, "bfloat16": BF16, "float32": F32, "float64": F64}


def make(law, dtype, n, counter, out=None, index=None):
    g = gen_at(KEY, counter)
    if out is not None:
        return LAWS[law](g, out=out, index=index)
    return LAWS[law](g, size=n, dtype=dtype, index=index)


def test_default_threshold_is_16_mib(stream_min):
    assert stream_min(NEVER) == 16 << 20


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("law", list(LAWS))
def test_streamed_equals_cached(simd, stream_min, law, dtype, threads):
    dt = DTYPES[dtype]
    n, counter = 70001, 2**32 - 1000          # a counter that wraps inside the fill
    stream_min(NEVER)
    ref = make(law, dt, n, counter)
    old = fastinit.get_num_threads()
    fastinit.set_num_threads(threads)
    try:
        stream_min(0)
        # Outputs at every offset of a 64-byte line (in values), and one off by a byte.
        buf = np.zeros(n + 64, dt)
        for off in range(0, 64 // dt.itemsize + 1, 3):
            out = buf[off:off + n]
            buf[...] = 0
            make(law, dt, n, counter, out=out)
            assert_bits_equal(out, ref, f"{law} {dtype} offset {off}")
            assert not buf[:off].view(np.uint8).any() and not buf[off + n:].view(np.uint8).any()
        raw = bytearray(n * dt.itemsize + 1)
        odd = np.frombuffer(raw, dtype=dt, offset=1, count=n)
        make(law, dt, n, counter, out=odd)
        assert_bits_equal(odd.copy(), ref, f"{law} {dtype} byte-misaligned")
        assert raw[0] == 0
    finally:
        fastinit.set_num_threads(old)


@pytest.mark.parametrize("law", ["uniform", "normal", "bernoulli"])
def test_streamed_blocks_equal_the_whole(simd, stream_min, law):
    shape, counter = (300, 517), 12345
    stream_min(NEVER)
    whole = make(law, F32, shape, counter)
    stream_min(0)
    for idx in (np.s_[7:203, 3:511], np.s_[::-1, 5:], np.s_[:, ::2]):
        blk = make(law, F32, shape, counter, index=idx)
        assert_bits_equal(blk, whole[idx], f"{law} {idx}")


@pytest.mark.slow
def test_large_fill_streams_by_default_and_matches_scalar(stream_min):
    # 2**22 + 5 float32 values (just over 16 MiB) at an offset of one value, on 4 threads:
    # past the default thresholds, so every SIMD path streams; each equals the scalar path's
    # cached fill on one thread.
    n = (1 << 22) + 5
    stream_min(NEVER)
    simd, threads = fastinit.get_simd(), fastinit.get_num_threads()
    fastinit.set_simd("scalar")
    fastinit.set_num_threads(1)
    try:
        ref = make("normal", F32, n, 99)
    finally:
        fastinit.set_simd(simd)
    stream_min(16 << 20)
    buf = np.empty(n + 1, F32)
    try:
        fastinit.set_num_threads(4)
        for path in fastinit.available_simd():
            fastinit.set_simd(path)
            make("normal", F32, n, 99, out=buf[1:])
            assert_bits_equal(buf[1:], ref, path)
    finally:
        fastinit.set_simd(simd)
        fastinit.set_num_threads(threads)


@pytest.mark.parametrize("itemsize", [1, 2, 4, 8])
def test_streamed_constant_fills(simd, stream_min, itemsize):
    # The constant fills stream a repeated 4 KiB line: every item, at every byte offset of
    # the output and across line ends, gets the whole pattern, and nothing beside it changes.
    dt = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[itemsize]
    bits = 0x0123456789ABCDEF & ((1 << (8 * itemsize)) - 1)
    n = 3 * 4096 // itemsize + 13
    stream_min(0)
    raw = np.zeros((n + 2) * itemsize + 64, np.uint8)
    for off in (0, 1, 5, 31, 32, 63):
        raw[...] = 0
        out = raw[off:off + n * itemsize].view(dt)
        _core.fill_bits(out, bits)
        assert np.all(out == dt(bits)), off
        assert not raw[:off].any() and not raw[off + n * itemsize:].any()
    f = np.empty((257, 1031), np.float32)
    fastinit.init.constant_(f, -0.75)
    assert np.all(f == np.float32(-0.75))
