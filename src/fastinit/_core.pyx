# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
"""fastinit's Cython layer: it checks buffers and parameters, takes counters from the
Generator, releases the GIL and splits each fill across the thread pool. The C kernels below
it know nothing of Python; the Python package above it holds the names and docs.

One extension module, in parts by concern (as NumPy splits its random module), included in
this order. They are one module, not several, because the C core below holds process-wide
state (the SIMD path, the interval-table cache, the thread pool) that must exist once.
"""

import copy
import itertools
import operator
import os

import ml_dtypes
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

cnp.import_array()

include "_cdefs.pxi"       # the C core's declarations
include "_checks.pxi"      # dtypes, shapes, outputs, parameters
include "_threads.pxi"     # chunking over the thread pool; fill_bits
include "_index.pxi"       # index=: blocks of a larger call
include "_simd.pxi"        # choosing the SIMD path
include "_qr.pxi"          # the small QR of orthogonal initializers
include "_generator.pxi"   # Generator, fill_range, philox4x32, default_rng
include "_masks.pxi"       # sparse masks
