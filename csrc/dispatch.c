/*
 * dispatch.c -- the SIMD paths: which this CPU runs (cpu.c's feature bits), and the one in
 * use, whose contiguous fill (fi_active_contig) the fills in fills.c call. The best path is
 * not chosen here at load: the Python layer sets it (FASTINIT_SIMD or the best), through
 * fi_simd_set; until then the scalar path, which every build has, is in use.
 */
#include "engine_internal.h"
#include "cpu.h"

static int cpu_level = -1;
fi_contig_fn fi_active_contig = fi_fill_contig_scalar;
fi_stream_fill_fn fi_active_stream_fill = NULL;
static int active_level = FI_SIMD_SCALAR;

static int detect(void)
{
#ifdef FI_X86
    unsigned f = fi_cpu_features();
    if (!(f & FI_CPU_AVX2)) return FI_SIMD_SCALAR;
    if (f & FI_CPU_AVX512)
        return (f & FI_CPU_AVX512_VBMI) ? FI_SIMD_AVX512_VBMI : FI_SIMD_AVX512;
    return FI_SIMD_AVX2;
#elif defined(FI_ARM64)
    return FI_SIMD_NEON;        /* Advanced SIMD is part of every AArch64 CPU */
#else
    return FI_SIMD_SCALAR;
#endif
}

#ifdef FI_X86
int fi_cpu_has_bf16(void) { return (fi_cpu_features() & FI_CPU_AVX512_BF16) != 0; }

/* Which of the AVX2 path's two builds runs (kernels_avx2.c, kernels_avx2_mulld.c): the CPU's
 * choice (-1), or one forced by fi_simd_set_avx2_mulld for the tests of both. */
static int avx2_mulld = -1;
static int avx2_mulld_wanted(void)
{
    return avx2_mulld >= 0 ? avx2_mulld : (fi_cpu_features() & FI_CPU_FAST_MULLD) != 0;
}
#endif

int fi_simd_set_avx2_mulld(int on)
{
#ifdef FI_X86
    int was = avx2_mulld_wanted();
    avx2_mulld = on < 0 ? -1 : on != 0;
    if (active_level == FI_SIMD_AVX2) fi_simd_set(FI_SIMD_AVX2);
    return was;
#else
    (void)on;
    return 0;
#endif
}

int fi_simd_best(void)
{
    if (cpu_level < 0) cpu_level = detect();
    return cpu_level;
}

/* The x86 levels are nested: a CPU that runs one runs those below it. */
int fi_simd_supported(int level)
{
    if (level == FI_SIMD_SCALAR) return 1;
#if defined(FI_X86)
    return level >= FI_SIMD_AVX2 && level <= fi_simd_best();
#elif defined(FI_ARM64)
    return level == FI_SIMD_NEON;
#else
    return 0;
#endif
}

int fi_simd_get(void) { return active_level; }

int fi_simd_set(int level)
{
    if (!fi_simd_supported(level)) return -1;
    fi_active_stream_fill = NULL;
    switch (level) {
#ifdef FI_X86
    case FI_SIMD_AVX512_VBMI:
        fi_active_contig = fi_fill_contig_avx512vbmi;
        fi_active_stream_fill = fi_stream_fill_avx512;
        break;
    case FI_SIMD_AVX512:
        fi_active_contig = fi_fill_contig_avx512;
        fi_active_stream_fill = fi_stream_fill_avx512;
        break;
    case FI_SIMD_AVX2:
        fi_active_contig = avx2_mulld_wanted() ? fi_fill_contig_avx2_mulld : fi_fill_contig_avx2;
        fi_active_stream_fill = fi_stream_fill_avx2;
        break;
#endif
#ifdef FI_ARM64
    case FI_SIMD_NEON: fi_active_contig = fi_fill_contig_neon; break;
#endif
    default: fi_active_contig = fi_fill_contig_scalar; break;
    }
    active_level = level;
    return 0;
}
