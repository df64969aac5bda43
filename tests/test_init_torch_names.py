"""The torch.nn.init names (fastinit.init / fastinit.<name>_) over NumPy arrays.

Every expected bound and std is written out here from the shape by the formulas of
torch.nn.init (fans in torch's ``(out, in, *kernel)`` layout, hand-coded per shape below):
nothing is derived from fastinit's own fan or gain code. Statistical checks use fixed seeds,
so each run draws the same values and a pass cannot turn into a flaky failure; thresholds
(KS p > 1e-4, about 6 standard errors for moments) are such that real defects (a wrong fan,
gain, bound or std of a few percent) fail by a wide margin at these sample sizes.
"""
import itertools
import math
import re
import warnings

import numpy as np
import pytest
from scipy import stats

import fastinit
from _laws import P_MIN, check, check_normal, check_range, check_truncnorm, check_uniform  # noqa: F401
from _util import BF16, F16, F32, F64, as_bits, dtype_params, sentinel


# (shape, (fan_in, fan_out)) in torch's (out, in, *kernel) layout, fans computed by hand:
# (384, 192): fan_in = 192, fan_out = 384
# (96, 32, 5, 3): receptive field 5 * 3 = 15, fan_in = 32 * 15 = 480, fan_out = 96 * 15 = 1440
TORCH_SHAPES = {
    "linear": ((384, 192), (192, 384)),
    "conv2d": ((96, 32, 5, 3), (480, 1440)),
}


# ---- the cases: a fill and its law as a function of (fan_in, fan_out), by hand -----------

S2, S3, S5 = math.sqrt(2.0), math.sqrt(3.0), math.sqrt(5.0)


def _case(id_, fill, law):
    return pytest.param(fill, law, id=id_)


# (nonlinearity, a, the gain written out by hand)
NONLINEARITIES = [
    ("leaky_relu", 0, S2),                                  # slope 0: sqrt(2 / 1)
    ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01 ** 2))),  # default slope 0.01
    ("leaky_relu", S5, math.sqrt(2.0 / 6.0)),               # nn.Linear's a = sqrt(5)
    ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)),
    ("leaky_relu", 3, math.sqrt(2.0 / 10.0)),               # an int slope
    ("relu", 0, S2),
    ("tanh", 0, 5.0 / 3.0),
    ("selu", 0, 0.75),
    ("linear", 0, 1.0),
    ("sigmoid", 0, 1.0),
    ("conv2d", 0, 1.0),
]


def _kaiming_cases():
    out = []
    for (nl, a, gain), mode in itertools.product(NONLINEARITIES, ["fan_in", "fan_out"]):
        pick = (lambda fi, fo: fi) if mode == "fan_in" else (lambda fi, fo: fo)
        out.append(_case(
            f"kaiming_uniform_-{nl}-a{a}-{mode}",
            lambda t, g, a=a, mode=mode, nl=nl: fastinit.kaiming_uniform_(
                t, a=a, mode=mode, nonlinearity=nl, generator=g),
            lambda fi, fo, gain=gain, pick=pick: (
                "uniform", -S3 * gain / math.sqrt(pick(fi, fo)),
                S3 * gain / math.sqrt(pick(fi, fo)))))
        out.append(_case(
            f"kaiming_normal_-{nl}-a{a}-{mode}",
            lambda t, g, a=a, mode=mode, nl=nl: fastinit.kaiming_normal_(
                t, a=a, mode=mode, nonlinearity=nl, generator=g),
            lambda fi, fo, gain=gain, pick=pick: ("normal", 0.0,
                                                  gain / math.sqrt(pick(fi, fo)))))
    return out


BASIC_CASES = [
    _case("uniform_-default", lambda t, g: fastinit.uniform_(t, generator=g),
          lambda fi, fo: ("uniform", 0.0, 1.0)),
    _case("uniform_-ab", lambda t, g: fastinit.uniform_(t, -2.5, 0.5, generator=g),
          lambda fi, fo: ("uniform", -2.5, 0.5)),
    _case("normal_-default", lambda t, g: fastinit.normal_(t, generator=g),
          lambda fi, fo: ("normal", 0.0, 1.0)),
    _case("normal_-mean-std", lambda t, g: fastinit.normal_(t, 1.5, 0.02, generator=g),
          lambda fi, fo: ("normal", 1.5, 0.02)),
    _case("trunc_normal_-default", lambda t, g: fastinit.trunc_normal_(t, generator=g),
          lambda fi, fo: ("trunc", 0.0, 1.0, -2.0, 2.0)),
    # torch's a and b are absolute, not in std units
    _case("trunc_normal_-absolute", lambda t, g: fastinit.trunc_normal_(
        t, 0.5, 2.0, -1.0, 3.0, generator=g),
        lambda fi, fo: ("trunc", 0.5, 2.0, -1.0, 3.0)),
    _case("trunc_normal_-small-std", lambda t, g: fastinit.trunc_normal_(
        t, std=0.02, a=-0.04, b=0.04, generator=g),
        lambda fi, fo: ("trunc", 0.0, 0.02, -0.04, 0.04)),
    _case("trunc_normal_-default-bounds-small-std", lambda t, g: fastinit.trunc_normal_(
        t, std=0.02, generator=g),      # a=-2, b=2 are 100 std away: a plain normal
        lambda fi, fo: ("trunc", 0.0, 0.02, -2.0, 2.0)),
    _case("trunc_normal_-one-sided", lambda t, g: fastinit.trunc_normal_(
        t, 0.0, 1.0, 1.0, math.inf, generator=g),
        lambda fi, fo: ("trunc", 0.0, 1.0, 1.0, math.inf)),
    _case("xavier_uniform_", lambda t, g: fastinit.xavier_uniform_(t, generator=g),
          lambda fi, fo: ("uniform", -math.sqrt(6.0 / (fi + fo)), math.sqrt(6.0 / (fi + fo)))),
    _case("xavier_uniform_-gain", lambda t, g: fastinit.xavier_uniform_(t, gain=2.5, generator=g),
          lambda fi, fo: ("uniform", -2.5 * math.sqrt(6.0 / (fi + fo)),
                          2.5 * math.sqrt(6.0 / (fi + fo)))),
    _case("xavier_normal_", lambda t, g: fastinit.xavier_normal_(t, generator=g),
          lambda fi, fo: ("normal", 0.0, math.sqrt(2.0 / (fi + fo)))),
    _case("xavier_normal_-gain", lambda t, g: fastinit.xavier_normal_(t, gain=0.5, generator=g),
          lambda fi, fo: ("normal", 0.0, 0.5 * math.sqrt(2.0 / (fi + fo)))),
]

