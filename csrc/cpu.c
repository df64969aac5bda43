/* cpu.c -- feature detection by CPUID and XGETBV (portable.h gives both on every compiler).
 * An instruction set counts only if the CPU has it AND the operating system saves the
 * registers it uses across context switches (XCR0), as the compilers' own
 * __builtin_cpu_supports would check. */
#include "cpu.h"
#include "portable.h"

#ifdef FI_X86
static int bit(uint32_t reg, int n) { return (reg >> n) & 1; }

static unsigned detect(void)
{
    uint32_t r1[4], r7[4], r71[4];
    unsigned f = 0;
    fi_cpuid(0, 0, r1);
    uint32_t max_leaf = r1[0];
    /* "AuthenticAMD" in ebx, edx, ecx ("Auth", "enti", "cAMD") */
    int amd = r1[1] == 0x68747541u && r1[3] == 0x69746e65u && r1[2] == 0x444d4163u;
    if (max_leaf < 7) return 0;
    fi_cpuid(1, 0, r1);
    fi_cpuid(7, 0, r7);
    if (r7[0] >= 1) fi_cpuid(7, 1, r71);                   /* eax of 7.0: last subleaf */
    else r71[0] = r71[1] = r71[2] = r71[3] = 0;
    /* ecx of leaf 1: 27 OSXSAVE, 28 AVX, 29 F16C */
    if (!bit(r1[2], 27) || !bit(r1[2], 28)) return 0;
    uint64_t xcr0 = fi_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0;                      /* XMM and YMM state */
    if (bit(r1[2], 29) && bit(r7[1], 5)) f |= FI_CPU_AVX2;  /* ebx of leaf 7: 5 AVX2 */
    /* eax of leaf 1: family in bits 8-11, plus bits 20-27 when those say 0xF; Zen 3 is 0x19 */
    uint32_t family = (r1[0] >> 8) & 0xF;
    if (family == 0xF) family += (r1[0] >> 20) & 0xFF;
    if (amd && family >= 0x19) f |= FI_CPU_FAST_MULLD;
    /* XCR0 bits 5-7: opmask, upper ZMM0-15, ZMM16-31. macOS turns them on only at a
     * thread's first AVX-512 instruction, and saves the state from then on, so there the
     * CPU's word is enough (as LLVM's host detection reasons). */
#ifdef __APPLE__
    int zmm_state = 1;
#else
    int zmm_state = (xcr0 & 0xe0) == 0xe0;
#endif
    /* ebx of leaf 7: 16 F, 17 DQ, 30 BW, 31 VL */
    if ((f & FI_CPU_AVX2) && zmm_state && bit(r7[1], 16) && bit(r7[1], 17)
        && bit(r7[1], 30) && bit(r7[1], 31)) {
        f |= FI_CPU_AVX512;
        if (bit(r7[2], 1) && bit(r7[2], 6)) f |= FI_CPU_AVX512_VBMI;   /* ecx: VBMI, VBMI2 */
        if (bit(r71[0], 5)) f |= FI_CPU_AVX512_BF16;                    /* eax of 7.1 */
    }
    return f;
}
#endif

unsigned fi_cpu_features(void)
{
#ifdef FI_X86
    /* Read once: bit 31 marks the word as read. Two threads racing here both store the
     * same value, and an atomic word is never seen half written. */
    static volatile uint64_t word;
    uint64_t w = fi_atomic_load64(&word);
    if (!(w >> 31)) {
        w = detect() | (1u << 31);
        fi_atomic_store64(&word, w);
    }
    return (unsigned)(w & 0x7fffffffu);
#else
    return 0;
#endif
}
