"""fastinit on Dask: lazy random arrays, any chunking, any scheduler, the same bits.

``pip install fastinit[dask]``; importing this module imports dask (``import fastinit``
alone never does).

    >>> import fastinit.dask
    >>> x = fastinit.dask.normal(0.0, 0.02, size=(65536, 65536), chunks=(8192, 8192),
    ...                          seed=0, dtype="float32")
    >>> x.to_zarr("w.zarr")           # larger than RAM: each chunk made where it is stored

Each chunk is the block ``full[index]`` of one logical call (``Generator.<method>(...,
index=)``), so ``x.compute()`` is bitwise equal to ``fastinit.Generator(seed).<method>(...,
size=size)`` whatever the chunks, the scheduler (threads, processes, a ``distributed``
cluster) or the number of workers. The graph holds one small task per chunk: the generator's
state (key and counter, not the seed), the parameters and the chunk's position. Its size
grows with the number of chunks, never with the array's.
"""
import numpy as np

import dask.array as da

from fastinit import _args
from fastinit._core import Generator
from fastinit.initializers import Initializer

_FLOATS = ("random", "uniform", "standard_normal", "normal", "truncated_normal")


def _state(seed):
    """The starting state of ``Generator(seed)``: what every task needs, and all it needs."""
    return Generator(seed).state


def _generator(state):
    g = Generator(0)
    g.state = state
    return g


def _index(block_info):
    """The chunk's place in the whole array, as slices."""
    return tuple(slice(a, b) for a, b in block_info[None]["array-location"])


def _method_block(state, method, args, size, dtype, block_info=None):
    g = _generator(state)
    kw = {} if dtype is None else {"dtype": dtype}
    return getattr(g, method)(*args, size=size, index=_index(block_info), **kw)


def _init_block(init, state, size, dtype, block_info=None):
    g = None if state is None else _generator(state)
    return init(size, dtype, generator=g, index=_index(block_info))


def _array(func, size, chunks, dtype, *args):
    size = _args.shape(size)
    return da.map_blocks(func, *args, dtype=dtype, chunks=da.core.normalize_chunks(
        chunks, size, dtype=dtype), meta=np.empty((0,) * len(size), dtype=dtype),
        name=f"fastinit-{func.__name__.strip('_')}-" + da.core.tokenize(func, size, chunks,
                                                                        dtype, *args))


def _method(method, args, size, chunks, seed, dtype):
    dt = np.dtype(np.bool_ if dtype is None else dtype) if method == "bernoulli" \
        else _args.dtype(np.float64 if dtype is None else dtype)
    # Check the parameters once, here, with a zero-size call of the same method.
    getattr(Generator(0), method)(*args, size=0, **({} if dtype is None else {"dtype": dt}))
    return _array(_method_block, size, chunks, dt, _state(seed), method, args,
                  _args.shape(size), None if dtype is None and method == "bernoulli" else dt)


def random(size, chunks="auto", seed=None, dtype=None):
    """Uniform values on [0, 1), as ``Generator(seed).random(size, dtype)``."""
    return _method("random", (), size, chunks, seed, dtype)


def uniform(low=0.0, high=1.0, size=None, chunks="auto", seed=None, dtype=None):
    """As ``Generator(seed).uniform(low, high, size, dtype)``."""
    return _method("uniform", (low, high), size, chunks, seed, dtype)


def standard_normal(size, chunks="auto", seed=None, dtype=None):
    """As ``Generator(seed).standard_normal(size, dtype)``."""
    return _method("standard_normal", (), size, chunks, seed, dtype)


def normal(loc=0.0, scale=1.0, size=None, chunks="auto", seed=None, dtype=None):
    """As ``Generator(seed).normal(loc, scale, size, dtype)``."""
    return _method("normal", (loc, scale), size, chunks, seed, dtype)


def truncated_normal(mean=0.0, std=1.0, a=-2.0, b=2.0, size=None, chunks="auto", seed=None,
                     dtype=None):
    """As ``Generator(seed).truncated_normal(mean, std, a, b, size, dtype)``."""
    return _method("truncated_normal", (mean, std, a, b), size, chunks, seed, dtype)


def bernoulli(p, size=None, chunks="auto", seed=None, dtype=None):
    """As ``Generator(seed).bernoulli(p, size, dtype)`` (bool by default)."""
    return _method("bernoulli", (p,), size, chunks, seed, dtype)


def from_initializer(init, shape, chunks="auto", seed=None, dtype=np.float32):
    """An initializer object's values as a Dask array: equal to ``init(shape, dtype,
    generator=fastinit.Generator(seed))``, or to ``init(shape, dtype)`` (its own seed) when
    seed is None. Fans come from the whole shape. An orthogonal initializer makes its whole
    matrix in every chunk (see ``Orthogonal``)."""
    if not isinstance(init, Initializer):
        raise TypeError(f"from_initializer takes a fastinit initializer object, not {init!r}")
    dt = _args.dtype(dtype)
    shp = _args.shape(shape)
    init._check_shape(shp)
    return _array(_init_block, shp, chunks, dt, init, None if seed is None else _state(seed),
                  shp, dt)


__all__ = ["bernoulli", "from_initializer", "normal", "random", "standard_normal",
           "truncated_normal", "uniform"]
