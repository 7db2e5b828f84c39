"""``python -m distlab``: see :mod:`distlab.cli`."""
import sys

from distlab.cli import main

sys.exit(main())
