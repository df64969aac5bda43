"""fastinit.keras against keras.initializers itself (Keras 3 on JAX, CPU).

The behaviours of Keras's own tests (random_initializers_test.py,
constant_initializers_test.py, initializer_test.py) on fastinit's classes: names, signatures
and configs equal to Keras's, Keras's configs loaded, get() of every kind, Keras's error
wording, the laws (KS against scipy.stats), Keras's seed rules, integer constants, clone,
STFT values, and a Dense layer saved to a .keras file and loaded back.
"""
import inspect
import math
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")

import fastinit                                       # noqa: E402
import fastinit.keras as fk                           # noqa: E402
from _laws import TRUNC, check_normal, check_truncnorm, check_uniform  # noqa: E402

KI = keras.initializers
pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="Keras on JAX")


def np_(x):
    return np.asarray(x)


# ---- the surface ----------------------------------------------------------------------

def _keras_public():
    return sorted(n for n in dir(KI) if not n.startswith("_"))


def test_every_keras_initializers_name_is_here_with_the_same_meaning():
    for name in _keras_public():
        theirs, ours = getattr(KI, name), getattr(fk, name)
        if inspect.isclass(theirs):
            # lowercase aliases are Keras's classes, not JAX's factories
            assert inspect.isclass(ours) and ours.__name__ == theirs.__name__, name
            assert issubclass(ours, KI.Initializer), name
            assert inspect.signature(ours) == inspect.signature(theirs), name
        else:
            assert inspect.signature(ours).parameters.keys() == \
                inspect.signature(theirs).parameters.keys(), name
    assert fk.truncated_normal is fk.TruncatedNormal
    assert fk.random_normal is fk.RandomNormal and fk.random_uniform is fk.RandomUniform
    assert fk.STFTInitializer is fk.STFT is fk.stft
    assert fk.IdentityInitializer is fk.Identity is fk.identity


def test_every_name_keras_deserializes_gives_the_class_of_that_name():
    from keras.src.initializers import ALL_OBJECTS_DICT
    for name, cls in ALL_OBJECTS_DICT.items():
        if cls is KI.Initializer:
            continue
        assert type(fk.get(name)).__name__ == cls.__name__, name


def test_top_level_names_are_unchanged():
    # fastinit.* keeps JAX's factories and its own classes (fastinit.keras is separate)
    assert fastinit.truncated_normal is not fk.truncated_normal
    assert fastinit.GlorotUniform is not fk.GlorotUniform
    assert np.asarray(fastinit.truncated_normal(1.0, seed=1)((1000,))).std() > 0.8


# ---- configs ----------------------------------------------------------------------------

def _pairs():
    """(Keras's initializer, the same constructor arguments) for every Keras class."""
    return [
        (KI.Constant, dict(value=6.0)),
        (KI.Constant, dict(value=np.arange(6.0).reshape(2, 3))),
        (KI.Zeros, {}), (KI.Ones, {}), (KI.Identity, dict(gain=2.0)),
        (KI.STFT, dict(side="imag", window="hamming", scaling="spectrum", periodic=True)),
        (KI.STFT, dict(side="real", window=None, scaling=None)),
        (KI.RandomNormal, dict(mean=1.0, stddev=2.0, seed=3)),
        (KI.RandomUniform, dict(minval=-1.0, maxval=2.0, seed=None)),
        (KI.TruncatedNormal, dict(mean=0.5, stddev=0.1, seed=7)),
        (KI.VarianceScaling, dict(scale=2.0, mode="fan_out", distribution="normal", seed=4)),
        (KI.VarianceScaling, dict(distribution="untruncated_normal", input_axes=[0],
                                  output_axes=[1, 2])),
        (KI.GlorotUniform, dict(seed=1)), (KI.GlorotNormal, {}), (KI.HeUniform, dict(seed=2)),
        (KI.HeNormal, {}), (KI.LecunUniform, {}),
        (KI.LecunNormal, dict(seed=5, input_axes=[0], output_axes=[1])),
        (KI.Orthogonal, dict(gain=3.0, seed=9)),
    ]


