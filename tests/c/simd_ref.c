/*
 * simd_ref.c -- the generic SIMD algorithm files (csrc/simd/philox.inc.h, vmath.inc.h,
 * fused32.inc.h, fused64.inc.h, bernoulli.inc.h, truncnorm2.inc.h, truncnorm.inc.h) compiled over the plain-C
 * op set, csrc/simd/ops_scalar.h, as fi_fill_contig_ref. simd_check.c compares it with the
 * scalar path on every build (gcc, clang, qemu AArch64, MinGW), so the
 * algorithms and the reference ops are checked on any machine, whatever vector unit it has.
 */
#include "philox.h"
#include "internal.h"

/* gcc 12's loop vectorizer crashes on finish_rejected32 over these array "vectors" (an
 * internal compiler error); the reference needs no speed. */
FI_NO_AUTOVECTORIZE

#include "simd/ops_scalar.h"
#define FI_PHILOX_GROUPS 2
#include "simd/philox.inc.h"
#include "simd/vmath.inc.h"
#include "simd/fused32.inc.h"
#include "simd/retry.inc.h"
#include "simd/fused64.inc.h"
#include "simd/bernoulli.inc.h"
#include "simd/truncnorm2.inc.h"
#include "simd/truncnorm.inc.h"

#define FI_CONTIG_NAME fi_fill_contig_ref
#include "kernels.inc.h"
