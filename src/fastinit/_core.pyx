# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
"""fastinit's Cython layer: it checks buffers and parameters, takes counters from the
Generator, releases the GIL and splits each fill across threads. The C kernels below it
know nothing of Python; the Python package above it holds the names and docs."""

import copy
import itertools
import operator
import os

import ml_dtypes
import numpy as np

cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

cnp.import_array()

cdef extern from "fastinit.h" nogil:
    enum: FI_F16, FI_BF16, FI_F32, FI_F64, FI_U8
    enum: FI_UNIFORM, FI_NORMAL, FI_TRUNCNORM, FI_BERNOULLI
    enum: FI_MAXDIM
    enum: FI_OK, FI_ERR_NONFINITE, FI_ERR_ORDER, FI_ERR_EMPTY, FI_ERR_RANGE, FI_ERR_SCALE
    enum: FI_ERR_PROB, FI_ERR_NAN
    ctypedef struct fi_stream:
        uint32_t key[2]
        uint64_t counter
    ctypedef struct fi_params:
        double a, b, m, lo, hi
        int method, mirror
    ctypedef struct fi_out:
        char *data
        int ndim
        int contiguous
        int64_t shape[64]
        int64_t strides[64]
    size_t fi_itemsize(int dtype)
    uint64_t fi_blocks_for(int dist, int dtype, const fi_params *p, uint64_t n)
    uint64_t fi_mask_blocks(uint64_t nslices)
    int fi_truncnorm_params(int dtype, double mean, double std, double low, double high,
                            uint32_t max_attempts, fi_params *p)
    int fi_bernoulli_params(double prob, fi_params *p)
    void fi_sparse_mask(const fi_stream *s, int dtype, const fi_out *o, uint64_t slice0,
                        uint64_t nslices, uint64_t k, uint64_t stream0)
    ctypedef struct fi_block:
        int ndim
        uint64_t stride[64]
        int64_t start[64]
        int64_t step[64]
        int64_t count[64]
    void fi_fill_block(int dist, int dtype, const fi_stream *s, const fi_params *p,
                       const fi_out *o, const fi_block *b, uint64_t start, uint64_t n)
    int fi_uniform_params(int dtype, double low, double high, fi_params *p)
    int fi_normal_params(int dtype, double loc, double scale, fi_params *p)
    void fi_fill_contig(int dist, int dtype, const fi_stream *s, const fi_params *p,
                        void *dst, uint64_t start, uint64_t n)
    void fi_fill_strided(int dist, int dtype, const fi_stream *s, const fi_params *p,
                         const fi_out *o, uint64_t start, uint64_t n)
    int fi_simd_supported(int level)
    void fi_fill_bits(void *dst, size_t itemsize, uint64_t bits, size_t n)
    void fi_orthonormal_columns(double *a, double *q, double *work, int64_t m, int64_t n,
                                double scale)
    int fi_simd_best()
    int fi_simd_get()
    int fi_simd_set(int level)

cdef extern from "philox.h" nogil:
    void c_philox4x32 "philox4x32"(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])


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


# ---- threads --------------------------------------------------------------------------

