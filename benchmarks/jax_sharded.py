"""JAX (issue 18): a sharded jax.Array from fastinit.jax.make_array against JAX's own
sharded draw, in one run.

Run from the repository root (fastinit and jax installed):

    python benchmarks/jax_sharded.py                  # (16384, 16384) bfloat16, 5 rounds
    python benchmarks/jax_sharded.py --quick          # (4096, 4096), 3 rounds
    python benchmarks/jax_sharded.py --json out.json  # also write every number as JSON

8 host devices (XLA_FLAGS=--xla_force_host_platform_device_count=8, set here before jax is
imported), mesh (8,) "x", NamedSharding P("x"): each device holds 2048 rows. fastinit on 2
threads (set_num_threads(2)); XLA's CPU client uses its own pool, one thread per core here.
Contenders, interleaved in each round (shuffled order, medians, one warm-up each, the result
freed untimed after each call):

    make_array   fastinit.jax.make_array(fastinit.jax.normal(1.0), key, shape, bfloat16,
                 sharding): each device's block made alone through index= on the host and
                 put on its device
    jax jit      jax.jit(lambda k: jax.random.normal(k, shape, jnp.bfloat16),
                 out_shardings=sharding), compiled before the rounds; each call ends with
                 block_until_ready()

TARGET: make_array at least 5x faster than jax jit (median over median). Also checked, once:
make_array equals fastinit.jax.normal(1.0)(key, shape, bfloat16) bit for bit, and whether
JAX's own sharded draw equals its unsharded one (informational; jax#40232).
"""
import os
import sys
import time

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T                                     # noqa: E402

TARGET = 5.0
THREADS = 2


def main(argv=None):
    p = T.base_parser(__doc__, reps_default=5, reps_quick=3)
    args = p.parse_args(argv)
    reps = T.reps_of(args)
    t_start = time.perf_counter()

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec as P

    import fastinit
    import fastinit.jax as fj

    fastinit.set_num_threads(THREADS)
    n = 4096 if args.quick else 16384
    shape = (n, n)
    mesh = jax.make_mesh((8,), ("x",))
    sharding = NamedSharding(mesh, P("x"))
    key = jax.random.key(args.seed)
    init = fj.normal(1.0)
    info = T.machine_info(("numpy", "jax", "jaxlib", "fastinit"))
    T.print_machine(info, [f"devices: {len(jax.devices())} x {jax.devices()[0].platform}; "
                           f"fastinit threads {fastinit.get_num_threads()}, "
                           f"SIMD {fastinit.get_simd()}; shape {shape} bfloat16, "
                           f"mesh (8,) P('x'); {reps} rounds"])

    jax_normal = jax.jit(lambda k: jax.random.normal(k, shape, jnp.bfloat16),
                         out_shardings=sharding)
    jax_normal.lower(key).compile()
    results = {}

    def run(name, fn):
        def call():
            results[name] = fn().block_until_ready()
        return call

    calls = {"make_array": run("make_array",
                               lambda: fj.make_array(init, key, shape, jnp.bfloat16, sharding)),
             "jax jit": run("jax jit", lambda: jax_normal(key))}
    samples = T.interleaved(calls, reps, seed=args.seed,
                            after=lambda name: results.pop(name, None), collect=True)

    values = n * n
    rows, med = [], {}
    for name, s in samples.items():
        med[name] = T.median(s)
        rows.append([name, T.fmt(med[name], ".3f"), T.fmt(med[name] / values * 1e9, ".2f"),
                     ", ".join(f"{x:.3f}" for x in s)])
    T.print_table(["contender", "median s", "ns/value", "runs (s)"], rows,
                  title="Sharded bfloat16 normal over 8 host devices")
    speedup = T.ratio(med["jax jit"], med["make_array"])

    a = fj.make_array(init, key, shape, jnp.bfloat16, sharding)
    whole = init(key, shape, jnp.bfloat16)
    equal = (a.sharding == sharding and
             all(np.asarray(s.data).tobytes() == np.asarray(whole)[s.index].tobytes()
                 for s in a.addressable_shards))
    del a, whole
    mine = np.asarray(jax_normal(key))
    theirs = np.asarray(jax.jit(lambda k: jax.random.normal(k, shape, jnp.bfloat16))(key))
    jax_same = mine.tobytes() == theirs.tobytes()
    del mine, theirs

    checks = T.Checks()
    checks.add("make_array vs jax.jit(random.normal, out_shardings), bfloat16 "
               f"{shape}, 8 devices, {THREADS} threads", speedup, ">=", TARGET,
               note=f"{T.fmt(med['make_array'], '.3f')} s vs {T.fmt(med['jax jit'], '.3f')} s")
    checks.add("make_array == fastinit.jax.normal(1.0)(key, shape) on every shard",
               1.0 if equal else 0.0, ">=", 1.0, unit="")
    checks.info("JAX's sharded draw == its unsharded draw (jax#40232)", str(jax_same))
    checks.print()
    T.write_json(args.json, {"machine": info, "quick": args.quick, "reps": reps,
                             "shape": list(shape), "samples_s": samples, "speedup": speedup,
                             "bitwise_equal": equal, "jax_sharded_equals_unsharded": jax_same,
                             "checks": checks.as_json(),
                             "elapsed_s": time.perf_counter() - t_start})
    return T.finish(checks, args, t_start)


if __name__ == "__main__":
    sys.exit(main())
