"""fastinit.jax: jax.nn.initializers' surface, JAX's NNInitializersTest behaviours, keys,
jit == eager, Flax, and make_array over 8 host devices (in a subprocess: see _jax_sharded).

Distribution checks compare with scipy.stats and, two-sample, with JAX's own initializers
under fixed keys, so they are deterministic.
"""
import inspect
import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy
stats = pytest.importorskip("scipy.stats")

import fastinit                                   # noqa: E402
import fastinit.jax as fj                         # noqa: E402
from jax.nn import initializers as ji             # noqa: E402

import _jax_sharded                               # noqa: E402

KEY = jax.random.key(0)
FLOATS = [jnp.float16, jnp.bfloat16, jnp.float32]
INEXACT = FLOATS + [jnp.complex64]
P_MIN = 1e-3          # fixed keys: a p-value is a fixed number; this flags a wrong law


def bits(a):
    a = np.asarray(a)
    return a.dtype, a.shape, a.tobytes()


def f64(a):
    return np.asarray(a).astype(np.complex128 if np.iscomplexobj(a) else np.float64)


# ---- the surface ---------------------------------------------------------------------

def _jax_names():
    return sorted(n for n in dir(ji) if not n.startswith("_") and n != "Initializer")


def test_every_jax_initializer_name_exists_with_jax_signature():
    names = _jax_names()
    assert {"constant", "delta_orthogonal", "glorot_normal", "he_uniform", "orthogonal",
            "variance_scaling", "xavier_uniform", "kaiming_normal", "zeros"} <= set(names)
    for name in names:
        ours, theirs = getattr(fj, name), getattr(ji, name)
        if name in ("zeros", "ones"):          # initializers themselves, not factories
            ours = ours.__call__
        sig_o, sig_t = inspect.signature(ours), inspect.signature(theirs)
        assert list(sig_o.parameters) == list(sig_t.parameters), name
        for p, q in zip(sig_o.parameters.values(), sig_t.parameters.values()):
            if p.name != "dtype" or name not in ("zeros", "ones"):
                assert p.default == q.default or (
                    isinstance(q.default, float) and p.default == q.default), (name, p.name)


def test_returned_initializers_take_jax_call_signature():
    sig = inspect.signature(fj.normal().__call__)
    assert list(sig.parameters) == ["key", "shape", "dtype", "out_sharding"]
    assert list(inspect.signature(ji.normal()).parameters) == list(sig.parameters)


def test_import_fastinit_jax_does_not_import_jax():
    code = "import sys, fastinit, fastinit.jax; fastinit.jax.normal; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                         timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_top_level_names_unchanged():
    # the top level keeps fastinit's (shape, dtype) objects; fastinit.jax is separate
    assert fastinit.jax is fj
    assert fastinit.normal is not fj.normal
    assert fastinit.normal(1.0, seed=0)((3, 4)).shape == (3, 4)
    assert fastinit.zeros() is fastinit.zeros


# ---- NNInitializersTest: shapes and dtypes ---------------------------------------------

ALL_SHAPES = [(2,), (2, 2), (2, 3), (3, 2), (2, 3, 4), (4, 3, 2), (2, 3, 4, 5)]
RECORDS = [        # name, factory, dtypes, min rank, max rank (as JAX's test lists them)
    ("uniform", FLOATS, 1, 4), ("normal", INEXACT, 1, 4), ("he_normal", INEXACT, 2, 4),
    ("he_uniform", INEXACT, 2, 4), ("glorot_normal", INEXACT, 2, 4),
    ("glorot_uniform", INEXACT, 2, 4), ("lecun_normal", INEXACT, 2, 4),
    ("lecun_uniform", INEXACT, 2, 4), ("orthogonal", INEXACT, 2, 2),
    ("truncated_normal", FLOATS, 1, 4), ("delta_orthogonal", INEXACT, 4, 4),
]
SHAPE_CASES = [(name, shape, dt) for name, dts, lo, hi in RECORDS for dt in dts
               for shape in ALL_SHAPES if lo <= len(shape) <= hi]


