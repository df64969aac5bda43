"""The Python layer's modules form layers, and every import goes down.

- Statically: every ``import``/``from`` of a fastinit module, anywhere in a file (inside
  functions too, where a lazy import would hide a circle until some call runs it), goes to a
  module of the same layer or a lower one, and the import graph has no cycle.
- ``import fastinit`` imports no framework (torch, dask, jax, keras, scipy, ...), and using
  it on NumPy arrays does not either.
- Each module can be the first one imported, alone, in a fresh interpreter (a circle that only
  bites in some import order fails here).
"""
import ast
import pathlib
import re
import subprocess
import sys

import pytest

import fastinit

# The package's source: the work tree's when the tests run from it, else the installed one.
_TREE = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastinit"
PKG = _TREE if _TREE.is_dir() else pathlib.Path(fastinit.__file__).parent

# Bottom to top. A module may import from its own layer or below, never above.
LAYERS = [
    ("_core",),                         # compiled (_core.pyx): the kernels' Python API
    ("_adapt", "_state"),               # torch dtypes and tensors as NumPy sees them; the
                                        # default generator
    ("_args",),                         # every argument check
    ("_fans", "_fill"),                 # gains and fans; the fills both APIs share
    ("init", "initializers"),           # torch names; Keras classes and JAX factories
    ("defaults",),                      # framework defaults, over both
    ("torch", "_dtensor", "dask",       # the framework adapters (torch's DTensors apart);
     "keras", "jax", "checkpoint",     # the checkpoint writer; transformers' models for it
     "_hf", "_record", "_routes",       # (recorded in a child process that loads only
     "_plan_cache"),                    # _record and _routes of fastinit; plans kept)
    ("cli",),                           # `fastinit init`
    ("__init__", "__main__"),           # the package's namespace; `python -m fastinit`
]
LAYER = {m: i for i, layer in enumerate(LAYERS) for m in layer}

# Only _core below these: they hold what the checks and the adapters both need.
LEAVES = ("_adapt", "_state")

FRAMEWORKS = ("torch", "dask", "jax", "jaxlib", "keras", "tensorflow", "flax", "scipy")


def python_modules():
    return sorted(p.stem for p in PKG.glob("*.py"))


def _module_of(dotted):
    """The package module a dotted name imports ('fastinit.x' -> 'x', 'fastinit' ->
    '__init__'), or None for anything outside the package."""
    if dotted == "fastinit":
        return "__init__"
    if dotted.startswith("fastinit."):
        return dotted.split(".")[1]
    return None


def _from_targets(node, modules):
    """The package modules a ``from ... import ...`` statement imports."""
    if node.level:                      # relative: every module sits in the package itself
        if node.level > 1:
            return []
        base = "fastinit" + ("." + node.module if node.module else "")
    else:
        base = node.module or ""
    mod = _module_of(base)
    if mod is None:
        return []
    if mod != "__init__":
        return [mod]
    # from fastinit import x: x is a submodule, or a name the package's __init__ defines
    return sorted({a.name if a.name in modules else "__init__" for a in node.names})


def _dynamic_target(node, modules):
    """The package modules an ``importlib.import_module(...)`` or ``__import__(...)`` call
    imports: its module when the name is a constant; every module when it is built at run
    time from 'fastinit.' (it could be any of them)."""
    f = node.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    if name not in ("import_module", "__import__") or not node.args:
        return []
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        mod = _module_of(arg.value)
        return [] if mod is None else [mod]
    if isinstance(arg, ast.JoinedStr) and arg.values and \
            isinstance(arg.values[0], ast.Constant) and \
            str(arg.values[0].value).startswith("fastinit."):
        return list(modules)
    return []


