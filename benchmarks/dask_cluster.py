"""Dask (issue 6): fastinit.dask on a distributed.LocalCluster against single-process fastinit.

Run from the repository root (fastinit, dask and distributed installed):

    python benchmarks/dask_cluster.py                  # full run: 4 GiB tensor, 5 rounds
                                                       # (4 to 5 minutes on 2 cores)
    python benchmarks/dask_cluster.py --quick          # 256 MiB tensor, 3 rounds: 25-45 s
    python benchmarks/dask_cluster.py --json out.json  # also write every number as JSON

The work: x = fastinit.dask.normal(0, 1, size=(32768, 32768), chunks=(4096, 4096), seed=s,
dtype="float32") (4 GiB in 64 chunks of 64 MiB; --quick: 8192 x 8192 in 1024 x 1024
chunks, the same 8 x 8 grid), reduced by x.std(); the timed call is the whole
x.std().compute(), from the graph to the number. Contenders, interleaved in each round
(shuffled order, medians over the rounds, one warm-up each):

    single       one process, fastinit on all threads: fastinit.Generator(s).normal(0, 1,
                 size=shape, dtype="float32") (allocation and page faults included), then
                 np.std of it; the generation and the std are timed separately too
    single chunked  one process, fastinit on all threads, chunk by chunk (the same 64 MiB
                 blocks, index=, into one reused buffer): per block a float64 sum and
                 row-wise float32 sums of squares (np.einsum) added in float64;
                 std = sqrt(E[x^2] - E[x]^2). The
                 same work as Dask's, without Dask and without a 4 GiB array
    threads      the same Dask graph on the local threaded scheduler (2 threads, one
                 process; fastinit 1 thread per task), informational
    2x1          distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                 dashboard_address=None): two worker processes, fastinit 1 thread each
    1x2          LocalCluster(n_workers=1, threads_per_worker=2): one worker process, two
                 task threads, fastinit 1 thread per task
    2x1 default  as 2x1, with fastinit's default thread count in the workers (every worker
                 uses all CPUs: 2 processes x 2 fastinit threads on 2 cores), informational

fastinit's thread count in the workers is set with client.run(fastinit.set_num_threads, k)
once the cluster is up (FASTINIT_NUM_THREADS is read when fastinit is imported, and a
spawned worker imports this script, hence fastinit, before LocalCluster's env= applies).
Clusters are started (untimed) before the rounds and stay up, idle, between their calls.

Throughput = 4 GiB (as 4.295 GB) / seconds. TARGET: the clusters' throughput at least 0.6x
single-process fastinit's on the same work (single: generation + np.std), both 2x1 and
1x2; against single chunked (the same work done chunk by chunk without Dask: stricter, it
leaves Dask nothing but its own overhead and reduction) the ratio is informational. The
graph: the number of tasks and len(pickle.dumps(dict(graph))) of x and of x.std(), at the
full size and at 1/100 of it with the same 8 x 8 chunk grid: they must not grow with the
size. Exits 0 even when a target fails, unless --strict.
"""
from __future__ import annotations

import copy
import logging
import pickle
import warnings
import sys
import time

import numpy as np

import _timing as T
import fastinit

FULL = dict(shape=(32768, 32768), chunks=(4096, 4096))
QUICK = dict(shape=(8192, 8192), chunks=(1024, 1024))
TARGET = 0.6
# name, n_workers, threads_per_worker, fastinit threads per worker (None: its default)
CLUSTERS = (("2x1", 2, 1, 1), ("1x2", 1, 2, 1), ("2x1 default", 2, 1, None))
TARGET_CLUSTERS = ("2x1", "1x2")


def lazy_std(shape, chunks, seed):
    import fastinit.dask
    x = fastinit.dask.normal(0.0, 1.0, size=shape, chunks=chunks, seed=seed, dtype="float32")
    return x, x.std()


