"""Keras classes and JAX factories (fastinit.initializers), get / serialize, seeds.

Expected bounds and stds are written out here from the shape: fans in the JAX/Keras layout
``(*kernel, in, out)`` (or the axes given) are hand-computed per shape below, and the
variance-scaling formulas are spelled out in each test; nothing comes from fastinit's fan
code. Fixed seeds make every statistical check deterministic; thresholds as in
test_init_torch_names.py (KS p > 1e-4, about 6 standard errors for moments).
"""
import math
import warnings

import ml_dtypes
import numpy as np
import pytest
from scipy import stats

import fastinit
from _laws import P_MIN, TRUNC, check, check_normal, check_range, check_truncnorm, check_uniform  # noqa: F401
from _util import BF16, F16, F32, F64, as_bits, dtype_params, sentinel


# (shape, (fan_in, fan_out)) in the JAX/Keras layout, fans by hand:
# (192, 384): fan_in 192, fan_out 384
# (3, 5, 32, 96): receptive field 15, fan_in 32 * 15 = 480, fan_out 96 * 15 = 1440
JAX_SHAPES = {
    "dense": ((192, 384), (192, 384)),
    "conv2d": ((3, 5, 32, 96), (480, 1440)),
}


def fan_of(mode, fi, fo):
    return {"fan_in": fi, "fan_out": fo, "fan_avg": (fi + fo) / 2,
            "fan_geo_avg": math.sqrt(fi * fo)}[mode]


def vs_law(scale, fan, kind):
    """Variance scaling's law, by hand: kind 'uniform', 'normal' (untruncated) or 'trunc'
    (Keras's truncated normal: std corrected by 0.8796..., cut at +-2 std)."""
    if kind == "uniform":
        limit = math.sqrt(3.0 * scale / fan)
        return ("uniform", -limit, limit)
    if kind == "normal":
        return ("normal", 0.0, math.sqrt(scale / fan))
    std = math.sqrt(scale / fan) / TRUNC
    return ("trunc", 0.0, std, -2.0 * std, 2.0 * std)


# ---- variance scaling: every mode x distribution, factory (JAX) and class (Keras) -----------

# distribution name -> what it means for the JAX factory and for the Keras class
DIST_MEANING = {
    "truncated_normal": ("trunc", "trunc"),
    "normal": ("normal", "trunc"),          # JAX: untruncated; Keras 3: truncated
    "untruncated_normal": ("normal", "normal"),
    "uniform": ("uniform", "uniform"),
}
MODES = ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]


@pytest.mark.parametrize("layout", list(JAX_SHAPES))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("distribution", list(DIST_MEANING))
@pytest.mark.parametrize("api", ["factory", "class"])
def test_variance_scaling(api, distribution, mode, layout):
    shape, (fi, fo) = JAX_SHAPES[layout]
    scale = 1.7
    if api == "factory":
        init = fastinit.variance_scaling(scale, mode, distribution, seed=3)
        kind = DIST_MEANING[distribution][0]
    else:
        init = fastinit.VarianceScaling(scale, mode, distribution, seed=3)
        kind = DIST_MEANING[distribution][1]
    x = init(shape)
    assert x.shape == shape and x.dtype == F32
    check(x, vs_law(scale, fan_of(mode, fi, fo), kind))


PRESETS = {
    # name: (Keras class, JAX factory, scale, mode, law kind), by hand from Keras/JAX docs
    "glorot_uniform": (fastinit.GlorotUniform, fastinit.glorot_uniform, 1.0, "fan_avg",
                       "uniform"),
    "glorot_normal": (fastinit.GlorotNormal, fastinit.glorot_normal, 1.0, "fan_avg", "trunc"),
    "he_uniform": (fastinit.HeUniform, fastinit.he_uniform, 2.0, "fan_in", "uniform"),
    "he_normal": (fastinit.HeNormal, fastinit.he_normal, 2.0, "fan_in", "trunc"),
    "lecun_uniform": (fastinit.LecunUniform, fastinit.lecun_uniform, 1.0, "fan_in",
                      "uniform"),
    "lecun_normal": (fastinit.LecunNormal, fastinit.lecun_normal, 1.0, "fan_in", "trunc"),
}


@pytest.mark.parametrize("layout", list(JAX_SHAPES))
@pytest.mark.parametrize("api", ["factory", "class"])
@pytest.mark.parametrize("name", list(PRESETS))
def test_presets(name, api, layout):
    cls, factory, scale, mode, kind = PRESETS[name]
    shape, (fi, fo) = JAX_SHAPES[layout]
    init = factory(seed=4) if api == "factory" else cls(seed=4)
    assert isinstance(init, cls)
    check(init(shape), vs_law(scale, fan_of(mode, fi, fo), kind))


def test_jax_aliases():
    assert fastinit.xavier_uniform is fastinit.glorot_uniform
    assert fastinit.xavier_normal is fastinit.glorot_normal
    assert fastinit.kaiming_uniform is fastinit.he_uniform
    assert fastinit.kaiming_normal is fastinit.he_normal


