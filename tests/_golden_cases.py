"""The golden cases: fastinit's stream contract, frozen as values.

Shared by ``tools/gen_golden.py`` (which computes the records once and writes
``tests/golden_values.json``) and ``tests/test_golden.py`` (which recomputes every case and
compares). Both use exactly these definitions, so a case cannot mean one thing when written
and another when checked.

Each case is a name, a callable returning ``(array, extra)`` and a kind:

- ``engine``: Generator-level fills, ``fill_range``, ``philox4x32``; run under every SIMD path
  the CPU has and with 1 and 2 threads;
- ``python``: the torch-named NumPy functions, the Keras/JAX initializer objects and
  ``fastinit.defaults``; also run under every engine configuration;
- ``torch``: ``fastinit.torch`` and the patched ``torch.nn.init`` (needs torch);
- ``dask``, ``checkpoint``: a Dask array and a ``fastinit init`` checkpoint (run once).

A record holds the array's dtype, shape and the sha256 of its raw bits (logical C order,
little-endian), the bits themselves as hex for arrays of at most 16 values, else the first 8
values and, above 4096 values, a short hash per 4096-value block (so a failure says where
the values start to differ), plus the case's extras: the generator's counter after the call
(the counter advance is part of the contract), keys, or torch's next draw.

Names are usable with ``pytest -k``: an index ``np.s_[a, b]`` is written ``[a][b]``.

Adding a case is fine (``tools/gen_golden.py --add-missing`` records only the new ones).
Changing what an existing case computes, or its record, is a stream-contract change.
"""
import contextlib
import hashlib
import json
import math
import os
import sys
import tempfile

import numpy as np

import fastinit
from fastinit import _core

GOLDEN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_values.json")
FORMAT = 1

SMALL = 16          # arrays of at most this many values store every value as hex
HEAD = 8            # larger arrays store their first HEAD values
BLOCK = 4096        # ... and, above BLOCK values, a 16-hex-digit hash per BLOCK values

BF16 = np.dtype(fastinit.BFLOAT16)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
DTYPES = {"float16": F16, "bfloat16": BF16, "float32": F32, "float64": F64}

SEED = 12345        # the seed of the Generator-level cases (unless a case says otherwise)
BIG = 2**17 + 5     # > 65536: fills of this size are split across threads

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


# ---- records -------------------------------------------------------------------------------

def _bits(a):
    """The raw bits of an array in logical C order, flat, as little-endian unsigned ints."""
    a = np.ascontiguousarray(a).reshape(-1)
    u = a.view(_UINT[a.dtype.itemsize])
    return u.astype(u.dtype.newbyteorder("<"), copy=False)


def _hex(u):
    width = 2 * u.dtype.itemsize
    return [f"0x{int(v):0{width}x}" for v in u.reshape(-1)]


def record_of(arr, extra=None):
    """The stored record of one output: dtype, shape, sha256 of the bits, and the bits of
    small arrays (or the first values and block hashes of large ones), plus extras."""
    if not isinstance(arr, np.ndarray):
        arr = np.asarray(arr)
    flat = _bits(arr)
    rec = {"dtype": arr.dtype.name, "shape": list(arr.shape),
           "sha256": hashlib.sha256(flat.tobytes()).hexdigest()}
    if flat.size <= SMALL:
        rec["values"] = _hex(flat)
    else:
        rec["head"] = _hex(flat[:HEAD])
        if flat.size > BLOCK:
            rec["blocks"] = [hashlib.sha256(flat[i:i + BLOCK].tobytes()).hexdigest()[:16]
                             for i in range(0, flat.size, BLOCK)]
    for k, v in (extra or {}).items():
        assert k not in rec, f"extra {k!r} collides with a record field"
        rec[k] = v
    return rec


def compare(expected, actual):
    """What differs between two records, as lines (empty if they are equal)."""
    out = []
    for field in ("dtype", "shape"):
        if expected.get(field) != actual.get(field):
            out.append(f"{field}: expected {expected.get(field)}, got {actual.get(field)}")
    if expected.get("sha256") != actual.get("sha256"):
        out.append(f"sha256 of the raw bits: expected {expected.get('sha256')}, "
                   f"got {actual.get('sha256')}")
    for field, what in (("values", "values (all of them)"), ("head", "first values")):
        ev, av = expected.get(field), actual.get(field)
        if ev is None and av is None:
            continue
        if ev != av:
            ev, av = ev or [], av or []
            diff = [i for i in range(max(len(ev), len(av)))
                    if i >= len(ev) or i >= len(av) or ev[i] != av[i]]
            i = diff[0]
            e = ev[i] if i < len(ev) else "(none)"
            a = av[i] if i < len(av) else "(none)"
            out.append(f"{what}: {len(diff)} of {max(len(ev), len(av))} stored values differ; "
                       f"first at flat index {i}: expected {e}, got {a}")
    eb, ab = expected.get("blocks"), actual.get("blocks")
    if eb != ab and (eb or ab):
        eb, ab = eb or [], ab or []
        diff = [i for i in range(max(len(eb), len(ab)))
                if i >= len(eb) or i >= len(ab) or eb[i] != ab[i]]
        i = diff[0]
        out.append(f"blocks of {BLOCK} values: {len(diff)} of {max(len(eb), len(ab))} differ; "
                   f"the first differing value lies in flat indices "
                   f"[{i * BLOCK}, {(i + 1) * BLOCK})")
    core = {"dtype", "shape", "sha256", "values", "head", "blocks"}
    for k in sorted((set(expected) | set(actual)) - core):
        if expected.get(k) != actual.get(k):
            what = f"{k} ({EXTRAS[k]})" if k in EXTRAS else k
            out.append(f"{what}: expected {expected.get(k)!r}, got {actual.get(k)!r}")
    return out


