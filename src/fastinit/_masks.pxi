# Sparse masks: exactly k nonzeros per 1-D slice, each slice from its own counter (fi_sparse_mask).

ctypedef struct _mask_job:
    const fi_stream *s
    int code
    const fi_out *o
    uint64_t nslices, k, chunk


cdef void _mask_chunk(void *ctx, uint64_t t) noexcept nogil:
    """Slices [t*chunk, t*chunk + chunk) of a mask."""
    cdef _mask_job *j = <_mask_job *>ctx
    cdef uint64_t j0 = t * j.chunk
    fi_sparse_mask(j.s, j.code, j.o, j0, min(j.chunk, j.nslices - j0), j.k, 0)


cdef object _sparse_mask(Generator g, object shape, object density, object k, object axis,
                         object dtype, object out, object index):
    """Generator.sparse_mask (its docstring says what); g is the Generator."""
    cdef fi_stream s
    cdef fi_out o
    cdef uint64_t nslices, kk, kc
    cdef int code
    code, dt = _resolve_mask_dtype(dtype, out)
    shp = _shape_of(shape, "shape")
    if len(shp) == 0:
        raise ValueError("sparse_mask needs at least one dimension")
    # A bool for a number is a TypeError, as everywhere; a non-integral axis or k keeps the
    # ValueError it always had (as the Python layer's counts and axes do).
    if isinstance(axis, _BOOLS):
        raise TypeError(f"axis must be an int, not a bool: axis={axis!r}")
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
        density = _real(density, "density")
        if not 0.0 <= density <= 1.0:
            raise ValueError(f"density must lie in [0, 1], got {density!r}")
        k = int(round(density * n))
    else:
        if isinstance(k, _BOOLS):
            raise TypeError(f"k must be an int, not a bool: k={k!r}")
        try:
            k = operator.index(k)
        except TypeError:
            raise ValueError(f"k must be an int, not {k!r}")
        if not 0 <= k <= n:
            raise ValueError(f"k must lie in [0, {n}] for slices of length {n}, got {k}")
    if n >= 2**32:
        raise ValueError(f"sparse_mask takes slices shorter than 2**32: shape={shp!r}, "
                         f"axis={axis!r}")
    if index is not None:
        total = _prod(shp, "shape")                       # < 2**64, or ValueError
        plan = _plan(shp, index)
        arr = _block_output(shp, index, code, out, dt)
        blocks = _mask_blocks(total // n if n else 0, "shape", shp)
        tmp = _mask_rows(shp, ax, plan, arr)
        # Everything that can fail has run (the row buffer too): now the stream moves.
        g._take(blocks, &s)
        return _mask_block(&s, code, shp, ax, k, plan, arr, tmp)
    arr = _output(shp, code, out, dt, "shape")
    nslices = arr.size // n if n else 0          # < 2**63: an array's size
    g._take(fi_mask_blocks(nslices), &s)
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
    # Threads for large masks: chunks of slices worth about 2**16 draws each.
    cdef _mask_job j
    j.s, j.code, j.o, j.nslices, j.k = &s, code, &o, nslices, kc
    j.chunk = max(1, (1 << 16) // kk)
    with nogil:
        fi_pool_run(_num_threads, (nslices + j.chunk - 1) // j.chunk, _mask_chunk, &j)
    return arr


cdef object _mask_rows(tuple shp, int ax, tuple plan, object arr):
    """The buffer _mask_block makes the block's whole slices in, (rows, shp[ax]), or None for
    an empty block. Made before the Generator moves: it is the one allocation that can fail
    (a small block of long slices needs them whole)."""
    counts = plan[3]
    if arr.size == 0:
        return None
    nrows = 1
    for d in range(len(shp)):
        if d != ax:
            nrows *= counts[d]
    try:
        return np.empty((nrows, shp[ax]), dtype=arr.dtype)
    except ValueError as e:
        raise ValueError(f"shape={shp!r}: the block's {nrows} slices of length {shp[ax]} are "
                         f"too large to make whole: {e}") from None


cdef object _mask_block(fi_stream *s, int code, tuple shp, int ax, uint64_t k, tuple plan,
                        object arr, object tmp):
    """The block shp[index] of a sparse mask, into arr: its slices along ax are made whole (a
    slice's positions depend on all of it), from their own counters, in tmp (_mask_rows),
    then cut to the block."""
    cdef fi_out o
    cdef uint64_t n = shp[ax], row = 0
    block, starts, steps, counts, int_axes = plan
    if arr.size == 0:
        return arr
    other = [d for d in range(len(shp)) if d != ax]
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
