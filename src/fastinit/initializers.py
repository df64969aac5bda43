"""Keras- and JAX-style initializer objects.

An initializer is built once and called as ``init(shape, dtype=None, *, generator=None,
out=None)``. It returns a new array of ``shape`` (default dtype float32, or the factory's
``dtype``), or writes ``out`` and returns it. Fans use the JAX/Keras layout
``(*kernel, in, out)``, or the ``in_axis``/``out_axis``/``batch_axis`` given.

Keras's classes (``GlorotUniform``, ``VarianceScaling``, ``RandomNormal``, ...) and JAX's
factories (``glorot_uniform()``, ``variance_scaling(...)``, ``normal(stddev)``, ...) are
both here, with their own names and defaults.

**Seeds.** As in Keras, an initializer built with ``seed=n`` returns the same values on every
call, and one built with ``seed=None`` draws its seed once, at construction, from the default
generator (so ``fastinit.manual_seed`` makes it reproducible). ``generator=`` at call time
draws from that generator instead and advances it, as a JAX key would be split.

**"normal" in variance scaling.** JAX's ``variance_scaling(..., "normal")`` is untruncated;
Keras 3's ``VarianceScaling(distribution="normal")`` is an alias of ``"truncated_normal"``.
The factory ``variance_scaling`` follows JAX, the class ``VarianceScaling`` (and therefore
``fastinit.get`` of a Keras config) follows Keras. Configs always store the unambiguous name.
"""
import copy
import math

import numpy as np

from fastinit import _args, _fill, _state
from fastinit._core import Generator
from fastinit._fans import FAN_MODES, axis_fans, check_axes, scaled_fan

# std of a unit normal truncated to [-2, 2]: dividing by it restores the variance asked for.
TRUNCATED_STD = 0.87962566103423978


class Initializer:
    """Base class: ``init(shape, dtype=None, *, generator=None, out=None) -> ndarray``."""

    _random = False
    dtype = None

    def __call__(self, shape=None, dtype=None, *, generator=None, out=None, index=None):
        """Values for a tensor of ``shape``; with ``index=`` (a NumPy basic index), only the
        block ``full[index]``, bit for bit, fans still from the whole ``shape``."""
        if out is None:
            return self._write(None, shape, dtype, generator, index)
        return _write_out(out, self, shape, dtype, generator, index)

    def _write(self, out, shape, dtype, generator, index):
        arr, full, where = _args.output(shape, dtype, out, self.dtype, index)
        plan = self._check_shape(full)
        if _fill.draws(arr, full, where):      # an empty shard still takes its place in g
            self._fill(arr, self._generator(generator) if self._random else None, plan, where)
        return arr

    def _generator(self, generator):
        return _args.generator(generator)

    def _check_shape(self, shape):
        """Raise for a shape this initializer cannot fill; return what ``_fill`` needs."""
        return None

    def _fill(self, arr, g, plan, where):
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments, as a dict that ``from_config`` takes back."""
        cfg = self._config()
        if self.dtype is not None:
            cfg["dtype"] = self.dtype.name
        return cfg

    def _config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@_args.inplace
def _write_out(out, init, shape, dtype, generator, index):
    """``init(out=...)``: an array, or a torch tensor (returned itself, meta unchanged)."""
    return init._write(out, shape, dtype, generator, index)


class RandomInitializer(Initializer):
    _random = True

    def __init__(self, seed=None, dtype=None):
        self.seed = _args.seed(seed)
        # Every call without generator= starts from this one state, so repeats its values.
        self._start = Generator(self.seed if self.seed is not None else _state.fresh_seed())
        self.dtype = None if dtype is None else _args.dtype(dtype)

    def _generator(self, generator):
        return copy.copy(self._start) if generator is None else _args.generator(generator)


class Constant(Initializer):
    """Every value equal to ``value``."""

    def __init__(self, value=0.0, dtype=None):
        self.value = _args.real(value, "value")
        self.dtype = None if dtype is None else _args.dtype(dtype)

    def _fill(self, arr, g, plan, where):
        _fill.constant(arr, arr.dtype.type(self.value))

    def _config(self):
        return {"value": self.value}


class Zeros(Constant):
    """Every value 0. ``fastinit.zeros`` is an instance; calling it with no shape returns it,
    so ``zeros`` and ``zeros()`` both name the initializer (JAX and Keras spellings)."""

    def __init__(self):
        super().__init__(0.0)

    def __call__(self, shape=None, dtype=None, *, generator=None, out=None, index=None):
        if shape is None and out is None:
            return self
        return super().__call__(shape, dtype, generator=generator, out=out, index=index)

    def _config(self):
        return {}


class Ones(Zeros):
    """Every value 1."""

    def __init__(self):
        Constant.__init__(self, 1.0)


class RandomUniform(RandomInitializer):
    """U[minval, maxval) (Keras defaults)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None, dtype=None):
        self.minval = _args.finite(minval, "minval")
        self.maxval = _args.finite(maxval, "maxval")
        if self.minval > self.maxval:
            raise ValueError(f"minval must not exceed maxval, got {minval!r} > {maxval!r}")
        super().__init__(seed, dtype)

    def _fill(self, arr, g, plan, where):
        _fill.uniform(g, arr, self.minval, self.maxval, where)

    def _config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(RandomInitializer):
    """N(mean, stddev**2) (Keras defaults)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None, dtype=None):
        self.mean = _args.finite(mean, "mean")
        self.stddev = _args.nonnegative(stddev, "stddev")
        super().__init__(seed, dtype)

    def _fill(self, arr, g, plan, where):
        _fill.normal(g, arr, self.mean, self.stddev, where)

    def _config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomInitializer):
    """N(mean, stddev**2) truncated to [mean + lower*stddev, mean + upper*stddev]: the bounds
    are in units of stddev, as in Keras (±2) and JAX. No variance correction."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None, lower=-2.0, upper=2.0, dtype=None):
        self.mean = _args.finite(mean, "mean")
        self.stddev = _args.positive(stddev, "stddev")
        self.lower, self.upper = _args.real(lower, "lower"), _args.real(upper, "upper")
        if not self.lower < self.upper:
            raise ValueError(f"lower must be less than upper, got {lower!r} and {upper!r}")
        super().__init__(seed, dtype)

    def _fill(self, arr, g, plan, where):
        _fill.truncated_normal(g, arr, self.mean, self.stddev,
                               self.mean + self.lower * self.stddev,
                               self.mean + self.upper * self.stddev, where)

    def _config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed,
                "lower": self.lower, "upper": self.upper}


