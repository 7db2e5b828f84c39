"""distlab: executable chapters on the distributed architecture behind large AI models.

Start with ``client = distlab.connect()``; see notebooks/00_start_here.ipynb.
"""
from .cluster import connect, describe

__all__ = ["connect", "describe"]
__version__ = "0.1.0"
