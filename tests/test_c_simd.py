"""tests/c/simd_check.c, built from csrc/ alone: every SIMD path against the scalar one in
plain C, natively, and for AArch64 under qemu-user, where the NEON path runs on any host."""
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
CHECK = os.path.join(ROOT, "tests", "c", "simd_check.c")
# setup.py's flags but -fopenmp: the threads live in _core.pyx, csrc/ has no OpenMP.
CFLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno"]


def build(cc, out_dir, extra=()):
    """Each source compiled on its own, in parallel: the AVX-512 files take half a minute."""
    sources = [CHECK] + sorted(os.path.join(CSRC, f) for f in os.listdir(CSRC) if f.endswith(".c"))

    def compile_one(src):
        obj = os.path.join(out_dir, os.path.basename(src) + ".o")
        r = subprocess.run([cc, *CFLAGS, *extra, "-I", CSRC, "-c", src, "-o", obj],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{src}:\n{r.stderr}"
        return obj

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        objs = list(pool.map(compile_one, sources))
    exe = os.path.join(out_dir, "simd_check")
    r = subprocess.run([cc, *extra, *objs, "-o", exe, "-lm"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return exe


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ": 0 differ" in r.stdout
    return r.stdout


def compared_levels(out):
    line = next(s for s in out.splitlines() if s.startswith("levels compared with scalar:"))
    return line.split(":", 1)[1].split()


@pytest.mark.slow
def test_c_simd_native(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc or gcc) on PATH")
    exe = build(cc, str(tmp_path))
    levels = compared_levels(run([exe]))
    assert "scalar" not in levels and levels


@pytest.mark.slow
def test_c_simd_neon_under_qemu(tmp_path):
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if cc is None or qemu is None:
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64 on PATH "
                    "(Debian: gcc-aarch64-linux-gnu, qemu-user)")
    exe = build(cc, str(tmp_path), extra=["-static"])   # static: qemu needs no sysroot
    assert compared_levels(run([qemu, exe])) == ["neon"]
