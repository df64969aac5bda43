"""Fills shared by the torch-named functions and the initializer objects.

Every fill takes a checked, non-empty target array and a ``fastinit.Generator``; ``draws``
says whether a call draws at all. ``where`` is None for a whole array, or (full shape,
index) when the array is the block full[index] of a larger logical tensor (``_args.shard``).
"""
import math

import numpy as np

from fastinit._core import fill_bits, orthonormal_columns

# QR of a tall (m, n) matrix with m * n**2 at most this goes to fastinit's own unblocked
# Householder (_core.orthonormal_columns), larger ones to NumPy's LAPACK: below it, LAPACK's
# call overhead (about 20 us) is most of the time; above, its blocked code is faster.
SMALL_QR_MAX = 1 << 15

# Constant fills of at least this many elements go to the threaded _core.fill_bits.
CONSTANT_THREADED_MIN = 1 << 16
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

# Above this many elements, orthogonal with index= refuses: it must make the whole matrix.
ORTHOGONAL_INDEX_MAX = 1 << 28


def _kw(where):
    return {} if where is None else {"size": where[0], "index": where[1]}


def draws(arr, full, where):
    """Whether a random fill of ``arr`` (the block at ``where`` of a tensor of shape ``full``)
    draws: when it has values to write, and when it is an empty shard of a tensor that is not
    empty, which still takes its place in the stream so that every rank stays in step. A
    zero-size tensor, whole or sharded, draws nothing and resolves no generator: its whole
    call would advance a generator by 0 blocks, and it has no fans to make a bound of."""
    return arr.size > 0 or (where is not None and math.prod(full) > 0)


def uniform(g, a, lo, hi, where=None):
    """U[lo, hi). A zero-width interval gives the constant, after advancing ``g`` as the fill
    would have, so the values that follow do not depend on a degenerate bound."""
    if lo == hi:
        g.random(out=a, **_kw(where))
        a.fill(lo)
    else:
        g.uniform(lo, hi, out=a, **_kw(where))
    return a


def constant(a, x):
    """Every element of a set to x (a scalar of a's dtype). Large C-contiguous arrays take the
    threaded bit-pattern fill; the rest NumPy's fill, through the bits for the 16-bit dtypes
    (NumPy fills ml_dtypes' bfloat16 one Python-level element at a time)."""
    if a.flags.c_contiguous and a.size >= CONSTANT_THREADED_MIN:
        fill_bits(a, int(np.array(x, a.dtype).view(_UINT[a.itemsize])))
    elif a.itemsize == 2:
        a.view(np.uint16).fill(np.array(x, a.dtype).view(np.uint16))
    else:
        a.fill(x)
    return a


def normal(g, a, mean, std, where=None):
    g.normal(mean, std, out=a, **_kw(where))
    return a


def truncated_normal(g, a, mean, std, lo, hi, where=None):
    """N(mean, std) truncated to the absolute bounds [lo, hi]."""
    g.truncated_normal(mean, std, lo, hi, out=a, **_kw(where))
    return a


def sparse_mask(g, shape, k, axis, where_index=None):
    """g.sparse_mask of a shape (whole, or the block at where_index)."""
    return g.sparse_mask(shape, k=k, axis=axis, index=where_index)


def compute_dtype(dt):
    """The dtype LAPACK works in for a target dtype: float64 for float64, else float32."""
    return np.float64 if dt == np.float64 else np.float32


def orthogonal_matrix(g, rows, cols, dt, make=True, scale=1.0, qr=None):
    """``scale`` times a Haar-distributed (rows, cols) matrix with orthonormal rows or
    columns, whichever are fewer: QR of a Gaussian matrix, with the signs of R's diagonal
    moved into Q (Mezzadri, 2007), so Q is uniform and not biased by LAPACK's sign
    convention. make=False only advances g as making it would (for an empty shard), and
    returns None. Matrices too large for fastinit's own QR go to ``qr`` (a function with
    np.linalg.qr's contract), NumPy's LAPACK by default."""
    size = (max(rows, cols), min(rows, cols))
    if not make:
        g.standard_normal(size=size, index=(slice(0, 0),), dtype=compute_dtype(dt))
        return None
    tall = g.standard_normal(size=size, dtype=compute_dtype(dt))
    if size[0] * size[1] ** 2 <= SMALL_QR_MAX:
        q = orthonormal_columns(tall, scale)       # signs and scale applied, in float64
    else:
        q, r = (qr or np.linalg.qr)(tall)
        q *= np.where(np.diagonal(r) < 0, -scale, scale).astype(q.dtype)
    return q if rows >= cols else q.T


def whole_for_index(full, where):
    """Refuse index= for a matrix-wide initializer above ORTHOGONAL_INDEX_MAX elements."""
    if where is not None and math.prod(full) > ORTHOGONAL_INDEX_MAX:
        raise ValueError(f"an orthogonal initializer with index= makes the whole {full} "
                         f"matrix; refused above {ORTHOGONAL_INDEX_MAX} elements")


def write(a, values, where=None):
    """Store ``values`` (the whole tensor) into ``a`` (its block at where), rounding once."""
    a[...] = values if where is None else values[where[1]]
    return a


def positions(full, index):
    """Coordinate arrays of the block full[index], broadcastable against it (one per dim of
    full; dims an integer index drops are scalars)."""
    from fastinit._core import plan_index
    _, starts, steps, counts, int_axes = plan_index(full, index)
    kept = [d for d in range(len(full)) if d not in int_axes]
    out = []
    for d in range(len(full)):
        c = starts[d] + steps[d] * np.arange(counts[d])
        if d in int_axes:
            out.append(c[0])
        else:
            shape = [1] * len(kept)
            shape[kept.index(d)] = counts[d]
            out.append(c.reshape(shape))
    return out


def cut(values, full, index, done=None):
    """values[index] for values of shape ``full`` -- except along axis ``done``, which values
    holds already cut (``axis_slice`` of it). Returns the block's shape."""
    from fastinit._core import plan_index
    block, starts, steps, counts, _ = plan_index(full, index)
    picks = [np.arange(values.shape[d]) if d == done else
             starts[d] + steps[d] * np.arange(counts[d]) for d in range(len(full))]
    return values[np.ix_(*picks)].reshape(block)


def axis_slice(full, index, axis):
    """Dim ``axis`` of index as a slice (an integer one keeps its dim, of length 1)."""
    from fastinit._core import plan_index
    _, starts, steps, counts, _ = plan_index(full, index)
    start, step, count = starts[axis], steps[axis], counts[axis]
    if count == 0:
        return slice(0, 0)
    stop = start + step * (count - 1) + (1 if step > 0 else -1)     # just past the last
    return slice(start, stop if stop >= 0 else None, step)