EXTRAS = {
    "counter": "the generator's block counter after the call: how far it advanced is part "
               "of the contract",
    "default_counter": "the default generator's counter after the call",
    "parent_counter": "the parent generator's counter",
    "key": "the 64-bit Philox key the seed gives",
    "torch_next": "the next draw of torch's default generator: how many keys the call took",
}


def dumps(meta, records):
    """The JSON file: sorted keys, one case per line, so diffs show exactly what changed."""
    lines = ["{", ' "cases": {']
    names = sorted(records)
    for i, name in enumerate(names):
        body = json.dumps(records[name], sort_keys=True, separators=(", ", ": "))
        lines.append(f"  {json.dumps(name)}: {body}" + ("," if i < len(names) - 1 else ""))
    lines.append(" },")
    lines.append(f' "meta": {json.dumps(meta, sort_keys=True, separators=(", ", ": "))}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def load(path=GOLDEN_PATH):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---- engine configurations and global state ----------------------------------------------------

THREADS = (1, 2)


def simd_builds():
    """Every SIMD path this CPU runs and, where it runs AVX2, 'avx2-mulld': the AVX2 path's
    vpmulld build, which the CPU may not pick (fastinit._core._set_avx2_mulld)."""
    paths = fastinit.available_simd()
    return paths + (("avx2-mulld",) if "avx2" in paths else ())


def force_simd(build):
    """Force one of simd_builds() ('avx2' is then the plain build); returns its path."""
    path = "avx2" if build == "avx2-mulld" else build
    _core._set_avx2_mulld(build == "avx2-mulld" if path == "avx2" else None)
    fastinit.set_simd(path)
    return path


def engine_configs():
    """(simd, threads) for every one of simd_builds(), with 1 and 2 threads."""
    return [(s, t) for s in simd_builds() for t in THREADS]


@contextlib.contextmanager
def engine(simd, threads):
    """Force a SIMD path and a thread count (None: leave as is); restore both after."""
    saved = fastinit.get_simd(), fastinit.get_num_threads()
    try:
        if simd is not None:
            force_simd(simd)
        if threads is not None:
            fastinit.set_num_threads(threads)
        yield
    finally:
        _core._set_avx2_mulld(None)
        fastinit.set_simd(saved[0])
        fastinit.set_num_threads(saved[1])


@contextlib.contextmanager
def isolated():
    """Run a case without leaking global state: fastinit's default generator, and, if torch
    is imported, torch's default RNG state and any torch.nn.init patch."""
    import fastinit._state as fstate
    default = fstate._default
    default_state = default.state
    torch = sys.modules.get("torch")
    rng = torch.get_rng_state() if torch is not None else None
    try:
        yield
    finally:
        default.state = default_state
        fstate._default = default
        torch_now = sys.modules.get("torch")
        if torch_now is not None:
            ft = sys.modules.get("fastinit.torch")
            if ft is not None:
                while ft.uninstall():
                    pass
            if rng is not None:
                torch_now.set_rng_state(rng)


def compute(case):
    """The case's record, computed now (in a clean global state). The modules the case
    needs are imported first, so that their state is saved and restored around it."""
    for mod in case.needs:
        __import__(mod)
    with isolated():
        arr, extra = case.fn()
    return record_of(arr, extra)


# ---- case registry ------------------------------------------------------------------------------

class Case:
    __slots__ = ("name", "fn", "kind", "same_as", "needs")

    def __init__(self, name, fn, kind, same_as=None, needs=()):
        self.name, self.fn, self.kind, self.same_as, self.needs = \
            name, fn, kind, same_as, tuple(needs)

    @property
    def all_engines(self):
        """Whether the test runs this case under every SIMD path and thread count."""
        return self.kind in ("engine", "python", "torch")

    def __repr__(self):
        return f"Case({self.name!r}, kind={self.kind!r})"


CASES = []
_BY_NAME = {}


def add(name, fn, kind="engine", same_as=None, needs=()):
    if name in _BY_NAME:
        raise ValueError(f"duplicate golden case {name!r}")
    c = Case(name, fn, kind, same_as, needs)
    CASES.append(c)
    _BY_NAME[name] = c
    return c


def by_name(name):
    return _BY_NAME[name]


def gen_at(key, counter):
    g = fastinit.Generator(0)
    g.state = {"bit_generator": "Philox4x32-10", "key": tuple(key), "counter": counter}
    return g


def with_counter(make, seed=SEED):
    """A case body: make(g) on a fresh Generator(seed); extras: the counter after it."""
    def fn():
        g = fastinit.Generator(seed)
        arr = make(g)
        return arr, {"counter": g.counter}
    return fn


def _fmt(x):
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    s = repr(float(x))
    s = s[:-2] if s.endswith(".0") else s
    return s.replace("-", "m")


def _size_label(size):
    return f"n{size}" if isinstance(size, int) else "x".join(map(str, size))


# ---- Generator fills -----------------------------------------------------------------------------

SIZES = (1000, 3)

for dn, dt in DTYPES.items():
    for size in SIZES:
        add(f"gen.random.{dn}.{_size_label(size)}",
            with_counter(lambda g, dt=dt, size=size: g.random(size=size, dtype=dt)))

UNIFORM = [(-3.0, 5.0), (1.0, 1.03), (-1e-3, 1e-3), (0.1, 0.3)]
for lo, hi in UNIFORM:
    for dn, dt in DTYPES.items():
        for size in SIZES:
            add(f"gen.uniform_{_fmt(lo)}_{_fmt(hi)}.{dn}.{_size_label(size)}",
                with_counter(lambda g, lo=lo, hi=hi, dt=dt, size=size:
                             g.uniform(lo, hi, size=size, dtype=dt)))

for dn, dt in DTYPES.items():
    for size in SIZES + ((7, 13),):
        add(f"gen.standard_normal.{dn}.{_size_label(size)}",
            with_counter(lambda g, dt=dt, size=size: g.standard_normal(size=size, dtype=dt)))

NORMAL = [(0.5, 0.02), (-3.0, 7.0)]
for loc, scale in NORMAL:
    for dn, dt in DTYPES.items():
        for size in SIZES:
            add(f"gen.normal_{_fmt(loc)}_{_fmt(scale)}.{dn}.{_size_label(size)}",
                with_counter(lambda g, loc=loc, scale=scale, dt=dt, size=size:
                             g.normal(loc, scale, size=size, dtype=dt)))

# (mean, std, a, b): every proposal and ziggurat the truncated normal has.
INF = math.inf
TRUNCNORM = [
    (0.0, 1.0, -2.0, 2.0),      # central symmetric: ziggurat of N truncated to [-2, 2]
    (0.0, 1.0, -1.0, 3.0),      # central asymmetric
    (0.0, 1.0, -5.0, 2.0),      # reaches past 3.6 std: the whole normal's ziggurat
    (0.0, 1.0, -INF, INF),      # = normal(0, 1)
    (0.0, 1.0, 0.5, 0.6),       # narrow: uniform proposal, two words
    (0.0, 1.0, 0.0, INF),       # one-sided from the mean
    (0.0, 1.0, 3.0, INF),       # right tail
    (0.0, 1.0, 5.0, 6.0),
    (0.0, 1.0, 8.0, 9.0),
    (0.0, 1.0, -INF, -4.0),     # left tail (mirrored)
    (0.0, 1.0, 300.0, 301.0),   # past 256 std: Robert's exponential proposal
    (1.0, 0.02, 0.96, 1.04),    # mean and std not (0, 1)
]
for mean, std, a, b in TRUNCNORM:
    label = f"{_fmt(a)}_{_fmt(b)}" + ("" if (mean, std) == (0.0, 1.0)
                                      else f"_mean{_fmt(mean)}_std{_fmt(std)}")
    for dn, dt in DTYPES.items():
        for size in SIZES:
            add(f"gen.truncnorm_{label}.{dn}.{_size_label(size)}",
                with_counter(lambda g, mean=mean, std=std, a=a, b=b, dt=dt, size=size:
                             g.truncated_normal(mean, std, a, b, size=size, dtype=dt)))

# Larger than the threading threshold (65536 values).
LARGE = [
    ("normal_0_1.float32", lambda g: g.normal(0.0, 1.0, size=BIG, dtype=F32)),
    ("normal_0_0.02.bfloat16", lambda g: g.normal(0.0, 0.02, size=BIG, dtype=BF16)),
    ("standard_normal.float64", lambda g: g.standard_normal(size=BIG, dtype=F64)),
    ("standard_normal.float16", lambda g: g.standard_normal(size=BIG, dtype=F16)),
    ("uniform_m3_5.float64", lambda g: g.uniform(-3.0, 5.0, size=BIG, dtype=F64)),
    ("random.float16", lambda g: g.random(size=BIG, dtype=F16)),
    ("random.float32", lambda g: g.random(size=BIG, dtype=F32)),
    ("truncnorm_m2_2.float32", lambda g: g.truncated_normal(0, 1, -2, 2, size=BIG, dtype=F32)),
    ("truncnorm_m2_2.float64", lambda g: g.truncated_normal(0, 1, -2, 2, size=BIG, dtype=F64)),
    ("truncnorm_3_inf.float64",
     lambda g: g.truncated_normal(0, 1, 3, INF, size=BIG, dtype=F64)),
    ("truncnorm_5_6.bfloat16", lambda g: g.truncated_normal(0, 1, 5, 6, size=BIG, dtype=BF16)),
    ("truncnorm_0.5_0.6.float32",
     lambda g: g.truncated_normal(0, 1, 0.5, 0.6, size=BIG, dtype=F32)),
    ("bernoulli_0.3.uint8", lambda g: g.bernoulli(0.3, size=BIG, dtype=np.uint8)),
    ("sparse_mask_4096x64_d0.5_axis0", lambda g: g.sparse_mask((4096, 64), density=0.5)),
    ("normal_index_512x300", lambda g: g.normal(size=(512, 300), dtype=F32,
                                                index=np.s_[::2, 1:])),
]
for label, make in LARGE:
    add(f"gen.large.{label}", with_counter(make))

# Masks.
MASK_DTYPES = {"bool": np.bool_, "uint8": np.uint8, "float32": F32, "bfloat16": BF16}
for dn, dt in MASK_DTYPES.items():
    for size in SIZES:
        add(f"gen.bernoulli_0.3.{dn}.{_size_label(size)}",
            with_counter(lambda g, dt=dt, size=size: g.bernoulli(0.3, size=size, dtype=dt)))
for p in (0.0, 1.0, 0.5, 1e-3, 0.999):
    add(f"gen.bernoulli_{_fmt(p)}.uint8.n200",
        with_counter(lambda g, p=p: g.bernoulli(p, size=200, dtype=np.uint8)))

add("gen.sparse_mask_50x40_d0.1_axis0",
    with_counter(lambda g: g.sparse_mask((50, 40), density=0.1, axis=0)))
add("gen.sparse_mask_50x40_d0.1_axis1",
    with_counter(lambda g: g.sparse_mask((50, 40), density=0.1, axis=1)))
add("gen.sparse_mask_30x20_d0.9_axis0.uint8",
    with_counter(lambda g: g.sparse_mask((30, 20), density=0.9, axis=0, dtype=np.uint8)))
add("gen.sparse_mask_6x5x7_k3_axism1.float32",
    with_counter(lambda g: g.sparse_mask((6, 5, 7), k=3, axis=-1, dtype=F32)))
add("gen.sparse_mask_6x5x7_k2_axis1.bfloat16",
    with_counter(lambda g: g.sparse_mask((6, 5, 7), k=2, axis=1, dtype=BF16)))

# Scalars and empty calls.
add("gen.scalar.random.float64", with_counter(lambda g: g.random()))
add("gen.scalar.normal.float32", with_counter(lambda g: g.normal(dtype=F32)))
add("gen.scalar.truncnorm.bfloat16", with_counter(lambda g: g.truncated_normal(dtype=BF16)))
add("gen.empty.normal.float32", with_counter(lambda g: g.normal(size=0, dtype=F32)))
add("gen.empty.sparse_mask", with_counter(lambda g: g.sparse_mask((0, 5), k=0)))


def _sequence(steps):
    def fn():
        g = fastinit.Generator(99)
        arr = None
        for step in steps:
            arr = step(g)
        return arr, {"counter": g.counter}
    return fn


SEQUENCE = [
    lambda g: g.random(size=10, dtype=F32),
    lambda g: g.normal(size=7, dtype=F64),
    lambda g: g.truncated_normal(size=5, dtype=BF16),
    lambda g: g.bernoulli(0.5, size=3),
    lambda g: g.sparse_mask((4, 5), k=2),
    lambda g: g.truncated_normal(0, 1, 0.5, 0.6, size=70, dtype=F16),
    lambda g: g.uniform(-1, 1, size=33, dtype=F64),
]
for i in range(len(SEQUENCE)):
    add(f"gen.sequence.step{i}", _sequence(SEQUENCE[:i + 1]))


# ---- index=, fill_range, out= layouts ------------------------------------------------------------

add("index.normal_64x100[3:10][::3].float32",
    with_counter(lambda g: g.normal(size=(64, 100), index=np.s_[3:10, ::3], dtype=F32)))
add("index.normal_64x100[3:10][::3].bfloat16",
    with_counter(lambda g: g.normal(size=(64, 100), index=np.s_[3:10, ::3], dtype=BF16)))
add("index.truncnorm_m2_2_40x30[::-2][5].float64",
    with_counter(lambda g: g.truncated_normal(size=(40, 30), index=np.s_[::-2, 5],
                                              dtype=F64)))
add("index.truncnorm_5_6_40x30[7][::-1].float32",
    with_counter(lambda g: g.truncated_normal(0, 1, 5, 6, size=(40, 30),
                                              index=np.s_[7, ::-1], dtype=F32)))
add("index.uniform_6x7x8[...][7:2:-1].float16",
    with_counter(lambda g: g.uniform(-1, 1, size=(6, 7, 8), index=np.s_[..., 7:2:-1],
                                     dtype=F16)))
add("index.bernoulli_0.25_50x50[10:20][::7].uint8",
    with_counter(lambda g: g.bernoulli(0.25, size=(50, 50), index=np.s_[10:20, ::7],
                                       dtype=np.uint8)))
add("index.sparse_mask_50x40_d0.2[10:20][::2]",
    with_counter(lambda g: g.sparse_mask((50, 40), density=0.2, index=np.s_[10:20, ::2])))
add("index.sparse_mask_50x40_k3_axis1[::-3][5:9]",
    with_counter(lambda g: g.sparse_mask((50, 40), k=3, axis=1, index=np.s_[::-3, 5:9])))

_KEY = fastinit.Generator(SEED).key


def _fill_range(dist, dt, counter, start, n, *params, key=None):
    def fn():
        out = np.empty(n, dtype=dt)
        fastinit.fill_range(dist, _KEY if key is None else key, counter, start, out, *params)
        return out, {}
    return fn


add("fill_range.normal.float32.whole", _fill_range("normal", F32, 0, 0, 1000, 0.0, 1.0),
    same_as="gen.standard_normal.float32.n1000")
add("fill_range.normal.float32.c32_s37_n100",
    _fill_range("normal", F32, 32, 37, 100, 0.0, 1.0, key=(1, 2)))
add("fill_range.uniform_m3_5.float64.c0_s5_n50",
    _fill_range("uniform", F64, 0, 5, 50, -3.0, 5.0))
add("fill_range.truncnorm_3_inf.float16.c16_s1000_n40",
    _fill_range("truncated_normal", F16, 16, 1000, 40, 0.0, 1.0, 3.0, INF))
add("fill_range.truncnorm_0.5_0.6.bfloat16.c48_s3_n20",
    _fill_range("truncated_normal", BF16, 48, 3, 20, 0.0, 1.0, 0.5, 0.6))
add("fill_range.bernoulli_0.25.uint8.c0_s3_n30",
    _fill_range("bernoulli", np.uint8, 0, 3, 30, 0.25))
add("fill_range.uniform.float32.counter_2e32m8",
    _fill_range("uniform", F32, 2**32 - 8, 0, 1000, 0.0, 1.0, key=(7, 9)))


def _into(layout, method, args, shape, dt):
    """g.<method>(*args, out=<an array of shape in this layout>)."""
    def make(g):
        if layout == "fortran":
            out = np.empty(shape, dtype=dt, order="F")
        else:                       # a negative-stride, non-contiguous view
            big = np.empty(tuple(2 * d for d in shape), dtype=dt)
            out = big[tuple(slice(None, None, -2) for _ in shape)]
        getattr(g, method)(*args, out=out)
        return out
    return make


OUT_LAYOUTS = [
    ("normal_0_1", "normal", (0.0, 1.0), (33, 17), F32),
    ("truncnorm_m1_3", "truncated_normal", (0.0, 1.0, -1.0, 3.0), (9, 11), F64),
    ("uniform_m3_5", "uniform", (-3.0, 5.0), (5, 6, 7), BF16),
    ("truncnorm_8_9", "truncated_normal", (0.0, 1.0, 8.0, 9.0), (13, 3), F16),
    ("normal_0_1", "normal", (0.0, 1.0), (400, 330), F32),      # threaded
]
for label, method, args, shape, dt in OUT_LAYOUTS:
    base = f"out.{label}.{dt.name}.{'x'.join(map(str, shape))}"
    add(f"{base}.C",
        with_counter(lambda g, method=method, args=args, shape=shape, dt=dt:
                     getattr(g, method)(*args, size=shape, dtype=dt)))
    for layout in ("fortran", "negstride"):
        add(f"{base}.{layout}", with_counter(_into(layout, method, args, shape, dt)),
            same_as=f"{base}.C")


# ---- seeds, state, spawn ---------------------------------------------------------------------------

def _seeded(make_gen, make):
    def fn():
        g = make_gen()
        key = list(g.key)
        arr = make(g)
        return arr, {"key": key, "counter": g.counter}
    return fn


SEEDS = [
    ("int0", lambda: fastinit.Generator(0)),
    ("int1", lambda: fastinit.Generator(1)),
    ("int12345", lambda: fastinit.Generator(12345)),
    ("int2e100", lambda: fastinit.Generator(2**100)),
    ("np_uint64_3", lambda: fastinit.Generator(np.uint64(3))),
    ("seedseq12345", lambda: fastinit.Generator(np.random.SeedSequence(12345))),
    ("seedseq_entropy_spawnkey",
     lambda: fastinit.Generator(np.random.SeedSequence(entropy=2**128 + 7, spawn_key=(1, 2)))),
    ("default_rng42", lambda: fastinit.default_rng(42)),
]
for label, make_gen in SEEDS:
    add(f"seed.{label}.normal.float32.n10",
        _seeded(make_gen, lambda g: g.normal(size=10, dtype=F32)))
    add(f"seed.{label}.random.float64.n10",
        _seeded(make_gen, lambda g: g.random(size=10, dtype=F64)))

STATES = [
    ("counter_2e64m100", (1, 2), 2**64 - 100),
    ("counter_2e64m17", (0xFFFFFFFF, 0xFFFFFFFF), 2**64 - 17),
    ("counter_2e32m8", (0xDEADBEEF, 0x12345678), 2**32 - 8),
]
for label, key, counter in STATES:
    add(f"state.{label}.random.float32.n64",
        _seeded(lambda key=key, counter=counter: gen_at(key, counter),
                lambda g: g.random(size=64, dtype=F32)))
    add(f"state.{label}.normal.float64.n32",
        _seeded(lambda key=key, counter=counter: gen_at(key, counter),
                lambda g: g.normal(size=32, dtype=F64)))
    add(f"state.{label}.truncnorm_0.5_0.6.float64.n16",
        _seeded(lambda key=key, counter=counter: gen_at(key, counter),
                lambda g: g.truncated_normal(0, 1, 0.5, 0.6, size=16, dtype=F64)))
add("state.counter_2e32m8.normal.float32.n1000",
    _seeded(lambda: gen_at((0xDEADBEEF, 0x12345678), 2**32 - 8),
            lambda g: g.normal(size=1000, dtype=F32)))


def _spawned(path, make):
    """Generator(7), then spawn(n)[i] for each (n, i) of path."""
    def fn():
        g = fastinit.Generator(7)
        for n, i in path:
            g = g.spawn(n)[i]
        key = list(g.key)
        arr = make(g)
        return arr, {"key": key, "counter": g.counter}
    return fn


for i in range(3):
    add(f"spawn.3[{i}].normal.float32.n100",
        _spawned([(3, i)], lambda g: g.normal(size=100, dtype=F32)))
add("spawn.3[2].2[1].random.float64.n5",
    _spawned([(3, 2), (2, 1)], lambda g: g.random(size=5, dtype=F64)))
add("spawn.seedseq.4[3].uniform.bfloat16.n50",
    _seeded(lambda: fastinit.Generator(np.random.SeedSequence(2024)).spawn(4)[3],
            lambda g: g.uniform(-1, 1, size=50, dtype=BF16)))


def _spawn_after_fills():
    g = fastinit.Generator(7)
    g.normal(size=1000, dtype=F32)          # fills do not change what spawn gives
    c = g.spawn(3)[0]
    return c.normal(size=100, dtype=F32), {"parent_counter": g.counter, "counter": c.counter}


add("spawn.after_fills.3[0].normal.float32.n100", _spawn_after_fills,
    same_as="spawn.3[0].normal.float32.n100")


# ---- philox4x32 ------------------------------------------------------------------------------------

# The first three are Random123's published known-answer vectors for Philox4x32-10.
PHILOX = [
    ((0, 0, 0, 0), (0, 0)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0)),
    ((1, 2, 3, 4), (5, 6)),
    ((0xFFFFFFFF, 0, 1, 0), _KEY),
]
for i, (ctr, key) in enumerate(PHILOX):
    add(f"philox4x32.{i}",
        lambda ctr=ctr, key=key: (np.array(fastinit.philox4x32(ctr, key), dtype=np.uint32),
                                  {"counter_in": list(ctr), "key": list(key)}))


