"""The targets of several `run.py --json` runs side by side, with the median of each.

Each target's ratio comes from one run (its contenders timed together, on the same buffers);
on a shared machine one run's two-thread rows can catch another tenant, so this lines up the
runs' ratios and takes their median, as the project's guide asks:

    python benchmarks/run.py --json a.json
    python benchmarks/run.py --json b.json
    python benchmarks/run.py --json c.json
    python benchmarks/targets.py a.json b.json c.json

The runs must be of the same sections (their targets are matched by name). Exits with status 1
when a median fails its target.
"""
import argparse
import json
import statistics
import sys


def targets(run):
    """(name, value, op, bound) of every target line of one run's JSON, in order."""
    lines = list(run.get("checks", []))
    for section in ("issue3", "issue4"):
        lines += run.get(section, {}).get("checks", [])
    return [(c["target"], c["value"], c["op"], c["bound"]) for c in lines]


def passes(value, op, bound):
    return {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="JSON", help="files written by run.py --json")
    args = p.parse_args(argv)
    runs = []
    for path in args.runs:
        with open(path) as f:
            runs.append({t[0]: t for t in targets(json.load(f))})
    names = [name for name in runs[0] if all(name in r for r in runs)]
    if not names:
        sys.exit("no target is common to these runs")
    width = max(len(n) for n in names)
    print(f"{'target':{width}s} | " + " ".join(f"{'run ' + str(i + 1):>8s}" for i in range(len(runs)))
          + " |   median")
    failed = 0
    for name in names:
        _, _, op, bound = runs[0][name]
        values = [r[name][1] for r in runs]
        med = statistics.median(values)
        ok = passes(med, op, bound)
        failed += not ok
        print(f"{name:{width}s} | " + " ".join(f"{v:8.2f}" for v in values)
              + f" | {med:8.2f}  {'PASS' if ok else 'FAIL'} ({op} {bound:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
