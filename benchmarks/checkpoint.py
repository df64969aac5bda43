"""`fastinit init` (issue 7): a randomly initialized checkpoint, against what people do today.

Run from the repository root (fastinit installed; torch and safetensors for the torch paths):

    python benchmarks/checkpoint.py                  # llama-7b bf16 (13.5 GB), 3 rounds:
                                                     # about 11 minutes on 2 cores
    python benchmarks/checkpoint.py --quick          # tinyllama-1.1b (2.2 GB), 1 round, < 1 min
    python benchmarks/checkpoint.py --json out.json  # also write every number as JSON
    python benchmarks/checkpoint.py --dir /big/disk  # where checkpoints are written (default:
                                                     # a temporary directory)

Every contender runs in its own child process; its wall time (process start to exit, imports
included) is measured by this script and its peak RSS is the child's ru_maxrss from
os.wait4 (this parent stays small: standard library only, so that what a child inherits
before exec does not count; the parent's RSS is printed). GB/s = checkpoint bytes /
seconds. Each run writes to a fresh directory, deleted right after (then os.sync()).

    fastinit     python3 -m fastinit init --preset P -o DIR --force (hf scheme, bf16): made a
                 block at a time and streamed, fsynced before it returns
    torch        the usual path: for each tensor of fastinit.checkpoint.plan(PRESETS[P], "hf",
                 "bf16") (same names, shapes, dtype and rules), torch.empty + torch.nn.init
                 (normal_(t, 0, 0.02) for linear and embedding weights, ones_ for norms),
                 all kept in a dict, then safetensors.torch.save_file(dict, path), then
                 os.fsync of the file (timed separately: save_file does not fsync, fastinit
                 does, so like for like includes it; the time without it is printed too)
    torch-meta   the model's parameters first on the meta device (an nn.Module tree with the
                 plan's names), then materialized one by one (torch.empty_like(p,
                 device="cpu") + the same init) into a dict, save_file, fsync
    disk         informational, one run: the same number of bytes of a random 64 MiB buffer
                 written and fsynced: a reference for the disk's speed (on a VM whose disk
                 is a file in the host's page cache it moves by 3x from run to run, and a
                 fastinit run can beat it)

Memory safety: the torch paths hold the whole checkpoint in RAM. Before a full run, torch is
calibrated on tinyllama-1.1b (peak RSS per checkpoint byte), and if the predicted peak for
the preset exceeds --max-torch-gib (21) or MemAvailable minus 1.5 GiB, the torch paths run
on the same architecture with fewer layers (the most that fit) and their time is
extrapolated linearly in bytes to the full model (startup kept as measured), their RSS
likewise; the output says so. Before every torch child MemAvailable is checked, and while
any child runs, one whose MemAvailable drops below 1 GiB is killed.

TARGETS: fastinit at least 5x faster end to end than each torch path, and at most 1/10 of
its peak RSS. Rounds interleave the contenders (shuffled); medians. Exits 0 even when a
target fails, unless --strict.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import _timing as T

SPEED_TARGET = 5.0
RSS_TARGET = 0.1
GUARD_BYTES = 1 << 30           # kill a child when MemAvailable falls below this
MARGIN_BYTES = 3 << 29          # 1.5 GiB kept free when predicting a torch run
CALIBRATION_PRESET = "tinyllama-1.1b"
HERE = os.path.abspath(__file__)


# ==== children ==================================================================================
# These run in child processes (python3 benchmarks/checkpoint.py --child ...). They print one
# JSON line on stdout at the end.

def child_plan(a):
    from fastinit import checkpoint
    if a.config:
        with open(a.config) as f:
            cfg = json.load(f)
    else:
        cfg = checkpoint.PRESETS[a.preset]
    tensors = checkpoint.plan(cfg, "hf", "bf16")
    rows = [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
             "fn": checkpoint.INITS[t.init], "params": t.params, "nbytes": t.nbytes}
            for t in tensors]
    with open(a.out, "w") as f:
        json.dump({"config": cfg, "tensors": rows}, f)
    layer = sum(r["nbytes"] for r in rows if r["name"].startswith("model.layers.0."))
    total = sum(r["nbytes"] for r in rows)
    params = sum(math.prod(r["shape"]) for r in rows)
    print(json.dumps({"tensors": len(rows), "params": params,
                      "bytes": total, "layer_bytes": layer,
                      "layers": cfg["num_hidden_layers"],
                      "fixed_bytes": total - layer * cfg["num_hidden_layers"]}))


def fsync_path(path):
    """A written file's data on disk, as fastinit's writer leaves its files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def child_torch(a):
    t_begin = time.perf_counter()
    import torch
    from safetensors.torch import save_file
    t_imported = time.perf_counter()
    base_rss = T.proc_status("VmRSS")
    with open(a.plan) as f:
        plan = json.load(f)["tensors"]
    dtypes = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
              "f64": torch.float64}
    torch.manual_seed(0)

    def init(t, row):
        getattr(torch.nn.init, row["fn"])(t, **row["params"])

    tensors = {}
    if a.child == "torch":
        for row in plan:
            t = torch.empty(row["shape"], dtype=dtypes[row["dtype"]])
            init(t, row)
            tensors[row["name"]] = t
    else:                                   # torch-meta
        model = torch.nn.Module()
        for row in plan:                    # the parameters of a model built on meta
            *path, leaf = row["name"].split(".")
            m = model
            for part in path:
                if not hasattr(m, part):
                    m.add_module(part, torch.nn.Module())
                m = getattr(m, part)
            m.register_parameter(leaf, torch.nn.Parameter(
                torch.empty(row["shape"], dtype=dtypes[row["dtype"]], device="meta"),
                requires_grad=False))
        params = dict(model.named_parameters())
        for row in plan:                    # materialized one by one
            t = torch.empty_like(params[row["name"]], device="cpu")
            init(t, row)
            tensors[row["name"]] = t
        del model, params
    t_built = time.perf_counter()
    rss_built = T.proc_status("VmRSS")
    path = os.path.join(a.out, "model.safetensors")
    save_file(tensors, path)
    t_saved = time.perf_counter()
    fsync_path(path)
    t_synced = time.perf_counter()
    print(json.dumps({"import_s": t_imported - t_begin, "build_init_s": t_built - t_imported,
                      "save_s": t_saved - t_built, "fsync_s": t_synced - t_saved,
                      "work_s": t_synced - t_imported, "base_rss": base_rss,
                      "rss_after_build": rss_built, "vm_hwm": T.proc_status("VmHWM"),
                      "torch_threads": torch.get_num_threads(),
                      "bytes": sum(t.numel() * t.element_size() for t in tensors.values())}))


