#!/usr/bin/env python3
"""Write tests/golden_values.json: fastinit's stream contract, frozen as values.

THE FILE THIS SCRIPT WRITES IS THE STREAM CONTRACT. It records, for every case in
tests/_golden_cases.py (Generator fills in every dtype, truncated-normal intervals, masks,
index=, fill_range, out= layouts, seeds, spawn, states near the end of the counter, Philox
itself, the torch-named and Keras/JAX initializers, fastinit.defaults, fastinit.torch and the
patched torch.nn.init, Dask, `fastinit init` checkpoints), the dtype, shape and sha256 of the
values a user gets today, and the generator's counter after the call. tests/test_golden.py
recomputes every case and fails if a single bit or a counter moves.

Regenerating it (--force) is a DELIBERATE, ANNOUNCED STREAM-VERSION CHANGE: users' seeds give
other values from then on. It is never the fix for a failing test/test_golden.py. A failing
golden test means the code changed what users get for a seed: fix the code. Only when the
change of values is intended (a new sampler, a bug that made values wrong) regenerate, with
--force, in the same change that announces it (changelog, docs/stream.md "Stability", a version
bump); --force bumps the file's stream_version.

Generate with the build whose values are to be frozen, never with a tree under edit:

    /path/to/venv/bin/python tools/gen_golden.py               # refuses if the file exists
    /path/to/venv/bin/python tools/gen_golden.py --add-missing # new cases only; existing
                                                               # records must still match
    /path/to/venv/bin/python tools/gen_golden.py --check       # compare, write nothing

Every case is computed under every SIMD path the CPU runs and with 1 and 2 threads, and must
give the same bits in all of them (the contract says so) before anything is written.
"""
import argparse
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")
sys.path.insert(0, TESTS)

import numpy as np  # noqa: E402

import fastinit  # noqa: E402
import _golden_cases as G  # noqa: E402

# Random123's published known-answer vectors for Philox4x32-10 (kat_vectors).
PHILOX_KAT = {
    "philox4x32.0": ["0x6627e8d5", "0xe169c58d", "0xbc57ac4c", "0x9b00dbd8"],
    "philox4x32.1": ["0x408f276d", "0x41c83b0e", "0xa20bc7c6", "0x6d5451fd"],
    "philox4x32.2": ["0xd16cfe09", "0x94fdcceb", "0x5001e420", "0x24126ea1"],
}


def _available(case):
    for mod in case.needs:
        try:
            __import__(mod)
        except ImportError:
            return False
    return True


def compute_all(cases, log):
    """Each case's record; every engine configuration must agree. Returns (records, errors)."""
    configs = G.engine_configs()
    records, errors = {}, []
    for i, case in enumerate(cases):
        runs = configs if case.all_engines else [(None, None)]
        first = None
        for simd, threads in runs:
            with G.engine(simd, threads):
                try:
                    rec = G.compute(case)
                except Exception as e:          # noqa: BLE001 - reported, nothing written
                    errors.append(f"{case.name}: raised {type(e).__name__}: {e}")
                    first = None
                    break
            if first is None:
                first = rec
            elif G.compare(first, rec):
                errors.append(f"{case.name}: SIMD path {simd} with {threads} thread(s) gives "
                              f"other values than {runs[0]}: "
                              + "; ".join(G.compare(first, rec))
                              + " (a bug in the build: every path must give the same bits)")
                first = None
                break
        if first is not None:
            records[case.name] = first
        if log and (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(cases)} cases", file=sys.stderr)
    return records, errors


def consistency(records):
    """Cross-checks that hold by the contract itself."""
    errors = []
    for case in G.CASES:
        if case.same_as and case.name in records and case.same_as in records:
            a, b = records[case.name], records[case.same_as]
            if any(a[k] != b[k] for k in ("dtype", "shape", "sha256")):
                errors.append(f"{case.name} should equal {case.same_as} (layout/stream "
                              "invariance), and does not")
    for name, values in PHILOX_KAT.items():
        if name in records and records[name]["values"] != values:
            errors.append(f"{name}: {records[name]['values']} is not Random123's known "
                          f"answer {values}")
    return errors


