"""``jax.nn.initializers``' names and signatures, with values from fastinit.

    >>> import jax, jax.numpy as jnp, flax, fastinit.jax
    >>> init = fastinit.jax.lecun_normal()
    >>> w = init(jax.random.key(0), (1024, 4096), jnp.bfloat16)     # a jax.Array
    >>> flax.linen.Dense(8, kernel_init=fastinit.jax.lecun_normal())  # Flax takes it as is

Every factory returns an initializer called as JAX's are, ``init(key, shape, dtype=<the
factory's dtype, else jnp.float_>, out_sharding=None) -> jax.Array``; ``zeros`` and ``ones``
are initializers themselves. The dtype default follows ``jax_enable_x64`` as JAX's does
(float32 unless it is on), and a dtype JAX cannot hold (float64 without x64) becomes its
32-bit version, with JAX's warning.

**Keys.** The Philox key comes from the JAX key's data (``jax.random.key_data``), for typed
keys (``jax.random.key``) and raw ``uint32[2]`` keys (``jax.random.PRNGKey``) alike: the two
32-bit words of a threefry key (JAX's default) are the Philox4x32-10 key ``(k0, k1)`` as they
are, and the counter starts at 0; a key of another implementation (``rbg``: 4 words) gives
``numpy.random.SeedSequence(words).generate_state(2)``. So the same key gives the same
values, and ``init(key, shape, dtype)`` equals the top-level object's
``fastinit.<same name>(...)(shape, dtype, generator=key_generator(key))`` bit for bit for the
real dtypes.

**Eager and jit.** A concrete key is filled on the host and put on the default device; under
``jax.jit`` (or ``vmap``, ``eval_shape``, Flax's ``init``) the same host function runs
through ``jax.pure_callback`` with the key's data as its argument, so jit and eager agree bit
for bit. Every argument error is raised while tracing, never from inside the callback.

**Sharded arrays.** ``make_array(init, key, shape, dtype, sharding)`` builds each device's
shard alone through fastinit's ``index=`` and equals ``init(key, shape, dtype)`` bit for bit
for any sharding (``out_sharding=`` does the same).

**Complex dtypes** follow JAX's definitions: ``normal`` (and variance scaling's ``"normal"``)
draws real and imaginary parts each of variance 1/2 before scaling; variance scaling's
``"uniform"`` is uniform on a disk and ``"truncated_normal"`` a complex normal whose modulus
is cut at 2, with JAX's constant 0.95311164380491208; ``orthogonal`` is a Haar unitary matrix.
The disk and the cut modulus go through NumPy's float64 ``log1p``/``sin``/``cos``: equal for
any sharding on one machine, but not part of the cross-platform bit promise the real dtypes
have. ``uniform`` and ``truncated_normal`` refuse complex dtypes, as JAX's do.
"""
import math
import numbers
import operator
import threading
import warnings

import numpy as np

from fastinit import _args
from fastinit import initializers as _fi
from fastinit._core import BFLOAT16, Generator
from fastinit._fans import scaled_fan

__all__ = [
    "constant", "delta_orthogonal", "glorot_normal", "glorot_uniform", "he_normal",
    "he_uniform", "kaiming_normal", "kaiming_uniform", "lecun_normal", "lecun_uniform",
    "make_array", "normal", "ones", "orthogonal", "truncated_normal", "uniform",
    "variance_scaling", "xavier_normal", "xavier_uniform", "zeros", "Initializer",
    "key_generator",
]

_REAL = (np.dtype(np.float16), BFLOAT16, np.dtype(np.float32), np.dtype(np.float64))
_COMPLEX = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}
# std of a complex unit normal whose modulus is cut at 2, as JAX's variance scaling uses it
_COMPLEX_TRUNCATED_STD = 0.95311164380491208
_FACTORY_DTYPE = object()     # "dtype not passed": the factory's dtype, else jnp.float_


def _jax():
    # Imported on first use: `import fastinit` (and `import fastinit.jax`) never loads jax.
    import jax
    return jax


# ---- keys ------------------------------------------------------------------------------

def _key_data(key):
    """The key's data (a uint32 array, traced or not): typed and raw keys alike."""
    jax = _jax()
    data = jax.random.key_data(key)          # raw keys are checked against the default impl
    if data.ndim != 1:
        raise ValueError(f"an initializer takes one key; got a batch of keys, key data of "
                         f"shape {tuple(data.shape)} (use jax.vmap over the keys)")
    return data