ALL_CASES = BASIC_CASES + _kaiming_cases()


@pytest.mark.parametrize("fill, law", ALL_CASES)
@pytest.mark.parametrize("layout", list(TORCH_SHAPES))
def test_law_float32(fill, law, layout):
    shape, fans = TORCH_SHAPES[layout]
    t = np.empty(shape, np.float32)
    assert fill(t, 1234) is t
    assert t.shape == shape and t.dtype == F32
    check(t, law(*fans))


# float64 gets the full check on one shape per case (cheaper, same code path otherwise)
@pytest.mark.parametrize("fill, law", BASIC_CASES + _kaiming_cases()[::5])
def test_law_float64(fill, law):
    shape, fans = TORCH_SHAPES["conv2d"]
    t = np.empty(shape, np.float64)
    assert fill(t, 99) is t
    check(t, law(*fans))


@pytest.mark.parametrize("dtype", dtype_params([F16, BF16]))
@pytest.mark.parametrize("fill, law", BASIC_CASES + _kaiming_cases()[::3])
def test_law_16bit_range(fill, law, dtype):
    shape, fans = TORCH_SHAPES["conv2d"]
    t = np.empty(shape, dtype)
    assert fill(t, 7) is t
    assert t.dtype == dtype
    check_range(t, law(*fans), dtype)


def test_kaiming_mode_is_case_insensitive():
    a = fastinit.kaiming_normal_(np.empty((64, 32), np.float32), mode="FAN_OUT", generator=3)
    b = fastinit.kaiming_normal_(np.empty((64, 32), np.float32), mode="fan_out", generator=3)
    assert np.array_equal(a, b)


# ---- calculate_gain -----------------------------------------------------------------------

GAINS = [
    ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0),
    ("conv_transpose3d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5.0 / 3.0), ("relu", None, 1.4142135623730951),
    ("leaky_relu", None, math.sqrt(2.0 / 1.0001)),
    ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)),
    ("leaky_relu", 0, 1.4142135623730951),
    ("leaky_relu", 1, 1.0),
    ("leaky_relu", S5, math.sqrt(1.0 / 3.0)),
    ("leaky_relu", -0.5, math.sqrt(2.0 / 1.25)),
    ("selu", None, 0.75),
]


@pytest.mark.parametrize("name, param, gain", GAINS)
def test_calculate_gain_values(name, param, gain):
    got = fastinit.calculate_gain(name, param) if param is not None else \
        fastinit.calculate_gain(name)
    assert got == pytest.approx(gain, rel=1e-15, abs=0)
    assert fastinit.init.calculate_gain is fastinit.calculate_gain


@pytest.mark.parametrize("name, param, gain", GAINS)
def test_calculate_gain_matches_torch(name, param, gain):
    torch = pytest.importorskip("torch")
    assert fastinit.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-15, abs=0)


@pytest.mark.parametrize("param", [True, False, "0.1", [0.1], object()],
                         ids=["True", "False", "str", "list", "object"])
def test_calculate_gain_bad_param(param):
    with pytest.raises(ValueError, match="not a valid number"):
        fastinit.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize("name", ["gelu", "ReLU", "", "conv4d", None, 3, ("relu",), b"relu"])
def test_calculate_gain_bad_name(name):
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        fastinit.calculate_gain(name)


@pytest.mark.parametrize("name", ["gelu", "conv4d"])
def test_calculate_gain_bad_name_like_torch(name):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(name)
    with pytest.raises(ValueError):
        fastinit.calculate_gain(name)


# ---- orthogonal_ --------------------------------------------------------------------------

# shape -> (rows, cols) of torch's view: rows = shape[0], cols = numel / rows (by hand)
ORTHO_SHAPES = [
    ((64, 16), (64, 16)),           # tall
    ((16, 64), (16, 64)),           # wide
    ((32, 32), (32, 32)),           # square
    ((8, 4, 6), (8, 24)),           # 3-D, wide view
    ((48, 3, 2, 2), (48, 12)),      # 4-D, tall view
    ((5, 7, 3, 3), (5, 63)),        # 4-D, wide view
]

ORTHO_TOL = {F64: 1e-6, F32: 1e-4, F16: 4 * float(np.finfo(np.float16).eps),
             BF16: 4 * 2.0 ** -7}


def assert_semi_orthogonal(m, gain, tol):
    m = np.asarray(m, dtype=np.float64)
    rows, cols = m.shape
    gram = m.T @ m if rows >= cols else m @ m.T
    err = np.abs(gram - gain ** 2 * np.eye(min(rows, cols))).max()
    assert err <= tol * gain ** 2, f"max |Gram - gain^2 I| = {err:.3g} > {tol * gain ** 2:.3g}"


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape, view", ORTHO_SHAPES, ids=lambda v: "x".join(map(str, v)))
@pytest.mark.parametrize("gain", [1.0, 2.5, -0.5])
def test_orthogonal_(shape, view, dtype, gain):
    t = np.empty(shape, dtype)
    assert fastinit.orthogonal_(t, gain=gain, generator=11) is t
    assert t.shape == shape and t.dtype == dtype
    assert_semi_orthogonal(t.reshape(view), gain, ORTHO_TOL[np.dtype(dtype)])


