"""python -m fastinit: the fastinit command (see fastinit.cli)."""
import sys

from fastinit.cli import main

sys.exit(main())
