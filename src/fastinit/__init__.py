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

from fastinit import defaults, init, initializers
from fastinit._fans import calculate_gain
from fastinit._state import default_generator, manual_seed
from fastinit.init import (
    constant_, dirac_, eye_, kaiming_normal_, kaiming_uniform_, normal_, ones_, orthogonal_,
    sparse_, trunc_normal_, uniform_, xavier_normal_, xavier_uniform_, zeros_,
)
from fastinit.initializers import (
    Constant, DeltaOrthogonal, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity,
    Initializer, LecunNormal, LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform,
    TruncatedNormal, VarianceScaling, Zeros, constant, delta_orthogonal, get, glorot_normal,
    glorot_uniform, he_normal, he_uniform, identity, kaiming_normal, kaiming_uniform,
    lecun_normal, lecun_uniform, normal, ones, orthogonal, serialize, truncated_normal,
    uniform, variance_scaling, xavier_normal, xavier_uniform, zeros,
)

__version__ = "0.1.0"


def __getattr__(name):
    # fastinit.torch, .dask, .keras and .jax import their frameworks: only on first use,
    # never by `import fastinit`.
    if name in ("torch", "dask", "keras", "jax"):
        import importlib
        return importlib.import_module(f"fastinit.{name}")
    raise AttributeError(f"module 'fastinit' has no attribute {name!r}")

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
    # the Python layer
    "calculate_gain", "default_generator", "defaults", "init", "initializers", "manual_seed",
    "constant_", "dirac_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_",
    "orthogonal_", "sparse_", "trunc_normal_", "uniform_", "xavier_normal_",
    "xavier_uniform_", "zeros_",
    "Constant", "DeltaOrthogonal", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform",
    "Identity", "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal",
    "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros",
    "constant", "delta_orthogonal", "get", "glorot_normal", "glorot_uniform", "he_normal",
    "he_uniform", "identity", "kaiming_normal", "kaiming_uniform", "lecun_normal",
    "lecun_uniform", "normal", "ones", "orthogonal", "serialize", "truncated_normal",
    "uniform", "variance_scaling", "xavier_normal", "xavier_uniform", "zeros",
]
