"""orthogonal_ on torch tensors (torch's LAPACK QR), and warning parity under patch().

- orthogonal_ through patch(): small matrices are fastinit's own QR, bit for bit the NumPy
  route's; larger ones are exactly torch.linalg.qr's Q of fastinit's Gaussian draw with the
  sign fix and the gain, rounded once (float32 -> bfloat16/float16 as NumPy rounds), within
  LAPACK rounding of NumPy's route, orthogonal, and Haar-distributed (KS against scipy).
- Warnings: every patched function warns exactly as torch's own function does on the same
  arguments (category and message), and points at the caller.
"""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")

import fastinit  # noqa: E402
import fastinit.torch as ft  # noqa: E402
from fastinit import _fill  # noqa: E402
from _util import BF16  # noqa: E402
from test_init_torch_names import assert_semi_orthogonal  # noqa: E402
from test_torch import tensor_bits  # noqa: E402

init = torch.nn.init
TORCH_ORTHOGONAL = init.orthogonal_
P_MIN = 1e-4        # fixed seeds: a correct sampler passes every test here


def on_lapack(rows, cols):
    """Whether a (rows, cols) matrix is past fastinit's own small QR."""
    return max(rows, cols) * min(rows, cols) ** 2 > _fill.SMALL_QR_MAX


def patched_orthogonal(t, seed, gain=1.0):
    with ft.patch():
        return init.orthogonal_(t, gain=gain, generator=torch.Generator().manual_seed(seed))


def expected_torch_route(shape, seed, gain, dtype):
    """What the docs promise for a torch tensor past the small QR, written out: fastinit's
    draw of the tall (max, min) matrix from the torch generator's key, torch.linalg.qr, each
    column times gain * sign(R_kk) in the compute dtype, transposed back, cast once."""
    rows = shape[0]
    cols = math.prod(shape) // rows
    wide = (max(rows, cols), min(rows, cols))
    cdt = np.float64 if dtype == torch.float64 else np.float32
    g = ft.generator_from(torch.Generator().manual_seed(seed))
    tall = torch.from_numpy(g.standard_normal(size=wide, dtype=cdt))
    q, r = torch.linalg.qr(tall)
    q = q * torch.from_numpy(np.where(np.diagonal(r.numpy()) < 0, -gain, gain).astype(cdt))
    if rows < cols:
        q = q.T
    return q.reshape(shape).to(dtype)


# ---- what is promised ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(64, 48), (48, 64), (200, 40), (40, 200), (32, 8, 12),
                                   (96, 96), (3000, 4)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_route_is_torch_qr_of_fastinit_draw(shape, dtype):
    rows, cols = shape[0], math.prod(shape) // shape[0]
    assert on_lapack(rows, cols)
    t = patched_orthogonal(torch.empty(shape, dtype=dtype), seed=3, gain=1.5)
    assert torch.equal(t, expected_torch_route(shape, 3, 1.5, dtype))


@pytest.mark.parametrize("shape", [(16, 8), (8, 16), (32, 32), (5, 2, 3)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16,
                                   torch.float64])
def test_small_matrices_keep_fastinit_own_qr_bits(shape, dtype):
    """Below the size for LAPACK, a tensor gets the NumPy route's bits (those of the golden
    values): fastinit's own QR, whatever library holds the tensor."""
    rows, cols = shape[0], math.prod(shape) // shape[0]
    assert not on_lapack(rows, cols)
    t = patched_orthogonal(torch.empty(shape, dtype=dtype), seed=9, gain=0.7)
    a = np.empty(shape, ft.numpy_dtype(dtype))
    fastinit.init.orthogonal_(a, gain=0.7, generator=torch.Generator().manual_seed(9))
    assert np.array_equal(tensor_bits(t), a.view(tensor_bits(t).dtype))


@pytest.mark.parametrize("shape, tol", [((300, 200), 1e-5), ((200, 300), 1e-5),
                                        ((128, 64, 2), 1e-5)], ids=str)