@pytest.mark.parametrize("name,shape,dtype", SHAPE_CASES)
def test_initializer_shape_and_dtype(name, shape, dtype):
    for val in (getattr(fj, name)()(KEY, shape, dtype),          # dtype at the call
                getattr(fj, name)(dtype=dtype)(KEY, shape)):      # dtype at the factory
        assert isinstance(val, jax.Array)
        assert val.shape == shape and val.dtype == jax.dtypes.canonicalize_dtype(dtype)


def test_variance_scaling_geo_avg_and_multi_axis_shapes():
    for dt in FLOATS:
        v = fj.variance_scaling(1, "fan_geo_avg", "normal")(KEY, (2, 3, 4), dt)
        assert v.shape == (2, 3, 4) and v.dtype == dt
    init = fj.variance_scaling(scale=1.0, mode="fan_avg", distribution="truncated_normal",
                               in_axis=(0, 1), out_axis=(-2, -1))
    assert init(KEY, (2, 3, 4, 5)).shape == (2, 3, 4, 5)
    init = fj.variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis=0,
                               out_axis=(2, 3), batch_axis=1)
    assert init(KEY, (2, 3, 4, 5)).shape == (2, 3, 4, 5)


def test_default_dtype_follows_x64():
    assert fj.normal()(KEY, (2, 2)).dtype == jnp.float32
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert fj.normal()(KEY, (2, 2), jnp.float64).dtype == jnp.float32
    assert any("truncated to dtype float32" in str(x.message) for x in w)
    jax.config.update("jax_enable_x64", True)
    try:
        assert fj.normal()(KEY, (2, 2)).dtype == jnp.float64
        assert fj.he_normal()(KEY, (2, 2)).dtype == ji.he_normal()(KEY, (2, 2)).dtype
        assert fj.normal()(KEY, (3,), jnp.complex128).dtype == jnp.complex128
        assert fj.zeros(KEY, (2,), jnp.int64).dtype == jnp.int64
    finally:
        jax.config.update("jax_enable_x64", False)


def test_accidental_upcasting_and_0d_array_parameters():
    p = jnp.array(1.0, dtype=jnp.float32)
    for make in (fj.uniform, fj.normal, fj.truncated_normal):
        a = make(p, jnp.bfloat16)(KEY, (4, 4))
        assert a.dtype == jnp.bfloat16
        assert bits(a) == bits(make(1.0, jnp.bfloat16)(KEY, (4, 4)))
    for init, plain in [(fj.variance_scaling(jnp.array(2.0), "fan_in", "normal"),
                         fj.variance_scaling(2.0, "fan_in", "normal")),
                        (fj.orthogonal(np.float32(2.0)), fj.orthogonal(2.0)),
                        (fj.truncated_normal(1.0, lower=jnp.array(-1.0), upper=np.array(1)),
                         fj.truncated_normal(1.0, lower=-1.0, upper=1.0))]:
        assert bits(init(KEY, (8, 8))) == bits(plain(KEY, (8, 8)))
    with pytest.raises(TypeError, match="0-d"):
        fj.normal(jnp.ones(3))
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda s, k: fj.normal(s)(k, (2, 2)))(1.0, KEY)


# ---- variance scaling: the std per mode, distribution and axes ------------------------

# shape, axes, fan_in, fan_out -- written out by hand
FAN_CASES = [
    ((64, 96), {}, 64, 96),
    ((3, 3, 16, 32), {}, 144, 288),
    ((4, 5, 6, 7), {"in_axis": (0, 1), "out_axis": (-2, -1)}, 20, 42),
    ((6, 3, 16, 40), {"in_axis": 0, "out_axis": (2, 3), "batch_axis": 1}, 6, 640),
    ((32, 5, 48), {"in_axis": -1, "out_axis": 0}, 240, 160),
    ((4096,), {"in_axis": 0, "out_axis": 0}, 1, 1),
]
MODES = {"fan_in": lambda i, o: i, "fan_out": lambda i, o: o,
         "fan_avg": lambda i, o: (i + o) / 2, "fan_geo_avg": lambda i, o: math.sqrt(i * o)}


