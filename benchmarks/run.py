"""Benchmark fastinit's large fills against NumPy, PyTorch and a plain memory fill.

Run from the repository root (fastinit installed, e.g. ``pip install -e .``):

    python benchmarks/run.py                  # full run: 2**26 elements, 7 reps (a few minutes)
    python benchmarks/run.py --quick          # smoke run: 2**22 elements, 3 reps
    python benchmarks/run.py --json out.json  # also write every number as JSON
    python benchmarks/run.py --simd avx2      # run fastinit on a forced SIMD path
    python benchmarks/run.py --simd all       # every path this CPU runs, one after another
    python benchmarks/run.py --n 2**24 --reps 11
    python benchmarks/run.py --section issue3 # only section 2 (engine: 1, issue4: 3)

Section 1 (engine). What is timed, for each distribution (uniform, normal), dtype (float32,
bfloat16, float64) and thread count (1, and fastinit's default: all the CPUs this process
may use):

    fastinit   g.random(out=a)                / g.standard_normal(out=a)
    numpy      Generator(PCG64).random(out=a, dtype=...) / .standard_normal(out=a, dtype=...)
               (n/a for bfloat16: NumPy cannot fill it directly, and float32-then-astype is
               not like for like)
    torch      torch.nn.init.uniform_(t)      / torch.nn.init.normal_(t), with
               torch.set_num_threads matching; t is torch.from_numpy on the same buffer
               (for bfloat16 a uint16 view of it, reinterpreted as torch.bfloat16). n/a
               when torch is not installed (it is imported only when needed)
    fill       a.fill(0.5): the single-threaded memory-write limit (for bfloat16 through a
               uint16 view, since ml_dtypes' own fill goes element by element)
    fill x T   the same fill split into T contiguous parts, one per thread of a
               ThreadPoolExecutor (numpy releases the GIL in large fills): the limit for
               T threads; only on rows with more than one thread

Every contender writes the same preallocated buffer, faulted in (written once) before any
timing. Each case makes one warm-up call per contender, then takes the median of --reps
timed calls; the contenders are interleaved within each rep, in a freshly shuffled order and
each after a 5 ms pause (so OpenMP threads left spinning by the previous call are idle),
so that noise hits them alike. The table gives ns per element and the ratios numpy/fastinit and
torch/fastinit (speed-ups: higher is better for fastinit) and fastinit/fill (the cost over
the memory-write limit: lower is better). It ends with the targets of the issue, as PASS or
FAIL lines (measured on the all-threads rows), and a small-call overhead comparison.

Section 2 (issue3): truncated normals, Bernoulli and sparse masks, with 1 and all threads,
timed the same way (same buffers, interleaved shuffled reps, medians):

    truncated  g.truncated_normal(mean=0.0, std=1.0, a=a, b=b, out=x) against
               g.standard_normal(out=x) of the same dtype: [-2, 2] in float32, bfloat16
               and float64; the tails [5, 6], [8, 9], [3, inf] in float32 (the targets),
               [5, 6] and [3, inf] also in float64 (informational). On [-2, 2]
               float32 also torch.nn.init.trunc_normal_(t, 0, 1, -2, 2), t = torch.from_numpy
               of the same buffer (the first 2**26 elements, the issue's size: torch takes
               tens of ns per element, more per element on larger tensors), with 3 reps;
               its ns per element are reported
    sparse     g.sparse_mask((4096, 1024), density=0.1, axis=0, out=m), m a preallocated bool
               array, against torch.nn.init.sparse_(w, 0.9) on a preallocated float32
               (4096, 1024) tensor (a Python loop over the columns), 3 reps; milliseconds
    bernoulli  g.bernoulli(0.3, out=u), u a preallocated uint8 array, against what NumPy
               users write, rng.random(n) < p, made like for like with preallocated buffers:
               np.less(rng.random(out=f), 0.3, out=u.view(bool)), f the float64 buffer

Section 3 (issue4): the initializer API (fastinit.init, fastinit.initializers), on all
threads (fastinit's default; torch.set_num_threads to match). The large matrix is the
float32 (or bfloat16) buffer viewed as (n // c, c), c the largest power of 2 with c * c <= n:
8192 x 8192 by default, 2048 x 2048 with --quick.

    overhead   kaiming_uniform_(w, generator=g), xavier_normal_, trunc_normal_ on the float32
               matrix against the bare fill each makes (g.uniform(-b, b, out=w) with the same
               b, g.normal(0, std, out=w), g.truncated_normal(0, 1, -2, 2, out=w)):
               max(25, 5 x reps) interleaved shuffled rounds; the ratio is the median of the
               per-round ratios
    small      10x10 float32 calls in us (timeit, medians of interleaved runs): the in-place
               functions with generator=g, and initializer objects built and called in the
               timed expression (he_normal(seed=0)((10, 10)), ...), all targeted; and,
               for scale, np.linalg.qr of a 10x10 float32 matrix alone (orthogonal_ and
               orthogonal(seed=0) on small matrices use fastinit's own QR instead)
    torch      torch.nn.init's uniform_, normal_, trunc_normal_, xavier_uniform_,
               xavier_normal_, kaiming_uniform_, kaiming_normal_ on the matrix in float32
               (uniform_, normal_, trunc_normal_, kaiming_uniform_ also in bfloat16),
               orthogonal_ on 2048 x 2048 and sparse_(x, 0.9) on 4096 x 1024, against
               fastinit's same-named functions on NumPy arrays of the same shape and dtype;
               ns per element, ms and torch/fi (informational)

Its targets are PASS/FAIL lines too. Pass --strict to exit with status 1 when a target of
any section fails.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time
import tempfile
import timeit
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import fastinit

DTYPES = {"float32": np.dtype(np.float32), "bfloat16": np.dtype(fastinit.BFLOAT16),
          "float64": np.dtype(np.float64)}
DISTS = ("uniform", "normal")
CONTENDERS = ("fastinit", "numpy", "torch", "fill", "fill_threaded")
BF16_HALF = 0x3F00          # 0.5 as a bfloat16 bit pattern

# The issue's targets, all measured on the all-threads rows:
# (label, dist, dtype, ratio key, comparison, bound).
TARGETS = (
    ("uniform float32: >= 8x faster than NumPy", "uniform", "float32", "numpy/fastinit", ">=", 8.0),
    ("uniform float32: within 3x the time of fill(0.5) x T", "uniform", "float32",
     "fastinit/fill_threaded", "<=", 3.0),
    ("standard_normal float32: >= 12x faster than NumPy", "normal", "float32",
     "numpy/fastinit", ">=", 12.0),
    ("standard_normal float32: >= 5x faster than torch normal_", "normal", "float32",
     "torch/fastinit", ">=", 5.0),
    ("normal bfloat16: >= 8x faster than torch normal_ on bf16", "normal", "bfloat16",
     "torch/fastinit", ">=", 8.0),
    ("normal float64: >= 8x faster than NumPy", "normal", "float64", "numpy/fastinit", ">=", 8.0),
)

# Section 2 (issue 3): truncated normals, Bernoulli masks, sparse masks.
SECTIONS = ("engine", "issue3", "issue4", "all")
INF = float("inf")
# (interval label, a, b, dtypes): truncated_normal(mean=0, std=1, a, b) against standard_normal.
TN_CASES = (
    ("[-2, 2]", -2.0, 2.0, ("float32", "bfloat16", "float64")),
    ("[5, 6]", 5.0, 6.0, ("float32", "float64")),
    ("[8, 9]", 8.0, 9.0, ("float32",)),
    ("[3, inf]", 3.0, INF, ("float32", "float64")),
)
TN_CONTENDERS = ("truncated", "normal", "torch")
TORCH_TN_INTERVAL = "[-2, 2]"   # torch trunc_normal_ runs on this interval, float32 only
TORCH_TN_PREFIX = 2**26         # ... on this many leading elements of the buffer: the
                                # issue's size (torch's ns per element grow with it: about 42
                                # at 2**22, 58 at 2**24, 63 at 2**26 on 2 threads here)
SLOW_REPS = 3                   # timed reps of torch's slow trunc_normal_ and sparse_
SPARSE_SHAPE = (4096, 1024)
SPARSE_DENSITY = 0.1            # fastinit: k = round(0.1 * 4096) = 410 nonzeros per column
SPARSE_TORCH_SPARSITY = 0.9     # torch: ceil(0.9 * 4096) = 3687 zeros, 409 nonzeros per column
BERNOULLI_P = 0.3

# Section 2's targets, all-threads rows: (label, case, ratio key, comparison, bound).
ISSUE3_TARGETS = (
    ("truncated_normal [-2,2] float32: within 1.3x standard_normal", "truncated [-2, 2] float32",
     "trunc/normal", "<=", 1.3),
    ("truncated_normal [-2,2] bfloat16: within 1.3x standard_normal",
     "truncated [-2, 2] bfloat16", "trunc/normal", "<=", 1.3),
    ("truncated_normal [-2,2] float64: within 1.3x standard_normal", "truncated [-2, 2] float64",
     "trunc/normal", "<=", 1.3),
    ("truncated_normal [5,6] float32: within 3x standard_normal f32", "truncated [5, 6] float32",
     "trunc/normal", "<=", 3.0),
    ("truncated_normal [8,9] float32: within 3x standard_normal f32", "truncated [8, 9] float32",
     "trunc/normal", "<=", 3.0),
    ("truncated_normal [3,inf] float32: within 3x standard_normal f32",
     "truncated [3, inf] float32", "trunc/normal", "<=", 3.0),
    ("truncated_normal float32: >= 100x faster than torch trunc_normal_",
     "truncated [-2, 2] float32", "torch/trunc", ">=", 100.0),
    ("sparse_mask (4096,1024) d=0.1: >= 20x faster than torch sparse_", "sparse_mask",
     "torch/fastinit", ">=", 20.0),
    ("bernoulli(0.3) uint8: >= 10x faster than NumPy random() < p", "bernoulli uint8",
     "numpy/fastinit", ">=", 10.0),
)

# Section 3 (issue 4): the initializer API (fastinit.init, fastinit.initializers), on all
# threads. The large arrays are the float32 and bfloat16 buffers, viewed as a matrix
# (matrix_shape: 8192 x 8192 for the default 2**26 elements, 2048 x 2048 with --quick).
OVERHEAD_BOUND = 1.1            # kaiming_uniform_ within 1.1x the time of its bare uniform fill
OVERHEAD_REPS = 25              # at least this many interleaved rounds (5x --reps if more)
SMALL_SHAPE = (10, 10)          # the small calls: 100 float32 values
SMALL_BOUND_US = 20.0           # every small call: < 20 us
SMALL_NUMBER = 2000             # calls per timeit run of the small calls
ORTHO_SHAPE = (2048, 2048)      # orthogonal_ against torch; sparse_ uses SPARSE_SHAPE and
                                # SPARSE_TORCH_SPARSITY (section 2's torch case)
# torch.nn.init functions timed against fastinit's same-named ones on the large matrix, with
# their defaults (the kaiming ones: a=0, fan_in, leaky_relu); the second tuple in bfloat16 too.
INIT_FUNCS = ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
              "kaiming_uniform_", "kaiming_normal_")
INIT_FUNCS_BF16 = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_")
TORCH_SLOW = ("trunc_normal_", "sparse_")   # torch takes SLOW_REPS reps here (seconds a call
                                            # for trunc_normal_ on 8192 x 8192)


# ---- setup ----------------------------------------------------------------------------

def load_torch(disabled):
    """torch, imported on demand; None when it is missing or disabled."""
    if disabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def machine_info(torch):
    from _timing import cpu_and_cores, parallel_capacity   # benchmarks/ is on sys.path
    cpu, cores = cpu_and_cores()
    import ml_dtypes
    return {
        "cpu": cpu,
        "cores_available": cores,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ml_dtypes": ml_dtypes.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "fastinit": fastinit.__version__,
        "fastinit_simd": fastinit.get_simd(),
        "fastinit_simd_available": list(fastinit.available_simd()),
        "fastinit_threads_default": fastinit.get_num_threads(),
        "parallel_capacity": parallel_capacity(fastinit.get_num_threads(), loops=1000),
    }


class Buffers:
    """One buffer per dtype, allocated and faulted in once, shared by every contender and
    every section; with masks=True (section 2) also the uint8 Bernoulli buffer and the
    sparse-mask outputs (a bool array and a float32 torch tensor); with matrices=True
    (section 3) also float32 matrices of ORTHO_SHAPE and SPARSE_SHAPE, each with a torch
    tensor on the same memory."""

    def __init__(self, n, torch, masks=False, matrices=False):
        self.arrays, self.tensors = {}, {}
        for name, dt in DTYPES.items():
            a = np.empty(n, dtype=dt)
            self.fill_view(a).fill(0)       # fault every page in before any timing
            self.arrays[name] = a
            if torch is not None:
                self.tensors[name] = self.torch_view(torch, a)
        self.uint8 = self.mask = self.sparse_tensor = None
        if masks:
            self.uint8 = np.empty(n, dtype=np.uint8)
            self.uint8.fill(0)
            self.mask = np.empty(SPARSE_SHAPE, dtype=np.bool_)
            self.mask.fill(False)
            if torch is not None:
                self.sparse_tensor = torch.empty(SPARSE_SHAPE, dtype=torch.float32)
                self.sparse_tensor.zero_()
        self.matrices, self.matrix_tensors = {}, {}
        if matrices:
            for shape in (ORTHO_SHAPE, SPARSE_SHAPE):
                m = np.empty(shape, dtype=np.float32)
                m.fill(0)
                self.matrices[shape] = m
                if torch is not None:
                    self.matrix_tensors[shape] = torch.from_numpy(m)

    def matrix(self, dtype, shape, torch):
        """The dtype's buffer viewed as a matrix of shape (a prefix of it), and its torch
        tensor on the same memory (None without torch)."""
        size = math.prod(shape)
        t = self.tensors[dtype][:size].view(shape) if torch is not None else None
        return self.arrays[dtype][:size].reshape(shape), t

    @staticmethod
    def fill_view(a):
        """What fill() writes: a itself, or its uint16 bits for bfloat16."""
        return a.view(np.uint16) if a.dtype == DTYPES["bfloat16"] else a

    @staticmethod
    def torch_view(torch, a):
        if a.dtype != DTYPES["bfloat16"]:
            return torch.from_numpy(a)
        try:
            return torch.from_numpy(a.view(np.uint16)).view(torch.bfloat16)
        except (TypeError, RuntimeError):   # an older torch without uint16: its own buffer
            t = torch.empty(a.size, dtype=torch.bfloat16)
            t.zero_()
            return t


def contenders(dist, dtype, threads, g, rng, buffers, torch, pool):
    """The zero-argument calls to time for one case; None marks a contender n/a here."""
    a = buffers.arrays[dtype]
    fill_target = buffers.fill_view(a)
    fill_value = BF16_HALF if dtype == "bfloat16" else 0.5
    calls = dict.fromkeys(CONTENDERS)

    if dist == "uniform":
        calls["fastinit"] = lambda: g.random(out=a)
    else:
        calls["fastinit"] = lambda: g.standard_normal(out=a)

    if dtype != "bfloat16":
        np_dtype = a.dtype.type
        if dist == "uniform":
            calls["numpy"] = lambda: rng.random(out=a, dtype=np_dtype)
        else:
            calls["numpy"] = lambda: rng.standard_normal(out=a, dtype=np_dtype)

    if torch is not None:
        t = buffers.tensors[dtype]
        init = torch.nn.init.uniform_ if dist == "uniform" else torch.nn.init.normal_
        calls["torch"] = lambda: init(t)

    calls["fill"] = lambda: fill_target.fill(fill_value)

    if threads > 1:
        parts = np.array_split(fill_target, threads)

        def fill_threaded():
            for f in [pool.submit(p.fill, fill_value) for p in parts]:
                f.result()
        calls["fill_threaded"] = fill_threaded
    return calls


# ---- timing ---------------------------------------------------------------------------

# Pause before each timed call, so that the OpenMP threads of the previous call (fastinit's
# and torch's are two separate runtimes) have stopped spin-waiting and every contender
# starts from the same idle machine.
SETTLE_S = 0.005


def time_samples(calls, reps, order_rng, reps_of=None):
    """Nanoseconds of every timed call of each live contender, round by round: a warm-up
    call each, then reps rounds, each running every contender once, in a freshly shuffled
    order. reps_of gives some contenders (slow ones) fewer reps: they take part in the first
    rounds only."""
    live = [name for name, fn in calls.items() if fn is not None]
    reps_of = {name: min(reps, (reps_of or {}).get(name, reps)) for name in live}
    for name in live:
        calls[name]()
    samples = {name: [] for name in live}
    gc.collect()
    gc.disable()
    try:
        for i in range(reps):
            order = [name for name in live if reps_of[name] > i]
            order_rng.shuffle(order)
            for name in order:
                fn = calls[name]
                time.sleep(SETTLE_S)
                t0 = time.perf_counter_ns()
                fn()
                samples[name].append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    return samples


def time_case(calls, reps, order_rng, reps_of=None):
    """Median seconds per call of each contender (None for one that is n/a), timed by
    time_samples."""
    samples = time_samples(calls, reps, order_rng, reps_of)
    return {name: (statistics.median(samples[name]) * 1e-9 if name in samples else None)
            for name in calls}


def ratio(num, den):
    return None if num is None or den is None or den == 0 else num / den


def run_cases(buffers, n, reps, thread_counts, torch, seed=12345):
    g = fastinit.Generator(seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    pool = ThreadPoolExecutor(max_workers=max(thread_counts))
    order_rng = random.Random(seed)
    rows = []
    try:
        for dist in DISTS:
            for dtype in DTYPES:
                for threads in thread_counts:
                    fastinit.set_num_threads(threads)
                    if torch is not None:
                        torch.set_num_threads(threads)
                    calls = contenders(dist, dtype, threads, g, rng, buffers, torch, pool)
                    secs = time_case(calls, reps, order_rng)
                    fi, fill, tfill = secs["fastinit"], secs["fill"], secs["fill_threaded"]
                    row = {
                        "dist": dist, "dtype": dtype, "threads": threads,
                        "median_s": secs,
                        "ns_per_element": {k: (None if v is None else v * 1e9 / n)
                                           for k, v in secs.items()},
                        "ratios": {
                            "numpy/fastinit": ratio(secs["numpy"], fi),
                            "torch/fastinit": ratio(secs["torch"], fi),
                            "fastinit/fill": ratio(fi, fill),
                            # with one thread, the fill for T threads is the plain fill
                            "fastinit/fill_threaded": ratio(fi, tfill if threads > 1 else fill),
                        },
                    }
                    rows.append(row)
                    print_row(row)
    finally:
        pool.shutdown()
        fastinit.set_num_threads(max(thread_counts))
        if torch is not None:
            torch.set_num_threads(max(thread_counts))
    return rows


def timeit_medians(calls, reps, number):
    """Median seconds per call of each zero-argument call: timeit runs of `number` calls
    after a warm-up of number // 10, in reps rounds that run every call once (interleaved,
    like the large fills)."""
    timers = {key: timeit.Timer(fn) for key, fn in calls.items()}
    for t in timers.values():
        t.timeit(number // 10)          # warm-up
    samples = {key: [] for key in timers}
    for _ in range(reps):
        for key, t in timers.items():
            samples[key].append(t.timeit(number) / number)
    return {key: statistics.median(s) for key, s in samples.items()}


def small_calls(reps, number=20000, seed=12345):
    """Seconds per call of 100-value fills (float64, the default dtype), fastinit vs numpy."""
    g = fastinit.Generator(seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    secs = timeit_medians({
        ("random", "fastinit"): lambda: g.random(100),
        ("random", "numpy"): lambda: rng.random(100),
        ("standard_normal", "fastinit"): lambda: g.standard_normal(100),
        ("standard_normal", "numpy"): lambda: rng.standard_normal(100),
    }, reps, number)
    out = {}
    for fn in ("random", "standard_normal"):
        fi, nps = secs[(fn, "fastinit")], secs[(fn, "numpy")]
        out[fn] = {"fastinit_us": fi * 1e6, "numpy_us": nps * 1e6, "fastinit/numpy": fi / nps}
    return out


# ---- section 2 (issue 3): truncated normals, Bernoulli and sparse masks ----------------

def set_threads(threads, torch):
    fastinit.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)


def tn_contenders(interval, a, b, dtype, g, buffers, torch, torch_prefix):
    """truncated_normal on [a, b] and standard_normal of the same dtype, on the same buffer;
    torch's trunc_normal_ on a prefix view, for the one interval and dtype it is timed on."""
    x = buffers.arrays[dtype]
    calls = dict.fromkeys(TN_CONTENDERS)
    calls["truncated"] = lambda: g.truncated_normal(mean=0.0, std=1.0, a=a, b=b, out=x)
    calls["normal"] = lambda: g.standard_normal(out=x)
    if torch is not None and dtype == "float32" and interval == TORCH_TN_INTERVAL:
        t = buffers.tensors[dtype][:torch_prefix]
        calls["torch"] = lambda: torch.nn.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0)
    return calls


