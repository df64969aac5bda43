"""Issue 18's Keras target: building a Dense(8192) on 8192 input features (a 256 MiB float32
kernel) with fastinit.keras.GlorotUniform against Keras's own GlorotUniform, Keras 3 on JAX,
CPU, 2 threads, both timed in one run.

    python benchmarks/keras_dense.py                 # 7 rounds: about a minute on 2 cores
    python benchmarks/keras_dense.py --quick         # 3 rounds
    python benchmarks/keras_dense.py --units 4096    # a smaller layer
    python benchmarks/keras_dense.py --json out.json --strict

Each timed call builds a new layer, ``keras.layers.Dense(units, kernel_initializer=init)``
then ``layer.build((None, units))``, and waits for the kernel (``jax.block_until_ready``);
the layer is dropped (untimed) after each call. Contenders:

    fastinit      fastinit.keras.GlorotUniform(seed=0): fastinit's uniform fill into a 64-byte
                  aligned host buffer that jax.device_put takes without a copy
    keras         keras.initializers.GlorotUniform(seed=0): jax.random.uniform
    fill only     (informational) the top-level fastinit.GlorotUniform(seed=0) into a new
                  NumPy array: the floor of the fastinit row

One warm-up call each (JAX compiles there), then rounds in a shuffled order; medians, and the
ratio keras / fastinit with the spread of the per-round ratios. fastinit runs on
--threads threads (default 2); XLA's CPU client uses every core this process may use (2
here). TARGET: >= 5x. Exits 0 even when it fails, unless --strict.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import _timing as T         # noqa: E402


def main(argv=None):
    p = T.base_parser(__doc__.splitlines()[0], reps_default=7, reps_quick=3)
    p.add_argument("--units", type=int, default=8192, help="input features = units (8192)")
    p.add_argument("--threads", type=int, default=2, help="fastinit's threads (2)")
    args = p.parse_args(argv)
    reps = T.reps_of(args)
    t_start = time.perf_counter()

    import jax
    import keras
    import fastinit
    import fastinit.keras as fk

    if keras.backend.backend() != "jax":
        raise SystemExit(f"KERAS_BACKEND is {keras.backend.backend()!r}: this measures jax")
    fastinit.set_num_threads(args.threads)
    n = args.units
    info = T.machine_info(("numpy", "jax", "keras", "fastinit"))
    T.print_machine(info, [f"fastinit threads {fastinit.get_num_threads()}, SIMD "
                           f"{fastinit.get_simd()}; jax devices {jax.devices()}",
                           f"Dense({n}) on {n} features: kernel {n}x{n} float32 "
                           f"({n * n * 4 / 2**20:.0f} MiB); {reps} rounds"])

    held = {}

    def build(make):
        def call():
            layer = keras.layers.Dense(n, kernel_initializer=make())
            layer.build((None, n))
            jax.block_until_ready(layer.kernel.value)
            held["layer"] = layer               # dropped by `after`, untimed
        return call

    def fill_only():
        held["layer"] = fastinit.GlorotUniform(seed=0)((n, n))

    calls = {"fastinit": build(lambda: fk.GlorotUniform(seed=0)),
             "keras": build(lambda: keras.initializers.GlorotUniform(seed=0)),
             "fill only": fill_only}
    samples = T.interleaved(calls, reps, seed=args.seed, after=lambda name: held.clear())

    med = {k: T.median(v) for k, v in samples.items()}
    ratio = T.ratio(med["keras"], med["fastinit"])
    per_round = [k / f for k, f in zip(samples["keras"], samples["fastinit"])]
    rows = [[k, T.fmt(med[k] * 1e3, ".1f"), T.fmt(min(samples[k]) * 1e3, ".1f"),
             T.fmt(max(samples[k]) * 1e3, ".1f"), T.fmt(med[k] * 1e9 / (n * n), ".2f")]
            for k in calls]
    T.print_table(["contender", "median ms", "min ms", "max ms", "ns/element"], rows,
                  title=f"Building Dense({n}) on {n} features")
    print(f"\nkeras / fastinit per round: {', '.join(f'{r:.1f}' for r in per_round)} "
          f"(median {statistics.median(per_round):.2f})")

    checks = T.Checks()
    checks.add(f"Dense({n}) build: fastinit.keras.GlorotUniform vs Keras's GlorotUniform",
               ratio, ">=", 5, note="ratio of medians, one run")
    checks.info("fastinit's layer over its fill alone",
                f"{T.fmt(T.ratio(med['fastinit'], med['fill only']))}x")
    checks.print()
    T.write_json(args.json, {"machine": info, "reps": reps, "units": n,
                             "seconds": samples, "median_s": med, "ratio": ratio,
                             "per_round_ratio": per_round, "checks": checks.as_json()})
    return T.finish(checks, args, t_start)


if __name__ == "__main__":
    sys.exit(main())
