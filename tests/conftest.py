"""Shared fixtures for the fastinit tests."""
import os
import sys

import pytest

import fastinit
from fastinit import _core

# Keras on JAX (there is no tensorflow here), for the tests and the interpreters they start;
# set before anything imports keras.
os.environ.setdefault("KERAS_BACKEND", "jax")

sys.path.insert(0, os.path.dirname(__file__))
import _golden_cases  # noqa: E402  (tests/: the SIMD builds the tests force)


@pytest.fixture(autouse=True, scope="session")
def plan_cache_dir(tmp_path_factory):
    """`fastinit init` keeps recorded plans in ~/.cache (fastinit._plan_cache): the tests'
    CLI processes keep theirs in a directory of the session's instead."""
    old = os.environ.get("FASTINIT_CACHE_DIR")
    os.environ["FASTINIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("fastinit-cache"))
    yield
    if old is None:
        del os.environ["FASTINIT_CACHE_DIR"]
    else:
        os.environ["FASTINIT_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def restore_engine():
    """Every test may change the thread count or force a SIMD path; restore both after it,
    so a failing test cannot leak a forced path into the rest of the suite."""
    threads, simd = fastinit.get_num_threads(), fastinit.get_simd()
    yield
    fastinit.set_num_threads(threads)
    _core._set_avx2_mulld(None)
    fastinit.set_simd(simd)


@pytest.fixture(params=_golden_cases.simd_builds())
def simd(request):
    """Each SIMD path this CPU runs, forced for the test (its name given to the test; the
    AVX2 path's two builds both as 'avx2'); 'auto' is restored after it."""
    path = _golden_cases.force_simd(request.param)
    assert fastinit.get_simd() == path
    yield path
    _core._set_avx2_mulld(None)
    fastinit.set_simd("auto")


@pytest.fixture
def restore_default_generator():
    """manual_seed replaces the process-wide default generator: put the old one back."""
    import fastinit
    saved = fastinit.default_generator()
    state = saved.state
    yield
    saved.state = state
    fastinit._state._default = saved