def _law(distribution, var):
    if distribution == "uniform":
        lim = math.sqrt(3 * var)
        return stats.uniform(-lim, 2 * lim)
    if distribution == "normal":
        return stats.norm(0, math.sqrt(var))
    return stats.truncnorm(-2, 2, scale=math.sqrt(var) / 0.87962566103423978)


@pytest.mark.parametrize("shape,axes,fan_in,fan_out", FAN_CASES)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_variance_scaling_law(shape, axes, fan_in, fan_out, mode, distribution):
    scale = 1.7
    var = scale / MODES[mode](fan_in, fan_out)
    x = f64(fj.variance_scaling(scale, mode, distribution, **axes)(KEY, shape)).ravel()
    assert stats.kstest(x, _law(distribution, var).cdf).pvalue > P_MIN
    if distribution != "normal":       # bounded: the bound itself
        bound = math.sqrt(3 * var) if distribution == "uniform" else \
            2 * math.sqrt(var) / 0.87962566103423978
        assert np.abs(x).max() <= bound * (1 + 1e-6)
    if (shape, axes) not in [(s, a) for s, a, _, _ in FAN_CASES[:2]]:
        return
    # the law of JAX's own variance_scaling, two-sample (each case costs JAX a compile)
    y = f64(ji.variance_scaling(scale, mode, distribution, **axes)(KEY, shape)).ravel()
    assert stats.ks_2samp(x, y).pvalue > P_MIN


def test_fans_equal_jax_compute_fans():
    from jax._src.nn.initializers import _compute_fans
    shapes_axes = [(s, a) for s, a, _, _ in FAN_CASES] + [
        ((2, 3), {"in_axis": (0,), "out_axis": 1}), ((7,), {"in_axis": 0}),
        ((2, 3, 4, 5), {"in_axis": -3, "out_axis": 0, "batch_axis": (1,)})]
    for shape, axes in shapes_axes:
        assert fj.jax_fans(shape, **axes) == _compute_fans(shape, **axes), (shape, axes)


@pytest.mark.parametrize("name,scale,mode,dist", [
    ("glorot_uniform", 1, "fan_avg", "uniform"), ("glorot_normal", 1, "fan_avg", "truncated_normal"),
    ("xavier_uniform", 1, "fan_avg", "uniform"), ("xavier_normal", 1, "fan_avg", "truncated_normal"),
    ("he_uniform", 2, "fan_in", "uniform"), ("he_normal", 2, "fan_in", "truncated_normal"),
    ("kaiming_uniform", 2, "fan_in", "uniform"), ("kaiming_normal", 2, "fan_in", "truncated_normal"),
    ("lecun_uniform", 1, "fan_in", "uniform"), ("lecun_normal", 1, "fan_in", "truncated_normal")])
def test_presets_are_their_variance_scaling(name, scale, mode, dist):
    shape = (3, 3, 32, 64)
    a = getattr(fj, name)(in_axis=-2, out_axis=-1)(KEY, shape, jnp.bfloat16)
    b = fj.variance_scaling(scale, mode, dist)(KEY, shape, jnp.bfloat16)
    assert bits(a) == bits(b)
    y = f64(getattr(ji, name)()(KEY, shape)).ravel()
    assert stats.ks_2samp(f64(a).ravel(), y).pvalue > P_MIN