# ---- the Python layer: torch names on NumPy arrays, Keras/JAX objects, defaults -----------------

class fresh:
    """A keyword argument made anew on every run of a case (a Generator advances when used,
    so one built once, at import, would give other values the second time)."""

    def __init__(self, make):
        self.make = make


def _resolve(kwargs):
    return {k: v.make() if isinstance(v, fresh) else v for k, v in kwargs.items()}


def _default_seeded(seed, fill):
    """fastinit.manual_seed(seed), then fill(); extras: the default generator's counter."""
    def fn():
        fastinit.manual_seed(seed)
        arr = fill()
        return arr, {"default_counter": fastinit.default_generator().counter}
    return fn


def _inplace(fn_name, shape, dt, *args, **kwargs):
    def fill():
        a = np.empty(shape, dtype=dt)
        getattr(fastinit.init, fn_name)(a, *args, **_resolve(kwargs))
        return a
    return fill


S5 = math.sqrt(5.0)
INIT = [
    ("kaiming_uniform_a_sqrt5", "kaiming_uniform_", (64, 32), F32, (), {"a": S5}),
    ("kaiming_uniform_a_sqrt5", "kaiming_uniform_", (64, 32), BF16, (), {"a": S5}),
    ("kaiming_normal_fan_out_relu", "kaiming_normal_", (16, 8, 3), F16, (),
     {"mode": "fan_out", "nonlinearity": "relu"}),
    ("xavier_uniform_", "xavier_uniform_", (20, 30), BF16, (), {}),
    ("xavier_normal_", "xavier_normal_", (20, 30), F32, (), {}),
    ("xavier_normal_gain2", "xavier_normal_", (20, 30), F64, (), {"gain": 2.0}),
    ("trunc_normal_std0.02", "trunc_normal_", (100,), F32, (),
     {"std": 0.02, "a": -0.04, "b": 0.04}),
    ("trunc_normal_", "trunc_normal_", (100,), BF16, (), {}),
    ("trunc_normal_std0.02", "trunc_normal_", (10, 10), F64, (),
     {"std": 0.02, "a": -0.04, "b": 0.04}),
    ("normal_1_3", "normal_", (50,), F64, (1.0, 3.0), {}),
    ("uniform_m0.5_0.5", "uniform_", (50,), F16, (-0.5, 0.5), {}),
    ("orthogonal_", "orthogonal_", (24, 16), F32, (), {}),
    ("orthogonal_", "orthogonal_", (16, 24), F64, (), {}),
    ("orthogonal_gain2", "orthogonal_", (8, 8), BF16, (), {"gain": 2.0}),
    ("orthogonal_", "orthogonal_", (6, 2, 3), F16, (), {}),
    ("sparse_0.3", "sparse_", (20, 10), F32, (0.3,), {}),
    ("sparse_0.5_std1", "sparse_", (12, 7), F64, (0.5,), {"std": 1.0}),
]
for label, name, shape, dt, args, kwargs in INIT:
    add(f"init.{label}.{dt.name}.{'x'.join(map(str, shape))}",
        _default_seeded(3, _inplace(name, shape, dt, *args, **kwargs)), kind="python")

