"""Type stub of fastinit._core, the compiled layer (src/fastinit/_core.pyx and its .pxi parts).

tests/test_bad_input.py checks it against the module: the same public names, and the same
parameter names (and literal defaults) for every function and Generator method.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import EllipsisType
from typing import Any, Final, Literal, SupportsFloat, SupportsIndex, TypeVar, overload

import numpy as np
from numpy.random import SeedSequence
from numpy.typing import ArrayLike, DTypeLike, NDArray
from typing_extensions import Self, TypeAlias, disjoint_base

_ArrayT = TypeVar("_ArrayT", bound=np.ndarray[Any, Any])

# A shape: an int or a sequence of ints (not bools: TypeError).
_ShapeLike: TypeAlias = SupportsIndex | Sequence[SupportsIndex]
# A NumPy basic index: ints, slices, one Ellipsis (missing trailing dims are whole).
_IndexItem: TypeAlias = SupportsIndex | slice | EllipsisType
_IndexLike: TypeAlias = _IndexItem | tuple[_IndexItem, ...]
# A real scalar parameter: int, float, NumPy scalar or 0-d array (not bool or complex).
_Real: TypeAlias = SupportsFloat
# float16, bfloat16 (ml_dtypes.bfloat16, "bfloat16", BFLOAT16), float32 or float64; masks
# also take bool and uint8.
_FloatDType: TypeAlias = DTypeLike
_Seed: TypeAlias = int | np.integer[Any] | SeedSequence | None
# A fill's scalar (size=None, no out): np.float16/float32/float64, ml_dtypes.bfloat16, or
# for masks np.bool_/np.uint8.
_Scalar: TypeAlias = np.generic[Any]
# plan_index: (block shape, starts, steps, counts, int_axes).
_Plan: TypeAlias = tuple[tuple[int, ...], list[int], list[int], list[int], tuple[int, ...]]
_Dist: TypeAlias = Literal["uniform", "normal", "truncated_normal", "bernoulli"]
_SimdName: TypeAlias = Literal["scalar", "avx2", "avx512", "avx512vbmi", "neon"]

BFLOAT16: Final[np.dtype[Any]]
SIMD_PATHS: Final[tuple[str, ...]]

@disjoint_base      # a C extension type: a class cannot derive from it and another such type
class Generator:
    """Generator(seed=None): fills arrays with random values from Philox4x32-10."""

    _seed_seq: int | SeedSequence

    def __init__(self, seed: _Seed = None) -> None: ...
    @property
    def key(self) -> tuple[int, int]: ...
    @property
    def counter(self) -> int: ...
    @property
    def state(self) -> dict[str, Any]: ...
    @state.setter
    def state(self, value: dict[str, Any]) -> None: ...
    def spawn(self, n_children: SupportsIndex) -> list[Generator]: ...
    def __reduce__(
        self,
    ) -> tuple[Callable[[dict[str, Any], int | SeedSequence], Generator],
               tuple[dict[str, Any], int | SeedSequence]]: ...
    def __copy__(self) -> Self: ...
    def __deepcopy__(self, memo: dict[int, Any] | None) -> Generator: ...
    def __repr__(self) -> str: ...

    # Each fill: a scalar with neither size nor out; out itself when out is given (with or
    # without index=); else a new array of shape size (or size[index]).

    @overload
    def random(self, size: None = None, dtype: _FloatDType | None = None, out: None = None,
               index: None = None) -> _Scalar: ...
    @overload
    def random(self, size: _ShapeLike | None = None, dtype: _FloatDType | None = None, *,
               out: _ArrayT, index: _IndexLike | None = None) -> _ArrayT: ...
    @overload
    def random(self, size: _ShapeLike, dtype: _FloatDType | None = None, out: None = None,
               index: _IndexLike | None = None) -> NDArray[Any]: ...

    @overload
    def uniform(self, low: _Real = 0.0, high: _Real = 1.0, size: None = None,
                dtype: _FloatDType | None = None, out: None = None,
                index: None = None) -> _Scalar: ...
    @overload
    def uniform(self, low: _Real = 0.0, high: _Real = 1.0, size: _ShapeLike | None = None,
                dtype: _FloatDType | None = None, *, out: _ArrayT,
                index: _IndexLike | None = None) -> _ArrayT: ...
    @overload
    def uniform(self, low: _Real, high: _Real, size: _ShapeLike,
                dtype: _FloatDType | None = None, out: None = None,
                index: _IndexLike | None = None) -> NDArray[Any]: ...
    @overload
    def uniform(self, low: _Real = 0.0, high: _Real = 1.0, *, size: _ShapeLike,
                dtype: _FloatDType | None = None, out: None = None,
                index: _IndexLike | None = None) -> NDArray[Any]: ...

    @overload
    def standard_normal(self, size: None = None, dtype: _FloatDType | None = None,
                        out: None = None, index: None = None) -> _Scalar: ...
    @overload
    def standard_normal(self, size: _ShapeLike | None = None,
                        dtype: _FloatDType | None = None, *, out: _ArrayT,
                        index: _IndexLike | None = None) -> _ArrayT: ...
    @overload
    def standard_normal(self, size: _ShapeLike, dtype: _FloatDType | None = None,
                        out: None = None, index: _IndexLike | None = None) -> NDArray[Any]: ...

    @overload
    def normal(self, loc: _Real = 0.0, scale: _Real = 1.0, size: None = None,
               dtype: _FloatDType | None = None, out: None = None,
               index: None = None) -> _Scalar: ...
    @overload
    def normal(self, loc: _Real = 0.0, scale: _Real = 1.0, size: _ShapeLike | None = None,
               dtype: _FloatDType | None = None, *, out: _ArrayT,
               index: _IndexLike | None = None) -> _ArrayT: ...
    @overload
    def normal(self, loc: _Real, scale: _Real, size: _ShapeLike,
               dtype: _FloatDType | None = None, out: None = None,
               index: _IndexLike | None = None) -> NDArray[Any]: ...
    @overload
    def normal(self, loc: _Real = 0.0, scale: _Real = 1.0, *, size: _ShapeLike,
               dtype: _FloatDType | None = None, out: None = None,
               index: _IndexLike | None = None) -> NDArray[Any]: ...

    @overload
    def truncated_normal(self, mean: _Real = 0.0, std: _Real = 1.0, a: _Real = -2.0,
                         b: _Real = 2.0, size: None = None, dtype: _FloatDType | None = None,
                         out: None = None, index: None = None) -> _Scalar: ...
    @overload
    def truncated_normal(self, mean: _Real = 0.0, std: _Real = 1.0, a: _Real = -2.0,
                         b: _Real = 2.0, size: _ShapeLike | None = None,
                         dtype: _FloatDType | None = None, *, out: _ArrayT,
                         index: _IndexLike | None = None) -> _ArrayT: ...
    @overload
    def truncated_normal(self, mean: _Real, std: _Real, a: _Real, b: _Real,
                         size: _ShapeLike, dtype: _FloatDType | None = None,
                         out: None = None, index: _IndexLike | None = None) -> NDArray[Any]: ...
    @overload
    def truncated_normal(self, mean: _Real = 0.0, std: _Real = 1.0, a: _Real = -2.0,
                         b: _Real = 2.0, *, size: _ShapeLike,
                         dtype: _FloatDType | None = None, out: None = None,
                         index: _IndexLike | None = None) -> NDArray[Any]: ...

    @overload
    def bernoulli(self, p: _Real, size: None = None, dtype: DTypeLike | None = None,
                  out: None = None, index: None = None) -> _Scalar: ...
    @overload
    def bernoulli(self, p: _Real, size: _ShapeLike | None = None,
                  dtype: DTypeLike | None = None, *, out: _ArrayT,
                  index: _IndexLike | None = None) -> _ArrayT: ...
    @overload
    def bernoulli(self, p: _Real, size: _ShapeLike, dtype: DTypeLike | None = None,
                  out: None = None, index: _IndexLike | None = None) -> NDArray[Any]: ...

    @overload
    def sparse_mask(self, shape: _ShapeLike, density: _Real | None = None,
                    k: SupportsIndex | None = None, axis: SupportsIndex = 0,
                    dtype: DTypeLike | None = None, *, out: _ArrayT,
                    index: _IndexLike | None = None) -> _ArrayT: ...
    @overload
    def sparse_mask(self, shape: _ShapeLike, density: _Real | None = None,
                    k: SupportsIndex | None = None, axis: SupportsIndex = 0,
                    dtype: DTypeLike | None = None, out: None = None,
                    index: _IndexLike | None = None) -> NDArray[Any]: ...

def default_rng(seed: _Seed | Generator = None) -> Generator: ...
def fill_range(dist: _Dist, key: Sequence[SupportsIndex], counter: SupportsIndex,
               start: SupportsIndex, out: _ArrayT, *params: _Real) -> _ArrayT: ...
def philox4x32(counter: Iterable[SupportsIndex],
               key: Iterable[SupportsIndex]) -> tuple[int, int, int, int]: ...
def plan_index(shape: _ShapeLike, index: _IndexLike) -> _Plan: ...
def fill_bits(arr: NDArray[Any], bits: int) -> None: ...
def orthonormal_columns(a: ArrayLike, scale: float = 1.0) -> NDArray[np.float64]: ...
def set_num_threads(n: SupportsIndex) -> None: ...
def get_num_threads() -> int: ...
def available_simd() -> tuple[_SimdName, ...]: ...
def get_simd() -> _SimdName: ...
def set_simd(name: _SimdName | Literal["auto"]) -> None: ...

# Private, used by pickling and by the tests.
def _from_state(state: dict[str, Any], seed_seq: int | SeedSequence) -> Generator: ...
def _set_truncnorm_max_attempts(n: SupportsIndex) -> None: ...
def _pool_workers() -> int: ...
