"""distlab: executable chapters on the distributed architecture behind large AI models.

Start with ``client = distlab.connect()``; see notebooks/00_start_here.ipynb.

The package is four layers, each a folder; imports point down only (a test enforces it)::

    cli/       the command line: bench, notebooks, doctor
    present/   widgets, plots, exercises, quiz, glossary
    apps/      training, serving, recommendation, stores, faults, tuning, ...
    engines/   where a plan runs: simulator, Dask tasks, direct, SPMD ranks, torch; the cluster
    concepts/  pure ideas: plans, gossip, cost, the averaging kernel, events, sizing, ...

``checks`` (argument checks) sits beside them and is used by every layer.
"""
__version__ = "0.1.0"
__all__ = ["connect", "describe", "allreduce", "run_ranks", "make_plan", "ALGORITHMS",
           "EXACT_ALGORITHMS", "GOSSIP_ALGORITHMS"]

# Loaded on first use, so that a process importing one submodule (a torch rank importing
# distlab.engines.torch_gloo, say) does not pay for Dask and pandas.
_LAZY = {"connect": "engines.cluster", "describe": "engines.cluster",
         "allreduce": "engines.allreduce", "make_plan": "engines.allreduce",
         "ALGORITHMS": "engines.allreduce", "EXACT_ALGORITHMS": "engines.allreduce",
         "GOSSIP_ALGORITHMS": "concepts.gossip", "run_ranks": "engines.spmd"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