def child_disk(a):
    t0 = time.perf_counter()
    buf = memoryview(os.urandom(64 << 20))
    left = a.bytes
    path = os.path.join(a.out, "disk.bin")
    with open(path, "wb", buffering=0) as f:
        while left > 0:
            n = min(left, len(buf))
            f.write(buf[:n])
            left -= n
        os.fsync(f.fileno())
    print(json.dumps({"work_s": time.perf_counter() - t0, "vm_hwm": T.proc_status("VmHWM")}))


# ==== the parent ===============================================================================

def run_child(cmd, label, env=None):
    """Run cmd (with env added to the environment); wall seconds, the child's peak RSS
    (ru_maxrss of os.wait4), its last stdout line as JSON (if any). Kills it when
    MemAvailable drops below GUARD_BYTES."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err,
                                env=None if env is None else {**os.environ, **env})
        killed, min_avail = False, T.meminfo()
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            avail = T.meminfo()
            if avail is not None:
                min_avail = min(min_avail, avail)
                if avail < GUARD_BYTES and not killed:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
                    print(f"  !! {label}: MemAvailable {avail / 2**30:.2f} GiB: child killed",
                          flush=True)
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    data = None
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                pass
            break
    return {"label": label, "cmd": cmd, "wall_s": wall, "maxrss": ru.ru_maxrss * 1024,
            "returncode": proc.returncode, "killed": killed, "child": data,
            "min_mem_available": min_avail, "stdout": stdout[-2000:],
            "stderr": stderr[-2000:]}


def child_cmd(kind, **kw):
    cmd = [sys.executable, HERE, "--child", kind]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return cmd


def get_plan(workdir, preset=None, config=None, tag="plan"):
    """The plan (written to a JSON file for the torch children) and its totals."""
    path = os.path.join(workdir, f"{tag}.json")
    kw = {"out": path}
    if config is not None:
        cfg_path = os.path.join(workdir, f"{tag}-config.json")
        with open(cfg_path, "w") as f:
            json.dump(config, f)
        kw["config"] = cfg_path
    else:
        kw["preset"] = preset
    r = run_child(child_cmd("plan", **kw), tag)
    if r["returncode"] != 0 or r["child"] is None:
        raise SystemExit(f"plan child failed:\n{r['stderr']}")
    return path, r["child"]


def fresh_dir(base, name):
    d = os.path.join(base, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)
    os.sync()
    time.sleep(1.0)


def run_one(kind, base, i, preset, plan_path, nbytes, predicted_peak=None):
    d = fresh_dir(base, f"{kind}-{i}")
    try:
        if kind == "fastinit":
            cmd = [sys.executable, "-m", "fastinit", "init", "--preset", preset, "-o", d,
                   "--force"]
        elif kind == "disk":
            cmd = child_cmd("disk", out=d, bytes=nbytes)
        else:
            avail = T.meminfo()
            if predicted_peak is not None and avail is not None \
                    and predicted_peak + MARGIN_BYTES > avail:
                print(f"  skipped {kind} run {i}: predicted peak "
                      f"{predicted_peak / 2**30:.1f} GiB, MemAvailable {avail / 2**30:.1f} GiB",
                      flush=True)
                return None
            cmd = child_cmd(kind, plan=plan_path, out=d)
        r = run_child(cmd, kind)
    finally:
        cleanup(d)
    ok = r["returncode"] == 0 and not r["killed"]
    print(f"  {kind:<11} run {i}: {r['wall_s']:7.2f} s, peak RSS {r['maxrss'] / 2**20:8.0f} MiB"
          + ("" if ok else f"  FAILED (exit {r['returncode']}): {r['stderr'][-300:]}"),
          flush=True)
    r["ok"] = ok
    return r


def predict_peak(cal, nbytes):
    """Peak RSS of a torch run on nbytes, from a calibration run: base + k * bytes."""
    c = cal["child"]
    k = (cal["maxrss"] - c["base_rss"]) / c["bytes"]
    return c["base_rss"] + k * nbytes, k


def scaled_config(preset_cfg, plan_info, budget, cal):
    """The preset with the most layers whose predicted torch peak fits the budget."""
    c = cal["child"]
    k = (cal["maxrss"] - c["base_rss"]) / c["bytes"]
    room = (budget - c["base_rss"]) / k - plan_info["fixed_bytes"]
    layers = int(room // plan_info["layer_bytes"])
    layers = max(1, min(layers, plan_info["layers"]))
    cfg = dict(preset_cfg)
    cfg["num_hidden_layers"] = layers
    return cfg


def summarize(runs):
    ok = [r for r in runs if r and r["ok"]]
    if not ok:
        return None
    return {"wall_s": T.median([r["wall_s"] for r in ok]),
            "maxrss": max(r["maxrss"] for r in ok),
            "walls": [r["wall_s"] for r in ok], "runs": len(ok),
            "child": ok[0]["child"],
            "child_medians": ({k: T.median([r["child"][k] for r in ok])
                               for k in ok[0]["child"] if isinstance(ok[0]["child"][k], float)}
                              if ok[0]["child"] else {})}


# ==== --generic (issue 19): any architecture through transformers ==============================
# 7B-class bfloat16 configs of architectures other than the llama preset's.
GENERIC = {
    "qwen2-7b": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],
                 "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944,
                 "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
                 "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
                 "initializer_range": 0.02, "tie_word_embeddings": False, "dtype": "bfloat16"},
    "gemma-7b": {"model_type": "gemma", "architectures": ["GemmaForCausalLM"],
                 "vocab_size": 256000, "hidden_size": 3072, "intermediate_size": 24576,
                 "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 16,
                 "head_dim": 256, "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
                 "initializer_range": 0.02, "dtype": "bfloat16"},
    # Mixtral's layout at about 7B parameters (7.1B; 8 experts, top 2): for --vs-hf, whose
    # from_config holds the whole model in memory (14 GB in bfloat16).
    "mixtral-7b": {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"],
                   "vocab_size": 32000, "hidden_size": 2048, "intermediate_size": 5632,
                   "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 8,
                   "num_local_experts": 8, "num_experts_per_tok": 2,
                   "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
                   "initializer_range": 0.02, "tie_word_embeddings": False,
                   "dtype": "bfloat16"},
}
# The writer's own peak RSS (the recording child's is ru_maxrss of RUSAGE_CHILDREN), printed
# by a wrapper around the command's entry point (fastinit_cli, as the `fastinit` script runs
# it): wait4's ru_maxrss covers the recording child too.
_CLI_WRAPPER = ("import json, resource, sys; from fastinit_cli import main; "
                "rc = main(sys.argv[1:]); "
                "print(json.dumps({'self_rss': resource.getrusage(resource.RUSAGE_SELF)"
                ".ru_maxrss * 1024, 'children_rss': resource.getrusage("
                "resource.RUSAGE_CHILDREN).ru_maxrss * 1024})); sys.exit(rc)")


def child_hf(a):
    """transformers' own way: from_config (the model's initialization, in memory) and
    save_pretrained, in bfloat16, then fsync, as the CLI's writer syncs its files."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    with open(a.config) as f:
        cfg = json.load(f)
    config = AutoConfig.for_model(**cfg)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(a.out)
    for name in os.listdir(a.out):
        fsync_path(os.path.join(a.out, name))
    print(json.dumps({"vm_hwm": T.proc_status("VmHWM")}))