@pytest.mark.parametrize("cls, kwargs", _pairs(), ids=lambda v: getattr(v, "__name__", ""))
def test_keras_configs_load_and_ours_equal_theirs(cls, kwargs):
    theirs = cls(**kwargs)
    cfg = KI.serialize(theirs)              # Keras 3.15: input_axes/output_axes included
    ours = fk.get(cfg)
    assert type(ours).__name__ == cls.__name__
    expected = theirs.get_config()
    if cls is KI.Identity:
        # Keras 3.15's Identity has no get_config: its configs lose the gain, ours keep it
        assert expected == {}
        expected = kwargs
        assert ours.get_config() == {"gain": 1.0}
    else:
        assert ours.get_config() == expected
    assert getattr(fk, cls.__name__)(**kwargs).get_config() == expected
    again = fk.deserialize(fk.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()
    assert fk.serialize(ours)["registered_name"] == f"fastinit>{cls.__name__}"
    # Keras's own deserializer finds the registered class
    assert type(KI.deserialize(fk.serialize(ours))) is type(ours)


def test_round_trip_and_clone_keep_int_seeded_values():
    for init in (fk.GlorotNormal(seed=11), fk.RandomUniform(seed=3), fk.Orthogonal(seed=5),
                 fk.VarianceScaling(seed=8, input_axes=[0], output_axes=[1, 2])):
        shape = (6, 4, 5)
        a = np_(init(shape))
        assert np.array_equal(np_(fk.get(fk.serialize(init))(shape)), a)
        c = init.clone()
        assert c is not init and type(c) is type(init)
        assert c.get_config() == init.get_config()
        assert np.array_equal(np_(c(shape)), a)


def test_normal_in_variance_scaling_is_truncated_as_in_keras():
    for d in ("normal", "NORMAL", "truncated_normal"):
        init = fk.variance_scaling(distribution=d, seed=1)
        assert init.distribution == "truncated_normal"
    x = np_(fk.variance_scaling(1.0, "fan_in", "normal", seed=1)((100, 2000)))
    std = math.sqrt(1 / 100) / TRUNC
    check_truncnorm(x, 0.0, std, -2 * std, 2 * std)


def test_keyword_meanings_of_lowercase_names():
    init = fk.truncated_normal(mean=3.0, stddev=0.5, seed=2)
    check_truncnorm(np_(init((200_000,))), 3.0, 0.5, 2.0, 4.0)
    q = np_(fk.orthogonal(gain=2.0, seed=1)((8, 8)))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(8), atol=1e-5)


# ---- get --------------------------------------------------------------------------------

def test_get_of_every_kind():
    assert fk.get(None) is None
    assert isinstance(fk.get("glorot_normal"), fk.GlorotNormal)
    assert isinstance(fk.get("GlorotNormal"), fk.GlorotNormal)
    assert isinstance(fk.get("OrthogonalInitializer"), fk.Orthogonal)
    assert isinstance(fk.get("IdentityInitializer"), fk.Identity)
    assert isinstance(fk.get("STFTInitializer"), fk.STFT)
    assert isinstance(fk.get({"class_name": "Ones", "config": {}}), fk.Ones)
    assert isinstance(fk.get(fk.HeUniform), fk.HeUniform)          # a class: instantiated
    keras_obj = KI.HeUniform()
    assert fk.get(keras_obj) is keras_obj                           # callables as they are

    def fn(shape, dtype=None):
        return np.ones(shape)
    assert fk.get(fn) is fn
    init = fk.HeNormal(seed=1)
    assert fk.get(init) is init


@pytest.mark.parametrize("make", [lambda a: a, lambda a: jax.numpy.asarray(a)],
                         ids=["numpy", "jax"])
def test_get_of_an_array_is_a_constant_of_that_shape(make):
    value = np.random.default_rng(0).uniform(size=(5, 5)).astype(np.float32)
    init = fk.get(make(value))
    assert isinstance(init, fk.Constant)
    assert np.array_equal(np_(init((5, 5))), value)
    assert np_(init((5, 5), "float16")).dtype == np.float16
    with pytest.raises(ValueError, match=r"Expected `shape` to be \(5, 5\)"):
        init((10, 10))
    with pytest.raises(ValueError, match="Expected `shape` to be"):
        init((1, 5))            # would broadcast, but Keras wants the array's own shape


def test_get_errors_are_keras_words():
    for bad in ("typo", {"class_name": "Nope", "config": {}}, 3):
        with pytest.raises(ValueError) as ours:
            fk.get(bad)
        with pytest.raises(ValueError) as theirs:
            KI.get(bad)
        assert str(ours.value) == str(theirs.value)


