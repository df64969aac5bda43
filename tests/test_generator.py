"""The Generator object: seeding, state, spawning, copying, counters, sizes and dtypes,
and concurrent use from several Python threads."""
import copy
import pickle
import threading

import ml_dtypes
import numpy as np
import pytest

import fastinit
from _util import (BF16, DTYPES, F16, F32, F64, as_bits, assert_bits_equal, blocks_for,
                   dtype_params, gen_at)

METHODS = ["random", "uniform", "standard_normal", "normal"]


def call(g, method, **kw):
    return getattr(g, method)(**kw)


# ---- seeding ------------------------------------------------------------------------

def test_int_seed_is_reproducible():
    a, b = fastinit.Generator(42), fastinit.Generator(42)
    assert a.key == b.key and a.counter == b.counter == 0
    assert_bits_equal(a.normal(size=1000), b.normal(size=1000))
    assert_bits_equal(a.random(size=77, dtype=F32), b.random(size=77, dtype=F32))


def test_different_seeds_differ():
    keys = {fastinit.Generator(s).key for s in range(200)}
    assert len(keys) == 200
    assert not np.array_equal(fastinit.Generator(1).random(100), fastinit.Generator(2).random(100))


def test_key_comes_from_seedsequence():
    for seed in [0, 1, 5, 2**32, 2**64 + 3, 2**200]:
        ss = np.random.SeedSequence(seed)
        assert fastinit.Generator(seed).key == tuple(int(w) for w in ss.generate_state(2, np.uint32))


@pytest.mark.parametrize("seed", [0, 5, 987654321, 2**128 + 1])
def test_seedsequence_equivalence(seed):
    a = fastinit.Generator(seed)
    b = fastinit.Generator(np.random.SeedSequence(seed))
    assert a.key == b.key and a.state == b.state
    for dt in DTYPES:
        assert_bits_equal(a.normal(size=333, dtype=dt), b.normal(size=333, dtype=dt))


def test_numpy_integer_seed():
    assert fastinit.Generator(np.int64(7)).key == fastinit.Generator(7).key
    assert fastinit.Generator(np.uint32(7)).key == fastinit.Generator(7).key


def test_none_seed_differs_run_to_run():
    keys = {fastinit.Generator().key for _ in range(20)}
    keys |= {fastinit.Generator(None).key for _ in range(20)}
    # 40 keys of 64 fresh bits each: a collision has probability < 1e-16.
    assert len(keys) == 40
    assert fastinit.Generator().counter == 0


def test_none_seed_differs_across_processes():
    import subprocess
    import sys
    code = "import fastinit; print(fastinit.Generator().key)"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(outs) == 2


@pytest.mark.parametrize("seed", [-1, -2**70])
def test_negative_seed_is_rejected(seed):
    with pytest.raises(ValueError):
        fastinit.Generator(seed)


@pytest.mark.parametrize("seed", [1.0, 1.5, float("nan"), "5", b"5", [1, 2], object()])
def test_non_integer_seed_is_rejected(seed):
    with pytest.raises(TypeError):
        fastinit.Generator(seed)


def test_default_rng():
    g = fastinit.default_rng(11)
    assert isinstance(g, fastinit.Generator)
    assert g.key == fastinit.Generator(11).key
    assert fastinit.default_rng(g) is g
    assert isinstance(fastinit.default_rng(), fastinit.Generator)
    assert fastinit.default_rng(np.random.SeedSequence(11)).key == g.key


# ---- spawn --------------------------------------------------------------------------

def test_spawn_children_are_independent_and_reproducible():
    parent = fastinit.Generator(2024)
    kids = parent.spawn(4)
    assert len(kids) == 4 and all(isinstance(k, fastinit.Generator) for k in kids)
    keys = [k.key for k in kids] + [parent.key]
    assert len(set(keys)) == 5
    assert all(k.counter == 0 for k in kids)
    streams = [k.random(size=256, dtype=F32) for k in kids] + [parent.random(256, dtype=F32)]
    for i in range(5):
        for j in range(i):
            assert np.mean(streams[i] == streams[j]) < 0.01
    # the same parent seed spawns the same children
    again = fastinit.Generator(2024).spawn(4)
    assert [k.key for k in again] == keys[:4]
    # children match the SeedSequence children
    ss_kids = np.random.SeedSequence(2024).spawn(4)
    assert [fastinit.Generator(s).key for s in ss_kids] == keys[:4]
    # spawning does not disturb the parent's stream
    p2 = fastinit.Generator(2024)
    assert_bits_equal(p2.random(256, dtype=F32), streams[4])


