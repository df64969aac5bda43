# ---- the bit generator ----------------------------------------------------------------

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
    cdef uint64_t first
    cdef uint64_t n
    nparams = {FI_UNIFORM: 2, FI_NORMAL: 2, FI_TRUNCNORM: 4, FI_BERNOULLI: 1}[d]
    if len(params) != nparams:
        raise TypeError(f"{dist} takes {nparams} parameters, got {len(params)}")
    params = tuple(params) + (0.0,) * (4 - nparams)
    _output(None, code, out)
    if not out.flags.c_contiguous:
        raise ValueError("fill_range writes to a C-contiguous array")
    _params(d, code, params[0], params[1], params[2], params[3], &p)
    try:
        nkey = len(key)
    except TypeError:
        raise TypeError(f"key must be a pair of 32-bit words, not {_show(key)}") from None
    if nkey != 2:
        raise ValueError(f"key must be a pair of 32-bit words, got {nkey} of them: key={_show(key)}")
    s.key[0] = _u32(key[0], "key")
    s.key[1] = _u32(key[1], "key")
    c = _u64_arg(counter, "counter")
    start = _u64_arg(start, "start")
    n = out.size
    # The range reads values [start, start + n) of the call, so block counters up to
    # counter + blocks_for(start + n): both must stay within 2**64, or the kernels' 64-bit
    # sums would wrap to other values.
    if start + n > _U64_END:
        raise ValueError(f"start + out.size must be at most 2**64, got start={start} and "
                         f"out.size={n}")
    need = -(-(start + n) // (64 // fi_words_per_value(d, code, &p))) * 16
    if c + need > _U64_END:
        raise ValueError(f"counter={c} is too close to 2**64: values [start, start + out.size) "
                         f"= [{start}, {start + n}) read {need} block counters from it")
    s.counter = c
    first = start
    _describe(out, &o)
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
        counter = _u64_arg(counter, "counter")
        self._key[0], self._key[1], self._counter = k0, k1, counter

    def spawn(self, n_children):
        """n independent Generators, from the children of this one's SeedSequence."""
        return [Generator(ss) for ss in self._seedseq().spawn(_int_arg(n_children, "n_children"))]

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
            # (also when the sum is exactly 2**64: the counter could not hold it)
            raise OverflowError(f"this Generator's 2**64 block counters are used up: the call "
                                f"needs {blocks} from counter={self._counter}, and "
                                f"{0xFFFFFFFFFFFFFFFF - self._counter} remain")
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
            n_full = _prod(full)                              # < 2**64, or ValueError
            arr = _block_output(full, index, code, out, dt)   # raises before the stream moves
            self._take(_blocks(dist, code, p, n_full), &s)
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
        return _sparse_mask(self, shape, density, k, axis, dtype, out, index)


def default_rng(seed=None):
    """A Generator: seed as for Generator(seed); a Generator is returned as it is."""
    if isinstance(seed, Generator):
        return seed
    return Generator(seed)
