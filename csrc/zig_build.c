/*
 * zig_build.c -- a truncated normal's own ziggurat, built for its interval (about 0.5 ms),
 * and a cache of the last few built, since a model's layers mostly share one interval.
 * The build is deterministic (adds, multiplies, divisions, square roots, fi_log and fi_exp
 * only), so every machine and path gets the same table; the cache changes only the time.
 */
#include <math.h>
#include <string.h>
#include "engine_internal.h"

/* g and its inverse on (0, 1], in a form that does not cancel for a large offset a:
 * d = 2L / (a + sqrt(a*a + 2L)), L = -log(y). */
static double zig_g(double a, double d) { return fi_exp(-0.5 * d * (d + 2.0 * a)); }

static double zig_ginv(double a, double y)
{
    double t = -2.0 * fi_log(y);
    return t / (a + sqrt(a * a + t));
}

/* The layer heights of the ziggurat of g on [0, width] with layer area v: f[0] = 0,
 * f[i+1] = f[i] + v / x[i], x[i] the curve's abscissa at height f[i], capped at width.
 * Returns the first i at which the layers reach the top (f[i] >= 1), or 256 + 1 if they do
 * not; x and f, when given, receive the layers up to there. */
static int zig_layers(double a, double width, double gw, double v, double *x, double *f)
{
    double y = 0, xi = width;
    for (int i = 0; i < 256; i++) {
        if (x) x[i] = xi, f[i] = y;
        y = y + v / xi;
        if (y >= 1.0) {
            if (f) f[i + 1] = y;
            return i + 1;
        }
        xi = y <= gw ? width : zig_ginv(a, y);
    }
    return 257;
}

/* Fill t with the ziggurat of the normal truncated to [-width, width] (offset = 0), or to
 * [offset, offset + width] (offset > 0, a float; width may be infinite: the proposal then
 * stops where g falls below 2**-80, whose mass beyond is far below any rounding here).
 * Returns 0, or -1 when the layout does not fit (offset 0 and width above about 3.6, where
 * layer 0 would need a tail; the plain normal then rejects almost nothing). Deterministic:
 * adds, multiplies, divisions, square roots, fi_log and fi_exp only. */
static int zig_truncated(double offset, double width, fi_zig *t)
{
    if (!(offset >= 0 && width > 0) || (double)(float)offset != offset) return -1;
    if (offset == 0 && !(width < FI_ZIG_BETA_MAX)) return -1;
    /* Where g falls to 2**-80 (2L = 160 ln 2): mass beyond is below 2**-80 of the whole. */
    const double far = 110.90354888959125 / (offset + sqrt(offset * offset + 110.90354888959125));
    if (width > far) width = far;
    const double gw = zig_g(offset, width);
    /* The least v (to 2**-40 relative) whose 256 layers reach the top: all the area under
     * the curve is covered, and the last layer's excess above g = 1, which costs a little
     * acceptance, is as small as bisection makes it. width * gw is below the area, and
     * width above it. */
    double lo = width * gw / 256, hi = width / 128;
    for (int it = 0; it < 200 && hi - lo > 0x1p-40 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (zig_layers(offset, width, gw, mid, NULL, NULL) <= 256) hi = mid;
        else lo = mid;
    }
    double v = hi;
    if (zig_layers(offset, width, gw, v, t->x, t->f) != 256) return -1;
    /* Centered, layer 0 must lie wholly under the curve (k = 2**bits): the float64 paths
     * treat a draw that leaves it as the normal's tail. */
    if (offset == 0 && t->f[1] > gw) return -1;
    t->x[256] = 0;
    t->two_offset = 2.0 * offset;
    t->offset = (float)offset;
    t->tail = 0;
    for (int i = 0; i < 256; i++) {
        double ratio = t->x[i + 1] / t->x[i];
        t->k32[i] = (uint32_t)floor(ratio * 0x1p23);
        t->k64[i] = (uint64_t)floor(ratio * 0x1p52);
        t->w32[i] = (float)(t->x[i] * 0x1p-23);
        t->w64[i] = t->x[i] * 0x1p-52;
        t->wk32[i] = ((uint64_t)t->k32[i] << 32) | fi_f32_bits(t->w32[i]);
        for (int m = 0; m < 7; m++)
            t->planes32[m][i] = (uint8_t)(t->wk32[i] >> (8 * m));
    }
    return 0;
}

/* zig_truncated, remembering the last few tables: a model's layers mostly share one
 * interval, and a table costs about 0.5 ms to build. A table depends on (offset, width)
 * alone, so the cache changes only the time. The lock is only ever tried, a bounded number
 * of times: a holder just copies a table (about a microsecond), and a caller that cannot
 * get it builds or keeps its table without the cache. So no caller can wait forever, not
 * even in a child forked while another thread held the lock (there it stays held, and the
 * child just builds every table). */
#define ZIG_CACHE 8
#define ZIG_LOCK_TRIES 100000
static struct { double offset, width; fi_zig t; } zig_cache[ZIG_CACHE];
static int zig_cached, zig_next;
static fi_spinlock zig_lock;

static int zig_lock_take(void)
{
    for (int i = 0; i < ZIG_LOCK_TRIES; i++) {
        if (fi_spin_trylock(&zig_lock)) return 1;
        fi_cpu_relax();
    }
    return 0;
}

int fi_zig_truncated_cached(double offset, double width, fi_zig *t)
{
    int found = 0;
    if (zig_lock_take()) {
        for (int i = 0; i < zig_cached && !found; i++)
            if (zig_cache[i].offset == offset && zig_cache[i].width == width) {
                memcpy(t, &zig_cache[i].t, sizeof *t);
                found = 1;
            }
        fi_spin_unlock(&zig_lock);
    }
    if (found) return 0;
    if (zig_truncated(offset, width, t) != 0) return -1;
    if (zig_lock_take()) {
        zig_cache[zig_next].offset = offset;
        zig_cache[zig_next].width = width;
        memcpy(&zig_cache[zig_next].t, t, sizeof *t);
        zig_next = (zig_next + 1) % ZIG_CACHE;
        if (zig_cached < ZIG_CACHE) zig_cached++;
        fi_spin_unlock(&zig_lock);
    }
    return 0;
}