_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Values of variance ``scale / fan`` (Keras's class; ``distribution="normal"`` means
    ``"truncated_normal"`` here, as in Keras 3; see the module docs).

    - ``truncated_normal``: std ``sqrt(scale / fan) / 0.8796...``, truncated at ±2 std, so the
      variance after truncation is ``scale / fan``;
    - ``untruncated_normal``: std ``sqrt(scale / fan)``;
    - ``uniform``: U(±sqrt(3 * scale / fan)).

    ``fan`` is ``max(1, fan)`` of ``mode``: fan_in, fan_out, fan_avg (the mean) or fan_geo_avg
    (the geometric mean), from the axes given.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        self.scale = _args.positive(scale, "scale")
        self.mode = _args.choice(mode, "mode", FAN_MODES)
        dist = _args.choice(distribution, "distribution", _DISTRIBUTIONS + ("normal",))
        self.distribution = "truncated_normal" if dist == "normal" else dist
        self.in_axis, self.out_axis, self.batch_axis = check_axes(in_axis, out_axis, batch_axis)
        super().__init__(seed, dtype)

    def _check_shape(self, shape):
        return axis_fans(shape, self.in_axis, self.out_axis, self.batch_axis)

    def _fill(self, arr, g, plan, where):
        var = self.scale / scaled_fan(*plan, self.mode)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            _fill.uniform(g, arr, -limit, limit, where)
        elif self.distribution == "untruncated_normal":
            _fill.normal(g, arr, 0.0, math.sqrt(var), where)
        else:
            std = math.sqrt(var) / TRUNCATED_STD
            _fill.truncated_normal(g, arr, 0.0, std, -2.0 * std, 2.0 * std, where)

    def _axes_config(self):
        axes = {"in_axis": self.in_axis, "out_axis": self.out_axis,
                "batch_axis": self.batch_axis}
        return {k: v for k, v in axes.items() if v != {"in_axis": -2, "out_axis": -1,
                                                        "batch_axis": ()}[k]}

    def _config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, **self._axes_config()}