# ---- errors -----------------------------------------------------------------------------

def _same_error(make_ours, make_theirs):
    with pytest.raises(ValueError) as ours:
        make_ours()
    with pytest.raises(ValueError) as theirs:
        make_theirs()
    return str(ours.value), str(theirs.value)


def test_variance_scaling_errors():
    o, t = _same_error(lambda: fk.VarianceScaling(scale=-1.0, seed=1),
                       lambda: KI.VarianceScaling(scale=-1.0, seed=1))
    assert o == t == "Argument `scale` must be positive float. Received: scale=-1.0"
    for bad in (dict(mode="invalid_mode"), dict(mode="fan_geo_avg")):      # Keras's modes
        o, t = _same_error(lambda: fk.VarianceScaling(**bad), lambda: KI.VarianceScaling(**bad))
        assert o.startswith(f"Invalid `mode` argument: {bad['mode']}. Please use one of {{")
        assert t.startswith(f"Invalid `mode` argument: {bad['mode']}. Please use one of {{")
    o, t = _same_error(lambda: fk.VarianceScaling(distribution="invalid_dist"),
                       lambda: KI.VarianceScaling(distribution="invalid_dist"))
    assert o.split("{")[0] == t.split("{")[0] == \
        "Invalid `distribution` argument: invalid_dist.Please use one of "


def test_seed_and_shape_errors():
    o, t = _same_error(lambda: fk.RandomNormal(seed="x"), lambda: KI.RandomNormal(seed="x"))
    assert o == t
    o, t = _same_error(lambda: fk.Orthogonal(seed=1)((5,)),
                       lambda: KI.Orthogonal(seed=1)((5,)))
    assert o == t == ("The tensor to initialize must be at least two-dimensional. "
                      "Received: shape=(5,) of rank 1.")
    o, t = _same_error(lambda: fk.Identity()((2, 2, 2)), lambda: KI.Identity()((2, 2, 2)))
    assert o == t
    o, t = _same_error(lambda: fk.STFT("imaginary"), lambda: KI.STFT("imaginary"))
    assert o == t
    o, t = _same_error(lambda: fk.STFT("real", scaling="l2"),
                       lambda: KI.STFT("real", scaling="l2"))
    assert o == t
    _same_error(lambda: fk.STFT("real", window="unknown"),
                lambda: KI.STFT("real", window="unknown"))
    with pytest.raises(ValueError, match="out of range"):
        fk.VarianceScaling(input_axes=[3], output_axes=[0])((4, 4))


# ---- laws -------------------------------------------------------------------------------

def test_random_normal_uniform_truncated_laws():
    check_normal(np_(fk.RandomNormal(mean=1.0, stddev=2.0, seed=1)((400, 500))), 1.0, 2.0)
    check_uniform(np_(fk.RandomUniform(minval=-1.0, maxval=3.0, seed=2)((400, 500))), -1, 3)
    check_truncnorm(np_(fk.TruncatedNormal(mean=0.5, stddev=3.0, seed=3)((400, 500))),
                    0.5, 3.0, 0.5 - 6.0, 0.5 + 6.0)
    # Keras's defaults
    check_normal(np_(fk.RandomNormal(seed=4)((200_000,))), 0.0, 0.05)
    check_uniform(np_(fk.RandomUniform(seed=5)((200_000,))), -0.05, 0.05)
    check_truncnorm(np_(fk.TruncatedNormal(seed=6)((200_000,))), 0.0, 0.05, -0.1, 0.1)


def test_stddev_as_keras_takes_it():
    # Keras takes any stddev: 0 gives the mean, a negative one the law of its absolute value
    assert np.all(np_(fk.TruncatedNormal(mean=2.0, stddev=0.0, seed=1)((10,))) == 2.0)
    check_normal(np_(fk.RandomNormal(stddev=-2.0, seed=1)((200_000,))), 0.0, 2.0)


