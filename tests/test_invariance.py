"""Bit-identity: value i of a call depends only on (key, the call's first counter, i), so
the bits are the same for every SIMD path, thread count, chunking and memory layout."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from _util import (BF16, DTYPES, F16, F32, F64, as_bits, assert_bits_equal, draw,
                   dtype_params, gen_at, sentinel)

SIMD = fastinit.available_simd()
KEY = (0x0BADC0DE, 0xFEEDFACE)

# (dist, a, b) per dtype: the plain laws, plus parameters that reach the unusual corners
# of the narrowing to 16 bits (subnormals, overflow to inf, huge ranges).
PARAMS = {
    F16: [("uniform", 0.0, 1.0), ("uniform", -65504.0, 65504.0), ("uniform", 0.0, 2.0**-20),
          ("normal", 0.0, 1.0), ("normal", 60000.0, 10000.0), ("normal", 0.0, 1e-6)],
    BF16: [("uniform", 0.0, 1.0), ("uniform", -1e38, 1e38), ("uniform", 0.0, 1e-39),
           ("normal", 0.0, 1.0), ("normal", 3.0, 1e38), ("normal", 0.0, 1e-39)],
    F32: [("uniform", 0.0, 1.0), ("uniform", -3.0e38, 3.0e38), ("uniform", 0.0, 1e-44),
          ("normal", 0.0, 1.0), ("normal", 1e38, 1e38), ("normal", -2.0, 1e-42),
          # low/loc 0 and a power-of-two width/scale: the AVX-512 kernels compute these in
          # float rather than double (exact there too), down to float32 subnormals.
          ("uniform", 0.0, 4.0), ("normal", 0.0, 0.5), ("normal", 0.0, 2.0**-140)],
    F64: [("uniform", 0.0, 1.0), ("uniform", -1e308, 1e308), ("uniform", 0.0, 5e-322),
          ("normal", 0.0, 1.0), ("normal", 1e308, 1e307), ("normal", 0.0, 1e-320)],
}
BASIC = [("uniform", 0.0, 1.0), ("normal", 0.0, 1.0)]


def params_for(dtypes=DTYPES, basic_only=False):
    out = []
    for dt in dtypes:
        for dist, a, b in (BASIC if basic_only else PARAMS[dt]):
            out.append(pytest.param(dt, dist, a, b, id=f"{dt}-{dist}({a:g},{b:g})"))
    return out


def fill(size, dtype, dist, a, b, counter=1234, out=None, key=KEY):
    g = gen_at(key, counter)
    return draw(g, dist, size=None if out is not None else size, dtype=None if out is not None else dtype,
                out=out, a=a, b=b)


def reference(size, dtype, dist, a, b, counter=1234, key=KEY):
    """The same call on the scalar path, one thread, a fresh C-contiguous array."""
    simd, threads = fastinit.get_simd(), fastinit.get_num_threads()
    try:
        fastinit.set_simd("scalar")
        fastinit.set_num_threads(1)
        return fill(size, dtype, dist, a, b, counter, key=key)
    finally:
        fastinit.set_simd(simd)
        fastinit.set_num_threads(threads)


# ---- SIMD paths ----------------------------------------------------------------------

SIZES = [1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000, 2047, 2049, 100003, 300001]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype,dist,a,b", params_for())
def test_simd_paths_agree(dtype, dist, a, b, size):
    ref = reference(size, dtype, dist, a, b)
    for name in SIMD:
        fastinit.set_simd(name)
        assert_bits_equal(fill(size, dtype, dist, a, b), ref, f"simd={name}")


@pytest.mark.parametrize("counter", [0, 2**32 - 5, 2**32 - 16, 2**32 - 17, 2**32 - 31,
                                     2**32 - 32, 2**32 - 33, 2**32 - 1000, 3 * 2**32 - 7,
                                     2**64 - 10**6])
@pytest.mark.parametrize("dtype,dist,a,b", params_for(basic_only=True))
def test_simd_paths_agree_across_counter_wrap(dtype, dist, a, b, counter):
    # The low counter word wraps to 0 inside a group here: the AVX kernels must carry into
    # the high word per lane (scalar computes each block's counter on its own).
    size = 64 * 40 + 3
    ref = reference(size, dtype, dist, a, b, counter=counter)
    for name in SIMD:
        fastinit.set_simd(name)
        assert_bits_equal(fill(size, dtype, dist, a, b, counter=counter), ref, f"simd={name}")
        # and through fill_range, from an unaligned start, across the wrap
        part = np.empty(size - 37, dtype=dtype)
        fastinit.fill_range(dist, KEY, counter, 37, part, a, b)
        assert_bits_equal(part, ref[37:], f"fill_range simd={name}")


@pytest.mark.parametrize("dtype", dtype_params())
def test_simd_paths_agree_many_keys(dtype):
    # Many keys and counters, so that rejections, tails and wedges of the ziggurat's slow
    # path (shared, but fed differently by each path) are all exercised.
    rng = np.random.default_rng(7)
    for _ in range(20):
        key = tuple(int(k) for k in rng.integers(0, 2**32, 2))
        counter = int(rng.integers(0, 2**63))
        for dist in ("normal", "uniform"):
            ref = reference(5000, dtype, dist, 0.0, 1.0, counter=counter, key=key)
            for name in SIMD:
                fastinit.set_simd(name)
                assert_bits_equal(fill(5000, dtype, dist, 0.0, 1.0, counter, key=key), ref,
                                  f"simd={name} key={key} counter={counter}")


def test_set_simd_and_get_simd():
    assert SIMD[0] == "scalar"
    assert set(SIMD) <= {"scalar", "avx2", "avx512", "avx512vbmi", "neon"}
    for name in SIMD:
        fastinit.set_simd(name)
        assert fastinit.get_simd() == name
    fastinit.set_simd("auto")
    assert fastinit.get_simd() == SIMD[-1]
    with pytest.raises(ValueError):
        fastinit.set_simd("sse9")
    with pytest.raises(ValueError):
        fastinit.set_simd("")
    assert fastinit.get_simd() == SIMD[-1]
    for name in {"scalar", "avx2", "avx512", "avx512vbmi", "neon"} - set(SIMD):
        with pytest.raises(RuntimeError):
            fastinit.set_simd(name)


# ---- threads ---------------------------------------------------------------------------

THREADS = [1, 2, 3, 7]


@pytest.mark.parametrize("size", [65535, 65536, 100003, 300001, 2**20 + 17])
@pytest.mark.parametrize("dtype,dist,a,b", params_for(basic_only=True))
def test_thread_counts_agree(dtype, dist, a, b, size):
    ref = reference(size, dtype, dist, a, b)
    for name in SIMD:
        fastinit.set_simd(name)
        for n in THREADS:
            fastinit.set_num_threads(n)
            assert fastinit.get_num_threads() == n
            assert_bits_equal(fill(size, dtype, dist, a, b), ref, f"simd={name} threads={n}")


@pytest.mark.parametrize("dtype,dist,a,b", params_for(basic_only=True))
def test_thread_counts_agree_strided(dtype, dist, a, b):
    ref = reference((700, 300), dtype, dist, a, b)
    for n in THREADS:
        fastinit.set_num_threads(n)
        base = sentinel((1400, 301), dtype)
        view = base[::-2, 1:]
        fill(None, dtype, dist, a, b, out=view)
        assert_bits_equal(view, ref, f"threads={n}")
        assert np.array_equal(as_bits(base[-2::-2]), as_bits(sentinel((700, 301), dtype)))
        assert np.array_equal(as_bits(base[:, 0]), as_bits(sentinel(1400, dtype)))


def test_set_num_threads_errors():
    with pytest.raises(ValueError):
        fastinit.set_num_threads(0)
    with pytest.raises(ValueError):
        fastinit.set_num_threads(-3)
    with pytest.raises(TypeError):
        fastinit.set_num_threads(2.0)
    fastinit.set_num_threads(np.int64(3))
    assert fastinit.get_num_threads() == 3


# ---- chunking through fill_range -------------------------------------------------------

def splits_of(n, rng):
    fixed = {0, 1, 37, 63, 64, 65, 100, 1023, 1024, 2047, 2048, 2049, 4095, n - 1, n}
    fixed |= set(int(v) for v in rng.integers(0, n, 8))
    return sorted(v for v in fixed if 0 <= v <= n)


CHUNK_CASES = [(5000, c) for c in (0, 77, 2**32 - 5, 2**64 - 2**20)] + \
              [(300001, c) for c in (0, 2**32 - 5)]


@pytest.mark.parametrize("n,counter", CHUNK_CASES, ids=[f"n{n}-c{c}" for n, c in CHUNK_CASES])
@pytest.mark.parametrize("dtype,dist,a,b", params_for())
def test_fill_range_chunks_concatenate_to_the_whole(dtype, dist, a, b, counter, n):
    whole = np.empty(n, dtype=dtype)
    fastinit.fill_range(dist, KEY, counter, 0, whole, a, b)
    # the whole equals what a Generator in that state gives (counter + blocks must fit)
    if counter < 2**63:
        assert_bits_equal(whole, fill(n, dtype, dist, a, b, counter=counter), "Generator")
    points = splits_of(n, np.random.default_rng(n + counter % 1000))
    parts = []
    for lo, hi in zip(points, points[1:]):
        part = np.empty(hi - lo, dtype=dtype)
        assert fastinit.fill_range(dist, KEY, counter, lo, part, a, b) is part
        parts.append(part)
    assert_bits_equal(np.concatenate(parts), whole, f"splits {points}")


@pytest.mark.parametrize("dtype,dist,a,b", params_for(basic_only=True))
def test_fill_range_random_windows(simd, dtype, dist, a, b):
    n = 20000
    whole = np.empty(n, dtype=dtype)
    fastinit.fill_range(dist, KEY, 99, 0, whole, a, b)
    rng = np.random.default_rng(3)
    for _ in range(60):
        lo = int(rng.integers(0, n))
        hi = int(rng.integers(lo, n + 1))
        part = np.empty(hi - lo, dtype=dtype)
        fastinit.fill_range(dist, KEY, 99, lo, part, a, b)
        assert_bits_equal(part, whole[lo:hi], f"[{lo}, {hi})")
    # the same windows of the whole with threads and a 2-D C-contiguous out
    fastinit.set_num_threads(3)
    part = np.empty((100, 150), dtype=dtype)
    fastinit.fill_range(dist, KEY, 99, 4321, part, a, b)
    assert_bits_equal(part.reshape(-1), whole[4321:4321 + 15000])


def test_fill_range_large_start_equals_generator_tail():
    # a value far into a call: fill_range(start=s) equals the tail of the full call
    n = 2**21 + 5
    g = gen_at(KEY, 5)
    full = g.normal(size=n, dtype=F32)
    part = np.empty(1000, dtype=F32)
    fastinit.fill_range("normal", KEY, 5, n - 1000, part, 0.0, 1.0)
    assert_bits_equal(part, full[-1000:])


# ---- layouts ---------------------------------------------------------------------------

def _f(shape):
    return lambda d: np.asfortranarray(sentinel(shape, d))


def _c(shape):
    return lambda d: sentinel(shape, d)


# name -> (make the base array, take the view of it); every view but "C"/"F" covers only
# part of its base, and the rest must stay untouched.
LAYOUTS = {
    "C-2d": (_c((37, 41)), lambda b: b),
    "F-2d": (_f((37, 41)), lambda b: b),
    "F-3d": (_f((5, 6, 7)), lambda b: b),
    "stride3": (_c(3000), lambda b: b[::3]),
    "stride3-offset": (_c(3000), lambda b: b[2::3]),
    "reversed": (_c(1001), lambda b: b[::-1]),
    "reversed-step": (_c(1001), lambda b: b[-2::-7]),
    "transposed-3d": (_c((5, 6, 7)), lambda b: b.transpose(2, 0, 1)),
    "transposed-3d-b": (_c((9, 4, 70)), lambda b: b.transpose(1, 2, 0)),
    "slice-3d": (_c((6, 8, 10)), lambda b: b[1:4, ::2, 3:]),
    "slice-3d-neg": (_c((6, 8, 10)), lambda b: b[::-1, 1::3, ::-2]),
    "rows-step": (_c((50, 80)), lambda b: b[::2]),
    "column": (_c((300, 5)), lambda b: b[:, 3]),
    "F-slice": (_f((40, 30)), lambda b: b[3:30, 1::2]),
    "0d": (_c(()), lambda b: b),
    "0d-view": (_c((4, 4)), lambda b: b[2, 3, ...]),
    "size1-dims": (_c((1, 70, 1)), lambda b: b),
    "4d-mixed": (_c((3, 4, 5, 6)), lambda b: b[:, ::-1, 1:4, ::5]),
    "big-strided": (_c((600, 400)), lambda b: b[:, ::2]),        # > 65536 values: threads
    "big-transposed": (_c((300, 500)), lambda b: b.T),
    "big-reversed-3d": (_c((40, 50, 60)), lambda b: b[::-1, :, ::-1].transpose(1, 0, 2)),
    # NumPy's maximum of 64 dimensions, not contiguous (the C side holds 64 dims)
    "64-dims": (_c((1,) * 60 + (3, 1, 4, 5)), lambda b: b.swapaxes(60, 63)[..., ::-1]),
    # many small dimensions in reversed order: runs of 2 along the last axis, with threads
    "20-dims-reversed": (_c((2,) * 20), lambda b: b.transpose(*range(19, -1, -1))),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype,dist,a,b", params_for(basic_only=True))
def test_layouts(simd, dtype, dist, a, b, layout):
    make, take = LAYOUTS[layout]
    base = make(np.dtype(dtype))
    view = take(base)
    out = fill(None, dtype, dist, a, b, out=view)
    assert out is view
    ref = reference(view.shape, dtype, dist, a, b)
    assert_bits_equal(np.asarray(view), np.asarray(ref).reshape(view.shape), f"layout {layout}")
    # the whole base: the view's values where the view is, the sentinel everywhere else
    expected = make(np.dtype(dtype))
    take(expected)[...] = ref
    assert np.array_equal(as_bits(base), as_bits(expected)), "wrote outside the view"


@pytest.mark.parametrize("dtype,dist,a,b", params_for(basic_only=True))
def test_out_equals_size_for_c_and_f_order(dtype, dist, a, b):
    for shape in [(1,), (63,), (64,), (65,), (7, 9), (2, 3, 4, 5), (100, 1001)]:
        c = np.empty(shape, dtype=dtype)
        f = np.empty(shape, dtype=dtype, order="F")
        fill(None, dtype, dist, a, b, out=c)
        fill(None, dtype, dist, a, b, out=f)
        s = fill(shape, dtype, dist, a, b)
        assert_bits_equal(c, s, f"C {shape}")
        assert_bits_equal(f, s, f"F {shape}")


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 100003])
@pytest.mark.parametrize("dtype,dist,a,b", params_for(basic_only=True))
def test_unaligned_out(simd, dtype, dist, a, b, n):
    # An out array whose data pointer is not a multiple of its itemsize (NumPy allows it).
    dt = np.dtype(dtype)
    buf = bytearray(dt.itemsize * n + 1)
    out = np.frombuffer(buf, dtype=dt, offset=1, count=n)
    assert not out.flags.aligned and out.flags.writeable
    fill(None, dtype, dist, a, b, out=out)
    assert_bits_equal(out.copy(), reference(n, dtype, dist, a, b))
    assert buf[0] == 0


@pytest.mark.parametrize("kind", ["fresh", "touched", "memmap"])
def test_fresh_and_file_backed_memory(kind, tmp_path):
    # Large contiguous fills first ask the kernel to map fresh pages in one call; what lands
    # in them, in a file-backed map too, is what lands in memory touched before.
    n = (3 << 20) + 5                      # 12 MiB of float32: several chunks per thread
    ref = fastinit.Generator(77).normal(size=n, dtype=np.float32)
    if kind == "memmap":
        out = np.memmap(tmp_path / "out.bin", dtype=np.float32, mode="w+", shape=(n,))
    else:
        out = np.empty(n, np.float32)
        if kind == "touched":
            out.fill(np.nan)
    fastinit.Generator(77).normal(out=out)
    assert_bits_equal(np.asarray(out), ref, kind)
    out2 = np.empty(n, np.float32) if kind != "memmap" else \
        np.memmap(tmp_path / "out2.bin", dtype=np.float32, mode="w+", shape=(n,))
    fastinit.init.constant_(out2, 0.25)
    assert np.all(np.asarray(out2) == np.float32(0.25))


@pytest.mark.parametrize("dtype", dtype_params())
def test_zero_d_out_and_size_none_agree(dtype):
    for dist in ("uniform", "normal"):
        z = np.empty((), dtype=dtype)
        fill(None, dtype, dist, 0.0, 1.0, out=z)
        s = fill(None, dtype, dist, 0.0, 1.0)       # size=None: a scalar
        v = fill(1, dtype, dist, 0.0, 1.0)
        assert_bits_equal(z, np.asarray(s, dtype=dtype).reshape(()))
        assert_bits_equal(z.reshape(1), v)


# ---- environment variables, in a fresh interpreter -------------------------------------

PROBE = ("import fastinit, hashlib, numpy as np\n"
         "g = fastinit.Generator(12345)\n"
         "h = hashlib.sha256()\n"
         "for dt in ('float16', 'bfloat16', 'float32', 'float64'):\n"
         "    h.update(g.normal(size=200003, dtype=dt).tobytes())\n"
         "    h.update(g.uniform(-3, 5, size=200003, dtype=dt).tobytes())\n"
         "print(fastinit.get_simd(), fastinit.get_num_threads(), h.hexdigest())\n")


def run_probe(**env):
    e = dict(os.environ)
    e.pop("FASTINIT_SIMD", None)
    e.pop("FASTINIT_NUM_THREADS", None)
    e.update(env)
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=e,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    simd, threads, digest = r.stdout.split()
    return simd, int(threads), digest


@pytest.fixture(scope="module")
def default_probe():
    return run_probe()


def test_env_default(default_probe):
    simd, threads, _ = default_probe
    assert simd == SIMD[-1]
    assert threads == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("name", SIMD)
def test_env_fastinit_simd(default_probe, name):
    simd, _, digest = run_probe(FASTINIT_SIMD=name)
    assert simd == name
    assert digest == default_probe[2]       # the same bits on every path


def test_env_fastinit_simd_auto(default_probe):
    assert run_probe(FASTINIT_SIMD="auto")[0] == SIMD[-1]


@pytest.mark.parametrize("n", [1, 3, 7])
def test_env_fastinit_num_threads(default_probe, n):
    simd, threads, digest = run_probe(FASTINIT_NUM_THREADS=str(n), FASTINIT_SIMD="scalar")
    assert threads == n and simd == "scalar"
    assert digest == default_probe[2]


def test_env_in_process_matches_subprocess(default_probe):
    g = fastinit.Generator(12345)
    import hashlib
    h = hashlib.sha256()
    for dt in ("float16", "bfloat16", "float32", "float64"):
        h.update(g.normal(size=200003, dtype=dt).tobytes())
        h.update(g.uniform(-3, 5, size=200003, dtype=dt).tobytes())
    assert h.hexdigest() == default_probe[2]


def _import_with(**env):
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([sys.executable, "-c", "import fastinit; print(fastinit.get_simd(), "
                           "fastinit.get_num_threads())"], capture_output=True, text=True, env=e,
                          timeout=60)


def test_env_empty_values_mean_default():
    r = _import_with(FASTINIT_SIMD="", FASTINIT_NUM_THREADS="")
    assert r.returncode == 0, r.stderr
    simd, threads = r.stdout.split()
    assert simd == SIMD[-1] and int(threads) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("env", [{"FASTINIT_NUM_THREADS": "0"}, {"FASTINIT_NUM_THREADS": "-2"},
                                 {"FASTINIT_NUM_THREADS": "two"}, {"FASTINIT_SIMD": "sse9"}])
def test_env_bad_values_fail_loudly(env):
    r = _import_with(**env)
    assert r.returncode != 0
    assert "ValueError" in r.stderr and next(iter(env)) .split("_")[-1].lower() in r.stderr.lower()
