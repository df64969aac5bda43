/* kernels_avx512vbmi.c -- kernels_avx512.c once more, for CPUs with AVX512_VBMI and
 * AVX512_VBMI2: its ziggurat looks up the layers' tables by byte shuffles (vpermi2b), 64 at
 * a time, where the plain AVX-512 build gathers them, and lists rejected draws 32 at a time
 * by word compression (vpcompressw). The bits are the same. */
#define FI_AVX512_VBMI 1
#include "kernels_avx512.c"