_VS_CASES = [((300, 200), None, None), ((3, 3, 40, 60), None, None), ((500,), None, None),
             ((32, 4, 16), [0], [1, 2]), ((3, 3, 32, 64), [2], [3]),
             ((64, 8, 16), [0, 1], [2])]


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("dist", ["truncated_normal", "untruncated_normal", "uniform"])
@pytest.mark.parametrize("shape, ins, outs", _VS_CASES)
def test_variance_scaling_law_with_keras_fans(mode, dist, shape, ins, outs):
    from keras.src.initializers.random_initializers import compute_fans
    fan_in, fan_out = compute_fans(shape, input_axes=ins, output_axes=outs)    # the oracle
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    var = 1.5 / max(1.0, fan)
    reps = max(1, 60_000 // math.prod(shape))
    init = fk.VarianceScaling(1.5, mode, dist, seed=hash((mode, dist)) % 1000,
                              input_axes=ins, output_axes=outs)
    x = np.concatenate([np_(fk.VarianceScaling.from_config({**init.get_config(), "seed": r}
                                                          )(shape)).ravel()
                        for r in range(reps)])
    if dist == "uniform":
        lim = math.sqrt(3 * var)
        check_uniform(x, -lim, lim)
    elif dist == "untruncated_normal":
        check_normal(x, 0.0, math.sqrt(var))
    else:
        std = math.sqrt(var) / TRUNC
        check_truncnorm(x, 0.0, std, -2 * std, 2 * std)
        assert abs(x.std() / math.sqrt(var) - 1) < 0.02        # the variance asked for


@pytest.mark.parametrize("cls, scale, mode, dist", [
    (fk.GlorotUniform, 1.0, "fan_avg", "uniform"), (fk.GlorotNormal, 1.0, "fan_avg", "t"),
    (fk.HeUniform, 2.0, "fan_in", "uniform"), (fk.HeNormal, 2.0, "fan_in", "t"),
    (fk.LecunUniform, 1.0, "fan_in", "uniform"), (fk.LecunNormal, 1.0, "fan_in", "t")])
def test_presets(cls, scale, mode, dist):
    shape = (200, 600)
    fan = {"fan_in": 200, "fan_avg": 400}[mode]
    x = np_(cls(seed=1)(shape))
    if dist == "uniform":
        check_uniform(x, -math.sqrt(3 * scale / fan), math.sqrt(3 * scale / fan))
    else:
        std = math.sqrt(scale / fan) / TRUNC
        check_truncnorm(x, 0.0, std, -2 * std, 2 * std)


def test_multi_head_attention_gives_its_axes_to_our_initializer():
    # EinsumDense clones a VarianceScaling kernel initializer with the kernel's axes: the
    # query kernel (32, 8, 16) has fan_in 32, not 8 * 32.
    mha = keras.layers.MultiHeadAttention(num_heads=8, key_dim=16,
                                          kernel_initializer=fk.LecunUniform(seed=3))
    mha.build((None, 10, 32), (None, 10, 32))
    k = np_(mha.query_dense.kernel.value)
    assert k.shape == (32, 8, 16)
    assert isinstance(mha.query_dense.kernel_initializer, fk.LecunUniform)
    check_uniform(k, -math.sqrt(3 / 32), math.sqrt(3 / 32))


@pytest.mark.parametrize("shape", [(5, 5), (7, 3), (3, 7), (2, 3, 4)])
def test_orthogonal(shape):
    gain = 2.0
    q = np_(fk.Orthogonal(gain=gain, seed=1234)(shape)).reshape(-1, shape[-1])
    small = min(q.shape)
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-5)


def test_orthogonal_law_is_haar():
    # the first entry of a Haar orthogonal n x n matrix, times sqrt(n), is ~ N(0, 1) for
    # large n; over many seeds its sign is balanced and its spread right
    x = np.array([np_(fk.Orthogonal(seed=s)((64, 64)))[0, 0] for s in range(400)]) * 8.0
    assert abs(x.mean()) < 4 / math.sqrt(400) and abs(x.std() - 1) < 0.15


# ---- seeds ------------------------------------------------------------------------------

def test_int_seed_gives_the_same_values_and_the_top_level_ones():
    init = fk.RandomNormal(mean=0.0, stddev=1.0, seed=1337)
    a = np_(init((25, 20)))
    assert np.array_equal(a, np_(init((25, 20))))
    assert np.array_equal(a, fastinit.RandomNormal(0.0, 1.0, seed=1337)((25, 20)))
    assert np.array_equal(np_(fk.GlorotUniform(seed=5)((64, 32))),
                          fastinit.GlorotUniform(seed=5)((64, 32)))
    assert np.array_equal(np_(fk.RandomNormal.from_config(init.get_config())((25, 20))), a)
    assert not np.array_equal(np_(fk.RandomNormal(stddev=1.0, seed=1338)((25, 20))), a)


