"""Bad input raises, and changes nothing: the out array keeps its bits and the Generator's
counter does not move."""
import math
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import fastinit
from _util import BF16, F16, F32, F64, as_bits, dtype_params, sentinel

NAN, INF = math.nan, math.inf


def fresh():
    g = fastinit.Generator(77)
    g.random(10)            # a non-zero counter, so "unchanged" is not just "still 0"
    return g


def assert_no_effect(g, counter, out=None, out_bits=None):
    assert g.counter == counter, f"counter moved from {counter} to {g.counter}"
    if out is not None:
        assert np.array_equal(as_bits(out), out_bits), "out was modified"


def expect_error(exc, fn, g, out=None):
    counter = g.counter
    bits = as_bits(out).copy() if isinstance(out, np.ndarray) and out.dtype.itemsize in (2, 4, 8) else None
    with pytest.raises(exc):
        fn()
    assert_no_effect(g, counter, out if bits is not None else None, bits)
    # the generator still works and continues from where it was
    h = fastinit.Generator(0)
    h.state = g.state
    assert np.array_equal(g.random(5), h.random(5))


METHODS = {
    "random": lambda g, **kw: g.random(**kw),
    "uniform": lambda g, **kw: g.uniform(-1.0, 2.0, **kw),
    "standard_normal": lambda g, **kw: g.standard_normal(**kw),
    "normal": lambda g, **kw: g.normal(1.0, 2.0, **kw),
    "truncated_normal": lambda g, **kw: g.truncated_normal(0.5, 2.0, -1.0, 3.0, **kw),
}


# ---- out of the wrong kind -------------------------------------------------------------

@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("bad_dtype", [np.int32, np.int16, np.uint16, np.int64, np.complex64,
                                       np.longdouble, np.bool_, ">f4", ">f8", ">f2"])
def test_out_with_unsupported_dtype(method, bad_dtype):
    g = fresh()
    out = np.full(10, 3, dtype=bad_dtype)
    before = out.copy()
    counter = g.counter
    with pytest.raises(TypeError):
        METHODS[method](g, out=out)
    assert g.counter == counter
    assert np.array_equal(out, before) and out.dtype == before.dtype


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("bad_out", [[0.0] * 10, (0.0,) * 10, bytearray(80), 3.0,
                                     memoryview(np.zeros(10))], ids=["list", "tuple", "bytearray",
                                                                     "float", "memoryview"])
def test_out_not_an_ndarray(method, bad_out):
    g = fresh()
    expect_error(TypeError, lambda: METHODS[method](g, out=bad_out), g)
    if isinstance(bad_out, list):
        assert bad_out == [0.0] * 10


def test_out_ndarray_subclass_is_accepted():
    # A subclass of ndarray is an ndarray (e.g. np.memmap, np.matrix-like subclasses).
    class Sub(np.ndarray):
        pass
    out = np.zeros(100, dtype=F32).view(Sub)
    g = fastinit.Generator(1)
    assert g.random(out=out) is out
    assert np.array_equal(out.view(np.ndarray), fastinit.Generator(1).random(100, dtype=F32))


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", dtype_params())
def test_read_only_out(method, dtype):
    g = fresh()
    out = sentinel((4, 5), dtype)
    out.flags.writeable = False
    expect_error(ValueError, lambda: METHODS[method](g, out=out), g, out)
    # a read-only view of a writable array, too
    base = sentinel(20, dtype)
    view = base[::2]
    view.flags.writeable = False
    expect_error(ValueError, lambda: METHODS[method](g, out=view), g, base)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("size", [9, 11, (10, 1), (2, 5), (1, 10), (), 0])
def test_out_shape_mismatch(method, size):
    g = fresh()
    out = sentinel(10, F32)
    expect_error(ValueError, lambda: METHODS[method](g, size=size, out=out), g, out)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("out_dtype,dtype", [
    (F32, F64), (F64, F32), (F16, BF16), (BF16, F16), (F32, "bfloat16"), (BF16, np.float32),
    (F16, ml_dtypes.bfloat16), (F64, "float16"), (F32, np.int32),
])
def test_dtype_disagrees_with_out(method, out_dtype, dtype):
    g = fresh()
    out = sentinel(10, out_dtype)
    expect_error(TypeError, lambda: METHODS[method](g, dtype=dtype, out=out), g, out)


# ---- bad parameters -------------------------------------------------------------------

UNIFORM_BAD = [
    (1.0, 1.0), (2.0, 1.0), (0.0, -0.0), (-0.0, 0.0), (5.0, -5.0),
    (NAN, 1.0), (0.0, NAN), (NAN, NAN), (-INF, 0.0), (0.0, INF), (-INF, INF), (INF, INF),
]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("low,high", UNIFORM_BAD)
def test_uniform_bad_bounds(dtype, low, high):
    g = fresh()
    out = sentinel(100, dtype)
    expect_error(ValueError, lambda: g.uniform(low, high, out=out), g, out)
    expect_error(ValueError, lambda: g.uniform(low, high, size=100, dtype=dtype), g)
    expect_error(ValueError, lambda: g.uniform(low, high, dtype=dtype), g)      # size=None


