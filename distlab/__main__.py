"""``python -m distlab``: see :mod:`distlab.cli`."""
import sys

from distlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
