"""``keras.initializers``' surface, with values from fastinit.

Use this module with Keras (3.x, any backend); the top-level ``fastinit.GlorotUniform``,
``fastinit.get``, ... stay fastinit's own NumPy initializers, and ``fastinit.jax`` follows
``jax.nn.initializers``.

    >>> import fastinit.keras
    >>> layer = keras.layers.Dense(8, kernel_initializer=fastinit.keras.GlorotUniform(seed=0))

Every name in ``keras.initializers`` is here with Keras's meaning: the classes, their
lowercase aliases (``truncated_normal`` is Keras's ``TruncatedNormal(mean, stddev, seed)``,
``variance_scaling(distribution="normal")`` is truncated with the 0.8796... correction),
``get``, ``serialize``, ``deserialize``, Keras 3.15 configs (``input_axes``/``output_axes``),
``Constant(array)``, integer dtypes for the constants, ``clone()`` and ``STFT``.

When keras is installed, every class is a ``keras.initializers.Initializer`` registered as
serializable under the package ``fastinit``, so a model using them saves to ``.keras`` and
loads back, and a call returns a tensor of the active backend (a ``jax.Array`` on JAX).
Without keras the classes work alone and return NumPy arrays.

**Seeds, as in Keras.** An int seed gives the same values on every call. ``seed=None`` draws
an int seed once, at construction, from Python's ``random`` as Keras does (so
``keras.utils.set_random_seed`` makes it reproducible, and ``clone()`` draws a new one). A
``keras.random.SeedGenerator`` gives new values on every call: each call keys fastinit from
the generator's next state ``[seed, counter]``. The values come from fastinit's Philox stream,
so they differ from Keras's own, but they follow the same laws; an int seed ``s`` gives the
same values as the top-level ``fastinit`` initializer built with ``seed=s``.
"""
import importlib.util
import inspect
import math
import numbers
import random as _pyrandom

import numpy as np

from fastinit import _args
from fastinit import initializers as _fi
from fastinit._core import Generator

# Without keras the classes still work, on NumPy arrays. An installed keras that fails to
# import (no backend) raises here, as `import keras` would, rather than passing unnoticed.
if importlib.util.find_spec("keras") is None:
    _keras = None
else:
    import keras as _keras

_FLOATS = (np.dtype(np.float16), _args.dtype("bfloat16"), np.dtype(np.float32),
           np.dtype(np.float64))


# ---- backend glue ---------------------------------------------------------------------

def _shape(shape):
    return _args.shape(shape)


def _dtype(dtype):
    """The NumPy dtype of a Keras dtype name (None: ``keras.backend.floatx()``)."""
    if _keras is not None:
        name = _keras.backend.standardize_dtype(dtype)
    else:
        name = "float32" if dtype is None else dtype
    try:
        return np.dtype(name)
    except TypeError:
        return _args.dtype(name)      # "bfloat16" before ml_dtypes registers its name


def _on_jax():
    return _keras is not None and _keras.backend.backend() == "jax"


def _tensor(arr):
    """A backend tensor of the active Keras backend (NumPy without keras)."""
    if _keras is None:
        return arr
    if _on_jax():
        import jax
        return jax.device_put(arr)      # no copy on the CPU for a buffer from _empty
    return _keras.ops.convert_to_tensor(arr)


def _empty(shape, dt):
    """A new array to fill. On JAX it is 64-byte aligned: XLA's CPU client then takes it as
    the jax.Array's buffer instead of copying it (a copy costs as much as the fill)."""
    if not _on_jax():
        return np.empty(shape, dt)
    nbytes = math.prod(shape) * dt.itemsize
    raw = np.empty(nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes].view(dt).reshape(shape)


def _make(kernel, shape, dt, generator=None):
    """A backend tensor filled by a top-level fastinit initializer."""
    out = _empty(shape, dt)
    kernel(shape, generator=generator, out=out)
    return _tensor(out)


def _number(x):
    """A Python float from a scalar (int, float, NumPy or backend 0-d tensor)."""
    return float(np.asarray(x))