def _philox_key(words):
    """The documented rule: a JAX key's uint32 words -> fastinit's 64-bit Philox key."""
    words = np.asarray(words, dtype=np.uint32).ravel()
    if words.size == 2:
        return int(words[0]), int(words[1])
    k = np.random.SeedSequence([int(w) for w in words]).generate_state(2, np.uint32)
    return int(k[0]), int(k[1])


def _generator(words):
    g = Generator(0)        # an int seed is cheap (its key is cached); the state replaces it
    g.state = {"bit_generator": "Philox4x32-10", "key": _philox_key(words), "counter": 0}
    return g


def key_generator(key):
    """The ``fastinit.Generator`` a concrete JAX key gives (the rule in the module docs)."""
    return _generator(np.asarray(_key_data(key)))


# ---- arguments -------------------------------------------------------------------------

def _scalar(x, name):
    """A real parameter: a number, or a concrete 0-d array (NumPy or JAX)."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    if isinstance(x, numbers.Real):
        return float(x)
    jax = _jax() if type(x).__module__.startswith("jax") else None
    if jax is not None and isinstance(x, jax.core.Tracer):
        raise TypeError(f"{name} must be concrete: fastinit makes values on the host, so it "
                        "cannot take a traced parameter (build the initializer outside jit)")
    a = np.asarray(x)
    if a.ndim != 0 or a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or a 0-d real array, got {x!r}")
    return float(a)


def _shape(shape):
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        return _args.shape(shape)           # an int, or its error message


def _canonical_dtype(dtype):
    """JAX's dtype for ``dtype`` (None: jnp.float_), narrowed without x64 with its warning."""
    jax = _jax()
    if dtype is None:
        return np.dtype(jax.dtypes.canonicalize_dtype(np.float64))
    try:
        want = np.dtype(dtype)
    except TypeError:
        want = np.dtype(jax.numpy.dtype(dtype))          # "bfloat16" and JAX's other names
    got = np.dtype(jax.dtypes.canonicalize_dtype(want))
    if got != want:
        warnings.warn(f"Explicitly requested dtype {want} requested in fastinit.jax is not "
                      f"available, and will be truncated to dtype {got}. To enable more "
                      "dtypes, set the jax_enable_x64 configuration option or the "
                      "JAX_ENABLE_X64 shell environment variable.", UserWarning, stacklevel=3)
    return got


def _index(index):
    return index if isinstance(index, tuple) else (index,)


# jax.device_put of a 64-byte aligned C-contiguous NumPy array on the CPU takes its memory as
# it is (no copy); NumPy's own large arrays sit 16 bytes past a page boundary and are copied.
_ALIGN = 64


def _aligned_empty(shape, dt):
    """An uninitialized C-contiguous array whose data starts on a 64-byte boundary."""
    nbytes = math.prod(shape) * dt.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + nbytes].view(dt).reshape(shape)


def _aligned_copy(a):
    out = _aligned_empty(a.shape, a.dtype)
    out[...] = a
    return out


# ---- the initializer -------------------------------------------------------------------

