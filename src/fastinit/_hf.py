"""Any transformers architecture for ``fastinit init`` (``pip install fastinit[hf]``).

The model's own initialization is recorded on the ``meta`` device (fastinit._record) and
each tensor's records, in call order, are replayed block by block into the checkpoint (the
last write wins per element), so the RNG stream order is the model's own. What cannot be
streamed (a ``copy_`` from a computed tensor, an in-place arithmetic op, a strided part) is
computed whole in memory and named in the summary.

Recording runs in a child process: torch and transformers, a few hundred MB of RSS once
imported, never load in the process that writes, which stays small. Importing them is most
of the time recording takes (seconds; building and recording take a fraction of one), so
the child is started as early as possible (by the command, fastinit_cli, before it imports
fastinit; else by ``start``) and imports while the writer does its own set-up; it loads
fastinit._record and fastinit._routes only, not the fastinit package (see fastinit._record).
Only a tensor computed in memory by torch ops imports torch here. A plan recorded once is
kept for the next run of the same config (fastinit._plan_cache).
"""
import os
import pickle
import sys
import time

from fastinit import _plan_cache, checkpoint
from fastinit.checkpoint import CheckpointError, Fill, Tensor

class Recording:
    """A recording child process at work (``start``); ``answer()`` waits for its plan.
    recorder: a fastinit_cli.Recorder started already (by the command, before it imported
    fastinit), else one is started here."""

    def __init__(self, cfg, scheme, trim=True, cache_key=None, recorder=None):
        self.cfg, self.scheme, self.trim, self.cache_key = cfg, scheme, trim, cache_key
        if recorder is None:
            from fastinit_cli import Recorder
            recorder = Recorder(os.path.dirname(os.path.abspath(__file__)), trim)
        self.recorder, self.proc, self.t0 = recorder, recorder.proc, recorder.t0
        req = {"cfg": cfg, "scheme": scheme, "kinds": tuple(checkpoint.INITS)}
        try:
            self.proc.stdin.write(pickle.dumps(req))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass                    # the child died at start: answer() says so

    def answer(self):
        """The child's plan {"entries", ...} (see fastinit._record.recorded_plan), with
        "seconds" (the child's whole time: start-up and imports included)."""
        try:
            kind, value = pickle.load(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError):
            kind, value = "crash", None
        # It exits at once after answering (os._exit): no wait worth the name.
        rc = self.proc.wait()
        self.proc.stdout.close()
        if kind == "ok":
            value["seconds"] = time.perf_counter() - self.t0
            if self.cache_key is not None:
                _plan_cache.store(self.cache_key, value["entries"])
            return value
        if kind == "error":
            raise CheckpointError(value)
        if kind == "exception" and self.trim:
            # Maybe the trimmed start-up (fastinit._record._seed_models_package): again
            # without it, exactly as transformers loads itself.
            t0 = self.t0
            again = Recording(self.cfg, self.scheme, trim=False, cache_key=self.cache_key)
            again.t0 = t0
            return again.answer()
        if kind == "exception":
            raise CheckpointError(f"recording {self.cfg.get('model_type')}'s initialization "
                                  f"failed: {value}")
        raise CheckpointError(f"the recording process ended without an answer (exit code "
                              f"{rc})")

    def close(self):
        """End the child if it is still at work (an error or Ctrl-C in the writer)."""
        self.recorder.end()


class Cached:
    """A plan recorded by an earlier run (fastinit._plan_cache), in Recording's place."""

    def __init__(self, entries):
        self.t0 = time.perf_counter()
        self.entries = entries

    def answer(self):
        return {"entries": self.entries, "cached": True,
                "seconds": time.perf_counter() - self.t0}

    def close(self):
        pass


def start(cfg, scheme="hf", cache=True, recorder=None):
    """Start recording a config's model in a child process (recorder's, if one was started
    already), or take its plan from the plan cache (fastinit._plan_cache; then recorder is
    ended unused; cache=False, or FASTINIT_PLAN_CACHE=0, records whatever is there, and
    leaves the cache as it is); pass the result to plan()."""
    if scheme not in checkpoint.SCHEMES:
        raise CheckpointError(f"unknown scheme {scheme!r}; choose from "
                              f"{', '.join(checkpoint.SCHEMES)}")
    k = _plan_cache.key(cfg, scheme, tuple(checkpoint.INITS)) \
        if cache and _plan_cache.enabled() else None
    entries = _plan_cache.load(k) if k is not None else None
    if entries is not None:
        if recorder is not None:
            recorder.end()
        return Cached(entries)
    return Recording(cfg, scheme, cache_key=k, recorder=recorder)


# ---- the plan -------------------------------------------------------------------------------

def plan(cfg, scheme="hf", dtype="bf16", isolated=None, started=None):
    """(tensors, names computed in memory) of a transformers model's checkpoint. isolated:
    build and record in a child process (see the module's doc); by default only when
    transformers is not imported here yet (else its memory is spent already). started: the
    ``start(cfg, scheme)`` of this config, already at work."""
    if started is not None:
        isolated = True
    elif isolated is None:
        isolated = "transformers" not in sys.modules
    if scheme not in checkpoint.SCHEMES:
        raise CheckpointError(f"unknown scheme {scheme!r}; choose from "
                              f"{', '.join(checkpoint.SCHEMES)}")
    dt = checkpoint.dtype_name(dtype)
    if isolated:
        rec = started if started is not None else start(cfg, scheme)
        try:
            out = rec.answer()
        finally:
            rec.close()
    else:
        from fastinit import _record
        t0 = time.perf_counter()
        try:
            out = _record.recorded_plan(cfg, scheme, tuple(checkpoint.INITS))
        except _record.RecordError as e:
            raise CheckpointError(str(e)) from None
        out["seconds"] = time.perf_counter() - t0
    plan.seconds, plan.timings = out["seconds"], out
    tensors, in_memory = [], []
    for name, shape, fills, recs in out["entries"]:
        if fills is None:
            in_memory.append(name)
            tensors.append(Tensor(name, shape, dt, "computed", {},
                                  compute=_computer(shape, dt, recs)))
        else:
            fills = [Fill(init, params, index) for init, params, index in fills]
            last = [f for f in fills if f.index == ()][-1]
            tensors.append(Tensor(name, shape, dt, last.init, last.params, fills=fills))
    for t in tensors:
        checkpoint._check_tensor(t)
    return tensors, in_memory


def _computer(shape, dt, recs):
    """compute(g) for a tensor made whole in memory: every record applied in order to its
    part (a strided view), the fill kinds by fastinit, the rest by torch."""
    def compute(g):
        import torch
        from fastinit import init as _init, torch as _ft
        tdtype = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32,
                  "f64": torch.float64}[dt]
        full = torch.zeros(shape, dtype=tdtype)
        for kind, params, (off, shp, st), value in recs:
            view = full.as_strided(shp, st, off)
            if kind in checkpoint.INITS:
                fn = getattr(_init, checkpoint.INITS[kind])
                kw = {} if kind in checkpoint._DETERMINISTIC else {"generator": g}
                if kind == "orthogonal" or not view.is_contiguous():
                    tmp = torch.empty(shp, dtype=torch.float32 if kind == "orthogonal"
                                      else tdtype)
                    fn(tmp, **params, **kw)
                    view.copy_(tmp)
                else:
                    fn(view, **params, **kw)
            elif kind == "value":
                view.copy_(torch.from_numpy(value))
            else:
                getattr(view, params["method"])(*params["args"], **params["kwargs"])
        return _ft.as_array(full), g
    return compute


__all__ = ["Cached", "Recording", "plan", "start"]