def test_orthogonal_is_not_a_fixed_matrix():
    a = fastinit.orthogonal_(np.empty((16, 16)), generator=1)
    b = fastinit.orthogonal_(np.empty((16, 16)), generator=2)
    assert not np.allclose(a, b)
    assert np.array_equal(a, fastinit.orthogonal_(np.empty((16, 16)), generator=1))


@pytest.mark.parametrize("shape", [(3, 3), (3, 2), (2, 3)])
def test_orthogonal_is_haar(shape):
    """For Haar-distributed (semi-)orthogonal matrices with 3-vectors as the long side, every
    entry is marginally uniform on [-1, 1] (a coordinate of a uniform point on the sphere S^2).
    Without the sign fix (q *= sign(diag(r))), LAPACK makes Q[0, 0] always negative."""
    g = fastinit.Generator(2024)
    n = 3000
    q = np.array([fastinit.orthogonal_(np.empty(shape), generator=g) for _ in range(n)])
    for i in range(min(shape)):
        d = q[:, i, i]
        # symmetric about 0: the count of negatives is binomial(n, 1/2) (6 sigma)
        assert abs((d < 0).sum() - n / 2) < 6 * math.sqrt(n / 4), (i, (d < 0).mean())
        assert abs(d.mean()) < 6 * math.sqrt(1 / 3 / n)
        p = stats.kstest(d, stats.uniform(loc=-1, scale=2).cdf).pvalue
        assert p > P_MIN, f"diagonal entry {i}: KS p={p:.3g} against U[-1, 1]"


# ---- dirac_ and eye_ ----------------------------------------------------------------------

DIRAC_CASES = [
    # (shape (out, in/groups, *k), groups)
    ((4, 4, 3), 1), ((6, 4, 5), 1), ((4, 6, 3), 1), ((8, 3, 3), 2), ((6, 4, 1), 2),
    ((4, 4, 3, 3), 1), ((6, 4, 3, 5), 1), ((3, 5, 3, 3), 1), ((4, 4, 4, 2), 1),
    ((8, 3, 3, 3), 2), ((6, 4, 5, 3), 2), ((6, 2, 3, 3), 3),
    ((4, 4, 3, 3, 3), 1), ((6, 3, 1, 3, 5), 1), ((8, 2, 3, 3, 3), 2), ((4, 6, 3, 2, 3), 2),
]


def dirac_expected(shape, groups):
    """torch's dirac_, written out with loops."""
    e = np.zeros(shape)
    opg = shape[0] // groups
    for g in range(groups):
        for d in range(min(opg, shape[1])):
            e[(g * opg + d, d) + tuple(k // 2 for k in shape[2:])] = 1
    return e


@pytest.mark.parametrize("shape, groups", DIRAC_CASES, ids=str)
def test_dirac_positions(shape, groups):
    t = np.full(shape, 7.0, np.float32)
    assert fastinit.dirac_(t, groups=groups) is t
    assert np.array_equal(t, dirac_expected(shape, groups))


@pytest.mark.parametrize("shape, groups", DIRAC_CASES, ids=str)
def test_dirac_is_an_identity_convolution(shape, groups):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    w = fastinit.dirac_(np.full(shape, 3.0), groups=groups)
    nd = len(shape) - 2
    opg, ipg = shape[0] // groups, shape[1]
    spatial = (7, 6, 5)[:nd]
    x = np.random.default_rng(0).standard_normal((2, groups * ipg) + spatial)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    y = conv(torch.from_numpy(x), torch.from_numpy(w), padding=[k // 2 for k in shape[2:]],
             groups=groups).numpy()
    # even kernels grow the output by one: the first len(spatial) positions are the input
    y = y[(slice(None), slice(None)) + tuple(slice(0, s) for s in spatial)]
    assert y.shape == (2, shape[0]) + spatial
    for g in range(groups):
        for d in range(opg):
            got = y[:, g * opg + d]
            if d < min(opg, ipg):
                np.testing.assert_allclose(got, x[:, g * ipg + d], rtol=0, atol=1e-12)
            else:
                assert np.all(got == 0)


@pytest.mark.parametrize("shape, groups", [((4, 4, 3, 3), 1), ((8, 3, 3), 2)])
def test_dirac_matches_torch(shape, groups):
    torch = pytest.importorskip("torch")
    ref = torch.nn.init.dirac_(torch.empty(shape), groups=groups).numpy()
    assert np.array_equal(fastinit.dirac_(np.empty(shape, np.float32), groups=groups), ref)


@pytest.mark.parametrize("dtype", dtype_params())
def test_dirac_dtypes_and_noncontiguous(dtype):
    base = np.full((6, 4, 3, 6), 5.0, dtype)
    view = base[..., ::2]
    assert fastinit.dirac_(view, groups=2) is view
    assert np.array_equal(view.astype(np.float64), dirac_expected((6, 4, 3, 3), 2))
    assert np.all(base[..., 1::2].astype(np.float64) == 5.0)


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (1, 4), (4, 1)])
@pytest.mark.parametrize("dtype", dtype_params())
def test_eye_(shape, dtype):
    t = np.full(shape, 9.0, dtype)
    assert fastinit.eye_(t) is t
    r, c = shape
    expected = np.array([[1.0 if i == j else 0.0 for j in range(c)] for i in range(r)])
    assert np.array_equal(t.astype(np.float64), expected)


def test_eye_noncontiguous():
    base = np.full((6, 8), 9.0, np.float32)
    view = base[:, ::2].T        # (4, 6)
    fastinit.eye_(view)
    assert np.array_equal(view, np.eye(4, 6))
    assert np.all(base[:, 1::2] == 9.0)


@pytest.mark.parametrize("dtype", dtype_params())
def test_constant_ones_zeros(dtype):
    t = np.empty((3, 5), dtype)
    assert fastinit.constant_(t, -0.25) is t and np.all(t.astype(np.float64) == -0.25)
    assert fastinit.ones_(t) is t and np.all(t.astype(np.float64) == 1.0)
    assert fastinit.zeros_(t) is t and np.all(t.astype(np.float64) == 0.0)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("value", [-0.25, -0.0, 1e-30, float("nan"), float("inf")])
@pytest.mark.parametrize("dtype", dtype_params())
def test_constant_large_takes_the_threaded_fill(dtype, value, threads):
    # above _fill.CONSTANT_THREADED_MIN, C-contiguous: _core.fill_bits, in chunks over threads;
    # every element must carry the bits NumPy's own conversion of the value gives
    old = fastinit.get_num_threads()
    fastinit.set_num_threads(threads)
    try:
        n = (1 << 21) + 3                       # a ragged last chunk
        t = np.full(n, 7, dtype)
        with np.errstate(over="ignore"):
            want = np.array(np.float32(value) if t.itemsize == 2 else value).astype(dtype)
        assert fastinit.constant_(t, value) is t
        assert np.all(as_bits(t) == as_bits(want)), dtype
        big = fastinit.constant(value)((1030, 1030), dtype)     # the initializer object too
        with np.errstate(over="ignore"):
            want_obj = np.array(value).astype(dtype)            # (converted directly)
        assert np.all(as_bits(big) == as_bits(want_obj))
    finally:
        fastinit.set_num_threads(old)


def test_constant_non_contiguous_large_leaves_the_rest():
    base = np.full((1024, 512), 3.0, np.float32)
    fastinit.constant_(base[:, ::2], 0.5)
    assert np.all(base[:, ::2] == 0.5) and np.all(base[:, 1::2] == 3.0)


def test_fill_bits_refuses_what_it_cannot_write():
    from fastinit._core import fill_bits
    a = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        fill_bits(a.T, 1)
    a.flags.writeable = False
    with pytest.raises(ValueError, match="C-contiguous"):
        fill_bits(a, 1)
    assert not a.any()
    with pytest.raises(ValueError, match="items of 1, 2, 4 or 8"):
        fill_bits(np.zeros(3, np.complex128), 1)


# ---- sparse_ ------------------------------------------------------------------------------

@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(200, 150), (37, 500), (30, 40), (1, 64)])
def test_sparse_zero_count_per_column(shape, sparsity):
    rows, cols = shape
    t = np.empty(shape, np.float32)
    assert fastinit.sparse_(t, sparsity, std=0.5, generator=5) is t
    zeros_per_col = (t == 0).sum(axis=0)
    assert np.all(zeros_per_col == math.ceil(sparsity * rows)), np.unique(zeros_per_col)


