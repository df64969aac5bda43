"""The extension built by another compiler writes the same bits: clang builds fastinit._core
from a copy of the sources, and the golden values (frozen from a gcc build) are checked
against it on every SIMD path with 1 and 2 threads. Skipped where clang is absent."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_clang_build_matches_golden_values(tmp_path):
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang is not on PATH (Debian: clang)")
    pytest.importorskip("Cython")
    pytest.importorskip("setuptools")
    src = tmp_path / "fastinit-src"
    src.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    for d in ("csrc", "src"):
        shutil.copytree(os.path.join(ROOT, d), src / d,
                        ignore=shutil.ignore_patterns("*.so", "*.pyd", "_core.c", "__pycache__"))
    env = dict(os.environ, CC=clang, LDSHARED=f"{clang} -shared -pthread")
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace", "-j", "2"],
                       cwd=src, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    env = dict(os.environ, PYTHONPATH=str(src / "src"))
    env.pop("FASTINIT_SIMD", None)
    r = subprocess.run([sys.executable, "-c", "import fastinit; print(fastinit.__file__)"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith(str(src)), r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.join(ROOT, "tests", "test_golden.py"),
                        os.path.join(ROOT, "tests", "test_threads.py")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout
