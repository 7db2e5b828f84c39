"""An asynchronous parameter server with bounded staleness.

The nodes push gradients one at a time and the server (which lives with node 0) applies
each as it arrives; a gradient may have been computed on a model up to ``staleness``
versions old (Ho et al., "More Effective Distributed ML via a Stale Synchronous Parallel
Parameter Server", NeurIPS 2013; Li et al., "Scaling Distributed Machine Learning with
the Parameter Server", OSDI 2014). The delays are drawn from the seed, so a run is
reproducible, while Dask really runs the gradient tasks of different versions at once.
"""
from __future__ import annotations

import numpy as np

from distlab.apps.training.model import apply_gradient, node_gradient
from distlab.apps.training.nodes import PARAMS_BYTES, ClusterStrategy, RoundResult


class StaleParameterServer(ClusterStrategy):
    """``async``: update u comes from node u mod N and was computed on version u − d_u of
    the model, d_u drawn from the seed in 0 … staleness. A checkpoint is a barrier: no
    delay reaches back past it. Its state on the cluster is the last staleness + 1
    versions of the model, all on node 0's worker. Built by ``train()`` from a
    :class:`TrainingConfig` (``TypeError`` for anything else)."""

    def place(self, nodes, state):
        return [nodes.submit(0, np.array, state)]

    def round(self, nodes, versions, k):
        c, n = self.config, len(nodes)
        delays = np.random.default_rng([c.seed, 3, k]).integers(0, c.staleness + 1, size=n)
        versions = list(versions)
        behind = []
        for i in range(n):
            current = len(versions) - 1
            read = max(0, current - int(delays[i]))             # bounded staleness
            behind.append(current - read)
            g = nodes.submit(i, node_gradient, versions[read], nodes.shards[i], i, k - 1,
                             c.batch, c.seed)
            versions.append(nodes.submit(0, apply_gradient, versions[-1], g, c.lr / n))
        return RoundResult(versions[-(c.staleness + 1):],
                           bytes_sent=2 * n * PARAMS_BYTES,          # push g, pull θ
                           staleness=tuple(behind))

    def snapshot(self, nodes, versions):
        return versions[-1]
