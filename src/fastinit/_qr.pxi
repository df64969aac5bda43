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

