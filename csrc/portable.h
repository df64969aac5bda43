/*
 * portable.h -- every difference between the compilers fastinit builds with, in one place:
 * gcc, clang (Apple's too, and clang-cl) and MSVC. The rest of csrc/ writes plain C11 plus
 * these macros, and never tests a compiler itself. Operating-system differences (threads,
 * memory mapping) stay in the one unit that needs them: pool.c, fills.c's prefault.
 */
#ifndef FASTINIT_PORTABLE_H
#define FASTINIT_PORTABLE_H

#include <stdint.h>

/* ---- the target ------------------------------------------------------------------- */

#if defined(__x86_64__) || defined(_M_X64)
#define FI_X86 1
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define FI_ARM64 1
#endif

/* MSVC proper: clang-cl also defines _MSC_VER, but speaks gcc's attributes and builtins. */
#if defined(_MSC_VER) && !defined(__clang__)
#define FI_MSVC 1
#include <intrin.h>
#endif

/* ---- attributes --------------------------------------------------------------------- */

#ifdef FI_MSVC
#define FI_ALIGNED(n) __declspec(align(n))           /* a type's or an object's alignment */
#define FI_FORCE_INLINE static __forceinline
#define FI_MAYBE_UNUSED
#else
#define FI_ALIGNED(n) __attribute__((aligned(n)))
#define FI_FORCE_INLINE static inline __attribute__((always_inline))
#define FI_MAYBE_UNUSED __attribute__((unused))
#endif
#define FI_ALIGN64 FI_ALIGNED(64)

/* ---- instruction sets for one file -------------------------------------------------
 * A kernel file is compiled for an instruction set the build's flags do not enable, and run
 * only where the CPU has it (cpu.c). Between FI_TARGET_BEGIN(...) and FI_TARGET_END every
 * function gets that target: gcc by its target pragma, clang by applying the target
 * attribute to each function (clang ignores gcc's pragma). MSVC needs nothing: its
 * intrinsics compile anywhere. Include every header before FI_TARGET_BEGIN, so no library
 * function is redeclared with a target. */
#define FI_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define FI_TARGET_BEGIN(isa) \
    FI_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define FI_TARGET_END FI_PRAGMA(clang attribute pop)
#elif defined(__GNUC__)
#define FI_TARGET_BEGIN(isa) FI_PRAGMA(GCC push_options) FI_PRAGMA(GCC target(isa))
#define FI_TARGET_END FI_PRAGMA(GCC pop_options)
#else
#define FI_TARGET_BEGIN(isa)
#define FI_TARGET_END
#endif

/* Unroll the next loop fully (n iterations); a hint only. */
#if defined(__clang__)
#define FI_UNROLL(n) FI_PRAGMA(unroll n)
#elif defined(__GNUC__)
#define FI_UNROLL(n) FI_PRAGMA(GCC unroll n)
#else
#define FI_UNROLL(n)
#endif

/* No loop auto-vectorization for the rest of this file (a hint only): gcc 12's vectorizer
 * crashes on tests/c/simd_ref.c's array "vectors"; clang and MSVC need nothing. */
#if defined(__GNUC__) && !defined(__clang__)
#define FI_NO_AUTOVECTORIZE FI_PRAGMA(GCC optimize("no-tree-vectorize"))
#else
#define FI_NO_AUTOVECTORIZE
#endif

/* ---- bits --------------------------------------------------------------------------- */

static inline int fi_popcount32(uint32_t x)
{
#ifdef FI_MSVC
    /* No builtin on every MSVC target; this is a few operations, where it is used
     * (once per 16 or 32 values). */
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (int)((((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
#else
    return __builtin_popcount(x);
#endif
}

/* ---- atomics ---------------------------------------------------------------------------
 * The few the engine needs: a lock around the interval-table cache, and the thread pool's
 * chunk counter and job number. Acquire/release order, as C11's. */

typedef volatile long fi_spinlock;

#ifdef FI_MSVC
/* Whether the lock was free (and is now taken). */
static inline int fi_spin_trylock(fi_spinlock *l) { return *l == 0 && !_InterlockedExchange(l, 1); }
static inline void fi_spin_unlock(fi_spinlock *l) { _InterlockedExchange(l, 0); }
static inline uint64_t fi_atomic_fetch_add64(volatile uint64_t *p, uint64_t v)
{
    return (uint64_t)_InterlockedExchangeAdd64((volatile long long *)p, (long long)v);
}
/* An aligned 64-bit load is atomic on x64 and ARM64, and MSVC's volatile reads there are
 * acquire loads (/volatile:ms, the default); no locked instruction, as pollers call it. */
static inline uint64_t fi_atomic_load64(const volatile uint64_t *p)
{
    uint64_t v = *p;
    _ReadWriteBarrier();
    return v;
}
static inline void fi_atomic_store64(volatile uint64_t *p, uint64_t v)
{
    _InterlockedExchange64((volatile long long *)p, (long long)v);
}
#else
static inline int fi_spin_trylock(fi_spinlock *l)
{
    return __atomic_load_n(l, __ATOMIC_RELAXED) == 0 && !__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE);
}
static inline void fi_spin_unlock(fi_spinlock *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }
static inline uint64_t fi_atomic_fetch_add64(volatile uint64_t *p, uint64_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL);
}
static inline uint64_t fi_atomic_load64(const volatile uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void fi_atomic_store64(volatile uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
#endif

/* A pause inside a spin-wait: it lets the other hyperthread run and saves power. */
static inline void fi_cpu_relax(void)
{
#if defined(FI_MSVC) && defined(FI_X86)
    _mm_pause();
#elif defined(FI_MSVC) && defined(FI_ARM64)
    __yield();
#elif defined(FI_X86)
    __asm__ __volatile__("pause");
#elif defined(FI_ARM64)
    __asm__ __volatile__("yield");
#endif
}

/* ---- CPUID ---------------------------------------------------------------------------- */

#ifdef FI_X86
/* regs = eax, ebx, ecx, edx of CPUID(leaf, subleaf). */
static inline void fi_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4])
{
#ifdef FI_MSVC
    int r[4];
    __cpuidex(r, (int)leaf, (int)subleaf);
    for (int i = 0; i < 4; i++) regs[i] = (uint32_t)r[i];
#else
    __asm__ __volatile__("cpuid" : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                         : "a"(leaf), "c"(subleaf));
#endif
}

/* XCR0: which register states the operating system saves, so may be used. Only call it
 * where CPUID reports OSXSAVE. */
static inline uint64_t fi_xgetbv0(void)
{
#ifdef FI_MSVC
    return _xgetbv(0);
#else
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#endif
}
#endif

#endif
