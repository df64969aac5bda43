"""Bad input to the compiled layer (fastinit._core) raises a clear exception, writes nothing
into `out` and leaves the Generator's counter where it was:

- sizes and counters that would overflow 64 bits (element counts, block counts, counters,
  fill_range's counter and start, sparse-mask slice numbers);
- outputs whose elements share memory (zero or overlapping strides);
- parameters that are not real numbers: bools, complex numbers, ints past the float64 range;
- bools where an int belongs (sizes, shapes, k, axis, counters, key words);

and that _core.pyi, the stub of the compiled module, matches it.

Exception classes: ValueError for a value out of range (sizes, counters, starts, overlapping
outputs, 10**400), TypeError for a value of the wrong kind (a bool or complex where a real
or an int belongs), OverflowError only for a Generator whose 2**64 counters are used up
(the state of the Generator, not the call, is what is out of range). A non-integral `k` or
`axis` of sparse_mask (2.0) keeps the ValueError it always had, as the Python layer's counts
and axes do ("must be an int"); a bool there is a TypeError, as bools are everywhere.
"""
import ast
import inspect
import math
import pathlib
import types
from fractions import Fraction

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import fastinit
from fastinit import _core
from _util import BF16, F16, F32, F64, as_bits, blocks_for, gen_at, sentinel

KEY = (0x12345678, 0x9ABCDEF0)
U64 = 2**64


def fresh(counter=None):
    g = fastinit.Generator(77)
    if counter is None:
        g.random(10)        # a non-zero counter, so "unchanged" is not just "still 0"
    else:
        g.state = {"bit_generator": "Philox4x32-10", "key": g.key, "counter": counter}
    return g


def raw(a):
    """The bytes of a buffer (the base of a view), to see that nothing was written."""
    return np.frombuffer(a.tobytes(), np.uint8).copy()


def expect(exc, fn, g=None, buf=None, words=()):
    """fn() raises exc, whose message holds every string of `words`; buf's bytes and g's
    counter are unchanged, and g goes on from where it was."""
    before = raw(buf) if buf is not None else None
    counter = g.counter if g is not None else None
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} not in the message {msg!r}"
    if buf is not None:
        assert np.array_equal(raw(buf), before), "out was written"
    if g is not None:
        assert g.counter == counter, f"the counter moved from {counter} to {g.counter}"
        h = gen_at(g.key, g.counter)
        if g.counter <= U64 - 1 - 16:
            assert np.array_equal(as_bits(g.random(5)), as_bits(h.random(5)))
    return msg


FILLS = {
    "random": lambda g, **kw: g.random(**kw),
    "uniform": lambda g, **kw: g.uniform(-1.0, 2.0, **kw),
    "standard_normal": lambda g, **kw: g.standard_normal(**kw),
    "normal": lambda g, **kw: g.normal(1.0, 2.0, **kw),
    "truncated_normal": lambda g, **kw: g.truncated_normal(0.5, 2.0, -1.0, 3.0, **kw),
    "bernoulli": lambda g, **kw: g.bernoulli(0.3, **kw),
}


def mask_call(g, size=None, **kw):
    return g.sparse_mask(size, k=1, axis=-1, **kw)


ALL_CALLS = dict(FILLS, sparse_mask=mask_call)


# ---- a. 64-bit element counts, block counts and counters --------------------------------

HUGE_SHAPES = [(2**32, 2**32), (2**33, 2**31), (2**63 - 1, 3), (2**22, 2**22, 2**22)]


@pytest.mark.parametrize("shape", HUGE_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(ALL_CALLS))
def test_index_on_a_full_shape_of_2_64_elements_or_more(name, shape):
    """The full shape's element count used to wrap in uint64 (and the Generator advanced by
    the blocks of the wrapped count: 0 for 2**32 x 2**32)."""
    g = fresh()
    idx = (0,) * (len(shape) - 1) + (slice(0, 4),)
    out = sentinel(4, F32)
    for kw in ({}, {"out": out}):
        words = (("2**32", "shape=") if name == "sparse_mask" and shape[-1] >= 2**32 else
                 ("too large", str(shape[0])))      # a mask's slices are shorter than 2**32
        expect(ValueError, lambda: ALL_CALLS[name](g, size=shape, index=idx, **kw), g, out,
               words=words)