add("init.kaiming_uniform_generator_int7.float32.64x32",
    _default_seeded(3, _inplace("kaiming_uniform_", (64, 32), F32, a=S5, generator=7)),
    kind="python")
add("init.xavier_uniform_generator_Generator.float32.8x8",
    _default_seeded(3, _inplace("xavier_uniform_", (8, 8), F32,
                                generator=fresh(lambda: fastinit.Generator(11)))),
    kind="python")


def _shard():
    fastinit.manual_seed(3)
    a = np.empty((64, 16), dtype=F32)
    fastinit.kaiming_uniform_(a, generator=fastinit.Generator(5), full_shape=(64, 64),
                              index=np.s_[:, 16:32])
    return a, {"default_counter": fastinit.default_generator().counter}


add("init.kaiming_uniform_shard[:][16:32].float32.64x64", _shard, kind="python")


def _init_sequence():
    """Three fills from the default generator in a row."""
    fastinit.manual_seed(21)
    a = np.empty((10, 10), F32)
    fastinit.normal_(a, 0.0, 0.02)
    fastinit.trunc_normal_(a, std=0.02, a=-0.04, b=0.04)
    fastinit.xavier_uniform_(a)
    return a, {"default_counter": fastinit.default_generator().counter}


add("init.sequence_default_generator.float32.10x10", _init_sequence, kind="python")


