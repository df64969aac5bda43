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