@pytest.mark.parametrize("dtype,low,high", [
    (F16, 0.0, 65536.0), (F16, -1e5, 0.0), (BF16, 0.0, 3.4e38), (BF16, -1e39, 1.0),
    (F32, 0.0, 1e39), (F32, -3.5e38, 0.0),                        # outside the finite range
    (BF16, 1000.5, 1000.9), (F16, 1e-8, 5e-8), (F32, 1 + 2.0**-25, 1 + 2.0**-24),  # empty
])
def test_uniform_unusable_bounds(dtype, low, high):
    g = fresh()
    out = sentinel(64, dtype)
    expect_error(ValueError, lambda: g.uniform(low, high, out=out), g, out)
    expect_error(ValueError, lambda: g.uniform(low, high, size=(8, 8), dtype=dtype), g)


NORMAL_BAD = [(0.0, -1.0), (0.0, -1e-300), (5.0, -INF), (NAN, 1.0), (0.0, NAN), (INF, 1.0),
              (-INF, 1.0), (0.0, INF), (NAN, -1.0)]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("loc,scale", NORMAL_BAD)
def test_normal_bad_parameters(dtype, loc, scale):
    g = fresh()
    out = sentinel(100, dtype)
    expect_error(ValueError, lambda: g.normal(loc, scale, out=out), g, out)
    expect_error(ValueError, lambda: g.normal(loc, scale, size=100, dtype=dtype), g)
    expect_error(ValueError, lambda: g.normal(loc, scale, dtype=dtype), g)


@pytest.mark.parametrize("dtype,loc,scale", [(F16, 1e5, 1.0), (F16, 0.0, 1e5), (BF16, 1e39, 1.0),
                                             (F32, -1e39, 1.0), (F32, 0.0, 1e39)])
def test_normal_parameters_outside_dtype_range(dtype, loc, scale):
    g = fresh()
    out = sentinel(10, dtype)
    expect_error(ValueError, lambda: g.normal(loc, scale, out=out), g, out)


@pytest.mark.parametrize("dtype", dtype_params())
def test_zero_scale_is_allowed(dtype):
    g = fresh()
    for scale in (0.0, -0.0):
        x = g.normal(2.5, scale, size=1000, dtype=dtype)
        assert np.all(x.astype(np.float64) == 2.5)


@pytest.mark.parametrize("method", list(METHODS))
def test_non_numeric_parameters(method):
    g = fresh()
    if method == "uniform":
        expect_error(TypeError, lambda: g.uniform("a", 1.0, size=3), g)
        expect_error(TypeError, lambda: g.uniform(0.0, None, size=3), g)
    elif method == "normal":
        expect_error(TypeError, lambda: g.normal(0.0, "1", size=3), g)
        expect_error(TypeError, lambda: g.normal([0.0], 1.0, size=3), g)


def test_huge_python_int_parameters():
    # 10**400 cannot become a double; whatever the exception (OverflowError from the
    # conversion), it must change nothing.
    g = fresh()
    out = sentinel(10, F64)
    expect_error((ValueError, OverflowError), lambda: g.uniform(0, 10**400, out=out), g, out)
    expect_error((ValueError, OverflowError), lambda: g.normal(10**400, 1, out=out), g, out)


# ---- bad sizes ------------------------------------------------------------------------

@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("size", [-1, (-1,), (3, -1), [2, -5, 3], np.int64(-2)])
def test_negative_size(method, size):
    g = fresh()
    expect_error(ValueError, lambda: METHODS[method](g, size=size), g)
    expect_error(ValueError, lambda: METHODS[method](g, size=size, dtype=F16), g)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("size", [2.0, "3", (2, 1.5), [None], {"a": 1}])
def test_non_integer_size(method, size):
    g = fresh()
    expect_error(TypeError, lambda: METHODS[method](g, size=size), g)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("size", [2**62, (2**31, 2**31, 4), (1,) * 65])
def test_impossible_size(method, size):
    # too many values or too many dimensions for NumPy: the error comes before any counter
    g = fresh()
    expect_error((ValueError, MemoryError), lambda: METHODS[method](g, size=size), g)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", ["int32", np.complex128, "bogus", object])
def test_unsupported_dtype_without_out(method, dtype):
    g = fresh()
    expect_error(TypeError, lambda: METHODS[method](g, size=4, dtype=dtype), g)


def test_error_precedence_does_not_matter_for_state():
    # several things wrong at once: still nothing changes
    g = fresh()
    out = sentinel(10, F32)
    out.flags.writeable = False
    expect_error((TypeError, ValueError), lambda: g.uniform(2.0, 1.0, size=5, dtype=F64, out=out), g, out)