class Initializer:
    """A JAX initializer: ``init(key, shape, dtype=..., out_sharding=None) -> jax.Array``.

    Subclasses define ``_check(shape, dtype)`` (raise for what they cannot fill) and
    ``_host(g, shape, dtype, index)`` (the NumPy block ``full[index]``, or the whole)."""

    needs_whole = False      # the block needs the whole tensor made (orthogonal)
    random = True

    def __init__(self, name, dtype):
        self.__name__ = self.__qualname__ = name
        self.dtype = dtype

    def __repr__(self):
        return f"<fastinit.jax initializer {self.__name__}>"

    def __call__(self, key, shape, dtype=_FACTORY_DTYPE, out_sharding=None):
        shape, dt = self._prepare(shape, self.dtype if dtype is _FACTORY_DTYPE else dtype)
        if out_sharding is not None:
            return self._sharded(key, shape, dt, out_sharding)
        jax = _jax()
        data = _key_data(key) if self.random else None
        if data is None or not isinstance(data, jax.core.Tracer):
            return jax.device_put(self.host(data, shape, dt))
        return jax.pure_callback(lambda d: self.host(d, shape, dt),
                                 jax.ShapeDtypeStruct(shape, dt), data,
                                 vmap_method="sequential")

    def _prepare(self, shape, dtype):
        shape = _shape(shape)
        dt = _canonical_dtype(dtype)
        self._check(shape, dt)
        return shape, dt

    def host(self, data, shape, dt, index=None):
        """The values as a NumPy array, from the key's data (block ``full[index]``)."""
        g = _generator(np.asarray(data)) if self.random else None
        return self._host(g, shape, dt, index)

    def _sharded(self, key, shape, dt, sharding):
        jax = _jax()
        if isinstance(sharding, jax.sharding.PartitionSpec):
            mesh = jax.sharding.get_mesh()
            if mesh.empty:
                raise ValueError("Using PartitionSpec when you are not under a mesh context "
                                 "is not allowed. Please pass a NamedSharding instance or "
                                 f"enter into a mesh context via `jax.set_mesh`. Got {sharding}")
            sharding = jax.sharding.NamedSharding(mesh, sharding)
        data = _key_data(key) if self.random else None
        if data is not None and isinstance(data, jax.core.Tracer):
            whole = jax.pure_callback(lambda d: self.host(d, shape, dt),
                                      jax.ShapeDtypeStruct(shape, dt), data,
                                      vmap_method="sequential")
            return _constrain(whole, sharding)
        return _make(self, data, shape, dt, sharding)

    def _check(self, shape, dt):
        pass

    def _host(self, g, shape, dt, index):
        raise NotImplementedError


def _constrain(x, sharding):
    """x with sharding inside a trace: reshard for a mesh with Explicit axes (JAX's default
    since 0.7), a sharding constraint otherwise."""
    jax = _jax()
    explicit = getattr(jax.sharding.AxisType, "Explicit", None)
    if explicit is not None and explicit in getattr(getattr(sharding, "mesh", None),
                                                    "axis_types", ()):
        return jax.sharding.reshard(x, sharding)
    return jax.lax.with_sharding_constraint(x, sharding)


def _real_only(dt, fname):
    if dt not in _REAL:
        if dt in _COMPLEX or dt.kind in "iub":
            raise ValueError(f"dtype argument to `{fname}` must be a float dtype, got {dt}")
        _unsupported(dt)


def _inexact(dt, fname):
    if dt not in _REAL and dt not in _COMPLEX:
        if dt.kind in "iub":
            raise ValueError(f"dtype argument to `{fname}` must be a float or complex dtype, "
                             f"got {dt}")
        _unsupported(dt)


def _unsupported(dt):
    raise TypeError(f"fastinit fills float16, bfloat16, float32, float64, complex64 and "
                    f"complex128, not {dt}")


class _Object(Initializer):
    """Real dtypes through one of fastinit's initializer objects (its bits); complex ones
    through ``_complex``."""

    def __init__(self, name, dtype, obj, fname, complex_ok):
        super().__init__(name, dtype)
        self.obj, self.fname, self.complex_ok = obj, fname, complex_ok

    def _check(self, shape, dt):
        (_inexact if self.complex_ok else _real_only)(dt, self.fname)
        self.obj._check_shape(shape)

    def _host(self, g, shape, dt, index):
        if dt in _COMPLEX:
            return self._complex(g, shape, dt, index)
        out = _aligned_empty(shape if index is None else _args.block_shape(shape, index), dt)
        return self.obj(shape, dt, generator=g, index=index, out=out)


def _complex_normal(g, shape, dt, index, std):
    """Complex normal of E|z|^2 = std**2: the real/imaginary pairs are one real normal fill of
    shape ``(*shape, 2)``, each of std / sqrt(2), as JAX's complex normal."""
    idx = None if index is None else _index(index) + (slice(None),)
    pairs = g.normal(0.0, std / math.sqrt(2.0), size=shape + (2,), dtype=_COMPLEX[dt],
                     index=idx)
    return np.ascontiguousarray(pairs).view(dt)[..., 0]


def _polar_uniforms(g, shape, index):
    """Two float64 uniforms per value, (u_modulus, u_angle), from one fill of (*shape, 2)."""
    idx = None if index is None else _index(index) + (slice(None),)
    u = g.random(size=shape + (2,), dtype=np.float64, index=idx)
    return np.ascontiguousarray(u[..., 0]), np.ascontiguousarray(u[..., 1])


def _polar(r, u_angle, dt):
    theta = 2.0 * np.pi * u_angle
    out = np.empty(r.shape, dt)
    out.real = r * np.cos(theta)
    out.imag = r * np.sin(theta)
    return out