def test_a_zero_dim_makes_a_huge_shape_empty():
    """A shape with a zero dim has 0 elements, whatever the others: nothing to refuse."""
    g = fresh()
    c = g.counter
    a = g.random(size=(2**40, 2**40, 0, 2**40), index=np.s_[:2, :3])
    assert a.shape == (2, 3, 0, 2**40) and g.counter == c


@pytest.mark.parametrize("shape", [(2**63,), (2**64,), (3, 2**63), (2**70, 0)], ids=str)
def test_dimensions_past_2_63_are_refused(shape):
    """NumPy's largest dimension is 2**63 - 1 (npy_intp); the index= planner stores starts
    and counts in int64."""
    g = fresh()
    out = sentinel(2, F64)
    idx = (0,) * (len(shape) - 1) + (slice(0, 2),) if shape[-1] else ()
    expect(ValueError, lambda: g.random(size=shape, index=idx, out=None if not shape[-1] else out),
           g, out, words=("size", "2**63"))
    expect(ValueError, lambda: g.random(size=shape), g, words=("size",))
    expect(ValueError, lambda: _core.plan_index(shape, idx), words=("shape", "2**63"))


def test_plain_size_too_large_is_a_value_error():
    """size= without index= allocates: NumPy's own ValueError ("array is too big"), named."""
    g = fresh()
    for shape in [(2**40, 2**40), (2**32, 2**32), (2**62, 4)]:
        expect(ValueError, lambda: g.random(size=shape), g, words=("size=", str(shape[0])))
        expect(ValueError, lambda: g.sparse_mask(shape, k=0), g, words=("shape=",))


def test_plan_index_refuses_2_64_elements():
    for shape in [(2**32, 2**32), (2**63 - 1, 2, 2)]:
        expect(ValueError, lambda: _core.plan_index(shape, 0), words=("shape=", "too large"))
    block, starts, steps, counts, int_axes = _core.plan_index((2**63 - 1, 2), np.s_[-1])
    assert block == (2,) and starts == [2**63 - 2, 0] and counts == [1, 2]


# The largest full shapes there are: 2**64 - 2 and 2**64 - 1 elements. Their block counts
# (past 2**64 - 64, where the C sum n + per_group - 1 wraps) are computed exactly.
NEAR_2_64 = [((2**63 - 1, 2), U64 - 2), ((3, 6148914691236517205), U64 - 1)]


@pytest.mark.parametrize("shape, n", NEAR_2_64, ids=["2**64-2", "2**64-1"])
@pytest.mark.parametrize("dtype", [F32, F64, BF16], ids=str)
def test_index_near_2_64_elements_is_exact(shape, n, dtype):
    assert math.prod(shape) == n
    g = gen_at(KEY, 32)
    a = g.uniform(-1.0, 2.0, size=shape, dtype=dtype, index=np.s_[-1, -2:])
    assert g.counter - 32 == blocks_for(dtype, n)        # ceil(n / per group) * 16
    assert g.counter - 32 in (2**62, 2**63)
    # the same values as the range machinery makes for flat indices n - 2, n - 1
    want = _core.fill_range("uniform", KEY, 32, n - 2, np.empty(2, dtype), -1.0, 2.0)
    assert np.array_equal(as_bits(a), as_bits(want))
    # and a call past the last counter is refused before anything is written
    g = gen_at(KEY, U64 - blocks_for(dtype, n))
    out = sentinel(2, dtype)
    expect(OverflowError, lambda: g.uniform(-1.0, 2.0, size=shape, out=out, index=np.s_[-1, -2:]),
           g, out, words=("used up",))


