"""fastinit.torch.patch() on DTensors: every rank writes exactly its block of the whole.

Real process groups (gloo on 127.0.0.1, CPU): one batch of processes per world size runs
every case, and each case is a test here, looked up in the batch's results.

- For every patched function, on Shard(d) of any dim, Replicate, 2-D meshes, uneven shards
  (5 over 2, 1 over 2 and 2 over 4 with empty shards), in the four dtypes: after the same
  ``torch.manual_seed``, ``full_tensor()`` equals the patched fill of a plain tensor of the
  global shape bit for bit, the DTensor itself is returned, and torch's default generator is
  left where the plain call leaves it. Where torch's own function gives every rank the same
  local values, the result differs from that.
- Placements fastinit does not fill (Partial, _StridedShard) get torch's function: the same
  values or the same error as with the patch removed.
- FSDP2: a model built on ``meta``, ``fully_shard``-ed, ``to_empty(device="cpu")`` and reset
  under patch() has, parameter for parameter, the values of the same model reset in one
  process under patch() with the same seed.

Outside the process groups: the chunk rule against torch.chunk, and that fastinit.torch
imports no torch.distributed.

Ranks are started by a fresh interpreter (this file as a script: pytest's process has threads
of JAX and others by then, and forking it may deadlock), which forks them where fork exists
(importing torch again in each spawned child costs seconds). They use one torch thread, as
torch's OpenMP pool does not survive a fork. A batch that does not finish within TIMEOUT
seconds is killed and its tests fail.
"""
import json
import math
import os
import pathlib
import socket
import subprocess
import sys
import time
import traceback

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not (dist.is_available() and dist.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

import torch.multiprocessing as mp  # noqa: E402

import fastinit.torch as ft  # noqa: E402

TIMEOUT = 120
S5 = math.sqrt(5.0)
ORIGINAL = {name: getattr(torch.nn.init, name) for name in ft.FUNCTIONS}
assert not any(hasattr(f, "__fastinit__") for f in ORIGINAL.values())

# name: (args, the tensor ranks it takes)
FUNCS = {
    "uniform_": ((-0.5, 2.0), None),
    "normal_": ((0.1, 0.5), None),
    "trunc_normal_": ((0.0, 1.0, -1.5, 0.5), None),
    "constant_": ((0.25,), None),
    "ones_": ((), None),
    "zeros_": ((), None),
    "eye_": ((), (2,)),
    "dirac_": ((2,), (3, 4, 5)),
    "xavier_uniform_": ((1.5,), "fans"),
    "xavier_normal_": ((0.5,), "fans"),
    "kaiming_uniform_": ((S5,), "fans"),
    "kaiming_normal_": ((0, "fan_out", "relu"), "fans"),
    "orthogonal_": ((2.0,), "fans"),
    "sparse_": ((0.5, 0.1), (2,)),
}
RANDOM = {"uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
          "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"}

# world size: [(name, mesh shape, placements as (kind, dim), global shape, dtype)]
LAYOUTS = {
    2: [
        ("s0", (2,), (("S", 0),), (6, 4), "float32"),
        ("s1", (2,), (("S", 1),), (4, 6), "bfloat16"),
        ("rep", (2,), (("R",),), (3, 5), "float16"),
        ("s0-5over2", (2,), (("S", 0),), (5, 3), "float64"),
        ("s1-5over2", (2,), (("S", 1),), (3, 5), "float32"),
        ("s0-1over2", (2,), (("S", 0),), (1, 4), "float32"),        # rank 1's shard is empty
        ("s-1", (2,), (("S", -1),), (4, 2, 3), "float32"),
        ("conv-s0", (2,), (("S", 0),), (6, 2, 3), "bfloat16"),
        ("conv-s2", (2,), (("S", 2),), (4, 2, 3, 3), "float32"),      # the kernel, 3 over 2
        ("mesh1x2", (1, 2), (("S", 0), ("S", 1)), (4, 5), "float32"),
        ("mesh2x1", (2, 1), (("S", 1), ("S", 0)), (5, 4), "float16"),
        ("mesh2x1-s0s0", (2, 1), (("S", 0), ("S", 0)), (5, 3), "float64"),
    ],
    4: [
        ("mesh2x2-s0s1", (2, 2), (("S", 0), ("S", 1)), (6, 5), "float32"),
        ("mesh2x2-s0s0", (2, 2), (("S", 0), ("S", 0)), (5, 3), "bfloat16"),   # 2,1,1,1
        ("mesh2x2-s1s1", (2, 2), (("S", 1), ("S", 1)), (4, 2, 3), "float32"),  # 1,0,1,0
        ("mesh2x2-rs1", (2, 2), (("R",), ("S", 1)), (3, 3), "float16"),
        ("mesh2x2-s1r", (2, 2), (("S", 1), ("R",)), (4, 6), "float64"),
        ("s0-2over4", (4,), (("S", 0),), (2, 3), "float32"),                  # 1,1,0,0
        ("s1-7over4", (4,), (("S", 1),), (3, 7), "float64"),                  # 2,2,2,1
        # Where torch.chunk's rule and an even split (tensor_split's) part ways:
        ("s0-5over4", (4,), (("S", 0),), (5, 3), "bfloat16"),                 # 2,2,1,0
        ("s1-6over4", (4,), (("S", 1),), (2, 6, 2), "float32"),               # 2,2,2,0
    ],
}


def fits(name, shape):
    dims = FUNCS[name][1]
    if dims == "fans":
        return len(shape) >= 2
    if name == "dirac_":
        return len(shape) in dims and shape[0] % FUNCS[name][0][0] == 0
    return dims is None or len(shape) in dims


def case_ids(world):
    ids = [f"{lay[0]}-{fn}" for lay in LAYOUTS[world] for fn in FUNCS if fits(fn, lay[3])]
    if world == 2:
        ids += ["s0-generator-kw", "partial-fallback", "fsdp2"]
    if world == 4:
        ids += ["strided-fallback"]
    return ids


# ---- in each rank ---------------------------------------------------------------------------

def placements(spec):
    from torch.distributed.tensor import Replicate, Shard
    return [Replicate() if p[0] == "R" else Shard(p[1]) for p in spec]


def bits(t):
    """The tensor's bits, for comparing bit for bit (NaN-proof, -0.0 vs 0.0 told apart)."""
    return t.contiguous().view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.itemsize])