def test_sparse_nonzeros_are_normal():
    t = fastinit.sparse_(np.empty((400, 300), np.float32), 0.3, std=0.05, generator=8)
    nz = t[t != 0]
    assert nz.size == 300 * (400 - 120)
    check_normal(nz, 0.0, 0.05)


def test_sparse_default_std():
    t = fastinit.sparse_(np.empty((500, 200), np.float64), 0.2, generator=8)
    check_normal(t[t != 0], 0.0, 0.01)


def test_sparse_positions_follow_the_generator():
    def mask(gen):
        return fastinit.sparse_(np.empty((50, 400), np.float32), 0.5, generator=gen) == 0
    m1 = mask(1)
    assert np.array_equal(m1, mask(1))
    assert np.array_equal(m1, mask(fastinit.Generator(1)))
    m2 = mask(2)
    assert not np.array_equal(m1, m2)
    # different per column, too
    assert len({m1[:, j].tobytes() for j in range(m1.shape[1])}) > 350
    g = fastinit.Generator(3)
    assert not np.array_equal(mask(g), mask(g))


def test_sparse_positions_uniform_over_rows():
    rows, cols, sparsity = 10, 20000, 0.3
    t = fastinit.sparse_(np.empty((rows, cols), np.float32), sparsity, generator=21)
    per_row = (t == 0).sum(axis=1)
    assert per_row.sum() == 3 * cols
    expected = np.full(rows, 3 * cols / rows)
    p = stats.chisquare(per_row, expected).pvalue
    assert p > P_MIN, (p, per_row)


def test_sparse_zero_sets_uniform_over_subsets():
    """With 4 rows and 2 zeros per column, each of the 6 pairs of rows is equally likely."""
    rows, cols = 4, 12000
    t = fastinit.sparse_(np.empty((rows, cols), np.float32), 0.5, generator=22)
    z = (t == 0)
    assert np.all(z.sum(axis=0) == 2)
    codes = (z * (1 << np.arange(rows))[:, None]).sum(axis=0)
    pairs = [sum(1 << i for i in c) for c in itertools.combinations(range(rows), 2)]
    counts = np.array([(codes == c).sum() for c in pairs])
    assert counts.sum() == cols
    p = stats.chisquare(counts, np.full(6, cols / 6)).pvalue
    assert p > P_MIN, counts


def test_sparse_16bit():
    for dtype in (F16, BF16):
        t = fastinit.sparse_(np.empty((100, 300), dtype), 0.25, std=0.1, generator=4)
        assert np.all((t.astype(np.float64) == 0).sum(axis=0) == 25)
        nz = t.astype(np.float64)[t.astype(np.float64) != 0]
        assert abs(nz.std() / 0.1 - 1) < 0.03


# ---- generators and seeds ----------------------------------------------------------------

RANDOM_FILLS = {
    "uniform_": lambda t, **kw: fastinit.uniform_(t, -1.0, 2.0, **kw),
    "normal_": lambda t, **kw: fastinit.normal_(t, 0.5, 2.0, **kw),
    "trunc_normal_": lambda t, **kw: fastinit.trunc_normal_(t, 0.0, 1.0, -1.0, 1.5, **kw),
    "xavier_uniform_": lambda t, **kw: fastinit.xavier_uniform_(t, **kw),
    "xavier_normal_": lambda t, **kw: fastinit.xavier_normal_(t, **kw),
    "kaiming_uniform_": lambda t, **kw: fastinit.kaiming_uniform_(t, a=S5, **kw),
    "kaiming_normal_": lambda t, **kw: fastinit.kaiming_normal_(t, mode="fan_out", **kw),
    "orthogonal_": lambda t, **kw: fastinit.orthogonal_(t, **kw),
    "sparse_": lambda t, **kw: fastinit.sparse_(t, 0.3, **kw),
}