@pytest.mark.parametrize("make,law", [
    (lambda: fj.normal(0.3), stats.norm(0, 0.3)),
    (lambda: fj.uniform(2.5), stats.uniform(0, 2.5)),
    (lambda: fj.truncated_normal(0.5), stats.truncnorm(-2, 2, scale=0.5)),
    (lambda: fj.truncated_normal(2.0, lower=-1.0, upper=3.0), stats.truncnorm(-1, 3, scale=2)),
])
def test_plain_laws(make, law):
    x = f64(make()(KEY, (200, 160))).ravel()
    assert stats.kstest(x, law.cdf).pvalue > P_MIN


# ---- complex dtypes, as JAX defines them -------------------------------------------------

def test_complex_normal_parts():
    z = np.asarray(fj.normal(2.0)(KEY, (200, 200), jnp.complex64))
    for part in (z.real, z.imag):
        assert stats.kstest(part.ravel(), stats.norm(0, 2 / math.sqrt(2)).cdf).pvalue > P_MIN
    assert abs(np.corrcoef(z.real.ravel(), z.imag.ravel())[0, 1]) < 0.02
    y = np.asarray(ji.normal(2.0)(KEY, (200, 200), jnp.complex64))
    assert stats.ks_2samp(np.abs(z).ravel(), np.abs(y).ravel()).pvalue > P_MIN


@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize("dtype", [jnp.complex64, "complex128"])
def test_complex_variance_scaling(distribution, dtype):
    shape, var = (160, 250), 3.0 / 160
    if dtype == "complex128":
        jax.config.update("jax_enable_x64", True)
    try:
        z = np.asarray(fj.variance_scaling(3.0, "fan_in", distribution)(KEY, shape, dtype))
        y = np.asarray(ji.variance_scaling(3.0, "fan_in", distribution)(
            jax.random.key(1), shape, dtype))
    finally:
        jax.config.update("jax_enable_x64", False)
    assert z.dtype == np.dtype(dtype)
    m2 = np.abs(z.ravel()) ** 2
    if distribution == "normal":                 # |z|^2 / var ~ Exp(1)
        law = stats.expon(scale=var).cdf
    elif distribution == "uniform":              # uniform on the disk of radius sqrt(2 var)
        law = stats.uniform(0, 2 * var).cdf
    else:                                        # Exp(1) cut at 4, scaled by JAX's constant
        s = var / 0.95311164380491208 ** 2
        law = (lambda t: np.clip((1 - np.exp(-t / s)) / (1 - math.exp(-4)), 0, 1))
    assert stats.kstest(m2, law).pvalue > P_MIN
    if distribution != "normal":
        # the largest modulus sits at the bound: 40000 draws come within 0.1% of it (the
        # uniform's and the cut exponential's densities there are 1/(2 var) and ~0.019/s)
        bound = 2 * var if distribution == "uniform" else 4 * s
        assert bound * 0.998 <= m2.max() <= bound * (1 + 1e-5)
    angle = np.angle(z.ravel())
    assert stats.kstest(angle, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > P_MIN
    assert stats.ks_2samp(m2, np.abs(y.ravel()) ** 2).pvalue > P_MIN


def test_complex_refused_where_jax_refuses():
    for make, fname in ((fj.uniform, "uniform"), (fj.truncated_normal, "truncated_normal")):
        with pytest.raises(ValueError) as ours:
            make()(KEY, (3, 3), jnp.complex64)
        with pytest.raises(ValueError) as theirs:
            getattr(ji, fname)()(KEY, (3, 3), jnp.complex64)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError) as ours:
        fj.normal()(KEY, (3,), jnp.int32)
    with pytest.raises(ValueError) as theirs:
        ji.normal()(KEY, (3,), jnp.int32)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="fastinit fills"):
        fj.normal()(KEY, (3,), jnp.float8_e4m3fn)


# ---- orthogonal and delta orthogonal ----------------------------------------------------

@pytest.mark.parametrize("shape,column_axis", [((40, 24), -1), ((24, 40), -1), ((30, 30), 0),
                                                ((6, 5, 12), -1), ((6, 5, 12), 1)])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64, jnp.bfloat16])
