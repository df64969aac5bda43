/*
 * fastinit.h -- the C core of fastinit: counter-based random fills of plain buffers.
 *
 * No Python here. The contract every function keeps: value i of a call (its flat, C-order
 * index in the call's logical output) depends only on the key, the call's first block
 * counter and i. So any sub-range [start, start+n) of a call can be generated on its own,
 * by any thread, with any SIMD path, and the bits are the same.
 *
 * Word stream. Blocks are taken 16 at a time ("groups"). Group g of a call covers blocks
 * counter + 16g + m, m = 0..15, and lays out their 64 output words as
 * W[64g + 16w + m] = Philox4x32-10((block, 0, 0), key)[w]: one SIMD register per word.
 *   - float16, bfloat16, float32 take one word per value: value i uses W[i];
 *   - float64 takes two: value 32g + 16h + m uses W[64g + 32h + m] (low) and
 *     W[64g + 32h + 16 + m] (high). The truncated normal takes one word per value in
 *     the narrower dtypes with a ziggurat proposal (fi_truncnorm_one_word), else two, laid
 *     out as float64's; Bernoulli masks one.
 * A rejection sampler that needs more draws for value i takes them from blocks reserved for
 * that value alone: counter words (block, attempt >= 1, slot), where slot says which
 * value of the block it is. The main stream always has attempt = 0, so these never meet.
 */
#ifndef FASTINIT_H
#define FASTINIT_H

#include <stddef.h>
#include <stdint.h>
#include "portable.h"

/* FI_U8: one byte, 0 or 1 (bool and uint8 outputs of masks). */
enum fi_dtype { FI_F16 = 0, FI_BF16 = 1, FI_F32 = 2, FI_F64 = 3, FI_U8 = 4, FI_NDTYPES = 5 };
enum fi_dist { FI_UNIFORM = 0, FI_NORMAL = 1, FI_TRUNCNORM = 2, FI_BERNOULLI = 3, FI_NDISTS = 4 };
enum fi_simd { FI_SIMD_SCALAR = 0, FI_SIMD_AVX2 = 1, FI_SIMD_AVX512 = 2, FI_SIMD_AVX512_VBMI = 3,
               FI_SIMD_NEON = 4, FI_NSIMD = 5 };

#define FI_MAXDIM 64

typedef struct {
    uint32_t key[2];
    uint64_t counter;   /* the call's first block counter */
} fi_stream;

/* Distribution parameters, as the kernels use them: filled in by the fi_*_params functions,
 * which reject what has no valid output, and read by the C core alone. Its fields are the
 * kernels' own (params.h); a caller only allocates one, where params.h gives its size. */
typedef struct fi_params fi_params;

/* A strided output: the value with flat index i goes to data + sum(idx[d] * strides[d]). */
typedef struct {
    char *data;
    int ndim;
    int contiguous;     /* C-contiguous: value i at data + i * itemsize */
    int64_t shape[FI_MAXDIM];
    int64_t strides[FI_MAXDIM];
} fi_out;

/* A block of a call's logical array (a NumPy basic index of it): block element
 * (k_0, ..., k_{ndim-1}) is the value at flat index sum_d (start[d] + k_d * step[d]) *
 * stride[d], where stride is the C-order stride (in elements) of the full shape. The
 * output o has the block's shape, count (all ndim dims, 1 where an integer index was). */
typedef struct {
    int ndim;
    uint64_t stride[FI_MAXDIM];
    int64_t start[FI_MAXDIM];
    int64_t step[FI_MAXDIM];
    int64_t count[FI_MAXDIM];
} fi_block;

/* Errors of the parameter checks. */
enum fi_error {
    FI_OK = 0,
    FI_ERR_NONFINITE = 1,       /* a NaN or infinite parameter */
    FI_ERR_ORDER = 2,           /* low >= high */
    FI_ERR_EMPTY = 3,           /* no value of the dtype lies in [low, high) */
    FI_ERR_RANGE = 4,           /* a bound outside the dtype's finite range */
    FI_ERR_SCALE = 5,           /* scale < 0 (or, truncnorm, std <= 0) */
    FI_ERR_PROB = 6,            /* a probability outside [0, 1] */
    FI_ERR_NAN = 7              /* a NaN bound */
};

size_t fi_itemsize(int dtype);
/* Random words each value takes from the main stream: 1 or 2. p (set by the dist's
 * fi_*_params) matters only for the truncated normal, whose proposal decides. */
int fi_words_per_value(int dist, int dtype, const fi_params *p);
/* Blocks a call of n values advances the stream by: whole groups, so it depends on n and
 * the words per value only. */
