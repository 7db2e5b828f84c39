"""All-reduce averaging, X_i' = (1/N) Σ_j X_j, every way it is realised.

    from distlab.collectives import allreduce, ALGORITHMS
    result = allreduce([10, 20, 30], algorithm="ring")        # simulator: exact, virtual time
    result = allreduce(values, algorithm="ring", client=c)    # Dask: on real workers

Modules, one idea each: ``plans`` (the exact algorithms as data), ``gossip`` (the gossip
plans and their spectral-gap predictions), ``kernel`` (one round's arithmetic, shared by
every engine), ``cost`` (rounds, bytes and α-β time from a plan; closed forms),
``simulator``, ``dask_engine`` and ``direct_engine`` (the engines: in-process; a Dask
task per node and round; the workers exchanging the chunks themselves, the default on a
cluster), ``api`` (``allreduce``), ``spmd`` (``run_ranks``: the ranks call the
all-reduce themselves, as with MPI or torch.distributed, on the direct engine),
``calibrate`` (α and β by ping-pong on the live cluster, predicted against measured),
``explore`` (tables, plots and widgets: the cost-model explorer, the round-by-round
stepper), ``sync`` (chapter 3's data-sync steps: strong versus batched sync) and ``sgd``
(averaging gradients or parameters: one SGD step two ways).
"""
from .api import ALGORITHMS, EXACT_ALGORITHMS, AllreduceResult, allreduce, make_plan
from .cost import (DEFAULT_NETWORK, Network, bytes_per_node, closed_form, cost_summary,
                   lower_bound_bytes, plan_time)
from .gossip import GOSSIP_ALGORITHMS, predicted_rounds
from .plans import Plan, Round, Transfer

__all__ = ["ALGORITHMS", "EXACT_ALGORITHMS", "GOSSIP_ALGORITHMS", "AllreduceResult",
           "allreduce", "make_plan", "Plan", "Round", "Transfer", "Network",
           "DEFAULT_NETWORK", "bytes_per_node", "closed_form", "cost_summary",
           "lower_bound_bytes", "plan_time", "predicted_rounds"]
