"""Benchmark fastinit's large fills against NumPy, PyTorch and a plain memory fill.

Run from the repository root (fastinit installed, e.g. ``pip install -e .``):

    python benchmarks/run.py                  # full run: 2**26 elements, 7 reps (a few minutes)
    python benchmarks/run.py --quick          # smoke run: 2**22 elements, 3 reps
    python benchmarks/run.py --json out.json  # also write every number as JSON
    python benchmarks/run.py --simd avx2      # run fastinit on a forced SIMD path
    python benchmarks/run.py --n 2**24 --reps 11
    python benchmarks/run.py --section issue3 # only section 2 (engine: only section 1)

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
               and float64; the tails [5, 6], [8, 9], [3, inf] in float32. On [-2, 2]
               float32 also torch.nn.init.trunc_normal_(t, 0, 1, -2, 2), t = torch.from_numpy
               of the first 2**22 elements of the same buffer (torch takes tens of ns per
               element), with 3 reps; its ns per element are reported
    sparse     g.sparse_mask((4096, 1024), density=0.1, axis=0, out=m), m a preallocated bool
               array, against torch.nn.init.sparse_(w, 0.9) on a preallocated float32
               (4096, 1024) tensor (a Python loop over the columns), 3 reps; milliseconds
    bernoulli  g.bernoulli(0.3, out=u), u a preallocated uint8 array, against what NumPy
               users write, rng.random(n) < p, made like for like with preallocated buffers:
               np.less(rng.random(out=f), 0.3, out=u.view(bool)), f the float64 buffer

Its targets are PASS/FAIL lines too. Pass --strict to exit with status 1 when a target of
either section fails.
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
SECTIONS = ("engine", "issue3", "all")
INF = float("inf")
# (interval label, a, b, dtypes): truncated_normal(mean=0, std=1, a, b) against standard_normal.
TN_CASES = (
    ("[-2, 2]", -2.0, 2.0, ("float32", "bfloat16", "float64")),
    ("[5, 6]", 5.0, 6.0, ("float32",)),
    ("[8, 9]", 8.0, 9.0, ("float32",)),
    ("[3, inf]", 3.0, INF, ("float32",)),
)
TN_CONTENDERS = ("truncated", "normal", "torch")
TORCH_TN_INTERVAL = "[-2, 2]"   # torch trunc_normal_ runs on this interval, float32 only
TORCH_TN_PREFIX = 2**22         # ... on this many leading elements of the buffer
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
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
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
        "parallel_capacity": parallel_capacity(fastinit.get_num_threads()),
    }


def parallel_capacity(threads, loops=1000, reps=3):
    """How many threads' worth of compute `threads` threads get here: a compute-bound,
    cache-resident NumPy loop (np.exp releases the GIL) run once alone, then once on each
    of `threads` threads at the same time. About `threads` on dedicated cores; less on a
    shared or throttled machine, which caps every all-threads row."""
    if threads < 2:
        return 1.0
    x = np.linspace(-1.0, 1.0, 1 << 14)

    def work():
        y = np.empty_like(x)
        for _ in range(loops):
            np.exp(x, out=y)

    estimates = []
    with ThreadPoolExecutor(max_workers=threads) as pool:
        work()
        for _ in range(reps):
            t0 = time.perf_counter()
            work()
            alone = time.perf_counter() - t0
            t0 = time.perf_counter()
            for f in [pool.submit(work) for _ in range(threads)]:
                f.result()
            together = time.perf_counter() - t0
            estimates.append(threads * alone / together)
    return statistics.median(estimates)


class Buffers:
    """One buffer per dtype, allocated and faulted in once, shared by every contender and
    both sections; with masks=True (section 2) also the uint8 Bernoulli buffer and the
    sparse-mask outputs (a bool array and a float32 torch tensor)."""

    def __init__(self, n, torch, masks=False):
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


def time_case(calls, reps, order_rng, reps_of=None):
    """Median seconds per call of each contender: a warm-up call each, then reps rounds,
    each running every contender once, in a freshly shuffled order. reps_of gives some
    contenders (slow ones) fewer reps: they take part in the first rounds only."""
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


def small_calls(reps, number=20000, seed=12345):
    """Seconds per call of 100-value fills (float64, the default dtype), fastinit vs numpy."""
    g = fastinit.Generator(seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    timers = {
        ("random", "fastinit"): timeit.Timer(lambda: g.random(100)),
        ("random", "numpy"): timeit.Timer(lambda: rng.random(100)),
        ("standard_normal", "fastinit"): timeit.Timer(lambda: g.standard_normal(100)),
        ("standard_normal", "numpy"): timeit.Timer(lambda: rng.standard_normal(100)),
    }
    for t in timers.values():
        t.timeit(number // 10)          # warm-up
    samples = {key: [] for key in timers}
    for _ in range(reps):
        for key, t in timers.items():   # interleaved, like the large fills
            samples[key].append(t.timeit(number) / number)
    out = {}
    for fn in ("random", "standard_normal"):
        fi = statistics.median(samples[(fn, "fastinit")])
        nps = statistics.median(samples[(fn, "numpy")])
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


def print_checks(checks):
    width = max(58, max(len(c["target"]) for c in checks))
    for c in checks:
        value = fmt(c["value"], ".2f", "x")
        print(f"  {c['status']:<4}  {c['target']:<{width}} ({c['ratio']} = {value}, "
              f"needs {c['op']} {c['bound']:g}x)")


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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=parse_count, default=None,
                   help="elements per fill, an int or 2**k (default 2**26; 2**22 with --quick)")
    p.add_argument("--reps", type=positive_int, default=None,
                   help="timed repetitions per case, median reported (default 7; 3 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2**22 elements, 3 reps")
    p.add_argument("--simd", default="auto", choices=("auto", "scalar", "avx2", "avx512"),
                   help="force fastinit's SIMD path (default: auto, the best this CPU runs)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--no-torch", action="store_true", help="skip torch even if installed")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if a target fails")
    p.add_argument("--section", default="all", choices=SECTIONS,
                   help="engine: section 1 (uniform/normal fills and small calls); issue3: "
                        "section 2 (truncated normal, Bernoulli, sparse masks); all (default)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    engine = args.section in ("engine", "all")
    issue3 = args.section in ("issue3", "all")

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

    buffers = Buffers(n, torch, masks=issue3)
    rows, checks, small = [], [], None
    issue3_rows, issue3_checks = [], []

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

    elapsed = time.perf_counter() - started
    print()
    print(f"Elapsed: {elapsed:.1f} s")

    if args.json:
        result = {"machine": info,
                  "config": {"n": n, "reps": reps, "simd_requested": args.simd,
                             "thread_counts": thread_counts, "section": args.section,
                             "torch_trunc_normal_prefix": min(n, TORCH_TN_PREFIX),
                             "slow_reps": min(reps, SLOW_REPS)},
                  "cases": rows, "checks": checks, "small_calls": small,
                  "issue3": {"cases": issue3_rows, "checks": issue3_checks},
                  "elapsed_s": elapsed}
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")

    if args.strict and any(c["status"] == "FAIL" for c in checks + issue3_checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
