/* kernels_avx2_mulld.c -- kernels_avx2.c once more, with Philox's low products made by
 * vpmulld (simd/ops_avx2.h says why), for the CPUs where that is cheap (cpu.h's
 * FI_CPU_FAST_MULLD; dispatch.c chooses). The bits are the same. */
#define FI_AVX2_MULLD 1
#include "kernels_avx2.c"