@pytest.mark.parametrize("name", list(RANDOM_FILLS))
def test_generator_int_equals_generator_object(name):
    fill = RANDOM_FILLS[name]
    a = fill(np.empty((24, 20), np.float32), generator=17)
    b = fill(np.empty((24, 20), np.float32), generator=fastinit.Generator(17))
    c = fill(np.empty((24, 20), np.float32), generator=17)
    assert np.array_equal(as_bits(a), as_bits(b)) and np.array_equal(as_bits(a), as_bits(c))
    d = fill(np.empty((24, 20), np.float32), generator=18)
    assert not np.array_equal(a, d)


@pytest.mark.parametrize("name", list(RANDOM_FILLS))
def test_same_generator_object_advances(name):
    fill = RANDOM_FILLS[name]
    g = fastinit.Generator(5)
    a = fill(np.empty((24, 20), np.float32), generator=g)
    b = fill(np.empty((24, 20), np.float32), generator=g)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", list(RANDOM_FILLS))
def test_default_generator_and_manual_seed(name, restore_default_generator):
    fill = RANDOM_FILLS[name]
    fastinit.manual_seed(123)
    a = fill(np.empty((24, 20), np.float32))
    b = fill(np.empty((24, 20), np.float32))
    assert not np.array_equal(a, b), "the default generator did not advance"
    fastinit.manual_seed(123)
    assert np.array_equal(as_bits(fill(np.empty((24, 20), np.float32))), as_bits(a))
    fastinit.manual_seed(124)
    assert not np.array_equal(fill(np.empty((24, 20), np.float32)), a)
    # manual_seed(n) is the same stream as generator=Generator(n)
    fastinit.manual_seed(123)
    assert np.array_equal(fill(np.empty((24, 20), np.float32)),
                          fill(np.empty((24, 20), np.float32), generator=fastinit.Generator(123)))


def test_manual_seed_is_reexported(restore_default_generator):
    g = fastinit.init.manual_seed(9)
    assert isinstance(g, fastinit.Generator)
    assert fastinit.default_generator() is g


# ---- zero-element arrays, return identity, non-contiguous views ----------------------------

NO_WARN_FILLS = {
    "uniform_": lambda t: fastinit.uniform_(t, generator=0),
    "normal_": lambda t: fastinit.normal_(t, generator=0),
    "trunc_normal_": lambda t: fastinit.trunc_normal_(t, generator=0),
    "constant_": lambda t: fastinit.constant_(t, 3.0),
    "ones_": fastinit.ones_,
    "zeros_": fastinit.zeros_,
    "xavier_uniform_": lambda t: fastinit.xavier_uniform_(t, generator=0),
    "xavier_normal_": lambda t: fastinit.xavier_normal_(t, generator=0),
    "orthogonal_": lambda t: fastinit.orthogonal_(t, generator=0),
}
KAIMING_FILLS = {
    "kaiming_uniform_": lambda t: fastinit.kaiming_uniform_(t, generator=0),
    "kaiming_normal_": lambda t: fastinit.kaiming_normal_(t, generator=0),
}


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 3, 3, 3), (4, 0, 3)])
@pytest.mark.parametrize("name", list(NO_WARN_FILLS))
def test_zero_element_no_op_no_warning(name, shape):
    t = np.empty(shape, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert NO_WARN_FILLS[name](t) is t
    assert t.shape == shape


@pytest.mark.parametrize("name", ["eye_", "sparse_", "dirac_"])
def test_zero_element_no_op_shaped(name):
    shape = {"eye_": (0, 4), "sparse_": (0, 4), "dirac_": (0, 2, 3)}[name]
    fill = {"eye_": fastinit.eye_, "sparse_": lambda t: fastinit.sparse_(t, 0.5, generator=0),
            "dirac_": fastinit.dirac_}[name]
    t = np.empty(shape, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fill(t) is t
    assert t.shape == shape


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0,), (0, 3, 3, 3)])
@pytest.mark.parametrize("name", list(KAIMING_FILLS))
def test_zero_element_kaiming_warns(name, shape):
    t = np.empty(shape, np.float32)
    g = fastinit.Generator(0)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        out = {"kaiming_uniform_": fastinit.kaiming_uniform_,
               "kaiming_normal_": fastinit.kaiming_normal_}[name](t, generator=g)
    assert out is t and t.shape == shape
    assert g.counter == 0


# BUG (reported): _kaiming_std warns with stacklevel=3 so that the warning names the caller
# of kaiming_*; the @_args.inplace wrapper adds a frame, and it now names fastinit/_args.py.
@pytest.mark.parametrize("name", list(KAIMING_FILLS))
def test_zero_element_kaiming_warning_points_at_caller(name):
    with pytest.warns(UserWarning, match="zero-element") as rec:
        KAIMING_FILLS[name](np.empty((0, 4), np.float32))
    assert rec[0].filename == __file__, rec[0].filename


def test_zero_element_does_not_advance_default(restore_default_generator):
    g = fastinit.manual_seed(4)
    for fill in NO_WARN_FILLS.values():
        fill(np.empty((0, 6), np.float32))
    fastinit.uniform_(np.empty((0, 6), np.float32))
    assert g.counter == 0