def test_sparse_mask_slice_count_past_2_64():
    """ceil(slices / 16) * 16 counters: 2**64 - 2 slices need 2**64, more than there are."""
    g = fresh()
    out = np.full((2, 1), 0x5A, np.uint8).view(np.bool_)
    expect(ValueError, lambda: g.sparse_mask((2**63 - 1, 2, 1), k=1, axis=2, index=np.s_[0],
                                             out=out), g, out, words=("slices", "2**64"))


def test_sparse_mask_slice_numbers_near_2_63():
    """The last slices of a huge mask: stream0 arithmetic modulo 2**64 gives their own
    counters (slice j of the call is block counter + j)."""
    shape = (2**62 - 1, 2, 2)                    # 2**63 - 2 slices, 2**64 - 4 elements
    g = gen_at(KEY, 0)
    a = g.sparse_mask(shape, k=1, axis=2, index=np.s_[-1])
    assert g.counter == 2**63 and a.sum() == 2
    h = gen_at(KEY, 0)
    b = h.sparse_mask(shape, k=1, axis=2, index=np.s_[-1, ::-1])[::-1]
    assert np.array_equal(a, b)
    # slices 2**63 - 4 and 2**63 - 3 of a (2**63 - 1, 2) mask, made another way
    for i in (0, 1):
        h = gen_at(KEY, 0)
        c = h.sparse_mask((2**63 - 1, 2), k=1, axis=1, index=np.s_[2**63 - 4 + i])
        assert h.counter == 2**63 and np.array_equal(c, a[i])


def test_sparse_mask_block_buffer_fails_before_the_stream_moves():
    """A block of long slices makes them whole first; a buffer too large to allocate fails
    before the Generator moves (it used to advance first)."""
    g = fresh()
    out = np.full((1, 2**20), 0x5A, np.uint8).view(np.bool_)
    expect((MemoryError, ValueError),
           lambda: g.sparse_mask((2**32 - 1, 2**20), k=1, axis=0, index=np.s_[0:1], out=out),
           g, out)


@pytest.mark.parametrize("name, kw, blocks", [
    ("random", dict(size=65, dtype=F32), 32),
    ("random", dict(size=100, dtype=F32, index=np.s_[:4]), 32),
    ("normal", dict(size=33, dtype=F64), 32),
    ("bernoulli", dict(size=65), 32),
    ("sparse_mask", dict(size=(17, 3)), 32),
    ("sparse_mask", dict(size=(17, 3), index=np.s_[:2]), 32),
])
def test_used_up_counters_raise_before_anything_is_written(name, kw, blocks):
    g = fresh(counter=U64 - 16)
    shape = np.empty(kw["size"])[kw.get("index", ())].shape
    dt = kw.get("dtype", np.bool_ if name in ("bernoulli", "sparse_mask") else F64)
    out = np.full(shape, 0x5A, np.uint8).view(np.bool_) if dt == np.bool_ else sentinel(shape, dt)
    kw = dict(kw, out=out)
    kw.pop("dtype", None)
    msg = expect(OverflowError, lambda: ALL_CALLS[name](g, **kw), g, out,
                 words=("used up", str(blocks), str(U64 - 16)))
    assert "remain" in msg


def test_the_last_counter():
    """A call may take counters up to 2**64 - 1, the largest value the counter holds; then
    only empty calls are possible."""
    g = fresh(counter=U64 - 17)
    g.random(size=64, dtype=F32)
    assert g.counter == U64 - 1
    out = sentinel(1, F32)
    expect(OverflowError, lambda: g.random(out=out), g, out, words=("used up",))
    assert g.random(size=0).size == 0 and g.counter == U64 - 1


