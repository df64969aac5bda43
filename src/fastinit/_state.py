"""The default generator: what ``generator=None`` means, process-wide.

One module owns it, so that ``manual_seed`` replacing it is seen everywhere. Read it at call
time, as ``default_generator()`` or ``_state._default``, never by ``from fastinit._state
import _default``, which copies the generator of import time and misses every later
``manual_seed``. This module imports nothing from the Python layer but ``_core``.
"""
import numpy as np

from fastinit._core import Generator

_default = Generator()


def default_generator():
    """The generator that ``generator=None`` means. ``manual_seed`` replaces it."""
    return _default


def manual_seed(seed):
    """Seed the default generator (used wherever ``generator=None``) and return it.

    Unseeded initializer objects also take their fixed seed from it when they are built.
    """
    global _default
    _default = Generator(seed)
    return _default


def fresh_seed():
    """A 53-bit seed drawn from the default generator (for unseeded initializer objects)."""
    return int(_default.random(dtype=np.float64) * 2.0**53)