VIEWS = {
    # (base shape, how to take the view) -> a view of logical shape (20, 12)
    "strided-columns": ((20, 24), lambda b: b[:, ::2]),
    "transposed": ((12, 20), lambda b: b.T),
    "reversed-rows": ((20, 12), lambda b: b[::-1]),
    "strided-transposed": ((24, 20), lambda b: b[::2].T),
}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("name", list(RANDOM_FILLS))
def test_noncontiguous_fill_equals_contiguous(name, view):
    fill = RANDOM_FILLS[name]
    base_shape, take = VIEWS[view]
    base = sentinel(base_shape, np.float32)
    before = as_bits(base).copy()
    v = take(base)
    assert v.shape == (20, 12) and not v.flags.c_contiguous
    assert fill(v, generator=31) is v
    ref = fill(np.empty((20, 12), np.float32), generator=31)
    assert np.array_equal(as_bits(v), as_bits(ref))
    # nothing outside the view was written
    inside = np.zeros(base_shape, bool)
    take(inside)[...] = True
    assert np.array_equal(as_bits(base)[~inside], before[~inside])


@pytest.mark.parametrize("name", ["xavier_uniform_", "kaiming_normal_", "orthogonal_"])
def test_noncontiguous_4d_fill_equals_contiguous(name):
    fill = RANDOM_FILLS[name]
    shape = (8, 6, 3, 5)
    v = np.empty(shape[::-1], np.float64).transpose()    # an F-ordered 4-D view
    assert v.shape == shape and not v.flags.c_contiguous
    fill(v, generator=2)
    ref = fill(np.empty(shape, np.float64), generator=2)
    assert np.array_equal(v, ref)


# ---- errors: each raises and leaves the array as it was -----------------------------------

FEWER_THAN_2 = "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
MODE_MSG = re.escape("Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']")

ERRORS = [
    # (id, shape, call, exception, message regex)
    ("xavier_uniform_-1d", (8,), lambda t: fastinit.xavier_uniform_(t), ValueError,
     FEWER_THAN_2),
    ("xavier_normal_-1d", (8,), lambda t: fastinit.xavier_normal_(t), ValueError,
     FEWER_THAN_2),
    ("kaiming_uniform_-1d", (8,), lambda t: fastinit.kaiming_uniform_(t), ValueError,
     FEWER_THAN_2),
    ("kaiming_normal_-1d", (8,), lambda t: fastinit.kaiming_normal_(t), ValueError,
     FEWER_THAN_2),
    ("xavier_uniform_-0d", (), lambda t: fastinit.xavier_uniform_(t), ValueError,
     "fewer than 2 dimensions"),
    ("kaiming_uniform_-mode", (4, 6), lambda t: fastinit.kaiming_uniform_(t, mode="fan_avg"),
     ValueError, MODE_MSG),
    ("kaiming_normal_-mode", (4, 6), lambda t: fastinit.kaiming_normal_(t, mode="fan_avg"),
     ValueError, MODE_MSG),
    ("kaiming_normal_-mode-none", (4, 6), lambda t: fastinit.kaiming_normal_(t, mode=None),
     ValueError, "not supported"),
    ("kaiming_uniform_-nonlinearity", (4, 6),
     lambda t: fastinit.kaiming_uniform_(t, nonlinearity="gelu"), ValueError,
     "Unsupported nonlinearity gelu"),
    ("kaiming_normal_-bool-a", (4, 6), lambda t: fastinit.kaiming_normal_(t, a=True),
     ValueError, "not a valid number"),
    ("sparse_-3d", (4, 6, 2), lambda t: fastinit.sparse_(t, 0.5), ValueError,
     "Only tensors with 2 dimensions are supported"),
    ("sparse_-1d", (4,), lambda t: fastinit.sparse_(t, 0.5), ValueError, "2 dimensions"),
    ("sparse_-above-1", (4, 6), lambda t: fastinit.sparse_(t, 1.5), ValueError, "sparsity"),
    ("sparse_-negative", (4, 6), lambda t: fastinit.sparse_(t, -0.1), ValueError, "sparsity"),
    ("sparse_-nan", (4, 6), lambda t: fastinit.sparse_(t, math.nan), ValueError, "sparsity"),
    ("sparse_-negative-std", (4, 6), lambda t: fastinit.sparse_(t, 0.5, std=-1.0),
     ValueError, "std"),
    ("dirac_-2d", (4, 6), lambda t: fastinit.dirac_(t), ValueError,
     "Only tensors with 3, 4, or 5 dimensions are supported"),
    ("dirac_-6d", (2, 2, 1, 1, 1, 1), lambda t: fastinit.dirac_(t), ValueError,
     "Only tensors with 3, 4, or 5 dimensions are supported"),
    ("dirac_-groups", (6, 4, 3), lambda t: fastinit.dirac_(t, groups=4), ValueError,
     "dim 0 must be divisible by groups"),
    ("dirac_-groups-0", (6, 4, 3), lambda t: fastinit.dirac_(t, groups=0), ValueError, None),
    ("eye_-3d", (3, 3, 3), lambda t: fastinit.eye_(t), ValueError,
     "Only tensors with 2 dimensions are supported"),
    ("eye_-1d", (3,), lambda t: fastinit.eye_(t), ValueError, "2 dimensions"),
    ("orthogonal_-1d", (5,), lambda t: fastinit.orthogonal_(t), ValueError,
     "Only tensors with 2 or more dimensions are supported"),
    ("trunc_normal_-a-eq-b", (4, 6), lambda t: fastinit.trunc_normal_(t, a=1.0, b=1.0),
     ValueError, None),
    ("trunc_normal_-a-gt-b", (4, 6), lambda t: fastinit.trunc_normal_(t, a=2.0, b=-2.0),
     ValueError, None),
    ("trunc_normal_-nan-a", (4, 6), lambda t: fastinit.trunc_normal_(t, a=math.nan),
     ValueError, None),
    ("trunc_normal_-nan-b", (4, 6), lambda t: fastinit.trunc_normal_(t, b=math.nan),
     ValueError, None),
    ("trunc_normal_-std-0", (4, 6), lambda t: fastinit.trunc_normal_(t, std=0.0),
     ValueError, "std"),
    ("trunc_normal_-std-neg", (4, 6), lambda t: fastinit.trunc_normal_(t, std=-1.0),
     ValueError, "std"),
    ("normal_-std-neg", (4, 6), lambda t: fastinit.normal_(t, 0.0, -0.5), ValueError, "std"),
    ("normal_-std-nan", (4, 6), lambda t: fastinit.normal_(t, 0.0, math.nan), ValueError,
     "std"),
    ("normal_-mean-inf", (4, 6), lambda t: fastinit.normal_(t, math.inf, 1.0), ValueError,
     "mean"),
    ("uniform_-a-gt-b", (4, 6), lambda t: fastinit.uniform_(t, 1.0, 0.0), ValueError,
     "from=1.0 > to=0.0"),
    ("uniform_-inf", (4, 6), lambda t: fastinit.uniform_(t, 0.0, math.inf), ValueError, None),
    ("uniform_-str", (4, 6), lambda t: fastinit.uniform_(t, "0", 1.0), TypeError, None),
    ("constant_-str", (4, 6), lambda t: fastinit.constant_(t, "1"), TypeError, None),
    ("xavier_uniform_-gain-nan", (4, 6), lambda t: fastinit.xavier_uniform_(t, gain=math.nan),
     ValueError, None),
    ("generator-negative", (4, 6), lambda t: fastinit.uniform_(t, generator=-1), ValueError,
     None),
    ("generator-float", (4, 6), lambda t: fastinit.normal_(t, generator=1.5), TypeError, None),
    ("generator-bool", (4, 6), lambda t: fastinit.kaiming_uniform_(t, generator=True),
     TypeError, None),
    ("generator-str", (4, 6), lambda t: fastinit.orthogonal_(t, generator="0"), TypeError,
     None),
]