# ---- zero-size output ------------------------------------------------------------------

@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("size", [0, (0,), (3, 0), (0, 4, 5)])
def test_zero_size_is_a_no_op(method, dtype, size):
    g = fresh()
    counter = g.counter
    x = METHODS[method](g, size=size, dtype=dtype)
    assert isinstance(x, np.ndarray) and x.size == 0 and x.dtype == dtype
    assert x.shape == (size if isinstance(size, tuple) else (size,))
    assert g.counter == counter
    out = np.empty(size, dtype=dtype)
    assert METHODS[method](g, out=out) is out
    assert METHODS[method](g, out=out, size=size) is out
    assert g.counter == counter
    base = sentinel(10, dtype)
    assert METHODS[method](g, out=base[5:5]).size == 0
    assert np.array_equal(as_bits(base), as_bits(sentinel(10, dtype)))
    assert g.counter == counter


# ---- fill_range ------------------------------------------------------------------------

KEY = (1, 2)


@pytest.mark.parametrize("dtype", dtype_params())
def test_fill_range_errors(dtype):
    def check(exc, out, *args):
        bits = as_bits(out).copy() if out.dtype.itemsize in (2, 4, 8) else None
        with pytest.raises(exc):
            fastinit.fill_range(*args)
        if bits is not None:
            assert np.array_equal(as_bits(out), bits)

    base = sentinel((8, 16), dtype)
    check(ValueError, base, "uniform", KEY, 0, 0, base[:, ::2], 0.0, 1.0)       # not C-contiguous
    check(ValueError, base, "uniform", KEY, 0, 0, base.T, 0.0, 1.0)
    ro = sentinel(32, dtype)
    ro.flags.writeable = False
    check(ValueError, ro, "normal", KEY, 0, 0, ro, 0.0, 1.0)                     # read-only
    out = sentinel(32, dtype)
    check(ValueError, out, "uniform", KEY, 0, 0, out, 1.0, 1.0)                  # low >= high
    check(ValueError, out, "uniform", KEY, 0, 0, out, NAN, 1.0)
    check(ValueError, out, "normal", KEY, 0, 0, out, 0.0, -1.0)                  # scale < 0
    check(ValueError, out, "normal", KEY, 0, 0, out, INF, 1.0)
    if dtype != F64:
        check(ValueError, out, "uniform", KEY, 0, 0, out, 0.0, 1e39)              # range
    check(ValueError, out, "uniform", (2**32, 0), 0, 0, out, 0.0, 1.0)            # key word
    check(ValueError, out, "uniform", (0, -1), 0, 0, out, 0.0, 1.0)
    check((OverflowError, ValueError), out, "uniform", KEY, -1, 0, out, 0.0, 1.0)  # counter
    check((OverflowError, ValueError), out, "uniform", KEY, 2**64, 0, out, 0.0, 1.0)
    check((OverflowError, ValueError), out, "uniform", KEY, 0, -1, out, 0.0, 1.0)  # start
    check((KeyError, ValueError), out, "gamma", KEY, 0, 0, out, 0.0, 1.0)          # dist
    check(TypeError, out, "uniform", KEY, 0, 0, list(range(4)), 0.0, 1.0)  # not an array
    ints = np.zeros(8, np.int32)
    check(TypeError, ints, "uniform", KEY, 0, 0, ints, 0.0, 1.0)


def test_fill_range_zero_size():
    out = np.empty(0, dtype=F32)
    assert fastinit.fill_range("normal", KEY, 5, 123, out, 0.0, 1.0) is out


# ---- the engine's settings ---------------------------------------------------------------

def test_bad_settings_change_nothing():
    t, s = fastinit.get_num_threads(), fastinit.get_simd()
    for bad in (0, -1):
        with pytest.raises(ValueError):
            fastinit.set_num_threads(bad)
    with pytest.raises(TypeError):
        fastinit.set_num_threads("2")
    with pytest.raises(ValueError):
        fastinit.set_simd("sse9")
    with pytest.raises(ValueError):
        fastinit.set_simd(None)
    assert fastinit.get_num_threads() == t and fastinit.get_simd() == s


# ---- truncated_normal ------------------------------------------------------------------

