"""Blocks of a fill: ``index=`` (with ``size=`` / ``full_shape=`` / an initializer's shape the
whole tensor's) gives exactly ``full[index]``, bit for bit, and advances the generator as the
whole call does -- for every Generator fill, every in-place function and every initializer
object, any dtype, SIMD path, thread count and output layout."""
import math
import random
import tracemalloc
import warnings

import numpy as np
import pytest

import fastinit
from fastinit import defaults, init as I
from fastinit._core import plan_index
from _util import (BF16, DTYPES, F16, F32, F64, as_bits, assert_bits_equal, dtype_params,
                   gen_at, sentinel)

KEY = (0x1234ABCD, 0x0F0E0D0C)
START = 777          # a non-zero starting counter: blocks must use the state, not 0
SIMD = fastinit.available_simd()
MASK_DTYPES = [np.dtype(np.bool_), np.dtype(np.uint8), F32, BF16]


def start_gen():
    return gen_at(KEY, START)


# ---- block indices -----------------------------------------------------------------------

def _random_index(rng, shape):
    """A valid NumPy basic index into shape: ints (negative too), slices with steps > 1 and
    negative steps (often empty), fewer entries than dims, or an Ellipsis for a run of dims."""
    items = []
    for n in shape:
        r = rng.random()
        if n and r < 0.2:
            items.append(rng.randrange(-n, n))
        elif r < 0.3:
            items.append(slice(None))
        else:
            step = rng.choice([None, 1, 2, 3, -1, -2, -3, 7])
            start = rng.choice([None, rng.randint(-n, n)])
            stop = rng.choice([None, rng.randint(-n, n)])
            items.append(slice(start, stop, step))
    form = rng.random()
    if form < 0.25 and items:
        items = items[:rng.randrange(len(items))]           # missing trailing dims
    elif form < 0.5:
        p = rng.randint(0, len(items))
        q = rng.randint(p, len(items))
        items = items[:p] + [Ellipsis] + items[q:]          # Ellipsis for dims p..q-1
    if len(items) == 1 and rng.random() < 0.5:
        return items[0]                                     # a bare int / slice / ...
    return tuple(items)


def special_indices(shape):
    """Fixed corner cases: the whole tensor, Ellipsis, reversed, an empty block, ints only
    (a 0-d block), strides, Ellipsis with leading / trailing entries, numpy ints."""
    nd = len(shape)
    out = [(), Ellipsis, (Ellipsis,), (slice(None, None, -1),) * nd]
    if nd:
        n0 = shape[0]
        m0, ml = min(1, n0), min(1, shape[-1])
        out += [slice(m0, m0), (slice(None), ) * (nd - 1) + (slice(-ml, -ml),),
                (Ellipsis, slice(None, None, 2)), (slice(-min(2, n0), None), Ellipsis),
                (slice(None, None, -3),), slice(n0, None), slice(None, -n0)]
        if all(shape):
            out += [0, -1, np.int64(n0 - 1), tuple(n - 1 for n in shape),
                    tuple(-n for n in shape), (Ellipsis, 0), (0, Ellipsis)]
    return out


def block_indices(shape, n=24, seed=0):
    """special_indices plus n deterministic pseudo-random ones."""
    rng = random.Random(f"{seed}-{tuple(shape)}")      # str seeds are deterministic
    return special_indices(shape) + [_random_index(rng, shape) for _ in range(n)]


def test_index_generator_covers_every_kind_of_entry():
    """The index generator itself reaches ints, steps > 1, negative steps, Ellipsis,
    empty slices, missing dims and 0-d blocks (so the tests below exercise them)."""
    seen = set()
    for shape in [(7,), (5, 9), (3, 4, 6), (2, 3, 2, 5)]:
        for idx in block_indices(shape):
            t = idx if isinstance(idx, tuple) else (idx,)
            block = plan_index(shape, idx)[0]
            np.empty(shape)[idx]        # a valid NumPy index
            assert np.empty(shape)[idx].shape == block
            for it in t:
                if it is Ellipsis:
                    seen.add("ellipsis")
                elif isinstance(it, slice):
                    st = it.step or 1
                    seen.add("step>1" if st > 1 else "negstep" if st < 0 else "step1")
                else:
                    seen.add("int")
            if 0 in block:
                seen.add("empty")
            if len(t) < len(shape) and Ellipsis not in t:
                seen.add("missing")
            if block == ():
                seen.add("0-d")
    assert seen >= {"ellipsis", "step>1", "negstep", "step1", "int", "empty", "missing",
                    "0-d"}


def test_plan_index_matches_numpy():
    for shape in [(), (0,), (7,), (4, 0, 3), (5, 9), (3, 4, 6), (2, 3, 2, 5)]:
        ref = np.arange(math.prod(shape)).reshape(shape)
        for idx in block_indices(shape, n=40) if shape else [(), Ellipsis, (Ellipsis,)]:
            block, starts, steps, counts, int_axes = plan_index(shape, idx)
            want = ref[idx]
            assert block == want.shape, (shape, idx)
            # starts/steps/counts describe the same elements
            picks = [s + st * np.arange(c) for s, st, c in zip(starts, steps, counts)]
            got = ref[np.ix_(*picks)] if shape else ref
            assert np.array_equal(got.reshape(block), want), (shape, idx)
            assert all(counts[d] == 1 for d in int_axes)


# ---- Generator fills ---------------------------------------------------------------------

FILLS = {
    "random": lambda g, **kw: g.random(**kw),
    "uniform": lambda g, **kw: g.uniform(-3.0, 5.0, **kw),
    "standard_normal": lambda g, **kw: g.standard_normal(**kw),
    "normal": lambda g, **kw: g.normal(1.5, 2.0, **kw),
    "truncated_normal": lambda g, **kw: g.truncated_normal(0.5, 2.0, -1.0, 3.0, **kw),
    "truncated_normal_tail": lambda g, **kw: g.truncated_normal(0.0, 1.0, 2.5, math.inf, **kw),
    "truncated_normal_narrow": lambda g, **kw: g.truncated_normal(0.0, 1.0, 0.1, 0.2, **kw),
}
SHAPES = [(7,), (5, 9), (3, 4, 6), (2, 3, 2, 5), (4, 0, 3)]


def check_blocks(make, shape, indices, what):
    """make(g, size=..., index=...) for each index equals make(g, size=...)[index], from the
    same starting state, and leaves the generator where the whole call does."""
    g = start_gen()
    full = make(g, size=shape)
    after = g.counter
    assert after >= START
    for idx in indices:
        gb = start_gen()
        blk = make(gb, size=shape, index=idx)
        assert_bits_equal(blk, full[idx], f"{what} {shape}[{idx!r}]")
        assert gb.counter == after, f"{what} {shape}[{idx!r}]: counter {gb.counter} != {after}"
    return full


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", list(FILLS))
def test_fill_blocks(name, dtype):
    make = FILLS[name]
    for shape in SHAPES:
        check_blocks(lambda g, **kw: make(g, dtype=dtype, **kw), shape, block_indices(shape),
                     f"{name}/{dtype}")