def test_seed_generator_gives_new_values_on_each_call_reproducibly():
    def draws(n):
        init = fk.RandomNormal(stddev=1.0, seed=keras.random.SeedGenerator(1337))
        return [np_(init((25, 20))) for _ in range(n)]
    first, second = draws(3), draws(3)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[1], first[2])
    # counter 0 is keyed as the int seed alone, as Keras's draw_seed(int) is [seed, 0]
    assert np.array_equal(first[0], np_(fk.RandomNormal(stddev=1.0, seed=1337)((25, 20))))
    check_normal(np.concatenate([a.ravel() for a in draws(40)]), 0.0, 1.0)


def test_seed_generator_configs_round_trip():
    for cls in (fk.Orthogonal, fk.VarianceScaling, fk.RandomUniform, fk.RandomNormal):
        init = cls(seed=keras.random.SeedGenerator(7))
        back = fk.get(fk.serialize(init))
        assert isinstance(back.seed, keras.random.SeedGenerator)
        assert back.get_config()["seed"]["config"]["seed"] == 7


def test_unseeded_is_fixed_at_construction_as_in_keras():
    init = fk.RandomNormal(stddev=1.0)
    a = np_(init((25, 20)))
    assert np.array_equal(a, np_(init((25, 20))))            # as Keras: same on each call
    theirs = KI.RandomNormal(stddev=1.0)
    assert np.array_equal(np_(theirs((3,))), np_(theirs((3,))))
    assert init.get_config()["seed"] is None and isinstance(init.seed, int)
    assert not np.allclose(np_(init.clone()((25, 20))), a)       # a clone draws anew
    keras.utils.set_random_seed(1)                               # Python's random, as Keras
    b = np_(fk.RandomNormal(stddev=1.0)((25, 20)))
    keras.utils.set_random_seed(1)
    assert np.array_equal(np_(fk.RandomNormal(stddev=1.0)((25, 20))), b)


# ---- constants, dtypes, clone ----------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Explicitly requested dtype")   # int64 on JAX: int32
@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int64", "bool", "float16",
                                   "bfloat16", "float32", "float64"])
def test_constants_equal_keras_in_every_dtype(dtype):
    cases = [(fk.Zeros(), KI.Zeros(), (3, 3)), (fk.Ones(), KI.Ones(), (2, 5)),
             (fk.Constant(2.7), KI.Constant(2.7), (4,)),
             (fk.Constant(np.array([[1.0], [-2.0]])), KI.Constant(np.array([[1.0], [-2.0]])),
              (2, 3))]
    if dtype == "bool":
        cases = cases[:2]
    for ours, theirs, shape in cases:
        o, t = ours(shape, dtype), theirs(shape, dtype)
        assert isinstance(o, jax.Array)
        assert o.dtype == t.dtype and o.shape == t.shape == shape
        assert np.array_equal(np_(o), np_(t)), (ours, dtype)


def test_identity_equals_keras():
    for shape in ((3, 3), (2, 4), (5, 2)):
        np.testing.assert_array_equal(np_(fk.Identity(2.0)(shape)),
                                      np_(KI.Identity(2.0)(shape)))
    assert np_(fk.Identity()((3, 3), "int32")).tolist() == np.eye(3, dtype=int).tolist()


def test_constant_array_shape_mismatch():
    with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
        fk.Constant(np.ones(3))((2, 2))


def test_clone_is_a_new_equal_initializer():
    for init in (fk.Constant(np.ones((2, 2))), fk.Identity(3.0), fk.STFT(window=None),
                 fk.HeUniform(seed=4)):
        c = init.clone()
        assert type(c) is type(init) and c is not init
        assert str(c.get_config()) == str(init.get_config())


def test_dtypes_returned():
    x = fk.GlorotUniform(seed=1)((16, 16), "bfloat16")
    assert isinstance(x, jax.Array) and x.dtype == jax.numpy.bfloat16
    assert fk.HeNormal(seed=1)((4, 4)).dtype == jax.numpy.float32           # floatx
    with pytest.raises(TypeError):
        fk.RandomNormal(seed=1)((4,), "int32")


# ---- STFT -------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("real", None), ("real", "hamming", None, True),
                                  ("imag", "tukey", "density", False),
                                  ("imag", list(range(1, 257)), "spectrum"),
                                  ("real", "hann", "density", False)])