def check_layout(mesh, lay, fn):
    """The patched fn on the DTensor against the patched fn on a plain tensor of the global
    shape, after the same seed. Returns None or what is wrong."""
    from torch.distributed.tensor import distribute_tensor
    name, _, spec, shape, dt_name = lay
    dtype = getattr(torch, dt_name)
    args = FUNCS[fn][0]
    seed = 1000 + len(fn) * 7 + sum(shape)
    with ft.patch():
        torch.manual_seed(seed)
        ref = getattr(torch.nn.init, fn)(torch.full(shape, 7.0, dtype=dtype), *args)
        after_ref = torch.rand(4)
        dt = distribute_tensor(torch.full(shape, 7.0, dtype=dtype), mesh, placements(spec))
        torch.manual_seed(seed)
        try:
            out = getattr(torch.nn.init, fn)(dt, *args)
        except Exception:
            out = traceback.format_exc()
        after = torch.rand(4)
    full = dt.full_tensor()         # a collective: every rank gets here, whatever happened
    if out is not dt:
        return out if isinstance(out, str) else "the DTensor was not returned"
    if not torch.equal(bits(full), bits(ref)):
        return f"full_tensor() differs from the plain fill:\n{full}\n{ref}"
    if not torch.equal(after, after_ref):
        return "torch's generator moved differently"
    if fn in ("uniform_", "normal_", "kaiming_uniform_") and any(p[0] == "S" for p in spec):
        mine = dt.to_local().clone()
        torch.manual_seed(seed)
        ORIGINAL[fn](dt, *args)
        if dt.to_local().numel() > 0 and torch.equal(bits(dt.to_local()), bits(mine)):
            return "the same local values as torch's own function"
    return None


def check_generator_kw(mesh):
    """generator= and tensor= by keyword: a torch.Generator keys the fill as for a tensor."""
    from torch.distributed.tensor import Shard, distribute_tensor
    dt = distribute_tensor(torch.zeros(5, 4), mesh, [Shard(0)])
    with ft.patch():
        ref = torch.nn.init.normal_(torch.zeros(5, 4), generator=torch.Generator().manual_seed(3))
        g = torch.Generator().manual_seed(3)
        torch.nn.init.normal_(tensor=dt, generator=g)
    if not torch.equal(dt.full_tensor(), ref):
        return "generator= fill differs"
    if not torch.equal(g.get_state(), _advanced(3).get_state()):
        return "the generator did not advance by one key"
    return None