class _Normal(_Object):
    def __init__(self, stddev, dtype):
        self.stddev = _scalar(stddev, "stddev")
        super().__init__("normal", dtype, _fi.RandomNormal(0.0, self.stddev, seed=0),
                         "normal", True)

    def _complex(self, g, shape, dt, index):
        return _complex_normal(g, shape, dt, index, self.stddev)


def constant(value, dtype=None):
    """An initializer of arrays full of ``value`` (any dtype; arrays broadcast, as JAX's)."""
    return _Constant("constant", value, dtype)


def uniform(scale=1e-2, dtype=None):
    """U[0, scale) (real dtypes)."""
    obj = _fi.RandomUniform(0.0, _scalar(scale, "scale"), seed=0)
    return _Object("uniform", dtype, obj, "uniform", False)


def normal(stddev=1e-2, dtype=None):
    """N(0, stddev**2); complex: real and imaginary parts each N(0, stddev**2 / 2)."""
    return _Normal(stddev, dtype)


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """stddev times a unit normal cut to [lower, upper] (real dtypes; no variance
    correction, as JAX's)."""
    obj = _fi.TruncatedNormal(0.0, _scalar(stddev, "stddev"), seed=0,
                              lower=_scalar(lower, "lower"), upper=_scalar(upper, "upper"))
    return _Object("truncated_normal", dtype, obj, "truncated_normal", False)


# ---- variance scaling ------------------------------------------------------------------

_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_VS_DISTRIBUTIONS = {"truncated_normal": "truncated_normal", "normal": "untruncated_normal",
                     "uniform": "uniform"}


def _size(shape, axis):
    if isinstance(axis, numbers.Integral):
        return shape[axis]
    return math.prod(shape[i] for i in axis)