@pytest.mark.parametrize("dtype", dtype_params())
def test_zero_d_full_shape(dtype):
    for name, make in FILLS.items():
        check_blocks(lambda g, **kw: make(g, dtype=dtype, **kw), (), [(), Ellipsis],
                     f"{name}/{dtype} 0-d")


@pytest.mark.parametrize("p", [0.3, 0.9, 0.0, 1.0])
@pytest.mark.parametrize("dtype", MASK_DTYPES, ids=str)
def test_bernoulli_blocks(dtype, p):
    for shape in SHAPES:
        full = check_blocks(lambda g, **kw: g.bernoulli(p, dtype=dtype, **kw), shape,
                            block_indices(shape), f"bernoulli({p})/{dtype}")
        assert full.dtype == dtype


def test_bernoulli_default_dtype_block_is_bool():
    g = start_gen()
    blk = g.bernoulli(0.5, size=(6, 8), index=np.s_[::2, 1::3])
    assert blk.dtype == np.bool_
    assert_bits_equal(blk, start_gen().bernoulli(0.5, size=(6, 8))[::2, 1::3])


MASK_SHAPES = [(9,), (6, 8), (3, 5, 7), (2, 3, 4, 5)]


@pytest.mark.parametrize("dtype", MASK_DTYPES, ids=str)
@pytest.mark.parametrize("shape", MASK_SHAPES, ids=str)
def test_sparse_mask_blocks(shape, dtype):
    for axis in range(-len(shape), len(shape)):
        n = shape[axis]
        for k in sorted({0, 1, n // 2, n - 1, n}):
            full = check_blocks(
                lambda g, **kw: g.sparse_mask(kw.pop("size"), k=k, axis=axis, dtype=dtype,
                                              **kw),
                shape, block_indices(shape, n=12, seed=axis * 10 + k),
                f"sparse_mask(k={k}, axis={axis})/{dtype}")
            # the full mask is what it claims: k nonzeros per slice along axis
            assert np.all(np.count_nonzero(full, axis=axis) == k)


def test_sparse_mask_density_blocks():
    shape = (10, 6, 4)
    check_blocks(lambda g, **kw: g.sparse_mask(kw.pop("size"), density=0.35, axis=1, **kw),
                 shape, block_indices(shape), "sparse_mask(density=0.35)")


def test_sparse_mask_long_runs_of_slices():
    """Blocks whose last non-mask dim is contiguous (one kernel call for a run of slices)
    and strided (one call per slice), across slice numbers far from 0."""
    shape = (40, 3, 50)
    idxs = [np.s_[:, :, 5:45], np.s_[3:37, 1:, ::-1], np.s_[::-7, 2, 3::4], np.s_[39, ..., 49],
            np.s_[..., 10:11]]
    for axis in (0, 1, 2):
        k = shape[axis] // 3
        check_blocks(lambda g, **kw: g.sparse_mask(kw.pop("size"), k=k, axis=axis, **kw),
                     shape, idxs, f"sparse_mask axis={axis}")


# ---- out= ----------------------------------------------------------------------------------

def _canvas(shape, dtype):
    """A recognizable background: a NaN payload for floats, 0xA5 for uint8."""
    dt = np.dtype(dtype)
    if dt == np.uint8:
        return np.full(shape, 0xA5, np.uint8)
    return sentinel(shape, dt)


def _layouts(block, dtype):
    """(name, out view, the array owning it, mask of the owner's cells the view covers)."""
    b = tuple(block)
    out = []
    # strided view inside a larger array
    big = _canvas(tuple(2 * n + 3 for n in b), dtype)
    view = big[tuple(slice(1, 1 + 2 * n, 2) for n in b)]
    out.append(("strided", view, big))
    # Fortran order
    f = np.asfortranarray(_canvas(b, dtype))
    out.append(("fortran", f, f))
    # transposed
    t = _canvas(b[::-1], dtype)
    out.append(("transposed", t.T, t))
    # negative strides
    r = _canvas(b, dtype)
    out.append(("reversed", r[(slice(None, None, -1),) * len(b)], r))
    return out


def _check_out(make, shape, idx, dtype, what):
    g = start_gen()
    full = make(g, size=shape, dtype=dtype)
    block = plan_index(shape, idx)[0]
    for name, view, owner in _layouts(block, dtype):
        before = as_bits(owner).copy()
        gb = start_gen()
        res = make(gb, size=shape, index=idx, out=view)
        assert res is view, f"{what} {name}: the result is not out"
        assert_bits_equal(view, full[idx], f"{what} {name} {shape}[{idx!r}]")
        assert gb.counter == g.counter
        # nothing outside the view was touched
        inside = np.zeros(owner.size, bool)
        inside[_positions_of(view, owner)] = True
        outside = ~inside.reshape(owner.shape)
        assert np.array_equal(as_bits(owner)[outside], before[outside]), \
            f"{what} {name}: wrote outside out"


def _positions_of(view, owner):
    """The flat C-order positions in owner of view's elements."""
    base = view.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
    offs = np.full(view.shape, base, np.int64)
    for d, (n, st) in enumerate(zip(view.shape, view.strides)):
        shp = [1] * view.ndim
        shp[d] = n
        offs = offs + (np.arange(n) * st).reshape(shp)
    # owner is C-contiguous or F-contiguous: map byte offsets back to C-order flat positions
    elem = offs // owner.itemsize
    if owner.flags.c_contiguous:
        return elem.reshape(-1)
    unr = np.unravel_index(elem.reshape(-1), owner.shape, order="F")
    return np.ravel_multi_index(unr, owner.shape, order="C")


OUT_INDICES = [np.s_[1::2, ::-3], np.s_[3, 2:12:2], np.s_[::-1, 5], np.s_[..., 1:13],
               np.s_[7:0:-2, 12::-5]]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", ["uniform", "normal", "truncated_normal"])
def test_out_noncontiguous_blocks(name, dtype):
    make = FILLS[name]
    for idx in OUT_INDICES:
        _check_out(lambda g, **kw: make(g, **kw), (9, 14), idx, dtype, f"{name}/{dtype}")


@pytest.mark.parametrize("dtype", [np.dtype(np.uint8), F16, F64], ids=str)
def test_out_noncontiguous_mask_blocks(dtype):
    for idx in OUT_INDICES:
        _check_out(lambda g, **kw: g.bernoulli(0.4, **kw), (9, 14), idx, dtype, "bernoulli")
        _check_out(lambda g, **kw: g.sparse_mask(kw.pop("size"), k=4, axis=1, **kw),
                   (9, 14), idx, dtype, "sparse_mask")


def test_out_3d_noncontiguous():
    shape = (6, 7, 8)
    for idx in [np.s_[::2, 1::3, ::-1], np.s_[4, ..., 2:7], np.s_[:, 6, ::3]]:
        _check_out(lambda g, **kw: g.normal(**kw), shape, idx, F32, "normal 3-D")
        _check_out(lambda g, **kw: g.sparse_mask(kw.pop("size"), k=3, axis=2, **kw),
                   shape, idx, np.uint8, "sparse_mask 3-D")


# ---- partitions: tile the tensor, generate each tile alone, reassemble -------------------------

def _cuts(n, parts):
    """np.array_split's boundaries: uneven when parts does not divide n."""
    edges = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n), parts)])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def partitions(shape, keep_empty=True):
    """name -> list of block indices that tile shape exactly once (with or without the
    empty blocks that even splits of short dims make)."""
    out = _partitions(shape)
    if not keep_empty:
        out = {k: [b for b in v if np.empty(shape, np.uint8)[b].size] for k, v in out.items()}
    return out


