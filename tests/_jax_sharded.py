"""Sharded cases for tests/test_jax.py, run in a subprocess with 8 host devices.

XLA_FLAGS=--xla_force_host_platform_device_count=8 only works if it is set before jax is
first imported, and another test module of the same pytest process may have imported jax
already: so these cases run here, as a script, in a fresh interpreter. CASES is plain data
(importing this module imports no jax); running it prints one JSON object, case id ->
"ok" or what went wrong.
"""
import json
import os
import sys
import traceback

# (id, mesh shape, mesh axis names, number of devices, PartitionSpec entries)
MESHES = [
    ("x8", (8,), ("x",), 8),
    ("a2b4", (2, 4), ("a", "b"), 8),
    ("a4b2", (4, 2), ("a", "b"), 8),
    ("x4", (4,), ("x",), 4),               # a mesh over half the devices
]
SPECS = {                                 # by mesh rank; each entry one PartitionSpec
    1: [(), ("x",), (None, "x"), ("x", None)],
    2: [(), ("a",), ("b",), (None, "a"), ("a", "b"), ("b", "a"), (("a", "b"),),
        (None, ("b", "a"))],
}
# (id, factory expression in fastinit.jax, shape, dtype name). Odd widths put shard
# boundaries mid-block (Philox gives 4 words a block, fills take 16 blocks a group).
INITS = [
    ("normal_bf16", "normal(0.5)", (24, 40), "bfloat16"),
    ("trunc_f32", "truncated_normal(2.0, lower=-1.0, upper=3.0)", (16, 24), "float32"),
    ("uniform_f16", "uniform(3.0)", (8, 56), "float16"),
    ("lecun_normal_f32", "lecun_normal()", (40, 8), "float32"),
    ("glorot_uniform_bf16", "glorot_uniform()", (8, 24), "bfloat16"),
    ("he_normal_conv", "he_normal()", (8, 3, 5, 16), "float32"),
    ("vs_geo_normal", "variance_scaling(2.0, 'fan_geo_avg', 'normal')", (16, 8), "float32"),
    ("vs_complex_normal", "variance_scaling(1.0, 'fan_in', 'normal')", (8, 24), "complex64"),
    ("vs_complex_uniform", "variance_scaling(1.0, 'fan_avg', 'uniform')", (16, 8),
     "complex64"),
    ("vs_complex_trunc", "variance_scaling(1.0, 'fan_out', 'truncated_normal')", (8, 16),
     "complex64"),
    ("orthogonal", "orthogonal(1.5)", (24, 16), "float32"),
    ("orthogonal_cols0", "orthogonal(column_axis=0)", (16, 24), "float32"),
    ("orthogonal_complex", "orthogonal()", (16, 8), "complex64"),
    ("delta_orthogonal", "delta_orthogonal()", (8, 3, 8, 16), "float32"),
    ("zeros_int", "zeros", (8, 16), "int32"),
    ("constant_row", "constant(np.arange(16.0))", (8, 16), "float32"),
]
X64_INITS = [
    ("normal_f64", "normal(1.0)", (16, 24), "float64"),
    ("he_uniform_f64", "he_uniform()", (8, 40), "float64"),
    ("vs_complex128", "variance_scaling(1.0, 'fan_in', 'truncated_normal')", (8, 8),
     "complex128"),
]


def _fits(spec, shape, mesh_shape, names):
    """Whether spec shards shape evenly (JAX 0.10 refuses uneven NamedShardings)."""
    size = dict(zip(names, mesh_shape))
    for dim, entry in zip(shape, spec):
        axes = () if entry is None else entry if isinstance(entry, tuple) else (entry,)
        n = 1
        for a in axes:
            n *= size[a]
        if dim % n:
            return False
    return len(spec) <= len(shape)


def cases():
    out = []
    for mid, mshape, names, _ in MESHES:
        for spec in SPECS[len(mshape)]:
            for iid, _, shape, dt in INITS + X64_INITS:
                if _fits(spec, shape, mshape, names):
                    out.append(f"{iid}-{mid}-{spec!r}")
    out += ["uneven_refused", "replicated_one_fill", "out_sharding_eager",
            "out_sharding_jit", "out_sharding_jit_auto_mesh", "partition_spec_under_mesh"]
    return out


CASES = cases()


