"""fastinit's small QR (csrc/qr.c), the path of orthogonal initializers for small matrices:
against LAPACK's, on both sides of the size at which _fill switches between them."""
import numpy as np
import pytest

import fastinit
from fastinit import _fill
from fastinit._core import orthonormal_columns


def lapack_q(a):
    q, r = np.linalg.qr(a)
    return q * np.where(np.diagonal(r) < 0, -1.0, 1.0)


@pytest.mark.parametrize("shape", [(1, 1), (5, 1), (2, 2), (10, 10), (33, 7), (64, 16),
                                   (32, 32), (100, 3), (200, 40)])
def test_matches_lapack_with_positive_diagonal(shape):
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    before = a.copy()
    q = orthonormal_columns(a)
    assert np.array_equal(a, before)                       # the input is left alone
    assert q.shape == shape and q.dtype == np.float64
    np.testing.assert_allclose(q, lapack_q(a), rtol=0, atol=1e-12)
    np.testing.assert_allclose(q.T @ q, np.eye(shape[1]), rtol=0, atol=1e-13)
    r = q.T @ a                                            # R = Q^T A: upper, positive diagonal
    assert (np.diagonal(r) > 0).all()
    np.testing.assert_allclose(np.tril(r, -1), 0, atol=1e-12)


@pytest.mark.parametrize("scale", [2.5, -0.5])
def test_scale_multiplies_every_column(scale):
    a = np.random.default_rng(3).standard_normal((12, 5))
    np.testing.assert_allclose(orthonormal_columns(a, scale), scale * orthonormal_columns(a),
                               rtol=0, atol=1e-14)


def test_zero_and_dependent_columns():
    a = np.random.default_rng(4).standard_normal((6, 4))
    a[:, 1] = 0.0                       # a zero column: no reflection, sign +1
    a[:, 3] = 2 * a[:, 0]               # dependent on column 0
    q = orthonormal_columns(a)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(q @ (q.T @ a), a, atol=1e-12)     # Q spans a's columns


@pytest.mark.parametrize("bad", [np.zeros((3, 5)), np.zeros(4), np.zeros((2, 2, 2))])
def test_rejects_what_is_not_a_tall_matrix(bad):
    with pytest.raises(ValueError, match="tall 2-D"):
        orthonormal_columns(bad)


@pytest.mark.parametrize("rows, cols", [(32, 32), (33, 32), (8, 64), (64, 8), (96, 48)])
def test_both_paths_give_semi_orthogonal_matrices(rows, cols):
    # (32, 32) is the largest square on the small path, (33, 32) just past it
    small = max(rows, cols) * min(rows, cols) ** 2 <= _fill.SMALL_QR_MAX
    assert small == ((rows, cols) in [(32, 32), (8, 64), (64, 8)])
    for dt in (np.float32, np.float64):
        q = fastinit.orthogonal_(np.empty((rows, cols), dt), gain=1.5, generator=5)
        m = q.astype(np.float64)
        gram = m.T @ m if rows >= cols else m @ m.T
        tol = 1e-4 if dt == np.float32 else 1e-10
        np.testing.assert_allclose(gram, 2.25 * np.eye(min(rows, cols)), atol=tol)