def meta(stream_version):
    m = {"format": G.FORMAT, "stream_version": stream_version,
         "fastinit": fastinit.__version__, "numpy": np.__version__,
         "python": platform.python_version(),
         "generated_by": "tools/gen_golden.py",
         "policy": "frozen stream contract; regenerating is a deliberate, announced "
                   "stream-version change, never a fix for a failing test"}
    try:
        import torch
        m["torch"] = torch.__version__
    except ImportError:
        pass
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=G.GOLDEN_PATH)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true",
                      help="overwrite an existing file: a NEW STREAM VERSION (bumps "
                           "stream_version); never a fix for a failing test")
    mode.add_argument("--add-missing", action="store_true",
                      help="add records for cases the file lacks; every existing record "
                           "must still match, and none is changed")
    mode.add_argument("--check", action="store_true",
                      help="recompute and compare with the file; write nothing")
    args = ap.parse_args(argv)

    print(f"fastinit {fastinit.__version__} from {os.path.dirname(fastinit.__file__)}",
          file=sys.stderr)
    print(f"engine configurations: {G.engine_configs()}", file=sys.stderr)

    exists = os.path.exists(args.output)
    if exists and not (args.force or args.add_missing or args.check):
        print(f"{args.output} exists: it is the frozen stream contract, and this script does "
              "not overwrite it.\n"
              "If tests/test_golden.py fails, the code changed users' values: fix the code.\n"
              "Use --add-missing to record new cases only, or --force ONLY for a deliberate, "
              "announced stream-version change.", file=sys.stderr)
        return 2
    if (args.add_missing or args.check) and not exists:
        print(f"{args.output} does not exist", file=sys.stderr)
        return 2

    old = G.load(args.output) if exists else None
    cases = [c for c in G.CASES if _available(c)]
    skipped = [c.name for c in G.CASES if c not in cases]
    if skipped:
        print(f"skipping {len(skipped)} cases whose modules are missing: {skipped}",
              file=sys.stderr)

    if args.check or args.add_missing:
        stored = old["cases"]
        todo = cases if args.check else [c for c in cases if c.name in stored]
        records, errors = compute_all(todo, log=True)
        changed = [(n, G.compare(stored[n], r)) for n, r in records.items()
                   if n in stored and G.compare(stored[n], r)]
        for n, diffs in changed:
            print(f"CHANGED {n}:\n    " + "\n    ".join(diffs), file=sys.stderr)
        for e in errors:
            print(f"ERROR {e}", file=sys.stderr)
        missing = [c.name for c in cases if c.name not in stored]
        if args.check:
            print(f"{len(records) - len(changed)} of {len(todo)} cases match; "
                  f"{len(changed)} changed; {len(errors)} errors; {len(missing)} cases "
                  "without a record", file=sys.stderr)
            return 1 if changed or errors else 0
        if changed or errors:
            print("refusing to add records: existing ones no longer match (the stream "
                  "contract changed; see above)", file=sys.stderr)
            return 1
        new, errors = compute_all([G.by_name(n) for n in missing], log=True)
        errors += consistency({**stored, **new})
        if errors:
            for e in errors:
                print(f"ERROR {e}", file=sys.stderr)
            return 1
        text = G.dumps(old["meta"], {**stored, **new})
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"added {len(new)} records to {args.output}: {sorted(new)}", file=sys.stderr)
        return 0

    version = 1
    if exists:
        version = int(old["meta"].get("stream_version", 1)) + 1
        print(f"--force: overwriting the frozen stream contract; stream_version "
              f"{version - 1} -> {version}. This must be announced as a change of values.",
              file=sys.stderr)
    records, errors = compute_all(cases, log=True)
    errors += consistency(records)
    if errors:
        for e in errors:
            print(f"ERROR {e}", file=sys.stderr)
        print("nothing written", file=sys.stderr)
        return 1
    text = G.dumps(meta(version), records)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)
    print(f"wrote {len(records)} cases to {args.output} ({len(text)} bytes, stream_version "
          f"{version})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