def test_orthogonal(shape, column_axis, dtype):
    q = f64(fj.orthogonal(1.5, column_axis)(KEY, shape, dtype))
    cols = shape[column_axis]
    m = np.moveaxis(q, column_axis, -1).reshape(-1, cols) / 1.5
    small = m.conj().T @ m if m.shape[0] >= cols else m @ m.conj().T
    tol = 0.05 if dtype == jnp.bfloat16 else 1e-5
    np.testing.assert_allclose(small, np.eye(min(m.shape)), atol=tol)


def test_orthogonal_is_haar():
    # the first entry of a Haar orthogonal n x n matrix: sqrt(n) q ~ approx N(0, 1); exactly,
    # (q11 + 1) / 2 ~ Beta((n-1)/2, (n-1)/2)
    n = 6
    init = fj.orthogonal()
    keys = jax.random.split(KEY, 2000)
    q11 = np.asarray(jax.jit(jax.vmap(lambda k: init(k, (n, n))[0, 0]))(keys))
    law = stats.beta((n - 1) / 2, (n - 1) / 2)
    assert stats.kstest((q11 + 1) / 2, law.cdf).pvalue > P_MIN


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 3, 4, 4), (4, 2, 5, 3, 6), (2, 2, 4, 4)])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_delta_orthogonal(shape, dtype):
    w = f64(fj.delta_orthogonal(2.0)(KEY, shape, dtype))
    centre = tuple((k - 1) // 2 for k in shape[:-2])
    m = w[centre] / 2.0
    np.testing.assert_allclose(m @ m.conj().T, np.eye(shape[-2]), atol=1e-5)
    rest = w.copy()
    rest[centre] = 0
    assert not rest.any()


def test_orthogonal_errors_as_jax():
    for init, jinit, shape in [(fj.orthogonal(), ji.orthogonal(), (5,)),
                               (fj.delta_orthogonal(), ji.delta_orthogonal(), (3, 3)),
                               (fj.delta_orthogonal(), ji.delta_orthogonal(), (3, 5, 4))]:
        with pytest.raises(ValueError) as ours:
            init(KEY, shape)
        with pytest.raises(ValueError) as theirs:
            jinit(KEY, shape)
        assert str(ours.value) == str(theirs.value)


# ---- 1-D shapes and bad arguments raise as JAX's ----------------------------------------

VS_NAMES = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
            "lecun_normal", "xavier_normal", "kaiming_uniform"]


@pytest.mark.parametrize("name", VS_NAMES)
@pytest.mark.parametrize("shape", [(5,), ()])
def test_low_rank_default_axes_raise_as_jax(name, shape):
    with pytest.raises(ValueError) as ours:
        getattr(fj, name)()(KEY, shape)
    with pytest.raises(ValueError) as theirs:
        getattr(ji, name)()(KEY, shape)
    assert str(ours.value) == str(theirs.value)
    assert "1-dimensional" in str(ours.value) or "0-dimensional" in str(ours.value)
    # under jit, while tracing: no callback is reached
    with pytest.raises(ValueError, match="dimensional weights tensor"):
        jax.jit(lambda k: getattr(fj, name)()(k, shape))(KEY)


def test_bad_mode_and_distribution_raise_as_jax_when_called():
    for args in [(1.0, "fan_sum", "normal"), (1.0, "fan_in", "gaussian"),
                 (1.0, "FAN_IN", "normal")]:
        ours, theirs = fj.variance_scaling(*args), ji.variance_scaling(*args)
        with pytest.raises(ValueError) as e1:
            ours(KEY, (3, 3))
        with pytest.raises(ValueError) as e2:
            theirs(KEY, (3, 3))
        assert str(e1.value) == str(e2.value)


# ---- keys ----------------------------------------------------------------------------------

