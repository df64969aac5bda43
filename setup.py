"""Build of fastinit's compiled core: one extension, fastinit._core, from the Cython glue and
the plain-C kernels. The AVX2 and AVX-512 kernel files pick their instruction sets by target
attributes (csrc/portable.h) and are chosen at run time, so the default build runs on any
x86-64; on AArch64 the NEON kernels (Advanced SIMD, always there) are used, and elsewhere the
scalar ones. Each SIMD kernel file compiles to nothing on the architectures it is not for.
gcc and clang build it alike (CC=clang pip install .); no OpenMP: the thread pool is
csrc/pool.c (pthreads, or Win32 threads), which survives fork."""
import glob
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Every C file of csrc/ (as tests/test_c_simd.py builds them), so a new one needs no entry here.
CSRC = sorted(glob.glob("csrc/*.c"))

if sys.platform == "win32":
    cflags, lflags = ["/O2", "/fp:precise", "/std:c11"], []
else:
    # -ffp-contract=off: no fused multiply-adds, so every SIMD path rounds alike (gcc and
    # clang both honour it; clang would otherwise fuse within expressions).
    # -fvisibility=hidden: csrc/'s functions call each other directly, not through the PLT,
    # and the module exports only PyInit__core (which Python marks visible).
    cflags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fvisibility=hidden", "-pthread"]
    lflags = ["-pthread"]

ext = Extension(
    "fastinit._core",
    sources=["src/fastinit/_core.pyx"] + CSRC,
    include_dirs=["csrc", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=cflags,
    extra_link_args=lflags,
    # Headers and included parts: a change to any of them rebuilds the extension.
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("csrc/simd/*.h")
                   + glob.glob("src/fastinit/*.pxi")),
)



class parallel_build_ext(build_ext):
    """setuptools compiles one extension's sources one after another (its -j runs extensions
    in parallel, and there is one). Here each source is its own compiler process, as many at
    a time as there are CPUs (FASTINIT_BUILD_JOBS to choose), the largest first: on 2 cores
    the build takes half the time. Object files keep the sources' order for the link."""

    def build_extension(self, ext):
        compiler = self.compiler
        serial = compiler.compile
        jobs = int(os.environ.get("FASTINIT_BUILD_JOBS") or os.cpu_count() or 1)

        def compile_parallel(sources, *args, **kwargs):
            if jobs < 2 or len(sources) < 2:
                return serial(sources, *args, **kwargs)
            order = sorted(range(len(sources)), key=lambda i: -os.path.getsize(sources[i]))
            with ThreadPoolExecutor(jobs) as pool:
                done = {i: pool.submit(serial, [sources[i]], *args, **kwargs) for i in order}
                return [obj for i in range(len(sources)) for obj in done[i].result()]

        compiler.compile = compile_parallel
        try:
            super().build_extension(ext)
        finally:
            del compiler.compile        # the instance attribute; the method shows again


setup(ext_modules=cythonize([ext], compiler_directives={"language_level": 3}),
      cmdclass={"build_ext": parallel_build_ext})
