"""Simulated PyTorch ranks: a model initialized in full by a sequence of fastinit calls on
one generator, and the same model initialized shard by shard -- each rank allocating only its
shard tensors and calling with full_shape= and index= from its own generator in the same
starting state -- give bitwise equal values, for every layer (so the generators stay in
step), world sizes 2, 3 and 4, row, column and 2-D shardings."""
import itertools
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastinit
from fastinit import defaults, init as I
from _util import assert_bits_equal

SEED = 4321
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "torch_ranks.py")

# name, full shape, the call (tensor, generator, **shard kwargs). One generator draws them all,
# in this order.
MODEL = [
    ("embed.weight", (50, 24), lambda t, g, **kw: I.normal_(t, 0.0, 1.0, generator=g, **kw)),
    ("fc1.weight", (48, 24),
     lambda t, g, **kw: I.kaiming_uniform_(t, a=math.sqrt(5), generator=g, **kw)),
    ("fc1.bias", (48,),
     lambda t, g, **kw: I.uniform_(t, -0.2, 0.2, generator=g, **kw)),
    ("fc2.weight", (36, 48),
     lambda t, g, **kw: I.trunc_normal_(t, std=0.02, a=-0.04, b=0.04, generator=g, **kw)),
    ("fc3.weight", (24, 36),
     lambda t, g, **kw: I.xavier_uniform_(t, gain=I.calculate_gain("relu"), generator=g, **kw)),
    ("conv.weight", (16, 8, 3, 3),
     lambda t, g, **kw: I.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", generator=g,
                                          **kw)),
    ("attn.proj", (24, 24),
     lambda t, g, **kw: defaults.depth_scaled_normal_(t, 0.02, num_layers=6, generator=g,
                                                      **kw)),
    ("rnn.weight", (12, 12), lambda t, g, **kw: I.orthogonal_(t, gain=1.0, generator=g, **kw)),
    ("sparse.weight", (20, 16),
     lambda t, g, **kw: I.sparse_(t, 0.25, std=0.05, generator=g, **kw)),
    ("head.weight", (30, 24),
     lambda t, g, **kw: I.xavier_normal_(t, generator=g, **kw)),
]
BITS = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32,
        torch.float64: torch.int64}


def bits(t):
    """The raw bits of a tensor (any layout), as a NumPy integer array."""
    return t.contiguous().view(BITS[t.dtype]).numpy()