def _obj(make, shape, dtype=None, manual=None, **call):
    def fn():
        if manual is not None:
            fastinit.manual_seed(manual)
        init = make()
        arr = init(shape, dtype, **_resolve(call))
        return arr, {"default_counter": fastinit.default_generator().counter} \
            if manual is not None else {}
    return fn


I = fastinit.initializers
OBJECTS = [
    ("HeNormal_seed0", lambda: I.HeNormal(seed=0), (64, 32), None),
    ("HeUniform_seed1", lambda: I.HeUniform(seed=1), (16, 16), F64),
    ("GlorotUniform_seed1", lambda: I.GlorotUniform(seed=1), (3, 3, 8, 16), None),
    ("GlorotNormal_seed2", lambda: I.GlorotNormal(seed=2), (16, 16), BF16),
    ("LecunNormal_seed3", lambda: I.LecunNormal(seed=3), (8, 4), F16),
    ("LecunUniform_seed3", lambda: I.LecunUniform(seed=3), (8, 4), None),
    ("Orthogonal_seed2", lambda: I.Orthogonal(seed=2), (16, 8), None),
    ("Orthogonal_gain0.5_seed3", lambda: I.Orthogonal(gain=0.5, seed=3), (4, 4, 6), F64),
    ("Orthogonal_seed4", lambda: I.Orthogonal(seed=4), (8, 12), BF16),
    ("VarianceScaling_0.5_fan_out_uniform_seed3",
     lambda: I.VarianceScaling(0.5, "fan_out", "uniform", seed=3), (32, 16), None),
    ("VarianceScaling_2_fan_avg_untruncated_seed4",
     lambda: I.VarianceScaling(2.0, "fan_avg", "untruncated_normal", seed=4), (10, 20), None),
    ("VarianceScaling_normal_means_truncated_seed5",
     lambda: I.VarianceScaling(distribution="normal", seed=5), (10, 20), None),
    ("RandomNormal_seed6", lambda: I.RandomNormal(seed=6), (30,), None),
    ("RandomUniform_seed7", lambda: I.RandomUniform(seed=7), (30,), BF16),
    ("TruncatedNormal_seed8", lambda: I.TruncatedNormal(seed=8), (30,), F64),
    ("jax.he_normal_seed1", lambda: I.he_normal(seed=1), (3, 3, 4, 8), None),
    ("jax.variance_scaling_fan_geo_avg_normal_seed2",
     lambda: I.variance_scaling(1.0, "fan_geo_avg", "normal", seed=2), (12, 6), None),
    ("jax.orthogonal_1.5_axis0_seed3",
     lambda: I.orthogonal(scale=1.5, column_axis=0, seed=3), (5, 12), None),
    ("jax.delta_orthogonal_seed4", lambda: I.delta_orthogonal(seed=4), (3, 3, 4, 8), None),
    ("jax.truncated_normal_0.02_seed5", lambda: I.truncated_normal(0.02, seed=5), (30,), None),
    ("jax.normal_seed6", lambda: I.normal(seed=6), (30,), None),
    ("jax.uniform_0.1_seed7", lambda: I.uniform(0.1, seed=7), (30,), None),
]
for label, make, shape, dt in OBJECTS:
    add(f"obj.{label}.{'x'.join(map(str, shape))}" + ("" if dt is None else f".{dt.name}"),
        _obj(make, shape, dt), kind="python")