SIMPLE = [
    # (id, initializer, law), parameters of the law written out by hand
    ("RandomNormal-default", lambda: fastinit.RandomNormal(seed=1), ("normal", 0.0, 0.05)),
    ("RandomNormal", lambda: fastinit.RandomNormal(0.3, 0.7, seed=1), ("normal", 0.3, 0.7)),
    ("RandomUniform-default", lambda: fastinit.RandomUniform(seed=1),
     ("uniform", -0.05, 0.05)),
    ("RandomUniform", lambda: fastinit.RandomUniform(-1.0, 3.0, seed=1),
     ("uniform", -1.0, 3.0)),
    ("TruncatedNormal-default", lambda: fastinit.TruncatedNormal(seed=1),
     ("trunc", 0.0, 0.05, -0.1, 0.1)),
    # bounds in std units: [1 + (-1) * 2, 1 + 0.5 * 2] = [-1, 2]; no variance correction
    ("TruncatedNormal", lambda: fastinit.TruncatedNormal(1.0, 2.0, seed=1, lower=-1.0,
                                                         upper=0.5),
     ("trunc", 1.0, 2.0, -1.0, 2.0)),
    ("uniform-default", lambda: fastinit.uniform(seed=1), ("uniform", 0.0, 0.01)),
    ("uniform", lambda: fastinit.uniform(2.5, seed=1), ("uniform", 0.0, 2.5)),
    ("normal-default", lambda: fastinit.normal(seed=1), ("normal", 0.0, 0.01)),
    ("normal", lambda: fastinit.normal(0.3, seed=1), ("normal", 0.0, 0.3)),
    ("truncated_normal-default", lambda: fastinit.truncated_normal(seed=1),
     ("trunc", 0.0, 0.01, -0.02, 0.02)),
    ("truncated_normal", lambda: fastinit.truncated_normal(0.5, lower=-1.0, upper=3.0, seed=1),
     ("trunc", 0.0, 0.5, -0.5, 1.5)),
]


@pytest.mark.parametrize("layout", list(JAX_SHAPES))
@pytest.mark.parametrize("make, law", [pytest.param(m, l, id=i) for i, m, l in SIMPLE])
def test_simple_random(make, law, layout):
    shape, _ = JAX_SHAPES[layout]
    x = make()(shape)
    assert x.shape == shape and x.dtype == F32
    check(x, law)


# ---- custom axes ----------------------------------------------------------------------------

AX_SHAPE = (16, 24, 10, 12)
AXES = [
    # (in_axis, out_axis, batch_axis, fan_in, fan_out) -- fans by hand for AX_SHAPE
    (0, 1, (), 16 * 120, 24 * 120),             # receptive field 10 * 12
    ((0, 1), -1, (), 384 * 10, 12 * 10),        # receptive field 10
    (-2, -1, 0, 10 * 24, 12 * 24),              # batch 16 excluded, receptive field 24
    (1, (2, 3), (0,), 24, 120),                 # nothing left: receptive field 1
    (-3, 0, (), 24 * 120, 16 * 120),            # negative in_axis, out first
    ([0], [3], [1, 2], 16, 12),                 # lists
    (2, 3, (), 10 * 384, 12 * 384),             # explicit default axes, as non-negative ints
]


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("in_axis, out_axis, batch_axis, fi, fo", AXES, ids=str)
def test_custom_axes_uniform(in_axis, out_axis, batch_axis, fi, fo, mode):
    init = fastinit.variance_scaling(3.0, mode, "uniform", in_axis=in_axis, out_axis=out_axis,
                                     batch_axis=batch_axis, seed=5)
    check(init(AX_SHAPE), vs_law(3.0, fi if mode == "fan_in" else fo, "uniform"))


@pytest.mark.parametrize("in_axis, out_axis, batch_axis, fi, fo", AXES, ids=str)
def test_custom_axes_presets(in_axis, out_axis, batch_axis, fi, fo):
    init = fastinit.glorot_normal(in_axis, out_axis, batch_axis, seed=6)
    check(init(AX_SHAPE), vs_law(1.0, (fi + fo) / 2, "trunc"))
    cls = fastinit.HeUniform(seed=6, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis)
    check(cls(AX_SHAPE), vs_law(2.0, fi, "uniform"))


def test_rank1_and_rank0_fans_follow_keras():
    # rank 1: fan_in = fan_out = n; rank 0: fans 1
    check(fastinit.he_uniform(seed=1)((40000,)), vs_law(2.0, 40000, "uniform"))
    x = fastinit.VarianceScaling(0.5, "fan_avg", "uniform", seed=1)(())
    assert x.shape == () and abs(float(x)) < math.sqrt(1.5)


# ---- other dtypes -----------------------------------------------------------------------

DTYPE_CASES = [
    ("variance_scaling-trunc", lambda **kw: fastinit.variance_scaling(2.0, "fan_avg", **kw),
     vs_law(2.0, (480 + 1440) / 2, "trunc")),
    ("variance_scaling-normal", lambda **kw: fastinit.variance_scaling(
        2.0, "fan_out", "normal", **kw), vs_law(2.0, 1440, "normal")),
    ("VarianceScaling-normal", lambda **kw: fastinit.VarianceScaling(
        2.0, "fan_out", "normal", **kw), vs_law(2.0, 1440, "trunc")),
    ("he_uniform", lambda **kw: fastinit.he_uniform(**kw), vs_law(2.0, 480, "uniform")),
    ("lecun_normal", lambda **kw: fastinit.lecun_normal(**kw), vs_law(1.0, 480, "trunc")),
    ("GlorotUniform", lambda **kw: fastinit.GlorotUniform(**kw),
     vs_law(1.0, 960, "uniform")),
    ("RandomNormal", lambda **kw: fastinit.RandomNormal(0.0, 0.3, **kw), ("normal", 0.0, 0.3)),
    ("uniform", lambda **kw: fastinit.uniform(0.5, **kw), ("uniform", 0.0, 0.5)),
    ("truncated_normal", lambda **kw: fastinit.truncated_normal(0.2, **kw),
     ("trunc", 0.0, 0.2, -0.4, 0.4)),
]
CONV = JAX_SHAPES["conv2d"][0]


