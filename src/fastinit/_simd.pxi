# ---- SIMD paths -----------------------------------------------------------------------

SIMD_PATHS = ("scalar", "avx2", "avx512", "avx512vbmi", "neon")


def available_simd():
    """The SIMD paths this CPU and build can run, slowest first."""
    return tuple(name for level, name in enumerate(SIMD_PATHS) if fi_simd_supported(level))


def get_simd():
    """The SIMD path fills use now."""
    return SIMD_PATHS[fi_simd_get()]


def set_simd(name):
    """Force a SIMD path: 'scalar', 'avx2', 'avx512', 'avx512vbmi' (AVX-512 with VBMI and
    VBMI2: byte shuffles for the ziggurat's tables), 'neon' (AArch64), or 'auto' for the best this CPU
    runs. Every path gives the same bits; this exists to prove it and to measure each."""
    if name == "auto":
        fi_simd_set(fi_simd_best())
        return
    if name not in SIMD_PATHS:
        raise ValueError(f"unknown SIMD path {name!r}; choose from {SIMD_PATHS + ('auto',)}")
    if fi_simd_set(SIMD_PATHS.index(name)) != 0:
        raise RuntimeError(f"this CPU cannot run the {name} path; it runs {available_simd()}")


def _set_avx2_mulld(on):
    """Testing hook: the AVX2 path comes in two builds with the same bits, one with Philox's
    low products by vpmulld, which the CPU's vendor and family choose (AMD Zen 3 and later).
    True or False forces one, None gives the choice back; returns whether the vpmulld build
    was the one in use."""
    return bool(fi_simd_set_avx2_mulld(-1 if on is None else int(bool(on))))


set_simd(os.environ.get("FASTINIT_SIMD", "auto") or "auto")