@pytest.mark.parametrize("dtype", dtype_params([F32, BF16]))
@pytest.mark.parametrize("shape, call, exc, match",
                         [pytest.param(*e[1:], id=e[0]) for e in ERRORS])
def test_error_leaves_array_unchanged(shape, call, exc, match, dtype):
    t = sentinel(shape, dtype)
    before = as_bits(t).copy()
    with pytest.raises(exc, match=match):
        call(t)
    assert np.array_equal(as_bits(t), before), "the array was modified"


def test_mode_message_is_torchs():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as ref:
        torch.nn.init.kaiming_uniform_(torch.empty(4, 6), mode="fan_avg")
    with pytest.raises(ValueError) as got:
        fastinit.kaiming_uniform_(np.empty((4, 6), np.float32), mode="fan_avg")
    assert str(got.value) == str(ref.value)
    with pytest.raises(ValueError) as ref:
        torch.nn.init.xavier_uniform_(torch.empty(6))
    with pytest.raises(ValueError) as got:
        fastinit.xavier_uniform_(np.empty(6, np.float32))
    assert str(got.value) == str(ref.value)


ALL_INPLACE = {
    **{k: (lambda f: lambda t: f(t, generator=0))(v) for k, v in RANDOM_FILLS.items()},
    "constant_": lambda t: fastinit.constant_(t, 2.0),
    "ones_": fastinit.ones_,
    "zeros_": fastinit.zeros_,
    "eye_": fastinit.eye_,
}


@pytest.mark.parametrize("bad_dtype", [np.int32, np.int64, np.uint16, np.complex64, np.bool_,
                                       ">f4"])
@pytest.mark.parametrize("name", list(ALL_INPLACE))
def test_wrong_dtype_is_type_error(name, bad_dtype):
    t = np.full((6, 4), 3, dtype=bad_dtype)
    before = t.copy()
    with pytest.raises(TypeError):
        ALL_INPLACE[name](t)
    assert np.array_equal(t, before)


def test_wrong_dtype_dirac():
    t = np.full((4, 4, 3), 3, np.int32)
    with pytest.raises(TypeError):
        fastinit.dirac_(t)
    assert np.all(t == 3)


@pytest.mark.parametrize("name", list(ALL_INPLACE) + ["dirac_"])
def test_read_only_is_value_error(name):
    fill = ALL_INPLACE.get(name, fastinit.dirac_)
    shape = (6, 4, 3) if name == "dirac_" else (6, 4)
    t = sentinel(shape, np.float32)
    before = as_bits(t).copy()
    t.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fill(t)
    assert np.array_equal(as_bits(t), before)


@pytest.mark.parametrize("bad", [[[0.0] * 4] * 6, 3.0, None, "x"],
                         ids=["nested-list", "float", "None", "str"])
@pytest.mark.parametrize("name", list(ALL_INPLACE) + ["dirac_"])
def test_non_array_is_type_error(name, bad):
    fill = ALL_INPLACE.get(name, fastinit.dirac_)
    with pytest.raises(TypeError):
        fill(bad)


# ---- zero-size tensors, whole or as shards -----------------------------------------------
# A zero-size tensor has nothing to write, and its whole call would advance a generator by
# ceil(0 / 64) * 16 = 0 blocks: given as a shard too (full_shape with a zero dim, any index),
# it writes nothing and leaves the generator where it was. orthogonal_ (rows = 0) and
# xavier_* (fan_in + fan_out = 0) used to divide by zero on that path.

ZERO_SHAPES = [(0, 3), (3, 0), (0, 0), (0, 2, 3), (2, 0, 3), (2, 3, 0)]
# how the zero-size tensor is passed: whole, or as the shard full[index]
ZERO_FORMS = {"whole": None, "index-all": (), "index-rows": np.s_[0:0],
              "index-last": np.s_[..., 0:0]}


def _zero_call(fill, shape, form, **kw):
    """fill on a zero-size tensor of shape, whole or as full[index]; returns (array, out)."""
    index = ZERO_FORMS[form]
    if index is None:
        t = np.empty(shape, np.float32)
        return t, fill(t, **kw)
    t = np.empty(np.empty(shape)[index].shape, np.float32)
    return t, fill(t, full_shape=shape, index=index, **kw)


def _rank_ok(name, shape):
    return len(shape) == 2 if name == "sparse_" else True