def test_key_rule_is_the_documented_one():
    for key in (jax.random.key(0), jax.random.PRNGKey(12345), jax.random.split(KEY)[1]):
        words = np.asarray(jax.random.key_data(key))
        g = fastinit.Generator(0)
        g.state = {"bit_generator": "Philox4x32-10",
                   "key": (int(words[0]), int(words[1])), "counter": 0}
        want = g.normal(0.0, 0.25, size=(33, 17), dtype=np.float32)
        assert bits(fj.normal(0.25)(key, (33, 17))) == bits(want)
        assert fj.key_generator(key).state == {**g.state, "counter": 0}
        # and the top-level object with that generator gives the same bits
        top = fastinit.lecun_normal(seed=0)((33, 17), generator=fj.key_generator(key))
        assert bits(fj.lecun_normal()(key, (33, 17))) == bits(top)


def test_typed_and_raw_keys_agree_and_keys_differ():
    init = fj.he_normal()
    typed, raw = jax.random.key(42), jax.random.PRNGKey(42)
    assert bits(init(typed, (16, 16))) == bits(init(raw, (16, 16)))
    assert bits(init(typed, (16, 16))) == bits(init(typed, (16, 16)))
    a, b = jax.random.split(typed)
    outs = [np.asarray(init(k, (16, 16))) for k in (typed, jax.random.key(43), a, b)]
    for i in range(len(outs)):
        for j in range(i):
            assert not np.array_equal(outs[i], outs[j])
    rbg = jax.random.key(42, impl="rbg")
    r = np.asarray(init(rbg, (16, 16)))
    assert bits(r) == bits(init(rbg, (16, 16))) and not np.array_equal(r, outs[0])


def test_batched_keys_refused_and_vmap_works():
    keys = jax.random.split(KEY, 3)
    with pytest.raises(ValueError, match="batch of keys"):
        fj.normal()(keys, (2, 2))
    init = fj.glorot_normal()
    v = jax.jit(jax.vmap(lambda k: init(k, (4, 5))))(keys)
    for i in range(3):
        assert bits(v[i]) == bits(init(keys[i], (4, 5)))


# ---- jit == eager, bit for bit ------------------------------------------------------------

JIT_CASES = [(n, dt) for n in ["normal", "uniform", "truncated_normal", "glorot_uniform",
                               "he_normal", "lecun_uniform", "orthogonal"]
             for dt in FLOATS] + [(n, jnp.complex64) for n in ["normal", "glorot_normal",
                                                              "he_uniform", "orthogonal"]]


@pytest.mark.parametrize("name,dtype", JIT_CASES)
def test_jit_equals_eager(name, dtype):
    init = getattr(fj, name)()
    for key in (KEY, jax.random.PRNGKey(3)):
        eager = init(key, (24, 20), dtype)
        jitted = jax.jit(lambda k: init(k, (24, 20), dtype))(key)
        assert bits(eager) == bits(jitted)
    assert jax.eval_shape(lambda k: init(k, (24, 20), dtype), KEY).shape == (24, 20)


def test_constants_equal_jax_own_bits_eager_and_jit():
    for dt in (jnp.bfloat16, jnp.float16, jnp.float32, jnp.int32, jnp.bool_, jnp.complex64):
        for ours, theirs in [(fj.zeros, ji.zeros), (fj.ones, ji.ones),
                             (fj.constant(0.1), ji.constant(0.1)),
                             (fj.constant(-7), ji.constant(-7))]:
            want = bits(theirs(KEY, (3, 5), dt))
            assert bits(ours(KEY, (3, 5), dt)) == want
            assert bits(jax.jit(lambda k: ours(k, (3, 5), dt))(KEY)) == want
    row = np.arange(5.0)
    assert bits(fj.constant(row)(KEY, (3, 5))) == bits(ji.constant(row)(KEY, (3, 5)))
    with pytest.raises(ValueError):
        fj.constant(row)(KEY, (3, 4))


# ---- blocks: index= is the whole, cut, for uneven blocks too ----------------------------