add("obj.HeNormal_unseeded_manual_seed5.8x4", _obj(lambda: I.HeNormal(), (8, 4), manual=5),
    kind="python")
add("obj.get_glorot_uniform_manual_seed11.6x5",
    _obj(lambda: fastinit.get("glorot_uniform"), (6, 5), manual=11), kind="python")
add("obj.HeNormal_seed0_generator_Generator3.8x4",
    _obj(lambda: I.HeNormal(seed=0), (8, 4),
         generator=fresh(lambda: fastinit.Generator(3))), kind="python")
add("obj.jax.he_normal_seed1_index[...][:8].3x3x16x16",
    _obj(lambda: I.he_normal(seed=1), (3, 3, 16, 16), index=np.s_[..., :8]), kind="python")

D = fastinit.defaults


def _torch_linear(part):
    def fn():
        w, b = np.empty((16, 12), F32), np.empty(16, F32)
        D.torch_linear_(w, b, generator=0)
        return {"weight": w, "bias": b}[part], {}
    return fn


add("defaults.torch_linear_.weight.float32.16x12", _torch_linear("weight"), kind="python")
add("defaults.torch_linear_.bias.float32.16", _torch_linear("bias"), kind="python")


def _defaults_inplace(name, shape, dt, **kwargs):
    def fn():
        a = np.empty(shape, dt)
        getattr(D, name)(a, **kwargs)
        return a, {}
    return fn


