"""Chapter 6 · model training: one classifier, trained five ways on the cluster (the single
process and four distributed strategies), and in virtual time with a straggler.

The model is softmax regression on scikit-learn's digits, in numpy; the training set is
cut into ``nodes`` shards, and every node loads its own shard on its worker. The
strategies, naive first, one module each:

==================  ======================================================================
``single``          :mod:`.single`: one process, plain mini-batch SGD: the reference
``sync``            :mod:`.synchronous`: gradients averaged by distlab's all-reduce every
                    step (:func:`synchronous_step`); the same run as ``single``
``local``           :mod:`.local`: H steps alone, then the parameters averaged
``async``           :mod:`.parameter_server`: a parameter server, bounded staleness
``gossip``          :mod:`.gossip`: each node averages with its two ring neighbours
==================  ======================================================================

Around them: :mod:`.data` (the digits, the split, IID or non-IID shards, the mini-batches),
:mod:`.model` (softmax regression, its gradient, SGD), :mod:`.config` (the settings, a
frozen :class:`TrainingConfig`; :func:`linear_scaled_lr`), :mod:`.nodes` (the nodes on
the workers, one round's result), :mod:`.driver` (:func:`train`: the rounds, checkpoint and
restart after a lost worker), :mod:`.history` (:func:`rounds_to`, :func:`summary`) and
:mod:`.virtual_time` (:func:`simulate`, :func:`straggler_comparison`: the same arithmetic
against a virtual clock, with a slow node). The plots are
:mod:`distlab.present.training_plots`.

    client = distlab.connect()
    history = train("local", client)             # H = 16 local steps per round

May import: ``distlab.engines``, ``distlab.concepts``, ``distlab.checks``, numpy, pandas,
dask, distributed, scikit-learn. Never ``distlab.present``, ``distlab.cli``, matplotlib.
The data and the model import numpy only and load at once; what needs Dask loads on
first use, so a torch rank reading a shard from here does not pay for Dask.
"""
from __future__ import annotations

from distlab.apps.training.config import (DEFAULT_ROUNDS, STRATEGIES, Strategy,
                                          TrainingConfig, linear_scaled_lr)
from distlab.apps.training.data import (N_CLASSES, N_FEATURES, TEST_SIZE, batch_rows,
                                        load_digits, load_shard, load_split, shard_rows,
                                        sklearn_accuracy, stratified_split)
from distlab.apps.training.history import rounds_to, summary
from distlab.apps.training.model import (accuracy, apply_gradient, gradient, init_params,
                                         loss, node_gradient, predict, probabilities)

# name -> (module, name there): loaded on first use, since these import Dask.
_LAZY = {
    "train": ("driver", "train"), "STRATEGY_CLASSES": ("driver", "STRATEGY_CLASSES"),
    "Placement": ("nodes", "Placement"), "RoundResult": ("nodes", "RoundResult"),
    "ClusterStrategy": ("nodes", "ClusterStrategy"),
    "describe_shards": ("nodes", "describe_shards"),
    "synchronous_step": ("synchronous", "synchronous_step"),
    "SingleProcess": ("single", "SingleProcess"),
    "SynchronousSGD": ("synchronous", "SynchronousSGD"),
    "LocalSGD": ("local", "LocalSGD"), "GossipSGD": ("gossip", "GossipSGD"),
    "StaleParameterServer": ("parameter_server", "StaleParameterServer"),
    "Timing": ("virtual_time", "Timing"), "simulate": ("virtual_time", "simulate"),
    "straggler_comparison": ("virtual_time", "straggler_comparison"),
    "VIRTUAL_STRATEGIES": ("virtual_time", "VIRTUAL_STRATEGIES"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))

