"""Pure concepts: the ideas of the book as data and pure functions.

Plans (all-reduce algorithms as rounds of transfers; the sharded parameter server), gossip,
their cost (rounds, bytes, α-β time), the averaging kernel every engine applies, the
discrete-event simulator (virtual time, a seeded network, faults), linearizability and
session guarantees, availability, model sizing and per-device memory, ZeRO, tensor and
pipeline parallelism, projections of one training step, scaling laws, per-task overhead, partitioning and scheduling, and the
darts of chapter 00.

May import: numpy, pandas, the standard library, ``distlab.checks`` and each other.
Never: ``distributed``, ``dask``, ``ipywidgets``, ``matplotlib`` or any other distlab layer
(tests/test_layers.py fails if one does).
"""