@pytest.mark.parametrize("counter, start, exc, words", [
    (True, 0, TypeError, ("counter", "bool")),
    (np.True_, 0, TypeError, ("counter", "bool")),
    (1.0, 0, TypeError, ("counter", "float")),
    ("0", 0, TypeError, ("counter",)),
    (-1, 0, ValueError, ("counter=-1",)),
    (U64, 0, ValueError, ("counter=18446744073709551616",)),
    (0, False, TypeError, ("start", "bool")),
    (0, 2.0, TypeError, ("start", "float")),
    (0, -1, ValueError, ("start=-1",)),
    (0, U64, ValueError, ("start=18446744073709551616",)),
    (0, U64 - 2, ValueError, ("start", "out.size")),        # start + 3 > 2**64
    (U64 - 16, 0, ValueError, ("counter=18446744073709551600",)),  # 65 float32: 32 blocks
    (U64 - 32, 2**40, ValueError, ("counter",)),
])
def test_fill_range_counter_and_start(counter, start, exc, words):
    out = sentinel(3 if start == U64 - 2 else 65, F32)
    expect(exc, lambda: _core.fill_range("uniform", KEY, counter, start, out, 0.0, 1.0),
           buf=out, words=words)


def test_fill_range_at_the_ends_of_the_ranges():
    # start + out.size == 2**64 and counter + blocks == 2**64 are the largest there are
    a = _core.fill_range("normal", KEY, 0, U64 - 3, sentinel(3, F32), 0.0, 1.0)
    assert np.isfinite(a).all()
    a = _core.fill_range("uniform", KEY, U64 - 32, 0, sentinel(65, F32), 0.0, 1.0)
    assert ((a >= 0) & (a < 1)).all()
    g = gen_at(KEY, U64 - 48)
    assert np.array_equal(as_bits(g.uniform(0.0, 1.0, size=65, dtype=F32)[:64]),
                          as_bits(_core.fill_range("uniform", KEY, U64 - 48, 0,
                                                   np.empty(64, F32), 0.0, 1.0)))


@pytest.mark.parametrize("key, exc", [((True, 0), TypeError), ((0, np.False_), TypeError),
                                      ((1.0, 0), TypeError), ((1, 2, 3), ValueError),
                                      ((1,), ValueError), (5, TypeError)], ids=str)
def test_fill_range_key(key, exc):
    out = sentinel(8, F64)
    expect(exc, lambda: _core.fill_range("uniform", key, 0, 0, out, 0.0, 1.0), buf=out,
           words=("key",))


def test_state_and_philox_refuse_bools():
    g = fresh()
    for state in [{"bit_generator": "Philox4x32-10", "key": (1, 2), "counter": True},
                  {"bit_generator": "Philox4x32-10", "key": (True, 2), "counter": 0},
                  {"bit_generator": "Philox4x32-10", "key": (1, 2), "counter": 2.0}]:
        expect(TypeError, lambda: setattr(g, "state", state), g)
    expect(TypeError, lambda: fastinit.philox4x32((0, True, 0, 0), (0, 0)), words=("counter",))
    expect(TypeError, lambda: fastinit.philox4x32((0, 0, 0, 0), (np.True_, 0)), words=("key",))
    expect(TypeError, lambda: g.spawn(True), g, words=("n_children", "bool"))


# ---- b. outputs whose elements share memory ----------------------------------------------

def _base(n, dtype):
    """A buffer of sentinel bytes (0x5A for 1-byte dtypes)."""
    dt = np.dtype(dtype)
    return np.full(n, 0x5A, np.uint8).view(dt) if dt.itemsize == 1 else sentinel(n, dt)


def overlapping_outs(dtype):
    """(what, base, view): writable views of base whose elements share memory."""
    it = np.dtype(dtype).itemsize
    b = _base(200000 * 4 + 8, dtype)
    yield "rows-overlap", b, as_strided(b, (200000, 4), (it, it))
    b = _base(4000, dtype)
    yield "zero-stride", b, as_strided(b, (1000, 3), (it, 0))
    b = _base(64, dtype)
    bt = np.broadcast_to(b[:4], (5, 4))                  # read-only: rebuilt writable
    yield "broadcast", b, as_strided(b, bt.shape, bt.strides)
    b = _base(64, dtype)
    yield "negative-overlap", b, as_strided(b[40:], (6, 4), (-2 * it, it))
    if it > 1:
        b = _base(64, dtype)
        yield "shared-bytes", b, as_strided(b, (5, 3), (3 * it, it - 1))
    b = _base(64, dtype)
    # disjoint ({0, 3} + {0, 2, 4} items), but the sufficient test cannot prove it: refused
    yield "interleaved", b, as_strided(b, (2, 3), (3 * it, 2 * it))


