/* kernels_avx2.c -- the AVX2 path: the op set of simd/ops_avx2.h (8 lanes) under the generic
 * algorithm files: Philox (simd/philox.inc.h), the fused 16/32-bit uniform and normal
 * (simd/fused32.inc.h), the fused float64 uniform and normal (simd/fused64.inc.h), Bernoulli
 * masks of every dtype (simd/bernoulli.inc.h) and the one-word truncated normal
 * (simd/truncnorm.inc.h) and its two-word cases (simd/truncnorm2.inc.h). Compiled for AVX2 by FI_TARGET_BEGIN, whatever the build's
 * flags; run only where CPUID says so. */
#include "portable.h"
#ifdef FI_X86
#include <immintrin.h>
#include "philox.h"
#include "internal.h"
FI_TARGET_BEGIN("avx2,f16c")

#include "simd/ops_avx2.h"
/* Two groups (four chains of 8 blocks) in flight: 10-15% faster than one on Sapphire
 * Rapids, though the 16 registers then spill a little. */
#define FI_PHILOX_GROUPS 2
#include "simd/philox.inc.h"
#include "simd/vmath.inc.h"
#include "simd/fused32.inc.h"
#include "simd/retry.inc.h"
#include "simd/fused64.inc.h"
#include "simd/bernoulli.inc.h"
#include "simd/truncnorm2.inc.h"
#include "simd/truncnorm.inc.h"

#ifdef FI_AVX2_MULLD
#define FI_CONTIG_NAME fi_fill_contig_avx2_mulld
#else
#define FI_CONTIG_NAME fi_fill_contig_avx2
#define FI_STREAM_FILL_NAME fi_stream_fill_avx2
#endif
#include "kernels.inc.h"
FI_TARGET_END
#endif
