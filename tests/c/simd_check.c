/*
 * simd_check.c -- every SIMD path this CPU runs against the scalar one, byte for byte,
 * from plain C (no Python), so that it also runs where only an emulator runs the path:
 * tests/test_c_simd.py builds it natively and cross-compiled for AArch64 under qemu.
 * It also fills through the thread pool (csrc/pool.c) and prints a digest of the scalar
 * path's bytes, which the tests compare across compilers (gcc, clang, MinGW under wine).
 * Exit status 0 only if every fill agrees and at least one path besides scalar was checked
 * (or, with --no-simd, where no path besides scalar exists, such as under wine).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fastinit.h"
#include "params.h"
#include "philox.h"
#include "pool.h"
#include "ziggurat_tables.h"

/* tests/c/simd_ref.c: the generic SIMD algorithms over the plain-C op set. */
void fi_fill_contig_ref(int dist, int dtype, const fi_stream *s, const fi_params *p, void *dst,
                        uint64_t start, size_t n, int stream);

/* The paths, and one more: the AVX2 path's vpmulld build (kernels_avx2_mulld.c), which
 * CPUID picks on some CPUs only and is checked here on every one that runs AVX2. */
#define AVX2_MULLD FI_NSIMD
static const char *const simd_names[FI_NSIMD + 1] = {"scalar", "avx2", "avx512", "avx512vbmi", "neon",
                                                     "avx2 (vpmulld build)"};
static void set_level(int l)
{
    fi_simd_set_avx2_mulld(l == AVX2_MULLD);
    fi_simd_set(l == AVX2_MULLD ? FI_SIMD_AVX2 : l);
}
static const char *const dtype_names[FI_NDTYPES] = {"float16", "bfloat16", "float32", "float64", "uint8"};

typedef struct {
    char label[96];
    int dist, dtype;
    fi_params p;
} fill_case;

#define MAX_CASES 128
static fill_case cases[MAX_CASES];
static int ncases, failures;

static void add_case(int err, const char *label, int dist, int dtype, const fi_params *p)
{
    if (err != FI_OK) {
        printf("FAIL parameters of %s %s: error %d\n", label, dtype_names[dtype], err);
        failures++;
        return;
    }
    fill_case *c = &cases[ncases++];
    snprintf(c->label, sizeof c->label, "%s %s", label, dtype_names[dtype]);
    c->dist = dist;
    c->dtype = dtype;
    c->p = *p;
}