def run_issue3(buffers, n, reps, thread_counts, torch, seed=12345):
    """Section 2's rows, printed as they come: three small tables."""
    g = fastinit.Generator(seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    order_rng = random.Random(seed)
    torch_prefix = min(n, TORCH_TN_PREFIX)
    slow_reps = min(reps, SLOW_REPS)
    rows = []
    tp = torch_prefix.bit_length() - 1
    prefix = f"2**{tp}" if torch_prefix == 1 << tp else f"{torch_prefix:,}"
    print("truncated_normal(mean=0, std=1, a, b, out=x) against standard_normal(out=x): same "
          "dtype, same buffer;")
    print("ns/element (lower is better); tr/norm: truncated_normal's time over "
          "standard_normal's;")
    if torch is None:
        print("torch*: n/a (torch skipped or not installed)")
    else:
        print(f"torch*: nn.init.trunc_normal_(t, 0, 1, -2, 2), float32 only, timed on the "
              f"first {prefix} elements")
        print(f"of the buffer ({slow_reps} reps: it is slow), in ns per element; torch/tr: "
              f"fastinit's speed-up per element")
    try:
        print(TN_HEADER)
        print("-" * len(TN_HEADER))
        for interval, a, b, dtypes in TN_CASES:
            for dtype in dtypes:
                for threads in thread_counts:
                    set_threads(threads, torch)
                    calls = tn_contenders(interval, a, b, dtype, g, buffers, torch,
                                          torch_prefix)
                    secs = time_case(calls, reps, order_rng, reps_of={"torch": slow_reps})
                    elements = {"truncated": n, "normal": n, "torch": torch_prefix}
                    ns = {k: (None if v is None else v * 1e9 / elements[k])
                          for k, v in secs.items()}
                    row = {
                        "section": "issue3", "case": f"truncated {interval} {dtype}",
                        "kind": "truncated_normal", "interval": interval,
                        # JSON has no infinity: an infinite bound is written as "inf"
                        "a": a if math.isfinite(a) else str(a),
                        "b": b if math.isfinite(b) else str(b),
                        "mean": 0.0, "std": 1.0, "dtype": dtype, "threads": threads,
                        "elements": {k: (elements[k] if secs[k] is not None else None)
                                     for k in secs},
                        "reps": {"truncated": reps, "normal": reps,
                                 "torch": slow_reps if secs["torch"] is not None else None},
                        "median_s": secs,
                        "ns_per_element": ns,
                        "ratios": {
                            # fastinit truncated_normal's time over standard_normal's
                            "trunc/normal": ratio(ns["truncated"], ns["normal"]),
                            # per element: torch's time over fastinit's (a speed-up)
                            "torch/trunc": ratio(ns["torch"], ns["truncated"]),
                        },
                    }
                    rows.append(row)
                    print_tn_row(row)

        m = buffers.mask
        k = round(SPARSE_DENSITY * SPARSE_SHAPE[0])
        torch_k = SPARSE_SHAPE[0] - math.ceil(SPARSE_TORCH_SPARSITY * SPARSE_SHAPE[0])
        print()
        print(f"sparse_mask({SPARSE_SHAPE}, density={SPARSE_DENSITY:g}, axis=0, out=bool array):"
              f" {k} nonzeros per column, against")
        print(f"nn.init.sparse_(w, {SPARSE_TORCH_SPARSITY:g}), w float32: {torch_k} normal values "
              f"per column, the rest 0 (a Python loop")
        print(f"over the columns); ms per call ({slow_reps} reps); torch/fi: speed-up of fastinit")
        print(SPARSE_HEADER)
        print("-" * len(SPARSE_HEADER))
        for threads in thread_counts:
            set_threads(threads, torch)
            calls = {"fastinit": lambda: g.sparse_mask(SPARSE_SHAPE, density=SPARSE_DENSITY,
                                                       axis=0, out=m),
                     "torch": None}
            if torch is not None:
                w = buffers.sparse_tensor
                calls["torch"] = lambda: torch.nn.init.sparse_(w, SPARSE_TORCH_SPARSITY)
            secs = time_case(calls, slow_reps, order_rng)
            row = {
                "section": "issue3", "case": "sparse_mask", "kind": "sparse_mask",
                "shape": list(SPARSE_SHAPE), "axis": 0, "density": SPARSE_DENSITY,
                "nonzeros_per_column": {"fastinit": k, "torch": torch_k},
                "dtype": "bool", "threads": threads, "reps": slow_reps,
                "median_s": secs,
                "ms": {k_: (None if v is None else v * 1e3) for k_, v in secs.items()},
                "ratios": {"torch/fastinit": ratio(secs["torch"], secs["fastinit"])},
            }
            rows.append(row)
            print_sparse_row(row)

        print()
        print(f"bernoulli({BERNOULLI_P:g}, out=u), u uint8, against NumPy's rng.random(n) < p "
              f"made like for like, into")
        print(f"preallocated buffers: np.less(rng.random(out=f), {BERNOULLI_P:g}, "
              f"out=u.view(bool)), f float64;")
        print("NumPy runs on 1 thread; ns/element; np/fi: speed-up of fastinit")
        print(BERNOULLI_HEADER)
        print("-" * len(BERNOULLI_HEADER))
        u = buffers.uint8
        u_bool = u.view(np.bool_)          # NumPy's comparison writes the same bytes
        f = buffers.arrays["float64"]     # scratch for NumPy's uniform doubles
        for threads in thread_counts:
            set_threads(threads, torch)
            calls = {"fastinit": lambda: g.bernoulli(BERNOULLI_P, out=u),
                     "numpy": lambda: np.less(rng.random(out=f), BERNOULLI_P, out=u_bool)}
            secs = time_case(calls, reps, order_rng)
            row = {
                "section": "issue3", "case": "bernoulli uint8", "kind": "bernoulli",
                "p": BERNOULLI_P, "dtype": "uint8", "threads": threads, "reps": reps,
                "median_s": secs,
                "ns_per_element": {k_: (None if v is None else v * 1e9 / n)
                                   for k_, v in secs.items()},
                "ratios": {"numpy/fastinit": ratio(secs["numpy"], secs["fastinit"])},
            }
            rows.append(row)
            print_bernoulli_row(row)
    finally:
        set_threads(max(thread_counts), torch)
    return rows

# ---- section 3 (issue 4): the initializer API ------------------------------------------

def matrix_shape(n):
    """Section 3's large matrix: (n // cols, cols), cols the largest power of 2 with
    cols * cols <= n (8192 x 8192 for 2**26, 2048 x 2048 for 2**22), on a prefix of the
    buffers when n is not a multiple of cols."""
    cols = 1 << ((n.bit_length() - 1) // 2)
    return (n // cols, cols)


def shape_label(shape):
    return "x".join(str(d) for d in shape)


def overhead_cases(w, g):
    """(initializer call, bare fill, their zero-argument calls) on w: the same fill with the
    same parameters, through the Python layer and straight into the engine."""
    rows, cols = w.shape            # torch's layout (out, in): fan_in = cols, fan_out = rows
    # kaiming_uniform_'s defaults: bound sqrt(3) * gain / sqrt(fan_in), gain sqrt(2)
    # (leaky_relu with a=0)
    bound = math.sqrt(3.0) * (math.sqrt(2.0) / math.sqrt(cols))
    std = math.sqrt(2.0 / (cols + rows))        # xavier_normal_, gain 1
    return (
        ("kaiming_uniform_(w, generator=g)", f"g.uniform(-b, b, out=w), b = {bound:.4g}",
         lambda: fastinit.kaiming_uniform_(w, generator=g),
         lambda: g.uniform(-bound, bound, out=w)),
        ("xavier_normal_(w, generator=g)", f"g.normal(0, std, out=w), std = {std:.4g}",
         lambda: fastinit.xavier_normal_(w, generator=g),
         lambda: g.normal(0.0, std, out=w)),
        ("trunc_normal_(w, generator=g)", "g.truncated_normal(0, 1, -2, 2, out=w)",
         lambda: fastinit.trunc_normal_(w, generator=g),
         lambda: g.truncated_normal(0.0, 1.0, -2.0, 2.0, out=w)),
    )


def small_init_calls(g, a, q):
    """Section 3's small calls on the 10x10 float32 array a: {label: (call, call of an
    initializer object built once (None for the in-place functions), targeted)}; last the
    informational np.linalg.qr of the 10x10 float32 q, what orthogonal_ would pay LAPACK
    (small matrices take fastinit's own QR)."""
    vs_args = (2.0, "fan_in", "truncated_normal")
    built = {"he": fastinit.he_normal(seed=0), "glorot": fastinit.glorot_uniform(seed=0),
             "vs": fastinit.variance_scaling(*vs_args, seed=0),
             "orth": fastinit.orthogonal(seed=0)}
    return {
        "kaiming_uniform_(a, generator=g)":
            (lambda: fastinit.kaiming_uniform_(a, generator=g), None, True),
        "xavier_normal_(a, generator=g)":
            (lambda: fastinit.xavier_normal_(a, generator=g), None, True),
        "trunc_normal_(a, generator=g)":
            (lambda: fastinit.trunc_normal_(a, generator=g), None, True),
        "normal_(a, generator=g)": (lambda: fastinit.normal_(a, generator=g), None, True),
        "sparse_(a, 0.5, generator=g)":
            (lambda: fastinit.sparse_(a, 0.5, generator=g), None, True),
        "he_normal(seed=0)((10, 10))":
            (lambda: fastinit.he_normal(seed=0)(SMALL_SHAPE),
             lambda: built["he"](SMALL_SHAPE), True),
        "glorot_uniform(seed=0)((10, 10))":
            (lambda: fastinit.glorot_uniform(seed=0)(SMALL_SHAPE),
             lambda: built["glorot"](SMALL_SHAPE), True),
        "variance_scaling(2, 'fan_in', 'truncated_normal', seed=0)((10, 10))":
            (lambda: fastinit.variance_scaling(*vs_args, seed=0)(SMALL_SHAPE),
             lambda: built["vs"](SMALL_SHAPE), True),
        "orthogonal_(a, generator=g)":
            (lambda: fastinit.orthogonal_(a, generator=g), None, True),
        "orthogonal(seed=0)((10, 10))":
            (lambda: fastinit.orthogonal(seed=0)(SMALL_SHAPE),
             lambda: built["orth"](SMALL_SHAPE), True),
        "np.linalg.qr(q), q 10x10 float32": (lambda: np.linalg.qr(q), None, False),
    }


def init_cases(buffers, shape, torch):
    """(function, dtype, array, tensor or None, extra args) of the comparison with
    torch.nn.init: the large matrix in float32 and bfloat16, then orthogonal_ and sparse_ on
    their fixed shapes."""
    cases = []
    for dtype, funcs in (("float32", INIT_FUNCS), ("bfloat16", INIT_FUNCS_BF16)):
        a, t = buffers.matrix(dtype, shape, torch)
        cases += [(fn, dtype, a, t, ()) for fn in funcs]
    for fn, fixed, args in (("orthogonal_", ORTHO_SHAPE, ()),
                            ("sparse_", SPARSE_SHAPE, (SPARSE_TORCH_SPARSITY,))):
        cases.append((fn, "float32", buffers.matrices[fixed], buffers.matrix_tensors.get(fixed),
                      args))
    return cases


def run_issue4(buffers, n, reps, threads, torch, seed=12345):
    """Section 3's three tables, printed as they come: the Python layer's overhead on the
    large matrix, the small calls, the comparison with torch.nn.init."""
    g = fastinit.Generator(seed)
    order_rng = random.Random(seed)
    shape = matrix_shape(n)
    size = math.prod(shape)
    slow_reps = min(reps, SLOW_REPS)
    overhead_reps = max(OVERHEAD_REPS, 5 * reps)
    set_threads(threads, torch)
    torch_threads = torch.get_num_threads() if torch is not None else None
    print(f"threads: fastinit {fastinit.get_num_threads()} (fastinit.get_num_threads()), torch "
          f"{fmt(torch_threads, 'd')} (torch.set_num_threads to match)")
    result = {"shape": list(shape), "threads": threads, "torch_threads": torch_threads,
              "overhead": [], "small_calls": [], "torch": []}

    print()
    print(f"Python-layer overhead: the initializer on w, a float32 {shape_label(shape)} matrix, "
          f"against the bare")
    print(f"Generator fill it makes (same parameters, same w); {overhead_reps} interleaved "
          f"rounds; ms per call;")
    print("init/bare: median of the per-round ratios (the target), of medians: ratio of "
          "the median times")
    print(OVERHEAD_HEADER)
    print("-" * len(OVERHEAD_HEADER))
    w, _ = buffers.matrix("float32", shape, torch)
    for init_label, bare_label, init, bare in overhead_cases(w, g):
        samples = time_samples({"init": init, "bare": bare}, overhead_reps, order_rng)
        secs = {k: statistics.median(v) * 1e-9 for k, v in samples.items()}
        row = {
            "section": "issue4", "case": f"overhead {init_label.split('(')[0]}",
            "kind": "overhead", "init": init_label, "bare": bare_label,
            "shape": list(shape), "dtype": "float32", "threads": threads,
            "reps": overhead_reps, "median_s": secs,
            "ms": {k: v * 1e3 for k, v in secs.items()},
            "samples_ms": {k: [x * 1e-6 for x in v] for k, v in samples.items()},
            "ns_per_element": {k: v * 1e9 / size for k, v in secs.items()},
            "ratios": {
                "init/bare": statistics.median(i / b for i, b in zip(samples["init"],
                                                                    samples["bare"])),
                "of medians": ratio(secs["init"], secs["bare"]),
            },
        }
        result["overhead"].append(row)
        print_overhead_row(row)

    small_reps = max(reps, 5)
    a = np.zeros(SMALL_SHAPE, np.float32)
    q = g.standard_normal(size=SMALL_SHAPE, dtype=np.float32)
    cases = small_init_calls(g, a, q)
    timed = {(label, "call"): call for label, (call, _, _) in cases.items()}
    timed.update({(label, "built"): built for label, (_, built, _) in cases.items()
                  if built is not None})
    secs = timeit_medians(timed, small_reps, SMALL_NUMBER)
    print()
    print(f"Small calls: {SMALL_SHAPE[0]}x{SMALL_SHAPE[1]} float32 (a, or a new array), us per "
          f"call (median of {small_reps} timeit runs of {SMALL_NUMBER}); built once: the")
    print(f"initializer object made beforehand, only called; target: < {SMALL_BOUND_US:g} us; "
          f"np.linalg.qr for scale (orthogonal ones skip it: own small QR)")
    print(SMALL_HEADER)
    print("-" * len(SMALL_HEADER))
    for label, (_, built, targeted) in cases.items():
        row = {"call": label, "us": secs[(label, "call")] * 1e6,
               "built_once_us": secs[(label, "built")] * 1e6 if built is not None else None,
               "targeted": targeted, "reps": small_reps, "number": SMALL_NUMBER}
        result["small_calls"].append(row)
        print_small_row(row)

    print()
    print(f"torch.nn.init against fastinit's same-named function, same shape and dtype, "
          f"defaults: fastinit on a")
    print("NumPy array with generator=g, torch on a tensor (torch.from_numpy: the same "
          "memory); ns/element and ms per call;")
    print(f"torch/fi: speed-up of fastinit. {reps} reps, {slow_reps} for orthogonal_ and for "
          f"torch's {' and '.join(TORCH_SLOW)}")
    if torch is None:
        print("torch: n/a (torch skipped or not installed)")
    print(INIT_HEADER)
    print("-" * len(INIT_HEADER))
    # what orthogonal_ pays LAPACK: the QR of a Gaussian matrix of its shape and dtype
    qr_input = g.standard_normal(size=ORTHO_SHAPE, dtype=np.float32)
    for fn, dtype, arr, t, args in init_cases(buffers, shape, torch):
        fi = getattr(fastinit.init, fn)
        calls = {"fastinit": lambda: fi(arr, *args, generator=g), "torch": None}
        if t is not None:
            ti = getattr(torch.nn.init, fn)
            calls["torch"] = lambda: ti(t, *args)
        if fn == "orthogonal_":
            calls["np.linalg.qr"] = lambda: np.linalg.qr(qr_input)
        case_reps = slow_reps if fn == "orthogonal_" else reps
        torch_reps = slow_reps if fn in TORCH_SLOW else case_reps
        secs = time_case(calls, case_reps, order_rng, reps_of={"torch": torch_reps})
        row = {
            "section": "issue4", "case": f"{fn} {dtype}", "kind": "torch.nn.init",
            "function": fn, "args": list(args), "dtype": dtype, "shape": list(arr.shape),
            "threads": threads, "torch_threads": torch_threads,
            "reps": {"fastinit": case_reps,
                     "torch": torch_reps if secs["torch"] is not None else None},
            "median_s": secs,
            "ms": {k: (None if v is None else v * 1e3) for k, v in secs.items()},
            "ns_per_element": {k: (None if v is None else v * 1e9 / arr.size)
                               for k, v in secs.items()},
            "ratios": {"torch/fastinit": ratio(secs["torch"], secs["fastinit"])},
        }
        result["torch"].append(row)
        print_init_row(row)
    ortho = next(r for r in result["torch"] if r["function"] == "orthogonal_")
    print()
    print(f"orthogonal_ {shape_label(ortho['shape'])} float32 (informational): fastinit "
          f"{fmt(ortho['ms']['fastinit'], '.1f')} ms, torch {fmt(ortho['ms']['torch'], '.1f')} "
          f"ms, torch/fi {fmt(ortho['ratios']['torch/fastinit'], '.2f', 'x')}; np.linalg.qr "
          f"of a {shape_label(ortho['shape'])} float32")
    print(f"matrix alone (NumPy's LAPACK, timed with them): "
          f"{fmt(ortho['ms']['np.linalg.qr'], '.1f')} ms")
    return result


# ---- report ---------------------------------------------------------------------------

HEADER = (f"{'dist':<8} {'dtype':<9} {'thr':>3} | {'fastinit':>8} {'numpy':>8} {'torch':>8} "
          f"{'fill':>8} {'fill x T':>8} | {'np/fi':>7} {'torch/fi':>8} {'fi/fill':>7} "
          f"{'fi/fillxT':>9}")


def fmt(v, spec, suffix=""):
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def print_row(row):
    ns, r = row["ns_per_element"], row["ratios"]
    tfill = ns["fill_threaded"] if row["threads"] > 1 else None
    print(f"{row['dist']:<8} {row['dtype']:<9} {row['threads']:>3} | "
          f"{fmt(ns['fastinit'], '.3f'):>8} {fmt(ns['numpy'], '.3f'):>8} "
          f"{fmt(ns['torch'], '.3f'):>8} {fmt(ns['fill'], '.3f'):>8} "
          f"{(fmt(tfill, '.3f') if row['threads'] > 1 else '-'):>8} | "
          f"{fmt(r['numpy/fastinit'], '.1f', 'x'):>7} {fmt(r['torch/fastinit'], '.1f', 'x'):>8} "
          f"{fmt(r['fastinit/fill'], '.2f', 'x'):>7} "
          f"{(fmt(r['fastinit/fill_threaded'], '.2f', 'x') if row['threads'] > 1 else '-'):>9}",
          flush=True)


TN_HEADER = (f"{'interval':<9} {'dtype':<9} {'thr':>3} | {'trunc':>8} {'normal':>8} "
             f"{'torch*':>8} | {'tr/norm':>7} {'torch/tr':>8}")
SPARSE_HEADER = (f"{'shape':<11} {'density':>7} {'thr':>3} | {'fastinit':>9} {'torch':>9} | "
                 f"{'torch/fi':>8}")
BERNOULLI_HEADER = (f"{'p':<5} {'dtype':<6} {'thr':>3} | {'fastinit':>8} {'numpy':>8} | "
                    f"{'np/fi':>7}")


OVERHEAD_HEADER = (f"{'initializer':<34} {'bare fill':<38} | {'init':>7} {'bare':>7} | "
                   f"{'init/bare':>9} {'of medians':>10}")
SMALL_HEADER = f"{'call':<67} | {'us':>6} {'built once':>10}"
INIT_HEADER = (f"{'function':<16} {'dtype':<8} {'shape':<9} | {'fi ns/el':>8} {'torch':>8} | "
               f"{'fi ms':>8} {'torch ms':>8} | {'torch/fi':>8}")


def print_overhead_row(row):
    ms, r = row["ms"], row["ratios"]
    print(f"{row['init']:<34} {row['bare']:<38} | {ms['init']:7.2f} {ms['bare']:7.2f} | "
          f"{fmt(r['init/bare'], '.4f', 'x'):>9} {fmt(r['of medians'], '.4f', 'x'):>10}",
          flush=True)


def print_small_row(row):
    print(f"{row['call']:<67} | {row['us']:6.2f} {fmt(row['built_once_us'], '.2f'):>10}",
          flush=True)


def print_init_row(row):
    ns, ms, r = row["ns_per_element"], row["ms"], row["ratios"]
    print(f"{row['function']:<16} {row['dtype']:<8} {shape_label(row['shape']):<9} | "
          f"{fmt(ns['fastinit'], '.3f'):>8} {fmt(ns['torch'], '.3f'):>8} | "
          f"{fmt(ms['fastinit'], '.2f'):>8} {fmt(ms['torch'], '.1f'):>8} | "
          f"{fmt(r['torch/fastinit'], '.1f', 'x'):>8}", flush=True)


def print_tn_row(row):
    ns, r = row["ns_per_element"], row["ratios"]
    print(f"{row['interval']:<9} {row['dtype']:<9} {row['threads']:>3} | "
          f"{fmt(ns['truncated'], '.3f'):>8} {fmt(ns['normal'], '.3f'):>8} "
          f"{fmt(ns['torch'], '.3f'):>8} | {fmt(r['trunc/normal'], '.2f', 'x'):>7} "
          f"{fmt(r['torch/trunc'], '.1f', 'x'):>8}", flush=True)


def print_sparse_row(row):
    ms, r = row["ms"], row["ratios"]
    shape = "x".join(str(d) for d in row["shape"])
    print(f"{shape:<11} {row['density']:>7g} {row['threads']:>3} | "
          f"{fmt(ms['fastinit'], '.3f'):>9} {fmt(ms['torch'], '.1f'):>9} | "
          f"{fmt(r['torch/fastinit'], '.1f', 'x'):>8}", flush=True)


def print_bernoulli_row(row):
    ns, r = row["ns_per_element"], row["ratios"]
    print(f"{row['p']:<5g} {row['dtype']:<6} {row['threads']:>3} | "
          f"{fmt(ns['fastinit'], '.3f'):>8} {fmt(ns['numpy'], '.3f'):>8} | "
          f"{fmt(r['numpy/fastinit'], '.1f', 'x'):>7}", flush=True)


def target_status(value, op, bound):
    if value is None:
        return "N/A"
    if op == ">=":
        return "PASS" if value >= bound else "FAIL"
    if op == "<":
        return "PASS" if value < bound else "FAIL"
    return "PASS" if value <= bound else "FAIL"


def check_targets(rows, all_threads):
    by_case = {(r["dist"], r["dtype"], r["threads"]): r for r in rows}
    checks = []
    for label, dist, dtype, key, op, bound in TARGETS:
        value = by_case[(dist, dtype, all_threads)]["ratios"][key]
        checks.append({"target": label, "ratio": key, "value": value, "op": op,
                       "bound": bound, "threads": all_threads,
                       "status": target_status(value, op, bound)})
    return checks


def check_issue3_targets(rows, all_threads):
    by_case = {(r["case"], r["threads"]): r for r in rows}
    checks = []
    for label, case, key, op, bound in ISSUE3_TARGETS:
        value = by_case[(case, all_threads)]["ratios"][key]
        checks.append({"target": label, "case": case, "ratio": key, "value": value, "op": op,
                       "bound": bound, "threads": all_threads,
                       "status": target_status(value, op, bound)})
    return checks


def check_issue4_targets(result):
    """Section 3's targets: the overhead of kaiming_uniform_ on the large matrix, and the
    time of every targeted small call (in us: the check's "unit")."""
    over = next(r for r in result["overhead"] if r["case"] == "overhead kaiming_uniform_")
    value = over["ratios"]["init/bare"]
    checks = [{"target": f"kaiming_uniform_ {shape_label(over['shape'])} f32: within "
                         f"{OVERHEAD_BOUND:g}x g.uniform(-b, b)",
               "case": over["case"], "ratio": "init/bare", "value": value, "op": "<=",
               "bound": OVERHEAD_BOUND, "threads": result["threads"],
               "status": target_status(value, "<=", OVERHEAD_BOUND)}]
    for row in result["small_calls"]:
        if row["targeted"]:
            checks.append({"target": f"{row['call']}: < {SMALL_BOUND_US:g} us",
                           "case": row["call"], "ratio": "us/call", "value": row["us"],
                           "op": "<", "bound": SMALL_BOUND_US, "unit": "us",
                           "threads": result["threads"],
                           "status": target_status(row["us"], "<", SMALL_BOUND_US)})
    return checks


def print_checks(checks):
    width = max(58, max(len(c["target"]) for c in checks))
    for c in checks:
        unit = c.get("unit", "x")
        unit = unit if unit == "x" else " " + unit
        value = fmt(c["value"], ".2f", unit)
        print(f"  {c['status']:<4}  {c['target']:<{width}} ({c['ratio']} = {value}, "
              f"needs {c['op']} {c['bound']:g}{unit})")


def parse_count(text):
    """An element count: an int, or a power written as 2**k."""
    try:
        if "**" in text:
            base, exp = text.split("**")
            value = int(base) ** int(exp)
        else:
            value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an element count: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError("the element count must be positive")
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_all_paths(args):
    """--simd all: the sections once per SIMD path this CPU runs (scalar left out: it is the
    reference, not a path anyone picks), each run timing its peers again, so every path's
    ratios come from its own run; then the engine rows of all paths side by side."""
    paths = [s for s in fastinit.available_simd() if s != "scalar"] or ["scalar"]
    results, status = {}, 0
    with tempfile.TemporaryDirectory() as tmp:
        for simd in paths:
            sub = ["--simd", simd, "--section", args.section,
                   "--json", os.path.join(tmp, f"{simd}.json")]
            sub += ["--n", str(args.n)] if args.n is not None else []
            sub += ["--reps", str(args.reps)] if args.reps is not None else []
            sub += [flag for flag, on in (("--quick", args.quick), ("--no-torch", args.no_torch),
                                          ("--strict", args.strict)) if on]
            print(f"\n===== SIMD path {simd} =====\n")
            status |= main(sub)
            with open(os.path.join(tmp, f"{simd}.json")) as f:
                results[simd] = json.load(f)
    engine = {simd: r["cases"] for simd, r in results.items() if r["cases"]}
    if engine:
        print("\n===== every path: fastinit ns/element, and its speed-ups in that path's run "
              "=====")
        head = f"{'dist':8} {'dtype':9} {'thr':>3} |" + "".join(
            f" {simd:>30} |" for simd in engine)
        print(head)
        print(" " * 23 + "|" + "".join(f" {'ns':>8} {'np/fi':>10} {'torch/fi':>10} |"
                                       for _ in engine))
        first = next(iter(engine.values()))
        for i, case in enumerate(first):
            line = f"{case['dist']:8} {case['dtype']:9} {case['threads']:>3} |"
            for cases in engine.values():
                c, r = cases[i], cases[i]["ratios"]
                np_fi, t_fi = r.get("numpy/fastinit"), r.get("torch/fastinit")
                line += (f" {c['ns_per_element']['fastinit']:8.3f}"
                         f" {(f'{np_fi:.1f}x' if np_fi else 'n/a'):>10}"
                         f" {(f'{t_fi:.1f}x' if t_fi else 'n/a'):>10} |")
            print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"paths": results}, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    return status


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=parse_count, default=None,
                   help="elements per fill, an int or 2**k (default 2**26; 2**22 with --quick)")
    p.add_argument("--reps", type=positive_int, default=None,
                   help="timed repetitions per case, median reported (default 7; 3 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2**22 elements, 3 reps")
    p.add_argument("--simd", default="auto",
                   choices=("auto", "all", "scalar", "avx2", "avx512", "avx512vbmi", "neon"),
                   help="force fastinit's SIMD path (default: auto, the best this CPU runs); "
                        "all: every path this CPU runs but scalar, each a full run of the "
                        "sections in this process, then a table of the paths side by side")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--no-torch", action="store_true", help="skip torch even if installed")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if a target fails")
    p.add_argument("--section", default="all", choices=SECTIONS,
                   help="engine: section 1 (uniform/normal fills and small calls); issue3: "
                        "section 2 (truncated normal, Bernoulli, sparse masks); issue4: "
                        "section 3 (the initializer API); all (default)")
    args = p.parse_args(argv)
    if args.simd == "all":
        return run_all_paths(args)
    started = time.perf_counter()
    engine = args.section in ("engine", "all")
    issue3 = args.section in ("issue3", "all")
    issue4 = args.section in ("issue4", "all")

    n = args.n if args.n is not None else (2**22 if args.quick else 2**26)
    reps = args.reps if args.reps is not None else (3 if args.quick else 7)
    try:
        fastinit.set_simd(args.simd)
    except RuntimeError as e:
        p.error(str(e))
    torch = load_torch(args.no_torch)
    all_threads = fastinit.get_num_threads()
    thread_counts = sorted({1, all_threads})

    info = machine_info(torch)
    torch_missing = "n/a (skipped: --no-torch)" if args.no_torch else "n/a (not installed)"
    print("fastinit benchmark")
    print(f"  CPU:      {info['cpu']} ({info['cores_available']} cores available, "
          f"os.cpu_count() = {info['cpu_count']})")
    print(f"  fastinit: {info['fastinit']}, SIMD path {info['fastinit_simd']} "
          f"(requested {args.simd}; available {', '.join(info['fastinit_simd_available'])}), "
          f"default threads {all_threads}")
    print(f"  versions: python {info['python']}, numpy {info['numpy']}, "
          f"ml_dtypes {info['ml_dtypes']}, torch {info['torch'] or torch_missing}")
    if all_threads > 1:
        print(f"  parallel: {all_threads} threads get {info['parallel_capacity']:.2f} threads' "
              f"worth of compute (NumPy probe; {all_threads} on dedicated cores)")
    power = f" = 2**{n.bit_length() - 1}" if n & (n - 1) == 0 else ""
    print(f"  run:      n = {n:,} elements{power}, median of {reps} reps after a warm-up, "
          f"threads {thread_counts}, section {args.section}")

    buffers = Buffers(n, torch, masks=issue3, matrices=issue4)
    rows, checks, small = [], [], None
    issue3_rows, issue3_checks = [], []
    issue4_result, issue4_checks = None, []

    if engine:
        print()
        print("Section 1 (engine): uniform and normal fills")
        print("ns/element (lower is better); np/fi and torch/fi: speed-up of fastinit;")
        print("fi/fill: fastinit's time over fill(0.5); fi/fillxT: over the fill split across "
              "T threads")
        print(HEADER)
        print("-" * len(HEADER))

        rows = run_cases(buffers, n, reps, thread_counts, torch)

        checks = check_targets(rows, all_threads)
        print()
        print(f"Targets (all threads = {all_threads}, SIMD path {info['fastinit_simd']}):")
        print_checks(checks)

        small = small_calls(reps=max(reps, 5))
        print()
        print("Small-call overhead (100 float64 values, median of timeit runs):")
        for fn, s in small.items():
            print(f"  {fn + '(100)':<20} fastinit {s['fastinit_us']:7.2f} us   "
                  f"numpy {s['numpy_us']:7.2f} us   fastinit/numpy {s['fastinit/numpy']:.2f}x")

    if issue3:
        print()
        print("Section 2 (issue3): truncated normal, sparse masks, Bernoulli")
        issue3_rows = run_issue3(buffers, n, reps, thread_counts, torch)

        issue3_checks = check_issue3_targets(issue3_rows, all_threads)
        print()
        print(f"Section 2 targets (all threads = {all_threads}, SIMD path "
              f"{info['fastinit_simd']}):")
        print_checks(issue3_checks)

    if issue4:
        print()
        print("Section 3 (issue4): the initializer API (fastinit.init, fastinit.initializers)")
        section_started = time.perf_counter()
        issue4_result = run_issue4(buffers, n, reps, all_threads, torch)
        issue4_result["elapsed_s"] = time.perf_counter() - section_started

        issue4_checks = check_issue4_targets(issue4_result)
        print()
        print(f"Section 3 targets (all threads = {all_threads}, SIMD path "
              f"{info['fastinit_simd']}):")
        print_checks(issue4_checks)
        print(f"Section 3 elapsed: {issue4_result['elapsed_s']:.1f} s")

    elapsed = time.perf_counter() - started
    print()
    print(f"Elapsed: {elapsed:.1f} s")

    if args.json:
        result = {"machine": info,
                  "config": {"n": n, "reps": reps, "simd_requested": args.simd,
                             "thread_counts": thread_counts, "section": args.section,
                             "torch_trunc_normal_prefix": min(n, TORCH_TN_PREFIX),
                             "slow_reps": min(reps, SLOW_REPS),
                             "issue4_shape": list(matrix_shape(n)),
                             "issue4_overhead_reps": max(OVERHEAD_REPS, 5 * reps)},
                  "cases": rows, "checks": checks, "small_calls": small,
                  "issue3": {"cases": issue3_rows, "checks": issue3_checks},
                  "issue4": dict(issue4_result or {}, checks=issue4_checks),
                  "elapsed_s": elapsed}
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")

    if args.strict and any(c["status"] == "FAIL"
                           for c in checks + issue3_checks + issue4_checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