def chunk(n, parts, i):
    """DTensor's Shard placement: torch.chunk's pieces of ceil(n / parts), then empties."""
    size = -(-n // parts)
    start = min(i * size, n)
    return slice(start, min(start + size, n))


def shard_index(shape, shard_dims, mesh_shape, coords):
    """shard_dims[axis] = the tensor dim mesh axis `axis` shards (None: replicated); a dim the
    tensor lacks (a bias's dim 1) is replicated."""
    index = [slice(None)] * len(shape)
    for axis, dim in enumerate(shard_dims):
        if dim is not None and dim < len(shape):
            index[dim] = chunk(shape[dim], mesh_shape[axis], coords[axis])
    return tuple(index)


def local_shape(shape, index):
    return tuple(len(range(*s.indices(n))) for s, n in zip(index, shape))


def init_full(dtype, model=MODEL, gen=None):
    g = fastinit.Generator(SEED) if gen is None else gen
    out = {}
    for name, shape, fn in model:
        out[name] = torch.empty(shape, dtype=dtype)
        fn(out[name], g)
    return out, g


def init_rank(dtype, shard_dims, mesh_shape, coords, model=MODEL, gen=None, alloc=None):
    """One rank: it allocates only its shards (torch.empty of the local shape)."""
    g = fastinit.Generator(SEED) if gen is None else gen
    alloc = alloc or (lambda shp: torch.empty(shp, dtype=dtype))
    out = {}
    for name, shape, fn in model:
        index = shard_index(shape, shard_dims, mesh_shape, coords)
        t = alloc(local_shape(shape, index))
        ptr = t.data_ptr()
        fn(t, g, full_shape=shape, index=index)
        assert t.data_ptr() == ptr          # written in place
        out[name] = (index, t)
    return out, g


def layouts(world):
    """(id, shard_dims, mesh shape): rows (Shard(0)), columns (Shard(1)), and every 2-D mesh
    (tensor parallel over columns x FSDP over rows)."""
    out = [("rows", (0,), (world,)), ("cols", (1,), (world,))]
    for tp in range(1, world + 1):
        if world % tp == 0:
            out.append((f"2d-{tp}x{world // tp}", (1, 0), (tp, world // tp)))
    return out


LAYOUT_PARAMS = [pytest.param(world, shard_dims, mesh, id=f"world{world}-{lid}")
                 for world in (2, 3, 4) for lid, shard_dims, mesh in layouts(world)]
DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def test_chunk_is_torch_chunk():
    for n in range(0, 30):
        for parts in (1, 2, 3, 4, 7):
            want = [len(c) for c in torch.arange(n).chunk(parts)] if n else []
            got = [len(range(*chunk(n, parts, i).indices(n))) for i in range(parts)]
            assert got[:len(want)] == want and not any(got[len(want):]), (n, parts)
            assert sum(got) == n


def test_model_has_no_empty_shards():
    """(The empty-shard case is tested on its own below.)"""
    for world in (2, 3, 4):
        for _, shard_dims, mesh in layouts(world):
            for coords in itertools.product(*(range(n) for n in mesh)):
                for _, shape, _ in MODEL:
                    idx = shard_index(shape, shard_dims, mesh, coords)
                    assert all(local_shape(shape, idx)), (world, shard_dims, coords, shape)


@pytest.fixture(scope="module", params=DTYPES, ids=str)
def full_model(request):
    dtype = request.param
    params, g = init_full(dtype)
    return dtype, params, g.counter


@pytest.mark.parametrize("world,shard_dims,mesh", LAYOUT_PARAMS)
def test_ranks_equal_full_model(full_model, world, shard_dims, mesh):
    dtype, full, end = full_model
    assert math.prod(mesh) == world
    seen = {name: np.zeros(shape, np.int64) for name, shape, _ in MODEL}
    for coords in itertools.product(*(range(n) for n in mesh)):
        shards, g = init_rank(dtype, shard_dims, mesh, coords)
        for name, (index, t) in shards.items():
            assert t.dtype == dtype
            assert t.shape == full[name][index].shape
            assert_bits_equal(bits(t), bits(full[name][index]),
                              f"rank {coords} of mesh {mesh}: {name}{index}")
            seen[name][index] += 1
        assert g.counter == end, f"rank {coords}: generator at {g.counter}, full model at {end}"
    # every element of every parameter was made by some rank; replicas exactly for the
    # mesh axes that do not shard that parameter
    for name, shape, _ in MODEL:
        reps = math.prod(n for axis, n in enumerate(mesh)
                         if shard_dims[axis] is None or shard_dims[axis] >= len(shape))
        assert np.all(seen[name] == reps), name


def test_each_layer_stays_in_step():
    """After every layer, a rank's generator is where the full model's is."""
    g_full = fastinit.Generator(SEED)
    marks = []
    for name, shape, fn in MODEL:
        fn(torch.empty(shape), g_full)
        marks.append(g_full.counter)
    assert len(set(marks)) == len(marks)
    for coords in [(0, 0), (1, 1), (0, 1)]:
        g = fastinit.Generator(SEED)
        for (name, shape, fn), mark in zip(MODEL, marks):
            index = shard_index(shape, (1, 0), (2, 2), coords)
            fn(torch.empty(local_shape(shape, index)), g, full_shape=shape, index=index)
            assert g.counter == mark, f"rank {coords} after {name}"


def test_ranks_with_torch_generators():
    """generator= a torch.Generator: each call takes one key from it, so ranks seeded alike
    stay in step too."""
    full, _ = init_full(torch.float32, gen=torch.Generator().manual_seed(99))
    for coords in itertools.product(range(2), range(2)):
        tg = torch.Generator().manual_seed(99)
        shards, _ = init_rank(torch.float32, (1, 0), (2, 2), coords, gen=tg)
        for name, (index, t) in shards.items():
            assert_bits_equal(bits(t), bits(full[name][index]), f"rank {coords}: {name}")


def test_ranks_with_parameters_and_noncontiguous_shards():
    """Shards as nn.Parameters, as transposed (non-contiguous) tensors, and as views into a
    rank's flat buffer (FSDP's flat parameter)."""
    full, _ = init_full(torch.bfloat16)

    def transposed(shp):
        return torch.empty(shp[::-1], dtype=torch.bfloat16).permute(
            *reversed(range(len(shp))))

    flat = torch.empty(100_000, dtype=torch.bfloat16)
    offset = [0]

    def flat_view(shp):
        n = math.prod(shp)
        v = flat[offset[0]:offset[0] + n].view(shp)
        offset[0] += n
        return v

    allocs = {
        "parameter": lambda shp: torch.nn.Parameter(torch.empty(shp, dtype=torch.bfloat16)),
        "transposed": transposed,
        "flat": flat_view,
    }
    for kind, alloc in allocs.items():
        for coords in itertools.product(range(3)):
            offset[0] = 0
            with torch.no_grad():
                shards, _ = init_rank(torch.bfloat16, (0,), (3,), coords, alloc=alloc)
            for name, (index, t) in shards.items():
                assert_bits_equal(bits(t.detach()), bits(full[name][index]),
                                  f"{kind} rank {coords}: {name}")


def test_rank_shards_fans_from_full_shape():
    """A column shard of fc1 (fan_in 24) keeps kaiming's bound 1/sqrt(24), not the shard's."""
    full, _ = init_full(torch.float64)
    shards, _ = init_rank(torch.float64, (1,), (4,), (2,))
    index, t = shards["fc1.weight"]
    assert t.shape == (48, 6)
    bound = 1 / math.sqrt(24)
    assert float(t.abs().max()) <= bound
    assert float(full["fc1.weight"].abs().max()) > 0.95 * bound


def test_empty_shard_keeps_rank_in_step():
    """DTensor gives rank 3 of 4 an empty shard of a 5-row tensor (torch.chunk: 2, 2, 1, 0).
    That rank must still advance its generator by the whole call, or its next layer's shard
    is drawn from the wrong place in the stream."""
    model = [
        ("small.weight", (5, 8), lambda t, g, **kw: I.kaiming_uniform_(t, generator=g, **kw)),
        ("big.weight", (8, 8), lambda t, g, **kw: I.normal_(t, 0.0, 0.02, generator=g, **kw)),
    ]
    full, g_full = init_full(torch.float32, model=model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # kaiming warns about zero-element tensors
        for rank in range(4):
            shards, g = init_rank(torch.float32, (0,), (4,), (rank,), model=model)
            sizes = {name: t.shape[0] for name, (_, t) in shards.items()}
            for name, (index, t) in shards.items():
                assert_bits_equal(bits(t), bits(full[name][index]),
                                  f"rank {rank} (shard rows {sizes}): {name}")
            assert g.counter == g_full.counter, f"rank {rank} (shard rows {sizes})"


def test_example_script_runs():
    proc = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("OK"), proc.stdout
    assert "26 sharded layouts" in last


def test_example_functions():
    """The example's helpers agree with this file's (its check raises on a mismatch)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("torch_ranks_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    full = mod.init_full(torch.float32)
    mod.check(4, "2x2", (2, 2), (mod.Shard(1), mod.Shard(0)), full, torch.float32)
    # a check that cannot pass: a different seed for the full model
    other = mod.init_full(torch.float32, seed=mod.SEED + 1)
    with pytest.raises(AssertionError):
        mod.check(2, "rows", (2,), (mod.Shard(0),), other, torch.float32)
