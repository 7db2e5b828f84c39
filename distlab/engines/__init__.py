"""Engines: where a plan runs, and the connection to the cluster.

The in-process simulator (virtual time), Dask tasks pinned to workers, the direct engine
(workers message each other; a naive version and the fast one), SPMD ranks (``run_ranks``),
torch.distributed ranks, calibration of the live cluster, and the cluster connection and its
helpers (worker list, pinning, killing a worker). ``allreduce`` is check → plan → engine.run.
Every use of Dask's private API sits in ``dask_private``, with the reason no public one
serves.

May import: ``distlab.concepts``, ``distlab.checks``, numpy, pandas, dask, distributed,
tqdm (ipywidgets only to draw a progress bar inside a Jupyter kernel).
Never: ``distlab.apps``, ``distlab.present``, ``distlab.cli``, matplotlib
(tests/test_layers.py).
"""
