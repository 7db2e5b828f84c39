"""distlab: executable chapters on the distributed architecture behind large AI models.

Start with ``client = distlab.connect()``; see notebooks/00_start_here.ipynb.
"""
from .cluster import connect, describe
from .collectives import ALGORITHMS, allreduce

__all__ = ["connect", "describe", "allreduce", "ALGORITHMS"]
__version__ = "0.1.0"