def generic_main(args):
    """A/B, alternating: `fastinit init --preset llama-7b` (built in) and `fastinit init
    CONFIG --via transformers` (recorded on meta, replayed streamed). Targets: the generic
    path's throughput (checkpoint bytes / wall time, imports and recording included) at
    least 0.8x the preset's; its writer's peak RSS at most 300 MB (no tensor of these models
    is computed in memory); recording on meta at most 10 s."""
    import re
    reps = T.reps_of(args)
    base = tempfile.mkdtemp(prefix="fastinit-generic-bench-", dir=args.dir)
    cfg_path = os.path.join(base, "config.json")
    with open(cfg_path, "w") as f:
        json.dump(GENERIC[args.generic], f)
    ref = "hf" if args.vs_hf else "preset"
    # generic: recorded (a plan cache of its own, empty, per run); cached: the plan the first
    # generic run recorded, from its cache (fastinit._plan_cache).
    kinds = (ref, "generic") if args.vs_hf else (ref, "generic", "cached")
    runs = {k: [] for k in kinds}
    print(f"issue 19: {args.generic} through transformers vs "
          + ("transformers' from_config + save_pretrained" if args.vs_hf
             else "llama-7b built in")
          + f", {reps} round(s), alternating; the machine is shared, so timings are noisy")
    try:
        for i in range(reps):
            for kind in (kinds if i % 2 == 0 else kinds[::-1]):
                if kind == "cached" and not runs["generic"]:
                    continue                # (round 1, backwards: nothing recorded yet)
                d = fresh_dir(base, f"{kind}-{i}")
                src = ["--preset", "llama-7b"] if kind == "preset" else \
                    [cfg_path, "--via", "transformers"]
                load = os.getloadavg()[0]
                cache = os.path.join(base, "cache-generic-0" if kind == "cached"
                                     else f"cache-{kind}-{i}")
                if kind == "hf":
                    r = run_child(child_cmd("hf", config=cfg_path, out=d), kind)
                else:
                    r = run_child([sys.executable, "-c", _CLI_WRAPPER, "init", *src, "-o", d,
                                   "--force"], kind, env={"FASTINIT_CACHE_DIR": cache,
                                                          "FASTINIT_PLAN_CACHE": "1"})
                r["load"] = (load, os.getloadavg()[0])     # 1-min load before and after
                files = [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".safetensors")]
                r["bytes"] = sum(os.path.getsize(f) for f in files)
                m = re.search(r"recorded its own initialization in ([0-9.]+) s", r["stdout"])
                r["record_s"] = float(m.group(1)) if m else None
                cleanup(d)
                runs[kind].append(r)
                print(f"  {kind:<8} run {i}: {r['wall_s']:6.2f} s, {r['bytes'] / 1e9:.2f} GB, "
                      f"{r['bytes'] / r['wall_s'] / 1e9:.2f} GB/s, writer peak RSS "
                      f"{(r['child'] or {}).get('self_rss', 0) / 2**20:.0f} MiB, recording "
                      f"child {(r['child'] or {}).get('children_rss', 0) / 2**20:.0f} MiB"
                      + (f", recorded in {r['record_s']:.2f} s" if r["record_s"] else "")
                      + f", load {r['load'][0]:.1f}/{r['load'][1]:.1f}"
                      + ("" if r["returncode"] == 0 else f"  FAILED: {r['stderr'][-300:]}"),
                      flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def med(kind, f):
        import statistics
        return statistics.median(f(r) for r in runs[kind])
    rate = {k: med(k, lambda r: r["bytes"] / r["wall_s"]) for k in runs}
    ratio = rate["generic"] / rate[ref]
    rss = med("generic", lambda r: (r["child"] or {}).get("self_rss", 0))
    rec = med("generic", lambda r: r["record_s"] or 0.0)
    if args.vs_hf:
        hwm = med("hf", lambda r: r["maxrss"])
        print(f"\nspeed-up of the generic path over from_config + save_pretrained {ratio:.2f}x "
              f"(target >= 5x; checkpoint bytes per second, medians); peak RSS: writer "
              f"{rss / 1e6:.0f} MB, transformers {hwm / 1e9:.1f} GB")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"generic": args.generic, "runs": runs, "speedup": ratio}, f, indent=1)
        return 0
    warm = rate["cached"] / rate[ref] if runs["cached"] else float("nan")
    print(f"\nthroughput ratio generic/preset {ratio:.2f} recording (target >= 0.8), "
          f"{warm:.2f} with the plan cached; writer peak RSS {rss / 1e6:.0f} MB (target <= "
          f"300 MB); recording {rec:.2f} s (target <= 10 s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"generic": args.generic, "runs": runs, "ratio": ratio,
                       "ratio_cached": warm, "writer_rss": rss, "record_s": rec}, f, indent=1)
    return 0