def imports_of(module, modules):
    """[(line, imported module)] of every intra-package import in module's file, wherever it
    is (module level, functions, methods, try and if blocks)."""
    tree = ast.parse((PKG / f"{module}.py").read_text(), f"{module}.py")
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [_module_of(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = _from_targets(node, modules)
        elif isinstance(node, ast.Call):
            targets = _dynamic_target(node, modules)
        else:
            continue
        out.extend((node.lineno, t) for t in targets if t is not None and t != module)
    return out


def import_graph():
    modules = set(python_modules()) | {"_core"}
    graph = {m: {} for m in modules}
    for m in python_modules():
        for line, t in imports_of(m, modules):
            graph[m].setdefault(t, line)
    return graph


def find_cycle(graph):
    """A cycle of the graph as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == "open":
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def _describe(graph, cycle):
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + \
        f" -> {cycle[-1]}"


# ---- the graph ----------------------------------------------------------------------------

def test_every_module_has_a_layer():
    missing = [m for m in python_modules() if m not in LAYER]
    assert not missing, f"place these modules in LAYERS: {missing}"
    stale = [m for m in LAYER if m != "_core" and m not in python_modules()]
    assert not stale, f"LAYERS names modules that do not exist: {stale}"


def test_import_graph_is_acyclic():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {_describe(graph, cycle)}"


def test_imports_only_go_down():
    graph = import_graph()
    up = [f"{m} (layer {LAYER[m]}) imports {t} (layer {LAYER[t]}) at line {line}"
          for m, targets in sorted(graph.items()) for t, line in sorted(targets.items())
          if m in LAYER and t in LAYER and LAYER[t] > LAYER[m]]
    assert not up, "imports that go up a layer:\n" + "\n".join(up)


@pytest.mark.parametrize("module", LEAVES)
def test_leaves_import_only_the_core(module):
    graph = import_graph()
    assert set(graph[module]) <= {"_core"}, graph[module]


# Python-level imports of the package in Cython source (``cimport`` is compile time: the
# core's own .pxd files are its business, and are not matched).
_CY_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.[\w.]*|fastinit\b[\w.]*)[ \t]+import\b"
                        r"|import[ \t]+(fastinit\b[\w.]*))", re.MULTILINE)


def test_core_imports_no_python_module():
    """The compiled core sits below the Python layer: its Cython sources import nothing of
    the package at run time."""
    sources = sorted(PKG.glob("_core.pyx")) + sorted(PKG.glob("*.pxi"))
    hits = [f"{p.name}: {m.group(0).strip()}" for p in sources
            for m in _CY_IMPORT.finditer(p.read_text())
            if (m.group(1) or m.group(2)) not in ("fastinit._core", "._core")]
    assert not hits, hits


def test_core_import_pattern():
    found = [m.group(1) or m.group(2) for m in _CY_IMPORT.finditer(
        "from fastinit._args import shape\n    import fastinit.init\nfrom . import _fill\n"
        "from fastinit._cdefs cimport x\ncimport numpy as cnp\n>>> import fastinit\n")]
    assert found == ["fastinit._args", "fastinit.init", "."]


# The graph builder must see what it claims to: imports inside functions, relative imports,
# names from the package's __init__, and dynamic ones.
_SAMPLE = """
import numpy as np
import torch
from fastinit import _args, init as _init
from fastinit._core import Generator
from . import _fill
from .defaults import zeros

def f():
    import fastinit.dask
    from fastinit import calculate_gain
    return importlib.import_module("fastinit.checkpoint")
"""
_DYNAMIC = """
def __getattr__(name):
    return importlib.import_module(f"fastinit.{name}")
"""


def _sample_imports(tmp_path, monkeypatch, text, modules):
    (tmp_path / "sample.py").write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PKG", tmp_path)
    return {t for _, t in imports_of("sample", modules | {"sample"})}


def test_graph_builder_sees_every_kind_of_import(tmp_path, monkeypatch):
    modules = {"_args", "init", "_core", "_fill", "defaults", "dask", "checkpoint",
               "__init__", "torch"}
    got = _sample_imports(tmp_path, monkeypatch, _SAMPLE, modules)
    # `import torch` is torch's, not fastinit.torch
    assert got == modules - {"torch"}, got


def test_graph_builder_takes_a_dynamic_import_for_any_module(tmp_path, monkeypatch):
    modules = {"_args", "init", "torch"}
    assert _sample_imports(tmp_path, monkeypatch, _DYNAMIC, modules) == modules


def test_cycle_finder():
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {}}) is None
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {}, "b": {"c": 1}, "c": {"b": 1}}) == ["b", "c", "b"]


# ---- in fresh interpreters ----------------------------------------------------------------

def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


_NO_FRAMEWORKS = """
import sys
FRAMEWORKS = {frameworks!r}
def loaded():
    return sorted({{m.split(".")[0] for m in sys.modules}} & set(FRAMEWORKS))
import fastinit
assert not loaded(), "import fastinit imported " + repr(loaded())
assert "fastinit.torch" not in sys.modules and "fastinit.dask" not in sys.modules
import numpy as np
fastinit.kaiming_uniform_(np.empty((8, 4), np.float32))
fastinit.orthogonal_(np.empty((4, 4)), generator=1)
fastinit.normal_(np.empty(6, fastinit.BFLOAT16), generator=np.random.SeedSequence(2))
fastinit.he_normal()((3, 3, 4, 8), dtype="float16")
fastinit.get("glorot_uniform")(out=np.empty((5, 5), np.float32))
fastinit.defaults.torch_linear_(np.empty((4, 3), np.float32), np.empty(4, np.float32))
fastinit.manual_seed(3)
assert not loaded(), "using fastinit on NumPy arrays imported " + repr(loaded())
assert "fastinit.torch" not in sys.modules and "fastinit.dask" not in sys.modules
print("ok")
"""


def test_import_fastinit_imports_no_framework():
    r = _python(_NO_FRAMEWORKS.format(frameworks=FRAMEWORKS))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"


def _importable(module):
    """fastinit.torch and fastinit.dask need their framework installed."""
    import importlib.util
    return module not in ("torch", "dask") or importlib.util.find_spec(module) is not None


@pytest.mark.slow          # a fresh interpreter per module: about 1.5 s of CPU each
def test_each_module_imports_first_and_alone():
    """``python -c "import fastinit.<module>"`` for every module, each in its own fresh
    interpreter (all at once: each pays for NumPy's and ml_dtypes' import). __main__ runs
    the command line when imported: test_cli runs ``python -m fastinit``."""
    names = ["fastinit" if m == "__init__" else f"fastinit.{m}" for m in python_modules()
             if m != "__main__" and _importable(m)]
    procs = {n: subprocess.Popen([sys.executable, "-c", f"import {n}\nprint('ok')\n"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in names}
    failed = {}
    try:
        for n, p in procs.items():
            out, err = p.communicate(timeout=300)
            if p.returncode != 0 or out.strip() != "ok":
                failed[n] = err.strip().splitlines()[-1:] or out
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert not failed, failed


# ---- what moved keeps its old names -------------------------------------------------------

def test_torch_adapter_keeps_its_names():
    ft = pytest.importorskip("fastinit.torch")
    from fastinit import _adapt
    for n in ("as_array", "numpy_dtype", "written", "generator_from"):
        assert getattr(ft, n) is getattr(_adapt, n), n
    assert set(ft.__all__) >= {"FUNCTIONS", "as_array", "install", "is_installed", "patch",
                               "uninstall"}


def test_one_default_generator_everywhere(restore_default_generator):
    """manual_seed replaces the default generator in _state; every path sees the new one."""
    from fastinit import _args, _state
    g = fastinit.manual_seed(5)
    assert fastinit.init.manual_seed is fastinit.manual_seed is _args.manual_seed
    for seen in (fastinit.default_generator(), _args.default_generator(), _state._default,
                 _args.generator(None)):
        assert seen is g
    h = fastinit.Generator(6)
    _state._default = h
    assert fastinit.default_generator() is h and _args.generator(None) is h
    assert "_default" not in vars(_args)        # no stale copy left in _args


def test_unseeded_initializer_draws_from_the_current_default(restore_default_generator):
    fastinit.manual_seed(8)
    a = fastinit.GlorotUniform()((6, 5))
    fastinit.manual_seed(8)
    assert fastinit.default_generator().counter == 0
    b = fastinit.GlorotUniform()((6, 5))
    assert fastinit.default_generator().counter > 0
    assert a.tobytes() == b.tobytes()
