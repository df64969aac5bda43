/* cpu.h -- what the CPU and the operating system let fastinit use, read once. */
#ifndef FASTINIT_CPU_H
#define FASTINIT_CPU_H

enum fi_cpu_feature {
    FI_CPU_AVX2 = 1 << 0,           /* AVX2 and F16C, with the OS saving YMM state */
    FI_CPU_AVX512 = 1 << 1,         /* AVX512 F, BW, DQ and VL, with the OS saving ZMM state */
    FI_CPU_AVX512_VBMI = 1 << 2,    /* AVX512_VBMI and AVX512_VBMI2 */
    FI_CPU_AVX512_BF16 = 1 << 3,
    /* vpmulld (32-bit low products) as cheap as vpmuludq: one micro-op of 3 cycles on AMD
     * Zen 3 and later, where Intel's cores split it in two of 10 (simd/ops_avx2.h) */
    FI_CPU_FAST_MULLD = 1 << 4
};

/* The fi_cpu_feature bits this machine has (0 off x86). */
unsigned fi_cpu_features(void);

#endif
