"""Shared fixtures for the fastinit tests."""
import os
import sys

import pytest

import fastinit

# Keras on JAX (there is no tensorflow here), for the tests and the interpreters they start;
# set before anything imports keras.
os.environ.setdefault("KERAS_BACKEND", "jax")

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def restore_engine():
    """Every test may change the thread count or force a SIMD path; restore both after it,
    so a failing test cannot leak a forced path into the rest of the suite."""
    threads, simd = fastinit.get_num_threads(), fastinit.get_simd()
    yield
    fastinit.set_num_threads(threads)
    fastinit.set_simd(simd)


@pytest.fixture(params=fastinit.available_simd())
def simd(request):
    """Each SIMD path this CPU runs, forced for the test; 'auto' is restored after it."""
    fastinit.set_simd(request.param)
    assert fastinit.get_simd() == request.param
    yield request.param
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
