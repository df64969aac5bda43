"""The ``fastinit`` command (also ``python -m fastinit``).

    fastinit init CONFIG -o OUT [--preset NAME] [--dtype bf16|f16|f32|f64] [--seed N]
                  [--scheme hf|torch-default|scaled|trunc-normal] [--threads N]
                  [--max-shard-size 5GB] [--via auto|builtin|transformers] [--force] [--dry-run]

Exit codes: 0 on success, 1 when writing fails, 2 for a bad command line, config, spec,
preset, dtype or output path, 130 when interrupted.
"""
import argparse
import os
import sys
import time

from fastinit import checkpoint
from fastinit._core import get_num_threads, set_num_threads


def _parser():
    p = argparse.ArgumentParser(prog="fastinit",
                                description="Fast, reproducible random initialization.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("init", help="write a randomly initialized model checkpoint",
                       description="Write a randomly initialized checkpoint (safetensors), "
                                   "streamed: memory stays far below its size.")
    i.add_argument("config", nargs="?",
                   help="a Hugging Face config.json (any architecture with fastinit[hf]; "
                        "llama/mistral/qwen2 built in) or a spec file")
    i.add_argument("-o", "--output", required=True,
                   help="a .safetensors file, or a directory (model.safetensors, or shards)")
    i.add_argument("--preset", help=f"a built-in model: {', '.join(checkpoint.PRESETS)}")
    i.add_argument("--dtype", default=None,
                   help="bf16 (default, or the config's torch_dtype), f16, f32 or f64")
    i.add_argument("--seed", type=int, default=0, help="the seed, in [0, 2**64) (default 0)")
    i.add_argument("--scheme", default=None,
                   help=f"initialization scheme: {', '.join(checkpoint.SCHEMES)} (default hf)")
    i.add_argument("--threads", type=int, default=None, help="threads (default: all CPUs)")
    i.add_argument("--max-shard-size", default=None,
                   help="split into Hugging Face shards above this size, e.g. 5GB")
    i.add_argument("--via", choices=("auto", "builtin", "transformers"), default="auto",
                   help="the model's layout and initialization: built in (llama, mistral, "
                        "qwen2), or recorded from transformers' own (any architecture; "
                        "needs fastinit[hf]). auto (default): built in for those three and "
                        "presets, transformers for the rest")
    i.add_argument("--no-plan-cache", action="store_true",
                   help="record the model's initialization even if an earlier run with this "
                        "config and these versions of torch and transformers kept its plan "
                        "(in ~/.cache/fastinit/plans; FASTINIT_PLAN_CACHE=0 does the same)")
    i.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    i.add_argument("--dry-run", action="store_true",
                   help="print the tensors and the total size, write nothing")
    return p


def _via_transformers(args, model):
    """Whether the model goes through transformers (fastinit._hf): --via, else a config
    (not a spec's tensor list, not a preset) whose model_type is not built in. Without
    transformers such a config is refused (checkpoint.model_tensors), never written in
    another model's layout."""
    if "tensors" in model or args.via == "builtin":
        return False
    if args.via == "transformers" or (args.preset is None and model.get(
            "model_type", "llama") not in checkpoint.BUILTIN_TYPES):
        # Found, not imported: it is imported in the recording child (fastinit._hf).
        from importlib.util import find_spec
        if find_spec("transformers") is None or find_spec("torch") is None:
            if args.via == "transformers":
                raise checkpoint.CheckpointError(
                    "--via transformers needs transformers: pip install fastinit[hf]")
            return False
        return True
    return False


def _version():
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("fastinit")
    except PackageNotFoundError:         # run from a source tree, not installed
        return "(not installed)"


def _human(n):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000.0


def _table(rows, out):
    widths = [max(len(str(r[c])) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(str(v).ljust(w) if c == 0 else str(v).rjust(w)
                            for c, (v, w) in enumerate(zip(r, widths))).rstrip() + "\n")


def _describe_init(t):
    if t.compute is not None:
        return "computed in memory"
    if t.fills is not None:
        return " then ".join(_describe_fill(f.init, f.params) +
                             (f"[{_describe_index(f.index)}]" if f.index else "")
                             for f in t.fills)
    return _describe_fill(t.init, t.params)


def _describe_index(index):
    return ", ".join(str(i) if isinstance(i, int) else f"{i.start}:{i.stop}" for i in index)


def _describe_fill(init, params):
    args = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())
    return f"{init}({args})"


def _progress(total):
    """A tqdm bar (bytes, rate, ETA) on a terminal; nothing when stderr is piped or tqdm is
    not installed. Returns (update, close)."""
    if not sys.stderr.isatty():
        return None, lambda: None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, lambda: None
    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1000, desc="writing",
               file=sys.stderr, dynamic_ncols=True)
    return bar.update, bar.close


