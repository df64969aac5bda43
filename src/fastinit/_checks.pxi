# dtypes, shapes, outputs and distribution parameters: every check of the compiled layer.

from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_AsDouble, PyFloat_CheckExact
from cpython.long cimport PyLong_AsDouble, PyLong_CheckExact

# A bool is refused wherever a number belongs (a TypeError, as NumPy does for shapes and
# axes): True is an int to Python, but never the size, count or parameter anyone meant.
_BOOLS = (bool, np.bool_)
_COMPLEX = (complex, np.complexfloating)
_U64_END = 2**64            # counters, value indices and element counts lie in [0, 2**64)
_MAX_DIM = 2**63 - 1        # NumPy's largest dimension (npy_intp)


cdef str _show(object v):
    """repr(v), cut short for huge ints (10**400) so a message stays readable."""
    try:
        r = repr(v)
    except ValueError:      # an int past sys.get_int_max_str_digits()
        return f"<an int of {v.bit_length()} bits>"
    return r if len(r) <= 60 else f"{r[:24]}...{r[len(r) - 8:]} ({len(r)} characters)"


cdef object _int_arg(object v, str what):
    """v as a Python int, for an argument that is a whole number: TypeError for a bool or a
    non-integer. The range is the caller's to check."""
    if PyLong_CheckExact(v):
        return v
    if isinstance(v, _BOOLS):
        raise TypeError(f"{what} must be an int, not a bool: {what}={v!r}")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(v).__name__}: {what}={_show(v)}") from None


cdef object _u64_arg(object v, str what):
    """An int in [0, 2**64) (a counter or a value index): TypeError for a bool or a
    non-integer, ValueError outside the range."""
    v = _int_arg(v, what)
    if not 0 <= v < _U64_END:
        raise ValueError(f"{what} must lie in [0, 2**64), got {what}={_show(v)}")
    return v

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


cdef object _dim(object d):
    """One dimension of a shape as an int; TypeError for a bool or a non-integer."""
    if PyLong_CheckExact(d):
        return d
    if isinstance(d, _BOOLS):
        raise TypeError("a bool is not a dimension")
    return operator.index(d)


cdef tuple _shape_of(object size, str what="size"):
    """A shape (tuple of ints) from an int or a sequence of ints: TypeError for anything else
    (bools included, as NumPy refuses them), ValueError for a negative dimension or one past
    NumPy's largest, 2**63 - 1."""
    cdef tuple shape
    try:
        if type(size) is tuple or type(size) is list:
            shape = tuple([_dim(d) for d in size])
        else:
            try:
                shape = (_dim(size),)
            except TypeError:
                if isinstance(size, (str, bytes)) or isinstance(size, _BOOLS):
                    raise
                shape = tuple([_dim(d) for d in size])
    except TypeError:
        raise TypeError(f"{what} must be an int or a tuple of ints, not {what}={_show(size)}") from None
    for d in shape:
        if d < 0:
            raise ValueError(f"negative dimensions are not allowed: {what}={_show(size)}")
        if d > _MAX_DIM:
            raise ValueError(f"{what}={_show(size)} has a dimension past 2**63 - 1, the largest "
                             "NumPy allows")
    return shape


cdef object _prod(tuple shape, str what="size"):
    """The number of elements of a full shape, as a Python int (exact: no wrap-around);
    ValueError from 2**64 on, past what a call's 64-bit value indices reach."""
    n = 1
    for d in shape:
        n *= d
    if n >= _U64_END:
        raise ValueError(f"{what}={shape!r} is too large: {_show(n)} elements, and a call "
                         "holds at most 2**64 - 1")
    return n


cdef uint64_t _blocks(int dist, int code, const fi_params *p, uint64_t n) noexcept:
    """fi_blocks_for(n), exact for every n < 2**64 (ceil(n / per group) * 16 <= 2**63): the
    C sum n + per_group - 1 wraps past 2**64 - 64, so such n are split into n - 64 and 64
    values, 64 being whole groups for either words per value."""
    if n > <uint64_t>0xFFFFFFFFFFFFFFFF - 64:
        return fi_blocks_for(dist, code, p, n - 64) + fi_blocks_for(dist, code, p, 64)
    return fi_blocks_for(dist, code, p, n)


cdef uint64_t _mask_blocks(object nslices, str what, object shape) except? 0:
    """fi_mask_blocks(nslices): ceil(nslices / 16) * 16 counters, ValueError when that is
    2**64 or more (the C sum wraps there)."""
    if nslices > _U64_END - 16:
        raise ValueError(f"{what}={shape!r} has {nslices} slices: their block counters, "
                         f"rounded up to 16, pass 2**64")
    return fi_mask_blocks(<uint64_t>nslices)


