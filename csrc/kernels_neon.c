/* kernels_neon.c -- the AArch64 Advanced SIMD path: the op set of simd/ops_neon.h (4 lanes)
 * under the generic algorithm files: Philox (simd/philox.inc.h), the fused 16/32-bit uniform
 * and normal (simd/fused32.inc.h), the fused float64 uniform and normal (simd/fused64.inc.h),
 * Bernoulli masks of every dtype (simd/bernoulli.inc.h) and the one-word truncated normal
 * (simd/truncnorm.inc.h) and its two-word cases (simd/truncnorm2.inc.h). Advanced SIMD is part of every AArch64 CPU,
 * so no target and no feature test. */
#include "portable.h"
#ifdef FI_ARM64
#include <arm_neon.h>
#include "philox.h"
#include "internal.h"

#include "simd/ops_neon.h"
/* One group is four chains of 4 blocks, which the 32 registers hold with room to spare. */
#define FI_PHILOX_GROUPS 1
#include "simd/philox.inc.h"
#include "simd/vmath.inc.h"
#include "simd/fused32.inc.h"
#include "simd/retry.inc.h"
#include "simd/fused64.inc.h"
#include "simd/bernoulli.inc.h"
#include "simd/truncnorm2.inc.h"
#include "simd/truncnorm.inc.h"

#define FI_CONTIG_NAME fi_fill_contig_neon
#include "kernels.inc.h"
#endif