def _advanced(seed):
    g = torch.Generator().manual_seed(seed)
    torch.empty((), dtype=torch.int64).random_(generator=g)
    return g


def partial_dtensor(mesh):
    from torch.distributed.tensor import DTensor, Partial
    return DTensor.from_local(torch.ones(2, 3), mesh, [Partial()])


def strided_dtensor(mesh):
    """FSDP2 over tensor parallelism gives such placements: contiguous blocks, but not in
    Shard's order (on a 2 x 2 mesh, rank 1 holds rows 4:6 of 8)."""
    from torch.distributed.tensor import Shard, distribute_tensor
    from torch.distributed.tensor.placement_types import _StridedShard
    return distribute_tensor(torch.ones(8, 3), mesh, [_StridedShard(0, split_factor=2),
                                                      Shard(0)])


def check_fallback(mesh, make):
    """Placements fastinit does not fill go to torch's function: the same local values, or
    the same error."""
    def outcome(fn, patched):
        dt = make(mesh)
        torch.manual_seed(5)
        try:
            if patched:
                with ft.patch():
                    getattr(torch.nn.init, fn)(dt, *FUNCS[fn][0])
            else:
                ORIGINAL[fn](dt, *FUNCS[fn][0])
        except Exception as e:      # torch's error is the expected outcome for some
            return type(e).__name__, str(e)
        return bits(dt.to_local()).tolist(), [str(p) for p in dt.placements]
    for fn in ("normal_", "uniform_", "constant_", "zeros_", "kaiming_uniform_"):
        if outcome(fn, True) != outcome(fn, False):
            return f"{fn} on a {make.__name__} is not torch's"
    return None


def small_model():
    nn = torch.nn
    return nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7), nn.Linear(7, 3),
                         nn.Embedding(3, 4), nn.Conv1d(4, 5, 3),
                         nn.MultiheadAttention(6, 2))


def reset(model):
    for m in model.modules():
        if isinstance(m, torch.nn.MultiheadAttention):
            m._reset_parameters()
        elif hasattr(m, "reset_parameters") and m is not model:
            m.reset_parameters()


