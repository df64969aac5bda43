/*
 * qr.c -- the orthonormal factor of a small tall matrix, for orthogonal initializers.
 *
 * The small matrices most orthogonal initializations make (a 10 x 10 recurrent kernel) take
 * a few thousand flops, and calling LAPACK through NumPy costs tens of microseconds around
 * them. This unblocked Householder QR in double precision is the path for those; large
 * matrices still go to LAPACK, whose blocked code wins there.
 */
#include <math.h>
#include "fastinit.h"

/* Column-major, so the inner loops, which walk down a column, are unit-stride. */
#define A(i, j) a[(j) * m + (i)]
#define Q(i, j) q[(j) * m + (i)]

void fi_orthonormal_columns(double *a, double *q, double *work, int64_t m, int64_t n,
                            double scale)
{
    double *beta = work;        /* H_k = I - beta_k v_k v_k^T */
    double *sign = work + n;    /* scale times the sign of R_kk, +1 for 0 */

    /* Factor: v_k is kept in a[k:, k], over the column it zeroed. */
    for (int64_t k = 0; k < n; k++) {
        double norm2 = 0.0;
        for (int64_t i = k; i < m; i++) norm2 += A(i, k) * A(i, k);
        if (norm2 == 0.0) {     /* a zero column: no reflection, R_kk = 0 */
            beta[k] = 0.0;
            sign[k] = scale;
            continue;
        }
        double x0 = A(k, k);
        /* alpha = R_kk takes the sign opposite to x0, so that v_k's first entry,
         * x0 - alpha, adds magnitudes instead of cancelling. */
        double alpha = x0 < 0 ? sqrt(norm2) : -sqrt(norm2);
        double v0 = x0 - alpha;
        A(k, k) = v0;
        beta[k] = 2.0 / (norm2 - x0 * x0 + v0 * v0);
        sign[k] = alpha < 0 ? -scale : scale;
        for (int64_t j = k + 1; j < n; j++) {
            double dot = 0.0;
            for (int64_t i = k; i < m; i++) dot += A(i, k) * A(i, j);
            dot *= beta[k];
            for (int64_t i = k; i < m; i++) A(i, j) -= dot * A(i, k);
        }
    }

    /* Q = H_0 H_1 ... H_{n-1} [I; 0], applied from the last reflector back: H_k then meets
     * only rows and columns >= k, the others still being those of [I; 0]. */
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) Q(i, j) = i == j ? 1.0 : 0.0;
    for (int64_t k = n - 1; k >= 0; k--) {
        if (beta[k] == 0.0) continue;
        for (int64_t j = k; j < n; j++) {
            double dot = 0.0;
            for (int64_t i = k; i < m; i++) dot += A(i, k) * Q(i, j);
            dot *= beta[k];
            for (int64_t i = k; i < m; i++) Q(i, j) -= dot * A(i, k);
        }
    }

    /* Column k times sign(R_kk) (Mezzadri, 2007): Q R stays the factorization, and Q is
     * Haar distributed instead of following the reflectors' sign convention. The scale
     * rides along, rounding each value once more, as multiplying after would. */
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) Q(i, j) *= sign[j];
}
