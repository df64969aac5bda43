"""The ``fastinit`` command's entry point, outside the fastinit package on purpose.

- Importing fastinit (NumPy, ml_dtypes, the compiled core) takes most of a second, and a
  Ctrl-C in that second must end the command as one quietly does later (exit code 130), not
  with a traceback. Code in the package cannot catch it, since the package's import is what
  is interrupted.
- A config that goes through transformers (fastinit._hf) is recorded by a child process
  whose imports of torch and transformers take seconds: the whole wait before writing
  starts. So the child is started here, before fastinit is imported, when the command line
  asks for that path; it imports while this process imports fastinit and reads the config,
  and then gets its request (fastinit._record.main). When the command turns out not to need
  it (a recorded plan kept from an earlier run, an error), it is ended unused.

Only the standard library is imported here.
"""
import json
import subprocess
import sys
import time

# checkpoint.BUILTIN_TYPES (a test checks that they agree): configs of these model types are
# built in unless --via transformers says otherwise.
BUILTIN_TYPES = ("llama", "mistral", "qwen2")
# init's options that take a value (fastinit.cli._parser), to find CONFIG among the rest.
_VALUED = ("-o", "--output", "--preset", "--dtype", "--seed", "--scheme", "--threads",
           "--max-shard-size", "--via")

# The recording child's program: fastinit as a bare namespace over the package's directory,
# so that importing fastinit._record runs neither the package's __init__ nor its C core.
# Ctrl-C is the writer's to handle (it ends the child): the child ignores SIGINT, and runs in
# a session of its own, out of the terminal's process group. The cyclic garbage collector is
# off for the child's whole life (seconds: imports, a model built on meta, its records, then
# an exit that frees everything): the imports of torch, transformers and the model's module
# make hundreds of thousands of objects and almost no garbage, and the collections they set
# off took a quarter of the child's time (about 0.7 of 3 s).
_BOOT = ("import gc; gc.disable()\n"
         "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
         "import sys, types\n"
         "m = types.ModuleType('fastinit'); m.__path__ = [{pkg!r}]\n"
         "sys.modules['fastinit'] = m\n"
         "from fastinit import _record\n"
         "_record.main(trim={trim!r})\n")


class Recorder:
    """A recording child, started: it imports torch and transformers, then waits for its
    request on stdin (fastinit._hf.Recording sends it); t0: when it was started."""

    def __init__(self, pkg, trim=True):
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT.format(pkg=pkg, trim=trim)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     start_new_session=True)

    def end(self):
        """End it if it still runs, and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None and not f.closed:
                f.close()


def _wants_recorder(argv):
    """Whether `fastinit init ...` will record through transformers, as far as the command
    line and the config's model_type tell (fastinit.cli._via_transformers decides; a wrong
    guess costs a child ended unused, or a child started later)."""
    if not argv or argv[0] != "init":
        return False
    config, via, i = None, "auto", 1
    while i < len(argv):
        a = argv[i]
        name = a.split("=", 1)[0]
        if a in ("-h", "--help", "--preset") or name == "--preset":
            return False
        if name in _VALUED:
            value = a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv)
                                                         else None)
            if name == "--via":
                via = value
            i += 1 if "=" in a else 2
            continue
        if not a.startswith("-") and config is None:
            config = a
        i += 1
    if config is None or via == "builtin":
        return False
    try:
        with open(config) as f:
            spec = json.load(f)
        model = spec.get("config", spec)
        if "tensors" in spec or "preset" in spec or not isinstance(model, dict):
            return False
        if via != "transformers" and model.get("model_type", "llama") in BUILTIN_TYPES:
            return False
    except (OSError, ValueError, AttributeError):
        return False
    from importlib.util import find_spec     # found, not imported
    return all(find_spec(m) is not None for m in ("torch", "transformers", "fastinit"))


def _start_recorder(argv):
    try:
        if not _wants_recorder(argv):
            return None
        from importlib.util import find_spec
        return Recorder(list(find_spec("fastinit").submodule_search_locations)[0])
    except Exception:  # noqa: BLE001  (an early start is an optimization only)
        return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    recorder = None
    try:
        try:
            recorder = _start_recorder(argv)
            from fastinit.cli import main as run
        except KeyboardInterrupt:
            print("fastinit: interrupted; nothing was written", file=sys.stderr)
            return 130
        return run(argv, recorder=recorder)
    finally:
        # Whoever took it has ended it already, or it was not wanted. (A child whose writer
        # is gone without ending it reads the end of its request pipe and exits.)
        if recorder is not None:
            recorder.end()
