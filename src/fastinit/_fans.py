"""Gains and fans, in the two layouts users bring.

- torch: ``(out, in, *kernel)``. ``fan_in = shape[1] * rf`` and ``fan_out = shape[0] * rf``,
  where ``rf`` is the product of the kernel dims. Used by the torch-named functions.
- JAX/Keras: ``(*kernel, in, out)`` by default, or any ``in_axis``/``out_axis``/``batch_axis``
  (ints or tuples). The receptive field is the product of the other axes. Used by the
  variance-scaling family. Ranks 0 and 1 follow Keras: fans (1, 1) and (n, n).
"""
import math
import numbers

_GAIN_ONE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
             "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ============================  =========================================
    nonlinearity                  gain
    ============================  =========================================
    linear, conv*, sigmoid        1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu                    sqrt(2 / (1 + slope**2)), slope 0.01 if None
    selu                          3/4
    ============================  =========================================
    """
    if not isinstance(nonlinearity, str):
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")
    if nonlinearity in _GAIN_ONE:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def torch_fans(shape):
    """(fan_in, fan_out) of a ``(out, in, *kernel)`` shape, as torch computes them."""
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than "
                         "2 dimensions")
    rf = math.prod(shape[2:])
    return shape[1] * rf, shape[0] * rf


def torch_fan(shape, mode):
    """The fan torch's kaiming functions use: ``mode`` is 'fan_in' or 'fan_out'."""
    valid = ["fan_in", "fan_out"]
    m = mode.lower() if isinstance(mode, str) else mode
    if m not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = torch_fans(shape)
    return fan_in if m == "fan_in" else fan_out


def _axes(axis, ndim, name):
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise ValueError(f"{name} must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}={axis!r} is out of range for a shape of rank {ndim}")
        out.append(a % ndim)
    return out


def axis_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) in the JAX layout: the in and out sizes times the receptive field
    (the product of every axis that is not in, out or batch)."""
    nd = len(shape)
    if nd >= 2 and in_axis == -2 and out_axis == -1 and batch_axis == ():
        rf = math.prod(shape[:-2])
        return shape[-2] * rf, shape[-1] * rf
    if nd < 2 and (_norm(in_axis), _norm(out_axis), _norm(batch_axis)) == (-2, -1, ()):
        n = shape[0] if nd == 1 else 1
        return n, n
    ins = _axes(in_axis, nd, "in_axis")
    outs = _axes(out_axis, nd, "out_axis")
    batch = _axes(batch_axis, nd, "batch_axis")
    used = ins + outs + batch
    if len(set(used)) != len(used):
        raise ValueError(f"in_axis={in_axis!r}, out_axis={out_axis!r} and "
                         f"batch_axis={batch_axis!r} must not overlap")
    rf = math.prod(d for i, d in enumerate(shape) if i not in used)
    return math.prod(shape[i] for i in ins) * rf, math.prod(shape[i] for i in outs) * rf


FAN_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")


def scaled_fan(fan_in, fan_out, mode):
    """The denominator of variance scaling, at least 1 (as Keras)."""
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0,
           "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    return max(1.0, fan)


def check_axes(in_axis, out_axis, batch_axis):
    """Validate the axis arguments' types early (ranks are checked at call time)."""
    for name, a in (("in_axis", in_axis), ("out_axis", out_axis), ("batch_axis", batch_axis)):
        items = a if isinstance(a, (tuple, list)) else (a,)
        if any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in items):
            raise ValueError(f"{name} must be an int or a tuple of ints, got {a!r}")
    return (_norm(in_axis), _norm(out_axis), _norm(batch_axis))


def _norm(a):
    return tuple(int(i) for i in a) if isinstance(a, (tuple, list)) else int(a)