static void build_cases(void)
{
    static const struct { double low, high; } uni[] = {{0, 1}, {-3, 5}, {-1e-3, 2.5e-3}};
    static const struct { double low, high; const char *name; } tn[] = {
        {-2, 2, "(-2,2)"}, {5, 6, "(5,6)"}, {3, INFINITY, "(3,inf)"},
        {-1e-3, 1e-3, "(-1e-3,1e-3)"}, {0, INFINITY, "(0,inf)"}, {-INFINITY, -8, "(-inf,-8)"},
        {-0.5, 3, "(-0.5,3)"},
        /* The two-word proposals (simd/truncnorm2.inc.h) but for float64's normal ones:
         * uniform on a narrow mirrored interval (alpha > 0), Robert's exponential past
         * alpha = 256, where no ziggurat is built, one-sided and mirrored with a finite beta. */
        {-0.02, -0.01, "(-0.02,-0.01)"}, {300, INFINITY, "(300,inf)"}, {-301, -300, "(-301,-300)"},
        /* The half-normal mirrored (no truncated ziggurat: alpha0 = 0). */
        {-INFINITY, 0, "(-inf,0)"},
    };
    /* The widest ranges: high - low overflows the kernels' arithmetic but for float16. */
    static const double wide[] = {65504, 0x1.fep127, 3e38, 1e308};
    char label[64];
    fi_params p;
    for (int dt = FI_F16; dt <= FI_F64; dt++) {
        for (size_t i = 0; i < sizeof uni / sizeof *uni; i++) {
            snprintf(label, sizeof label, "uniform(%g,%g)", uni[i].low, uni[i].high);
            add_case(fi_uniform_params(dt, uni[i].low, uni[i].high, &p), label, FI_UNIFORM, dt, &p);
        }
        snprintf(label, sizeof label, "uniform(-%g,%g)", wide[dt], wide[dt]);
        add_case(fi_uniform_params(dt, -wide[dt], wide[dt], &p), label, FI_UNIFORM, dt, &p);
        add_case(fi_normal_params(dt, 0, 1, &p), "normal(0,1)", FI_NORMAL, dt, &p);
        add_case(fi_normal_params(dt, 0.5, 0.02, &p), "normal(0.5,0.02)", FI_NORMAL, dt, &p);
        for (size_t i = 0; i < sizeof tn / sizeof *tn; i++) {
            snprintf(label, sizeof label, "truncnorm%s", tn[i].name);
            add_case(fi_truncnorm_params(dt, 0, 1, tn[i].low, tn[i].high, 200, &p), label,
                     FI_TRUNCNORM, dt, &p);
        }
        /* One attempt only: most values take the exact fallback. */
        add_case(fi_truncnorm_params(dt, 0, 1, -2, 2, 1, &p), "truncnorm(-2,2) 1 attempt",
                 FI_TRUNCNORM, dt, &p);
        /* Two and three: the vector finish stops at the limit (an interval that rejects a
         * third of the normal's draws, so that chains of proposals are common). Not float64,
         * whose uniform proposal leaves a tenth of the values to the exact fallback, whose
         * libm erfc differs in its last bits between x86-64 and AArch64 glibc (the digest). */
        for (uint32_t att = 2; att <= 3 && dt != FI_F64; att++) {
            snprintf(label, sizeof label, "truncnorm(-0.3,1.5) %u attempts", att);
            add_case(fi_truncnorm_params(dt, 0, 1, -0.3, 1.5, att, &p), label, FI_TRUNCNORM, dt, &p);
        }
        /* The affine step in float or double, and a mirrored tail with a mean. */
        add_case(fi_truncnorm_params(dt, 0.5, 0.02, 0.47, 0.56, 200, &p), "truncnorm(0.5,0.02;0.47,0.56)",
                 FI_TRUNCNORM, dt, &p);
        add_case(fi_truncnorm_params(dt, 0, 0.25, -0.5, 0.5, 200, &p), "truncnorm(0,0.25;-0.5,0.5)",
                 FI_TRUNCNORM, dt, &p);
        add_case(fi_truncnorm_params(dt, 1, 2, -9, -3, 200, &p), "truncnorm(1,2;-9,-3)",
                 FI_TRUNCNORM, dt, &p);
        /* Robert's exponential with the affine step and clamps acting. */
        add_case(fi_truncnorm_params(dt, 1, 0.01, -2, -1.99, 200, &p), "truncnorm(1,0.01;-2,-1.99)",
                 FI_TRUNCNORM, dt, &p);
    }
    /* Bernoulli masks in every dtype, and p = 0 and 1 (all words below 2**32). */
    for (int dt = FI_F16; dt <= FI_U8; dt++)
        add_case(fi_bernoulli_params(0.3, &p), "bernoulli(0.3)", FI_BERNOULLI, dt, &p);
    add_case(fi_bernoulli_params(1.0, &p), "bernoulli(1)", FI_BERNOULLI, FI_F32, &p);
    add_case(fi_bernoulli_params(0.0, &p), "bernoulli(0)", FI_BERNOULLI, FI_BF16, &p);
}

/* Random123's known answers, and the C++26 std::philox4x32 anchor (its 10000th output is
 * word 3 of block 2499 under key (20111115, 0)). */
static int check_philox(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    int ok = 0;
    uint32_t out[4];
    for (int i = 0; i < 3; i++) {
        philox4x32(kat[i], kat[i] + 4, out);
        if (memcmp(out, kat[i] + 6, sizeof out) == 0) ok++;
        else printf("FAIL Philox known answer %d\n", i);
    }
    const uint32_t ctr[4] = {2499, 0, 0, 0}, key[2] = {20111115, 0};
    philox4x32(ctr, key, out);
    if (out[3] == 1955073260u) ok++;
    else printf("FAIL std::philox4x32 anchor: %u\n", out[3]);
    return ok;
}

