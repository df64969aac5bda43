# Threads: how fills are split into chunks and spread over the thread pool (csrc/pool.c).

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
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"the number of threads must be an int, not {n!r}")
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    _num_threads = n


def get_num_threads():
    """How many threads large fills use: FASTINIT_NUM_THREADS, else the CPUs this process may use."""
    return _num_threads


# One fill job, as the pool's tasks see it: chunk t covers values [t*chunk, t*chunk + chunk)
# of the n to write (b: the block of an index= call, else NULL); stream: whether the kernels
# write with non-temporal stores, chosen once for the whole call by its size (fills.c).
ctypedef struct _fill_job:
    int dist, code, stream
    const fi_stream *s
    const fi_params *p
    const fi_out *o
    const fi_block *b
    uint64_t first, n, chunk


cdef void _fill_chunk(void *ctx, uint64_t t) noexcept nogil:
    """Values [first + start, first + start + m) of a call, chunk t; o holds value `first`
    first."""
    cdef _fill_job *j = <_fill_job *>ctx
    cdef uint64_t start = t * j.chunk
    cdef uint64_t m = min(j.chunk, j.n - start)
    if j.b != NULL:
        fi_fill_block(j.dist, j.code, j.s, j.p, j.o, j.b, start, m, j.stream)
    elif j.o.contiguous:
        fi_fill_contig(j.dist, j.code, j.s, j.p, j.o.data + start * fi_itemsize(j.code),
                       j.first + start, m, j.stream)
    else:
        fi_fill_strided(j.dist, j.code, j.s, j.p, j.o, start, m)


cdef uint64_t _chunk_size(uint64_t n, int nt, size_t itemsize) noexcept nogil:
    """Chunks of at most 2**20 values (a few ms), many per thread: the threads take them as
    they finish, so a thread slowed by a neighbour on a shared machine holds up the call by
    at most one small chunk. A multiple of 2048 values, so chunks start on whole groups.
    A fill of at least two such spans per thread gets chunks of at least 1 MiB, so that its
    chunks are prefaulted: taking a fresh tensor's page faults one by one as the values
    are written costs about 1.5x as much as mapping its chunks' pages in one call each
    (measured on the project's VM, 1.5 GB of 11.5 MB tensors: 1.1 s against 0.7 s), and
    tensors of 4-32 MB (most of a transformer's Linear weights) had chunks below it."""
    cdef uint64_t chunk = n // (16 * <uint64_t>nt)
    cdef uint64_t least = 1 << 16
    # The C fill maps a fresh span's pages in one call before writing it (its prefault)
    # only for spans of FI_PREFAULT_MIN_BYTES or more, and a chunk is its span.
    cdef uint64_t span = FI_PREFAULT_MIN_BYTES // itemsize
    if n >= 2 * <uint64_t>nt * span and span > least:
        least = span
    if chunk < least:
        chunk = least
    elif chunk > (1 << 20):
        chunk = 1 << 20
    return (chunk + 2047) // 2048 * 2048


cdef void _run_job(_fill_job *j) noexcept nogil:
    cdef int nt = _num_threads
    j.stream = fi_stream_wanted(j.n * fi_itemsize(j.code), nt if j.n >= _PARALLEL_MIN else 1, 1)
    if nt <= 1 or j.n < _PARALLEL_MIN:
        j.chunk = j.n
        _fill_chunk(j, 0)
        return
    j.chunk = _chunk_size(j.n, nt, fi_itemsize(j.code))
    fi_pool_run(nt, (j.n + j.chunk - 1) // j.chunk, _fill_chunk, j)


cdef void _run(int dist, int code, const fi_stream *s, const fi_params *p, const fi_out *o,
               uint64_t first, uint64_t n) noexcept nogil:
    """Fill values [first, first + n) of one call into o, in chunks spread over the threads.
    The chunks only change who computes which values, never the values."""
    cdef _fill_job j
    j.dist, j.code, j.s, j.p, j.o, j.b, j.first, j.n = dist, code, s, p, o, NULL, first, n
    _run_job(&j)


cdef void _run_block(int dist, int code, const fi_stream *s, const fi_params *p,
                     const fi_out *o, const fi_block *b, uint64_t n) noexcept nogil:
    """Fill the n elements of block b, in chunks spread over the threads, as _run."""
    cdef _fill_job j
    j.dist, j.code, j.s, j.p, j.o, j.b, j.first, j.n = dist, code, s, p, o, b, 0, n
    _run_job(&j)


def _set_stream_min(nbytes):
    """Testing hook: the output size from which fills use non-temporal stores (default 16
    MiB: constant fills, and random ones on 4 threads or more; 0 makes every fill stream);
    returns the previous one. Values never depend on it."""
    return fi_set_stream_min(<uint64_t>nbytes)


def _pool_workers():
    """Testing hook: the pool's worker threads started in this process."""
    return fi_pool_workers()


# ---- constants ------------------------------------------------------------------------

ctypedef struct _bits_job:
    char *data
    size_t itemsize, n, chunk
    uint64_t bits
    int stream


cdef void _bits_chunk(void *ctx, uint64_t t) noexcept nogil:
    cdef _bits_job *j = <_bits_job *>ctx
    cdef size_t start = t * j.chunk
    fi_fill_bits(j.data + start * j.itemsize, j.itemsize, j.bits, min(j.chunk, j.n - start),
                 j.stream)


def fill_bits(cnp.ndarray arr, uint64_t bits):
    """Set every element of arr, C-contiguous and writeable, to the bit pattern `bits` (its
    low itemsize bytes), split over the threads as the random fills are."""
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not arr.flags.writeable:
        raise ValueError("fill_bits writes to a writeable C-contiguous array")
    cdef _bits_job j
    j.itemsize, j.n, j.chunk, j.bits = arr.itemsize, arr.size, 1 << 20, bits
    if j.itemsize not in (1, 2, 4, 8):
        raise ValueError(f"fill_bits takes items of 1, 2, 4 or 8 bytes, not {j.itemsize}")
    j.data = cnp.PyArray_BYTES(arr)
    j.stream = fi_stream_wanted(j.n * j.itemsize, _num_threads, 0)
    with nogil:
        fi_pool_run(_num_threads, (j.n + j.chunk - 1) // j.chunk, _bits_chunk, &j)