def _init(args, recorder=None):
    if (args.config is None) == (args.preset is None):
        raise checkpoint.CheckpointError("give a CONFIG file or --preset (one of them)")
    model, overrides, spec_scheme = checkpoint.load_model(args.config, args.preset)
    scheme = args.scheme or spec_scheme or "hf"
    dtype = args.dtype or model.get("dtype") or model.get("torch_dtype") or "bf16"
    recording, hf = None, _via_transformers(args, model)
    if hf:
        from fastinit import _hf
        if "transformers" not in sys.modules:
            # A child process records (fastinit._hf); its imports (seconds) start first and
            # overlap the checks below. (A process that has imported transformers already,
            # custom models registered included, records in process.)
            recording = _hf.start(model, scheme, cache=not args.no_plan_cache,
                                  recorder=recorder)
            recorder = None
    if recorder is not None:
        recorder.end()          # started early (fastinit_cli) but not needed: ended at once
    try:
        checkpoint.dtype_name(dtype)
        checkpoint.generator_for(args.seed)     # a bad seed fails before anything is made
        max_shard = None if args.max_shard_size is None else \
            checkpoint.parse_size(args.max_shard_size)
        if args.threads is not None:
            if args.threads < 1:
                raise checkpoint.CheckpointError("--threads must be at least 1")
            set_num_threads(args.threads)
        if hf:
            tensors, _ = _hf.plan(model, scheme=scheme, dtype=dtype, started=recording)
            tensors = checkpoint.apply_overrides(tensors, overrides)
            t = _hf.plan.timings
            if t.get("cached"):
                print(f"{model.get('model_type')}: the plan recorded by an earlier run with this "
                      f"config and these versions of torch and transformers (--no-plan-cache "
                      f"records it again)")
            else:
                print(f"built {model.get('model_type')} on meta and recorded its own "
                      f"initialization in {t['seconds']:.2f} s (in a child process; of it: "
                      f"importing torch {t['import_torch']:.2f} s, transformers "
                      f"{t['import_transformers']:.2f} s, building the model on meta with "
                      f"its modules' import {t['build']:.2f} s, recording {t['record']:.2f} s)")
        else:
            tensors = checkpoint.plan(model, scheme=scheme, dtype=dtype, overrides=overrides)
    finally:
        if recording is not None:
            recording.close()
    computed = [t.name for t in tensors if t.compute is not None]
    total = sum(t.nbytes for t in tensors)
    params = sum(t.numel for t in tensors)
    if args.dry_run:
        rows = [("tensor", "shape", "dtype", "init", "bytes")]
        rows += [(t.name, "x".join(map(str, t.shape)) or "()", t.dtype, _describe_init(t),
                  f"{t.nbytes:,}") for t in tensors]
        _table(rows, sys.stdout)
        directory, files = checkpoint.output_files(args.output, tensors, max_shard)
        where = os.path.join(directory, files[0][0]) if directory is not None else args.output
        more = f" in {len(files)} files" if len(files) > 1 else ""
        print(f"\n{len(tensors)} tensors, {params:,} parameters, {_human(total)} ({total:,} "
              f"bytes){more}: {where}{' ...' if len(files) > 1 else ''} (dry run: nothing "
              "written)")
        if computed:
            print(f"computed in memory (not streamable): {', '.join(computed)}")
        return 0
    update, close = _progress(total)
    t0 = time.perf_counter()
    try:
        paths = checkpoint.write(tensors, args.output, seed=args.seed, max_shard_size=max_shard,
                                 force=args.force, progress=update,
                                 config=None if "tensors" in model
                                 else checkpoint.config_with_dtype(model, dtype))
    finally:
        close()
    dt = time.perf_counter() - t0
    _table([("tensors", "parameters", "bytes", "seconds", "GB/s", "threads"),
            (len(tensors), f"{params:,}", f"{total:,}", f"{dt:.2f}",
             f"{total / dt / 1e9:.2f}", get_num_threads())], sys.stdout)
    if computed:
        print(f"computed in memory (not streamable): {', '.join(computed)}")
    for p in paths:
        print(f"wrote {p}")
    return 0


def main(argv=None, recorder=None):
    """The command; recorder: a recording child fastinit_cli started early, or None."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit:
        if recorder is not None:
            recorder.end()
        raise
    try:
        if args.command == "init":
            return _init(args, recorder)
    except checkpoint.CheckpointError as e:
        print(f"fastinit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastinit: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"fastinit: error: {e.strerror or e}"
              f"{': ' + e.filename if getattr(e, 'filename', None) else ''}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