def graph_stats(shape, chunks, seed):
    x, s = lazy_std(shape, chunks, seed)
    out = {"shape": list(shape), "chunks": list(chunks),
           "grid": [len(c) for c in x.chunks], "nbytes": x.nbytes}
    for label, arr in (("x", x), ("std", s)):
        g = dict(arr.__dask_graph__())
        out[f"{label}_tasks"] = len(g)
        out[f"{label}_pickle_bytes"] = len(pickle.dumps(g))
    return out


def quiet_logs():
    """distributed's INFO lines (LocalCluster's silence_logs is undone when it closes)."""
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.ERROR)


def start_clusters(names):
    from distributed import Client, LocalCluster
    out = {}
    # each LocalCluster's scheduler wants port 8787 for its HTTP server, dashboard or not
    warnings.filterwarnings("ignore", message="Port 8787 is already in use")
    for name, n_workers, tpw, fi_threads in CLUSTERS:
        if name not in names:
            continue
        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=tpw, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)
        quiet_logs()
        if fi_threads is not None:
            client.run(fastinit.set_num_threads, fi_threads)
        threads = sorted(client.run(fastinit.get_num_threads).values())
        out[name] = {"cluster": cluster, "client": client, "n_workers": n_workers,
                     "threads_per_worker": tpw, "fastinit_threads_per_worker": threads,
                     "startup_s": time.perf_counter() - t0}
    return out