@pytest.mark.parametrize("dtype", [F32, F64, BF16, F16], ids=str)
@pytest.mark.parametrize("name", list(FILLS))
def test_overlapping_out_is_refused(name, dtype):
    """One check, in _output, for every fill: zero strides on a dim longer than 1, and
    strides smaller than what the dims below them span (elements that share bytes). It
    refuses too the few interleaved layouts the sufficient test cannot prove disjoint (shape
    (2, 3), strides (3, 2) items: disjoint, but refused): the simple rule is what makes the
    check cheap and certain. (torch refuses only the overlap it can prove; its in-place ops
    raise "unsupported operation: some elements of the input tensor and the written-to
    tensor refer to a single memory location".)"""
    g = fresh()
    for what, base, view in overlapping_outs(dtype):
        assert view.flags.writeable and not view.flags.c_contiguous, what
        expect(ValueError, lambda: FILLS[name](g, out=view), g, base,
               words=("share memory", "strides"))
        full = (3,) + view.shape
        expect(ValueError, lambda: FILLS[name](g, size=full, out=view, index=np.s_[1]), g, base,
               words=("share memory",))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, F32], ids=str)
def test_overlapping_mask_out_is_refused(dtype):
    g = fresh()
    for what, base, view in overlapping_outs(dtype):
        for call in (lambda: g.bernoulli(0.5, out=view),
                     lambda: g.sparse_mask(view.shape, k=1, out=view),
                     lambda: g.sparse_mask((2,) + view.shape, k=1, out=view, index=np.s_[0])):
            expect(ValueError, call, g, base, words=("share memory",))


def test_fill_range_refuses_overlapping_out():
    b = _base(64, F32)
    for v in (as_strided(b, (10, 3), (4, 0)), as_strided(b, (10, 4), (4, 4))):
        expect(ValueError, lambda: _core.fill_range("uniform", KEY, 0, 0, v, 0.0, 1.0), buf=b)


def _disjoint_layouts(dtype):
    a = np.zeros((6, 8), dtype)
    it = a.itemsize
    yield "C", a
    yield "F", np.asfortranarray(a)
    yield "transposed", a.T
    yield "step", a[::2, 1::3]
    yield "negative", a[::-1, ::-2]
    yield "length-1 zero stride", as_strided(a, (1, 8), (0, it))
    yield "length-1 zero stride, last", as_strided(a, (6, 1), (8 * it, 0))
    yield "interleaved-provable", as_strided(a, (2, 3), (2 * it, 3 * it))
    yield "size 0 zero strides", as_strided(a, (0, 3), (it, 0))
    yield "3-d view", a.reshape(2, 3, 8)[:, ::-1, ::4].transpose(2, 0, 1)


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_disjoint_layouts_are_accepted(dtype):
    """Every non-overlapping layout the check can prove disjoint still fills, with the values
    of the same call without out (the stream contract)."""
    for what, v in _disjoint_layouts(dtype):
        g, h = gen_at(KEY, 16), gen_at(KEY, 16)
        g.normal(0.5, 2.0, out=v)
        want = h.normal(0.5, 2.0, size=v.shape, dtype=dtype)
        assert np.array_equal(as_bits(v), as_bits(want)), what


# ---- c. parameters that are not real numbers --------------------------------------------

