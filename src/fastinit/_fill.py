"""Fills shared by the torch-named functions and the initializer objects.

Every function takes a checked, non-empty target array and a ``fastinit.Generator``.
"""
import numpy as np


def uniform(g, a, lo, hi):
    """U[lo, hi). A zero-width interval gives the constant, after advancing ``g`` as the fill
    would have, so the values that follow do not depend on a degenerate bound."""
    if lo == hi:
        g.random(out=a)
        a.fill(lo)
    else:
        g.uniform(lo, hi, out=a)
    return a


def normal(g, a, mean, std):
    g.normal(mean, std, out=a)
    return a


def truncated_normal(g, a, mean, std, lo, hi):
    """N(mean, std) truncated to the absolute bounds [lo, hi]."""
    g.truncated_normal(mean, std, lo, hi, out=a)
    return a


def compute_dtype(dt):
    """The dtype LAPACK works in for a target dtype: float64 for float64, else float32."""
    return np.float64 if dt == np.float64 else np.float32


def orthogonal_matrix(g, rows, cols, dt):
    """A Haar-distributed (rows, cols) matrix with orthonormal rows or columns, whichever are
    fewer: QR of a Gaussian matrix, with the signs of R's diagonal moved into Q (Mezzadri,
    2007), so Q is uniform and not biased by LAPACK's sign convention."""
    tall = g.standard_normal(size=(max(rows, cols), min(rows, cols)), dtype=compute_dtype(dt))
    q, r = np.linalg.qr(tall)
    q *= np.where(np.diagonal(r) < 0, -1, 1).astype(q.dtype)
    return q if rows >= cols else q.T


def write(a, values):
    """Store ``values`` into ``a``, rounding once to its dtype."""
    a[...] = values
    return a