@pytest.mark.parametrize("make, law", [pytest.param(m, l, id=i) for i, m, l in DTYPE_CASES])
def test_float64(make, law):
    x = make(seed=8)(CONV, F64)
    assert x.dtype == F64
    check(x, law)


@pytest.mark.parametrize("how", ["call-dtype", "call-str", "factory-dtype", "out"])
@pytest.mark.parametrize("dtype", dtype_params([F16, BF16]))
@pytest.mark.parametrize("make, law", [pytest.param(m, l, id=i) for i, m, l in DTYPE_CASES])
def test_16bit(make, law, dtype, how):
    name = "float16" if dtype == F16 else "bfloat16"
    if how == "call-dtype":
        x = make(seed=8)(CONV, dtype)
    elif how == "call-str":
        x = make(seed=8)(CONV, name)
    elif how == "factory-dtype":
        x = make(seed=8, dtype=name)(CONV)
    else:
        out = np.empty(CONV, dtype)
        x = make(seed=8)(out=out)
        assert x is out
    assert x.dtype == dtype and x.shape == CONV
    check_range(x, law)


def test_dtype_default_and_override():
    init = fastinit.normal(0.1, dtype=np.float16, seed=1)
    assert init((4, 4)).dtype == F16
    assert init((4, 4), np.float64).dtype == F64           # the call's dtype wins
    assert init((4, 4), ml_dtypes.bfloat16).dtype == BF16
    assert fastinit.normal(0.1, seed=1)((4, 4)).dtype == F32


# ---- orthogonal, delta orthogonal, identity -------------------------------------------

ORTHO_TOL = {F64: 1e-6, F32: 1e-4, F16: 4 * float(np.finfo(np.float16).eps),
             BF16: 4 * 2.0 ** -7}


def assert_semi_orthogonal(m, gain, tol):
    m = np.asarray(m, dtype=np.float64)
    rows, cols = m.shape
    gram = m.T @ m if rows >= cols else m @ m.T
    err = np.abs(gram - gain ** 2 * np.eye(min(rows, cols))).max()
    assert err <= tol * gain ** 2, f"max |Gram - gain^2 I| = {err:.3g}"


def columns_view(x, column_axis):
    """The (rows, cols) matrix of JAX's orthogonal: column_axis holds the columns, the other
    axes (in order) are flattened into rows."""
    x = np.moveaxis(np.asarray(x), column_axis, -1)
    return x.reshape(-1, x.shape[-1])


ORTHO_SHAPES = [(64, 16), (16, 64), (32, 32), (4, 6, 8), (3, 3, 4, 12), (2, 3, 5, 40)]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("column_axis", [-1, 0, 1])
@pytest.mark.parametrize("shape", ORTHO_SHAPES, ids=str)
def test_orthogonal(shape, column_axis, dtype):
    tol = ORTHO_TOL[np.dtype(dtype)]
    x = fastinit.orthogonal(2.0, column_axis=column_axis, seed=3)(shape, dtype)
    assert x.shape == shape and x.dtype == dtype
    assert_semi_orthogonal(columns_view(x, column_axis), 2.0, tol)
    y = fastinit.Orthogonal(gain=0.5, seed=3, column_axis=column_axis)(shape, dtype)
    assert_semi_orthogonal(columns_view(y, column_axis), 0.5, tol)
    # same seed, same stream: the gain is the only difference
    np.testing.assert_allclose(np.asarray(x, np.float64) / 4,
                               np.asarray(y, np.float64), rtol=tol, atol=tol)


def test_orthogonal_column_axis_matters():
    shape = (6, 10)
    x = fastinit.orthogonal(column_axis=-1, seed=1)(shape, F64)     # 6 x 10: orthonormal rows
    y = fastinit.orthogonal(column_axis=0, seed=1)(shape, F64)      # rows of the 10 x 6 view
    assert_semi_orthogonal(x, 1.0, 1e-10)
    assert_semi_orthogonal(y.T, 1.0, 1e-10)
    shape = (8, 2, 5)       # column_axis 1: an 40 x 2 matrix with orthonormal columns
    z = fastinit.orthogonal(column_axis=1, seed=1)(shape, F64)
    m = np.moveaxis(z, 1, -1).reshape(40, 2)
    np.testing.assert_allclose(m.T @ m, np.eye(2), atol=1e-10)


def test_keras_orthogonal_on_conv_kernel_flattens_all_but_last():
    # Keras: rows = prod(shape[:-1]) = 3 * 3 * 4 = 36, cols = 12 -> orthonormal columns
    x = fastinit.Orthogonal(seed=2)((3, 3, 4, 12), F64)
    m = x.reshape(36, 12)
    np.testing.assert_allclose(m.T @ m, np.eye(12), atol=1e-10)


@pytest.mark.parametrize("shape", [(3, 3), (3, 2), (2, 3)])
def test_orthogonal_is_haar(shape):
    """Each entry of a Haar (semi-)orthogonal matrix with long side 3 is uniform on [-1, 1];
    without the sign fix the (0, 0) entry would always be negative."""
    g = fastinit.Generator(77)
    init = fastinit.orthogonal()
    n = 3000
    q = np.array([init(shape, F64, generator=g) for _ in range(n)])
    for i in range(min(shape)):
        d = q[:, i, i]
        assert abs((d < 0).sum() - n / 2) < 6 * math.sqrt(n / 4)
        p = stats.kstest(d, stats.uniform(loc=-1, scale=2).cdf).pvalue
        assert p > P_MIN, f"diagonal entry {i}: KS p={p:.3g}"


