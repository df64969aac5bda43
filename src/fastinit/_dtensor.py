"""DTensors under ``fastinit.torch.patch()``: each rank writes exactly its block of the whole.

A patched ``torch.nn.init`` function given a ``torch.distributed.tensor.DTensor`` fills the
rank's local tensor (``to_local()``, in place, zero-copy) with ``full[index]`` of the tensor
of the DTensor's global shape, through the ``full_shape=``/``index=`` of ``fastinit.init``.
Every rank draws the same key from torch's generator (seeded alike on every rank, as torch
asks), so ``full_tensor()`` is the single-process fill of the global shape, bit for bit, for
any mesh. torch's own functions instead give every rank the same local values on the CPU.

Cost per rank: the random fills make only the rank's block (a rank whose block is empty
still draws its key, so the generators stay in step). Two functions need more than the
block: ``orthogonal_`` makes the whole matrix on every rank with a non-empty block (its
Gaussian draw, its memory and its QR: the single-process fill's time), and above 2**28
elements refuses, so torch's own function runs; ``sparse_`` makes the zero positions of every
column its block touches, whole (under Shard(0) every column), and measured about the
single-process fill's time per rank at 2 ranks.

Imported by ``fastinit.torch`` only once a DTensor may exist (``torch.distributed.tensor`` is
imported), so ``import fastinit.torch`` does not import ``torch.distributed``.
"""
import torch
from torch.distributed.tensor import DTensor, Replicate, Shard

from fastinit._adapt import written


def chunk(n, parts, i):
    """(size, start) of part i when a dim of n is split into ``parts``: torch.chunk's rule,
    which DTensor's Shard follows -- parts of ceil(n / parts), the last ones smaller or
    empty (5 over 2: 3 and 2; 1 over 2: 1 and 0)."""
    c = -(-n // parts)
    start = min(c * i, n)
    return min(c * (i + 1), n) - start, start


def block(t):
    """(local tensor, full shape, index) when ``t`` is a DTensor whose local tensor is a
    contiguous block of the whole (Shard and Replicate placements), else None (Partial,
    _StridedShard, a rank outside the mesh, a shard order torch does not apply left to right:
    the previous function handles those). The answer depends only on what every rank shares
    (type, placements, mesh shape), so all ranks take the same path."""
    if not isinstance(t, DTensor):
        return None
    mesh = t.device_mesh
    coord = mesh.get_coordinate()
    if coord is None:
        return None
    full = tuple(t.shape)
    starts, sizes = [0] * len(full), list(full)
    seen = set()
    for mesh_dim, p in enumerate(t.placements):
        if type(p) is Replicate:
            continue
        if type(p) is not Shard:        # Partial values, _StridedShard's interleaved rows
            return None
        d = p.dim % len(full)
        # A dim split on several mesh dims is split left to right, unless the spec holds
        # another order (a private field; without it we cannot be sure, so torch decides).
        if d in seen and not _left_to_right(t, d):
            return None
        seen.add(d)
        # Mesh dims split the part the earlier ones left: offsets add up.
        size, start = chunk(sizes[d], mesh.size(mesh_dim), coord[mesh_dim])
        starts[d] += start
        sizes[d] = size
    with torch.no_grad():               # an alias of the storage, not an autograd node
        local = t.to_local()
    if tuple(local.shape) != tuple(sizes):
        # Not falling back: the choice must be the same on every rank, or the ranks that
        # call torch's function may wait in a collective for those that do not.
        raise RuntimeError(f"fastinit's shard rule gives a {tuple(sizes)} block at "
                           f"{tuple(starts)} of {full} for {t.placements}, but this rank "
                           f"holds {tuple(local.shape)}")
    return local, full, tuple(slice(s, s + n) for s, n in zip(starts, sizes))


def _left_to_right(t, dim):
    order = getattr(getattr(t, "_spec", None), "shard_order", None)
    if order is None:
        return False
    for entry in order:
        if entry.tensor_dim == dim:
            return list(entry.mesh_dims) == sorted(entry.mesh_dims)
    return False


def fill(ours, t, blk, args, kwargs):
    """Call fastinit's ``ours`` on the local block ``blk`` of DTensor ``t`` (``args[0]`` or
    ``kwargs['tensor']`` is ``t``) and return ``t``, its version bumped as torch's in-place
    ops bump a DTensor's."""
    local, full, index = blk
    if args:
        args = (local,) + tuple(args[1:])
    else:
        kwargs = dict(kwargs, tensor=local)
    ours(*args, full_shape=full, index=index, **kwargs)
    written(t)
    return t