def main(argv=None):
    p = T.base_parser(__doc__, reps_default=5, reps_quick=3)
    p.add_argument("--no-default-threads-cluster", action="store_true",
                   help="skip the informational '2x1 default' cluster")
    args = p.parse_args(argv)
    reps = T.reps_of(args)
    t_start = time.perf_counter()
    cfg = QUICK if args.quick else FULL
    shape, chunks = cfg["shape"], cfg["chunks"]
    small_chunks = tuple(max(1, c // 10) for c in chunks)
    grid = [-(-s // c) for s, c in zip(shape, chunks)]
    small_shape = tuple(g * c for g, c in zip(grid, small_chunks))
    nbytes = int(np.prod(shape)) * 4
    all_threads = fastinit.get_num_threads()

    info = T.machine_info(("numpy", "fastinit", "dask", "distributed"))
    info.update(fastinit_threads=all_threads, fastinit_simd=fastinit.get_simd(),
                parallel_capacity=T.parallel_capacity(all_threads))
    print("Dask benchmark (issue 6)" + (" -- QUICK smoke run" if args.quick else ""))
    T.print_machine(info, [
        f"parallel: {info['parallel_capacity']:.2f} of {all_threads} threads' worth of "
        "compute (a NumPy loop alone vs on every thread at once; ~1 means the cores are "
        "shared)",
        f"tensor: float32 {shape[0]} x {shape[1]} = {nbytes / 2**30:.2f} GiB in chunks of "
        f"{chunks[0]} x {chunks[1]} ({chunks[0] * chunks[1] * 4 / 2**20:.0f} MiB), grid "
        f"{grid[0]} x {grid[1]}; rounds {reps}"])

    # ---- graph size ----
    gfull = graph_stats(shape, chunks, args.seed)
    gsmall = graph_stats(small_shape, small_chunks, args.seed)
    T.print_table(
        ["tensor", "GiB", "chunk grid", "tasks x", "pickle x (B)", "tasks x.std()",
         "pickle x.std() (B)"],
        [[f"{g['shape'][0]} x {g['shape'][1]}", f"{g['nbytes'] / 2**30:.4f}",
          f"{g['grid'][0]} x {g['grid'][1]}", g["x_tasks"], g["x_pickle_bytes"],
          g["std_tasks"], g["std_pickle_bytes"]] for g in (gfull, gsmall)],
        title="Graph: len(graph) and len(pickle.dumps(dict(graph))), full size and 1/100 "
              "of it (same chunk grid)")

    # ---- contenders ----
    names = [c[0] for c in CLUSTERS if not (args.no_default_threads_cluster
                                             and c[0] == "2x1 default")]
    print(f"\nstarting clusters: {', '.join(names)} ...", flush=True)
    clusters = start_clusters(names)
    for name, c in clusters.items():
        print(f"  {name}: {c['n_workers']} worker process(es) x {c['threads_per_worker']} "
              f"thread(s), fastinit threads per worker {c['fastinit_threads_per_worker']}, "
              f"started in {c['startup_s']:.1f} s")
    _, s = lazy_std(shape, chunks, args.seed)
    values, single_parts = {}, {"gen": [], "std": []}

    def single():
        fastinit.set_num_threads(all_threads)
        t0 = time.perf_counter()
        a = fastinit.Generator(args.seed).normal(0.0, 1.0, size=shape, dtype="float32")
        t1 = time.perf_counter()
        v = float(np.std(a))
        t2 = time.perf_counter()
        del a
        single_parts["gen"].append(t1 - t0)
        single_parts["std"].append(t2 - t1)
        values["single"] = v

    chunk_index = [np.s_[i:i + chunks[0], j:j + chunks[1]]
                   for i in range(0, shape[0], chunks[0]) for j in range(0, shape[1], chunks[1])]

    def single_chunked():
        fastinit.set_num_threads(all_threads)
        g0 = fastinit.Generator(args.seed)
        buf = np.empty(chunks, np.float32)
        n, s1, s2 = 0, 0.0, 0.0
        for idx in chunk_index:
            blk = buf[:len(range(*idx[0].indices(shape[0]))),
                      :len(range(*idx[1].indices(shape[1])))]
            copy.copy(g0).normal(0.0, 1.0, size=shape, index=idx, out=blk)
            n += blk.size
            s1 += float(blk.sum(dtype=np.float64))
            # float32 sums of squares row by row (a single float32 np.dot over 16M values
            # loses ~1e-4), added up in float64
            s2 += float(np.einsum("ij,ij->i", blk, blk).sum(dtype=np.float64))
        mean = s1 / n
        values["single chunked"] = (s2 / n - mean * mean) ** 0.5

    def threaded():
        fastinit.set_num_threads(1)
        try:
            values["threads"] = float(s.compute(scheduler="threads", num_workers=2))
        finally:
            fastinit.set_num_threads(all_threads)

    def on_cluster(name):
        client = clusters[name]["client"]

        def run():
            values[name] = float(client.compute(s).result())
        return run

    calls = {"single": single, "single chunked": single_chunked, "threads": threaded}
    calls.update({name: on_cluster(name) for name in clusters})
    try:
        samples = T.interleaved(calls, reps, seed=args.seed, settle=0.2, collect=True)
    finally:
        quiet_logs()
        for c in clusters.values():
            c["client"].close()
            c["cluster"].close()
    for k in single_parts:                  # drop the warm-up's parts
        single_parts[k] = single_parts[k][1:]
    med = {k: T.median(v) for k, v in samples.items()}
    gen_s, std_s = T.median(single_parts["gen"]), T.median(single_parts["std"])

    gb = nbytes / 1e9
    rows, result_rows = [], []
    labels = {"single": "single process: generate whole + np.std",
              "single chunked": "single process: per chunk, generate + sums",
              "threads": "dask, threaded scheduler (1 process x 2 threads)"}
    for name in calls:
        if name in clusters:
            c = clusters[name]
            label = (f"dask, LocalCluster {c['n_workers']} proc x {c['threads_per_worker']} "
                     f"thr (fastinit {c['fastinit_threads_per_worker'][0]} thr/worker)")
        else:
            label = labels[name]
        r = {"name": name, "label": label, "median_s": med[name], "samples_s": samples[name],
             "gb_per_s": gb / med[name], "vs_single": T.ratio(med["single"], med[name]),
             "vs_single_chunked": T.ratio(med["single chunked"], med[name]),
             "vs_single_gen_only": T.ratio(gen_s, med[name]), "std": values.get(name)}
        result_rows.append(r)
        rows.append([name, label, f"{med[name]:.2f}", f"{r['gb_per_s']:.2f}",
                     T.fmt(r["vs_single"], ".2f", "x"), T.fmt(r["vs_single_chunked"], ".2f", "x"),
                     T.fmt(r["vs_single_gen_only"], ".2f", "x"),
                     f"{values.get(name, float('nan')):.7f}"])
    rows.append(["  (gen only)", "single process: the generation part of single",
                 f"{gen_s:.2f}", f"{gb / gen_s:.2f}", "", "", "", ""])
    rows.append(["  (std only)", "single process: the np.std part of single",
                 f"{std_s:.2f}", f"{gb / std_s:.2f}", "", "", "", ""])
    T.print_table(["contender", "what", "seconds", "GB/s", "vs single", "vs chunked",
                   "vs gen only", "std"], rows,
                  title=f"x.std().compute() of {nbytes / 2**30:.2f} GiB float32 normals "
                        f"(median of {reps} interleaved rounds; GB/s = {gb:.3f} GB / s; "
                        "vs X = X's time / this time: the throughput ratio)")
    for r in result_rows:
        print(f"  {r['name']} runs (s): " + ", ".join(f"{x:.2f}" for x in r["samples_s"]))

    checks = T.Checks()
    by = {r["name"]: r for r in result_rows}
    for name in TARGET_CLUSTERS:
        if name in by:
            checks.add(f"dask {name} cluster throughput vs single-process fastinit "
                       "(generate whole + np.std)", by[name]["vs_single"], ">=", TARGET,
                       note=f"{by[name]['gb_per_s']:.2f} GB/s vs "
                            f"{by['single']['gb_per_s']:.2f} GB/s")
    for name in TARGET_CLUSTERS:
        if name in by:
            checks.info(f"dask {name} vs single chunked (stricter, informational)",
                        f"{by[name]['vs_single_chunked']:.2f}x ({by[name]['gb_per_s']:.2f} "
                        f"GB/s vs {by['single chunked']['gb_per_s']:.2f} GB/s)")
    spread = max(abs(v - values["single"]) / values["single"] for v in values.values())
    checks.add("std of every contender agrees with single-process np.std (rel. diff)",
               spread, "<=", 1e-5, unit="", spec=".1e", note=f"std ~ {values['single']:.7f}")
    same_tasks = (gfull["x_tasks"] == gsmall["x_tasks"]
                  and gfull["std_tasks"] == gsmall["std_tasks"])
    growth = max(gfull["x_pickle_bytes"] / gsmall["x_pickle_bytes"],
                 gfull["std_pickle_bytes"] / gsmall["std_pickle_bytes"])
    checks.add("graph bytes at full size / at 1/100 of it (same chunk grid)", growth, "<=",
               1.05, note=f"tasks {'equal' if same_tasks else 'DIFFER'}: "
                          f"{gfull['x_tasks']} / {gfull['std_tasks']} (x / x.std()); "
                          f"{gfull['x_pickle_bytes']} vs {gsmall['x_pickle_bytes']} B for x")
    if not same_tasks:
        checks.add("graph task count independent of size", 0.0, ">=", 1.0, unit="")
    if "2x1 default" in by:
        checks.info("2x1 with fastinit's default threads (informational)",
                    f"{by['2x1 default']['vs_single']:.2f}x of single-process")
    checks.print()
    result = {"machine": info, "quick": args.quick, "reps": reps, "shape": list(shape),
              "chunks": list(chunks), "nbytes": nbytes, "graph": {"full": gfull,
                                                                   "small": gsmall},
              "clusters": {k: {kk: vv for kk, vv in v.items()
                               if kk not in ("cluster", "client")}
                           for k, v in clusters.items()},
              "single_gen_s": gen_s, "single_std_s": std_s,
              "single_parts_s": single_parts, "rows": result_rows,
              "checks": checks.as_json(), "elapsed_s": time.perf_counter() - t_start}
    T.write_json(args.json, result)
    return T.finish(checks, args, t_start)


if __name__ == "__main__":
    sys.exit(main())