add("defaults.torch_embedding_pad2.float32.10x4",
    _defaults_inplace("torch_embedding_", (10, 4), F32, padding_idx=2, generator=5),
    kind="python")
add("defaults.martens_sparse_k5.float32.20x30",
    _defaults_inplace("martens_sparse_", (20, 30), F32, k=5, generator=3), kind="python")
add("defaults.depth_scaled_normal_12layers.bfloat16.32x16",
    _defaults_inplace("depth_scaled_normal_", (32, 16), BF16, num_layers=12, generator=4),
    kind="python")


def _flax_dense():
    k, b = np.empty((3, 3, 4, 8), F32), np.empty(8, F32)
    D.flax_dense_(k, b, generator=6)
    return k, {}


add("defaults.flax_dense_.kernel.float32.3x3x4x8", _flax_dense, kind="python")
add("defaults.flax_defaults_seed0.kernel.6x4",
    _obj(lambda: D.flax_defaults(seed=0)[0], (6, 4)), kind="python")
add("defaults.MartensSparse_k3_seed1.10x8",
    _obj(lambda: D.MartensSparse(k=3, seed=1), (10, 8)), kind="python")
add("defaults.DepthScaledNormal_seed2.float64.16x16",
    _obj(lambda: D.DepthScaledNormal(num_layers=4, seed=2), (16, 16), F64), kind="python")


# ---- torch -----------------------------------------------------------------------------------------

def to_numpy(t):
    """A torch tensor's values as a NumPy array with the same bits (bfloat16 as ml_dtypes')."""
    import torch
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(BF16).copy()
    return t.numpy().copy()


def _torch_next():
    """The next 63-bit draw of torch's default generator: how far the case moved it."""
    import torch
    return int(torch.empty((), dtype=torch.int64).random_())


def _torch_case(body):
    """torch.manual_seed(0), then body(torch) under fastinit.torch.patch()."""
    def fn():
        import torch
        import fastinit.torch as ft
        torch.manual_seed(0)
        with ft.patch():
            t = body(torch)
        return to_numpy(t), {"torch_next": _torch_next()}
    return fn


TORCH_DTYPES = ("float32", "bfloat16")
for tdn in TORCH_DTYPES:
    add(f"torch.patch.normal_.{tdn}.1000",
        _torch_case(lambda torch, tdn=tdn:
                    torch.nn.init.normal_(torch.empty(1000, dtype=getattr(torch, tdn)))),
        kind="torch", needs=("torch",))
    add(f"torch.patch.normal_0_0.02.{tdn}.100",
        _torch_case(lambda torch, tdn=tdn:
                    torch.nn.init.normal_(torch.empty(100, dtype=getattr(torch, tdn)),
                                          0.0, 0.02)),
        kind="torch", needs=("torch",))
    add(f"torch.patch.kaiming_uniform_a_sqrt5.{tdn}.64x32",
        _torch_case(lambda torch, tdn=tdn: torch.nn.init.kaiming_uniform_(
            torch.empty(64, 32, dtype=getattr(torch, tdn)), a=S5)),
        kind="torch", needs=("torch",))
    add(f"torch.patch.trunc_normal_std0.02.{tdn}.200",
        _torch_case(lambda torch, tdn=tdn: torch.nn.init.trunc_normal_(
            torch.empty(200, dtype=getattr(torch, tdn)), std=0.02, a=-0.04, b=0.04)),
        kind="torch", needs=("torch",))
    add(f"torch.patch.trunc_normal_.{tdn}.100",
        _torch_case(lambda torch, tdn=tdn: torch.nn.init.trunc_normal_(
            torch.empty(100, dtype=getattr(torch, tdn)))),
        kind="torch", needs=("torch",))
    add(f"torch.patch.orthogonal_.{tdn}.16x8",
        _torch_case(lambda torch, tdn=tdn: torch.nn.init.orthogonal_(
            torch.empty(16, 8, dtype=getattr(torch, tdn)))),
        kind="torch", needs=("torch",))
    add(f"torch.patch.xavier_uniform_.{tdn}.10x20",
        _torch_case(lambda torch, tdn=tdn: torch.nn.init.xavier_uniform_(
            torch.empty(10, 20, dtype=getattr(torch, tdn)))),
        kind="torch", needs=("torch",))