PARAM_CALLS = {
    # name of the parameter: a call with it set to x
    "low": lambda g, x, **kw: g.uniform(x, 2.0, **kw),
    "high": lambda g, x, **kw: g.uniform(-1.0, x, **kw),
    "loc": lambda g, x, **kw: g.normal(x, 1.0, **kw),
    "scale": lambda g, x, **kw: g.normal(0.0, x, **kw),
    "mean": lambda g, x, **kw: g.truncated_normal(x, 1.0, -1.0, 1.0, **kw),
    "std": lambda g, x, **kw: g.truncated_normal(0.0, x, -1.0, 1.0, **kw),
    "a": lambda g, x, **kw: g.truncated_normal(0.0, 1.0, x, 1.0, **kw),
    "b": lambda g, x, **kw: g.truncated_normal(0.0, 1.0, -1.0, x, **kw),
    "p": lambda g, x, **kw: g.bernoulli(x, **kw),
}


def _param_out(name):
    return (np.full(6, 0x5A, np.uint8).view(np.bool_) if name == "p" else sentinel(6, F32))


@pytest.mark.parametrize("x", [10**400, -10**400, 10**5000, Fraction(10**400, 3)],
                         ids=["1e400", "-1e400", "1e5000", "Fraction"])
@pytest.mark.parametrize("name", list(PARAM_CALLS))
def test_parameter_past_the_float64_range_is_value_error(name, x):
    """It used to be an OverflowError from the int -> double conversion."""
    g = fresh()
    out = _param_out(name)
    for kw in ({"size": 3}, {"out": out}):
        expect(ValueError, lambda: PARAM_CALLS[name](g, x, **kw), g, out,
               words=(f"{name}=", "float64 range"))


@pytest.mark.parametrize("x", [True, False, np.True_, np.False_, np.array(True)], ids=repr)
@pytest.mark.parametrize("name", list(PARAM_CALLS))
def test_bool_parameter_is_type_error(name, x):
    g = fresh()
    out = _param_out(name)
    for kw in ({"size": 3}, {"out": out}, {}):
        expect(TypeError, lambda: PARAM_CALLS[name](g, x, **kw), g, out,
               words=(f"{name}=", "bool"))


@pytest.mark.parametrize("x", [1 + 0j, 0.5j, np.complex64(0.5), np.complex128(0.5),
                               np.array(0.5 + 0j)], ids=repr)
@pytest.mark.parametrize("name", list(PARAM_CALLS))
def test_complex_parameter_is_type_error(name, x):
    """np.complex128(0.5) used to be accepted, its imaginary part dropped with a warning."""
    g = fresh()
    out = _param_out(name)
    expect(TypeError, lambda: PARAM_CALLS[name](g, x, out=out), g, out,
           words=(f"{name}=",))


@pytest.mark.parametrize("x", ["0.5", None, [0.5], np.array([0.5]), object()], ids=repr)
@pytest.mark.parametrize("name", list(PARAM_CALLS))
def test_non_numeric_parameter_is_type_error(name, x):
    g = fresh()
    out = _param_out(name)
    expect(TypeError, lambda: PARAM_CALLS[name](g, x, out=out), g, out, words=(name,))


@pytest.mark.parametrize("make", [float, np.float32, np.float64, np.float16, np.array,
                                  lambda v: np.array(v, np.float32), Fraction,
                                  lambda v: np.longdouble(v)],
                         ids=["float", "float32", "float64", "float16", "0-d", "0-d float32",
                              "Fraction", "longdouble"])
def test_real_scalars_keep_working(make):
    """NumPy scalars and 0-d arrays are parameters, converted as float() converts them."""
    for name, call in PARAM_CALLS.items():
        v = {"low": 0.25, "high": 1.5, "loc": 0.5, "scale": 2.0, "mean": 0.25, "std": 1.5,
             "a": -0.5, "b": 0.75, "p": 0.25}[name]
        g, h = gen_at(KEY, 0), gen_at(KEY, 0)
        got, want = call(g, make(v), size=40), call(h, float(make(v)), size=40)
        assert np.array_equal(got, want) and g.counter == h.counter, name