class _Preset(VarianceScaling):
    """A named variance scaling: its config is the seed (and axes that differ from JAX's)."""

    preset = None

    def __init__(self, seed=None, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        super().__init__(*self.preset, seed=seed, in_axis=in_axis, out_axis=out_axis,
                         batch_axis=batch_axis, dtype=dtype)

    def _config(self):
        return {"seed": self.seed, **self._axes_config()}


class GlorotUniform(_Preset):
    """U(±sqrt(6 / (fan_in + fan_out))) (Glorot & Bengio, 2010)."""
    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal of variance 2 / (fan_in + fan_out)."""
    preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """U(±sqrt(6 / fan_in)) (He et al., 2015)."""
    preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal of variance 2 / fan_in."""
    preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """U(±sqrt(3 / fan_in)) (LeCun et al., 1998)."""
    preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal of variance 1 / fan_in (Flax's default kernel)."""
    preset = (1.0, "fan_in", "truncated_normal")


def _column_axis(axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, int) or not -ndim <= axis < ndim:
        raise ValueError(f"column_axis={axis!r} is out of range for a shape of rank {ndim}")
    return axis % ndim


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``: the ``column_axis`` holds the columns and
    every other axis is flattened into rows (Keras's ``Orthogonal`` and JAX's ``orthogonal``,
    whose ``scale`` is ``gain``). QR runs in float64 for float64 and float32 otherwise."""

    def __init__(self, gain=1.0, seed=None, column_axis=-1, dtype=None):
        self.gain = _args.finite(gain, "gain")
        if isinstance(column_axis, bool) or not isinstance(column_axis, int):
            raise ValueError(f"column_axis must be an int, got {column_axis!r}")
        self.column_axis = column_axis
        super().__init__(seed, dtype)

    def _check_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape}")
        _column_axis(self.column_axis, len(shape))

    def _fill(self, arr, g, plan, where):
        full = arr.shape if where is None else where[0]
        _fill.whole_for_index(full, where)
        m = self._matrix(full, arr.dtype, g, arr.size > 0)
        if m is not None:
            _fill.write(arr, m, where)

    def _matrix(self, shape, dt, g, make=True):
        axis = _column_axis(self.column_axis, len(shape))
        cols = shape[axis]
        rest = shape[:axis] + shape[axis + 1:]
        q = _fill.orthogonal_matrix(g, math.prod(rest), cols, dt, make, self.gain)
        if q is None:
            return None
        q = q.reshape(rest + (cols,))
        return q if axis == len(shape) - 1 else np.moveaxis(q, -1, axis)

    def _config(self):
        cfg = {"gain": self.gain, "seed": self.seed}
        if self.column_axis != -1:
            cfg["column_axis"] = self.column_axis
        return cfg


class DeltaOrthogonal(Orthogonal):
    """The delta-orthogonal conv kernel (Xiao et al., 2018; JAX's ``delta_orthogonal``): zero
    except an orthogonal ``(in, out)`` matrix at the spatial centre ``(k - 1) // 2``. Shapes
    ``(*k, in, out)`` of rank 3 to 5, with ``in <= out``."""

    def _check_shape(self, shape):
        if len(shape) not in (3, 4, 5):
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
        if shape[-1] < shape[-2]:
            raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
        _column_axis(self.column_axis, 2)

    def _fill(self, arr, g, plan, where):
        full = arr.shape if where is None else where[0]
        _fill.whole_for_index(full, where)
        m = self._matrix(full[-2:], arr.dtype, g, arr.size > 0)
        if m is None:
            return
        kernel = np.zeros(full, dtype=arr.dtype) if where is not None else arr
        kernel.fill(0)
        kernel[tuple((k - 1) // 2 for k in full[:-2])] = m
        if where is not None:
            _fill.write(arr, kernel, where)


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D only; ones on the main diagonal)."""

    def __init__(self, gain=1.0, dtype=None):
        self.gain = _args.finite(gain, "gain")
        self.dtype = None if dtype is None else _args.dtype(dtype)

    def _check_shape(self, shape):
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")

    def _fill(self, arr, g, plan, where):
        if where is None:
            arr.fill(0)
            np.fill_diagonal(arr, self.gain)
        else:
            rows, cols = _fill.positions(*where)
            arr[...] = np.where(rows == cols, self.gain, 0.0)

    def _config(self):
        return {"gain": self.gain}


# ---- JAX's factories (jax.nn.initializers), with Keras's seed= added ---------------------

zeros = Zeros()
ones = Ones()


def constant(value, dtype=None):
    """Every value equal to ``value``."""
    return Constant(value, dtype)


def uniform(scale=1e-2, dtype=None, *, seed=None):
    """U[0, scale), as JAX's ``uniform``."""
    return RandomUniform(0.0, scale, seed=seed, dtype=dtype)


def normal(stddev=1e-2, dtype=None, *, seed=None):
    """N(0, stddev**2), as JAX's ``normal``."""
    return RandomNormal(0.0, stddev, seed=seed, dtype=dtype)


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0, *, seed=None):
    """N(0, stddev**2) truncated to [lower, upper] std, as JAX's ``truncated_normal``."""
    return TruncatedNormal(0.0, stddev, seed=seed, lower=lower, upper=upper, dtype=dtype)


def variance_scaling(scale=1.0, mode="fan_in", distribution="truncated_normal", in_axis=-2,
                     out_axis=-1, batch_axis=(), dtype=None, *, seed=None):
    """JAX's ``variance_scaling``: ``distribution="normal"`` is untruncated, as in JAX."""
    if isinstance(distribution, str) and distribution.lower() == "normal":
        distribution = "untruncated_normal"
    return VarianceScaling(scale, mode, distribution, seed, in_axis, out_axis, batch_axis,
                           dtype)


def _preset_factory(cls, name):
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None, *, seed=None):
        return cls(seed=seed, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis,
                   dtype=dtype)
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"JAX's ``{name}``: {cls.__doc__}"
    return factory


glorot_uniform = xavier_uniform = _preset_factory(GlorotUniform, "glorot_uniform")
glorot_normal = xavier_normal = _preset_factory(GlorotNormal, "glorot_normal")
he_uniform = kaiming_uniform = _preset_factory(HeUniform, "he_uniform")
he_normal = kaiming_normal = _preset_factory(HeNormal, "he_normal")
lecun_uniform = _preset_factory(LecunUniform, "lecun_uniform")
lecun_normal = _preset_factory(LecunNormal, "lecun_normal")


def orthogonal(scale=1.0, column_axis=-1, dtype=None, *, seed=None):
    """JAX's ``orthogonal``: a (semi-)orthogonal matrix times ``scale``."""
    return Orthogonal(scale, seed=seed, column_axis=column_axis, dtype=dtype)


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None, *, seed=None):
    """JAX's ``delta_orthogonal``: an orthogonal matrix at the centre of a conv kernel."""
    return DeltaOrthogonal(scale, seed=seed, column_axis=column_axis, dtype=dtype)


