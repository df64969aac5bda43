"""fastinit.dask: lazy arrays whose compute() is bitwise the Generator's array, for any
chunking, dtype and scheduler (synchronous, threads, a distributed LocalCluster), with one
small task per chunk."""
import math
import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import fastinit
import fastinit.dask as fd
from _util import BF16, F16, F32, F64, assert_bits_equal, dtype_params

SEED = 20240607

# name -> (fastinit.dask call, the Generator call it must equal); both take size, dtype
METHODS = {
    "random": (lambda size, chunks, dtype, seed=SEED: fd.random(size, chunks=chunks, seed=seed,
                                                                 dtype=dtype),
               lambda g, size, dtype: g.random(size=size, dtype=dtype)),
    "uniform": (lambda size, chunks, dtype, seed=SEED: fd.uniform(-2.0, 3.0, size=size,
                                                                   chunks=chunks, seed=seed,
                                                                   dtype=dtype),
                lambda g, size, dtype: g.uniform(-2.0, 3.0, size=size, dtype=dtype)),
    "standard_normal": (lambda size, chunks, dtype, seed=SEED: fd.standard_normal(
                            size, chunks=chunks, seed=seed, dtype=dtype),
                        lambda g, size, dtype: g.standard_normal(size=size, dtype=dtype)),
    "normal": (lambda size, chunks, dtype, seed=SEED: fd.normal(0.5, 0.02, size=size,
                                                                 chunks=chunks, seed=seed,
                                                                 dtype=dtype),
               lambda g, size, dtype: g.normal(0.5, 0.02, size=size, dtype=dtype)),
    "truncated_normal": (lambda size, chunks, dtype, seed=SEED: fd.truncated_normal(
                             0.0, 1.0, -1.0, 2.5, size=size, chunks=chunks, seed=seed,
                             dtype=dtype),
                         lambda g, size, dtype: g.truncated_normal(0.0, 1.0, -1.0, 2.5,
                                                                   size=size, dtype=dtype)),
}
BERNOULLI = (lambda size, chunks, dtype, seed=SEED: fd.bernoulli(0.3, size=size, chunks=chunks,
                                                                 seed=seed, dtype=dtype),
             lambda g, size, dtype: g.bernoulli(0.3, size=size, dtype=dtype))

SHAPE = (61, 47)
CHUNKINGS = [
    pytest.param("auto", id="auto"),
    pytest.param(16, id="16"),
    pytest.param((20, 47), id="row-chunks"),
    pytest.param((61, 10), id="col-chunks"),
    pytest.param(((1, 30, 20, 10), (7, 40)), id="uneven"),
    pytest.param((7, 5), id="small"),
    pytest.param(SHAPE, id="one-chunk"),
    pytest.param(-1, id="minus-one"),
]


def reference(gen_call, size, dtype, seed=SEED):
    return gen_call(fastinit.Generator(seed), size, dtype)


def compute(x, scheduler="synchronous"):
    return x.compute(scheduler=scheduler)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", list(METHODS))
def test_methods_equal_generator(name, dtype, chunks):
    make, gen = METHODS[name]
    x = make(SHAPE, chunks, dtype)
    assert x.shape == SHAPE and x.dtype == dtype
    assert_bits_equal(compute(x), reference(gen, SHAPE, dtype), f"{name}/{dtype}/{chunks}")


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("dtype", [None, np.bool_, np.uint8, F32, BF16], ids=str)
def test_bernoulli_equals_generator(dtype, chunks):
    make, gen = BERNOULLI
    x = make(SHAPE, chunks, dtype)
    want = reference(gen, SHAPE, dtype)
    assert x.dtype == want.dtype
    assert_bits_equal(compute(x), want, f"bernoulli/{dtype}/{chunks}")


