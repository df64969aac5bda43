"""fastinit: fast, reproducible random fills for NumPy buffers.

Value i of every fill depends only on (seed, stream position, i), so results are
bit-identical for any thread count, chunking, SIMD path or memory layout.

    >>> import fastinit
    >>> g = fastinit.Generator(42)
    >>> w = g.normal(0.0, 0.02, size=(4096, 4096), dtype="bfloat16")
"""
from fastinit._core import (
    BFLOAT16,
    Generator,
    available_simd,
    default_rng,
    fill_range,
    get_num_threads,
    get_simd,
    philox4x32,
    set_num_threads,
    set_simd,
)

__version__ = "0.1.0"

__all__ = [
    "BFLOAT16",
    "Generator",
    "available_simd",
    "default_rng",
    "fill_range",
    "get_num_threads",
    "get_simd",
    "philox4x32",
    "set_num_threads",
    "set_simd",
]