/* simd/fused64.inc.h flags the float64 normal's rejects by the float32 table, which needs
 * k32 = k64 >> 29 in every layer. */
static int check_zig_tables(void)
{
    int bad = 0;
    for (int i = 0; i < 256; i++)
        if (fi_zig_normal.k32[i] != (uint32_t)(fi_zig_normal.k64[i] >> 29)) {
            printf("FAIL layer %d: k32 = %u, k64 >> 29 = %llu\n", i, fi_zig_normal.k32[i],
                   (unsigned long long)(fi_zig_normal.k64[i] >> 29));
            bad++;
        }
    return bad;
}

/* Draws near the wrap of the low counter word, float32 and float64: the main-stream groups
 * and the retry blocks (block, 1, slot) of the values after the wrap carry into the high
 * word, which the vector code computes as an unsigned compare: the normal's rejected draws
 * (their settles), and the truncated normal's two-word proposals (simd/truncnorm2.inc.h: a
 * wide value's u2 from its retry block, made for every value; uniform either side,
 * exponential, normal and half-normal). The uniform's [3, 3.1] accepts about 85% of its
 * proposals, so a wrong u2 shows (a wrong carry in tn2_retry_slots differs in 29 of its 32
 * float64 fills); where nearly every proposal is accepted ([-0.1, 0.1], the exponential's far
 * tail) it hides. Each fill starts its first batch 16*j + 8 blocks before a wrap, j = 0..31. */
static int check_retry_wrap(int nlevels, const int *levels, unsigned char *ref, unsigned char *got)
{
    static const struct { int dist; double lo, hi; } cases[] = {
        {FI_NORMAL, 0, 0}, {FI_TRUNCNORM, 3, 3.1}, {FI_TRUNCNORM, -3.1, -3},
        {FI_TRUNCNORM, 300, INFINITY}, {FI_TRUNCNORM, -0.5, 2}, {FI_TRUNCNORM, 2, 2.5}};
    const size_t n = 4096;
    int bad = 0, fills = 0;
    fi_params p;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
    for (int dt = FI_F32; dt <= FI_F64; dt++) {
        const int dist = cases[c].dist;
        if (dist == FI_NORMAL) fi_normal_params(dt, 0, 1, &p);
        else fi_truncnorm_params(dt, 0, 1, cases[c].lo, cases[c].hi, 100, &p);
        for (uint32_t j = 0; j < 32; j++) {
            const fi_stream s = {{0x3c6ef372u + j, 0xa54ff53au}, ((uint64_t)(j + 1) << 32) - 16 * j - 8};
            const size_t bytes = n * fi_itemsize(dt);
            fi_simd_set(FI_SIMD_SCALAR);
            fi_fill_contig(dist, dt, &s, &p, ref, 0, n, 0);
            memset(got, 0x5a, bytes);
            fi_fill_contig_ref(dist, dt, &s, &p, got, 0, n, 0);
            bad += memcmp(ref, got, bytes) != 0;
            fills++;
            for (int li = 0; li < nlevels; li++) {
                memset(got, 0x5a, bytes);
                set_level(levels[li]);
                fi_fill_contig(dist, dt, &s, &p, got, 0, n, 1);
                bad += memcmp(ref, got, bytes) != 0;
                fills++;
            }
        }
    }
    fi_simd_set_avx2_mulld(-1);
    fi_simd_set(fi_simd_best());
    printf("normal and truncated normal draws near the counter's 2**32 wrap: %d fills: %d "
           "differ\n", fills, bad);
    return bad;
}

/* FNV-1a, 64-bit: a digest of bytes, to compare builds. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

typedef struct {
    const fill_case *fc;
    const fi_stream *s;
    unsigned char *out;
    size_t chunk, n;
    int stream;
} pool_job;

static void pool_chunk(void *ctx, uint64_t i)
{
    const pool_job *j = ctx;
    size_t start = (size_t)i * j->chunk, m = j->n - start < j->chunk ? j->n - start : j->chunk;
    fi_fill_contig(j->fc->dist, j->fc->dtype, j->s, &j->fc->p,
                   j->out + start * fi_itemsize(j->fc->dtype), start, m, j->stream);
}

/* Every case filled through the pool (3 threads, uneven chunks) equals one call on this
 * thread; twice, so the second job runs on workers left from the first, and streams. */
