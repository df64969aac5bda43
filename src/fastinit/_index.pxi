# index=: the block full[index] of a call, planned here and filled by fi_fill_block.

def plan_index(shape, index):
    """The block full[index] of an array of the given shape, for a NumPy basic index (ints,
    slices with steps, one Ellipsis; missing trailing dims are whole):
    (block shape, starts, steps, counts, int_axes), one start/step/count per dim of shape.
    ValueError for anything else: an int or a slice bound outside its dim, too many
    indices, None, arrays or masks, and a shape of 2**64 elements or more (a call's value
    indices are 64-bit)."""
    full = _shape_of(shape, "shape")
    _prod(full, "shape")
    return _plan(full, index)


cdef tuple _plan(tuple full, object index):
    """plan_index for a shape checked already (by _shape_of and _prod)."""
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
    block = _plan(full, index)[0]
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
    shape, starts, steps, counts, int_axes = _plan(full, index)
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

