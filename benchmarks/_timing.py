"""Small helpers shared by torch_dropin.py, dask_cluster.py and checkpoint.py.

Standard library only (NumPy is imported lazily by parallel_capacity), so that a script that
must stay small in memory (checkpoint.py's parent process, whose RSS would otherwise leak
into its children's peak RSS) can import it.

    interleaved()   A/B/... timing: a warm-up call each, then rounds that run every
                    contender once in a freshly shuffled order, each after a short pause
    Checks          PASS/FAIL lines for targets (and informational lines)
    print_table()   a plain aligned text table
    base_parser()   --quick, --json PATH, --strict, --reps, --seed
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
from importlib import metadata

# Pause before each timed call, so that the OpenMP threads of the previous call (fastinit's
# and torch's are separate runtimes) have stopped spin-waiting.
SETTLE_S = 0.005


# ---- command line ----------------------------------------------------------------------

def base_parser(description, reps_default, reps_quick):
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a small smoke run (well under a minute)")
    p.add_argument("--json", metavar="PATH", help="also write every number to PATH as JSON")
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when a target fails")
    p.add_argument("--reps", type=int, default=None,
                   help=f"timed rounds (default {reps_default}; {reps_quick} with --quick)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the shuffling and fills")
    p.set_defaults(_reps_default=reps_default, _reps_quick=reps_quick)
    return p


def reps_of(args):
    if args.reps is not None:
        if args.reps < 1:
            raise SystemExit("--reps must be at least 1")
        return args.reps
    return args._reps_quick if args.quick else args._reps_default


# ---- timing ----------------------------------------------------------------------------

def interleaved(calls, reps, seed=0, slow=None, warmup=True, settle=SETTLE_S, after=None,
                collect=False):
    """Seconds of every timed call, by contender: {name: [s, ...]}.

    calls: {name: zero-argument callable}; a None callable is n/a and gets no samples.
    A warm-up call each (warmup: True, False, or the names to warm up), then `reps` rounds;
    each round runs every live contender once, in a freshly shuffled order, each after
    `settle` seconds of sleep.
    slow: {name: k}: that contender takes part in the first k rounds only. after(name) runs
    (untimed) after each call, warm-ups included, e.g. to free what the call made;
    collect=True runs gc.collect() before each call (untimed) instead of disabling the
    collector during the rounds."""
    rng = random.Random(seed)
    live = [n for n, fn in calls.items() if fn is not None]
    limit = {n: min(reps, (slow or {}).get(n, reps)) for n in live}
    if warmup:
        for n in live:
            if warmup is not True and n not in warmup:
                continue
            calls[n]()
            if after is not None:
                after(n)
    samples = {n: [] for n in live}
    gc.collect()
    if not collect:
        gc.disable()
    try:
        for i in range(reps):
            order = [n for n in live if limit[n] > i]
            rng.shuffle(order)
            for n in order:
                if collect:
                    gc.collect()
                time.sleep(settle)
                t0 = time.perf_counter()
                calls[n]()
                samples[n].append(time.perf_counter() - t0)
                if after is not None:
                    after(n)
    finally:
        gc.enable()
    return samples


def median(xs):
    return statistics.median(xs) if xs else None


def ratio(num, den):
    return None if num is None or den is None or den == 0 else num / den


def fmt(v, spec=".2f", suffix="", none="n/a"):
    return none if v is None else f"{v:{spec}}{suffix}"


# ---- memory ------------------------------------------------------------------------------

def meminfo(key="MemAvailable"):
    """A /proc/meminfo field in bytes (None where there is no /proc)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def proc_status(field="VmHWM", pid="self"):
    """A /proc/<pid>/status memory field in bytes (VmHWM: peak RSS; VmRSS: current)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def gib(n):
    return None if n is None else n / 2**30


# ---- machine -------------------------------------------------------------------------------

def version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_and_cores():
    """The CPU's model name and the cores this process may use."""
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
    return cpu, cores


def machine_info(packages=("numpy", "torch", "fastinit")):
    """CPU, cores, RAM and package versions, without importing the packages."""
    cpu, cores = cpu_and_cores()
    info = {"cpu": cpu, "cores_available": cores, "python": platform.python_version(),
            "mem_total_gib": gib(meminfo("MemTotal")),
            "mem_available_gib": gib(meminfo("MemAvailable")),
            "loadavg_1min_at_start": os.getloadavg()[0]}
    info["packages"] = {p: version(p) for p in packages}
    return info