def main(argv=None):
    p = T.base_parser(__doc__, reps_default=3, reps_quick=1)
    p.add_argument("--preset", default=None,
                   help="the model (default llama-7b; tinyllama-1.1b with --quick)")
    p.add_argument("--dir", default=None, help="where to write (default: a temporary dir)")
    p.add_argument("--max-torch-gib", type=float, default=21.0,
                   help="largest predicted peak RSS allowed for a torch run (default 21)")
    p.add_argument("--no-disk", action="store_true", help="skip the disk reference run")
    p.add_argument("--child", help=argparse.SUPPRESS)
    for hidden in ("--plan", "--out", "--config", "--bytes"):
        p.add_argument(hidden, help=argparse.SUPPRESS,
                       type=int if hidden == "--bytes" else str)
    p.add_argument("--generic", choices=sorted(GENERIC), default=None,
                   help="issue 19: this architecture through transformers (--via "
                        "transformers) against the llama preset of its size (built in)")
    p.add_argument("--vs-hf", action="store_true",
                   help="with --generic: against transformers' from_config + save_pretrained "
                        "instead of the llama preset (issue 19's MoE target)")
    args = p.parse_args(argv)
    if args.child == "hf":
        return child_hf(args)
    if args.generic:
        return generic_main(args)
    if args.child == "plan":
        return child_plan(args)
    if args.child in ("torch", "torch-meta"):
        return child_torch(args)
    if args.child == "disk":
        return child_disk(args)
    if args.child:
        p.error(f"unknown child {args.child}")

    reps = T.reps_of(args)
    t_start = time.perf_counter()
    preset = args.preset or (CALIBRATION_PRESET if args.quick else "llama-7b")
    base = tempfile.mkdtemp(prefix="fastinit-ckpt-bench-", dir=args.dir)
    info = T.machine_info(("numpy", "torch", "safetensors", "fastinit"))
    info.update(parent_rss=T.proc_status("VmRSS"), disk_free=shutil.disk_usage(base).free,
                workdir=base, threads=len(os.sched_getaffinity(0)))
    print("checkpoint benchmark (issue 7): fastinit init vs torch + safetensors"
          + (" -- QUICK smoke run" if args.quick else ""))
    T.print_machine(info, [
        f"preset {preset}, bf16, hf scheme; rounds {reps}; writing under {base} "
        f"({info['disk_free'] / 1e9:.0f} GB free); this parent's RSS "
        f"{info['parent_rss'] / 2**20:.0f} MiB (a floor under every child's ru_maxrss); "
        f"fastinit and torch on their default threads ({info['threads']})"])
    checks = T.Checks()
    result = {"machine": info, "quick": args.quick, "preset": preset, "reps": reps}
    try:
        import importlib.util
        spec = importlib.util.find_spec("fastinit.checkpoint")
        if spec is None:
            raise SystemExit("fastinit is not installed")
        plan_path, plan_info = get_plan(base, preset=preset, tag="plan-full")
        nbytes = plan_info["bytes"]
        print(f"checkpoint: {plan_info['tensors']} tensors, {plan_info['params']:,} "
              f"parameters, {nbytes / 1e9:.2f} GB")
        if nbytes * 1.2 > info["disk_free"]:
            raise SystemExit(f"not enough disk space under {base}")
        result["plan"] = plan_info

        # ---- calibration: torch's peak RSS per byte, on the small preset ----
        torch_plan_path, torch_info, scaled, cal = plan_path, plan_info, False, None
        budget = min(args.max_torch_gib * 2**30, (T.meminfo() or 0) - MARGIN_BYTES)
        if preset != CALIBRATION_PRESET:
            print(f"\ncalibrating torch's memory on {CALIBRATION_PRESET} (one run)", flush=True)
            cal_path, cal_info = get_plan(base, preset=CALIBRATION_PRESET, tag="plan-cal")
            cal = run_one("torch", base, "cal", CALIBRATION_PRESET, cal_path,
                          cal_info["bytes"])
            if cal is None or not cal["ok"]:
                raise SystemExit("the torch calibration run failed")
            peak, k = predict_peak(cal, nbytes)
            print(f"  torch peak RSS {cal['maxrss'] / 2**30:.2f} GiB for "
                  f"{cal_info['bytes'] / 1e9:.2f} GB of tensors ({k:.3f} bytes of RSS per "
                  f"checkpoint byte over a {cal['child']['base_rss'] / 2**20:.0f} MiB base): "
                  f"predicted {peak / 2**30:.1f} GiB for {preset}; budget "
                  f"{budget / 2**30:.1f} GiB")
            result["calibration"] = {"preset": CALIBRATION_PRESET, "bytes": cal_info["bytes"],
                                     "run": cal, "rss_per_byte": k,
                                     "predicted_peak": peak, "budget": budget}
            if peak > budget:
                with open(plan_path) as f:
                    preset_cfg = json.load(f)["config"]
                cfg = scaled_config(preset_cfg, plan_info, budget, cal)
                torch_plan_path, torch_info = get_plan(base, config=cfg, tag="plan-torch")
                scaled = True
                print(f"  -> the torch paths run on {preset} with {cfg['num_hidden_layers']} "
                      f"of {plan_info['layers']} layers ({torch_info['bytes'] / 1e9:.2f} GB) "
                      "and are EXTRAPOLATED linearly in bytes to the full model")
        torch_peak = predict_peak(cal, torch_info["bytes"])[0] if cal else None
        result["torch_scaled"] = scaled
        result["torch_plan"] = torch_info

        # ---- the rounds ----
        runs = {"fastinit": [], "torch": [], "torch-meta": [], "disk": []}
        order_rng = random.Random(args.seed)
        print(f"\nrounds: {reps} (shuffled order in each)", flush=True)
        for i in range(reps):
            kinds = ["fastinit", "torch", "torch-meta"]
            order_rng.shuffle(kinds)
            if i == 0 and not args.no_disk:
                kinds.append("disk")
            for kind in kinds:
                nb = torch_info["bytes"] if kind.startswith("torch") else nbytes
                pp = torch_plan_path if kind.startswith("torch") else plan_path
                runs[kind].append(run_one(kind, base, i, preset, pp, nb,
                                          torch_peak if kind.startswith("torch") else None))
        result["runs"] = runs
    finally:
        shutil.rmtree(base, ignore_errors=True)

    # ---- report ----
    summ = {k: summarize(v) for k, v in runs.items()}
    fi = summ["fastinit"]
    if fi is None:
        print("fastinit init failed:\n" + (runs["fastinit"][0] or {}).get("stderr", ""))
        return 1
    factor = nbytes / torch_info["bytes"]
    for kind in ("torch", "torch-meta"):
        s = summ[kind]
        if s is None:
            continue
        c = s["child_medians"]
        startup = s["wall_s"] - c["work_s"]
        s["measured_bytes"] = torch_info["bytes"]
        s["measured_wall_s"] = s["wall_s"]
        s["measured_maxrss"] = s["maxrss"]
        s["no_fsync_wall_s"] = s["wall_s"] - c["fsync_s"]
        if scaled:
            s["wall_s"] = startup + c["work_s"] * factor
            s["no_fsync_wall_s"] = startup + (c["work_s"] - c["fsync_s"]) * factor
            base_rss = s["child"]["base_rss"]
            s["maxrss"] = base_rss + (s["measured_maxrss"] - base_rss) * factor
    result["summary"] = summ

    gb = nbytes / 1e9
    rows = []
    for kind, what in (("fastinit", "python3 -m fastinit init (streamed, fsync)"),
                       ("torch", "torch.empty + nn.init, save_file, fsync"),
                       ("torch-meta", "meta model, materialize 1 by 1, save_file, fsync"),
                       ("disk", "write random bytes + fsync (disk reference)")):
        s = summ[kind]
        if s is None:
            continue
        est = scaled and kind.startswith("torch")
        c = s["child_medians"]
        phases = ""
        if kind.startswith("torch"):
            phases = (f"import {c['import_s']:.1f}, build+init {c['build_init_s']:.1f}, "
                      f"save {c['save_s']:.1f}, fsync {c['fsync_s']:.1f}")
        rows.append([kind + (" (extrap.)" if est else ""), what, f"{s['wall_s']:.1f}",
                     f"{gb / s['wall_s']:.2f}", f"{s['maxrss'] / 2**30:.2f}",
                     T.fmt(T.ratio(s["wall_s"], fi["wall_s"]), ".2f", "x"),
                     T.fmt(T.ratio(fi["maxrss"], s["maxrss"]), ".4f"),
                     ", ".join(f"{w:.1f}" for w in s["walls"]), phases])
    T.print_table(["contender", "what", "seconds", "GB/s", "peak RSS GiB", "time/fastinit",
                   "fastinit RSS/this", "runs (s)", "phases (s, medians)"], rows,
                  title=f"{preset}, bf16: {nbytes / 1e9:.2f} GB (median wall time of "
                        f"{reps} run(s), process start to exit; peak RSS: the largest)")
    if scaled:
        print(f"\nNOTE: the torch rows are EXTRAPOLATED from runs on {torch_info['layers']} "
              f"of {plan_info['layers']} layers ({torch_info['bytes'] / 1e9:.2f} GB): "
              "seconds = measured startup + measured work x "
              f"{factor:.3f} (bytes ratio), RSS = base + measured growth x {factor:.3f}; "
              "measured: " + "; ".join(
                  f"{k} {summ[k]['measured_wall_s']:.1f} s, "
                  f"{summ[k]['measured_maxrss'] / 2**30:.2f} GiB"
                  for k in ("torch", "torch-meta") if summ[k]))
    for kind in ("torch", "torch-meta"):
        s = summ[kind]
        if s:
            print(f"{kind} without the fsync (what save_file alone gives): "
                  f"{s['no_fsync_wall_s']:.1f} s, {gb / s['no_fsync_wall_s']:.2f} GB/s, "
                  f"{s['no_fsync_wall_s'] / fi['wall_s']:.2f}x fastinit's time")
    if summ["disk"]:
        print(f"fastinit's GB/s = {summ['disk']['wall_s'] / fi['wall_s']:.2f}x the disk "
              f"reference's ({gb / summ['disk']['wall_s']:.2f} GB/s, one run)")
    fi_out = runs["fastinit"][0]["stdout"].strip().splitlines()
    if fi_out:
        print("fastinit's own summary (first run):\n    " + "\n    ".join(fi_out[:3]))

    note = "torch EXTRAPOLATED from fewer layers; " if scaled else ""
    for kind in ("torch", "torch-meta"):
        s = summ[kind]
        if s is None:
            checks.add(f"fastinit vs {kind}: end-to-end speed-up", None, ">=", SPEED_TARGET)
            continue
        checks.add(f"fastinit init vs {kind}: end-to-end speed-up ({preset})",
                   s["wall_s"] / fi["wall_s"], ">=", SPEED_TARGET,
                   note=note + f"{s['wall_s']:.1f} s vs {fi['wall_s']:.1f} s")
        checks.add(f"fastinit init peak RSS / {kind}'s ({preset})",
                   fi["maxrss"] / s["maxrss"], "<=", RSS_TARGET, unit="", spec=".4f",
                   note=note + f"{fi['maxrss'] / 2**20:.0f} MiB vs "
                               f"{s['maxrss'] / 2**30:.2f} GiB")
    checks.info("fastinit init throughput", f"{gb / fi['wall_s']:.2f} GB/s, peak RSS "
                                            f"{fi['maxrss'] / 2**20:.0f} MiB")
    checks.print()
    result["checks"] = checks.as_json()
    result["elapsed_s"] = time.perf_counter() - t_start
    T.write_json(args.json, result)
    return T.finish(checks, args, t_start)


if __name__ == "__main__":
    sys.exit(main())
