"""The thread pool (csrc/pool.c): it survives fork, links no OpenMP runtime, serves several
Python threads at once, and keeps set_num_threads' and the environment's meaning. Each fork
runs in a subprocess with a timeout, so a hang fails the test instead of stalling the suite."""
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastinit
from fastinit import _core

N = 1 << 21         # well past the threading threshold: on 2 and 3 threads, chunks of 2**18
                    # float32 values (1 MiB, the C prefault's least); on 8, of 2**16


def run_py(code, timeout=120, **env):
    e = dict(os.environ, **env)
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout, env=e)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


FORK_CHILD = """
    import os, numpy as np, fastinit
    from fastinit import _core
    fastinit.set_num_threads(2)
    a = fastinit.Generator(1).standard_normal(size={n}, dtype=np.float32)   # starts workers
    assert _core._pool_workers() >= 1
    pid = os.fork()
    if pid == 0:
        ok = _core._pool_workers() == 0          # the parent's workers are not in the child
        b = fastinit.Generator(1).standard_normal(size={n}, dtype=np.float32)
        ok = ok and np.array_equal(a.view(np.uint32), b.view(np.uint32))
        ok = ok and _core._pool_workers() >= 1   # and it made its own
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    c = fastinit.Generator(1).standard_normal(size={n}, dtype=np.float32)   # parent goes on
    assert np.array_equal(a.view(np.uint32), c.view(np.uint32))
    print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_forked_child_fills_with_threads():
    assert run_py(FORK_CHILD.format(n=N), timeout=60).strip() == "ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_pool_of_processes():
    """multiprocessing's fork start method (Linux's default before 3.14; DataLoader and Dask
    workers) after a threaded fill in the parent: every worker fills with threads."""
    out = run_py(f"""
        import multiprocessing as mp, numpy as np, fastinit
        fastinit.set_num_threads(2)
        fastinit.Generator(0).random(size={N}, dtype=np.float32)
        def work(seed):
            x = fastinit.Generator(seed).normal(size={N}, dtype=np.float32)
            return x.view(np.uint32).sum(dtype=np.uint64).item()
        with mp.get_context("fork").Pool(2) as pool:
            got = pool.map(work, range(4))
        want = [work(s) for s in range(4)]
        assert got == want, (got, want)
        print("ok")
    """, timeout=90)
    assert out.strip() == "ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_fork_while_another_thread_fills():
    """A fork while another Python thread runs a threaded fill: the child's pool is fresh
    and works (the fork handlers take the pool's lock around the fork)."""
    out = run_py(f"""
        import os, threading, numpy as np, fastinit
        fastinit.set_num_threads(2)
        stop = threading.Event()
        def busy():
            g = fastinit.Generator(5)
            while not stop.is_set():
                g.random(size={N}, dtype=np.float32)
        t = threading.Thread(target=busy)
        t.start()
        want = fastinit.Generator(2).uniform(size={N}, dtype=np.float32)
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                b = fastinit.Generator(2).uniform(size={N}, dtype=np.float32)
                os._exit(0 if np.array_equal(want.view(np.uint32), b.view(np.uint32)) else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        stop.set()
        t.join()
        print("ok")
    """, timeout=120)
    assert out.strip() == "ok"


def test_no_openmp_runtime_linked():
    """The extension names no OpenMP runtime or entry point (libgomp, libomp, libiomp,
    vcomp, GOMP_*/omp_* symbols)."""
    with open(_core.__file__, "rb") as f:
        blob = f.read()
    for needle in (b"libgomp", b"libomp", b"libiomp", b"vcomp", b"GOMP_", b"omp_get_"):
        assert needle not in blob, needle
    ldd = shutil.which("ldd")
    if ldd and sys.platform.startswith("linux"):
        r = subprocess.run([ldd, _core.__file__], capture_output=True, text=True)
        assert "omp" not in r.stdout, r.stdout


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("method", ["random", "standard_normal", "truncated_normal"])
def test_any_thread_count_same_bits(threads, method):
    """Up to more threads than chunks or CPUs: the pool only changes who computes what."""
    fastinit.set_num_threads(1)
    want = getattr(fastinit.Generator(9), method)(size=N + 12345, dtype=np.float32)
    fastinit.set_num_threads(threads)
    got = getattr(fastinit.Generator(9), method)(size=N + 12345, dtype=np.float32)
    assert np.array_equal(want.view(np.uint32), got.view(np.uint32))


@pytest.mark.parametrize("dtype", [np.float16, _core.BFLOAT16, np.float32, np.float64])
@pytest.mark.parametrize("size", [(1 << 20) - 2048, (2 << 20) + 12345])
def test_one_mib_chunks_same_bits(dtype, size):
    """Chunks are at least 1 MiB once a fill has two of them per thread (2**19 float16
    values, 2**17 float64, ...): the bits are those of one thread, just below and above
    that size for every itemsize."""
    fastinit.set_num_threads(1)
    want = fastinit.Generator(4).normal(0.0, 0.02, size=size, dtype=dtype)
    for threads in (2, 3):
        fastinit.set_num_threads(threads)
        got = fastinit.Generator(4).normal(0.0, 0.02, size=size, dtype=dtype)
        assert np.array_equal(want.view(np.uint8), got.view(np.uint8)), threads
    fastinit.set_num_threads(2)


def test_python_threads_share_the_pool():
    """Several Python threads filling at once (the GIL released): a call that finds the pool
    busy runs on its own thread; every result equals the same call made alone."""
    fastinit.set_num_threads(2)
    seeds = list(range(8))
    want = {s: fastinit.Generator(s).normal(size=N, dtype=np.float32) for s in seeds}
    got = {}
    barrier = threading.Barrier(4)

    def work(part):
        barrier.wait()
        for s in part:
            got[s] = fastinit.Generator(s).normal(size=N, dtype=np.float32)

    ts = [threading.Thread(target=work, args=(seeds[i::4],)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for s in seeds:
        assert np.array_equal(want[s].view(np.uint32), got[s].view(np.uint32)), s


def test_masks_and_constants_use_the_pool():
    """sparse_mask and fill_bits (constant_ and friends) also go through the pool."""
    fastinit.set_num_threads(1)
    m1 = fastinit.Generator(3).sparse_mask((4096, 512), k=7)
    c1 = np.empty(3 << 20, np.float32)
    _core.fill_bits(c1, np.float32(0.25).view(np.uint32).item())
    fastinit.set_num_threads(2)
    m2 = fastinit.Generator(3).sparse_mask((4096, 512), k=7)
    c2 = np.empty(3 << 20, np.float32)
    _core.fill_bits(c2, np.float32(0.25).view(np.uint32).item())
    assert np.array_equal(m1, m2)
    assert (m2.sum(axis=0) == 7).all()
    assert (c1 == 0.25).all() and (c2 == 0.25).all()


def test_set_num_threads_meaning():
    fastinit.set_num_threads(3)
    assert fastinit.get_num_threads() == 3
    for bad in (0, -1):
        with pytest.raises(ValueError):
            fastinit.set_num_threads(bad)
    for bad in (2.0, True, np.True_):
        with pytest.raises(TypeError):
            fastinit.set_num_threads(bad)
    assert fastinit.get_num_threads() == 3


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_default_follows_affinity():
    """Without FASTINIT_NUM_THREADS the default is the CPUs this process may use."""
    env = {k: v for k, v in os.environ.items() if k != "FASTINIT_NUM_THREADS"}
    cpu = sorted(os.sched_getaffinity(0))[0]
    r = subprocess.run([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{cpu}}}); "
                        "import fastinit; print(fastinit.get_num_threads())"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"
    out = run_py("import fastinit; print(fastinit.get_num_threads())", FASTINIT_NUM_THREADS="5")
    assert out.strip() == "5"
