"""Named framework defaults: reproduce a framework's default layer initialization.

In-place functions use torch's ``(out, in, *kernel)`` layout; initializer objects use JAX's
``(*kernel, in, out)``. Each function draws all its arrays from one generator, so
``generator=0`` gives a weight and a bias from one stream, not two copies of it.
"""
import math

import numpy as np

from fastinit import _args, _fill
from fastinit._fans import torch_fans
from fastinit.init import kaiming_uniform_, normal_, uniform_, zeros_
from fastinit.initializers import RandomInitializer, lecun_normal, register, zeros


def _dim_index(full, index, dim):
    """The entry of index for one dim of full, as a 1-D index of that dim."""
    return (_fill.axis_slice(full, () if index is None else index, dim),)


def torch_linear_(weight, bias=None, generator=None, *, full_shape=None, index=None):
    """``nn.Linear`` and ``nn.ConvNd``'s ``reset_parameters``: the weight by
    ``kaiming_uniform_(a=sqrt(5))``, i.e. U(±1/sqrt(fan_in)), and the bias by U(±1/sqrt(fan_in)),
    with fan_in from the weight's shape. Returns ``(weight, bias)``.

    Sharded: ``full_shape`` is the whole weight's and ``weight`` its block at ``index``; the
    bias is then the block of the whole bias for the same output rows (index's first entry)."""
    if _args.is_meta(weight):
        return weight, bias
    w = _args.target(weight)
    full, where = _args.shard(w, full_shape, index)
    b = None if bias is None or _args.is_meta(bias) else _args.target(bias)
    bias_where = {} if where is None else {"full_shape": full[:1],
                                           "index": _dim_index(full, index, 0)}
    if b is not None and where is not None:
        _args.shard(b, *bias_where.values())       # a bad bias raises before anything moves
    # One generator for both (an int seed or a torch.Generator gives one key), drawn only
    # when there are values to write.
    g = _args.generator(generator) if math.prod(full) or b is not None else None
    kaiming_uniform_(weight, a=math.sqrt(5), generator=g, full_shape=full_shape, index=index)
    if b is not None:
        fan_in, _ = torch_fans(full)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator=g, **bias_where)
    return weight, bias


torch_conv_ = torch_linear_


def torch_embedding_(weight, padding_idx=None, generator=None, *, full_shape=None,
                     index=None):
    """``nn.Embedding``'s ``reset_parameters``: N(0, 1), with the ``padding_idx`` row zeroed
    (in a shard, where that row falls in it)."""
    if _args.is_meta(weight):
        return weight
    arr = _args.target(weight)
    full, where = _args.shard(arr, full_shape, index)
    if padding_idx is not None:
        rows = full[0] if full else 0
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, int) or \
                not -rows <= padding_idx < rows:
            raise ValueError(f"padding_idx must be within num_embeddings, got {padding_idx!r}")
    normal_(weight, 0.0, 1.0, generator=generator, full_shape=full_shape, index=index)
    if padding_idx is not None:
        if where is None:
            arr[padding_idx] = 0
        else:
            rows_here = _fill.positions(full, where[1])[0]
            np.copyto(arr, arr.dtype.type(0), where=rows_here == padding_idx % full[0])
    return weight


def flax_defaults(seed=None):
    """Flax's ``nn.Dense``/``nn.Conv`` defaults: ``(kernel_init, bias_init)`` =
    ``(lecun_normal(), zeros)``. The kernel is a truncated normal of variance 1 / fan_in."""
    return lecun_normal(seed=seed), zeros


def flax_dense_(kernel, bias=None, generator=None, *, full_shape=None, index=None):
    """Fill a Flax-layout ``(*kernel, in, out)`` kernel with ``lecun_normal`` and the bias with
    zeros. Returns ``(kernel, bias)``. Sharded as ``torch_linear_``, the bias following the
    kernel's last (output) dim."""
    if _args.is_meta(kernel):
        return kernel, bias
    k = _args.target(kernel)
    full, where = _args.shard(k, full_shape, index)
    if bias is not None and not _args.is_meta(bias):
        b = _args.target(bias)          # a bad bias raises before the kernel is written
        if where is not None:
            _args.shard(b, full[-1:], _dim_index(full, index, len(full) - 1))
    # seed=0 only spares drawing a seed from the default generator: generator= takes over.
    lecun_normal(seed=0)(full, out=kernel, generator=_args.generator(generator),
                         index=None if where is None else where[1])
    if bias is not None:
        zeros_(bias)
    return kernel, bias


