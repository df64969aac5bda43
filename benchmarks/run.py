"""Benchmark fastinit's large fills against NumPy, PyTorch and a plain memory fill.

Run from the repository root (fastinit installed, e.g. ``pip install -e .``):

    python benchmarks/run.py                  # full run: 2**26 elements, 7 reps (a few minutes)
    python benchmarks/run.py --quick          # smoke run: 2**22 elements, 3 reps
    python benchmarks/run.py --json out.json  # also write every number as JSON
    python benchmarks/run.py --simd avx2      # run fastinit on a forced SIMD path
    python benchmarks/run.py --n 2**24 --reps 11

What is timed, for each distribution (uniform, normal), dtype (float32, bfloat16, float64)
and thread count (1, and fastinit's default: all the CPUs this process may use):

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
Pass --strict to exit with status 1 when a target fails.
"""
from __future__ import annotations

import argparse
import gc
import json
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
    """One buffer per dtype, allocated and faulted in once, shared by every contender."""

    def __init__(self, n, torch):
        self.arrays, self.tensors = {}, {}
        for name, dt in DTYPES.items():
            a = np.empty(n, dtype=dt)
            self.fill_view(a).fill(0)       # fault every page in before any timing
            self.arrays[name] = a
            if torch is not None:
                self.tensors[name] = self.torch_view(torch, a)

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


def time_case(calls, reps, order_rng):
    """Median seconds per call of each contender: a warm-up call each, then reps rounds,
    each running every contender once, in a freshly shuffled order."""
    live = [name for name, fn in calls.items() if fn is not None]
    for name in live:
        calls[name]()
    samples = {name: [] for name in live}
    gc.collect()
    gc.disable()
    try:
        for _ in range(reps):
            order_rng.shuffle(live)
            for name in live:
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


def run_cases(n, reps, thread_counts, torch, seed=12345):
    g = fastinit.Generator(seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    buffers = Buffers(n, torch)
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


def check_targets(rows, all_threads):
    by_case = {(r["dist"], r["dtype"], r["threads"]): r for r in rows}
    checks = []
    for label, dist, dtype, key, op, bound in TARGETS:
        value = by_case[(dist, dtype, all_threads)]["ratios"][key]
        if value is None:
            status = "N/A"
        elif op == ">=":
            status = "PASS" if value >= bound else "FAIL"
        else:
            status = "PASS" if value <= bound else "FAIL"
        checks.append({"target": label, "ratio": key, "value": value, "op": op,
                       "bound": bound, "threads": all_threads, "status": status})
    return checks


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
    args = p.parse_args(argv)

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
          f"threads {thread_counts}")
    print()
    print("ns/element (lower is better); np/fi and torch/fi: speed-up of fastinit;")
    print("fi/fill: fastinit's time over fill(0.5); fi/fillxT: over the fill split across T threads")
    print(HEADER)
    print("-" * len(HEADER))

    rows = run_cases(n, reps, thread_counts, torch)

    checks = check_targets(rows, all_threads)
    print()
    print(f"Targets (all threads = {all_threads}, SIMD path {info['fastinit_simd']}):")
    for c in checks:
        value = fmt(c["value"], ".2f", "x")
        print(f"  {c['status']:<4}  {c['target']:<58} ({c['ratio']} = {value}, "
              f"needs {c['op']} {c['bound']:g}x)")

    small = small_calls(reps=max(reps, 5))
    print()
    print("Small-call overhead (100 float64 values, median of timeit runs):")
    for fn, s in small.items():
        print(f"  {fn + '(100)':<20} fastinit {s['fastinit_us']:7.2f} us   "
              f"numpy {s['numpy_us']:7.2f} us   fastinit/numpy {s['fastinit/numpy']:.2f}x")

    if args.json:
        result = {"machine": info,
                  "config": {"n": n, "reps": reps, "simd_requested": args.simd,
                             "thread_counts": thread_counts},
                  "cases": rows, "checks": checks, "small_calls": small}
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")

    if args.strict and any(c["status"] == "FAIL" for c in checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