def jax_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) as ``jax.nn.initializers`` computes them, its errors included."""
    if isinstance(in_axis, numbers.Integral) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(
            f"Can't compute input and output sizes of a {len(shape)}-dimensional weights "
            "tensor with default in_axis. Must be at least 2D or specify in_axis explicitly.")
    try:
        sizes = [_size(shape, a) for a in (in_axis, out_axis, batch_axis)]
    except IndexError:
        raise ValueError(f"in_axis={in_axis!r}, out_axis={out_axis!r} or batch_axis="
                         f"{batch_axis!r} is out of range for a shape of rank "
                         f"{len(shape)}") from None
    if 0 in sizes or 0 in shape:
        return 1.0, 1.0                      # an empty tensor: no values, so no scale
    rf = math.prod(shape) / sizes[0] / sizes[1] / sizes[2]
    return sizes[0] * rf, sizes[1] * rf


class _JaxFans(_fi.VarianceScaling):
    """fastinit's VarianceScaling with JAX's fan rule (its 1-D error, no overlap check)."""

    def __init__(self, scale, mode, distribution, in_axis, out_axis, batch_axis):
        super().__init__(scale, mode, distribution, seed=0)
        self.jax_axes = (in_axis, out_axis, batch_axis)

    def _check_shape(self, shape):
        return jax_fans(shape, *self.jax_axes)


class _VarianceScaling(_Object):
    def __init__(self, name, scale, mode, distribution, axes, dtype):
        self.scale = _scalar(scale, "scale")
        self.mode, self.distribution = mode, distribution
        obj = None
        if mode in _MODES and distribution in _VS_DISTRIBUTIONS:
            # JAX raises for a bad mode or distribution when called: so does this
            obj = _JaxFans(self.scale, mode, _VS_DISTRIBUTIONS[distribution], *axes)
        self.axes = axes
        super().__init__(name, dtype, obj, distribution, True)

    def _check(self, shape, dt):
        fans = jax_fans(shape, *self.axes)
        if self.mode not in _MODES:
            raise ValueError(f"invalid mode for variance scaling initializer: {self.mode}")
        if self.distribution not in _VS_DISTRIBUTIONS:
            raise ValueError("invalid distribution for variance scaling initializer: "
                             f"{self.distribution}")
        _inexact(dt, self.distribution)
        return fans

    def _complex(self, g, shape, dt, index):
        std = math.sqrt(self.scale / scaled_fan(*jax_fans(shape, *self.axes), self.mode))
        if self.distribution == "normal":
            return _complex_normal(g, shape, dt, index, std)
        u_mod, u_angle = _polar_uniforms(g, shape, index)
        if self.distribution == "uniform":
            r = np.sqrt(2.0 * u_mod) * std                   # uniform on a disk, E|z|^2 = 1
        else:
            # |z|**2 of a unit complex normal is Exp(1); cut at |z| = 2 by inversion
            t = -math.expm1(-4.0) * u_mod
            r = np.sqrt(-np.log1p(-t)) * (std / _COMPLEX_TRUNCATED_STD)
        return _polar(r, u_angle, dt)


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=None):
    """Values of variance ``scale / n``, n the fan of ``mode`` ("fan_in", "fan_out",
    "fan_avg", "fan_geo_avg"); ``distribution`` "truncated_normal" (cut at 2 std, corrected),
    "normal" (untruncated) or "uniform"; complex dtypes as JAX defines them."""
    return _VarianceScaling("variance_scaling", scale, mode, distribution,
                            (in_axis, out_axis, batch_axis), dtype)


def _preset(name, scale, mode, distribution):
    def factory(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return _VarianceScaling(name, scale, mode, distribution,
                                (in_axis, out_axis, batch_axis), dtype)
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = (f"variance_scaling({scale}, {mode!r}, {distribution!r}, in_axis, "
                       "out_axis, batch_axis, dtype)")
    return factory


glorot_uniform = xavier_uniform = _preset("glorot_uniform", 1.0, "fan_avg", "uniform")
glorot_normal = xavier_normal = _preset("glorot_normal", 1.0, "fan_avg", "truncated_normal")
he_uniform = kaiming_uniform = _preset("he_uniform", 2.0, "fan_in", "uniform")
he_normal = kaiming_normal = _preset("he_normal", 2.0, "fan_in", "truncated_normal")
lecun_uniform = _preset("lecun_uniform", 1.0, "fan_in", "uniform")
lecun_normal = _preset("lecun_normal", 1.0, "fan_in", "truncated_normal")


# ---- orthogonal ------------------------------------------------------------------------

def _unitary(g, rows, cols, dt, scale):
    """``scale`` times a Haar-distributed complex (rows, cols) matrix with orthonormal rows or
    columns: QR of a complex Gaussian matrix (drawn as one real normal fill of (m, n, 2)),
    with the phases of R's diagonal moved into Q (Mezzadri, 2007)."""
    m, n = max(rows, cols), min(rows, cols)
    a = np.ascontiguousarray(g.standard_normal(size=(m, n, 2), dtype=_COMPLEX[dt]))
    q, r = np.linalg.qr(a.view(dt)[..., 0])
    d = np.diagonal(r)
    mag = np.abs(d)
    q *= np.where(mag == 0, 1, d / np.where(mag == 0, 1, mag)) * scale
    return q if rows >= cols else q.T