@pytest.mark.parametrize("name", list(METHODS) + ["bernoulli"])
def test_threaded_scheduler(name):
    make, gen = BERNOULLI if name == "bernoulli" else METHODS[name]
    dtype = None if name == "bernoulli" else BF16
    shape = (300, 257)
    want = reference(gen, shape, dtype)
    for chunks in [(64, 64), ((100, 150, 50), (1, 256)), "auto"]:
        x = make(shape, chunks, dtype)
        assert_bits_equal(compute(x, "threads"), want, f"{name} threads {chunks}")
        assert_bits_equal(compute(x, "synchronous"), want, f"{name} sync {chunks}")


@pytest.mark.parametrize("shape,chunks", [((1000,), 77), ((6, 7, 8), (2, 3, 5)),
                                           ((5, 4, 3, 2), 2), ((), ()), ((0, 5), 2),
                                           ((4, 0), (2, 1))], ids=str)
def test_other_ranks_and_empty(shape, chunks):
    for name, (make, gen) in METHODS.items():
        x = make(shape, chunks, F32)
        assert_bits_equal(compute(x), reference(gen, shape, F32), f"{name} {shape}")


def test_chunk_sizes_never_change_values():
    """The same array under many chunkings, and each chunk alone, is one set of values."""
    shape = (64, 48)
    want = reference(METHODS["normal"][1], shape, F32)
    for chunks in [(1, 48), (64, 1), (3, 7), (13, 48), ((60, 4), (1, 1, 46)), 64 * 48]:
        x = METHODS["normal"][0](shape, chunks, F32)
        assert_bits_equal(compute(x), want, f"chunks {chunks}")
        # chunk (i, j) alone
        for i in range(0, x.numblocks[0], max(1, x.numblocks[0] // 3)):
            for j in range(0, x.numblocks[1], max(1, x.numblocks[1] // 3)):
                r0 = sum(x.chunks[0][:i])
                c0 = sum(x.chunks[1][:j])
                blk = x.blocks[i, j].compute(scheduler="synchronous")
                assert_bits_equal(blk, want[r0:r0 + x.chunks[0][i], c0:c0 + x.chunks[1][j]],
                                  f"chunks {chunks} block {(i, j)}")


def test_auto_chunks_for_bfloat16_large_array():
    """'auto' splits a large array into several chunks; still the Generator's values."""
    shape = (2048, 1024)
    with dask.config.set({"array.chunk-size": "1MiB"}):
        x = fd.normal(0.0, 1.0, size=shape, seed=3, dtype=BF16)
    assert x.npartitions > 1
    assert_bits_equal(x.compute(scheduler="threads"),
                      fastinit.Generator(3).normal(0.0, 1.0, size=shape, dtype=BF16))


def test_slicing_and_arithmetic_on_the_lazy_array():
    x = fd.uniform(0.0, 1.0, size=(40, 30), chunks=(7, 11), seed=5, dtype=F64)
    want = fastinit.Generator(5).uniform(0.0, 1.0, size=(40, 30))
    assert_bits_equal(x[3:33:2, ::-3].compute(scheduler="synchronous"), want[3:33:2, ::-3])
    assert_bits_equal((2 * x - 1).compute(scheduler="synchronous"), 2 * want - 1)


def test_seed_none_is_fixed_at_construction():
    x = fd.normal(size=(30, 20), chunks=(7, 6), seed=None, dtype=F32)
    a = x.compute(scheduler="synchronous")
    b = x.compute(scheduler="threads")
    assert_bits_equal(a, b)
    y = fd.normal(size=(30, 20), chunks=(7, 6), seed=None, dtype=F32)
    assert x.name != y.name
    assert not np.array_equal(a, y.compute(scheduler="synchronous"))


def test_distinct_arrays_have_distinct_names_and_compute_together():
    """Arrays differing only in seed, parameters, dtype or initializer never share a graph
    name (they would silently share values when computed together)."""
    arrays = {
        "s1": fd.normal(0.0, 1.0, size=(20, 10), chunks=5, seed=1, dtype=F32),
        "s2": fd.normal(0.0, 1.0, size=(20, 10), chunks=5, seed=2, dtype=F32),
        "loc": fd.normal(1.0, 1.0, size=(20, 10), chunks=5, seed=1, dtype=F32),
        "f64": fd.normal(0.0, 1.0, size=(20, 10), chunks=5, seed=1, dtype=F64),
        "std": fd.standard_normal(size=(20, 10), chunks=5, seed=1, dtype=F32),
        "he1": fd.from_initializer(fastinit.he_normal(seed=1), (20, 10), chunks=5),
        "he2": fd.from_initializer(fastinit.he_normal(seed=2), (20, 10), chunks=5),
        "heu": fd.from_initializer(fastinit.he_uniform(seed=1), (20, 10), chunks=5),
        "he1g": fd.from_initializer(fastinit.he_normal(seed=1), (20, 10), chunks=5, seed=7),
    }
    assert len({x.name for x in arrays.values()}) == len(arrays)
    got = dict(zip(arrays, dask.compute(*arrays.values(), scheduler="synchronous")))
    g = fastinit.Generator
    want = {
        "s1": g(1).normal(0.0, 1.0, size=(20, 10), dtype=F32),
        "s2": g(2).normal(0.0, 1.0, size=(20, 10), dtype=F32),
        "loc": g(1).normal(1.0, 1.0, size=(20, 10), dtype=F32),
        "f64": g(1).normal(0.0, 1.0, size=(20, 10), dtype=F64),
        "std": g(1).standard_normal(size=(20, 10), dtype=F32),
        "he1": fastinit.he_normal(seed=1)((20, 10), F32),
        "he2": fastinit.he_normal(seed=2)((20, 10), F32),
        "heu": fastinit.he_uniform(seed=1)((20, 10), F32),
        "he1g": fastinit.he_normal(seed=1)((20, 10), F32, generator=g(7)),
    }
    for k in arrays:
        assert_bits_equal(got[k], want[k], k)


# ---- from_initializer ----------------------------------------------------------------------------

def _initializers():
    return {
        "he_normal": (fastinit.he_normal(seed=1), (48, 40)),
        "glorot_uniform": (fastinit.glorot_uniform(seed=2), (3, 3, 16, 24)),
        "lecun_normal": (fastinit.LecunNormal(seed=3), (48, 40)),
        "variance_scaling": (fastinit.VarianceScaling(2.0, "fan_avg", "untruncated_normal",
                                                      seed=4), (30, 20)),
        "truncated_normal": (fastinit.TruncatedNormal(0.0, 0.1, seed=5), (30, 20)),
        "random_uniform": (fastinit.RandomUniform(-1.0, 1.0, seed=6), (30, 20)),
        "orthogonal": (fastinit.orthogonal(1.5, seed=7), (30, 20)),
        "orthogonal_3d": (fastinit.Orthogonal(seed=8), (4, 5, 12)),
        "delta_orthogonal": (fastinit.delta_orthogonal(seed=9), (3, 3, 8, 12)),
        "identity": (fastinit.identity(2.0), (30, 20)),
        "constant": (fastinit.constant(0.25), (30, 20)),
        "zeros": (fastinit.zeros, (30, 20)),
        "martens_sparse": (fastinit.defaults.MartensSparse(k=4, seed=10), (30, 20)),
        "depth_scaled": (fastinit.defaults.DepthScaledNormal(0.02, 12, seed=11), (30, 20)),
    }


INITS = _initializers()


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("name", list(INITS))
def test_from_initializer(name, dtype):
    init, shape = INITS[name]
    for chunks in ["auto", tuple(max(1, n // 3) for n in shape),
                   tuple((n - 1, 1) if n > 1 else (n,) for n in shape)]:
        x = fd.from_initializer(init, shape, chunks=chunks, seed=123, dtype=dtype)
        assert x.dtype == dtype and x.shape == shape
        want = init(shape, dtype, generator=fastinit.Generator(123))
        assert_bits_equal(compute(x), want, f"{name}/{dtype}/{chunks} seed=123")
        y = fd.from_initializer(init, shape, chunks=chunks, seed=None, dtype=dtype)
        assert_bits_equal(compute(y), init(shape, dtype), f"{name}/{dtype}/{chunks} own seed")


def test_from_initializer_default_dtype_is_float32():
    x = fd.from_initializer(fastinit.he_normal(seed=1), (10, 8), chunks=3, seed=2)
    assert x.dtype == F32
    assert_bits_equal(compute(x), fastinit.he_normal(seed=1)((10, 8), F32,
                                                              generator=fastinit.Generator(2)))


def test_from_initializer_threads():
    init = fastinit.he_uniform(seed=3)
    x = fd.from_initializer(init, (200, 120), chunks=(33, 50), seed=4, dtype=BF16)
    assert_bits_equal(compute(x, "threads"),
                      init((200, 120), BF16, generator=fastinit.Generator(4)))


# ---- the graph: one small task per chunk ------------------------------------------------------------

def _graph(x):
    return dict(x.__dask_graph__())


@pytest.mark.parametrize("make", [
    lambda shape, chunks: fd.normal(0.0, 1.0, size=shape, chunks=chunks, seed=1, dtype=F32),
    lambda shape, chunks: fd.truncated_normal(size=shape, chunks=chunks, seed=1, dtype=BF16),
    lambda shape, chunks: fd.bernoulli(0.5, size=shape, chunks=chunks, seed=1),
    lambda shape, chunks: fd.from_initializer(fastinit.he_normal(seed=1), shape, chunks=chunks,
                                              seed=1),
], ids=["normal", "truncated_normal", "bernoulli", "from_initializer"])
def test_graph_one_task_per_chunk_and_size_independent_of_array_size(make):
    small = make((60, 40), (6, 4))          # 10 x 10 chunks of 24 values
    big = make((600, 400), (60, 40))        # 10 x 10 chunks of 2400 values (100x)
    more = make((60, 40), (3, 2))           # 20 x 20 chunks
    for x in (small, big, more):
        assert len(_graph(x)) == x.npartitions == math.prod(x.numblocks)
    assert small.npartitions == big.npartitions == 100
    ps, pb, pm = (len(pickle.dumps(_graph(x))) for x in (small, big, more))
    assert abs(pb - ps) <= 0.05 * ps, f"graph {ps} B for 24-value chunks, {pb} B for 2400"
    assert pm > 3 * ps, "4x the chunks should make a ~4x larger graph"
    # small: far less than the values (2400 x 4 bytes per chunk would be 960 kB)
    assert pb < 100 * 1200


# ---- zarr ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, F16, F64], ids=str)
def test_zarr_round_trip(tmp_path, dtype):
    zarr = pytest.importorskip("zarr")
    shape = (70, 45)
    x = fd.normal(0.0, 0.02, size=shape, chunks=(16, 20), seed=11, dtype=dtype)
    path = str(tmp_path / "a.zarr")
    x.to_zarr(path)
    want = fastinit.Generator(11).normal(0.0, 0.02, size=shape, dtype=dtype)
    z = zarr.open(path, mode="r")
    assert z.shape == shape
    assert_bits_equal(np.asarray(z[...]), want, "zarr.open")
    assert_bits_equal(da.from_zarr(path).compute(scheduler="synchronous"), want, "from_zarr")


def test_zarr_round_trip_initializer_and_mask(tmp_path):
    zarr = pytest.importorskip("zarr")
    init = fastinit.glorot_uniform(seed=5)
    x = fd.from_initializer(init, (40, 24), chunks=(9, 24), seed=6)
    m = fd.bernoulli(0.2, size=(40, 24), chunks=(13, 5), seed=7)
    x.to_zarr(str(tmp_path / "w.zarr"))
    m.to_zarr(str(tmp_path / "m.zarr"))
    assert_bits_equal(np.asarray(zarr.open(str(tmp_path / "w.zarr"), mode="r")[...]),
                      init((40, 24), F32, generator=fastinit.Generator(6)))
    assert_bits_equal(np.asarray(zarr.open(str(tmp_path / "m.zarr"), mode="r")[...]),
                      fastinit.Generator(7).bernoulli(0.2, size=(40, 24)))


# ---- a distributed LocalCluster (2 worker processes) ----------------------------------------------

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def test_local_cluster(client):
    shape = (300, 200)
    chunks = (64, 70)
    arrays = [
        fd.normal(0.0, 0.02, size=shape, chunks=chunks, seed=1, dtype=F32),
        fd.truncated_normal(0.0, 1.0, -2.0, 2.0, size=shape, chunks=chunks, seed=2, dtype=BF16),
        fd.bernoulli(0.1, size=shape, chunks=chunks, seed=3),
        fd.from_initializer(fastinit.he_normal(seed=4), shape, chunks=chunks, seed=5),
        fd.from_initializer(fastinit.he_normal(seed=4), shape, chunks=chunks),
    ]
    g = fastinit.Generator
    want = [
        g(1).normal(0.0, 0.02, size=shape, dtype=F32),
        g(2).truncated_normal(0.0, 1.0, -2.0, 2.0, size=shape, dtype=BF16),
        g(3).bernoulli(0.1, size=shape),
        fastinit.he_normal(seed=4)(shape, F32, generator=g(5)),
        fastinit.he_normal(seed=4)(shape, F32),
    ]
    got = client.compute(arrays, sync=True)
    for a, b, what in zip(got, want, ["normal", "truncated_normal", "bernoulli",
                                      "he_normal seed=5", "he_normal own seed"]):
        assert_bits_equal(a, b, what)
    # the chunks really were spread over both worker processes
    assert len(client.scheduler_info()["workers"]) == 2


# ---- errors at graph construction -----------------------------------------------------------------

def test_errors_at_graph_construction():
    bad = [
        (ValueError, lambda: fd.uniform(1.0, 1.0, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.uniform(2.0, 1.0, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.uniform(0.0, math.inf, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.truncated_normal(0.0, 1.0, 1.0, 1.0, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.truncated_normal(0.0, 1.0, 2.0, -2.0, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.truncated_normal(0.0, 0.0, -2.0, 2.0, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.normal(0.0, -1.0, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.normal(math.nan, 1.0, size=(4, 4), seed=0)),
        (ValueError, lambda: fd.bernoulli(1.5, size=(4, 4), seed=0)),
        (TypeError, lambda: fd.normal(size=(4, 4), seed=0, dtype="int32")),
        (TypeError, lambda: fd.normal(size=(4, 4), seed=0, dtype=np.bool_)),
        (TypeError, lambda: fd.random((4, 4), seed=0, dtype="complex64")),
        (TypeError, lambda: fd.bernoulli(0.5, size=(4, 4), seed=0, dtype="int32")),
        (TypeError, lambda: fd.from_initializer(lambda shape, dtype: np.zeros(shape, dtype),
                                                (4, 4))),
        (TypeError, lambda: fd.from_initializer("he_normal", (4, 4))),
        (TypeError, lambda: fd.from_initializer(fastinit.HeNormal, (4, 4))),
        (ValueError, lambda: fd.from_initializer(fastinit.orthogonal(seed=0), (10,))),
        (ValueError, lambda: fd.from_initializer(fastinit.identity(), (3, 3, 3))),
        (ValueError, lambda: fd.from_initializer(fastinit.delta_orthogonal(seed=0), (3, 8, 4))),
        (TypeError, lambda: fd.from_initializer(fastinit.he_normal(seed=0), (4, 4),
                                                dtype="int8")),
        (ValueError, lambda: fd.normal(size=(4, -1), seed=0)),
        (TypeError, lambda: fd.normal(size=None, seed=0)),
    ]
    for exc, call in bad:
        with pytest.raises(exc):
            call()