cdef bint _may_overlap(cnp.ndarray a) noexcept:
    """False when a's elements provably occupy disjoint memory, else True. Dims of length > 1
    sorted by |stride|: each |stride| must be at least the span of the smaller dims,
    sum |stride_j| * (len_j - 1), plus the itemsize. A zero stride on such a dim, or two
    elements sharing bytes, fails it; so do a few exotic interleaved layouts that do not
    overlap (strides (12, 8) on shape (2, 3) of float32), which are refused too: the simple
    test cannot prove them disjoint."""
    cdef int nd = cnp.PyArray_NDIM(a), i, j, m = 0
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    cdef cnp.npy_intp *strides = cnp.PyArray_STRIDES(a)
    cdef uint64_t st[64]
    cdef uint64_t ln[64]
    cdef uint64_t s, reach
    if cnp.PyArray_SIZE(a) == 0:
        return False
    for i in range(nd):
        if dims[i] > 1:
            s = <uint64_t>strides[i] if strides[i] >= 0 else <uint64_t>0 - <uint64_t>strides[i]
            j = m                                   # insertion sort by |stride|
            while j > 0 and st[j - 1] > s:
                st[j] = st[j - 1]
                ln[j] = ln[j - 1]
                j -= 1
            st[j] = s
            ln[j] = <uint64_t>dims[i]
            m += 1
    reach = <uint64_t>cnp.PyArray_ITEMSIZE(a)
    for i in range(m):
        if st[i] < reach:
            return True
        if ln[i] - 1 > (<uint64_t>0xFFFFFFFFFFFFFFFF - reach) // st[i]:
            reach = <uint64_t>0xFFFFFFFFFFFFFFFF   # saturate: no larger stride can pass it
        else:
            reach += st[i] * (ln[i] - 1)
    return False


cdef object _output(object size, int code, object out, object dt=None, str what="size"):
    """The array to fill: out, checked (an ndarray already: the dtype checks come first), or
    a new one (of dtype dt, else code's). Every fill's out= comes through here: read-only,
    overlapping (elements sharing memory: zero strides on a dim longer than 1, or strides
    smaller than what they step over) and mis-shaped outputs are refused before anything is
    written or the Generator moves."""
    cdef cnp.ndarray a
    if out is None:
        shape = () if size is None else _shape_of(size, what)
        try:
            return np.empty(shape, dtype=_DTYPES[code] if dt is None else dt)
        except ValueError as e:             # NumPy's "array is too big"
            raise ValueError(f"{what}={_show(size)}: {e}") from None
    a = <cnp.ndarray>out
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError("out is read-only")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_IS_F_CONTIGUOUS(a)) and _may_overlap(a):
        raise ValueError(f"out has elements that share memory (shape {out.shape}, strides "
                         f"{out.strides}, itemsize {out.itemsize}): unsupported operation, as in "
                         "torch: some elements of the written-to array refer to a single "
                         "memory location (zero or overlapping strides)")
    if size is not None and _shape_of(size, what) != out.shape:
        raise ValueError(f"{what} {_shape_of(size, what)} does not match out.shape {out.shape}")
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
    if isinstance(v, _BOOLS):
        raise TypeError(f"{what} words must be ints, not a bool: {v!r}")
    try:
        v = operator.index(v)
    except TypeError:
        raise TypeError(f"{what} words must be ints, not {type(v).__name__}: {_show(v)}") from None
    if not 0 <= v < 2**32:
        raise ValueError(f"{what} words must lie in [0, 2**32), got {_show(v)}")
    return v


cdef double _real(object v, str what) except? -1.0:
    """A distribution parameter as a double. Python floats and ints take the fast path; see
    _real_slow for the rest."""
    if PyFloat_CheckExact(v):
        return PyFloat_AS_DOUBLE(v)
    if PyLong_CheckExact(v):            # not a bool: bool is a subclass
        try:
            return PyLong_AsDouble(v)
        except OverflowError:
            pass                        # _real_slow says what
    return _real_slow(v, what)


cdef double _real_slow(object v, str what) except? -1.0:
    """A real scalar as a double: ints, NumPy scalars, 0-d arrays, anything with __float__
    but a str. TypeError for bools, complex numbers and arrays of more than 0 dimensions;
    ValueError for a value past the float64 range (an int such as 10**400)."""
    if isinstance(v, _BOOLS):
        raise TypeError(f"{what} must be a real number, not a bool: {what}={v!r}")
    if isinstance(v, _COMPLEX):
        raise TypeError(f"{what} must be a real number, not complex: {what}={v!r}")
    if isinstance(v, np.ndarray):
        if v.ndim != 0:
            raise TypeError(f"{what} must be a real scalar, not an array of shape {v.shape} "
                            "(array parameters, as NumPy broadcasts them, are not supported)")
        if v.dtype.kind in "bc":
            raise TypeError(f"{what} must be a real number, not {v.dtype}: {what}={v!r}")
    try:
        return PyFloat_AsDouble(v)
    except OverflowError:
        raise ValueError(f"{what} must be a real number in the float64 range, got "
                         f"{what}={_show(v)}") from None
    except TypeError:
        note = ("" if not hasattr(v, "__len__") or isinstance(v, (str, bytes)) else
                " (array parameters, as NumPy broadcasts them, are not supported)")
        raise TypeError(f"{what} must be a real number, not {type(v).__name__}: "
                        f"{what}={_show(v)}{note}") from None


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
    """Check and convert a distribution's parameters (only those it has: uniform low, high;
    normal loc, scale; truncated_normal mean, std, a, b; bernoulli p)."""
    cdef double a, b, c, d
    if dist == FI_UNIFORM:
        a, b = _real(oa, "low"), _real(ob, "high")
        return _check(fi_uniform_params(code, a, b, p), "low and high", a, b, code)
    if dist == FI_NORMAL:
        a, b = _real(oa, "loc"), _real(ob, "scale")
        return _check(fi_normal_params(code, a, b, p), "loc and scale", a, b, code)
    if dist == FI_TRUNCNORM:
        a, b = _real(oa, "mean"), _real(ob, "std")
        c, d = _real(oc, "a"), _real(od, "b")
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
    a = _real(oa, "p")
    return _check(fi_bernoulli_params(a, p), "p", a, 0.0, code)