def test_spawn_twice_gives_new_children():
    parent = fastinit.Generator(3)
    first = [k.key for k in parent.spawn(2)]
    second = [k.key for k in parent.spawn(2)]
    assert not set(first) & set(second)
    assert len(set(first + second)) == 4


def test_spawn_zero():
    assert fastinit.Generator(1).spawn(0) == []


def test_grandchildren_differ():
    g = fastinit.Generator(8)
    c = g.spawn(2)
    gc = c[0].spawn(2) + c[1].spawn(2)
    keys = {x.key for x in [g] + c + gc}
    assert len(keys) == 7


# ---- state ----------------------------------------------------------------------------

def test_state_layout():
    g = fastinit.Generator(99)
    st = g.state
    assert st == {"bit_generator": "Philox4x32-10", "key": g.key, "counter": 0}
    g.random(100)
    assert g.state["counter"] == g.counter == blocks_for(F64, 100)


def test_state_roundtrip():
    g = fastinit.Generator(99)
    g.normal(size=1001, dtype=F32)
    st = g.state
    x = g.normal(size=500)
    h = fastinit.Generator(1)
    h.state = st
    assert h.state == st and h.key == g.key
    assert_bits_equal(h.normal(size=500), x)
    assert h.state == g.state
    # restore on the same object replays
    g.state = st
    assert_bits_equal(g.normal(size=500), x)


def test_state_setter_accepts_lists_and_numpy_ints():
    g = fastinit.Generator(0)
    g.state = {"bit_generator": "Philox4x32-10", "key": [np.uint32(1), 2], "counter": np.uint64(2**63)}
    assert g.key == (1, 2) and g.counter == 2**63


def test_state_max_counter():
    g = fastinit.Generator(0)
    g.state = {"bit_generator": "Philox4x32-10", "key": (0, 0), "counter": 2**64 - 1}
    assert g.counter == 2**64 - 1


@pytest.mark.parametrize("bad", [
    {"bit_generator": "PCG64", "key": (1, 2), "counter": 0},
    {"key": (1, 2), "counter": 0},
    {"bit_generator": "Philox4x32-10", "counter": 0},
    {"bit_generator": "Philox4x32-10", "key": (1, 2)},
    {"bit_generator": "Philox4x32-10", "key": (1, 2, 3), "counter": 0},
    {"bit_generator": "Philox4x32-10", "key": (1,), "counter": 0},
    {"bit_generator": "Philox4x32-10", "key": (2**32, 0), "counter": 0},
    {"bit_generator": "Philox4x32-10", "key": (0, -1), "counter": 0},
    {"bit_generator": "Philox4x32-10", "key": (0, 0), "counter": -1},
    {"bit_generator": "Philox4x32-10", "key": (0, 0), "counter": 2**64},
    None,
    42,
])
def test_bad_state_is_rejected_and_changes_nothing(bad):
    g = fastinit.Generator(5)
    g.random(10)
    before = g.state
    with pytest.raises((ValueError, TypeError)):
        g.state = bad
    assert g.state == before


def test_float_counter_in_state_is_rejected():
    g = fastinit.Generator(5)
    before = g.state
    with pytest.raises(TypeError):
        g.state = {"bit_generator": "Philox4x32-10", "key": (0, 0), "counter": 1.0}
    assert g.state == before


def test_key_and_counter_are_read_only():
    g = fastinit.Generator(5)
    with pytest.raises(AttributeError):
        g.key = (1, 2)
    with pytest.raises(AttributeError):
        g.counter = 3


def test_repr():
    g = fastinit.Generator(5)
    r = repr(g)
    assert "Philox4x32-10" in r and f"0x{g.key[0]:08x}" in r and "counter=0" in r


