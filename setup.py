"""Build of fastinit's compiled core: one extension, fastinit._core, from the Cython glue and
the plain-C kernels. The AVX2 and AVX-512 kernel files pick their instruction sets with
pragmas and are chosen at run time, so the default build runs on any x86-64; on AArch64 the
NEON kernels (Advanced SIMD, always there) are used, and elsewhere the scalar ones. Each SIMD
kernel file compiles to nothing on the architectures it is not for."""
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

CSRC = ["csrc/engine.c", "csrc/cpu.c", "csrc/pool.c", "csrc/qr.c", "csrc/kernels_scalar.c", "csrc/kernels_avx2.c", "csrc/kernels_avx512.c",
        "csrc/kernels_avx512vbmi.c", "csrc/kernels_neon.c"]

# No OpenMP: the thread pool is csrc/pool.c (pthreads, or Win32 threads), which survives fork.
if sys.platform == "win32":
    cflags, lflags = ["/O2", "/fp:precise", "/std:c11"], []
else:
    # -ffp-contract=off: no fused multiply-adds, so every SIMD path rounds alike (gcc and
    # clang both honour it; clang would otherwise fuse within expressions).
    cflags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-pthread"]
    lflags = ["-pthread"]

ext = Extension(
    "fastinit._core",
    sources=["src/fastinit/_core.pyx"] + CSRC,
    include_dirs=["csrc", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=cflags,
    extra_link_args=lflags,
    depends=[f"src/fastinit/{p}.pxi" for p in ("_cdefs", "_checks", "_threads", "_index", "_simd", "_qr", "_generator", "_masks")] + ["csrc/fastinit.h", "csrc/portable.h", "csrc/cpu.h", "csrc/pool.h", "csrc/internal.h", "csrc/philox.h", "csrc/kernels.inc.h",
             "csrc/ziggurat_tables.h"] + [f"csrc/simd/{f}" for f in ("compress.h", "ops_avx2.h", "ops_neon.h", "philox.inc.h", "fused32.inc.h")],
)

setup(ext_modules=cythonize([ext], compiler_directives={"language_level": 3}))
