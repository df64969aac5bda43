/*
 * fills.c -- the fills the API calls: values [start, start + n) of a call written
 * contiguously, to a strided output, or to a block of the call's logical array, each
 * through the contiguous fill of the SIMD path in use (fi_active_contig); the constant
 * fills; and the prefaulting of fresh memory before a large contiguous write. The memory
 * mapping calls are Linux's, and stay in this file.
 */
#include <string.h>
#include "engine_internal.h"
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23      /* Linux 5.14 */
#endif
#endif

#if defined(__linux__)
static int page_resident(uintptr_t a, uintptr_t page)
{
    unsigned char v = 0;
    return mincore((void *)(a - a % page), 1, &v) == 0 && (v & 1);
}
#endif

/* Map the pages under [dst, dst + nbytes) for writing with one call instead of a page fault
 * per page on first touch. Fresh memory (np.empty, torch.empty) is mapped lazily, and taking
 * its faults one by one is much of a large fill's time; the kernel populates a range for
 * less. Memory already mapped is left alone: there the call would still walk every page
 * (about 100 ns per 4 KiB page, half the fill's own time), so when the span's first, middle
 * and last pages are resident nothing is done. Nothing is done either for small spans or
 * where the kernel lacks the call. Mapping the span's edge pages writes nothing to them. */
static void prefault(void *dst, size_t nbytes)
{
#if defined(__linux__)
    if (nbytes < FI_PREFAULT_MIN_BYTES) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = (uintptr_t)dst, pg = (uintptr_t)page, start = a - a % pg;
    if (page_resident(a, pg) && page_resident(a + nbytes / 2, pg) && page_resident(a + nbytes - 1, pg))
        return;
    (void)madvise((void *)start, a + nbytes - start, MADV_POPULATE_WRITE);
#else
    (void)dst;
    (void)nbytes;
#endif
}

/* Non-temporal stores pay where the output is larger than the caches will keep and the
 * writes are what limits the fill. Measured on a Sapphire Rapids guest (2 cores):
 * - a plain loop of AVX2 stores of float32 took 0.23 ns per value streamed at every size
 *   from 1 MiB up, against 0.12 (1 MiB), 0.23 (16 MiB), then 0.57-0.89 (64-256 MiB) plain;
 *   on 2 threads 0.12 against 0.29. So a call streams from 16 MiB of output: below, plain
 *   stores are as fast, and leave the values in cache for their reader;
 * - the random fills compute at most about 6 GB/s per core (AVX-512 uniform float32: 0.64
 *   ns per value), under what plain stores take (14 GB/s on 2 threads): on 1 and 2 threads
 *   streaming them through the stage was 6% faster to 20% slower (2**26 values, by path
 *   and law), and on fresh memory 3-12% slower. From 4 threads their output reaches the
 *   plain stores' limit, so they stream there; the constant fills at any count. */
#define STREAM_RANDOM_THREADS 4
static uint64_t stream_min = (uint64_t)16 << 20;

int fi_stream_wanted(uint64_t nbytes, int threads, int random)
{
    if (stream_min == 0) return 1;      /* every call (a test setting) */
    return nbytes >= stream_min && (!random || threads >= STREAM_RANDOM_THREADS);
}

uint64_t fi_set_stream_min(uint64_t nbytes)
{
    uint64_t old = stream_min;
    stream_min = nbytes;
    return old;
}

void fi_fill_contig(int dist, int dtype, const fi_stream *s, const fi_params *p,
                    void *dst, uint64_t start, uint64_t n, int stream)
{
    prefault(dst, (size_t)n * fi_itemsize(dtype));
    fi_active_contig(dist, dtype, s, p, dst, start, (size_t)n, stream);
}

static void fill_bits_plain(void *dst, size_t itemsize, uint64_t bits, size_t n)
{
    switch (itemsize) {
    case 1: memset(dst, (int)(uint8_t)bits, n); break;
    case 2: { uint16_t *d = dst, v = (uint16_t)bits; for (size_t i = 0; i < n; i++) d[i] = v; break; }
    case 4: { uint32_t *d = dst, v = (uint32_t)bits; for (size_t i = 0; i < n; i++) d[i] = v; break; }
    default: { uint64_t *d = dst; for (size_t i = 0; i < n; i++) d[i] = bits; break; }
    }
}

void fi_fill_bits(void *dst, size_t itemsize, uint64_t bits, size_t n, int stream)
{
    prefault(dst, n * itemsize);
    if (stream && fi_active_stream_fill) {
        FI_ALIGN64 unsigned char line[4096];        /* a multiple of every item size */
        fill_bits_plain(line, itemsize, bits, sizeof line / itemsize);
        fi_active_stream_fill(dst, line, sizeof line, n * itemsize);
        return;
    }
    fill_bits_plain(dst, itemsize, bits, n);
}

