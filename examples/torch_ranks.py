"""Sharded initialization, simulated: every rank makes only its own shards, and gets exactly
the values a single process would have put there.

A small model is initialized twice:

1. in full, on one process: one ``fastinit.Generator(SEED)`` and a sequence of
   ``fastinit.init`` calls on whole ``torch`` tensors;
2. on each rank of a (simulated) device mesh: the rank allocates only its shard of every
   parameter (``torch.empty(local_shape)``), and runs the same sequence of calls, from its
   own ``Generator(SEED)``, adding ``full_shape=`` (the whole parameter's shape, which the
   fans come from) and ``index=`` (where its shard sits in the whole parameter).

Each call advances a rank's generator as the whole call does, so the ranks stay in step
from one parameter to the next without talking to each other. The shards then equal the
slices of the full tensors bit for bit.

Shards follow DTensor's ``Shard(dim)`` placement (``torch.chunk``: shards of
``ceil(n / parts)``, the last ones shorter), over 1-D meshes (row or column sharding) and
2-D meshes (tensor-parallel columns x FSDP rows). Nothing here needs torch.distributed: a
real rank would take its mesh coordinates from its DeviceMesh and run ``init_rank``.

    python3 examples/torch_ranks.py
"""
import itertools
import math
import sys

import torch

import fastinit


class Shard:
    """DTensor's ``Shard(dim)`` placement (torch.distributed.tensor.Shard), as a label:
    along one mesh axis, dim ``dim`` is split with ``torch.chunk``."""

    def __init__(self, dim):
        self.dim = dim

    def __repr__(self):
        return f"Shard({self.dim})"


SEED = 1234
I = fastinit.init

# The model: name, full shape, and how it is initialized. The order matters: one generator
# draws every parameter, one after the other.
MODEL = [
    ("embed.weight", (50, 24),
     lambda t, g, **kw: I.normal_(t, 0.0, 1.0, generator=g, **kw)),
    ("fc1.weight", (48, 24),
     lambda t, g, **kw: I.kaiming_uniform_(t, a=math.sqrt(5), generator=g, **kw)),
    ("fc1.bias", (48,),
     lambda t, g, **kw: I.uniform_(t, -1 / math.sqrt(24), 1 / math.sqrt(24), generator=g,
                                   **kw)),
    ("fc2.weight", (36, 48),
     lambda t, g, **kw: I.trunc_normal_(t, std=0.02, a=-0.04, b=0.04, generator=g, **kw)),
    ("fc3.weight", (24, 36),
     lambda t, g, **kw: I.xavier_uniform_(t, gain=I.calculate_gain("relu"), generator=g,
                                          **kw)),
]


def chunk(n, parts, i):
    """Shard i of `parts` of a dim of length n, as DTensor's Shard (torch.chunk): a slice."""
    size = -(-n // parts)
    start = min(i * size, n)
    return slice(start, min(start + size, n))


def shard_index(shape, placements, mesh_shape, coords):
    """Where the shard of the rank at `coords` of the mesh sits in a tensor of `shape`:
    one slice per dim. A Shard(dim) on a dim the tensor lacks (a bias under column
    sharding) replicates it."""
    index = [slice(None)] * len(shape)
    for axis, p in enumerate(placements):
        if isinstance(p, Shard) and p.dim < len(shape):
            index[p.dim] = chunk(shape[p.dim], mesh_shape[axis], coords[axis])
    return tuple(index)


def local_shape(shape, index):
    return tuple(len(range(*s.indices(n))) for s, n in zip(index, shape))


def init_full(dtype=torch.float32, model=MODEL, seed=SEED):
    """The whole model on one process: {name: tensor}."""
    g = fastinit.Generator(seed)
    params = {}
    for name, shape, init in model:
        params[name] = torch.empty(shape, dtype=dtype)
        init(params[name], g)
    return params


def init_rank(coords, mesh_shape, placements, dtype=torch.float32, model=MODEL, seed=SEED):
    """One rank: {name: (index, shard tensor)}. It allocates only its shards."""
    g = fastinit.Generator(seed)            # every rank starts from the same state
    shards = {}
    for name, shape, init in model:
        index = shard_index(shape, placements, mesh_shape, coords)
        t = torch.empty(local_shape(shape, index), dtype=dtype)
        init(t, g, full_shape=shape, index=index)
        shards[name] = (index, t)
    return shards


def layouts(world):
    """(label, mesh shape, placements) for a world size: rows, columns, and every 2-D mesh
    (tensor parallel over columns x FSDP over rows)."""
    out = [(f"Shard(0) x{world}", (world,), (Shard(0),)),
           (f"Shard(1) x{world}", (world,), (Shard(1),))]
    for tp in range(1, world + 1):
        if world % tp == 0:
            out.append((f"2-D tp={tp} x fsdp={world // tp}", (tp, world // tp),
                        (Shard(1), Shard(0))))
    return out


def check(world, label, mesh_shape, placements, full, dtype=torch.float32):
    """Every rank's shards equal the slices of the full tensors, bit for bit."""
    for coords in itertools.product(*(range(n) for n in mesh_shape)):
        for name, (index, shard) in init_rank(coords, mesh_shape, placements, dtype).items():
            want = full[name][index]
            if not torch.equal(shard.view(torch.int16) if dtype == torch.bfloat16 else shard,
                               want.view(torch.int16) if dtype == torch.bfloat16 else want):
                raise AssertionError(f"{label}: rank {coords}, {name}{list(shard.shape)} "
                                     f"differs from the full tensor's slice")


def main():
    n = 0
    for dtype in (torch.float32, torch.bfloat16):
        full = init_full(dtype)
        for world in (2, 3, 4):
            done = []
            for label, mesh_shape, placements in layouts(world):
                check(world, label, mesh_shape, placements, full, dtype)
                done.append(label.replace(f" x{world}", ""))
                n += 1
            print(f"  {str(dtype).replace('torch.', ''):8} {world} ranks: {', '.join(done)}")
    print(f"OK: {len(MODEL)} parameters, {n} sharded layouts: every rank's shards equal the "
          "full model's slices, bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
