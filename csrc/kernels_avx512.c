/* kernels_avx512.c -- the AVX-512 path: the op set of simd/ops_avx512.h (16 lanes) under the
 * generic algorithm files: Philox (simd/philox.inc.h, two groups in flight), the fused
 * 16/32-bit uniform and normal (simd/fused32.inc.h), the fused float64 uniform and normal
 * (simd/fused64.inc.h), Bernoulli masks of every dtype (simd/bernoulli.inc.h) and the
 * truncated normal (simd/truncnorm.inc.h, one word per value; simd/truncnorm2.inc.h, two).
 * Compiled for AVX-512 by the pragma, whatever the build's flags; run only where CPUID says
 * so. kernels_avx512vbmi.c compiles this file again with FI_AVX512_VBMI, for CPUs with
 * AVX512_VBMI and AVX512_VBMI2: there the ziggurat's table lookups are byte shuffles instead
 * of gathers, and rejected draws are listed by word compression (ops_avx512.h). */
#include "portable.h"
#ifdef FI_X86
#include <immintrin.h>
#include "philox.h"
#include "internal.h"
#ifdef FI_AVX512_VBMI
FI_TARGET_BEGIN("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vbmi,avx512vbmi2,avx2,f16c")
#define FI_CONTIG_NAME fi_fill_contig_avx512vbmi
#else
FI_TARGET_BEGIN("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,f16c")
#define FI_CONTIG_NAME fi_fill_contig_avx512
#define FI_STREAM_FILL_NAME fi_stream_fill_avx512
#endif

#include "simd/ops_avx512.h"
/* Two groups (four chains of 8 blocks in the round layout) in flight. */
#define FI_PHILOX_GROUPS 2
#include "simd/philox.inc.h"
#include "simd/vmath.inc.h"
#define FI_EMIT_UNROLL 16       /* fused32.inc.h: a set of groups fits the 32 registers */
#include "simd/fused32.inc.h"
#include "simd/retry.inc.h"
#include "simd/fused64.inc.h"
#include "simd/bernoulli.inc.h"
#include "simd/truncnorm2.inc.h"
#include "simd/truncnorm.inc.h"

#include "kernels.inc.h"
FI_TARGET_END
#endif