def test_int_parameters_keep_working():
    g, h = gen_at(KEY, 0), gen_at(KEY, 0)
    assert np.array_equal(g.uniform(-1, 2, size=9), h.uniform(-1.0, 2.0, size=9))
    assert np.array_equal(g.normal(np.int64(1), 2, size=9), h.normal(1.0, 2.0, size=9))
    assert np.array_equal(g.bernoulli(1, size=9), h.bernoulli(1.0, size=9))


# ---- d. sparse_mask's k, density and axis -------------------------------------------------

@pytest.mark.parametrize("kw, exc, words", [
    (dict(k=True), TypeError, ("k=True", "bool")),
    (dict(k=np.True_), TypeError, ("k=", "bool")),
    (dict(k=False), TypeError, ("k=False",)),
    (dict(density=True), TypeError, ("density=True", "bool")),
    (dict(density=np.False_), TypeError, ("density=",)),
    (dict(k=1, axis=True), TypeError, ("axis=True", "bool")),
    (dict(k=1, axis=np.False_), TypeError, ("axis=",)),
    (dict(density="0.5"), TypeError, ("density=",)),
    (dict(density=10**400), ValueError, ("density=",)),
    (dict(density=0.5 + 0j), TypeError, ("density=",)),
    # non-integral k and axis: ValueError, as they always were (and as the Python layer's
    # counts and axes are); only a bool is a TypeError
    (dict(k=2.0), ValueError, ("k must be an int", "2.0")),
    (dict(k=1, axis=1.0), ValueError, ("axis must be an int",)),
], ids=repr)
def test_sparse_mask_arguments(kw, exc, words):
    g = fresh()
    out = np.full((3, 4), 0x5A, np.uint8).view(np.bool_)
    for extra in ({}, {"out": out}, {"out": out[0], "index": 0}):
        expect(exc, lambda: g.sparse_mask((3, 4), **kw, **extra), g, out, words=words)


# ---- e. bools in sizes and shapes -------------------------------------------------------

@pytest.mark.parametrize("size", [True, False, np.True_, (2, True), (np.False_, 3), [True],
                                  (2, np.True_, 1)], ids=repr)
def test_bool_in_a_size_is_type_error(size):
    """NumPy refuses them too: np.empty(True) and np.empty((2, True)) are TypeErrors."""
    g = fresh()
    out = sentinel(2, F64)
    for name, call in ALL_CALLS.items():
        expect(TypeError, lambda: call(g, size=size), g, words=("size" if name != "sparse_mask"
                                                                else "shape", "True" if
                                                                "True" in repr(size) else "False"))
        expect(TypeError, lambda: call(g, size=size, index=0), g)
    expect(TypeError, lambda: g.random(size=size, out=out), g, out)
    expect(TypeError, lambda: _core.plan_index(size, ()), words=("shape",))


def test_ints_of_other_kinds_are_sizes():
    g = fresh()
    assert g.random(size=np.int64(3)).shape == (3,)
    assert g.random(size=(np.uint8(2), np.int32(3))).shape == (2, 3)
    assert g.random(size=np.array([2, 3])).shape == (2, 3)
    assert g.random(size=range(2, 4)).shape == (2, 3)
    expect(TypeError, lambda: g.random(size="ab"), g, words=("size",))
    expect(TypeError, lambda: g.random(size=2.0), g, words=("size", "2.0"))
    expect(ValueError, lambda: g.random(size=(2, -1)), g, words=("size", "-1"))


# ---- _core.pyi ----------------------------------------------------------------------------

STUB = pathlib.Path(_core.__file__).with_name("_core.pyi")
if not STUB.exists():      # an in-place build's module sits beside the stub; else the source
    STUB = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastinit" / "_core.pyi"


def _stub_tree():
    return ast.parse(STUB.read_text())