def _run():
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec as P

    import fastinit.jax as fj

    assert len(jax.devices()) == 8, jax.devices()
    results = {}
    key = jax.random.key(2024)

    def same(a, b):
        return (a.shape == b.shape and a.dtype == b.dtype and
                np.asarray(a).tobytes() == np.asarray(b).tobytes())

    def run(cid, fn):
        try:
            msg = fn()
            results[cid] = "ok" if msg is None else msg
        except Exception:
            results[cid] = traceback.format_exc(limit=3)

    def sharded(init_expr, shape, dt, mesh, spec):
        init = eval(init_expr, {"np": np}, vars(fj))
        sharding = NamedSharding(mesh, P(*spec))
        a = fj.make_array(init, key, shape, dt, sharding)
        whole = init(key, shape, dt)
        if a.sharding != sharding:
            return f"sharding {a.sharding} != {sharding}"
        for s in a.addressable_shards:       # each device's own buffer, not a gathered copy
            if np.asarray(s.data).tobytes() != np.asarray(whole)[s.index].tobytes():
                return f"shard {s.index} on {s.device} differs from the whole"
        return None if same(a, whole) else "gathered array differs from the whole"

    meshes = {mid: jax.make_mesh(ms, names, devices=jax.devices()[:n])
              for mid, ms, names, n in MESHES}
    for x64, inits in ((False, INITS), (True, X64_INITS)):
        jax.config.update("jax_enable_x64", x64)
        for mid, mshape, names, _ in MESHES:
            for spec in SPECS[len(mshape)]:
                for iid, expr, shape, dt in inits:
                    cid = f"{iid}-{mid}-{spec!r}"
                    if cid in CASES:
                        run(cid, lambda: sharded(expr, shape, dt, meshes[mid], spec))
    jax.config.update("jax_enable_x64", False)

    def uneven():
        sharding = NamedSharding(meshes["x8"], P("x"))
        calls = []
        init = fj.normal()
        host = init.host
        init.host = lambda *a, **k: calls.append(1) or host(*a, **k)
        try:
            fj.make_array(init, key, (10, 3), "float32", sharding)
        except ValueError as e:
            if calls:
                return "made blocks before refusing"
            return None if "10" in str(e) else f"unexpected message: {e}"
        return "an uneven NamedSharding was accepted"

    def one_fill():
        init = fj.normal()
        calls = []
        host = init.host
        init.host = lambda *a, **k: calls.append(1) or host(*a, **k)
        a = fj.make_array(init, key, (16, 16), "float32", NamedSharding(meshes["a2b4"], P("a")))
        if len(calls) != 2:
            return f"{len(calls)} fills for 2 distinct blocks on 8 devices"
        if len({s.data.unsafe_buffer_pointer() for s in a.addressable_shards}) != 8:
            return "devices share a buffer"
        return None if same(a, fj.normal()(key, (16, 16), "float32")) else "values differ"

    auto = jax.make_mesh((2, 4), ("a", "b"), axis_types=(jax.sharding.AxisType.Auto,) * 2)

    def out_sharding(jit, mesh):
        sharding = NamedSharding(mesh, P("b", "a"))
        init = fj.he_uniform()
        f = (lambda k: init(k, (16, 8), jnp.bfloat16, out_sharding=sharding))
        if jit:             # explicit axes in jit need the mesh as context (JAX's rule)
            with jax.set_mesh(mesh):
                a = jax.jit(f)(key)
        else:
            a = f(key)
        if a.sharding != sharding:
            return f"sharding {a.sharding}"
        return None if same(a, init(key, (16, 8), jnp.bfloat16)) else "values differ"

    def spec_under_mesh():
        mesh = meshes["x8"]
        with jax.set_mesh(mesh):
            a = fj.lecun_normal()(key, (16, 8), out_sharding=P("x"))
        if a.sharding != NamedSharding(mesh, P("x")):
            return f"sharding {a.sharding}"
        return None if same(a, fj.lecun_normal()(key, (16, 8))) else "values differ"

    run("uneven_refused", uneven)
    run("replicated_one_fill", one_fill)
    run("out_sharding_eager", lambda: out_sharding(False, meshes["a2b4"]))
    run("out_sharding_jit", lambda: out_sharding(True, meshes["a2b4"]))
    run("out_sharding_jit_auto_mesh", lambda: out_sharding(True, auto))
    run("partition_spec_under_mesh", spec_under_mesh)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_force_host_platform_device_count=8").strip()
    os.environ["JAX_PLATFORMS"] = "cpu"
    _run()
