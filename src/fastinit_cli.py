"""The ``fastinit`` command's entry point, outside the fastinit package on purpose: importing
fastinit (NumPy, the compiled core) takes a moment, and a Ctrl-C in that moment must end the
command as one quietly does later (exit code 130), not with a traceback. Code in the package
cannot catch it, since the package's import is what is interrupted."""
import sys


def main(argv=None):
    try:
        from fastinit.cli import main as run
    except KeyboardInterrupt:
        print("fastinit: interrupted; nothing was written", file=sys.stderr)
        return 130
    return run(argv)