def _serialize_value(value):
    if _keras is not None:
        return _keras.saving.serialize_keras_object(value)
    if isinstance(value, np.ndarray):       # Keras's own format for arrays in configs
        return {"class_name": "__numpy__",
                "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    return value


def _deserialize_value(value):
    if _keras is not None:
        return _keras.saving.deserialize_keras_object(value)
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        return np.array(value["config"]["value"], dtype=value["config"]["dtype"])
    return value


def _seed_generator_class():
    return None if _keras is None else _keras.random.SeedGenerator


# ---- base classes ---------------------------------------------------------------------

_Base = object if _keras is None else _keras.initializers.Initializer


class Initializer(_Base):
    """Keras's initializer base class: ``init(shape, dtype=None)`` returns a tensor."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            "Initializer subclasses must implement the `__call__()` method.")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        """A new initializer from this one's config (an unseeded one draws a new seed)."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RandomInitializer(Initializer):
    """Seed handling shared by the random initializers (see the module docs)."""

    def __init__(self, seed=None):
        self._init_seed = seed
        if seed is None:
            seed = _pyrandom.randint(1, 10**9)      # Keras's default seed, fixed from now
        elif isinstance(seed, dict):
            seed = _deserialize_value(seed)         # a serialized SeedGenerator
        sg = _seed_generator_class()
        if not (isinstance(seed, numbers.Integral) or (sg is not None and isinstance(seed, sg))):
            raise ValueError(
                "`seed` argument should be an instance of `keras.random.SeedGenerator()` "
                f"or an integer. Received: seed={seed}")
        self.seed = seed

    def _generator(self):
        """The fastinit Generator of one call."""
        seed = self.seed
        if isinstance(seed, numbers.Integral):
            # Keras's seeds are 32-bit words: a negative int is its two's complement.
            return Generator(int(seed) if seed >= 0 else int(seed) & 0xFFFFFFFF)
        # [seed, counter] as two uint32 words; counter 0 keys as the int seed alone does.
        word0, word1 = (int(w) & 0xFFFFFFFF for w in np.asarray(seed.next()).reshape(-1)[:2])
        return Generator(word0 | (word1 << 32))

    def _draw(self, kernel, shape, dtype):
        return _make(kernel, _shape(shape), _dtype(dtype), self._generator())

    def get_config(self):
        return {"seed": _serialize_value(self._init_seed)}


def _normal_kernel(cls, mean, stddev):
    """fastinit's normal or truncated normal, or a constant for stddev 0. Keras takes any
    stddev; a negative one has the law of its absolute value."""
    mean, stddev = _number(mean), abs(_number(stddev))
    if stddev == 0.0:
        return _fi.Constant(mean)
    return cls(mean, stddev, seed=0)      # the Generator is passed at each call


class RandomNormal(RandomInitializer):
    """N(mean, stddev**2)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)
        self._kernel()

    def _kernel(self):
        return _normal_kernel(_fi.RandomNormal, self.mean, self.stddev)

    def __call__(self, shape, dtype=None):
        return self._draw(self._kernel(), shape, dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev**2) with values beyond 2 stddev redrawn (no variance correction)."""

    def _kernel(self):
        return _normal_kernel(_fi.TruncatedNormal, self.mean, self.stddev)


class RandomUniform(RandomInitializer):
    """U[minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)
        self._kernel()

    def _kernel(self):
        return _fi.RandomUniform(_number(self.minval), _number(self.maxval), seed=0)

    def __call__(self, shape, dtype=None):
        return self._draw(self._kernel(), shape, dtype)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def _set_repr(names):
    # Keras prints a set; sorted here so the message is the same in every run.
    return "{" + ", ".join(repr(n) for n in sorted(names)) + "}"


def _axis(a, nd):
    if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -nd <= a < nd:
        raise ValueError(f"axis {a!r} is out of range for a shape of rank {nd}")
    return int(a) % nd


# Keras's EinsumDense (and so MultiHeadAttention) gives its kernel's axes to an initializer
# that is a keras VarianceScaling: this one is one too, with every method its own.
_KERAS_VS = () if _keras is None else (_keras.initializers.VarianceScaling,)


class VarianceScaling(RandomInitializer, *_KERAS_VS):
    """Values of variance ``scale / n``, ``n`` the fan of ``mode`` (at least 1).

    ``truncated_normal`` (or ``normal``): std ``sqrt(scale / n) / 0.8796...`` truncated at
    ±2 std; ``untruncated_normal``: std ``sqrt(scale / n)``; ``uniform``: U(±sqrt(3 scale / n)).
    Fans as Keras: ``(*kernel, in, out)``, or, when both ``input_axes`` and ``output_axes``
    are given, the products of those axes' sizes (no receptive field).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        modes = {"fan_in", "fan_out", "fan_avg"}
        if mode not in modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. "
                             f"Please use one of {_set_repr(modes)}")
        dists = {"uniform", "truncated_normal", "untruncated_normal"}
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in dists:
            raise ValueError(f"Invalid `distribution` argument: {dist}."
                             f"Please use one of {_set_repr(dists)}")
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)
        _fi.VarianceScaling(_number(scale), mode, dist, seed=0)      # scale must be finite

    def _kernel(self, shape):
        axes = {}
        if self.input_axes is not None and self.output_axes is not None:
            # Keras counts only these axes; every other one is a batch axis to fastinit.
            nd = len(shape)
            ins = tuple(_axis(a, nd) for a in self.input_axes)
            outs = tuple(_axis(a, nd) for a in self.output_axes)
            rest = tuple(a for a in range(nd) if a not in ins + outs)
            axes = {"in_axis": ins, "out_axis": outs, "batch_axis": rest}
        return _fi.VarianceScaling(_number(self.scale), self.mode, self.distribution, seed=0,
                                   **axes)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        return self._draw(self._kernel(shape), shape, dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _Preset(VarianceScaling):
    preset = None       # (scale, mode, distribution): fastinit.initializers' class of the name

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(*self.preset, seed=seed, input_axes=input_axes,
                         output_axes=output_axes)

    def get_config(self):
        return {"seed": _serialize_value(self._init_seed), "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_Preset):
    """U(±sqrt(6 / (fan_in + fan_out)))."""
    preset = _fi.GlorotUniform.preset


class GlorotNormal(_Preset):
    """Truncated normal of variance 2 / (fan_in + fan_out)."""
    preset = _fi.GlorotNormal.preset


class HeUniform(_Preset):
    """U(±sqrt(6 / fan_in))."""
    preset = _fi.HeUniform.preset


class HeNormal(_Preset):
    """Truncated normal of variance 2 / fan_in."""
    preset = _fi.HeNormal.preset


class LecunUniform(_Preset):
    """U(±sqrt(3 / fan_in))."""
    preset = _fi.LecunUniform.preset


class LecunNormal(_Preset):
    """Truncated normal of variance 1 / fan_in."""
    preset = _fi.LecunNormal.preset


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``; axes before the last are flattened."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return self._draw(_fi.Orthogonal(_number(self.gain), seed=0), shape, dtype)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# ---- constants ------------------------------------------------------------------------

class Constant(Initializer):
    """Every value ``value``: a scalar, or an array broadcast to the shape asked for. Any
    numeric or bool dtype."""

    def __init__(self, value=0.0):
        self.value = value
        self._exact_shape = False       # get(array): the shape must be the array's

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _dtype(dtype)
        value = np.asarray(self.value)
        if self._exact_shape and value.shape != shape:
            raise ValueError(f"Expected `shape` to be {value.shape} for direct tensor as "
                             f"initializer. Received shape={shape}")
        if value.ndim == 0 and dt in _FLOATS:
            return _make(_fi.Constant(float(value)), shape, dt)      # fastinit's fill
        try:
            out = np.broadcast_to(value.astype(dt), shape)
        except ValueError:
            raise ValueError(f"Incompatible shapes for broadcasting: "
                             f"shapes={[value.shape, shape]}") from None
        return _tensor(np.array(out))

    def get_config(self):
        return {"value": _serialize_value(self.value)}

    @classmethod
    def from_config(cls, config):
        return cls(_deserialize_value(config.get("value", 0.0)))     # get("constant") too


class Zeros(Initializer):
    """Every value 0 (any numeric or bool dtype)."""
    _value = 0.0

    def __call__(self, shape, dtype=None):
        return Constant(self._value)(shape, dtype)


class Ones(Zeros):
    """Every value 1 (any numeric or bool dtype)."""
    _value = 1.0


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _dtype(dtype)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        if dt in _FLOATS:
            return _make(_fi.Identity(_number(self.gain)), shape, dt)
        return _tensor((_number(self.gain) * np.eye(*shape)).astype(dt))

    def get_config(self):
        return {"gain": self.gain}


class STFT(Initializer):
    """Conv kernel of a short-time Fourier transform, shape ``(frame_length, channels,
    fft_length // 2 + 1)``: the real (cos) or imaginary (-sin) side, times a window
    (a ``scipy.signal`` window name, values, or None) normalized by ``scaling`` ("density":
    L2, "spectrum": L1, None). Computed in float64, then cast."""

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ["real", "imag"]:
            raise ValueError(f"side should be 'real' or 'imag', not {side}")
        if isinstance(window, str):
            import scipy.signal
            scipy.signal.get_window(window, 1)      # raises ValueError for an unknown name
        if scaling is not None and scaling not in ["density", "spectrum"]:
            raise ValueError("Scaling is invalid, it must be `None`, 'density' or "
                             f"'spectrum'. Received scaling={scaling}")
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = periodic

    def __call__(self, shape, dtype=None):
        shape, dt = _shape(shape), _dtype(dtype)
        if len(shape) != 3:
            raise ValueError("STFT initializer needs a shape (frame_length, channels, "
                             f"fft_length // 2 + 1). Received: shape={shape}")
        frames, channels, bins = shape
        time = np.arange(frames, dtype=np.float64)[:, None, None]
        freq = np.arange(bins, dtype=np.float64)[None, None, :] / ((bins - 1) * 2)
        angle = -2.0 * math.pi * time * freq
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)
        if self.window is not None:
            win = self.window
            if isinstance(win, str):
                import scipy.signal
                win = scipy.signal.get_window(win, frames, self.periodic)
            win = np.asarray(win, dtype=np.float64)
            if win.ndim != 1 or win.shape[-1] != frames:
                raise ValueError("The shape of `window` must be equal to [frame_length]."
                                 f"Received: window shape={win.shape}")
            norm = 1.0
            if self.scaling == "density":
                norm = math.sqrt(float(np.sum(win * win)))
            elif self.scaling == "spectrum":
                norm = float(np.sum(np.abs(win)))
            kernel = kernel * win[:, None, None] / norm
        return _tensor(np.broadcast_to(kernel, shape).astype(dt))

    def get_config(self):
        return {"side": self.side, "window": self.window, "periodic": self.periodic,
                "scaling": self.scaling}


# ---- names, get, serialize, deserialize ------------------------------------------------

_CLASSES = (Initializer, Constant, Identity, Ones, STFT, Zeros, GlorotNormal, GlorotUniform,
            HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal, RandomNormal,
            RandomUniform, TruncatedNormal, VarianceScaling)

constant = Constant
identity = IdentityInitializer = Identity
ones = Ones
zeros = Zeros
stft = STFTInitializer = STFT
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = OrthogonalInitializer = Orthogonal
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling


def _snake(name):
    out = ""
    for i, c in enumerate(name):
        if c.isupper() and i and (name[i - 1].islower() or
                                  (i + 1 < len(name) and name[i + 1].islower())):
            out += "_"
        out += c.lower()
    return out


# The names deserialize knows: Keras's (class names, their snake case, compatibility
# aliases) and the registered names of these classes ("fastinit>GlorotUniform").
_NAMES = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({_snake(cls.__name__): cls for cls in _CLASSES})
_NAMES.update({"IdentityInitializer": Identity, "normal": RandomNormal, "one": Ones,
               "STFTInitializer": STFT, "OrthogonalInitializer": Orthogonal,
               "uniform": RandomUniform, "zero": Zeros})
_NAMES.update({f"fastinit>{cls.__name__}": cls for cls in _CLASSES})

if _keras is not None:
    # Registered, a model's config names "fastinit>GlorotUniform" and load_model finds it.
    for _cls in _CLASSES:
        _keras.saving.register_keras_serializable(package="fastinit")(_cls)


def serialize(initializer):
    """The initializer's config as a dict (Keras's format), for ``deserialize``/``get``."""
    if _keras is not None:
        return _keras.saving.serialize_keras_object(initializer)
    if not isinstance(initializer, Initializer):
        raise TypeError(f"cannot serialize {initializer!r}: not a fastinit.keras initializer")
    name = type(initializer).__name__
    return {"module": __name__, "class_name": name, "config": initializer.get_config(),
            "registered_name": f"fastinit>{name}"}


def deserialize(config, custom_objects=None):
    """An initializer of this module from a config: Keras's own configs (any Keras 3
    version, ``keras.initializers.serialize`` output) give the fastinit class of that name.
    ``custom_objects`` maps further names to classes."""
    init = _from_config(config, custom_objects)
    if init is None:
        raise ValueError(f"Could not interpret initializer identifier: {config}")
    return init


def _from_config(config, custom_objects=None):
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        names = {**_NAMES, **(custom_objects or {})}
        cls = names.get(config.get("registered_name") or "") or names.get(config["class_name"])
        if cls is not None:
            return cls.from_config(dict(config.get("config") or {}))
    return None


def _is_tensor(x):
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    return _keras is not None and _keras.ops.is_tensor(x)


def get(identifier):
    """An initializer from a name (``"glorot_uniform"``, ``"HeNormal"``, ...), a config dict,
    a class (instantiated), an array or tensor (a ``Constant`` that must be called with its
    shape), or a callable (returned as is); None gives None."""
    if identifier is None:
        return None
    if isinstance(identifier, (dict, str)):
        init = _from_config(identifier)
        if init is None:
            raise ValueError(f"Could not interpret initializer identifier: {identifier}")
        return init
    if _is_tensor(identifier):
        init = Constant(np.asarray(identifier))
        init._exact_shape = True
        return init
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")


__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "IdentityInitializer", "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal",
    "OrthogonalInitializer", "RandomNormal", "RandomUniform", "STFT", "STFTInitializer",
    "TruncatedNormal", "VarianceScaling", "Zeros", "constant", "deserialize", "get",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity",
    "lecun_normal", "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform",
    "serialize", "stft", "truncated_normal", "variance_scaling", "zeros",
]