# ---- pickle / copy ----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_copies_continue_identically(how):
    g = fastinit.Generator(31337)
    g.normal(size=123, dtype=BF16)
    if how == "pickle":
        h = pickle.loads(pickle.dumps(g, protocol=pickle.HIGHEST_PROTOCOL))
    elif how == "copy":
        h = copy.copy(g)
    else:
        h = copy.deepcopy(g)
    assert h is not g and isinstance(h, fastinit.Generator)
    assert h.state == g.state
    for dt in DTYPES:
        assert_bits_equal(h.normal(size=321, dtype=dt), g.normal(size=321, dtype=dt))
        assert_bits_equal(h.uniform(-2, 3, size=99, dtype=dt), g.uniform(-2, 3, size=99, dtype=dt))
    # the copies are independent objects: advancing one leaves the other alone
    c = g.counter
    h.random(1000)
    assert g.counter == c


@pytest.mark.parametrize("spawned_before", [False, True])
@pytest.mark.parametrize("seed", [77, np.random.SeedSequence(77)])
@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_copies_spawn_like_the_original(how, seed, spawned_before):
    g = fastinit.Generator(seed)
    if spawned_before:
        g.spawn(2)
    h = {"pickle": lambda: pickle.loads(pickle.dumps(g)), "copy": lambda: copy.copy(g),
         "deepcopy": lambda: copy.deepcopy(g)}[how]()
    assert [k.key for k in h.spawn(3)] == [k.key for k in g.spawn(3)]


def test_int_seed_keys_are_those_of_its_seed_sequence():
    # ints take a cached path; the key is still SeedSequence(seed)'s, for any int
    for seed in (0, 1, 77, 2**32 + 5, 2**100 + 3, np.int64(9)):
        for _ in range(2):                                  # the cached second time too
            want = tuple(int(w) for w in np.random.SeedSequence(int(seed)).generate_state(2, np.uint32))
            assert fastinit.Generator(seed).key == want
    with pytest.raises(TypeError):
        fastinit.Generator(True)
    with pytest.raises(ValueError):
        fastinit.Generator(-1)


def test_pickle_all_protocols():
    g = fastinit.Generator(1)
    g.random(5)
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        h = pickle.loads(pickle.dumps(g, protocol=proto))
        assert h.state == g.state