def print_machine(info, extra=()):
    print(f"machine: {info['cpu']}, {info['cores_available']} cores available, "
          f"{fmt(info['mem_total_gib'], '.1f')} GiB RAM "
          f"({fmt(info['mem_available_gib'], '.1f')} GiB available), "
          f"Python {info['python']}; load average {info['loadavg_1min_at_start']:.2f} "
          "(other processes on this VM skew every number)")
    pk = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v is not None)
    print(f"packages: {pk}")
    for line in extra:
        print(line)


def parallel_capacity(threads, loops=600, reps=3):
    """How many threads' worth of compute `threads` threads get here: a cache-resident NumPy
    loop (np.exp releases the GIL) alone, then on `threads` threads at once. About `threads`
    on dedicated cores; nearer 1 on a busy shared VM, which caps every parallel number."""
    if threads < 2:
        return 1.0
    import numpy as np
    from concurrent.futures import ThreadPoolExecutor
    x = np.linspace(-1.0, 1.0, 1 << 14)

    def work():
        y = np.empty_like(x)
        for _ in range(loops):
            np.exp(x, out=y)

    est = []
    with ThreadPoolExecutor(threads) as pool:
        work()
        for _ in range(reps):
            t0 = time.perf_counter()
            work()
            alone = time.perf_counter() - t0
            t0 = time.perf_counter()
            for f in [pool.submit(work) for _ in range(threads)]:
                f.result()
            est.append(threads * alone / (time.perf_counter() - t0))
    return statistics.median(est)


# ---- output --------------------------------------------------------------------------------

def print_table(headers, rows, title=None, out=None):
    """Columns left-aligned for the first, right-aligned for the others."""
    out = out or sys.stdout
    rows = [[("" if v is None else str(v)) for v in r] for r in rows]
    widths = [max([len(headers[c])] + [len(r[c]) for r in rows]) for c in range(len(headers))]

    def line(vals):
        return "  ".join(v.ljust(w) if c == 0 else v.rjust(w)
                         for c, (v, w) in enumerate(zip(vals, widths))).rstrip()
    if title:
        out.write(f"\n{title}\n")
    out.write(line(headers) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in rows:
        out.write(line(r) + "\n")
    out.flush()


class Checks:
    """Targets as PASS/FAIL lines; informational lines say INFO and never fail."""

    def __init__(self):
        self.items = []

    def add(self, label, value, op, bound, unit="x", note="", spec=".2f"):
        if value is None:
            status = "FAIL"
            shown = "n/a"
        else:
            ok = value >= bound if op == ">=" else value <= bound
            status = "PASS" if ok else "FAIL"
            shown = f"{value:{spec}}{unit}"
        self.items.append({"label": label, "value": value, "op": op, "bound": bound,
                           "status": status, "note": note,
                           "line": f"{status}  {label}: {shown} (target {op} {bound:g}{unit})"
                                   + (f"  [{note}]" if note else "")})
        return status == "PASS"

    def info(self, label, text):
        self.items.append({"label": label, "status": "INFO", "line": f"INFO  {label}: {text}"})

    def print(self, title="Targets"):
        print(f"\n{title}")
        for it in self.items:
            print("  " + it["line"])
        sys.stdout.flush()

    @property
    def failed(self):
        return [it for it in self.items if it["status"] == "FAIL"]

    def as_json(self):
        return [{k: v for k, v in it.items() if k != "line"} | {"line": it["line"]}
                for it in self.items]


def write_json(path, data):
    if not path:
        return
    with open(path, "w") as f:
        json.dump(data, f, indent=2, default=_json_default, allow_nan=True)
        f.write("\n")
    print(f"wrote {path}")


def _json_default(o):
    for attr in ("item", "tolist"):         # NumPy scalars and arrays
        if hasattr(o, attr):
            return getattr(o, attr)()
    return str(o)


def finish(checks, args, t_start):
    """Print the elapsed time; the exit status: 1 only with --strict and a failed target."""
    print(f"\nelapsed: {time.perf_counter() - t_start:.1f} s; load average now "
          f"{os.getloadavg()[0]:.2f}")
    if checks.failed and args.strict:
        print(f"--strict: {len(checks.failed)} target(s) failed")
        return 1
    return 0