def check_fsdp2(mesh):
    """FSDP2's sharded parameters initialized under patch() equal one process's."""
    from torch.distributed.fsdp import fully_shard
    with torch.device("meta"):
        model = small_model()
    for m in model:
        fully_shard(m, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    with torch.device("meta"):
        single = small_model()
    single.to_empty(device="cpu")
    with ft.patch():
        torch.manual_seed(11)
        reset(model)
        torch.manual_seed(11)
        reset(single)
    names = dict(single.named_parameters())
    for name, p in model.named_parameters():
        if type(p).__name__ != "DTensor":
            return f"{name} is not a DTensor"
        if not torch.equal(bits(p.full_tensor()), bits(names[name].detach())):
            return f"{name} differs from the single-process model"
    # The model runs: the forward pass (all-gathers) gives the single-process output.
    x = torch.randn(2, 5)
    with torch.no_grad():
        if not torch.equal(model[:3](x), single[:3](x)):
            return "the forward pass differs"
    return None


def worker(rank, world, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    from torch.distributed.device_mesh import init_device_mesh
    results = {}
    meshes = {}

    def run(cid, fn, *args):
        try:
            results[cid] = fn(*args) or "ok"
        except Exception:
            results[cid] = traceback.format_exc()

    try:
        for lay in LAYOUTS[world]:
            if lay[1] not in meshes:
                meshes[lay[1]] = init_device_mesh("cpu", lay[1])
            for fn in FUNCS:
                if fits(fn, lay[3]):
                    run(f"{lay[0]}-{fn}", check_layout, meshes[lay[1]], lay, fn)
        if world == 2:
            run("s0-generator-kw", check_generator_kw, meshes[(2,)])
            run("partial-fallback", check_fallback, meshes[(2,)], partial_dtensor)
            run("fsdp2", check_fsdp2, meshes[(2,)])
        if world == 4:
            run("strided-fallback", check_fallback, meshes[(2, 2)], strided_dtensor)
    finally:
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump(results, f)
        dist.destroy_process_group()


# ---- in pytest ------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_batch(world, out_dir):
    """Run worker on `world` processes; returns {case id: [each rank's result]}. The ranks
    are started by a fresh interpreter (this file run as a script), never by the pytest
    process: by the time these tests run it has loaded JAX and others with threads of their
    own, and a fork of a process with threads may deadlock."""
    try:
        r = subprocess.run([sys.executable, __file__, str(world), str(out_dir)],
                           capture_output=True, text=True, timeout=TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{world} gloo ranks did not finish in {TIMEOUT + 30} s") from None
    if r.returncode != 0:
        raise RuntimeError(f"the launcher exited with {r.returncode}:\n{r.stderr[-3000:]}")
    per_rank = [json.load(open(out_dir / f"rank{r}.json")) for r in range(world)]
    return {cid: [r.get(cid, "not run") for r in per_rank] for cid in case_ids(world)}


def start_ranks(world, out_dir):
    """In the launcher: fork (where it exists: importing torch again in each spawned child
    costs seconds) `world` ranks running worker, and wait for them, within TIMEOUT."""
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.start_processes(worker, args=(world, free_port(), str(out_dir)), nprocs=world,
                             join=False, start_method=method)
    deadline = time.monotonic() + TIMEOUT
    try:
        while not ctx.join(timeout=max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{world} gloo ranks did not finish in {TIMEOUT} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()


_batches = {}


def batch(world, tmp_path_factory):
    if world not in _batches:
        try:
            _batches[world] = run_batch(world, tmp_path_factory.mktemp(f"dtensor{world}"))
        except Exception:
            _batches[world] = traceback.format_exc()
    got = _batches[world]
    if isinstance(got, str):
        pytest.fail(f"the batch of {world} ranks failed:\n{got}")
    return got


def check(world, cid, tmp_path_factory):
    results = batch(world, tmp_path_factory)[cid]
    bad = [(r, msg) for r, msg in enumerate(results) if msg != "ok"]
    assert not bad, "\n".join(f"rank {r}: {msg}" for r, msg in bad)


@pytest.mark.slow
@pytest.mark.parametrize("cid", case_ids(2))
def test_two_ranks(cid, tmp_path_factory):
    check(2, cid, tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("cid", case_ids(4))
def test_four_ranks(cid, tmp_path_factory):
    check(4, cid, tmp_path_factory)


def test_chunk_is_torch_chunk():
    """Shard's rule is torch.chunk's, padded with empty parts (which torch.chunk drops)."""
    from fastinit._dtensor import chunk
    for n in range(0, 13):
        for parts in range(1, 7):
            pieces = torch.arange(n).chunk(parts) if n else ()
            for i in range(parts):
                size, start = chunk(n, parts, i)
                want = pieces[i].tolist() if i < len(pieces) else []
                assert list(range(start, start + size)) == want, (n, parts, i)


def test_chunk_is_dtensor_rule():
    """The same sizes and offsets as torch's own helper, where this torch has it (private:
    the gloo tests pin the meaning on real DTensors either way)."""
    utils = pytest.importorskip("torch.distributed.tensor._utils")
    helper = getattr(utils, "_compute_local_shape_and_global_offset", None)
    if helper is None:
        pytest.skip("no _compute_local_shape_and_global_offset in this torch")
    from torch.distributed.tensor import Shard
    from fastinit._dtensor import chunk
    for n in range(0, 11):
        for p0 in range(1, 4):
            for p1 in range(1, 4):
                for c0 in range(p0):
                    for c1 in range(p1):
                        shape, offset = helper((n, 3), (p0, p1), [c0, c1],
                                               [Shard(0), Shard(0)])
                        s0, o0 = chunk(n, p0, c0)
                        s1, o1 = chunk(s0, p1, c1)
                        assert shape[0] == s1, (n, p0, p1, c0, c1)
                        if s1:
                            assert offset[0] == o0 + o1, (n, p0, p1, c0, c1)


@pytest.mark.slow
def test_import_does_not_import_distributed():
    """fastinit.torch, and patched fills of plain tensors, import no torch.distributed.tensor
    (fastinit's DTensor module loads only once torch's is loaded)."""
    code = ("import sys, torch, fastinit.torch as ft\n"
            "with ft.patch():\n"
            "    torch.nn.init.normal_(torch.empty(3, 3))\n"
            "print(sorted(m for m in sys.modules if m.startswith('torch.distributed.tensor')"
            " or m == 'fastinit._dtensor'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                             p for p in sys.path if p)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


if __name__ == "__main__":          # the launcher run_batch starts
    start_ranks(int(sys.argv[1]), pathlib.Path(sys.argv[2]))