TRUNCNORM_BAD = [
    # std <= 0 or not finite
    (0.0, 0.0, -1.0, 1.0), (0.0, -0.0, -1.0, 1.0), (0.0, -1.0, -1.0, 1.0), (0.0, INF, -1.0, 1.0),
    (0.0, -INF, -1.0, 1.0), (0.0, NAN, -1.0, 1.0), (0.0, -1e-300, -1.0, 1.0),
    # mean not finite
    (INF, 1.0, -1.0, 1.0), (-INF, 1.0, -1.0, 1.0), (NAN, 1.0, -1.0, 1.0),
    # a NaN bound
    (0.0, 1.0, NAN, 1.0), (0.0, 1.0, -1.0, NAN), (0.0, 1.0, NAN, NAN), (0.0, 1.0, NAN, INF),
    # a >= b
    (0.0, 1.0, 1.0, 1.0), (0.0, 1.0, 2.0, 1.0), (0.0, 1.0, 0.0, -0.0), (0.0, 1.0, -0.0, 0.0),
    (0.0, 1.0, INF, INF), (0.0, 1.0, -INF, -INF), (0.0, 1.0, INF, -INF), (0.0, 1.0, 3.0, -3.0),
    # several at once
    (NAN, -1.0, 2.0, 1.0),
]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("mean,std,a,b", TRUNCNORM_BAD)
def test_truncated_normal_bad_parameters(dtype, mean, std, a, b):
    g = fresh()
    out = sentinel(100, dtype)
    expect_error(ValueError, lambda: g.truncated_normal(mean, std, a, b, out=out), g, out)
    expect_error(ValueError, lambda: g.truncated_normal(mean, std, a, b, size=100, dtype=dtype), g)
    expect_error(ValueError, lambda: g.truncated_normal(mean, std, a, b, dtype=dtype), g)


@pytest.mark.parametrize("dtype,a,b", [
    (BF16, 1000.5, 1000.9), (F16, 1e-8, 5e-8), (F32, 1 + 2.0**-25, 1 + 2.0**-24),
    (F16, 65505.0, INF), (F16, -INF, -65505.0), (F16, 1e5, 1e6), (BF16, 3.4e38, INF),
    (BF16, -1e39, -3.4e38), (F32, 1e39, INF), (F32, -INF, -3.5e38),
])
def test_truncated_normal_empty_interval(dtype, a, b):
    # no value of the dtype in [a, b]: ValueError, nothing changes
    g = fresh()
    out = sentinel((4, 8), dtype)
    expect_error(ValueError, lambda: g.truncated_normal(0.0, 1.0, a, b, out=out), g, out)
    expect_error(ValueError, lambda: g.truncated_normal(0.0, 1.0, a, b, size=5, dtype=dtype), g)


def test_truncated_normal_non_numeric_and_huge_parameters():
    g = fresh()
    out = sentinel(10, F64)
    expect_error(TypeError, lambda: g.truncated_normal("0", 1.0, -1.0, 1.0, out=out), g, out)
    expect_error(TypeError, lambda: g.truncated_normal(0.0, None, -1.0, 1.0, out=out), g, out)
    expect_error(TypeError, lambda: g.truncated_normal(0.0, 1.0, [-1.0], 1.0, out=out), g, out)
    expect_error(TypeError, lambda: g.truncated_normal(0.0, 1.0, -1.0, "2", out=out), g, out)
    expect_error((ValueError, OverflowError),
                 lambda: g.truncated_normal(0.0, 1.0, -10**400, 1.0, out=out), g, out)
    expect_error((ValueError, OverflowError),
                 lambda: g.truncated_normal(0.0, 10**400, -1.0, 1.0, out=out), g, out)


# ---- bernoulli and sparse_mask -----------------------------------------------------------
# Their outputs may be bool or uint8, so "out unchanged" compares raw bytes here.

MASK_OUT_DTYPES = [np.bool_, np.uint8, F16, BF16, F32, F64]


def raw(a):
    return np.ascontiguousarray(a).view(np.uint8).copy()


def expect_mask_error(exc, fn, g, out=None):
    counter = g.counter
    before = raw(out) if isinstance(out, np.ndarray) else None
    with pytest.raises(exc):
        fn()
    assert g.counter == counter, f"counter moved from {counter} to {g.counter}"
    if before is not None:
        assert np.array_equal(raw(out), before), "out was modified"
    h = fastinit.Generator(0)
    h.state = g.state
    assert np.array_equal(g.random(5), h.random(5))


def mask_out(shape, dtype):
    a = np.empty(shape, dtype=dtype)
    a.view(np.uint8)[...] = 0x5A if np.dtype(dtype).itemsize == 1 else 0x3C
    return a


BAD_P = [-0.1, 1.1, -1e-300, 1 + 2.0**-52, NAN, INF, -INF, 2, -1]


@pytest.mark.parametrize("dtype", [F16, BF16, F32, F64])
@pytest.mark.parametrize("p", BAD_P)
def test_bernoulli_bad_p(dtype, p):
    g = fresh()
    out = mask_out(50, dtype)
    expect_mask_error(ValueError, lambda: g.bernoulli(p, out=out), g, out)
    expect_mask_error(ValueError, lambda: g.bernoulli(p, size=50, dtype=dtype), g)
    expect_mask_error(ValueError, lambda: g.bernoulli(p, dtype=dtype), g)


