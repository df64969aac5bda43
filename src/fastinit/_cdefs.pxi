# The C core's declarations (csrc/fastinit.h, params.h, philox.h, pool.h), for the other
# parts of _core.
cdef extern from "params.h" nogil:
    ctypedef struct fi_params:      # its fields are the C core's alone (its size is needed
        pass                        # here: the calls below keep one on their stacks)

cdef extern from "fastinit.h" nogil:
    enum: FI_F16, FI_BF16, FI_F32, FI_F64, FI_U8
    enum: FI_UNIFORM, FI_NORMAL, FI_TRUNCNORM, FI_BERNOULLI
    enum: FI_MAXDIM
    enum: FI_OK, FI_ERR_NONFINITE, FI_ERR_ORDER, FI_ERR_EMPTY, FI_ERR_RANGE, FI_ERR_SCALE
    enum: FI_ERR_PROB, FI_ERR_NAN
    ctypedef struct fi_stream:
        uint32_t key[2]
        uint64_t counter
    ctypedef struct fi_out:
        char *data
        int ndim
        int contiguous
        int64_t shape[64]
        int64_t strides[64]
    size_t fi_itemsize(int dtype)
    int fi_words_per_value(int dist, int dtype, const fi_params *p)
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
                       const fi_out *o, const fi_block *b, uint64_t start, uint64_t n,
                       int stream)
    int fi_uniform_params(int dtype, double low, double high, fi_params *p)
    int fi_normal_params(int dtype, double loc, double scale, fi_params *p)
    enum: FI_PREFAULT_MIN_BYTES
    int fi_stream_wanted(uint64_t nbytes, int threads, int random)
    uint64_t fi_set_stream_min(uint64_t nbytes)
    void fi_fill_contig(int dist, int dtype, const fi_stream *s, const fi_params *p,
                        void *dst, uint64_t start, uint64_t n, int stream)
    void fi_fill_strided(int dist, int dtype, const fi_stream *s, const fi_params *p,
                         const fi_out *o, uint64_t start, uint64_t n)
    int fi_simd_supported(int level)
    void fi_fill_bits(void *dst, size_t itemsize, uint64_t bits, size_t n, int stream)
    void fi_orthonormal_columns(double *a, double *q, double *work, int64_t m, int64_t n,
                                double scale)
    int fi_simd_best()
    int fi_simd_get()
    int fi_simd_set(int level)
    int fi_simd_set_avx2_mulld(int on)

cdef extern from "philox.h" nogil:
    void c_philox4x32 "philox4x32"(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])


cdef extern from "pool.h" nogil:
    ctypedef void (*fi_task)(void *ctx, uint64_t i) noexcept nogil
    void fi_pool_run(int nthreads, uint64_t n, fi_task task, void *ctx)
    int fi_pool_workers()
