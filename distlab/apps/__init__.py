"""Applications: each drives the concepts on an engine.

Data-parallel training, prediction serving, recommendation, the replicated stores, faults,
the document's listing corrected, data sync, the Mermaid flow, automatic tuning, the
comparison with PyTorch, the model split over SPMD ranks (ZeRO, tensor and pipeline
parallelism), and the capstone.

May import: ``distlab.engines``, ``distlab.concepts``, ``distlab.checks``, numpy, pandas,
dask, distributed, scikit-learn. Never: ``distlab.present``, ``distlab.cli``, matplotlib,
ipywidgets (tests/test_layers.py).
"""