def identity(gain=1.0):
    """``gain`` times the identity matrix (Keras's ``Identity``)."""
    return Identity(gain)


# ---- names and configs (keras.initializers.get / serialize) ------------------------------

_CLASSES = [Constant, Zeros, Ones, RandomUniform, RandomNormal, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
            LecunNormal, Orthogonal, DeltaOrthogonal, Identity]

_NAMES = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({
    "constant": Constant, "zeros": Zeros, "ones": Ones, "zero": Zeros, "one": Ones,
    "random_uniform": RandomUniform, "uniform": RandomUniform,
    "random_normal": RandomNormal, "normal": RandomNormal,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "kaiming_uniform": HeUniform, "kaiming_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "delta_orthogonal": DeltaOrthogonal,
    "identity": Identity, "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
})


def register(cls, name=None):
    """Make ``get`` resolve ``name`` (default: the class name) to an Initializer subclass."""
    if not (isinstance(cls, type) and issubclass(cls, Initializer)):
        raise TypeError("register takes an Initializer subclass")
    _NAMES[name or cls.__name__] = cls
    return cls


def serialize(initializer):
    """``{"class_name": ..., "config": ...}``, which ``get`` turns back into the initializer."""
    if not isinstance(initializer, Initializer):
        raise TypeError(f"cannot serialize {initializer!r}: not a fastinit initializer")
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def get(identifier):
    """An initializer from a Keras name (``"glorot_uniform"``, ``"HeNormal"``, ...), a Keras
    or fastinit config dict (``{"class_name": ..., "config": ...}``), an initializer object
    or a callable (returned as is), or None (returned as is).

    Keras names and configs keep Keras's meaning: ``"normal"`` in a ``VarianceScaling`` config
    is truncated, and Keras's defaults (``RandomNormal`` stddev 0.05, ...) apply."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier)
        if cls is not None:
            return cls()
    elif isinstance(identifier, dict) and set(identifier) >= {"class_name"}:
        cls = _NAMES.get(identifier["class_name"])
        if cls is not None:
            return cls.from_config(dict(identifier.get("config") or {}))
    elif callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