def _partitions(shape):
    nd = len(shape)
    out = {}
    out["rows4"] = [(s,) for s in _cuts(shape[0], 4)]
    out["cols3"] = [(slice(None), s) for s in _cuts(shape[1], 3)]
    out["grid2x2"] = [(a, b) for a in _cuts(shape[0], 2) for b in _cuts(shape[1], 2)]
    out["grid3x5"] = [(a, b) for a in _cuts(shape[0], 3) for b in _cuts(shape[1], 5)]
    # uneven hand-made cuts: a 1-row shard, a 1-column shard
    if shape[0] >= 3 and shape[1] >= 3:
        r = [slice(0, 1), slice(1, shape[0] - 2), slice(shape[0] - 2, None)]
        c = [slice(0, shape[1] // 2), slice(shape[1] // 2, shape[1] // 2 + 1),
             slice(shape[1] // 2 + 1, None)]
        out["uneven"] = [(a, b) for a in r for b in c]
    # interleaved (strided) row shards and reversed column halves
    out["interleaved"] = [(slice(i, None, 3),) for i in range(3)]
    out["reversed"] = [(Ellipsis, slice(shape[-1] // 2 - 1, None, -1)) if nd else (),
                       (Ellipsis, slice(None, shape[-1] // 2 - 1, -1))]
    out["rows_ints"] = [(i,) for i in range(shape[0])]
    if nd == 3:
        out["grid2x3x2"] = [(a, b, c_) for a in _cuts(shape[0], 2) for b in _cuts(shape[1], 3)
                            for c_ in _cuts(shape[2], 2)]
    return out


def assemble(make, shape, blocks, dtype):
    """Each block from a fresh generator in the same state, written into place."""
    result = np.empty(shape, dtype)
    hits = np.zeros(shape, np.int64)
    counters = set()
    for idx in blocks:
        g = start_gen()
        result[idx] = make(g, shape, idx)
        hits[idx] += 1
        counters.add(g.counter)
    assert np.all(hits == 1), "the blocks do not tile the tensor"
    return result, counters


PART_SHAPES = [(37, 23), (5, 12, 9)]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape", PART_SHAPES, ids=str)
def test_partition_generator_fills(shape, dtype):
    for name, f in FILLS.items():
        g = start_gen()
        full = f(g, size=shape, dtype=dtype)
        for pname, blocks in partitions(shape).items():
            got, counters = assemble(lambda g_, s, idx: f(g_, size=s, index=idx, dtype=dtype),
                                     shape, blocks, dtype)
            assert_bits_equal(got, full, f"{name}/{dtype} partition {pname}")
            assert counters == {g.counter}


@pytest.mark.parametrize("shape", PART_SHAPES, ids=str)
def test_partition_masks(shape):
    g = start_gen()
    full_b = g.bernoulli(0.3, size=shape)
    for axis in range(len(shape)):
        k = shape[axis] // 3
        gm = start_gen()
        full_m = gm.sparse_mask(shape, k=k, axis=axis)
        for pname, blocks in partitions(shape).items():
            got, counters = assemble(lambda g_, s, idx: g_.bernoulli(0.3, size=s, index=idx),
                                     shape, blocks, np.bool_)
            assert_bits_equal(got, full_b, f"bernoulli partition {pname}")
            assert counters == {g.counter}
            got, counters = assemble(
                lambda g_, s, idx: g_.sparse_mask(s, k=k, axis=axis, index=idx),
                shape, blocks, np.bool_)
            assert_bits_equal(got, full_m, f"sparse_mask axis={axis} partition {pname}")
            assert counters == {gm.counter}


# ---- sequences of calls stay in step ------------------------------------------------------------

LAYERS = [
    ("normal", lambda g, **kw: g.normal(0.0, 0.02, dtype=F32, **kw), (24, 10)),
    ("uniform", lambda g, **kw: g.uniform(-0.1, 0.1, dtype=BF16, **kw), (10,)),
    ("truncated_normal", lambda g, **kw: g.truncated_normal(0, 1, -2, 2, dtype=F16, **kw),
     (6, 4, 5)),
    ("bernoulli", lambda g, **kw: g.bernoulli(0.25, **kw), (33,)),
    ("sparse_mask", lambda g, **kw: g.sparse_mask(kw.pop("size"), k=2, axis=1, **kw), (7, 9)),
    ("standard_normal", lambda g, **kw: g.standard_normal(dtype=F64, **kw), (3, 11)),
    ("random", lambda g, **kw: g.random(dtype=F32, **kw), (100, 3)),
]


def test_sequence_of_layers_stays_in_step():
    """Several layers drawn one after the other from one generator: a rank that makes only
    its block of each layer gets the same blocks and counters as the whole sequence."""
    g = start_gen()
    fulls, counters = [], []
    for _, make, shape in LAYERS:
        fulls.append(make(g, size=shape))
        counters.append(g.counter)
    assert len(set(counters)) == len(counters)      # every layer moved the stream
    rng = random.Random(5)
    for rank in range(12):
        gb = start_gen()
        for (name, make, shape), full, c in zip(LAYERS, fulls, counters):
            idx = _random_index(rng, shape)
            blk = make(gb, size=shape, index=idx)
            assert_bits_equal(blk, full[idx], f"rank {rank} layer {name} [{idx!r}]")
            assert gb.counter == c, f"rank {rank} layer {name}"


# ---- SIMD paths, thread counts, large blocks --------------------------------------------------

LARGE = (640, 1030)            # 659,200 values
LARGE_INDICES = [np.s_[3:600, 1:1029], np.s_[::-2, 5::2], np.s_[1::2], np.s_[..., 1000:2:-1],
                 np.s_[17:400, ::-1]]


def test_large_blocks_are_large_enough_to_thread():
    for idx in LARGE_INDICES:
        assert math.prod(plan_index(LARGE, idx)[0]) >= 2**17


def _reference(fn):
    simd, threads = fastinit.get_simd(), fastinit.get_num_threads()
    try:
        fastinit.set_simd("scalar")
        fastinit.set_num_threads(1)
        return fn()
    finally:
        fastinit.set_simd(simd)
        fastinit.set_num_threads(threads)


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", ["uniform", "normal", "truncated_normal"])
def test_large_blocks_every_simd_path_and_thread_count(name, dtype):
    make = FILLS[name]
    full = _reference(lambda: make(start_gen(), size=LARGE, dtype=dtype))
    before = (fastinit.get_simd(), fastinit.get_num_threads())
    try:
        for path in SIMD:
            fastinit.set_simd(path)
            for threads in (1, 2):
                fastinit.set_num_threads(threads)
                for idx in LARGE_INDICES:
                    blk = make(start_gen(), size=LARGE, dtype=dtype, index=idx)
                    assert_bits_equal(blk, full[idx], f"{name}/{dtype} {path} x{threads} {idx}")
                # a non-contiguous out as well
                out = sentinel((LARGE[1] // 2, LARGE[0] // 2), dtype).T
                make(start_gen(), size=LARGE, dtype=dtype, index=np.s_[::2, ::-2], out=out)
                assert_bits_equal(out, full[::2, ::-2], f"{name}/{dtype} {path} x{threads} out")
    finally:
        fastinit.set_simd(before[0])
        fastinit.set_num_threads(before[1])
    assert (fastinit.get_simd(), fastinit.get_num_threads()) == before


def test_large_mask_blocks_every_simd_path_and_thread_count():
    shape = LARGE
    fb = _reference(lambda: start_gen().bernoulli(0.37, size=shape))
    fm = _reference(lambda: start_gen().sparse_mask(shape, k=100, axis=0))
    before = (fastinit.get_simd(), fastinit.get_num_threads())
    try:
        for path in SIMD:
            fastinit.set_simd(path)
            for threads in (1, 2):
                fastinit.set_num_threads(threads)
                full_m = start_gen().sparse_mask(shape, k=100, axis=0)
                assert_bits_equal(full_m, fm, f"sparse_mask whole {path} x{threads}")
                for idx in LARGE_INDICES:
                    blk = start_gen().bernoulli(0.37, size=shape, index=idx)
                    assert_bits_equal(blk, fb[idx], f"bernoulli {path} x{threads} {idx}")
                    blk = start_gen().sparse_mask(shape, k=100, axis=0, index=idx)
                    assert_bits_equal(blk, fm[idx], f"sparse_mask {path} x{threads} {idx}")
    finally:
        fastinit.set_simd(before[0])
        fastinit.set_num_threads(before[1])


def test_small_blocks_every_simd_path(simd):
    """The `simd` fixture forces each path: small, oddly aligned blocks agree with the
    scalar reference too."""
    for name, make in FILLS.items():
        for dtype in DTYPES:
            shape = (13, 29)
            full = _reference(lambda: make(start_gen(), size=shape, dtype=dtype))
            for idx in block_indices(shape, n=10):
                blk = make(start_gen(), size=shape, dtype=dtype, index=idx)
                assert_bits_equal(blk, full[idx], f"{name}/{dtype} on {simd}")


# ---- in-place functions (torch names) ------------------------------------------------------------

SQ5 = math.sqrt(5)

# id -> (function, kwargs, full shapes, draws from a generator)
INPLACE = {
    "uniform_": (I.uniform_, dict(a=-2.0, b=3.0), [(12, 10), (3, 4, 5)], True),
    "uniform_degenerate": (I.uniform_, dict(a=0.5, b=0.5), [(12, 10)], True),
    "normal_": (I.normal_, dict(mean=0.5, std=2.0), [(12, 10), (3, 4, 5)], True),
    "trunc_normal_": (I.trunc_normal_, dict(mean=0.1, std=1.0, a=-1.5, b=2.0),
                      [(12, 10), (3, 4, 5)], True),
    "constant_": (I.constant_, dict(val=0.3), [(12, 10), (3, 4, 5)], False),
    "ones_": (I.ones_, {}, [(12, 10)], False),
    "zeros_": (I.zeros_, {}, [(12, 10)], False),
    "eye_": (I.eye_, {}, [(7, 10), (10, 7), (6, 6)], False),
    "dirac_": (I.dirac_, {}, [(6, 4, 3), (6, 4, 3, 5), (4, 6, 3, 3, 3)], False),
    "dirac_groups": (I.dirac_, dict(groups=2), [(8, 3, 3, 3), (6, 5, 4)], False),
    "xavier_uniform_": (I.xavier_uniform_, dict(gain=1.3), [(12, 10), (6, 4, 3, 3)], True),
    "xavier_normal_": (I.xavier_normal_, dict(gain=0.7), [(12, 10), (6, 4, 3, 3)], True),
    "kaiming_uniform_": (I.kaiming_uniform_, dict(a=SQ5), [(12, 10), (6, 4, 3, 3)], True),
    "kaiming_normal_": (I.kaiming_normal_, dict(mode="fan_out", nonlinearity="relu"),
                        [(12, 10), (6, 4, 3)], True),
    "orthogonal_": (I.orthogonal_, dict(gain=2.0), [(12, 10), (5, 12), (6, 4, 3)], True),
    "sparse_": (I.sparse_, dict(sparsity=0.3, std=0.1), [(12, 10)], True),
    "martens_sparse_": (defaults.martens_sparse_, dict(k=3, std=0.5),
                        [(12, 10), (6, 4, 3, 3), (5, 2)], True),
    "depth_scaled_normal_": (defaults.depth_scaled_normal_, dict(std=0.02, num_layers=12),
                             [(12, 10)], True),
}
RANDOM_INPLACE = [k for k, v in INPLACE.items() if v[3]]


def run_inplace(name, shape, dtype, gen=None, index=None, arr=None):
    fn, kw, _, rnd = INPLACE[name]
    if arr is None:
        arr = sentinel(shape if index is None else plan_index(shape, index)[0], dtype)
    kw = dict(kw)
    if rnd:
        kw["generator"] = gen
    if index is not None:
        kw.update(full_shape=shape, index=index)
    res = fn(arr, **kw)
    assert res is arr
    return arr


@pytest.mark.filterwarnings("ignore:Initializing zero-element")     # kaiming, empty blocks
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_blocks(name, dtype):
    _, _, shapes, rnd = INPLACE[name]
    for shape in shapes:
        g = start_gen()
        full = run_inplace(name, shape, dtype, g)
        if rnd:
            assert g.counter > START
        for idx in block_indices(shape, n=16):
            gb = start_gen()
            blk = run_inplace(name, shape, dtype, gb, idx)
            assert_bits_equal(blk, full[idx], f"{name}/{dtype} {shape}[{idx!r}]")
            if blk.size:        # (empty blocks: see test_inplace_empty_shard_*)
                assert gb.counter == g.counter, f"{name} {shape}[{idx!r}] counter"


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_blocks_noncontiguous(name):
    """The block may be any strided view (a transposed array, a slice of a bigger one)."""
    _, _, shapes, _ = INPLACE[name]
    shape = shapes[0]
    full = run_inplace(name, shape, F32, start_gen())
    for idx in [np.s_[1::2], np.s_[::-1, 1:], np.s_[2:, ::-2]]:
        block = plan_index(shape, idx)[0]
        t = sentinel(block[::-1], F32).T                  # transposed
        run_inplace(name, shape, F32, start_gen(), idx, arr=t)
        assert_bits_equal(t, full[idx], f"{name} transposed [{idx}]")
        big = sentinel(tuple(2 * n + 1 for n in block), F32)
        v = big[tuple(slice(1, None, 2) for _ in block)]
        run_inplace(name, shape, F32, start_gen(), idx, arr=v)
        assert_bits_equal(v, full[idx], f"{name} strided [{idx}]")
        mask = np.ones(big.shape, bool)
        mask[tuple(slice(1, None, 2) for _ in block)] = False
        assert np.all(as_bits(big)[mask] == as_bits(sentinel(big.shape, F32))[mask])


@pytest.mark.parametrize("name", ["kaiming_uniform_", "normal_", "trunc_normal_", "sparse_",
                                  "martens_sparse_"])
def test_inplace_large_blocks_both_thread_counts(name):
    shape = (640, 1030)
    full = _reference(lambda: run_inplace(name, shape, F32, start_gen()))
    for threads in (1, 2):
        fastinit.set_num_threads(threads)
        for idx in [np.s_[:, 515:], np.s_[320:], np.s_[::-2, 1::2]]:
            blk = run_inplace(name, shape, F32, start_gen(), idx)
            assert_bits_equal(blk, full[idx], f"{name} x{threads} [{idx}]")


@pytest.mark.parametrize("name", ["kaiming_uniform_", "orthogonal_", "sparse_",
                                  "martens_sparse_", "dirac_", "eye_", "xavier_normal_"])
@pytest.mark.parametrize("dtype", [F32, BF16], ids=str)
def test_partition_inplace(name, dtype):
    _, _, shapes, rnd = INPLACE[name]
    for shape in shapes:
        g = start_gen()
        full = run_inplace(name, shape, dtype, g)
        for pname, blocks in partitions(shape, keep_empty=False).items():
            got, counters = assemble(lambda g_, s, idx: run_inplace(name, s, dtype, g_, idx),
                                     shape, blocks, dtype)
            assert_bits_equal(got, full, f"{name}/{dtype} {shape} partition {pname}")
            if rnd:
                assert counters == {g.counter}


def test_inplace_sequence_stays_in_step():
    """A model's layers, one generator: the shards of every layer match (numpy arrays)."""
    seq = [("kaiming_uniform_", (24, 16)), ("normal_", (50, 16)), ("sparse_", (16, 24)),
           ("trunc_normal_", (16, 8, 3)), ("orthogonal_", (10, 12)),
           ("martens_sparse_", (12, 10)), ("xavier_uniform_", (12, 7))]
    g = start_gen()
    fulls = [run_inplace(n, s, F32, g) for n, s in seq]
    end = g.counter
    for idxs in [[np.s_[:12], np.s_[:25], np.s_[8:], np.s_[8:], np.s_[5:], np.s_[6:], np.s_[6:]],
                 [np.s_[:, 1::2]] * len(seq), [np.s_[::-3]] * len(seq),
                 [np.s_[..., 0]] * len(seq)]:
        gb = start_gen()
        for (n, s), idx, full in zip(seq, idxs, fulls):
            blk = run_inplace(n, s, F32, gb, idx)
            assert_bits_equal(blk, full[idx], f"{n} {s}[{idx}]")
        assert gb.counter == end


# ---- fans come from the full shape ----------------------------------------------------------------

def test_kaiming_uniform_column_shard_has_full_bound():
    full_shape = (64, 4096)
    bound = I.calculate_gain("leaky_relu", 0) * math.sqrt(3.0 / 4096)
    shard = np.empty((64, 64), np.float32)
    I.kaiming_uniform_(shard, generator=start_gen(), full_shape=full_shape,
                       index=np.s_[:, 1024:1088])
    m = float(np.max(np.abs(shard)))
    assert m <= bound
    assert m > 0.98 * bound         # 4096 draws: P(max < 0.98 bound) = 0.98**4096 ~ 1e-36
    # a block-shaped kaiming_uniform_ would use fan_in 64: an 8x wider bound
    assert bound < I.calculate_gain("leaky_relu", 0) * math.sqrt(3.0 / 64) / 7


def test_kaiming_uniform_fan_out_row_shard_has_full_bound():
    full_shape = (2048, 32)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 2048)
    shard = np.empty((128, 32), np.float64)
    I.kaiming_uniform_(shard, mode="fan_out", nonlinearity="relu", generator=start_gen(),
                       full_shape=full_shape, index=np.s_[256:384])
    m = float(np.max(np.abs(shard)))
    assert 0.98 * bound < m <= bound


def test_xavier_and_kaiming_normal_shard_std_from_full_shape():
    full_shape = (4096, 256)
    shard = np.empty((64, 256), np.float64)
    I.xavier_normal_(shard, generator=start_gen(), full_shape=full_shape, index=np.s_[64:128])
    want = math.sqrt(2.0 / (4096 + 256))
    assert abs(shard.std() / want - 1) < 0.03     # 16384 draws: sd of the ratio ~ 0.0055
    I.kaiming_normal_(shard, mode="fan_out", generator=start_gen(), full_shape=full_shape,
                      index=np.s_[:64])
    want = math.sqrt(2.0 / (1 + 0.01**2)) / math.sqrt(4096)
    assert abs(shard.std() / want - 1) < 0.03


def test_conv_receptive_field_from_full_shape():
    """(out, in, kh, kw): a shard of the kernel dims keeps the full receptive field."""
    full_shape = (8, 16, 5, 5)
    bound = math.sqrt(6.0 / (16 * 25 + 8 * 25))
    shard = np.empty((8, 16, 1, 5), np.float32)
    I.xavier_uniform_(shard, generator=start_gen(), full_shape=full_shape, index=np.s_[:, :, 2:3])
    assert float(np.max(np.abs(shard))) <= bound
    assert float(np.max(np.abs(shard))) > 0.95 * bound


def test_initializer_object_shard_fans_from_full_shape():
    """JAX layout (in, out): HeUniform on a row block of a wide-in kernel."""
    init = fastinit.HeUniform(seed=3)
    limit = math.sqrt(6.0 / 4096)
    blk = init((4096, 64), np.float32, index=np.s_[:64])
    assert blk.shape == (64, 64)
    m = float(np.max(np.abs(blk)))
    assert 0.98 * limit < m <= limit
    vs = fastinit.VarianceScaling(1.0, "fan_out", "uniform", seed=3)
    blk = vs((64, 4096), np.float32, index=np.s_[:, :64])
    limit = math.sqrt(3.0 / 4096)
    assert 0.98 * limit < float(np.max(np.abs(blk))) <= limit


# ---- initializer objects -------------------------------------------------------------------------

def _inits():
    return {
        "Constant": (fastinit.Constant(0.7), [(12, 10), (3, 4, 5)]),
        "Zeros": (fastinit.Zeros(), [(12, 10)]),
        "Ones": (fastinit.Ones(), [(12, 10)]),
        "zeros": (fastinit.zeros, [(12, 10)]),
        "ones": (fastinit.ones, [(3, 4, 5)]),
        "constant": (fastinit.constant(-2.5), [(12, 10)]),
        "RandomUniform": (fastinit.RandomUniform(-1.0, 2.0, seed=3), [(12, 10), (3, 4, 5)]),
        "RandomNormal": (fastinit.RandomNormal(0.5, 2.0, seed=4), [(12, 10)]),
        "TruncatedNormal": (fastinit.TruncatedNormal(0.1, 1.5, seed=5, lower=-1.0, upper=3.0),
                            [(12, 10), (3, 4, 5)]),
        "VarianceScaling_uniform": (fastinit.VarianceScaling(2.0, "fan_avg", "uniform", seed=6),
                                    [(12, 10), (3, 3, 4, 6)]),
        "VarianceScaling_axes": (fastinit.VarianceScaling(
            1.0, "fan_geo_avg", "untruncated_normal", seed=7, in_axis=0, out_axis=1,
            batch_axis=2), [(4, 6, 3, 5)]),
        "variance_scaling_normal": (fastinit.variance_scaling(0.5, "fan_out", "normal",
                                                              seed=8), [(12, 10)]),
        "GlorotUniform": (fastinit.GlorotUniform(seed=9), [(12, 10), (3, 3, 4, 6)]),
        "GlorotNormal": (fastinit.GlorotNormal(seed=10), [(12, 10)]),
        "HeUniform": (fastinit.HeUniform(seed=11), [(12, 10)]),
        "HeNormal": (fastinit.HeNormal(seed=12), [(12, 10), (3, 3, 4, 6)]),
        "LecunUniform": (fastinit.LecunUniform(seed=13), [(12, 10)]),
        "LecunNormal": (fastinit.LecunNormal(seed=14), [(12, 10)]),
        "glorot_uniform": (fastinit.glorot_uniform(seed=15), [(12, 10)]),
        "xavier_normal": (fastinit.xavier_normal(seed=16), [(12, 10)]),
        "he_normal": (fastinit.he_normal(seed=17), [(12, 10)]),
        "kaiming_uniform": (fastinit.kaiming_uniform(seed=18), [(12, 10)]),
        "lecun_normal": (fastinit.lecun_normal(seed=19), [(3, 3, 4, 6)]),
        "lecun_uniform": (fastinit.lecun_uniform(seed=20), [(12, 10)]),
        "uniform": (fastinit.uniform(0.1, seed=21), [(12, 10)]),
        "normal": (fastinit.normal(0.2, seed=22), [(12, 10)]),
        "truncated_normal": (fastinit.truncated_normal(0.3, seed=23), [(12, 10)]),
        "Orthogonal": (fastinit.Orthogonal(1.5, seed=24), [(12, 10), (10, 12), (3, 4, 5)]),
        "orthogonal_axis0": (fastinit.orthogonal(column_axis=0, seed=25), [(12, 10), (3, 4, 5)]),
        "DeltaOrthogonal": (fastinit.DeltaOrthogonal(seed=26), [(3, 3, 4, 6), (5, 4, 4)]),
        "delta_orthogonal": (fastinit.delta_orthogonal(2.0, seed=27), [(3, 2, 2, 3, 5)]),
        "Identity": (fastinit.Identity(2.0), [(7, 10), (10, 7)]),
        "identity": (fastinit.identity(), [(6, 6)]),
        "MartensSparse": (defaults.MartensSparse(k=3, stddev=0.5, seed=28),
                          [(12, 10), (3, 3, 4, 6), (2, 5)]),
        "DepthScaledNormal": (defaults.DepthScaledNormal(0.02, 6, seed=29), [(12, 10)]),
    }


INITS = _inits()


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", list(INITS))
def test_initializer_blocks(name, dtype):
    init, shapes = INITS[name]
    for shape in shapes:
        full_own = init(shape, dtype)                 # its own seed
        g = start_gen()
        full_gen = init(shape, dtype, generator=g)    # generator=
        for idx in block_indices(shape, n=16):
            blk = init(shape, dtype, index=idx)
            assert_bits_equal(blk, full_own[idx], f"{name}/{dtype} {shape}[{idx!r}]")
            gb = start_gen()
            blk = init(shape, dtype, generator=gb, index=idx)
            assert_bits_equal(blk, full_gen[idx], f"{name}/{dtype} gen {shape}[{idx!r}]")
            if blk.size:
                assert gb.counter == g.counter, f"{name} {shape}[{idx!r}] counter"
            # out= (strided) with index=
            block = plan_index(shape, idx)[0]
            big = sentinel(tuple(2 * n for n in block), dtype)
            out = big[tuple(slice(None, None, 2) for _ in block)] if block else \
                sentinel((), dtype)
            res = init(shape, generator=start_gen(), out=out, index=idx)
            assert res is out
            assert_bits_equal(out, full_gen[idx], f"{name}/{dtype} out {shape}[{idx!r}]")


@pytest.mark.parametrize("name", ["HeNormal", "Orthogonal", "DeltaOrthogonal", "MartensSparse",
                                  "Identity", "VarianceScaling_axes", "GlorotUniform"])
def test_partition_initializers(name):
    init, shapes = INITS[name]
    for shape in shapes:
        if len(shape) < 2:
            continue
        g = start_gen()
        full = init(shape, F32, generator=g)
        for pname, blocks in partitions(shape, keep_empty=False).items():
            got, counters = assemble(
                lambda g_, s, idx: init(s, F32, generator=g_, index=idx), shape, blocks, F32)
            assert_bits_equal(got, full, f"{name} {shape} partition {pname}")
            if init._random:
                assert counters == {g.counter}


def test_initializer_default_dtype_block():
    blk = fastinit.HeNormal(seed=1)((8, 6), index=np.s_[2:5])
    assert blk.dtype == np.float32
    assert_bits_equal(blk, fastinit.HeNormal(seed=1)((8, 6))[2:5])
    blk = fastinit.HeNormal(seed=1, dtype="bfloat16")((8, 6), index=np.s_[2:5])
    assert blk.dtype == BF16


# ---- empty shards ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", RANDOM_INPLACE)
def test_inplace_empty_shard_advances_generator(name):
    """A rank whose shard is empty (e.g. 3 rows over 4 ranks) must still advance its generator
    as the whole call does, or every later layer on that rank is out of step."""
    _, _, shapes, _ = INPLACE[name]
    shape = shapes[0]
    g = start_gen()
    run_inplace(name, shape, F32, g)
    gb = start_gen()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blk = run_inplace(name, shape, F32, gb, np.s_[shape[0]:])
    assert blk.size == 0
    assert gb.counter == g.counter, f"{name}: empty shard left the counter at {gb.counter}"


@pytest.mark.parametrize("name", [n for n, (i, _) in INITS.items() if i._random])
def test_initializer_empty_shard_advances_generator(name):
    init, shapes = INITS[name]
    shape = shapes[0]
    g = start_gen()
    init(shape, F32, generator=g)
    gb = start_gen()
    blk = init(shape, F32, generator=gb, index=np.s_[..., 0:0])
    assert blk.size == 0
    assert gb.counter == g.counter, f"{name}: empty shard left the counter at {gb.counter}"


def test_generator_empty_block_advances():
    for name, make in FILLS.items():
        g = start_gen()
        make(g, size=(5, 4))
        gb = start_gen()
        assert make(gb, size=(5, 4), index=np.s_[5:]).shape == (0, 4)
        assert gb.counter == g.counter, name
    g, gb = start_gen(), start_gen()
    g.sparse_mask((5, 4), k=2)
    assert gb.sparse_mask((5, 4), k=2, index=np.s_[:, 2:2]).shape == (5, 0)
    assert gb.counter == g.counter


# ---- errors ---------------------------------------------------------------------------------------

BAD_INDICES = [
    ((5, 4), 5), ((5, 4), -6), ((5, 4), (0, 4)), ((5, 4), (0, -5)),
    ((5, 4), slice(0, 6)), ((5, 4), slice(-6, None)), ((5, 4), (slice(None), slice(None, 5))),
    ((5, 4), (slice(None), slice(-5, 2, -1))), ((5, 4), slice(6, None, -1)),
    ((5, 4), (0, 0, 0)), ((5, 4), (Ellipsis, 0, 0, 0)), ((5, 4), (None,)), ((5, 4), (None, 0)),
    ((5, 4), (0, None)), ((5, 4), np.array([0, 1])), ((5, 4), [0, 1]), ((5, 4), (0, [1, 2])),
    ((5, 4), True), ((5, 4), (np.bool_(False),)), ((5, 4), np.ones(5, bool)),
    ((5, 4), (Ellipsis, Ellipsis)), ((5, 4), (Ellipsis, 0, Ellipsis)),
    ((5, 4), slice(None, None, 0)), ((5, 4), (0, slice(1, 3, 0))), ((5, 4), slice(0.5, 2)),
    ((5, 4), slice(None, "a")), ((5, 4), "a"), ((5, 4), 1.0), ((5, 4), (0, 1.5)),
    ((), 0), ((), (slice(None),)), ((0,), 0), ((7,), (1, 2)),
]
BAD_IDS = [f"{s}-{i!r}"[:60] for s, i in BAD_INDICES]


@pytest.mark.parametrize("shape,idx", BAD_INDICES, ids=BAD_IDS)
def test_plan_index_rejects(shape, idx):
    with pytest.raises(ValueError):
        plan_index(shape, idx)


ALL_FILLS = dict(FILLS)
ALL_FILLS["bernoulli"] = lambda g, **kw: g.bernoulli(0.5, **kw)
ALL_FILLS["sparse_mask"] = lambda g, **kw: g.sparse_mask(kw.pop("size"), k=1, **kw)


@pytest.mark.parametrize("shape,idx", BAD_INDICES, ids=BAD_IDS)
def test_fills_reject_bad_index_and_keep_counter(shape, idx):
    for name, make in ALL_FILLS.items():
        if name == "sparse_mask" and shape == ():
            continue        # sparse_mask refuses 0-d shapes whatever the index
        g = start_gen()
        with pytest.raises(ValueError):
            make(g, size=shape, index=idx)
        assert g.counter == START, f"{name}: a bad index moved the counter"
        with pytest.raises(ValueError):
            make(g, size=shape, index=idx, out=np.empty(shape, np.float32 if "mask" not in
                                                        name and name != "bernoulli"
                                                        else np.bool_))
        assert g.counter == START, f"{name}: a bad index with out= moved the counter"


@pytest.mark.parametrize("idx", [slice(0, 2, 1.5), slice(None, None, "x"),
                                 (0, slice(None, None, 2.0))], ids=repr)
def test_non_integer_step_is_value_error(idx):
    """plan_index documents ValueError for every bad index and turns non-int slice bounds into
    ValueError; a non-int step is a bad index too."""
    with pytest.raises(ValueError):
        plan_index((5, 4), idx)
    g = start_gen()
    with pytest.raises(ValueError):
        g.normal(size=(5, 4), index=idx)
    assert g.counter == START


def test_index_without_size():
    for name, make in FILLS.items():
        g = start_gen()
        with pytest.raises(ValueError, match="size"):
            make(g, index=np.s_[:2])
        with pytest.raises(ValueError, match="size"):
            make(g, index=np.s_[:2], out=np.empty(2))
        assert g.counter == START
    g = start_gen()
    with pytest.raises(ValueError, match="size"):
        g.bernoulli(0.5, index=0)
    assert g.counter == START


def _out_for(name, shape):
    return np.empty(shape, np.bool_ if name in ("bernoulli", "sparse_mask") else np.float64)


# (full shape, index, out shape): the out does not match full[index]
MISMATCHED_OUT = [((5, 4), np.s_[:2], (3, 4)), ((5, 4), np.s_[1], (1, 4)),
                  ((5, 4), np.s_[..., 0], (5, 1)), ((5, 4), np.s_[:, ::2], (5, 4)),
                  ((5, 4), np.s_[0, 0], (1,)), ((5, 4), np.s_[2:2], (2, 4))]


def test_mismatched_out_raises():
    for name, make in ALL_FILLS.items():
        for shape, idx, oshape in MISMATCHED_OUT:
            with pytest.raises(ValueError):
                make(start_gen(), size=shape, index=idx, out=_out_for(name, oshape))
        ro = _out_for(name, (2, 4))
        ro.flags.writeable = False
        with pytest.raises(ValueError):
            make(start_gen(), size=(5, 4), index=np.s_[:2], out=ro)


@pytest.mark.parametrize("name", list(ALL_FILLS))
def test_mismatched_out_keeps_counter(name):
    """Without index=, a bad out raises before the stream moves; with index= it should too
    (a caller who catches the error must not find its generator out of step)."""
    make = ALL_FILLS[name]
    g = start_gen()
    with pytest.raises(ValueError):
        make(g, size=(5, 4), out=_out_for(name, (3, 4)))
    assert g.counter == START
    for shape, idx, oshape in MISMATCHED_OUT:
        g = start_gen()
        with pytest.raises(ValueError):
            make(g, size=shape, index=idx, out=_out_for(name, oshape))
        assert g.counter == START, f"{name} [{idx}] out {oshape}: counter moved to {g.counter}"


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_errors(name):
    fn, kw, shapes, rnd = INPLACE[name]
    shape = shapes[0]
    kw = dict(kw)
    g = start_gen()
    if rnd:
        kw["generator"] = g
    arr = sentinel((2,) + shape[1:], F32)
    before = as_bits(arr).copy()
    # index= without full_shape=
    with pytest.raises(ValueError, match="full_shape"):
        fn(arr, index=np.s_[:2], **kw)
    # an array that is not full[index]
    with pytest.raises(ValueError):
        fn(arr, full_shape=shape, index=np.s_[:3], **kw)
    with pytest.raises(ValueError):
        fn(arr, full_shape=shape, index=np.s_[1], **kw)
    with pytest.raises(ValueError):
        fn(arr, full_shape=shape, **kw)                 # no index: the whole shape
    # bad indices
    for idx in [np.s_[:2, ..., ...], (slice(0, 2),) + (0,) * len(shape), np.s_[:2:0],
                np.s_[shape[0] - 1:shape[0] + 1], (None,), (0, None), [0, 1], True]:
        with pytest.raises(ValueError):
            fn(arr, full_shape=shape, index=idx, **kw)
    assert np.array_equal(as_bits(arr), before), f"{name}: a refused call wrote the array"
    assert g.counter == START, f"{name}: a refused call moved the generator"


@pytest.mark.parametrize("name", list(INITS))
def test_initializer_errors(name):
    init, shapes = INITS[name]
    shape = shapes[0]
    g = start_gen()
    out = sentinel((2,) + shape[1:], F32)
    with pytest.raises(ValueError):
        init(None, out=out, index=np.s_[:2], generator=g)         # index= needs the shape
    with pytest.raises(ValueError):
        init(shape, out=out, index=np.s_[:3], generator=g)        # out is not full[index]
    for idx in [np.s_[:2, ..., ...], np.s_[:2:0], np.s_[shape[0]], (None,), [0, 1], True]:
        with pytest.raises(ValueError):
            init(shape, F32, index=idx, generator=g)
        with pytest.raises(ValueError):
            init(shape, out=out, index=idx, generator=g)
    assert g.counter == START


# ---- orthogonal with index=: refused above 2**28 elements, before allocating ---------------------

ABOVE = 2**28 + 1           # = 17 * 15790321


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


REFUSALS = ["Orthogonal", "orthogonal_axis0", "orthogonal_", "DeltaOrthogonal"]


def _refused_call(case, g):
    """An orthogonal initializer with index= on a shape of 2**28 + 1 elements (float16)."""
    assert 17 * 15790321 == ABOVE
    with pytest.raises(ValueError, match="refused"):
        if case == "Orthogonal":
            fastinit.Orthogonal(seed=0)((17, 15790321), F16, generator=g, index=np.s_[:1, :2])
        elif case == "orthogonal_axis0":
            fastinit.orthogonal(column_axis=0, seed=0)((15790321, 17), F16, generator=g,
                                                       index=np.s_[:2, :1])
        elif case == "orthogonal_":
            I.orthogonal_(np.empty((1, 2), F16), generator=g, full_shape=(17, 15790321),
                          index=np.s_[:1, :2])
        else:       # (*k, in, out) with in <= out
            fastinit.DeltaOrthogonal(seed=0)((15790321, 1, 17), F16, generator=g,
                                             index=np.s_[:1])


@pytest.mark.parametrize("case", REFUSALS)
def test_orthogonal_index_refused_above_limit_without_allocating(case):
    """The refusal exists to avoid making a huge matrix: it must come before any allocation
    of the whole tensor (float16: 512 MiB here)."""
    peak = _peak_bytes(lambda: _refused_call(case, start_gen()))
    assert peak < 16 * 2**20, f"{case}: allocated {peak / 2**20:.0f} MiB before refusing"


@pytest.mark.parametrize("case", REFUSALS)
def test_orthogonal_index_refusal_keeps_generator(case):
    g = start_gen()
    _refused_call(case, g)
    assert g.counter == START, f"{case}: the refused call moved the generator to {g.counter}"


def test_orthogonal_index_at_small_sizes_is_not_refused():
    # far below the limit: fine, and equal to the whole matrix's block
    full = fastinit.Orthogonal(seed=1)((40, 30), F32)
    assert_bits_equal(fastinit.Orthogonal(seed=1)((40, 30), F32, index=np.s_[5:9]), full[5:9])


# ---- the framework defaults that fill a weight and a bias -----------------------------------

@pytest.mark.parametrize("index", [np.s_[2:9], np.s_[:, 1:5], np.s_[3:12:2, ::-1], np.s_[11:]])
def test_torch_linear_shards(index):
    from fastinit import defaults
    full = (12, 7)
    w, b = np.empty(full, np.float32), np.empty(12, np.float32)
    defaults.torch_linear_(w, b, generator=3)
    rows = index[0] if isinstance(index, tuple) else index
    ws, bs = np.empty(w[index].shape, np.float32), np.empty(b[rows].shape, np.float32)
    g = fastinit.Generator(3)
    defaults.torch_linear_(ws, bs, generator=g, full_shape=full, index=index)
    assert_bits_equal(ws, w[index], "weight shard")
    assert_bits_equal(bs, b[rows], "bias shard")
    g2 = fastinit.Generator(3)
    defaults.torch_linear_(np.empty(full, np.float32), np.empty(12, np.float32), generator=g2)
    assert g.counter == g2.counter
    with pytest.raises(ValueError):        # a bias that is not the weight's rows
        defaults.torch_linear_(ws, np.empty(3, np.float32), generator=3, full_shape=full,
                               index=index)


def test_torch_embedding_and_flax_dense_shards():
    from fastinit import defaults
    e = np.empty((10, 4), np.float32)
    defaults.torch_embedding_(e, padding_idx=3, generator=1)
    for index in (np.s_[1:6], np.s_[4:], np.s_[:, 2:]):
        es = np.empty(e[index].shape, np.float32)
        defaults.torch_embedding_(es, padding_idx=3, generator=1, full_shape=(10, 4),
                                  index=index)
        assert_bits_equal(es, e[index], f"embedding {index}")
    k, kb = np.empty((3, 3, 4, 6), np.float32), np.full(6, 7.0, np.float32)
    defaults.flax_dense_(k, kb, generator=2)
    ks, kbs = np.empty((3, 3, 4, 2), np.float32), np.full(2, 7.0, np.float32)
    defaults.flax_dense_(ks, kbs, generator=2, full_shape=(3, 3, 4, 6), index=np.s_[..., 2:4])
    assert_bits_equal(ks, k[..., 2:4], "flax kernel shard")
    assert (kbs == 0).all()
