# dtypes, shapes, outputs and distribution parameters: every check of the compiled layer.

# ---- dtypes ---------------------------------------------------------------------------

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
_DTYPES = (np.dtype(np.float16), BFLOAT16, np.dtype(np.float32), np.dtype(np.float64))
_DTYPE_CODE = {dt: code for code, dt in enumerate(_DTYPES)}
_DTYPE_NAMES = tuple(dt.name for dt in _DTYPES) + ("bool/uint8",)   # by code, FI_U8 last
# Cheap lookups for the spellings people use most, before falling back to np.dtype().
_FAST_CODE = {np.float16: FI_F16, ml_dtypes.bfloat16: FI_BF16, np.float32: FI_F32,
              np.float64: FI_F64, float: FI_F64, "float16": FI_F16, "bfloat16": FI_BF16,
              "float32": FI_F32, "float64": FI_F64}
_FAST_CODE.update(_DTYPE_CODE)

cdef int _dtype_code(object dtype) except -1:
    code = _FAST_CODE.get(dtype) if isinstance(dtype, (type, str, np.dtype)) else None
    if code is not None:
        return code
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float16, bfloat16, float32 or float64, not {dtype!r}")
    code = _DTYPE_CODE.get(dt)
    if code is None:
        raise TypeError(f"dtype must be float16, bfloat16, float32 or float64, not {dt}")
    return code


_MASK_DTYPES = {np.dtype(np.bool_): FI_U8, np.dtype(np.uint8): FI_U8}
_MASK_DTYPES.update(_DTYPE_CODE)


cdef tuple _resolve_mask_dtype(object dtype, object out):
    """(code, numpy dtype) of a mask: bool (the default), uint8 or a float dtype; out's when
    out is given."""
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
        dt = out.dtype
        if dtype is not None and np.dtype(dtype) != dt:
            raise TypeError(f"dtype {np.dtype(dtype)} does not match out's dtype {dt}")
    else:
        try:
            dt = np.dtype(np.bool_ if dtype is None else dtype)
        except TypeError:
            raise TypeError(f"mask dtype must be bool, uint8 or a float dtype, not {dtype!r}")
    code = _MASK_DTYPES.get(dt)
    if code is None:
        raise TypeError(f"mask dtype must be bool, uint8, float16, bfloat16, float32 or "
                        f"float64, not {dt}")
    return code, dt


cdef int _resolve_dtype(object dtype, object out) except -1:
    """The dtype code of a call: out's dtype when out is given (and dtype, if also given,
    must agree), else dtype, else float64."""
    cdef int code
    if out is None:
        return FI_F64 if dtype is None else _dtype_code(dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
    code = _DTYPE_CODE.get((<cnp.ndarray>out).dtype, -1)
    if code < 0:
        raise TypeError(f"out has dtype {out.dtype}; fastinit fills float16, bfloat16, "
                        "float32 and float64")
    if dtype is not None and _dtype_code(dtype) != code:
        raise TypeError(f"dtype {np.dtype(dtype)} does not match out's dtype {out.dtype}")
    return code


cdef tuple _shape_of(object size):
    cdef tuple shape
    try:
        shape = (operator.index(size),)
    except TypeError:
        try:
            shape = tuple([operator.index(d) for d in size])
        except TypeError:
            raise TypeError(f"size must be an int or a tuple of ints, not {size!r}")
    for d in shape:
        if d < 0:
            raise ValueError(f"negative dimensions are not allowed: size={size!r}")
    return shape


cdef uint64_t _prod(tuple shape):
    cdef uint64_t n = 1
    for d in shape:
        n *= <uint64_t>d
    return n


cdef object _output(object size, int code, object out, object dt=None):
    """The array to fill: out, checked, or a new one (of dtype dt, else code's)."""
    if out is None:
        return np.empty(() if size is None else _shape_of(size), dtype=_DTYPES[code] if dt is None else dt)
    if not (<cnp.ndarray>out).flags.writeable:
        raise ValueError("out is read-only")
    if size is not None and _shape_of(size) != out.shape:
        raise ValueError(f"size {_shape_of(size)} does not match out.shape {out.shape}")
    return out


_ERRORS = {
    FI_ERR_NONFINITE: "{what} must be finite, got {a!r} and {b!r}",
    FI_ERR_ORDER: "low must be less than high, got low={a!r}, high={b!r}",
    FI_ERR_EMPTY: "no {dtype} value lies in [{a!r}, {b!r})",
    FI_ERR_RANGE: "{what} {a!r}, {b!r} lie outside the finite range of {dtype}",
    FI_ERR_SCALE: "scale must be non-negative, got {b!r}",
    FI_ERR_PROB: "p must lie in [0, 1], got {a!r}",
    FI_ERR_NAN: "{what} must not be NaN",
}

cdef int _check(int err, str what, double a, double b, int code) except -1:
    if err != FI_OK:
        raise ValueError(_ERRORS[err].format(what=what, a=a, b=b, dtype=_DTYPE_NAMES[code]))
    return 0



cdef uint32_t _u32(object v, str what) except? 0:
    v = operator.index(v)
    if not 0 <= v < 2**32:
        raise ValueError(f"{what} words must lie in [0, 2**32), got {v}")
    return v



# Proposals a truncated normal value tries before its exact fallback (the inverse CDF).
# At the worst acceptance rate of the chosen proposal (about 1/2), 200 failures in a row
# have probability 1e-60; tests set it to 0 to exercise the fallback.
_truncnorm_max_attempts = 200


def _set_truncnorm_max_attempts(n):
    """Testing hook: proposals tried before the exact inverse-CDF fallback."""
    global _truncnorm_max_attempts
    _truncnorm_max_attempts = operator.index(n)


cdef int _params(int dist, int code, object oa, object ob, object oc, object od,
                 fi_params *p) except -1:
    cdef double a, b, c, d
    try:
        a, b, c, d = oa, ob, oc, od
    except TypeError:
        raise TypeError("distribution parameters must be real scalars (array parameters, "
                        f"as NumPy broadcasts them, are not supported), got {(oa, ob, oc, od)!r}")
    if dist == FI_UNIFORM:
        return _check(fi_uniform_params(code, a, b, p), "low and high", a, b, code)
    if dist == FI_NORMAL:
        return _check(fi_normal_params(code, a, b, p), "loc and scale", a, b, code)
    if dist == FI_TRUNCNORM:
        err = fi_truncnorm_params(code, a, b, c, d, _truncnorm_max_attempts, p)
        if err == FI_ERR_NONFINITE:
            raise ValueError(f"mean and std must be finite, got {a!r} and {b!r}")
        if err == FI_ERR_SCALE:
            raise ValueError(f"std must be positive and finite, got {b!r}")
        if err == FI_ERR_NAN:
            raise ValueError(f"the bounds a and b must not be NaN, got {c!r} and {d!r}")
        if err == FI_ERR_ORDER:
            raise ValueError(f"a must be less than b, got a={c!r}, b={d!r}")
        if err == FI_ERR_EMPTY:
            raise ValueError(f"no {_DTYPE_NAMES[code]} value lies in [{c!r}, {d!r}]")
        return 0
    return _check(fi_bernoulli_params(a, p), "p", a, b, code)