def test_stft_equals_keras(args):
    import scipy.signal
    shape = (256, 1, 513)
    ours = np_(fk.STFT(*args)(shape, "float32"))
    theirs = np_(KI.STFT(*args)(shape, "float32"))
    # a float64 reference, written here from the definition
    t = np.arange(256.0)[:, None, None]
    f = (np.arange(513.0) / 1024.0)[None, None, :]
    ref = np.cos(-2 * np.pi * t * f) if args[0] == "real" else np.sin(-2 * np.pi * t * f)
    win = args[1]
    if win is not None:
        scaling = args[2] if len(args) > 2 else "density"
        periodic = args[3] if len(args) > 3 else False
        w = np.asarray(scipy.signal.get_window(win, 256, periodic) if isinstance(win, str)
                       else win, dtype=np.float64)
        norm = {"density": np.sqrt(np.sum(w ** 2)), "spectrum": np.sum(np.abs(w)),
                None: 1.0}[scaling]
        ref = ref * w[:, None, None] / norm
    assert ours.dtype == np.float32 and ours.shape == shape
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=1e-6)   # rounding to float32 only
    np.testing.assert_allclose(ours, theirs, atol=2e-4)            # Keras computes in float32
    assert np.array_equal(np_(fk.STFT(*args)(shape, "float32")), ours)


# ---- a layer, a model file ------------------------------------------------------------

def test_dense_saves_to_a_keras_file_and_loads_back(tmp_path):
    model = keras.Sequential([
        keras.Input((16,)),
        keras.layers.Dense(8, kernel_initializer=fk.GlorotUniform(seed=0),
                           bias_initializer=fk.Constant(0.5)),
    ])
    kernel = np_(model.layers[0].kernel.value)
    np.testing.assert_array_equal(kernel, fastinit.GlorotUniform(seed=0)((16, 8)))
    assert np.all(np_(model.layers[0].bias.value) == 0.5)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.layers[0]
    assert isinstance(layer.kernel_initializer, fk.GlorotUniform)
    assert layer.kernel_initializer.get_config()["seed"] == 0
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the loaded config builds the same kernel again (an int seed)
    rebuilt = keras.Sequential.from_config(loaded.get_config())
    np.testing.assert_array_equal(np_(rebuilt.layers[0].kernel.value), kernel)


def test_dense_with_a_seed_generator_gets_new_kernels():
    init = fk.HeNormal(seed=keras.random.SeedGenerator(3))
    a, b = keras.layers.Dense(4, kernel_initializer=init), keras.layers.Dense(
        4, kernel_initializer=init)
    a.build((None, 6))
    b.build((None, 6))
    assert not np.allclose(np_(a.kernel.value), np_(b.kernel.value))


# ---- without keras ----------------------------------------------------------------------

_NO_KERAS = """
import sys
sys.modules["keras"] = None          # as if keras were not installed
import numpy as np, fastinit, fastinit.keras as fk
x = fk.GlorotUniform(seed=5)((64, 32))
assert type(x) is np.ndarray and np.array_equal(x, fastinit.GlorotUniform(seed=5)((64, 32)))
cfg = fk.serialize(fk.Constant(np.ones((2, 2))))
assert cfg["config"]["value"]["class_name"] == "__numpy__"
assert np.array_equal(fk.get(cfg)((2, 2)), np.ones((2, 2)))
assert fk.get("he_normal").clone().get_config() == {"seed": None, "input_axes": None,
                                                    "output_axes": None}
assert fk.Zeros()((2,), "int16").dtype == np.int16
assert "jax" not in sys.modules
print("ok")
"""


def test_works_without_keras():
    r = subprocess.run([sys.executable, "-c", _NO_KERAS], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


def test_values_outlive_the_host_buffer_they_were_filled_in():
    # on the CPU the jax.Array takes fastinit's aligned buffer without a copy: it must keep
    # that buffer alive after every Python reference to it is gone
    import gc
    y = fk.GlorotUniform(seed=0)((1024, 512), "bfloat16")
    gc.collect()
    junk = [np.full((1024, 512), 7.0, np.float32) for _ in range(8)]
    ref = fastinit.GlorotUniform(seed=0)((1024, 512), "bfloat16")
    assert np.array_equal(np_(y).view(np.uint16), ref.view(np.uint16))
    del junk
