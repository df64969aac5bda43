"""tests/c/simd_check.c, built from csrc/ alone: every SIMD path against the scalar one in
plain C, natively with gcc and with clang, for AArch64 under qemu-user (where the NEON path
runs on any host), and for Windows with MinGW-w64 (run under wine where wine is installed).
Each build also runs the thread pool and prints a digest of its bytes: every build must
print the same one."""
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
CHECK = os.path.join(ROOT, "tests", "c", "simd_check.c")
REF = os.path.join(ROOT, "tests", "c", "simd_ref.c")       # the generic algorithms, plain C
# setup.py's flags (POSIX builds add -pthread for the thread pool).
CFLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Werror"]


def build(cc, out_dir, extra=(), exe_name="simd_check"):
    """Each source compiled on its own, in parallel: the AVX-512 files take half a minute."""
    sources = [CHECK, REF] + sorted(os.path.join(CSRC, f) for f in os.listdir(CSRC) if f.endswith(".c"))

    def compile_one(src):
        obj = os.path.join(out_dir, os.path.basename(src) + ".o")
        # The reference needs no speed, and at -O3 it alone took two minutes to compile;
        # its bits do not depend on the level (no fast-math, no contraction).
        level = ["-O1"] if src == REF else []
        r = subprocess.run([cc, *CFLAGS, *level, *extra, "-I", CSRC, "-c", src, "-o", obj],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{src}:\n{r.stderr}"
        return obj

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        objs = list(pool.map(compile_one, sources))
    exe = os.path.join(out_dir, exe_name)
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


def digest(out):
    line = next(s for s in out.splitlines() if s.startswith("digest of the scalar bytes:"))
    return line.split(":", 1)[1].strip()


def pool_ok(out):
    line = next(s for s in out.splitlines() if s.startswith("thread pool:"))
    return line.endswith(": 0 differ") and not line.startswith("thread pool: 0 workers")


@pytest.fixture(scope="module")
def gcc_run(tmp_path_factory):
    """simd_check built with the native gcc (or cc) and run: the reference output."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (gcc or cc) on PATH")
    exe = build(cc, str(tmp_path_factory.mktemp("gcc")), extra=["-pthread"])
    return run([exe])


@pytest.mark.slow
def test_c_simd_native(gcc_run):
    levels = compared_levels(gcc_run)
    assert "scalar" not in levels and levels
    assert pool_ok(gcc_run)


@pytest.mark.slow
def test_c_simd_clang_same_bits(gcc_run, tmp_path):
    """clang honours the target attributes of portable.h, and writes gcc's bits."""
    cc = shutil.which("clang")
    if cc is None:
        pytest.skip("clang is not on PATH (Debian: clang)")
    out = run([build(cc, str(tmp_path), extra=["-pthread"])])
    assert compared_levels(out) == compared_levels(gcc_run)
    assert pool_ok(out)
    assert digest(out) == digest(gcc_run)


@pytest.mark.slow
def test_c_simd_neon_under_qemu(gcc_run, tmp_path):
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if cc is None or qemu is None:
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64 on PATH "
                    "(Debian: gcc-aarch64-linux-gnu, qemu-user)")
    # static: qemu needs no sysroot
    out = run([qemu, build(cc, str(tmp_path), extra=["-static", "-pthread"])])
    assert compared_levels(out) == ["neon"]
    assert pool_ok(out)
    assert digest(out) == digest(gcc_run)


@pytest.mark.slow
def test_c_simd_windows_mingw(gcc_run, tmp_path):
    """The C core builds for Windows (the pool on Win32 threads); where wine runs, its bits
    and its pool are checked there too."""
    cc = shutil.which("x86_64-w64-mingw32-gcc")
    if cc is None:
        pytest.skip("x86_64-w64-mingw32-gcc is not on PATH (Debian: gcc-mingw-w64-x86-64)")
    exe = build(cc, str(tmp_path), extra=["-static"], exe_name="simd_check.exe")
    wine = shutil.which("wine")
    if wine is None:
        pytest.skip("built for Windows; wine is not installed to run it (Debian: wine)")
    env = dict(os.environ, WINEDEBUG="-all", WINEPREFIX=str(tmp_path / "wine"))
    r = subprocess.run([wine, exe], capture_output=True, text=True, timeout=600, env=env)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ": 0 differ" in r.stdout and pool_ok(r.stdout)
    assert digest(r.stdout) == digest(gcc_run)