# bool and uint8 (the default dtype) in a child interpreter: the error crashes it (below)
BAD_P_BYTES = [
    "g.bernoulli(1.5)",
    "g.bernoulli(-0.1, size=5)",
    "g.bernoulli(float('nan'), size=(2, 3), dtype=np.uint8)",
    "g.bernoulli(2, out=out)",
    "fastinit.fill_range('bernoulli', (1, 2), 0, 0, out, 1.5)",
]
BAD_P_SCRIPT = """
import numpy as np, fastinit
g = fastinit.Generator(77)
g.random(10)
counter = g.counter
out = np.full(16, 0x5A, dtype=np.uint8).view(np.bool_)
try:
    {call}
except ValueError:
    print("ValueError")
print("counter", g.counter == counter, "out", bool((out.view(np.uint8) == 0x5A).all()))
"""


@pytest.mark.parametrize("call", BAD_P_BYTES)
def test_bernoulli_bad_p_bool_and_uint8(call):
    r = subprocess.run([sys.executable, "-c", BAD_P_SCRIPT.format(call=call)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"exit status {r.returncode}: {r.stderr[-500:]}"
    assert r.stdout.split() == ["ValueError", "counter", "True", "out", "True"], r.stdout


def test_bernoulli_bad_arguments():
    g = fresh()
    out = mask_out((4, 5), np.bool_)
    for p in (None, "0.5", [0.5], np.array([0.5, 0.5])):
        expect_mask_error(TypeError, lambda: g.bernoulli(p, out=out), g, out)
    for bad in (np.int8, np.int32, np.uint16, np.int64, np.complex64, ">f4", ">f8", object):
        o = np.zeros(10, dtype=bad)
        before = o.copy()
        expect_mask_error(TypeError, lambda: g.bernoulli(0.5, out=o), g)
        assert np.array_equal(o, before)
        expect_mask_error(TypeError, lambda: g.bernoulli(0.5, size=10, dtype=bad), g)
    expect_mask_error(TypeError, lambda: g.bernoulli(0.5, size=3, dtype="bogus"), g)
    # dtype disagrees with out
    for out_dt, dt in [(np.bool_, np.uint8), (np.uint8, np.bool_), (F32, F64), (np.bool_, F16),
                       (BF16, F16)]:
        o = mask_out(20, out_dt)
        expect_mask_error(TypeError, lambda: g.bernoulli(0.5, dtype=dt, out=o), g, o)
    # read-only, wrong shape, not an ndarray, bad sizes
    ro = mask_out(20, np.bool_)
    ro.flags.writeable = False
    expect_mask_error(ValueError, lambda: g.bernoulli(0.5, out=ro), g, ro)
    o = mask_out(20, np.uint8)
    expect_mask_error(ValueError, lambda: g.bernoulli(0.5, size=21, out=o), g, o)
    expect_mask_error(ValueError, lambda: g.bernoulli(0.5, size=(4, 5), out=o), g, o)
    expect_mask_error(TypeError, lambda: g.bernoulli(0.5, out=[False] * 4), g)
    expect_mask_error(TypeError, lambda: g.bernoulli(0.5, out=bytearray(8)), g)
    expect_mask_error(ValueError, lambda: g.bernoulli(0.5, size=-1), g)
    expect_mask_error(ValueError, lambda: g.bernoulli(0.5, size=(3, -2)), g)
    expect_mask_error(TypeError, lambda: g.bernoulli(0.5, size=2.5), g)


@pytest.mark.parametrize("dtype", MASK_OUT_DTYPES)
def test_bernoulli_zero_size_is_a_no_op(dtype):
    g = fresh()
    counter = g.counter
    x = g.bernoulli(0.5, size=(3, 0), dtype=dtype)
    assert x.shape == (3, 0) and x.dtype == dtype
    assert g.bernoulli(0.5, out=np.empty(0, dtype=dtype)).size == 0
    assert g.counter == counter


SPARSE_BAD = [
    # (shape, kwargs, exception)
    ((10, 5), {}, ValueError),                                  # neither density nor k
    ((10, 5), {"density": 0.5, "k": 3}, ValueError),            # both
    ((10, 5), {"k": -1}, ValueError),
    ((10, 5), {"k": 11}, ValueError),                           # k > n (n = 10 along axis 0)
    ((10, 5), {"k": 6, "axis": 1}, ValueError),                 # k > n (n = 5 along axis 1)
    ((10, 5), {"k": 2.5}, ValueError),
    ((10, 5), {"k": "3"}, ValueError),
    ((10, 5), {"density": -0.1}, ValueError),
    ((10, 5), {"density": 1.1}, ValueError),
    ((10, 5), {"density": NAN}, ValueError),
    ((10, 5), {"density": INF}, ValueError),
    ((10, 5), {"k": 1, "axis": 2}, ValueError),
    ((10, 5), {"k": 1, "axis": -3}, ValueError),
    ((10, 5), {"k": 1, "axis": 1.0}, ValueError),
    ((10, 5), {"k": 1, "axis": None}, ValueError),
    ((), {"k": 0}, ValueError),                                 # no dimension
    ((10, -5), {"k": 1}, ValueError),
    ((10, 5), {"k": 1, "dtype": np.int32}, TypeError),
    ((10, 5), {"k": 1, "dtype": "bogus"}, TypeError),
    ((10, 5), {"k": 1, "dtype": np.complex64}, TypeError),
    ((10, 2.5), {"k": 1}, TypeError),
    ("10", {"k": 1}, TypeError),
]


@pytest.mark.parametrize("shape,kwargs,exc", SPARSE_BAD,
                         ids=[f"{s}-{kw}" for s, kw, _ in SPARSE_BAD])
def test_sparse_mask_bad_arguments(shape, kwargs, exc):
    g = fresh()
    expect_mask_error(exc, lambda: g.sparse_mask(shape, **kwargs), g)
    # and with an out of the right shape, which must stay untouched
    if isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape) and shape:
        out = mask_out(shape, np.bool_)
        kw = {key: v for key, v in kwargs.items() if key != "dtype"}
        if "dtype" not in kwargs:
            expect_mask_error(exc, lambda: g.sparse_mask(shape, out=out, **kw), g, out)


@pytest.mark.parametrize("dtype", MASK_OUT_DTYPES)
def test_sparse_mask_bad_out(dtype):
    g = fresh()
    out = mask_out((10, 5), dtype)
    # shape mismatch
    expect_mask_error(ValueError, lambda: g.sparse_mask((5, 10), k=1, out=out), g, out)
    expect_mask_error(ValueError, lambda: g.sparse_mask((10, 5, 1), k=1, out=out), g, out)
    # dtype disagrees
    other = np.uint8 if np.dtype(dtype) != np.uint8 else np.bool_
    expect_mask_error(TypeError, lambda: g.sparse_mask((10, 5), k=1, dtype=other, out=out), g, out)
    # read-only, and a read-only view
    out.flags.writeable = False
    expect_mask_error(ValueError, lambda: g.sparse_mask((10, 5), k=1, out=out), g, out)
    base = mask_out((10, 10), dtype)
    view = base[:, ::2]
    view.flags.writeable = False
    expect_mask_error(ValueError, lambda: g.sparse_mask((10, 5), k=1, out=view), g, base)
    # unsupported out dtypes, and not an ndarray
    for bad in (np.int32, np.int8, np.uint16, ">f4"):
        o = np.zeros((10, 5), dtype=bad)
        expect_mask_error(TypeError, lambda: g.sparse_mask((10, 5), k=1, out=o), g, o)
    expect_mask_error(TypeError, lambda: g.sparse_mask((10, 5), k=1, out=[[0] * 5] * 10), g)
    # valid arguments but an invalid k for out's shape
    o = mask_out((10, 5), dtype)
    expect_mask_error(ValueError, lambda: g.sparse_mask((10, 5), k=6, axis=1, out=o), g, o)


def test_sparse_mask_empty_shapes():
    # zero-size masks: nothing to choose; k must still lie in [0, n]
    g = fresh()
    counter = g.counter
    m = g.sparse_mask((0, 5), k=0, axis=0)
    assert m.shape == (0, 5) and m.dtype == np.bool_
    m = g.sparse_mask((5, 0), k=3, axis=0)          # five rows, but no slices
    assert m.shape == (5, 0)
    assert g.counter == counter
    expect_mask_error(ValueError, lambda: g.sparse_mask((0, 5), k=1, axis=0), g)


# ---- fill_range with the new distributions -------------------------------------------------

def test_fill_range_errors_new_distributions():
    def check(exc, out, *args):
        before = raw(out) if isinstance(out, np.ndarray) else None
        with pytest.raises(exc):
            fastinit.fill_range(*args)
        if before is not None:
            assert np.array_equal(raw(out), before)

    out = sentinel(32, F32)
    check(TypeError, out, "truncated_normal", KEY, 0, 0, out, 0.0, 1.0)           # 2 of 4 params
    check(TypeError, out, "truncated_normal", KEY, 0, 0, out, 0.0, 1.0, -1.0)
    check(TypeError, out, "truncated_normal", KEY, 0, 0, out, 0.0, 1.0, -1.0, 1.0, 5.0)
    check(ValueError, out, "truncated_normal", KEY, 0, 0, out, 0.0, 1.0, 1.0, -1.0)   # a > b
    check(ValueError, out, "truncated_normal", KEY, 0, 0, out, 0.0, 0.0, -1.0, 1.0)   # std 0
    check(ValueError, out, "truncated_normal", KEY, 0, 0, out, 0.0, 1.0, NAN, 1.0)
    check(ValueError, out, "truncated_normal", KEY, 0, 0, out, INF, 1.0, -1.0, 1.0)
    check(ValueError, out, "truncated_normal", KEY, 0, 0, out, 0.0, 1.0, 1e39, INF)    # empty
    b = mask_out(32, np.bool_)
    check(TypeError, b, "truncated_normal", KEY, 0, 0, b, 0.0, 1.0, -1.0, 1.0)   # bool out
    check(TypeError, b, "bernoulli", KEY, 0, 0, b)                               # no p
    check(TypeError, b, "bernoulli", KEY, 0, 0, b, 0.5, 0.5)
    check(ValueError, out, "bernoulli", KEY, 0, 0, out, -0.5)
    ints = np.zeros(8, np.int32)
    check(TypeError, ints, "bernoulli", KEY, 0, 0, ints, 0.5)
    base = mask_out((8, 16), np.uint8)
    check(ValueError, base, "bernoulli", KEY, 0, 0, base[:, ::2], 0.5)          # not C-contiguous
    check(ValueError, base, "bernoulli", KEY, 0, 0, base.T, 0.5)
    fb = sentinel((8, 16), BF16)
    check(ValueError, fb, "truncated_normal", KEY, 0, 0, fb.T, 0.0, 1.0, -1.0, 1.0)
    ro = mask_out(16, np.bool_)
    ro.flags.writeable = False
    check(ValueError, ro, "bernoulli", KEY, 0, 0, ro, 0.5)
    check(ValueError, b, "sparse_mask", KEY, 0, 0, b, 0.5)                      # not a fill dist


# ---- the Python layer: zero-size tensors ----------------------------------------------------
# An initializer asked for a zero-size tensor returns an empty array of that shape (or its
# out=, untouched) and leaves its generator where it was, whole or as a shard (index=): the
# whole call would advance it by 0 blocks.

ZERO_INITS = {
    "Orthogonal": lambda: fastinit.Orthogonal(seed=1),
    "orthogonal": lambda: fastinit.orthogonal(2.0, seed=1),
    "Orthogonal-axis0": lambda: fastinit.Orthogonal(column_axis=0, seed=1),
    "GlorotUniform": lambda: fastinit.GlorotUniform(seed=1),
    "he_normal": lambda: fastinit.he_normal(seed=1),
    "VarianceScaling-geo": lambda: fastinit.VarianceScaling(mode="fan_geo_avg", seed=1),
    "TruncatedNormal": lambda: fastinit.TruncatedNormal(seed=1),
    "MartensSparse": lambda: fastinit.defaults.MartensSparse(seed=1),
    "Identity": lambda: fastinit.Identity(),
    "Constant": lambda: fastinit.Constant(2.0),
}
ZERO_INIT_SHAPES = [(0, 3), (3, 0), (0, 0), (0, 2, 3), (2, 0, 3)]
ZERO_DELTA_SHAPES = [(0, 3, 4), (3, 0, 4), (3, 0, 0), (0, 0, 3, 4), (3, 3, 0, 0), (3, 3, 0, 4)]


def _zero_init_calls(init, shape, g):
    """init on a zero-size shape every way it is called; each returns an empty array."""
    yield init(shape, generator=g)
    yield init(shape, generator=g, index=())
    yield init(shape, generator=g, index=np.s_[..., 0:0])
    out = np.empty(shape, np.float32)
    assert init(shape, generator=g, out=out) is out
    yield out
    out = np.empty(np.empty(shape)[0:0].shape, np.float32)
    assert init(shape, generator=g, out=out, index=np.s_[0:0]) is out
    yield out


@pytest.mark.parametrize("name, shape", [pytest.param(n, s, id=f"{n}-{s}")
                                         for n in ZERO_INITS for s in ZERO_INIT_SHAPES
                                         if n != "Identity" or len(s) == 2])
def test_initializer_zero_size_is_a_no_op(name, shape):
    init = ZERO_INITS[name]()
    g = fresh()
    counter = g.counter
    whole = init(shape)
    assert whole.shape == shape and whole.dtype == np.float32
    for x in _zero_init_calls(init, shape, g):
        assert x.size == 0
    assert g.counter == counter


@pytest.mark.parametrize("shape", ZERO_DELTA_SHAPES, ids=str)
@pytest.mark.parametrize("make", [lambda: fastinit.DeltaOrthogonal(seed=1),
                                  lambda: fastinit.delta_orthogonal(2.0, seed=1)],
                         ids=["DeltaOrthogonal", "delta_orthogonal"])
def test_delta_orthogonal_zero_size_is_a_no_op(make, shape):
    """A kernel with a zero dim has no centre to put its matrix at: nothing is made, and
    with index= the generator does not move either (it used to advance by the matrix of the
    last two dims, unlike the same call without index=)."""
    init = make()
    assert init(shape).shape == shape
    g = fresh()
    counter = g.counter
    for x in _zero_init_calls(init, shape, g):
        assert x.size == 0
    assert g.counter == counter


def test_unseeded_initializer_zero_size_leaves_the_default(restore_default_generator):
    g = fastinit.manual_seed(3)
    init = fastinit.Orthogonal()                # draws its own seed from the default, once
    counter = g.counter
    for shape in ZERO_INIT_SHAPES:
        assert init(shape).shape == shape
        assert init(shape, index=()).shape == shape
    assert fastinit.default_generator() is g and g.counter == counter


# ---- the Python layer: bools where numbers belong ----------------------------------------
# A bool is refused wherever a number is expected: TypeError where the number is a real
# (bounds, stds, gains, scales; and shapes, as NumPy and torch refuse them), ValueError where it
# is a count, index, axis or seed (the message says "must be ... an int"), and ValueError
# where torch defines the error (calculate_gain's param, and kaiming's a through it).

def _arr(shape=(4, 6)):
    return sentinel(shape, F32)


BOOL_TYPE_ERRORS = {
    "uniform_-a": lambda b: fastinit.uniform_(_arr(), b, 2.0),
    "normal_-std": lambda b: fastinit.normal_(_arr(), 0.0, b),
    "trunc_normal_-a": lambda b: fastinit.trunc_normal_(_arr(), a=b, b=3.0),
    "constant_-val": lambda b: fastinit.constant_(_arr(), b),
    "xavier_uniform_-gain": lambda b: fastinit.xavier_uniform_(_arr(), b),
    "orthogonal_-gain": lambda b: fastinit.orthogonal_(_arr(), b),
    "sparse_-sparsity": lambda b: fastinit.sparse_(_arr(), b),
    "sparse_-std": lambda b: fastinit.sparse_(_arr(), 0.5, b),
    "generator": lambda b: fastinit.normal_(_arr(), generator=b),
    "full_shape": lambda b: fastinit.normal_(_arr((1, 6)), full_shape=(b, 6), index=np.s_[:1]),
    "Constant-value": lambda b: fastinit.Constant(b),
    "RandomUniform-minval": lambda b: fastinit.RandomUniform(b, 2.0),
    "RandomNormal-stddev": lambda b: fastinit.RandomNormal(0.0, b),
    "TruncatedNormal-lower": lambda b: fastinit.TruncatedNormal(lower=b, upper=3.0),
    "VarianceScaling-scale": lambda b: fastinit.VarianceScaling(b),
    "Orthogonal-gain": lambda b: fastinit.Orthogonal(b),
    "Identity-gain": lambda b: fastinit.Identity(b),
    "uniform-scale": lambda b: fastinit.uniform(b),
    "initializer-shape": lambda b: fastinit.GlorotUniform(seed=0)((b, 4)),
    "initializer-scalar-shape": lambda b: fastinit.RandomNormal(seed=0)(b),
    "initializer-generator": lambda b: fastinit.GlorotUniform(seed=0)((3, 4), generator=b),
    "martens_sparse_-std": lambda b: fastinit.defaults.martens_sparse_(_arr(), 2, b),
    "DepthScaledNormal-stddev": lambda b: fastinit.defaults.DepthScaledNormal(b),
}
BOOL_VALUE_ERRORS = {
    "dirac_-groups": lambda b: fastinit.dirac_(_arr((4, 4, 3)), b),
    "kaiming_uniform_-a": lambda b: fastinit.kaiming_uniform_(_arr(), b),
    "calculate_gain-param": lambda b: fastinit.calculate_gain("leaky_relu", b),
    "seed": lambda b: fastinit.GlorotUniform(seed=b),
    "VarianceScaling-in_axis": lambda b: fastinit.VarianceScaling(in_axis=b),
    "Orthogonal-column_axis": lambda b: fastinit.Orthogonal(column_axis=b),
    "martens_sparse_-k": lambda b: fastinit.defaults.martens_sparse_(_arr(), b),
    "depth_scaled_normal_-num_layers": lambda b: fastinit.defaults.depth_scaled_normal_(
        _arr(), 0.02, b),
    "torch_embedding_-padding_idx": lambda b: fastinit.defaults.torch_embedding_(_arr(), b),
}


@pytest.mark.parametrize("b", [True, False, np.True_, np.False_], ids=repr)
@pytest.mark.parametrize("call, error", [pytest.param(c, TypeError, id=n) for n, c in BOOL_TYPE_ERRORS.items()]
                         + [pytest.param(c, ValueError, id=n) for n, c in BOOL_VALUE_ERRORS.items()])
def test_bool_where_a_number_belongs(call, error, b, restore_default_generator):
    """A bool for a real or a shape is a TypeError; for an int argument (seeds, counts,
    axes) a ValueError, as the older tests of those arguments require. Nothing is drawn."""
    g = fastinit.manual_seed(1)
    with pytest.raises(error):
        call(b)
    assert g.counter == 0


def test_bool_in_a_shape_leaves_out_alone():
    out = sentinel((1, 4), F32)
    bits = as_bits(out).copy()
    g = fresh()
    for shape in [(True, 4), True, (np.True_, 4)]:
        expect_error(TypeError, lambda: fastinit.he_normal()(shape, out=out, generator=g), g,
                     out)
    assert np.array_equal(as_bits(out), bits)