class _Orthogonal(_Object):
    needs_whole = True

    def __init__(self, name, scale, column_axis, dtype, delta):
        self.scale, self.column_axis, self.delta = _scalar(scale, "scale"), column_axis, delta
        cls = _fi.DeltaOrthogonal if delta else _fi.Orthogonal
        super().__init__(name, dtype, cls(self.scale, seed=0, column_axis=column_axis),
                         name, True)

    def _check(self, shape, dt):
        if not self.delta and len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        super()._check(shape, dt)

    def _complex(self, g, shape, dt, index):
        mshape = shape[-2:] if self.delta else shape
        out = np.zeros(shape, dt)
        if out.size:
            axis = self.column_axis % len(mshape)
            rest = mshape[:axis] + mshape[axis + 1:]
            q = _unitary(g, math.prod(rest), mshape[axis], dt, self.scale)
            q = np.moveaxis(q.reshape(rest + (mshape[axis],)), -1, axis)
            if self.delta:
                out[tuple((k - 1) // 2 for k in shape[:-2])] = q
            else:
                out[...] = q
        return out if index is None else out[_index(index)].copy()


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """A uniformly distributed (semi-)orthogonal matrix times ``scale``; ``column_axis``
    holds the columns, the other axes are flattened into rows (unitary for complex)."""
    return _Orthogonal("orthogonal", scale, column_axis, dtype, delta=False)


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """A rank 3-5 conv kernel, zero but for an orthogonal (in, out) matrix at the spatial
    centre ``(k - 1) // 2`` (in <= out)."""
    return _Orthogonal("delta_orthogonal", scale, column_axis, dtype, delta=True)


# ---- constants -------------------------------------------------------------------------

class _Constant(Initializer):
    """Any dtype. The value is rounded to the dtype once, on the host, so that the eager,
    jit and sharded paths hold the same bits; it then broadcasts in the graph."""

    random = False

    def __init__(self, name, value, dtype):
        super().__init__(name, dtype)
        self.value = value

    def _value(self, dt):
        jax = _jax()
        if isinstance(self.value, jax.core.Tracer):
            return None
        return np.asarray(self.value).astype(dt)

    def _check(self, shape, dt):
        v = self._value(dt)
        if v is not None:
            np.broadcast_to(v, shape)           # ValueError for a value that cannot broadcast

    def __call__(self, key, shape, dtype=_FACTORY_DTYPE, out_sharding=None):
        shape, dt = self._prepare(shape, self.dtype if dtype is _FACTORY_DTYPE else dtype)
        if out_sharding is not None:
            return self._sharded(key, shape, dt, out_sharding)
        jnp = _jax().numpy
        v = self._value(dt)
        if v is None:
            return jnp.full(shape, self.value, dt)
        return jnp.broadcast_to(jnp.asarray(v), shape)

    def _host(self, g, shape, dt, index):
        full = np.broadcast_to(self._value(dt), shape)
        return np.array(full if index is None else full[_index(index)])


def _constant_initializer(name, value):
    init = _Constant(name, value, None)
    init.__doc__ = f"An initializer of arrays full of {value} (the key is ignored)."
    return init


zeros = _constant_initializer("zeros", 0)
ones = _constant_initializer("ones", 1)


# ---- sharded arrays --------------------------------------------------------------------

def make_array(init, key, shape, dtype=None, sharding=None):
    """A ``jax.Array`` of ``shape`` with ``sharding``, built by
    ``jax.make_array_from_callback``: each device's shard is made alone through fastinit's
    ``index=`` (one fill per distinct shard, shared by the devices that replicate it), and
    the array equals ``init(key, shape, dtype)`` bit for bit for any mesh and PartitionSpec.

    ``init`` is an initializer from this module; ``key`` a concrete JAX key. Orthogonal
    initializers need the whole matrix: it is made once on the host (its memory and one QR)
    and each shard cut from it."""
    if not isinstance(init, Initializer):
        raise TypeError(f"make_array takes an initializer from fastinit.jax, not {init!r}")
    if sharding is None:
        raise TypeError("make_array needs a sharding (a jax.sharding.Sharding)")
    shape, dt = init._prepare(shape, init.dtype if dtype is None else dtype)
    jax = _jax()
    data = _key_data(key) if init.random else None
    if data is not None and isinstance(data, jax.core.Tracer):
        raise TypeError("make_array runs eagerly: its key must be concrete (under jit, call "
                        "the initializer with out_sharding= instead)")
    return _make(init, data, shape, dt, sharding)


def _normalize(index, shape):
    """A hashable form of a device's tuple of slices."""
    return tuple(s.indices(n) if isinstance(s, slice) else operator.index(s)
                 for s, n in zip(_index(index), shape))


def _make(init, data, shape, dt, sharding):
    jax = _jax()
    words = None if data is None else np.asarray(data)
    # How many devices ask for each block: a block is made once and dropped after its last
    # use, so replicated shards cost one fill and the host holds no more than it must.
    uses = {}
    for idx in sharding.addressable_devices_indices_map(shape).values():
        k = _normalize(idx, shape)
        uses[k] = uses.get(k, 0) + 1
    made, lock = {}, threading.Lock()
    whole = []

    def block(index):
        k = _normalize(index, shape)
        with lock:
            if k not in made:
                if init.needs_whole:
                    if not whole:
                        whole.append(init.host(words, shape, dt))
                    made[k] = whole[0][_index(index)]
                else:
                    made[k] = init.host(words, shape, dt, index)
            arr = made[k]
            uses[k] = uses.get(k, 1) - 1
            if uses[k] <= 0:
                return made.pop(k)      # the last device takes the block itself
        # a device that shares the block gets its own copy: the CPU client may keep the
        # array's memory as the device buffer (zero-copy), and buffers must not alias
        return _aligned_copy(arr)

    return jax.make_array_from_callback(shape, sharding, block, dtype=dt)