static int check_pool(unsigned char *ref, unsigned char *got, size_t n)
{
    static const fi_stream s = {{0x2545f491u, 0x4f6cdd1du}, 77};
    int bad = 0;
    for (int round = 0; round < 2; round++)
        for (int c = 0; c < ncases; c++) {
            const size_t es = fi_itemsize(cases[c].dtype);
            pool_job j = {&cases[c], &s, got, 4096 + 64 * (size_t)c, n, round};
            fi_fill_contig(cases[c].dist, cases[c].dtype, &s, &cases[c].p, ref, 0, n, 0);
            memset(got, 0x5a, n * es);
            fi_pool_run(3, (n + j.chunk - 1) / j.chunk, pool_chunk, &j);
            if (memcmp(ref, got, n * es) != 0) {
                printf("FAIL thread pool: %s\n", cases[c].label);
                bad++;
            }
        }
    printf("thread pool: %d workers, %d cases twice: %d differ\n", fi_pool_workers(), ncases, bad);
    return bad;
}

/* One fill on the path in use into dst (n values, then a guard of 64 values of 0xa5 bytes),
 * checked against ref's: the first value that differs, or -1. */
static long fill_diff(const fill_case *fc, const fi_stream *s, uint64_t start, size_t n,
                      int stream, const unsigned char *ref, unsigned char *dst)
{
    const size_t es = fi_itemsize(fc->dtype);
    memset(dst, 0xa5 ^ 0xff, n * es);
    memset(dst + n * es, 0xa5, 64 * es);
    fi_fill_contig(fc->dist, fc->dtype, s, &fc->p, dst, start, n, stream);
    if (memcmp(ref, dst, (n + 64) * es) == 0) return -1;
    size_t k = 0;
    while (ref[k] == dst[k]) k++;
    return (long)(k / es);
}

/* A digest of every case's scalar bytes (one stream, 100003 values): equal digests from two
 * builds mean they write the same bits. */
static uint64_t digest(unsigned char *buf)
{
    static const fi_stream s = {{0xa4093822u, 0x299f31d0u}, 0x243f6a8885a308d0ull};
    uint64_t h = 0xcbf29ce484222325ull;
    fi_simd_set(FI_SIMD_SCALAR);
    for (int c = 0; c < ncases; c++) {
        fi_fill_contig(cases[c].dist, cases[c].dtype, &s, &cases[c].p, buf, 5, 100003, 0);
        h = fnv1a(h, buf, 100003 * fi_itemsize(cases[c].dtype));
    }
    fi_simd_set_avx2_mulld(-1);
    fi_simd_set(fi_simd_best());
    return h;
}