/* Copy n values to the strided output, value `start` first, walking C order. */
static void scatter(const char *src, uint64_t n, size_t es, const fi_out *o, uint64_t start)
{
    int64_t idx[FI_MAXDIM];
    int last = o->ndim - 1;
    uint64_t rem = start;
    for (int d = last; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (uint64_t)o->shape[d]);
        rem /= (uint64_t)o->shape[d];
    }
    while (n > 0) {
        char *p = o->data;
        for (int d = 0; d <= last; d++) p += idx[d] * o->strides[d];
        uint64_t run = (uint64_t)(o->shape[last] - idx[last]);
        if (run > n) run = n;
        const int64_t st = o->strides[last];
        switch (es) {
        case 2: for (uint64_t j = 0; j < run; j++, p += st, src += 2) memcpy(p, src, 2); break;
        case 4: for (uint64_t j = 0; j < run; j++, p += st, src += 4) memcpy(p, src, 4); break;
        case 8: for (uint64_t j = 0; j < run; j++, p += st, src += 8) memcpy(p, src, 8); break;
        default: for (uint64_t j = 0; j < run; j++, p += st, src += 1) *p = *src; break;
        }
        n -= run;
        idx[last] += (int64_t)run;
        for (int d = last; d > 0 && idx[d] == o->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

void fi_fill_strided(int dist, int dtype, const fi_stream *s, const fi_params *p,
                     const fi_out *o, uint64_t start, uint64_t n)
{
    const size_t es = fi_itemsize(dtype);
    if (o->contiguous) {
        fi_active_contig(dist, dtype, s, p, o->data + start * es, start, (size_t)n, 0);
        return;
    }
    if (o->ndim == 0) {     /* a 0-d view: one value */
        FI_ALIGN64 char one[8];
        fi_active_contig(dist, dtype, s, p, one, start, 1, 0);
        memcpy(o->data, one, es);
        return;
    }
    FI_ALIGN64 char buf[FI_BATCH_GROUPS * 64 * 4];
    const uint64_t cap = sizeof buf / es;
    while (n > 0) {
        uint64_t k = n < cap ? n : cap;
        fi_active_contig(dist, dtype, s, p, buf, start, (size_t)k, 0);
        scatter(buf, k, es, o, start);
        start += k;
        n -= k;
    }
}

/* ---- blocks of a logical array ---------------------------------------------------------- */

/* Where block element idx[] goes in o. */
static char *block_dst(const fi_out *o, const int64_t *idx)
{
    char *d = o->data;
    for (int k = 0; k < o->ndim; k++) d += idx[k] * o->strides[k];
    return d;
}

void fi_fill_block(int dist, int dtype, const fi_stream *s, const fi_params *p,
                   const fi_out *o, const fi_block *b, uint64_t start, uint64_t n, int stream)
{
    const size_t es = fi_itemsize(dtype);
    const int last = b->ndim - 1;
    int64_t idx[FI_MAXDIM];
    uint64_t rem = start;
    for (int d = last; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (uint64_t)b->count[d]);
        rem /= (uint64_t)b->count[d];
    }
    FI_ALIGN64 char stage[FI_BATCH_GROUPS * 64 * 8];
    const uint64_t cap = sizeof stage / es;
    const int64_t step = b->step[last], ost = o->strides[last];
    const uint64_t astep = (uint64_t)(step < 0 ? -step : step);
    while (n > 0) {
        /* The rest of this row of the block: run values at flat base + j*step. */
        uint64_t base = 0;
        for (int d = 0; d < last; d++)
            base += (uint64_t)(b->start[d] + idx[d] * b->step[d]) * b->stride[d];
        base += (uint64_t)(b->start[last] + idx[last] * step);
        uint64_t run = (uint64_t)(b->count[last] - idx[last]);
        if (run > n) run = n;
        char *dst = block_dst(o, idx);
        if (step == 1 && ost == (int64_t)es) {
            fi_fill_contig(dist, dtype, s, p, dst, base, run, stream);
        } else {
            /* Pieces whose span fits the stage: the span generated, every step-th value
             * kept. A step wider than the stage makes one value per piece. */
            uint64_t per = astep > cap ? 1 : (cap - 1) / astep + 1;
            for (uint64_t j = 0; j < run; j += per) {
                uint64_t m = run - j < per ? run - j : per;
                uint64_t first = step >= 0 ? base + j * astep : base - (j + m - 1) * astep;
                uint64_t span = (m - 1) * astep + 1;
                fi_fill_contig(dist, dtype, s, p, stage, first, span, 0);
                for (uint64_t q = 0; q < m; q++) {
                    uint64_t at = step >= 0 ? q * astep : (m - 1 - q) * astep;
                    memcpy(dst + (int64_t)(j + q) * ost, stage + at * es, es);
                }
            }
        }
        n -= run;
        idx[last] += (int64_t)run;
        for (int d = last; d > 0 && idx[d] == b->count[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}