def test_orthogonal_zero_rows_shard_is_a_no_op():
    g = fastinit.Generator(3)
    g.random(10)
    counter = g.counter
    t = np.empty((0, 3), np.float32)
    assert fastinit.init.orthogonal_(t, generator=g, full_shape=(0, 3), index=np.s_[0:0]) is t
    assert t.shape == (0, 3) and g.counter == counter


@pytest.mark.parametrize("form", list(ZERO_FORMS))
@pytest.mark.parametrize("name, shape", [pytest.param(n, s, id=f"{n}-{s}")
                                         for n in RANDOM_FILLS for s in ZERO_SHAPES
                                         if _rank_ok(n, s)])
def test_zero_size_tensor_does_not_move_the_generator(name, shape, form):
    g = fastinit.Generator(5)
    g.random(10)            # a non-zero counter, so "unchanged" is not just "still 0"
    counter = g.counter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # kaiming's zero-element warning
        t, out = _zero_call(RANDOM_FILLS[name], shape, form, generator=g)
    assert out is t and t.size == 0
    assert g.counter == counter


@pytest.mark.parametrize("form", list(ZERO_FORMS))
@pytest.mark.parametrize("name", list(RANDOM_FILLS))
def test_zero_size_tensor_does_not_move_the_default(name, form, restore_default_generator):
    g = fastinit.manual_seed(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for shape in ZERO_SHAPES:
            if _rank_ok(name, shape):
                _zero_call(RANDOM_FILLS[name], shape, form)
    assert fastinit.default_generator() is g and g.counter == 0


@pytest.mark.parametrize("name", ["orthogonal_", "xavier_uniform_", "uniform_", "sparse_"])
def test_zero_size_shard_takes_no_torch_key(name):
    """A zero-size tensor draws nothing, so no key is taken from a torch.Generator either,
    whole or as a shard."""
    torch = pytest.importorskip("torch")
    tg = torch.Generator().manual_seed(7)
    before = tg.get_state().clone()
    for form in ZERO_FORMS:
        _zero_call(RANDOM_FILLS[name], (0, 4), form, generator=tg)
    assert torch.equal(tg.get_state(), before)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 4)], ids=str)
def test_orthogonal_empty_shard_of_a_tensor_still_moves_the_generator(shape):
    """Contrast: an empty block of a tensor that is not empty takes its place in the stream,
    as the whole call would."""
    whole = fastinit.Generator(8)
    fastinit.orthogonal_(np.empty(shape, np.float32), generator=whole)
    g = fastinit.Generator(8)
    t = np.empty((0,) + shape[1:], np.float32)
    fastinit.orthogonal_(t, generator=g, full_shape=shape, index=np.s_[0:0])
    assert g.counter == whole.counter > 0


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (0, 2, 3), (2, 0, 3)], ids=str)
def test_orthogonal_zero_size_like_torch(shape):
    """torch.nn.init.orthogonal_ returns a zero-element tensor unchanged."""
    torch = pytest.importorskip("torch")
    ref = torch.nn.init.orthogonal_(torch.empty(shape))
    t = np.empty(shape, np.float32)
    assert fastinit.orthogonal_(t, generator=0) is t and t.shape == tuple(ref.shape)
    tt = torch.empty(shape)
    assert fastinit.orthogonal_(tt, generator=0) is tt and tt.shape == ref.shape


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)], ids=str)
def test_sparse_zero_size_like_torch(shape):
    torch = pytest.importorskip("torch")
    tg = torch.Generator().manual_seed(1)
    before = tg.get_state().clone()
    assert torch.nn.init.sparse_(torch.empty(shape), 0.5, generator=tg).shape == shape
    assert torch.equal(tg.get_state(), before)          # torch draws nothing either
    g = fastinit.Generator(1)
    for form in ZERO_FORMS:
        t, out = _zero_call(lambda a, **kw: fastinit.sparse_(a, 0.5, **kw), shape, form,
                            generator=g)
        assert out is t
    assert g.counter == 0


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_"])
def test_xavier_zero_fans_is_a_no_op_not_a_zero_division(name):
    """(0, 0) has fan_in + fan_out = 0: torch's own xavier_* raise ZeroDivisionError there;
    fastinit leaves the tensor alone, whole or as a shard."""
    fill = getattr(fastinit, name)
    g = fastinit.Generator(2)
    for shape in [(0, 0), (0, 0, 3), (2, 3, 0)]:
        for form in ZERO_FORMS:
            t, out = _zero_call(lambda a, **kw: fill(a, **kw), shape, form, generator=g)
            assert out is t
    assert g.counter == 0


@pytest.mark.parametrize("name", ["eye_", "dirac_", "constant_", "zeros_", "ones_"])
def test_zero_size_deterministic_fills_as_shards(name):
    fill = {"eye_": fastinit.eye_, "dirac_": fastinit.dirac_, "zeros_": fastinit.zeros_,
            "ones_": fastinit.ones_,
            "constant_": lambda t, **kw: fastinit.constant_(t, 2.0, **kw)}[name]
    shapes = [(0, 2, 3), (2, 0, 3)] if name == "dirac_" else [(0, 3), (3, 0), (0, 0)]
    for shape in shapes:
        for form in ZERO_FORMS:
            t, out = _zero_call(fill, shape, form)
            assert out is t and t.size == 0


# ---- bools are not shapes -----------------------------------------------------------------

@pytest.mark.parametrize("full_shape", [(True, 6), (4, np.True_), True], ids=str)
def test_bool_in_full_shape_is_type_error(full_shape):
    """operator.index(True) is 1, but a bool in a shape is a mistake (NumPy and torch refuse
    it with TypeError); the array and the generator are left alone."""
    t = sentinel((1, 6), np.float32)
    before = as_bits(t).copy()
    g = fastinit.Generator(4)
    with pytest.raises(TypeError, match="shape"):
        fastinit.normal_(t, generator=g, full_shape=full_shape, index=np.s_[0:1])
    assert np.array_equal(as_bits(t), before) and g.counter == 0