int main(int argc, char **argv)
{
    const int need_simd = !(argc > 1 && strcmp(argv[1], "--no-simd") == 0);
    static const fi_stream streams[] = {
        {{0, 0}, 0},
        {{0x12345678u, 0x9abcdef0u}, 0xfffffffbull},           /* low word wraps in group 0 */
        {{0xdeadbeefu, 0x01234567u}, 0x00000002fffffe48ull},    /* ... and in group 27 */
        {{0xa4093822u, 0x299f31d0u}, 0x243f6a8885a308d0ull},
        /* Value 1286's float64 normal draw has hi >> 9 = k32 of its layer yet lies in the fast
         * region (simd/fused64.inc.h flags it all the same; the settle must leave it alone). */
        {{0x9e3779b9u, 0x7f4a7c15u}, 803392},
    };
    static const size_t sizes[] = {1, 17, 64, 1000, 4097, 100003};
    static const uint64_t starts[] = {0, 37};
    const size_t nmax = 100003 + 64;

    int kat_ok = check_philox();
    failures += 4 - kat_ok;
    printf("Philox known answers: %d of 4\n", kat_ok);

    int levels[FI_NSIMD + 1], nlevels = 0;
    for (int l = 1; l < FI_NSIMD; l++)
        if (fi_simd_supported(l)) levels[nlevels++] = l;
    if (fi_simd_supported(FI_SIMD_AVX2)) levels[nlevels++] = AVX2_MULLD;
    printf("levels compared with scalar:");
    for (int i = 0; i < nlevels; i++) printf(" %s", simd_names[levels[i]]);
    printf("%s\n", nlevels ? "" : " (none)");

    failures += check_zig_tables();
    build_cases();
    unsigned char *ref = malloc(nmax * 8), *got = malloc(nmax * 8), *mis = malloc(nmax * 8 + 256);
    if (!ref || !got || !mis) return 2;
    long fills = 0, mismatches = 0, ref_fills = 0, ref_mismatches = 0;
    unsigned long long values = 0;
    for (int c = 0; c < ncases; c++) {
        const fill_case *fc = &cases[c];
        const size_t es = fi_itemsize(fc->dtype);
        for (size_t si = 0; si < sizeof streams / sizeof *streams; si++)
            for (size_t ni = 0; ni < sizeof sizes / sizeof *sizes; ni++)
                for (size_t oi = 0; oi < sizeof starts / sizeof *starts; oi++) {
                    const size_t n = sizes[ni];
                    /* Different fillers before each fill: a byte left unwritten (or written
                     * past n, into the guard) shows as a difference. */
                    memset(ref, 0xa5, (n + 64) * es);
                    fi_simd_set(FI_SIMD_SCALAR);
                    fi_fill_contig(fc->dist, fc->dtype, &streams[si], &fc->p, ref, starts[oi], n, 0);
                    /* The generic algorithms over ops_scalar.h, called directly. */
                    memset(got, 0xa5 ^ 0xff, n * es);
                    memset(got + n * es, 0xa5, 64 * es);
                    fi_fill_contig_ref(fc->dist, fc->dtype, &streams[si], &fc->p, got, starts[oi], n, 0);
                    ref_fills++;
                    if (memcmp(ref, got, (n + 64) * es) != 0) {
                        size_t k = 0;
                        while (ref[k] == got[k]) k++;
                        if (ref_mismatches++ < 20)
                            printf("FAIL ops_scalar: %s, stream %zu, n=%zu, start=%llu: first "
                                   "difference at value %zu\n", fc->label, si, n,
                                   (unsigned long long)starts[oi], k / es);
                    }
                    /* Every path, writing through the caches and, on x86 (NEON has no
                     * streaming stores), streaming; streamed to an output shifted by a few
                     * values, so that the non-temporal stores start at every alignment. */
                    for (int li = 0; li < nlevels; li++)
                        for (int st = 0; st < (levels[li] == FI_SIMD_NEON ? 1 : 2); st++) {
                            unsigned char *dst = st ? mis + es * (1 + (si + ni + oi) % 16) : got;
                            set_level(levels[li]);
                            const long k = fill_diff(fc, &streams[si], starts[oi], n, st, ref, dst);
                            fills++;
                            values += n;
                            if (k >= 0 && mismatches++ < 20)
                                printf("FAIL %s%s: %s, stream %zu, n=%zu, start=%llu: first "
                                       "difference at value %ld\n", simd_names[levels[li]],
                                       st ? " (streaming)" : "", fc->label, si, n,
                                       (unsigned long long)starts[oi], k);
                        }
                }
    }
    fi_simd_set_avx2_mulld(-1);
    fi_simd_set(fi_simd_best());
    printf("generic SIMD algorithms over ops_scalar.h: %ld fills: %ld differ\n", ref_fills,
           ref_mismatches);
    failures += (int)ref_mismatches;
    failures += check_pool(ref, got, 100003);
    failures += check_retry_wrap(nlevels, levels, ref, got);
    printf("digest of the scalar bytes: %016llx\n", (unsigned long long)digest(ref));
    free(ref);
    free(got);
    free(mis);
    failures += (int)mismatches;
    printf("%d cases, %ld fills, %llu values compared: %ld differ\n", ncases, fills, values,
           mismatches);
    if (nlevels == 0 && need_simd) {
        printf("FAIL no SIMD path besides scalar to compare\n");
        failures++;
    }
    printf("%s\n", failures ? "FAILED" : "OK: every path gives the scalar path's bytes");
    return failures ? 1 : 0;
}