uint64_t fi_blocks_for(int dist, int dtype, const fi_params *p, uint64_t n);

int fi_uniform_params(int dtype, double low, double high, fi_params *p);
int fi_normal_params(int dtype, double loc, double scale, fi_params *p);
int fi_truncnorm_params(int dtype, double mean, double std, double low, double high,
                        uint32_t max_attempts, fi_params *p);
int fi_bernoulli_params(double prob, fi_params *p);

/*
 * Exactly k ones (or 1.0) in each of nslices slices of length n, the rest zeros: slice j
 * (slice0 <= j < slice0 + nslices, C order over all but the last dimension of o) is the
 * 1-D run along o's last dimension. The chosen positions are uniform over all k-subsets,
 * from Floyd's algorithm on slice j's own stream, Philox blocks (counter + j, t, 0) for
 * t = 0, 1, ...; so slices are independent and any of them can be made alone. The caller
 * fills o beforehand with ones where k > n - k, else zeros, and this flips the
 * min(k, n - k) chosen positions (their values tell Floyd's algorithm which are taken).
 */
void fi_sparse_mask(const fi_stream *s, int dtype, const fi_out *o, uint64_t slice0,
                    uint64_t nslices, uint64_t k, uint64_t stream0);
/* Blocks a sparse mask of nslices slices advances the stream by. */
uint64_t fi_mask_blocks(uint64_t nslices);

/* Whether a call writing nbytes of output on `threads` threads, of random values (random)
 * or of a constant, should use non-temporal stores (the `stream` argument below): from
 * 16 MiB, the size past which they are faster, and for random values from 4 threads, where
 * the writes rather than the arithmetic limit the fill (fills.c). fi_set_stream_min moves
 * that size and returns the previous one (for tests: 0 streams every call). Streaming
 * changes how values are stored, never which. */
int fi_stream_wanted(uint64_t nbytes, int threads, int random);
uint64_t fi_set_stream_min(uint64_t nbytes);

/* A contiguous fill of at least this many bytes of fresh memory maps its pages in one call
 * before writing (fills.c): the thread layer sizes its chunks by it. */
#define FI_PREFAULT_MIN_BYTES ((size_t)1 << 20)

/* Values [start, start + n) of a call, written contiguously to dst (with non-temporal
 * stores if stream and the SIMD path has them). */
void fi_fill_contig(int dist, int dtype, const fi_stream *s, const fi_params *p,
                    void *dst, uint64_t start, uint64_t n, int stream);
/* Values [start, start + n) of a call, each written to its place in the strided output o. */
void fi_fill_strided(int dist, int dtype, const fi_stream *s, const fi_params *p,
                     const fi_out *o, uint64_t start, uint64_t n);
/* Elements [start, start + n) (C order) of block b of a call, written to o, which has the
 * block's shape. Only the values of the block are generated (with the groups they share
 * words with). */
void fi_fill_block(int dist, int dtype, const fi_stream *s, const fi_params *p,
                   const fi_out *o, const fi_block *b, uint64_t start, uint64_t n, int stream);

/* n values of itemsize bytes (1, 2, 4 or 8) at dst, each set to the low bytes of bits: the
 * constant fills, as plain stores the compiler vectorizes, or with stream (and a path that
 * has them) as non-temporal stores of a repeated line. */
void fi_fill_bits(void *dst, size_t itemsize, uint64_t bits, size_t n, int stream);

/* The orthonormal factor Q of the QR factorization of a, column-major m x n, m >= n, with
 * column k of Q times scale and the sign of R_kk (+1 where R_kk = 0): Q of a Gaussian
 * matrix is then Haar distributed. Written to q (m x n, column-major); a is overwritten;
 * work holds 2n doubles. Unblocked Householder in double precision, for small matrices. */
void fi_orthonormal_columns(double *a, double *q, double *work, int64_t m, int64_t n,
                            double scale);

/* SIMD paths: the best one this CPU runs is the default; any supported one may be forced. */
int fi_simd_supported(int level);
int fi_simd_best(void);
int fi_simd_get(void);
int fi_simd_set(int level);     /* returns 0, or -1 if this CPU (or build) lacks it */
/* The AVX2 path comes in two builds of the same bits, one for the CPUs where vpmulld is
 * cheap (AMD Zen 3 on), chosen by CPUID: on (1) or off (0) forces one, -1 gives the choice
 * back. Returns whether the one in use until now was the vpmulld build. For the tests. */
int fi_simd_set_avx2_mulld(int on);

#endif