def _sparse_units(g, arr, full, where, units_axis, k, std):
    """N(0, std) with exactly min(k, fan_in) nonzeros into every unit (the units along
    units_axis, 0 or the last; fan_in the product of the other dims), the rest zero. A block
    (where) gets its units' masks whole, then cut."""
    _fill.normal(g, arr, 0.0, std, where)
    units = full[units_axis]
    fan_in = math.prod(full) // units if units else 0
    flat = (units, fan_in) if units_axis == 0 else (fan_in, units)
    axis = 1 if units_axis == 0 else 0
    kz = fan_in - min(k, fan_in)
    if where is None:
        zero = g.sparse_mask(flat, k=kz, axis=axis).reshape(arr.shape)
    else:
        ua = units_axis % len(full)
        take = _fill.axis_slice(full, where[1], ua)
        idx = (take, slice(None)) if units_axis == 0 else (slice(None), take)
        part = g.sparse_mask(flat, k=kz, axis=axis, index=idx)
        shp = list(full)
        shp[ua] = part.shape[0 if units_axis == 0 else 1]
        zero = _fill.cut(part.reshape(shp), full, where[1], done=ua)
    np.copyto(arr, arr.dtype.type(0), where=zero)


@_args.inplace
def martens_sparse_(tensor, k=15, std=1.0, generator=None, *, full_shape=None, index=None):
    """Martens' (2010) sparse initialization, torch layout ``(out, in, *kernel)``: each output
    unit gets exactly ``min(k, fan_in)`` nonzero N(0, std**2) incoming weights, at uniformly
    drawn positions; the rest are zero. (torch's ``sparse_`` fixes a fraction of zeros per
    column instead.)"""
    arr = _args.target(tensor)
    full, where = _args.shard(arr, full_shape, index)
    kk, s = _args.count(k, "k"), _args.nonnegative(std, "std")
    torch_fans(full)
    if _fill.draws(arr, full, where):      # an empty shard still takes its place in g
        _sparse_units(_args.generator(generator), arr, full, where, 0, kk, s)
    return tensor


class MartensSparse(RandomInitializer):
    """Martens' sparse initialization as an initializer object, JAX layout ``(*kernel, in,
    out)``: every output unit (last axis) has exactly ``min(k, fan_in)`` nonzero N(0,
    stddev**2) incoming weights."""

    def __init__(self, k=15, stddev=1.0, seed=None, dtype=None):
        self.k = _args.count(k, "k")
        self.stddev = _args.nonnegative(stddev, "stddev")
        super().__init__(seed, dtype)

    def _check_shape(self, shape):
        if len(shape) < 2:
            raise ValueError(f"sparse initialization needs at least 2 dimensions, got {shape}")

    def _fill(self, arr, g, plan, where):
        full = arr.shape if where is None else where[0]
        _sparse_units(g, arr, full, where, -1, self.k, self.stddev)

    def _config(self):
        return {"k": self.k, "stddev": self.stddev, "seed": self.seed}


def depth_scaled_std(std, num_layers):
    """GPT-2/Megatron's residual-projection std: std / sqrt(2 * num_layers)."""
    n = _args.count(num_layers, "num_layers")
    if n < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers!r}")
    return _args.nonnegative(std, "std") / math.sqrt(2.0 * n)


def depth_scaled_normal_(tensor, std=0.02, num_layers=1, generator=None, *, full_shape=None,
                         index=None):
    """N(0, (std / sqrt(2 * num_layers))**2): GPT-2's and Megatron's initialization of the
    residual output projections, which keeps the residual stream's variance flat in depth."""
    return normal_(tensor, 0.0, depth_scaled_std(std, num_layers), generator=generator,
                   full_shape=full_shape, index=index)


class DepthScaledNormal(RandomInitializer):
    """N(0, (stddev / sqrt(2 * num_layers))**2) as an initializer object."""

    def __init__(self, stddev=0.02, num_layers=1, seed=None, dtype=None):
        self._std = depth_scaled_std(stddev, num_layers)
        self.stddev, self.num_layers = float(stddev), int(num_layers)
        super().__init__(seed, dtype)

    def _fill(self, arr, g, plan, where):
        _fill.normal(g, arr, 0.0, self._std, where)

    def _config(self):
        return {"stddev": self.stddev, "num_layers": self.num_layers, "seed": self.seed}


register(MartensSparse)
register(DepthScaledNormal)
register(MartensSparse, "martens_sparse")
register(DepthScaledNormal, "depth_scaled_normal")