def _default_threads():
    env = os.environ.get("FASTINIT_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"FASTINIT_NUM_THREADS must be a positive integer, got {env!r}")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1

cdef int _num_threads = _default_threads()

# Below this many values a fill stays on the calling thread: waking a thread team costs
# more than it saves.
cdef uint64_t _PARALLEL_MIN = 1 << 16


def set_num_threads(n):
    """Set how many threads large fills use (at least 1)."""
    global _num_threads
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    _num_threads = n


def get_num_threads():
    """How many threads large fills use: FASTINIT_NUM_THREADS, else the CPUs this process may use."""
    return _num_threads


cdef void _span(int dist, int code, const fi_stream *s, const fi_params *p, const fi_out *o,
                uint64_t first, uint64_t start, uint64_t n) noexcept nogil:
    """Values [first + start, first + start + n) of a call; o holds value `first` first."""
    if o.contiguous:
        fi_fill_contig(dist, code, s, p, o.data + start * fi_itemsize(code), first + start, n)
    else:
        fi_fill_strided(dist, code, s, p, o, start, n)


cdef void _run(int dist, int code, const fi_stream *s, const fi_params *p, const fi_out *o,
               uint64_t first, uint64_t n) noexcept nogil:
    """Fill values [first, first + n) of one call into o, in chunks spread over the threads.
    The chunks only change who computes which values, never the values."""
    cdef int nt = _num_threads
    cdef uint64_t chunk, nchunks, start, t
    if nt <= 1 or n < _PARALLEL_MIN:
        _span(dist, code, s, p, o, first, 0, n)
        return
    # Chunks of at most 2**20 values (a few ms), many per thread: the threads take them as
    # they finish, so a thread slowed by a neighbour on a shared machine holds up the call
    # by at most one small chunk.
    chunk = n // (16 * <uint64_t>nt)
    if chunk < (1 << 16):
        chunk = 1 << 16
    elif chunk > (1 << 20):
        chunk = 1 << 20
    chunk = (chunk + 2047) // 2048 * 2048
    nchunks = (n + chunk - 1) // chunk
    for t in prange(nchunks, num_threads=nt, schedule="dynamic"):
        start = t * chunk
        _span(dist, code, s, p, o, first, start, min(chunk, n - start))


cdef void _span_block(int dist, int code, const fi_stream *s, const fi_params *p,
                      const fi_out *o, const fi_block *b, uint64_t start, uint64_t n) noexcept nogil:
    fi_fill_block(dist, code, s, p, o, b, start, n)


cdef void _run_block(int dist, int code, const fi_stream *s, const fi_params *p,
                     const fi_out *o, const fi_block *b, uint64_t n) noexcept nogil:
    """Fill the n elements of block b, in chunks spread over the threads, as _run."""
    cdef int nt = _num_threads
    cdef uint64_t chunk, nchunks, start, t
    if nt <= 1 or n < _PARALLEL_MIN:
        _span_block(dist, code, s, p, o, b, 0, n)
        return
    chunk = n // (16 * <uint64_t>nt)
    chunk = min(max(chunk, <uint64_t>1 << 16), <uint64_t>1 << 20)
    nchunks = (n + chunk - 1) // chunk
    for t in prange(nchunks, num_threads=nt, schedule="dynamic"):
        start = t * chunk
        _span_block(dist, code, s, p, o, b, start, min(chunk, n - start))


def plan_index(shape, index):
    """The block full[index] of an array of the given shape, for a NumPy basic index (ints,
    slices with steps, one Ellipsis; missing trailing dims are whole):
    (block shape, starts, steps, counts, int_axes), one start/step/count per dim of shape.
    ValueError for anything else: an int or a slice bound outside its dim, too many
    indices, None, arrays or masks."""
    full = _shape_of(shape)
    if not isinstance(index, tuple):
        index = (index,)
    nd = len(full)
    n_ell = sum(1 for it in index if it is Ellipsis)
    if n_ell > 1:
        raise ValueError("an index can only have a single ellipsis ('...')")
    explicit = len(index) - n_ell
    if explicit > nd:
        raise ValueError(f"too many indices: {explicit} for a shape of {nd} dimensions {full}")
    if n_ell:
        e = index.index(Ellipsis)
        index = index[:e] + (slice(None),) * (nd - explicit) + index[e + 1:]
    else:
        index = index + (slice(None),) * (nd - explicit)
    block, starts, steps, counts, int_axes = [], [], [], [], []
    for d in range(nd):
        it, n = index[d], full[d]
        if isinstance(it, slice):
            for v in (it.start, it.stop):
                if v is not None:
                    try:
                        v = operator.index(v)
                    except TypeError:
                        raise ValueError(f"slice bounds must be ints, got {it!r}")
                    if not -n <= v <= n:
                        raise ValueError(f"slice {it!r} is out of range for dimension {d} of "
                                         f"size {n}")
            if it.step is not None:
                try:
                    st = operator.index(it.step)
                except TypeError:
                    raise ValueError(f"slice steps must be ints, got {it!r}")
                if st == 0:
                    raise ValueError("slice step cannot be zero")
            st, sp, stp = it.indices(n)
            cnt = len(range(st, sp, stp))
            block.append(cnt)
            starts.append(st if cnt else 0)
            steps.append(stp)
            counts.append(cnt)
        elif isinstance(it, (bool, np.bool_)) or it is None:
            raise ValueError(f"index entries must be ints, slices or ..., not {it!r}")
        else:
            try:
                i = operator.index(it)
            except TypeError:
                raise ValueError(f"index entries must be ints, slices or ..., not {it!r}")
            if not -n <= i < n:
                raise ValueError(f"index {i} is out of range for dimension {d} of size {n}")
            starts.append(i % n)
            steps.append(1)
            counts.append(1)
            int_axes.append(d)
    return tuple(block), starts, steps, counts, tuple(int_axes)


cdef object _block_output(tuple full, object index, int code, object out, object dt):
    """The array for the block full[index]: out, checked, or a new one."""
    block = plan_index(full, index)[0]
    if out is not None and isinstance(out, np.ndarray) and out.shape != block:
        raise ValueError(f"out.shape {out.shape} is not the shape of size{list(full)}[index], "
                         f"{block}")
    return _output(block, code, out, dt)


cdef object _fill_index(int dist, int code, fi_stream *s, const fi_params *p, tuple full,
                        object index, object arr):
    """The block full[index] of a call whose stream is s, into arr (its shape)."""
    cdef fi_out o
    cdef fi_block b
    cdef int d
    cdef uint64_t stride = 1
    shape, starts, steps, counts, int_axes = plan_index(full, index)
    cdef uint64_t n = (<cnp.ndarray>arr).size
    if n == 0:
        return arr
    if len(full) == 0:
        _describe(arr, &o)
        with nogil:
            _run(dist, code, s, p, &o, 0, 1)
        return arr
    b.ndim = len(full)
    for d in range(b.ndim - 1, -1, -1):
        b.stride[d] = stride
        stride *= <uint64_t>full[d]
        b.start[d] = starts[d]
        b.step[d] = steps[d]
        b.count[d] = counts[d]
    _describe(np.expand_dims(arr, int_axes) if int_axes else arr, &o)
    with nogil:
        _run_block(dist, code, s, p, &o, &b, n)
    return arr


cdef void _describe(cnp.ndarray arr, fi_out *o) noexcept:
    cdef int d
    o.data = cnp.PyArray_BYTES(arr)
    o.ndim = cnp.PyArray_NDIM(arr)
    o.contiguous = cnp.PyArray_IS_C_CONTIGUOUS(arr)
    for d in range(o.ndim):
        o.shape[d] = cnp.PyArray_DIMS(arr)[d]
        o.strides[d] = cnp.PyArray_STRIDES(arr)[d]


# ---- constants ------------------------------------------------------------------------

def fill_bits(cnp.ndarray arr, uint64_t bits):
    """Set every element of arr, C-contiguous and writeable, to the bit pattern `bits` (its
    low itemsize bytes), split over the threads as the random fills are."""
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not arr.flags.writeable:
        raise ValueError("fill_bits writes to a writeable C-contiguous array")
    cdef size_t es = arr.itemsize, n = arr.size, chunk = 1 << 20, t, nchunks
    if es not in (1, 2, 4, 8):
        raise ValueError(f"fill_bits takes items of 1, 2, 4 or 8 bytes, not {es}")
    cdef char *data = cnp.PyArray_BYTES(arr)
    cdef int nt = _num_threads
    nchunks = (n + chunk - 1) // chunk
    with nogil:
        if nt <= 1 or nchunks <= 1:
            fi_fill_bits(data, es, bits, n)
        else:
            for t in prange(nchunks, num_threads=nt, schedule="static"):
                fi_fill_bits(data + t * chunk * es, es, bits, min(chunk, n - t * chunk))


# ---- small QR -------------------------------------------------------------------------

def orthonormal_columns(a, double scale=1.0):
    """Q of the QR factorization of a (m, n) float64 matrix, m >= n, with column k times
    scale and the sign of R_kk (fi_orthonormal_columns): for small matrices, where LAPACK's
    call overhead is most of the time. a is left unchanged."""
    cdef cnp.ndarray work_a = np.array(a, dtype=np.float64, order="F", copy=True)
    if work_a.ndim != 2 or work_a.shape[0] < work_a.shape[1]:
        raise ValueError(f"orthonormal_columns needs a tall 2-D matrix, not shape {a.shape}")
    cdef int64_t m = work_a.shape[0], n = work_a.shape[1]
    cdef cnp.ndarray q = np.empty((m, n), np.float64, order="F")
    cdef double small[128]
    cdef double *work = &small[0]
    if n > 64:
        work = <double *>malloc(2 * n * sizeof(double))
        if work == NULL:
            raise MemoryError()
    with nogil:
        fi_orthonormal_columns(<double *>cnp.PyArray_DATA(work_a), <double *>cnp.PyArray_DATA(q),
                               work, m, n, scale)
    if n > 64:
        free(work)
    return q


# ---- SIMD paths -----------------------------------------------------------------------

SIMD_PATHS = ("scalar", "avx2", "avx512", "avx512vbmi", "neon")


def available_simd():
    """The SIMD paths this CPU and build can run, slowest first."""
    return tuple(name for level, name in enumerate(SIMD_PATHS) if fi_simd_supported(level))


def get_simd():
    """The SIMD path fills use now."""
    return SIMD_PATHS[fi_simd_get()]


def set_simd(name):
    """Force a SIMD path: 'scalar', 'avx2', 'avx512', 'avx512vbmi' (AVX-512 with VBMI and
    VBMI2: byte shuffles for the ziggurat's tables), 'neon' (AArch64), or 'auto' for the best this CPU
    runs. Every path gives the same bits; this exists to prove it and to measure each."""
    if name == "auto":
        fi_simd_set(fi_simd_best())
        return
    if name not in SIMD_PATHS:
        raise ValueError(f"unknown SIMD path {name!r}; choose from {SIMD_PATHS + ('auto',)}")
    if fi_simd_set(SIMD_PATHS.index(name)) != 0:
        raise RuntimeError(f"this CPU cannot run the {name} path; it runs {available_simd()}")

set_simd(os.environ.get("FASTINIT_SIMD", "auto") or "auto")


# ---- the bit generator ----------------------------------------------------------------

cdef uint32_t _u32(object v, str what) except? 0:
    v = operator.index(v)
    if not 0 <= v < 2**32:
        raise ValueError(f"{what} words must lie in [0, 2**32), got {v}")
    return v


def philox4x32(counter, key):
    """Philox4x32-10 of one block: 4 counter words and 2 key words in, the 4 output words out."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t r[4]
    counter, key = list(counter), list(key)
    if len(counter) != 4 or len(key) != 2:
        raise ValueError("philox4x32 takes 4 counter words and 2 key words")
    for i in range(4):
        c[i] = _u32(counter[i], "counter")
    for i in range(2):
        k[i] = _u32(key[i], "key")
    c_philox4x32(c, k, r)
    return (r[0], r[1], r[2], r[3])


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


_DISTS = {"uniform": FI_UNIFORM, "normal": FI_NORMAL, "truncated_normal": FI_TRUNCNORM,
          "bernoulli": FI_BERNOULLI}


def fill_range(dist, key, counter, start, out, *params):
    """Values [start, start + out.size) of a call whose stream is (key, counter), written to
    the C-contiguous array out. dist and params: 'uniform' (low, high), 'normal' (loc,
    scale), 'truncated_normal' (mean, std, a, b) or 'bernoulli' (p). This is the sub-range
    machinery under every fill; sharded initialization builds on it."""
    cdef fi_stream s
    cdef fi_params p
    cdef fi_out o
    if dist not in _DISTS:
        raise ValueError(f"unknown distribution {dist!r}; choose from {tuple(_DISTS)}")
    cdef int d = _DISTS[dist]
    cdef int code = _resolve_mask_dtype(None, out)[0] if d == FI_BERNOULLI else _resolve_dtype(None, out)
    cdef uint64_t first = start
    cdef uint64_t n
    nparams = {FI_UNIFORM: 2, FI_NORMAL: 2, FI_TRUNCNORM: 4, FI_BERNOULLI: 1}[d]
    if len(params) != nparams:
        raise TypeError(f"{dist} takes {nparams} parameters, got {len(params)}")
    params = tuple(params) + (0.0,) * (4 - nparams)
    _output(None, code, out)
    if not out.flags.c_contiguous:
        raise ValueError("fill_range writes to a C-contiguous array")
    _params(d, code, params[0], params[1], params[2], params[3], &p)
    s.key[0] = _u32(key[0], "key")
    s.key[1] = _u32(key[1], "key")
    s.counter = counter
    _describe(out, &o)
    n = out.size
    with nogil:
        _run(d, code, &s, &p, &o, first, n)
    return out


# int seed -> its SeedSequence's key (bounded: cleared when full)
_INT_SEED_KEYS = {}


cdef tuple _key_of(object ss):
    key = ss.generate_state(2, np.uint32)
    return (int(key[0]), int(key[1]))


def _from_state(state, seed_seq):
    g = Generator.__new__(Generator)
    g._seed_seq = seed_seq
    g.state = state
    return g


cdef class Generator:
    """Generator(seed=None)

    Fills arrays with random values from Philox4x32-10, a counter-based generator.

    seed: None (fresh entropy from the OS), a non-negative int, or a numpy.random.SeedSequence.
    It gives the 64-bit key; the counter starts at 0. Every fill takes the next range of
    block counters, so value i of a call depends only on (key, the call's first counter, i):
    the same bits for any thread count, SIMD path, chunking or memory layout of `out`.
    """
    cdef uint32_t _key[2]
    cdef uint64_t _counter
    cdef public object _seed_seq

    def __init__(self, seed=None):
        cdef tuple key
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            # An int seed's key comes from its SeedSequence, which is made only when spawn()
            # needs it: making it costs more than a small fill (initializer objects make a
            # Generator per construction).
            seed = operator.index(seed)
            key = _INT_SEED_KEYS.get(seed)
            if key is None:
                key = _key_of(np.random.SeedSequence(seed))
                if len(_INT_SEED_KEYS) >= 4096:
                    _INT_SEED_KEYS.clear()
                _INT_SEED_KEYS[seed] = key
            self._seed_seq = seed
        elif isinstance(seed, np.random.SeedSequence) or seed is None:
            self._seed_seq = np.random.SeedSequence() if seed is None else seed
            key = _key_of(self._seed_seq)
        else:
            raise TypeError(f"seed must be None, a non-negative int or a SeedSequence, "
                            f"not {type(seed).__name__}")
        self._key[0] = key[0]
        self._key[1] = key[1]
        self._counter = 0

    cdef object _seedseq(self):
        """The SeedSequence of this Generator's seed, made now if it was an int."""
        if not isinstance(self._seed_seq, np.random.SeedSequence):
            self._seed_seq = np.random.SeedSequence(self._seed_seq)
        return self._seed_seq

    # -- state --

    @property
    def key(self):
        """The 64-bit Philox key, as two 32-bit words."""
        return (self._key[0], self._key[1])

    @property
    def counter(self):
        """The next free block counter: where the next call's values start."""
        return self._counter

    @property
    def state(self):
        """{'bit_generator': 'Philox4x32-10', 'key': (k0, k1), 'counter': c}; settable."""
        return {"bit_generator": "Philox4x32-10", "key": self.key, "counter": self._counter}

    @state.setter
    def state(self, value):
        try:
            name, key, counter = value["bit_generator"], value["key"], value["counter"]
        except (TypeError, KeyError):
            raise ValueError("state must be a dict with keys 'bit_generator', 'key', 'counter'")
        if name != "Philox4x32-10":
            raise ValueError(f"state is for {name!r}, not 'Philox4x32-10'")
        key = list(key)
        if len(key) != 2:
            raise ValueError("the key has 2 words")
        k0, k1 = _u32(key[0], "key"), _u32(key[1], "key")
        counter = operator.index(counter)
        if not 0 <= counter < 2**64:
            raise ValueError(f"the counter must lie in [0, 2**64), got {counter}")
        self._key[0], self._key[1], self._counter = k0, k1, counter

    def spawn(self, n_children):
        """n independent Generators, from the children of this one's SeedSequence."""
        return [Generator(ss) for ss in self._seedseq().spawn(operator.index(n_children))]

    def __reduce__(self):
        return (_from_state, (self.state, self._seed_seq))

    def __copy__(self):
        """An independent Generator in the same state, whose spawn() gives what this one's
        would (as a pickled copy does)."""
        cdef Generator g = Generator.__new__(Generator)
        g._key[0] = self._key[0]
        g._key[1] = self._key[1]
        g._counter = self._counter
        ss = self._seed_seq
        g._seed_seq = ss if not isinstance(ss, np.random.SeedSequence) else copy.deepcopy(ss)
        return g

    def __deepcopy__(self, memo):
        return _from_state(self.state, copy.deepcopy(self._seed_seq, memo))

    def __repr__(self):
        return (f"Generator(Philox4x32-10, key=(0x{self._key[0]:08x}, 0x{self._key[1]:08x}), "
                f"counter={self._counter})")

    # -- fills --

    cdef int _take(self, uint64_t blocks, fi_stream *s) except -1:
        """The next `blocks` block counters, for one call. One uninterrupted step under the
        GIL, so concurrent calls from several Python threads get disjoint ranges."""
        if self._counter + blocks < self._counter:
            raise OverflowError("this Generator's 2**64 block counters are used up")
        s.key[0] = self._key[0]
        s.key[1] = self._key[1]
        s.counter = self._counter
        self._counter += blocks
        return 0

    cdef object _fill(self, int dist, int code, object size, object out, fi_params *p,
                      object dt=None, object index=None):
        cdef fi_stream s
        cdef fi_out o
        if index is not None:
            # The block full[index] of the call over the full shape `size`; the Generator
            # advances by the whole call, so every shard stays in step.
            if size is None:
                raise ValueError("index= needs size=, the full shape it indexes")
            full = _shape_of(size)
            arr = _block_output(full, index, code, out, dt)   # raises before the stream moves
            self._take(fi_blocks_for(dist, code, p, _prod(full)), &s)
            return _fill_index(dist, code, &s, p, full, index, arr)
        arr = _output(size, code, out, dt)
        cdef uint64_t n = (<cnp.ndarray>arr).size
        self._take(fi_blocks_for(dist, code, p, n), &s)
        if n:
            _describe(arr, &o)
            with nogil:
                _run(dist, code, &s, p, &o, 0, n)
        if size is None and out is None:
            return arr[()]
        return arr

    def random(self, size=None, dtype=None, out=None, index=None):
        """Uniform values on [0, 1). dtype: float16, bfloat16, float32 or float64 (the
        default, or out's dtype when out is given)."""
        cdef int code = _resolve_dtype(dtype, out)
        cdef fi_params p
        _params(FI_UNIFORM, code, 0.0, 1.0, 0, 0, &p)
        return self._fill(FI_UNIFORM, code, size, out, &p, None, index)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=None, out=None, index=None):
        """Uniform values on [low, high), each rounded to dtype and never outside that
        interval; ValueError if no value of dtype lies in it."""
        cdef int code = _resolve_dtype(dtype, out)
        cdef fi_params p
        _params(FI_UNIFORM, code, low, high, 0, 0, &p)
        return self._fill(FI_UNIFORM, code, size, out, &p, None, index)

    def standard_normal(self, size=None, dtype=None, out=None, index=None):
        """Standard normal values (256-layer ziggurat, exact up to |z| < 12.2)."""
        cdef int code = _resolve_dtype(dtype, out)
        cdef fi_params p
        _params(FI_NORMAL, code, 0.0, 1.0, 0, 0, &p)
        return self._fill(FI_NORMAL, code, size, out, &p, None, index)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=None, out=None, index=None):
        """Normal values with mean loc and standard deviation scale (>= 0)."""
        cdef int code = _resolve_dtype(dtype, out)
        cdef fi_params p
        _params(FI_NORMAL, code, loc, scale, 0, 0, &p)
        return self._fill(FI_NORMAL, code, size, out, &p, None, index)


    def truncated_normal(self, mean=0.0, std=1.0, a=-2.0, b=2.0, size=None, dtype=None,
                         out=None, index=None):
        """Normal values with mean and std, truncated to [a, b] (absolute bounds, as in
        torch; a=-inf or b=inf truncate one side). Exact, by rejection from the proposal
        with the best acceptance rate for the interval (normal, half-normal, uniform, or
        Robert's exponential for tails), with an exact inverse-CDF fallback; every value
        lies in [a, b] after rounding to dtype. An interval around the mean reaching at
        most about 3.6 std on either side draws from a ziggurat of the normal truncated
        to [-m, m], m its farther side, built for it (and cached): a symmetric one
        rejects nothing. A tail interval (up to 256 std out) draws from a ziggurat of the
        normal past its bound, built the same way."""
        cdef int code = _resolve_dtype(dtype, out)
        cdef fi_params p
        _params(FI_TRUNCNORM, code, mean, std, a, b, &p)
        return self._fill(FI_TRUNCNORM, code, size, out, &p, None, index)

    def bernoulli(self, p, size=None, dtype=None, out=None, index=None):
        """1 with probability p, else 0; dtype bool (the default), uint8 or a float dtype.
        p is used to 32 bits (a multiple of 2**-32); p = 0 and p = 1 are exact."""
        cdef fi_params prm
        code, dt = _resolve_mask_dtype(dtype, out)
        _params(FI_BERNOULLI, code, p, 0, 0, 0, &prm)
        return self._fill(FI_BERNOULLI, code, size, out, &prm, dt, index)

    def sparse_mask(self, shape, density=None, k=None, axis=0, dtype=None, out=None,
                    index=None):
        """A mask with exactly k nonzeros in every 1-D slice along axis, at positions uniform
        over all k-subsets and independent from slice to slice (Martens' sparse
        initialization: k incoming weights per unit). Give k, or density, which makes
        k = round(density * shape[axis]). dtype: bool (the default), uint8 or a float dtype.
        Slice j (C order over the other axes) comes from its own block counter, so the
        Generator advances by the number of slices, rounded up to 16."""
        cdef fi_stream s
        cdef fi_out o
        cdef uint64_t nslices, j0, kk, kc, chunk, t, nchunks
        cdef int nt, code
        code, dt = _resolve_mask_dtype(dtype, out)
        shp = _shape_of(shape)
        if len(shp) == 0:
            raise ValueError("sparse_mask needs at least one dimension")
        try:
            ax = operator.index(axis)
        except TypeError:
            raise ValueError(f"axis must be an int, not {axis!r}")
        if not -len(shp) <= ax < len(shp):
            raise ValueError(f"axis {axis} is out of range for {len(shp)} dimensions")
        ax %= len(shp)
        n = shp[ax]
        if (density is None) == (k is None):
            raise ValueError("give exactly one of density and k")
        if density is not None:
            density = float(density)
            if not 0.0 <= density <= 1.0:
                raise ValueError(f"density must lie in [0, 1], got {density!r}")
            k = int(round(density * n))
        else:
            try:
                k = operator.index(k)
            except TypeError:
                raise ValueError(f"k must be an int, not {k!r}")
            if not 0 <= k <= n:
                raise ValueError(f"k must lie in [0, {n}] for slices of length {n}, got {k}")
        if n >= 2**32:
            raise ValueError("sparse_mask takes slices shorter than 2**32")
        if index is not None:
            plan = plan_index(shp, index)
            arr = _block_output(shp, index, code, out, dt)    # raises before the stream moves
            nslices = _prod(shp) // n if n else 0
            self._take(fi_mask_blocks(nslices), &s)
            return _mask_block(&s, code, shp, ax, k, plan, arr)
        arr = _output(shp, code, out, dt)
        nslices = arr.size // n if n else 0
        self._take(fi_mask_blocks(nslices), &s)
        if arr.size == 0:
            return arr
        arr[...] = 1 if k > n - k else 0
        kk = min(k, n - k)
        kc = k
        if kk == 0:
            return arr
        if ax == len(shp) - 1:
            _describe(arr, &o)
        else:                           # axis last (np.moveaxis, without its overhead)
            _describe(arr.transpose(tuple(range(ax)) + tuple(range(ax + 1, len(shp))) + (ax,)),
                      &o)
        o.contiguous = 0
        nt = _num_threads
        # Threads for large masks: chunks of slices worth about 2**16 draws each.
        chunk = max(1, (1 << 16) // kk)
        nchunks = (nslices + chunk - 1) // chunk
        with nogil:
            if nt <= 1 or nchunks <= 1:
                fi_sparse_mask(&s, code, &o, 0, nslices, kc, 0)
            else:
                for t in prange(nchunks, num_threads=nt, schedule="dynamic"):
                    j0 = t * chunk
                    fi_sparse_mask(&s, code, &o, j0, min(chunk, nslices - j0), kc, 0)
        return arr


cdef object _mask_block(fi_stream *s, int code, tuple shp, int ax, uint64_t k, tuple plan,
                        object arr):
    """The block shp[index] of a sparse mask, into arr: its slices along ax are made whole (a
    slice's positions depend on all of it), from their own counters, then cut to the block."""
    cdef fi_out o
    cdef uint64_t n = shp[ax], row = 0
    block, starts, steps, counts, int_axes = plan
    if arr.size == 0:
        return arr
    other = [d for d in range(len(shp)) if d != ax]
    nrows = _prod(tuple(counts[d] for d in other))
    tmp = np.empty((nrows, n), dtype=arr.dtype)
    tmp[...] = 1 if k > n - k else 0
    if min(k, n - k) > 0:
        _describe(tmp, &o)
        o.contiguous = 0
        # Slice numbers run in C order over the other dims: the last of them, when its step
        # is 1, gives runs of consecutive slices.
        # (This module turns off wraparound: no negative indices on lists here.)
        last = other[len(other) - 1] if other else None
        lead = other[:len(other) - 1] if other else []
        outer = [range(counts[d]) for d in lead]
        for combo in itertools.product(*outer):
            num = 0
            for d, kd in zip(lead, combo):
                num = num * shp[d] + starts[d] + kd * steps[d]
            if last is None:
                fi_sparse_mask(s, code, &o, row, 1, k, 0)
                row += 1
                continue
            num *= shp[last]
            if steps[last] == 1:
                # (stream0 is added to the local slice number modulo 2**64)
                fi_sparse_mask(s, code, &o, row, counts[last], k,
                               (num + starts[last] - row) % 2**64)
                row += counts[last]
            else:
                for kl in range(counts[last]):
                    fi_sparse_mask(s, code, &o, row, 1, k,
                                   (num + starts[last] + kl * steps[last] - row) % 2**64)
                    row += 1
    # (rows in C order of the other dims' block, n) -> the block, axis back in place.
    full_rows = tmp.reshape(tuple(counts[d] for d in other) + (n,))
    picks = starts[ax] + steps[ax] * np.arange(counts[ax], dtype=np.int64)
    sel = np.moveaxis(np.take(full_rows, picks, axis=-1), -1, ax)
    drop = tuple(d for d in int_axes)
    if drop:
        sel = sel.reshape(tuple(c for d, c in enumerate(sel.shape) if d not in drop))
    arr[...] = sel
    return arr


def default_rng(seed=None):
    """A Generator: seed as for Generator(seed); a Generator is returned as it is."""
    if isinstance(seed, Generator):
        return seed
    return Generator(seed)