def _stub_names(tree):
    """Names the stub defines at module level (functions, classes, annotated constants)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if not _is_alias(node):
                names.add(node.target.id)
    return names


def _is_alias(node):
    ann = node.annotation
    return isinstance(ann, ast.Name) and ann.id == "TypeAlias"


def _runtime_public():
    return {n for n, v in vars(_core).items()
            if not n.startswith("_") and not isinstance(v, types.ModuleType)}


def test_py_typed_is_there():
    assert STUB.with_name("py.typed").exists()


def test_stub_names_match_the_module():
    stub = _stub_names(_stub_tree())
    stub_public = {n for n in stub if not n.startswith("_")}
    assert stub_public == _runtime_public()
    # private names in the stub (those the tests and pickling use) exist too
    missing = {n for n in stub if n.startswith("_") and not hasattr(_core, n)}
    assert not missing, missing
    # and every name the Python layer imports from _core is in the stub
    src = pathlib.Path(fastinit.__file__).parent
    imported = set()
    for path in src.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "fastinit._core":
                imported |= {a.name for a in node.names}
    assert imported and imported <= stub, imported - stub


def _params_of(fn):
    """(names, literal defaults) of a stub function's parameters, self included."""
    a = fn.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    names = [x.arg for x in pos]
    out = dict(zip(names, defaults))
    if a.vararg:
        names.append("*" + a.vararg.arg)
    for x, d in zip(a.kwonlyargs, a.kw_defaults):
        names.append(x.arg)
        out[x.arg] = d
    return names, out


def _runtime_params(obj):
    sig = inspect.signature(obj)
    names = [("*" + p.name if p.kind is p.VAR_POSITIONAL else p.name)
             for p in sig.parameters.values()]
    return names, sig.parameters


def _check_function(fn, obj, where):
    names, defaults = _params_of(fn)
    rnames, rparams = _runtime_params(obj)
    assert names == rnames, f"{where}: stub {names} != compiled {rnames}"
    for n, d in defaults.items():
        if d is None or n not in rparams:
            continue
        try:
            value = ast.literal_eval(d)
        except ValueError:
            continue             # `...` or a name: no literal to compare
        if value is Ellipsis:
            continue
        assert rparams[n].default == value, f"{where}: {n}={value!r} in the stub, " \
                                            f"{rparams[n].default!r} compiled"


def test_stub_signatures_match_the_module():
    tree = _stub_tree()
    checked = 0
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            _check_function(node, getattr(_core, node.name), node.name)
            checked += 1
        elif isinstance(node, ast.ClassDef) and node.name == "Generator":
            methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
            seen = set()
            for m in methods:
                if any(isinstance(d, ast.Attribute) and d.attr == "setter"
                       for d in m.decorator_list):
                    continue
                rt = inspect.getattr_static(_core.Generator, m.name)
                if isinstance(rt, (property, types.GetSetDescriptorType)):
                    assert any(isinstance(d, ast.Name) and d.id == "property"
                               for d in m.decorator_list), m.name
                    seen.add(m.name)
                    continue
                if m.name == "__init__":
                    # a Cython class's __init__ has no signature: its docstring's first line
                    first = _core.Generator.__doc__.strip().splitlines()[0]
                    want = ["self"] + [p.split("=")[0].strip()
                                       for p in first[first.index("(") + 1:-1].split(",")]
                    assert _params_of(m)[0] == want
                else:
                    _check_function(m, getattr(_core.Generator, m.name), f"Generator.{m.name}")
                seen.add(m.name)
                checked += 1
            public = {n for n in dir(_core.Generator) if not n.startswith("_")}
            assert public == {n for n in seen if not n.startswith("_")}
    assert checked > 30


def test_stub_type_checks():
    """mypy accepts the stub, and stubtest finds it true to the module (where mypy is
    installed; it is not a test dependency)."""
    api = pytest.importorskip("mypy.api")
    out, err, code = api.run(["--strict", "--follow-imports=silent", "--no-incremental",
                              "--cache-dir", "/dev/null", str(STUB)])
    assert code == 0, out + err
