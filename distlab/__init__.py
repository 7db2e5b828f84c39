"""distlab: executable chapters on the distributed architecture behind large AI models.

Start with ``client = distlab.connect()``; see notebooks/00_start_here.ipynb.
"""
__version__ = "0.1.0"
__all__ = ["connect", "describe", "allreduce", "ALGORITHMS"]

# Loaded on first use, so that a process importing one submodule (a torch rank importing
# distlab.torch_dist, say) does not pay for Dask and pandas.
_LAZY = {"connect": "cluster", "describe": "cluster", "allreduce": "collectives",
         "ALGORITHMS": "collectives"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