DELTA_SHAPES = [(3, 3, 4, 4), (3, 3, 4, 8), (3, 3, 1, 5), (5, 4, 6), (3, 3, 3, 2, 5),
                (4, 4, 3, 3), (2, 6, 2, 2)]


@pytest.mark.parametrize("dtype", dtype_params())
@pytest.mark.parametrize("shape", DELTA_SHAPES, ids=str)
def test_delta_orthogonal(shape, dtype):
    x = fastinit.delta_orthogonal(1.5, seed=4)(shape, dtype)
    assert x.shape == shape and x.dtype == dtype
    centre = tuple((k - 1) // 2 for k in shape[:-2])
    xf = np.asarray(x, np.float64)
    mask = np.ones(shape[:-2], bool)
    mask[centre] = False
    assert np.all(xf[mask] == 0), "non-zero values off the centre"
    m = xf[centre]                          # (in, out), in <= out: orthonormal rows
    assert m.shape == shape[-2:]
    assert_semi_orthogonal(m, 1.5, ORTHO_TOL[np.dtype(dtype)])
    y = fastinit.DeltaOrthogonal(gain=1.5, seed=4)(shape, dtype)
    assert np.array_equal(as_bits(x), as_bits(y))


@pytest.mark.parametrize("shape", [(3, 3, 5, 4), (3, 4), (2, 2, 2, 2, 2, 2)],
                         ids=["in-gt-out", "rank2", "rank6"])
def test_delta_orthogonal_errors(shape):
    out = sentinel(shape, np.float32)
    before = as_bits(out).copy()
    with pytest.raises(ValueError):
        fastinit.delta_orthogonal(seed=0)(out=out)
    with pytest.raises(ValueError):
        fastinit.DeltaOrthogonal(seed=0)(shape)
    assert np.array_equal(as_bits(out), before)


@pytest.mark.parametrize("shape", [(5, 5), (3, 6), (6, 3)])
def test_identity(shape):
    for init, gain in [(fastinit.Identity(), 1.0), (fastinit.Identity(2.5), 2.5),
                       (fastinit.identity(-0.5), -0.5)]:
        x = init(shape)
        expected = np.array([[gain if i == j else 0.0 for j in range(shape[1])]
                             for i in range(shape[0])])
        assert np.array_equal(x, expected.astype(np.float32))


def test_constant_zeros_ones():
    assert np.all(fastinit.Constant(2.5)((3, 4)) == 2.5)
    assert np.all(fastinit.constant(-1.25)((3, 4)) == -1.25)
    assert fastinit.constant(3.0, dtype=np.float16)((2,)).dtype == F16
    assert fastinit.zeros() is fastinit.zeros and fastinit.ones() is fastinit.ones
    z = fastinit.zeros((3, 4), np.float64)
    assert z.dtype == F64 and np.all(z == 0)
    assert np.all(fastinit.ones((5,), BF16).astype(np.float64) == 1)
    assert np.all(fastinit.Zeros()((2, 2)) == 0) and np.all(fastinit.Ones()((2, 2)) == 1)
    out = np.full((3, 3), 7.0, np.float32)
    assert fastinit.zeros(out=out) is out and np.all(out == 0)


# ---- configs, serialize, get, repr --------------------------------------------------------

def all_initializers():
    return [
        fastinit.Constant(2.5), fastinit.Zeros(), fastinit.Ones(),
        fastinit.RandomUniform(-1.0, 2.0, seed=3), fastinit.RandomNormal(1.0, 2.0, seed=4),
        fastinit.TruncatedNormal(0.0, 1.0, seed=5, lower=-1.0, upper=3.0),
        fastinit.VarianceScaling(2.0, "fan_out", "uniform", seed=1, in_axis=0,
                                 out_axis=(1, 2)),
        fastinit.VarianceScaling(0.5, "fan_geo_avg", "normal", batch_axis=(0,)),
        fastinit.GlorotUniform(seed=1), fastinit.GlorotNormal(), fastinit.HeUniform(seed=2),
        fastinit.HeNormal(), fastinit.LecunUniform(), fastinit.LecunNormal(seed=9),
        fastinit.Orthogonal(2.0, seed=1, column_axis=0), fastinit.DeltaOrthogonal(seed=2),
        fastinit.Identity(3.0),
        fastinit.zeros, fastinit.ones, fastinit.constant(1.5), fastinit.uniform(0.5, seed=1),
        fastinit.normal(0.3), fastinit.truncated_normal(0.2, lower=-1.0, upper=1.0, seed=0),
        fastinit.variance_scaling(1.0, "fan_avg", "normal", seed=7),
        fastinit.variance_scaling(3.0, "fan_in", "truncated_normal", in_axis=(0, 1),
                                  out_axis=3, batch_axis=2),
        fastinit.glorot_uniform(), fastinit.glorot_normal(in_axis=0, out_axis=1, batch_axis=2),
        fastinit.he_uniform(seed=3), fastinit.he_normal(), fastinit.lecun_uniform(),
        fastinit.lecun_normal(seed=0), fastinit.orthogonal(1.5, column_axis=1),
        fastinit.delta_orthogonal(0.5, seed=1), fastinit.identity(2.0),
    ]


INITS = all_initializers()
INIT_IDS = [f"{i}-{type(o).__name__}" for i, o in enumerate(INITS)]


@pytest.mark.parametrize("init", INITS, ids=INIT_IDS)
def test_config_round_trip(init):
    cfg = init.get_config()
    again = type(init).from_config(cfg)
    assert type(again) is type(init)
    assert again.get_config() == cfg
    s = fastinit.serialize(init)
    assert s == {"class_name": type(init).__name__, "config": cfg}
    got = fastinit.get(s)
    assert type(got) is type(init) and got.get_config() == cfg
    # a seeded initializer rebuilt from its config gives the same values
    if cfg.get("seed") is not None:
        shape = (3, 3, 4, 5)
        assert np.array_equal(as_bits(got(shape)), as_bits(init(shape)))


@pytest.mark.parametrize("init", INITS, ids=INIT_IDS)
def test_repr(init):
    r = repr(init)
    name = type(init).__name__
    assert r.startswith(name + "(") and r.endswith(")")
    for k, v in init.get_config().items():
        assert f"{k}={v!r}" in r
    ns = {k: getattr(fastinit, k) for k in dir(fastinit)}
    assert eval(r, ns).get_config() == init.get_config()


def test_repr_examples():
    assert repr(fastinit.GlorotUniform(seed=1)) == "GlorotUniform(seed=1)"
    assert repr(fastinit.RandomNormal(0.0, 0.5, seed=2)) == \
        "RandomNormal(mean=0.0, stddev=0.5, seed=2)"
    assert repr(fastinit.variance_scaling(2.0, "fan_in", "normal", seed=3)) == \
        ("VarianceScaling(scale=2.0, mode='fan_in', distribution='untruncated_normal', "
         "seed=3)")


def test_configs_store_unambiguous_distribution():
    assert fastinit.variance_scaling(distribution="normal").get_config()["distribution"] == \
        "untruncated_normal"
    assert fastinit.VarianceScaling(distribution="normal").get_config()["distribution"] == \
        "truncated_normal"
    assert fastinit.variance_scaling(distribution="NORMAL").distribution == \
        "untruncated_normal"


GET_NAMES = {
    "glorot_uniform": fastinit.GlorotUniform, "glorot_normal": fastinit.GlorotNormal,
    "he_normal": fastinit.HeNormal, "he_uniform": fastinit.HeUniform,
    "lecun_normal": fastinit.LecunNormal, "lecun_uniform": fastinit.LecunUniform,
    "orthogonal": fastinit.Orthogonal, "zeros": fastinit.Zeros, "ones": fastinit.Ones,
    "constant": fastinit.Constant, "identity": fastinit.Identity,
    "random_normal": fastinit.RandomNormal, "random_uniform": fastinit.RandomUniform,
    "truncated_normal": fastinit.TruncatedNormal, "variance_scaling": fastinit.VarianceScaling,
    "delta_orthogonal": fastinit.DeltaOrthogonal,
    "GlorotUniform": fastinit.GlorotUniform, "GlorotNormal": fastinit.GlorotNormal,
    "HeNormal": fastinit.HeNormal, "HeUniform": fastinit.HeUniform,
    "LecunNormal": fastinit.LecunNormal, "LecunUniform": fastinit.LecunUniform,
    "Orthogonal": fastinit.Orthogonal, "Zeros": fastinit.Zeros, "Ones": fastinit.Ones,
    "Constant": fastinit.Constant, "Identity": fastinit.Identity,
    "RandomNormal": fastinit.RandomNormal, "RandomUniform": fastinit.RandomUniform,
    "TruncatedNormal": fastinit.TruncatedNormal, "VarianceScaling": fastinit.VarianceScaling,
    "OrthogonalInitializer": fastinit.Orthogonal, "IdentityInitializer": fastinit.Identity,
    "normal": fastinit.RandomNormal, "uniform": fastinit.RandomUniform,
}


@pytest.mark.parametrize("name", list(GET_NAMES))
def test_get_by_name(name):
    init = fastinit.get(name)
    assert type(init) is GET_NAMES[name]


def test_get_names_keep_keras_defaults():
    # Keras's names and defaults: "normal" is RandomNormal(stddev=0.05), not JAX's normal()
    assert fastinit.get("normal").get_config()["stddev"] == 0.05
    u = fastinit.get("uniform").get_config()
    assert (u["minval"], u["maxval"]) == (-0.05, 0.05)
    assert fastinit.get("variance_scaling").get_config()["distribution"] == "truncated_normal"
    assert fastinit.get("glorot_uniform")((16000, 4)).max() <= math.sqrt(6 / 16004)


KERAS_VS_NORMAL = {"class_name": "VarianceScaling",
                   "config": {"scale": 2.0, "mode": "fan_in", "distribution": "normal",
                              "seed": None},
                   "module": "keras.initializers", "registered_name": None}


def test_keras_config_normal_is_truncated_jax_factory_is_not(restore_default_generator):
    shape, (fi, _) = JAX_SHAPES["conv2d"]
    fastinit.manual_seed(2)             # the config's seed is None: fix it through the default
    keras = fastinit.get(KERAS_VS_NORMAL)
    assert type(keras) is fastinit.VarianceScaling
    assert keras.get_config()["distribution"] == "truncated_normal"
    assert keras.get_config()["scale"] == 2.0 and keras.get_config()["mode"] == "fan_in"
    jax = fastinit.variance_scaling(2.0, "fan_in", "normal", seed=0)
    assert jax.get_config()["distribution"] == "untruncated_normal"

    sigma = math.sqrt(2.0 / fi)
    xk = keras(shape).astype(np.float64)
    std_k = sigma / TRUNC
    assert np.abs(xk).max() <= 2 * std_k
    check_truncnorm(xk, 0.0, std_k, -2 * std_k, 2 * std_k)
    assert abs(xk.std() / sigma - 1) < 0.02         # the variance asked for, after truncation

    xj = jax(shape).astype(np.float64)
    assert (np.abs(xj) > 2 * sigma).sum() > 1000    # ~4.6% of 46080 beyond 2 std
    assert (np.abs(xj) > 2 * std_k).sum() > 500     # and beyond the Keras truncation point
    check_normal(xj, 0.0, sigma)
    # round trip of the JAX one keeps it untruncated
    back = fastinit.get(fastinit.serialize(jax))
    assert back.get_config()["distribution"] == "untruncated_normal"


KERAS3_CONFIGS = [
    ({"class_name": "GlorotUniform", "config": {"seed": 42}}, fastinit.GlorotUniform),
    ({"class_name": "HeNormal", "config": {"seed": None}}, fastinit.HeNormal),
    ({"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.05, "seed": None}},
     fastinit.RandomNormal),
    ({"class_name": "RandomUniform",
      "config": {"minval": -0.05, "maxval": 0.05, "seed": 1}}, fastinit.RandomUniform),
    ({"class_name": "TruncatedNormal", "config": {"mean": 0.0, "stddev": 0.05, "seed": None}},
     fastinit.TruncatedNormal),
    ({"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}}, fastinit.Orthogonal),
    ({"class_name": "Constant", "config": {"value": 2.0}}, fastinit.Constant),
    ({"class_name": "Zeros", "config": {}}, fastinit.Zeros),
    ({"class_name": "Ones", "config": {}}, fastinit.Ones),
    ({"class_name": "Identity", "config": {"gain": 1.0}}, fastinit.Identity),
    ({"class_name": "VarianceScaling",
      "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
     fastinit.VarianceScaling),
]


@pytest.mark.parametrize("cfg, cls", KERAS3_CONFIGS, ids=lambda v: getattr(v, "__name__", ""))
def test_get_keras3_configs(cfg, cls):
    full = dict(cfg, module="keras.initializers", registered_name=None)
    init = fastinit.get(full)
    assert type(init) is cls
    for k, v in cfg["config"].items():
        assert init.get_config()[k] == v
    assert full["config"] == cfg["config"]          # the identifier is not mutated


def test_get_passthrough():
    assert fastinit.get(None) is None
    init = fastinit.HeNormal(seed=1)
    assert fastinit.get(init) is init

    def my_init(shape, dtype=None):
        return np.zeros(shape, dtype)
    assert fastinit.get(my_init) is my_init
    assert fastinit.get(fastinit.glorot_uniform) is fastinit.glorot_uniform


@pytest.mark.parametrize("bad", ["nope", "GLOROT_UNIFORM", "", {"class_name": "Nope"},
                                 {"config": {}}, {"class_name": "HeNormal_"}, 3, 2.5,
                                 ["glorot_uniform"], b"zeros"],
                         ids=["unknown", "upper", "empty", "dict-unknown", "dict-no-class",
                              "dict-typo", "int", "float", "list", "bytes"])
def test_get_bad_identifier(bad):
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        fastinit.get(bad)


@pytest.mark.parametrize("bad", [None, "glorot_uniform", np.zeros, {"class_name": "Zeros"}])
def test_serialize_rejects_non_initializers(bad):
    with pytest.raises(TypeError):
        fastinit.serialize(bad)


# ---- seeds --------------------------------------------------------------------------------

def random_inits(seed):
    return {
        "RandomNormal": fastinit.RandomNormal(seed=seed),
        "RandomUniform": fastinit.RandomUniform(seed=seed),
        "TruncatedNormal": fastinit.TruncatedNormal(seed=seed),
        "VarianceScaling": fastinit.VarianceScaling(seed=seed),
        "GlorotUniform": fastinit.GlorotUniform(seed=seed),
        "HeNormal": fastinit.HeNormal(seed=seed),
        "Orthogonal": fastinit.Orthogonal(seed=seed),
        "DeltaOrthogonal": fastinit.DeltaOrthogonal(seed=seed),
        "variance_scaling": fastinit.variance_scaling(1.0, "fan_avg", "normal", seed=seed),
        "uniform": fastinit.uniform(seed=seed),
        "normal": fastinit.normal(seed=seed),
        "truncated_normal": fastinit.truncated_normal(seed=seed),
        "lecun_uniform": fastinit.lecun_uniform(seed=seed),
        "orthogonal": fastinit.orthogonal(seed=seed),
    }


RANDOM_NAMES = list(random_inits(0))
SEED_SHAPE = (3, 3, 6, 8)


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_seeded_repeats_and_seeds_differ(name, restore_default_generator):
    a = random_inits(11)[name]
    x = a(SEED_SHAPE)
    fastinit.manual_seed(999)                       # the default generator plays no part
    assert np.array_equal(as_bits(a(SEED_SHAPE)), as_bits(x))
    assert np.array_equal(as_bits(random_inits(11)[name](SEED_SHAPE)), as_bits(x))
    assert not np.array_equal(random_inits(12)[name](SEED_SHAPE), x)


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_unseeded_repeats_and_manual_seed(name, restore_default_generator):
    a = random_inits(None)[name]
    x = a(SEED_SHAPE)
    assert np.array_equal(as_bits(a(SEED_SHAPE)), as_bits(x)), "seed not fixed at construction"
    fastinit.manual_seed(5)
    b = random_inits(None)[name]
    c = random_inits(None)[name]        # built later: a different seed
    fastinit.manual_seed(5)
    b2 = random_inits(None)[name]
    assert np.array_equal(as_bits(b(SEED_SHAPE)), as_bits(b2(SEED_SHAPE)))
    assert not np.array_equal(b(SEED_SHAPE), c(SEED_SHAPE))
    fastinit.manual_seed(6)
    assert not np.array_equal(random_inits(None)[name](SEED_SHAPE), b(SEED_SHAPE))


def test_seeded_construction_does_not_touch_default(restore_default_generator):
    g = fastinit.manual_seed(3)
    random_inits(1)
    assert g.counter == 0
    fastinit.HeNormal()
    assert g.counter > 0


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_generator_at_call_time(name):
    a = random_inits(11)[name]
    g = fastinit.Generator(40)
    x1 = a(SEED_SHAPE, generator=g)
    x2 = a(SEED_SHAPE, generator=g)
    assert not np.array_equal(x1, x2), "the same Generator object did not advance"
    assert np.array_equal(as_bits(a(SEED_SHAPE, generator=40)), as_bits(x1))
    assert np.array_equal(as_bits(a(SEED_SHAPE, generator=40)),
                          as_bits(a(SEED_SHAPE, generator=fastinit.Generator(40))))
    assert not np.array_equal(a(SEED_SHAPE), x1)        # its own seed is not 40's stream
    # generator= overrides the initializer's seed: another seed, same values
    assert np.array_equal(as_bits(random_inits(12)[name](SEED_SHAPE, generator=40)),
                          as_bits(x1))


# ---- zero elements, out=, non-contiguous ---------------------------------------------------

@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("init", INITS, ids=INIT_IDS)
def test_zero_element(init, which):
    shape = [(0, 3), (3, 0)][which] if isinstance(init, fastinit.Identity) else \
        [(3, 3, 0, 4), (0, 3, 4, 5)][which]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = init(shape)
        out = np.empty(shape, np.float64)
        assert init(out=out) is out
    assert x.shape == shape and x.dtype == F32


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_out_noncontiguous_equals_contiguous(name):
    a = random_inits(21)[name]
    base = sentinel((3, 3, 8, 16), np.float32)
    before = as_bits(base).copy()
    view = base[..., ::2]                           # (3, 3, 8, 8), not contiguous
    assert a(out=view) is view
    ref = a((3, 3, 8, 8))
    assert np.array_equal(as_bits(view), as_bits(ref))
    assert np.array_equal(as_bits(base[..., 1::2]), before[..., 1::2])
    # a transposed (F-ordered) out
    t = np.empty((8, 8, 3, 3), np.float32).transpose()
    assert a((3, 3, 8, 8), out=t) is t
    assert np.array_equal(as_bits(t), as_bits(ref))


def test_out_dtype_is_the_outs():
    out = np.empty((4, 5), np.float64)
    assert fastinit.he_normal(seed=0)(out=out).dtype == F64
    assert fastinit.normal(0.1, dtype=np.float16, seed=0)(out=out) is out


# ---- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("init", INITS, ids=INIT_IDS)
def test_out_mismatch(init):
    out = sentinel((3, 3, 4, 5), np.float32)
    before = as_bits(out).copy()
    with pytest.raises(ValueError, match="does not match"):
        init((3, 3, 5, 4), out=out)
    with pytest.raises(TypeError, match="does not match"):
        init((3, 3, 4, 5), np.float64, out=out)
    with pytest.raises(TypeError):
        init((3, 3, 4, 5), np.int32)
    with pytest.raises(TypeError):
        init((3, 3, 4, 5), "int8")
    assert np.array_equal(as_bits(out), before)


@pytest.mark.parametrize("bad_out", [np.zeros((3, 4), np.int32), [[0.0] * 4] * 3,
                                     np.zeros((3, 4), ">f4")], ids=["int", "list", "big-endian"])
def test_bad_out_type(bad_out):
    with pytest.raises(TypeError):
        fastinit.glorot_uniform(seed=0)(out=bad_out)


def test_read_only_out():
    out = sentinel((3, 4), np.float32)
    before = as_bits(out).copy()
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastinit.glorot_uniform(seed=0)(out=out)
    assert np.array_equal(as_bits(out), before)


def test_no_shape_no_out():
    with pytest.raises(TypeError):
        fastinit.he_normal(seed=0)()
    with pytest.raises((TypeError, ValueError)):
        fastinit.he_normal(seed=0)((3, -1))


@pytest.mark.parametrize("make", [
    lambda s: fastinit.RandomNormal(seed=s), lambda s: fastinit.GlorotUniform(seed=s),
    lambda s: fastinit.VarianceScaling(seed=s), lambda s: fastinit.Orthogonal(seed=s),
    lambda s: fastinit.normal(seed=s), lambda s: fastinit.he_normal(seed=s),
    lambda s: fastinit.variance_scaling(seed=s), lambda s: fastinit.orthogonal(seed=s),
    lambda s: fastinit.truncated_normal(seed=s), lambda s: fastinit.uniform(seed=s),
], ids=["RandomNormal", "GlorotUniform", "VarianceScaling", "Orthogonal", "normal",
        "he_normal", "variance_scaling", "orthogonal", "truncated_normal", "uniform"])
@pytest.mark.parametrize("seed", [-1, 1.5, True, False, "1", np.float64(2.0)], ids=str)
def test_bad_seed(make, seed):
    with pytest.raises(ValueError, match="seed"):
        make(seed)


@pytest.mark.parametrize("seed", [0, 2**63, np.int64(5), np.uint32(7)], ids=str)
def test_good_seeds(seed):
    a = fastinit.RandomNormal(seed=seed)
    assert a.get_config()["seed"] == int(seed) and type(a.get_config()["seed"]) is int


CONSTRUCTION_ERRORS = [
    ("vs-mode", lambda: fastinit.VarianceScaling(mode="fan_sum")),
    ("vs-mode-none", lambda: fastinit.VarianceScaling(mode=None)),
    ("vs-dist", lambda: fastinit.VarianceScaling(distribution="gaussian")),
    ("vs-dist-int", lambda: fastinit.variance_scaling(distribution=1)),
    ("vs-mode-factory", lambda: fastinit.variance_scaling(mode="avg")),
    ("vs-scale-0", lambda: fastinit.VarianceScaling(scale=0.0)),
    ("vs-scale-neg", lambda: fastinit.variance_scaling(-1.0)),
    ("vs-axis-float", lambda: fastinit.variance_scaling(in_axis=1.0)),
    ("vs-axis-bool", lambda: fastinit.he_normal(out_axis=True)),
    ("vs-axis-tuple-float", lambda: fastinit.glorot_uniform(batch_axis=(0, 1.5))),
    ("uniform-min-gt-max", lambda: fastinit.RandomUniform(1.0, -1.0)),
    ("uniform-inf", lambda: fastinit.RandomUniform(0.0, math.inf)),
    ("normal-neg-std", lambda: fastinit.RandomNormal(stddev=-0.1)),
    ("normal-nan-mean", lambda: fastinit.RandomNormal(mean=math.nan)),
    ("trunc-zero-std", lambda: fastinit.TruncatedNormal(stddev=0.0)),
    ("trunc-lower-ge-upper", lambda: fastinit.TruncatedNormal(lower=1.0, upper=1.0)),
    ("trunc-factory-bounds", lambda: fastinit.truncated_normal(lower=2.0, upper=-2.0)),
    ("ortho-column-axis-bool", lambda: fastinit.Orthogonal(column_axis=True)),
    ("ortho-column-axis-float", lambda: fastinit.orthogonal(column_axis=1.0)),
    ("ortho-gain-nan", lambda: fastinit.Orthogonal(gain=math.nan)),
    ("identity-gain-inf", lambda: fastinit.Identity(math.inf)),
]


@pytest.mark.parametrize("make", [pytest.param(m, id=i) for i, m in CONSTRUCTION_ERRORS])
def test_construction_errors(make):
    with pytest.raises((ValueError, TypeError)):
        make()


@pytest.mark.parametrize("make", [
    lambda: fastinit.VarianceScaling(mode="fan_sum"),
    lambda: fastinit.VarianceScaling(distribution="gaussian"),
    lambda: fastinit.variance_scaling(distribution="truncated"),
    lambda: fastinit.VarianceScaling(scale=0.0),
    lambda: fastinit.RandomUniform(1.0, -1.0),
    lambda: fastinit.RandomNormal(stddev=-0.1),
    lambda: fastinit.TruncatedNormal(lower=1.0, upper=1.0),
], ids=["mode", "dist", "dist-factory", "scale", "minmax", "stddev", "bounds"])
def test_construction_errors_are_value_errors(make):
    with pytest.raises(ValueError):
        make()


CALL_ERRORS = [
    # (id, initializer, shape): raise ValueError at call time, out= untouched
    ("axis-out-of-range", fastinit.variance_scaling(in_axis=4, out_axis=-1), (2, 3, 4, 5)),
    ("axis-neg-out-of-range", fastinit.variance_scaling(in_axis=-5), (2, 3, 4, 5)),
    ("tuple-axis-out-of-range", fastinit.he_normal(in_axis=(0, 7)), (2, 3, 4, 5)),
    ("batch-out-of-range", fastinit.glorot_uniform(batch_axis=4), (2, 3, 4, 5)),
    ("overlap-in-out", fastinit.variance_scaling(in_axis=0, out_axis=0), (2, 3, 4, 5)),
    ("overlap-neg", fastinit.variance_scaling(in_axis=-1, out_axis=3), (2, 3, 4, 5)),
    ("overlap-batch", fastinit.glorot_normal(in_axis=0, out_axis=1, batch_axis=(1,)),
     (2, 3, 4, 5)),
    ("overlap-tuples", fastinit.VarianceScaling(in_axis=(0, 1), out_axis=(1, 2)),
     (2, 3, 4, 5)),
    ("custom-axes-rank1", fastinit.variance_scaling(in_axis=0, out_axis=1), (6,)),
    ("identity-3d", fastinit.Identity(), (3, 3, 3)),
    ("identity-1d", fastinit.identity(), (3,)),
    ("orthogonal-1d", fastinit.Orthogonal(seed=0), (5,)),
    ("orthogonal-0d", fastinit.orthogonal(seed=0), ()),
    ("orthogonal-column-axis", fastinit.orthogonal(column_axis=2, seed=0), (4, 5)),
    ("orthogonal-column-axis-neg", fastinit.Orthogonal(column_axis=-3, seed=0), (4, 5)),
    ("delta-column-axis", fastinit.delta_orthogonal(column_axis=2, seed=0), (3, 3, 4, 5)),
]


@pytest.mark.parametrize("init, shape", [pytest.param(i, s, id=n) for n, i, s in CALL_ERRORS])
def test_call_errors(init, shape):
    with pytest.raises(ValueError):
        init(shape)
    out = sentinel(shape, np.float32)
    before = as_bits(out).copy()
    with pytest.raises(ValueError):
        init(out=out)
    assert np.array_equal(as_bits(out), before)


def test_identity_messages():
    with pytest.raises(ValueError, match="2D"):
        fastinit.Identity()((3, 3, 3))
    with pytest.raises(ValueError, match="at least two-dimensional"):
        fastinit.Orthogonal(seed=0)((5,))
    with pytest.raises(ValueError, match="less or equal"):
        fastinit.DeltaOrthogonal(seed=0)((3, 3, 5, 4))