add("torch.patch.sparse_0.3.float32.20x10",
    _torch_case(lambda torch: torch.nn.init.sparse_(torch.empty(20, 10), 0.3)),
    kind="torch", needs=("torch",))
add("torch.patch.uniform_.float64.50",
    _torch_case(lambda torch: torch.nn.init.uniform_(torch.empty(50, dtype=torch.float64))),
    kind="torch", needs=("torch",))
add("torch.patch.kaiming_normal_.float16.8x6",
    _torch_case(lambda torch: torch.nn.init.kaiming_normal_(
        torch.empty(8, 6, dtype=torch.float16))),
    kind="torch", needs=("torch",))
add("torch.patch.normal_generator3.float32.100",
    _torch_case(lambda torch: torch.nn.init.normal_(
        torch.empty(100), generator=torch.Generator().manual_seed(3))),
    kind="torch", needs=("torch",))
add("torch.patch.two_calls.normal_then_uniform_.float32.50",
    _torch_case(lambda torch: (torch.nn.init.normal_(torch.empty(50)),
                               torch.nn.init.uniform_(torch.empty(50)))[1]),
    kind="torch", needs=("torch",))
add("torch.patch.Linear_12_8.weight.float32",
    _torch_case(lambda torch: torch.nn.Linear(12, 8).weight), kind="torch", needs=("torch",))
add("torch.patch.Linear_12_8.bias.float32",
    _torch_case(lambda torch: torch.nn.Linear(12, 8).bias), kind="torch", needs=("torch",))
add("torch.patch.Linear_12_8.weight.bfloat16",
    _torch_case(lambda torch: torch.nn.Linear(12, 8, dtype=torch.bfloat16).weight),
    kind="torch", needs=("torch",))
add("torch.patch.Embedding_10_4_pad0.weight.float32",
    _torch_case(lambda torch: torch.nn.Embedding(10, 4, padding_idx=0).weight),
    kind="torch", needs=("torch",))
add("torch.patch.Conv2d_3_4_k3.weight.float32",
    _torch_case(lambda torch: torch.nn.Conv2d(3, 4, 3).weight), kind="torch", needs=("torch",))
add("torch.patch.Sequential_Linear_Linear.1.weight.float32",
    _torch_case(lambda torch: torch.nn.Sequential(torch.nn.Linear(6, 5),
                                                  torch.nn.Linear(5, 4))[1].weight),
    kind="torch", needs=("torch",))


def _torch_direct(body):
    """fastinit's own functions on torch tensors (no patch)."""
    def fn():
        import torch
        torch.manual_seed(0)
        t = body(torch)
        return to_numpy(t), {"torch_next": _torch_next()}
    return fn


add("torch.direct.normal_torch_generator5.float32.100",
    _torch_direct(lambda torch: fastinit.normal_(
        torch.empty(100), generator=torch.Generator().manual_seed(5))),
    kind="torch", needs=("torch",))
add("torch.direct.kaiming_uniform_generator0.bfloat16.16x8",
    _torch_direct(lambda torch: fastinit.kaiming_uniform_(
        torch.empty(16, 8, dtype=torch.bfloat16), generator=0)),
    kind="torch", needs=("torch",))
add("torch.direct.trunc_normal_default_torch_generator.float32.50",
    _torch_direct(lambda torch: fastinit.trunc_normal_(
        torch.empty(50), generator=torch.default_generator)),
    kind="torch", needs=("torch",))
add("torch.direct.HeNormal_seed0_out.bfloat16.8x4",
    _torch_direct(lambda torch: fastinit.HeNormal(seed=0)(
        out=torch.empty(8, 4, dtype=torch.bfloat16))),
    kind="torch", needs=("torch",))
add("torch.direct.noncontiguous_normal_.float32.10x6",
    _torch_direct(lambda torch: fastinit.normal_(torch.empty(6, 10).t(), generator=2)),
    kind="torch", needs=("torch",))


def _generator_from():
    import torch
    import fastinit.torch as ft
    g = ft.generator_from(torch.Generator().manual_seed(0))
    return np.array(g.key, dtype=np.uint32), {"counter": g.counter}


add("torch.generator_from_manual_seed0.key", _generator_from, kind="torch", needs=("torch",))


# ---- dask and checkpoints ---------------------------------------------------------------------------

add("gen.normal_0_0.02.float32.100x30.seed0",
    with_counter(lambda g: g.normal(0.0, 0.02, size=(100, 30), dtype=F32), seed=0))


def _dask_normal():
    import fastinit.dask as fd
    x = fd.normal(0.0, 0.02, size=(100, 30), chunks=(33, 16), seed=0, dtype="float32")
    return x.compute(scheduler="synchronous"), {}


add("dask.normal_0_0.02.float32.100x30.chunks33x16", _dask_normal, kind="dask",
    same_as="gen.normal_0_0.02.float32.100x30.seed0", needs=("dask.array",))


def _checkpoint(preset, scheme, dtype, seed):
    def fn():
        from fastinit import checkpoint
        tensors = checkpoint.plan(checkpoint.PRESETS[preset], scheme=scheme, dtype=dtype)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "model.safetensors")
            checkpoint.write(tensors, path, seed=seed)
            with open(path, "rb") as f:
                data = np.frombuffer(f.read(), dtype=np.uint8)
        return data, {}
    return fn


add("checkpoint.llama-tiny.hf.bf16.seed0", _checkpoint("llama-tiny", "hf", "bf16", 0),
    kind="checkpoint")
add("checkpoint.qwen2-tiny.torch-default.f32.seed1",
    _checkpoint("qwen2-tiny", "torch-default", "f32", 1), kind="checkpoint")
add("checkpoint.llama-tiny.trunc-normal.f16.seed2",
    _checkpoint("llama-tiny", "trunc-normal", "f16", 2), kind="checkpoint")