def test_torch_route_within_lapack_rounding_of_numpy_route(shape, tol):
    """The same draw, sign fix and gain: only the LAPACK differs (MKL against OpenBLAS), by
    rounding. Well-conditioned shapes, so Q moves by a few float32 ulps at most; a different
    draw or sign would differ by about the values' size (0.05-0.1)."""
    t = patched_orthogonal(torch.empty(shape), seed=4, gain=2.0)
    a = fastinit.init.orthogonal_(np.empty(shape, np.float32), gain=2.0,
                                  generator=torch.Generator().manual_seed(4))
    np.testing.assert_allclose(t.numpy(), a, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", [(120, 80), (80, 120)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_16_bit_is_float32_result_rounded_once(dtype, shape, gain):
    """bfloat16 and float16 take the float32 Q times gain, rounded once to nearest even --
    through torch's copy, bit for bit as NumPy's (ml_dtypes') cast rounds it."""
    t = patched_orthogonal(torch.empty(shape, dtype=dtype), seed=12, gain=gain)
    f32 = patched_orthogonal(torch.empty(shape), seed=12, gain=gain).numpy()
    want = f32.astype(ft.numpy_dtype(dtype))
    assert np.array_equal(tensor_bits(t), want.view(tensor_bits(t).dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_non_contiguous_tensor_gets_the_same_values(dtype):
    base = torch.empty(70, 90, dtype=dtype)
    t = base.T                                    # (90, 70), column-major
    patched_orthogonal(t, seed=5)
    c = patched_orthogonal(torch.empty(90, 70, dtype=dtype), seed=5)
    assert np.array_equal(tensor_bits(t), tensor_bits(c))


def test_fastinit_thread_count_does_not_change_bits():
    before = fastinit.get_num_threads()
    try:
        fastinit.set_num_threads(1)
        one = patched_orthogonal(torch.empty(256, 192), seed=6)
        fastinit.set_num_threads(2)
        two = patched_orthogonal(torch.empty(256, 192), seed=6)
    finally:
        fastinit.set_num_threads(before)
    assert torch.equal(one, two)


@pytest.mark.parametrize("shape, dtype, tol", [
    ((512, 384), torch.float32, 2e-5), ((384, 512), torch.float32, 2e-5),
    ((256, 4, 4), torch.float32, 2e-5), ((300, 200), torch.float64, 1e-13),
    ((200, 300), torch.bfloat16, 4 * 2.0 ** -7), ((300, 200), torch.float16, 4 * 2.0 ** -10)],
    ids=str)
def test_orthogonal_to_rounding(shape, dtype, tol):
    t = patched_orthogonal(torch.empty(shape, dtype=dtype), seed=8, gain=-1.5)
    assert_semi_orthogonal(t.double().numpy().reshape(shape[0], -1), 1.5, tol)


@pytest.mark.parametrize("shape", [(2049, 4), (4, 2049)], ids=str)
def test_torch_route_is_haar(shape):
    """Each diagonal entry x = Q[k, k] of a Haar (semi-)orthogonal matrix whose long side is
    m has (x + 1) / 2 ~ Beta((m - 1) / 2, (m - 1) / 2) (a coordinate of a uniform point on
    the sphere). Without the sign fix, LAPACK's Q[k, k] is always negative, and a KS test of
    1000 of them (8000 values: each of the 4 diagonal entries, two signs of gain) fails by
    far. Past the small-QR size: (2049, 4) is 32784 > 2**15."""
    assert on_lapack(*shape)
    m = max(shape)
    gen = torch.Generator().manual_seed(2024)
    diag = []
    with ft.patch():
        for i in range(1000):
            t = init.orthogonal_(torch.empty(shape, dtype=torch.float64), generator=gen)
            diag.append(np.diagonal(t.numpy()))
    x = np.concatenate(diag)
    law = stats.beta((m - 1) / 2, (m - 1) / 2)
    assert stats.kstest((x + 1) / 2, law.cdf).pvalue > P_MIN
    assert abs((x > 0).mean() - 0.5) < 0.03          # both signs, evenly (sd 0.008)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0, 3), (4, 0, 2)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_zero_size_is_left_alone_like_torch(shape, dtype):
    ref = TORCH_ORTHOGONAL(torch.empty(shape))
    state = torch.get_rng_state()
    t = torch.empty(shape, dtype=dtype)
    with ft.patch(), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert init.orthogonal_(t) is t
    assert t.shape == ref.shape and torch.equal(torch.get_rng_state(), state)


# ---- warnings: torch's, word for word ---------------------------------------------------------

def E(*shape, dtype=torch.float32):
    return lambda: torch.empty(*shape, dtype=dtype)


WARN_CASES = [
    # trunc_normal_: mean more than 2 std from [a, b] (torch warns before its own checks)
    ("trunc_normal_", E(10), dict(mean=5.0)),
    ("trunc_normal_", E(10), dict(mean=-5.0)),
    ("trunc_normal_", E(10), dict(mean=4.0)),                 # exactly b + 2 std: no warning
    ("trunc_normal_", E(10), dict(mean=4.000001)),
    ("trunc_normal_", E(10, dtype=torch.bfloat16), dict(mean=100.0, a=0.0, b=1.0)),
    ("trunc_normal_", E(0), dict(mean=9.0)),                  # zero-size: still warns
    ("trunc_normal_", E(3, 0), dict(mean=9.0, std=0.5)),
    ("trunc_normal_", E(10), dict(mean=0.05, std=0.02, a=-0.04, b=0.04)),  # 0.5 std: none
    ("trunc_normal_", E(10), dict(mean=9.0, std=0.0)),    # fastinit refuses: torch's call
    # kaiming: zero-element tensors, whatever the other arguments
    ("kaiming_uniform_", E(0, 5), {}), ("kaiming_uniform_", E(5, 0, 3), {}),
    ("kaiming_normal_", E(0), {}), ("kaiming_normal_", E(0, 3), dict(mode="bad")),
    # no warnings from torch: none from fastinit either
    ("xavier_uniform_", E(0, 5), {}), ("xavier_normal_", E(5, 0, 2), {}),
    ("orthogonal_", E(0, 5), {}), ("orthogonal_", E(40, 30), dict(gain=1e39)),
    ("orthogonal_", E(5, 3), dict(gain=1e39)), ("sparse_", E(0, 5), dict(sparsity=0.5)),
    ("sparse_", E(5, 0), dict(sparsity=0.5)), ("uniform_", E(0), {}), ("normal_", E(0, 3), {}),
    ("constant_", E(4, dtype=torch.float16), dict(val=60000.0)), ("eye_", E(0, 3), {}),
    ("dirac_", E(0, 3, 3), {}), ("kaiming_normal_", E(4, 3), dict(nonlinearity="selu")),
    ("uniform_", E(4, dtype=torch.float16), dict(a=-1e10, b=1e10)),
]


@pytest.fixture(autouse=True)
def no_registry_left_in_torch_nn_init():
    """torch's trunc_normal_ warning is attributed to torch.nn.init, and Python then adds a
    __warningregistry__ to that module; test_torch_patch checks that torch.nn.init's names
    are what torch ships, so take it out again."""
    had = hasattr(init, "__warningregistry__")
    yield
    if not had and hasattr(init, "__warningregistry__"):
        del init.__warningregistry__


def record(fn, make, kwargs):
    """(category, message, file) of every warning fn(tensor, **kwargs) emits, and whether it
    raised."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            fn(make(), **kwargs)        # this line is where torch's kaiming warning points
            raised = None
        except Exception as e:         # noqa: BLE001 -- torch's errors, compared as such
            raised = type(e)
    return [(w.category, str(w.message), w.filename) for w in rec], raised


@pytest.mark.parametrize("name, make, kwargs", WARN_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(WARN_CASES)])
def test_patched_warns_as_torch(name, make, kwargs):
    theirs, raised = record(getattr(init, name), make, kwargs)
    with ft.patch():
        ours, ours_raised = record(getattr(init, name), make, kwargs)
    assert [w[:2] for w in ours] == [w[:2] for w in theirs]
    assert ours_raised is raised
    if raised is None:
        # fastinit's warnings point at the caller (torch's trunc_normal_ warning points into
        # torch.nn.init; where fastinit refused, the call and its warning are torch's)
        assert all(w[2] == __file__ for w in ours), [w[2] for w in ours]


def test_trunc_normal_warns_on_numpy_too_and_values_stay_exact():
    a = np.empty(20000, np.float32)
    with pytest.warns(UserWarning, match=r"^mean is more than 2 std from \[a, b\] in "
                      r"nn\.init\.trunc_normal_\. The distribution") as rec:
        fastinit.init.trunc_normal_(a, mean=3.0, std=0.25, a=-1.0, b=2.0, generator=1)
    assert len(rec) == 1 and rec[0].filename == __file__
    assert a.min() >= -1.0 and a.max() <= 2.0
    law = stats.truncnorm((-1.0 - 3.0) / 0.25, (2.0 - 3.0) / 0.25, loc=3.0, scale=0.25)
    assert stats.kstest(a.astype(np.float64), law.cdf).pvalue > P_MIN


def test_kaiming_warning_under_patch_points_at_the_torch_module_that_called():
    """nn.Linear(0, 4) calls kaiming_uniform_ on a zero-element weight: the warning names
    torch's linear.py, as torch's own does, not fastinit's wrapper."""
    def build():
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            torch.nn.Linear(0, 4)
        return [(w.category, str(w.message), w.filename) for w in rec
                if "zero-element" in str(w.message)]
    theirs = build()
    with ft.patch():
        ours = build()
    assert theirs and ours == theirs
