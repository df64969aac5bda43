"""Bad input raises, and changes nothing: the out array keeps its bits and the Generator's
counter does not move."""
import math

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
        fastinit.set_simd("neon")
    with pytest.raises(ValueError):
        fastinit.set_simd(None)
    assert fastinit.get_num_threads() == t and fastinit.get_simd() == s