# ---- counter advance -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("n", [0, 1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 65536, 100003])
@pytest.mark.parametrize("method", METHODS)
def test_counter_advance(method, n, dtype):
    g = fastinit.Generator(4)
    g.state = {"bit_generator": "Philox4x32-10", "key": g.key, "counter": 1000}
    call(g, method, size=n, dtype=dtype)
    per = 32 if dtype == F64 else 64
    assert g.counter == 1000 + -(-n // per) * 16
    # out= advances the same
    out = np.empty(n, dtype=dtype)
    c = g.counter
    call(g, method, out=out)
    assert g.counter == c + -(-n // per) * 16


@pytest.mark.parametrize("dtype", dtype_params())
def test_counter_advance_scalar_and_shapes(dtype):
    g = fastinit.Generator(4)
    g.random(dtype=dtype)                       # one value: one group
    assert g.counter == 16
    g.random(size=(5, 13), dtype=dtype)         # 65 values
    assert g.counter == 16 + blocks_for(dtype, 65)
    c = g.counter
    g.random(size=(4, 0, 3), dtype=dtype)
    assert g.counter == c


def test_consecutive_calls_use_consecutive_counters():
    # A call of n values followed by another equals one call from the next counter.
    g = fastinit.Generator(8)
    a = g.normal(size=100, dtype=F32)           # 2 groups = 32 blocks
    b = g.normal(size=50, dtype=F32)
    h = gen_at(g.key, 0)
    assert_bits_equal(h.normal(size=100, dtype=F32), a)
    h2 = gen_at(g.key, 32)
    assert_bits_equal(h2.normal(size=50, dtype=F32), b)
    # the first 100 values of a longer call are the same values (prefix property)
    h3 = gen_at(g.key, 0)
    assert_bits_equal(h3.normal(size=128, dtype=F32)[:100], a)


def test_counter_exhaustion():
    g = gen_at((1, 2), 2**64 - 48)
    g.random(size=64, dtype=F32)                # 16 blocks: fine
    assert g.counter == 2**64 - 32
    out = np.full(100, 7.0, dtype=F32)
    with pytest.raises(OverflowError):
        g.random(out=out)                       # would need 32 blocks, i.e. run to 2**64
    assert g.counter == 2**64 - 32
    assert (out == 7.0).all()


# ---- sizes, return types, out ----------------------------------------------------------

@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("method", METHODS)
def test_size_none_returns_a_scalar(method, dtype):
    g = fastinit.Generator(1)
    x = call(g, method, dtype=dtype)
    assert np.isscalar(x) or isinstance(x, np.generic)
    assert not isinstance(x, np.ndarray)
    assert np.dtype(type(x)) == dtype
    h = fastinit.Generator(1)
    assert_bits_equal(np.asarray(x), call(h, method, size=1, dtype=dtype)[0][()].reshape(()))


@pytest.mark.parametrize("method", METHODS)
def test_default_dtype_is_float64(method):
    g = fastinit.Generator(1)
    assert isinstance(call(g, method), np.float64)
    assert call(g, method, size=3).dtype == F64


@pytest.mark.parametrize("size,shape", [
    (5, (5,)), (np.int64(5), (5,)), ((5,), (5,)), ([2, 3], (2, 3)), ((2, 3, 4), (2, 3, 4)),
    ((), ()), (0, (0,)), ((3, 0), (3, 0)), ((np.int32(2), 2), (2, 2)), (range(1, 4), (1, 2, 3)),
])
def test_size_forms(size, shape):
    g = fastinit.Generator(1)
    x = g.normal(size=size, dtype=F32)
    assert isinstance(x, np.ndarray) and x.shape == shape and x.dtype == F32
    h = fastinit.Generator(1)
    assert_bits_equal(x.reshape(-1), h.normal(size=int(np.prod(shape)), dtype=F32))


@pytest.mark.parametrize("size", [1.0, 2.5, "3", (2, 1.0), [None], object()])
def test_bad_size_type(size):
    g = fastinit.Generator(1)
    with pytest.raises(TypeError):
        g.random(size=size)
    assert g.counter == 0


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("method", METHODS)
def test_out_returns_the_same_object(method, dtype):
    g = fastinit.Generator(1)
    out = np.empty((7, 9), dtype=dtype)
    r = call(g, method, out=out)
    assert r is out
    r = call(g, method, out=out, size=(7, 9))
    assert r is out
    r = call(g, method, out=out, dtype=dtype)
    assert r is out
    z = np.empty((), dtype=dtype)
    assert call(g, method, out=z) is z


@pytest.mark.parametrize("dtype", dtype_params())
def test_out_dtype_is_used_when_dtype_is_none(dtype):
    g, h = fastinit.Generator(3), fastinit.Generator(3)
    out = np.empty(100, dtype=dtype)
    g.normal(out=out)
    assert_bits_equal(out, h.normal(size=100, dtype=dtype))


BF16_SPELLINGS = ["bfloat16", ml_dtypes.bfloat16, np.dtype(ml_dtypes.bfloat16), fastinit.BFLOAT16]


@pytest.mark.parametrize("spelling,dtype", [
    ("float16", F16), (np.float16, F16), (np.dtype(np.float16), F16), ("f2", F16), ("half", F16),
    ("float32", F32), (np.float32, F32), (np.dtype(np.float32), F32), ("f4", F32), ("<f4", F32),
    ("float64", F64), (np.float64, F64), (np.dtype(np.float64), F64), (float, F64), ("f8", F64),
    ("double", F64),
] + [(s, BF16) for s in BF16_SPELLINGS])
def test_dtype_spellings(spelling, dtype):
    g, h = fastinit.Generator(3), fastinit.Generator(3)
    x = g.normal(size=50, dtype=spelling)
    assert x.dtype == dtype
    assert_bits_equal(x, h.normal(size=50, dtype=dtype))
    out = np.empty(50, dtype=dtype)
    assert g.uniform(size=50, dtype=spelling, out=out) is out


def test_bfloat16_constant():
    assert fastinit.BFLOAT16 == np.dtype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("dtype", [np.int32, "int64", np.complex64, np.longdouble, "bool",
                                   int, "U3", ">f4", ">f8", "bogus"])
def test_unsupported_dtype(dtype):
    g = fastinit.Generator(1)
    with pytest.raises(TypeError):
        g.random(size=4, dtype=dtype)
    assert g.counter == 0


# ---- several Python threads on one Generator -----------------------------------------

class _CounterFinder:
    """Finds the first counter of a call from its values. Every call starts at a multiple of
    16 blocks, and the first group of a call starting at counter 16j equals group j of one
    long call starting at counter 0 (value i depends only on the block it lives in), so one
    long fill per distribution gives every candidate's first values."""

    def __init__(self, key, dtype, total_blocks):
        n = total_blocks // 16 * 64
        self.groups = {}
        for dist in ("uniform", "normal"):
            big = np.empty(n, dtype=dtype)
            fastinit.fill_range(dist, key, 0, 0, big, 0.0, 1.0)
            self.groups[dist] = as_bits(big).reshape(-1, 64)

    def __call__(self, x, dist):
        probe = min(x.size, 64)
        bits = as_bits(x.reshape(-1)[:probe])
        hits = np.flatnonzero((self.groups[dist][:, :probe] == bits).all(axis=1))
        assert hits.size == 1, f"{hits.size} candidate counters match"
        return int(hits[0]) * 16


@pytest.mark.parametrize("nthreads", [2, 4, 8])
def test_concurrent_calls_get_disjoint_counters(nthreads):
    fastinit.set_num_threads(2)
    g = fastinit.Generator(555)
    # Sizes vary per call and some are large, so that fills overlap in time (the GIL is
    # released during a fill) and counters are taken while other fills run.
    sizes = [[(t * 7919 + k * 104729) % 200000 + 1 for k in range(6)] for t in range(nthreads)]
    dists = ["normal" if (t + k) % 2 else "uniform" for t in range(nthreads) for k in range(6)]
    results = [[None] * 6 for _ in range(nthreads)]
    barrier = threading.Barrier(nthreads)

    def work(t):
        barrier.wait()
        for k, n in enumerate(sizes[t]):
            dist = "normal" if (t + k) % 2 else "uniform"
            results[t][k] = (dist, g.normal(size=n, dtype=F32) if dist == "normal"
                             else g.random(size=n, dtype=F32))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    total = sum(blocks_for(F32, n) for row in sizes for n in row)
    assert g.counter == total                        # the same total advance as a sequential run
    find = _CounterFinder(g.key, F32, total)
    spans = []
    for t in range(nthreads):
        for k in range(6):
            dist, x = results[t][k]
            c = find(x, dist)
            spans.append((c, c + blocks_for(F32, x.size)))
            if k:   # one thread's calls take increasing counters
                assert c > spans[-2][0]
            # the whole result equals a sequential reproduction from that state
            h = gen_at(g.key, c)
            ref = h.normal(size=x.size, dtype=F32) if dist == "normal" else h.random(size=x.size, dtype=F32)
            assert_bits_equal(x, ref, f"thread {t} call {k}")
    spans.sort()
    # disjoint, and together exactly [0, total)
    assert spans[0][0] == 0 and spans[-1][1] == total
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert a1 == b0, f"counter ranges {a0, a1} and {b0, b1} overlap or leave a gap"


def test_concurrent_out_fills_with_shared_generator():
    g = fastinit.Generator(9)
    outs = [np.empty(150000, dtype=BF16) for _ in range(6)]
    threads = [threading.Thread(target=g.standard_normal, kwargs={"out": o}) for o in outs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    per = blocks_for(BF16, 150000)
    assert g.counter == 6 * per
    starts = []
    find = _CounterFinder(g.key, BF16, 6 * per)
    for o in outs:
        c = find(o, "normal")
        starts.append(c)
        assert_bits_equal(o, gen_at(g.key, c).standard_normal(size=o.size, dtype=BF16))
    assert sorted(starts) == list(range(0, 6 * per, per))