@pytest.mark.parametrize("expr,dtype", [
    ("normal(0.5)", jnp.bfloat16), ("truncated_normal(1.0)", jnp.float32),
    ("he_uniform()", jnp.float16), ("variance_scaling(1.0, 'fan_in', 'uniform')", jnp.complex64),
    ("variance_scaling(1.0, 'fan_in', 'truncated_normal')", jnp.complex64),
    ("glorot_normal()", jnp.complex64), ("orthogonal()", jnp.float32),
    ("constant(np.arange(13.0))", jnp.float32)])
def test_uneven_blocks_equal_the_whole(expr, dtype):
    init = eval(expr, {"np": np}, vars(fj))
    shape = (10, 13)
    dt = np.dtype(dtype)
    words = np.asarray(jax.random.key_data(KEY))
    whole = np.asarray(init(KEY, shape, dtype))
    # 10 rows into 4 devices, 3-3-3-1, and columns into 5-5-3: no block starts aligned
    for rows in (slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)):
        for cols in (slice(0, 5), slice(5, 10), slice(10, 13)):
            block = init.host(words, shape, dt, (rows, cols))
            assert bits(block) == bits(whole[rows, cols]), (rows, cols)


def test_make_array_refuses_what_it_cannot_do():
    sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    with pytest.raises(TypeError, match="fastinit.jax"):
        fj.make_array(ji.normal(), KEY, (4, 4), jnp.float32, sharding)
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda k: fj.make_array(fj.normal(), k, (4, 4), jnp.float32, sharding))(KEY)
    with pytest.raises(ValueError, match="dimensional"):
        fj.make_array(fj.he_normal(), KEY, (4,), jnp.float32, sharding)
    a = fj.make_array(fj.he_normal(), KEY, (4, 6), jnp.float32, sharding)
    assert bits(a) == bits(fj.he_normal()(KEY, (4, 6), jnp.float32))


# ---- sharded, over 8 host devices, in a subprocess ----------------------------------------

@pytest.fixture(scope="module")
def sharded_results():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    script = os.path.join(os.path.dirname(__file__), "_jax_sharded.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.mark.parametrize("case", _jax_sharded.CASES)
def test_make_array_equals_whole(sharded_results, case):
    assert sharded_results.get(case) == "ok", sharded_results.get(case, "not run")


# ---- Flax ----------------------------------------------------------------------------------

def test_flax_linen_dense_under_jit():
    nn = pytest.importorskip("flax.linen")
    model = nn.Dense(256, kernel_init=fj.lecun_normal(), bias_init=fj.zeros)
    x = jnp.ones((2, 512))
    params = jax.jit(model.init)(jax.random.key(0), x)
    eager = model.init(jax.random.key(0), x)
    k = params["params"]["kernel"]
    assert k.shape == (512, 256) and k.dtype == jnp.float32
    assert bits(k) == bits(eager["params"]["kernel"])
    assert not np.asarray(params["params"]["bias"]).any()
    law = stats.truncnorm(-2, 2, scale=math.sqrt(1 / 512) / 0.87962566103423978)
    assert stats.kstest(f64(k).ravel(), law.cdf).pvalue > P_MIN
    other = jax.jit(model.init)(jax.random.key(1), x)["params"]["kernel"]
    assert not np.array_equal(np.asarray(other), np.asarray(k))
    y = jax.jit(model.apply)(params, x)
    assert y.shape == (2, 256)


def test_flax_nnx_linear_eager_and_jit():
    nnx = pytest.importorskip("flax.nnx")

    def make():
        return nnx.Linear(64, 32, kernel_init=fj.he_uniform(), rngs=nnx.Rngs(0))

    eager = make()
    jitted = nnx.jit(make)()
    assert eager.kernel[...].shape == (64, 32)
    assert bits(eager.kernel[...]) == bits(jitted.kernel[...])
    assert float(jnp.abs(eager.kernel[...]).max()) <= math.sqrt(6 / 64)
