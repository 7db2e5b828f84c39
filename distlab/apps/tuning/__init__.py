"""Automatic tuning (document 8.2, 自动调优): choose how to run a job by measuring the live
cluster, guided by a cost model.

The job is the heart of data-parallel training: the gradient of a model over a data set
spread across workers, averaged so that every worker ends holding it — the averaging
formula X_i' = (1/N) Σ_j X_j applied to partial gradients. Three knobs decide how fast it
runs:

- **workers** — how many of the cluster's workers take part (more workers share the
  compute, but add an all-reduce);
- **partition size** — rows per task (tiny tasks drown in Dask's ~1 ms per-task overhead;
  one huge task leaves workers idle);
- **all-reduce algorithm** — star, tree, ring, recursive doubling, Rabenseifner
  (chapter 04).

The default is what the document's own code does: every row its own task
(``client.map(f, rows)``, chapter 05), every worker, and a parameter server (star) to
average. :func:`tune` then works like an autotuner such as ATLAS or FFTW's planner
(Whaley & Dongarra, "Automatically Tuned Linear Algebra Software", SC 1998; Frigo &
Johnson, "The Design and Implementation of FFTW3", Proc. IEEE 2005) but with a model in
front, as in MPI collective tuning (Thakur, Rabenseifner & Gropp 2005; Open MPI's
decision rules):

1. **probe** the cluster: the client's fixed cost per call, the cost per task, the compute
   time per row (with one worker busy, and with all of them busy at once: on shared cores
   the second is slower), and, for the all-reduce, α and β of one worker-to-worker
   message on the direct engine that :func:`run` uses, with the fixed cost of one such
   call (:func:`distlab.engines.calibrate.ping_pong_direct`);
2. **predict** every candidate configuration with the cost model
   ``T = call + max(⌈P / w⌉ · (task + s · row), P · scheduler) + task + all-reduce(w, a)``
   (P partitions of s rows on w workers — each worker runs its share one after another,
   unless the scheduler, which hands tasks out one at a time, is the bottleneck — then one
   local sum per worker, then the all-reduce: the call's fixed cost plus, per round of the
   plan, α per message and β per byte of the busiest node, chapter 04's α-β model);
3. **measure** only the default and the few configurations the model ranks best (and the
   best for each worker count), each a few times on the live cluster, checking every
   result against numpy in one process;
4. **choose** the fastest measured, and report its gain over the default.

The model prunes dozens of configurations to a handful of runs; the measurement has the
last word, because a model of a shared 2-core machine is only a guide.

The package, one idea a module: :mod:`.job` (the job and its partial gradients),
:mod:`.configs` (the knobs: :class:`Config`, the default, every candidate),
:mod:`.cost_model` (:class:`ClusterModel`, :func:`predict_seconds`), :mod:`.measure`
(:func:`run` and :func:`probe` on the live cluster) and :mod:`.search` (:func:`tune`,
:class:`Tuning`). The plot is :mod:`distlab.present.tuning_plots`.

May import: ``distlab.engines``, ``distlab.concepts``, ``distlab.checks``, numpy, pandas,
dask, distributed. Never ``distlab.present``, ``distlab.cli``, matplotlib.
"""
from distlab.apps.tuning.configs import (MAX_WORKERS, NO_ALLREDUCE, Config, candidates,
                                         check_config, default_config, partition_sizes)
from distlab.apps.tuning.cost_model import (REFERENCE, ClusterModel, allreduce_seconds,
                                            predict_seconds, predict_table)
from distlab.apps.tuning.job import (MAX_ROWS, MAX_WEIGHTS, Job, make_rows, partial_gradient,
                                     reference_gradient)
from distlab.apps.tuning.measure import PROBE_BYTES, probe, run
from distlab.apps.tuning.search import Tuning, tune

__all__ = ["MAX_WORKERS", "NO_ALLREDUCE", "Config", "candidates", "check_config",
           "default_config", "partition_sizes", "REFERENCE", "ClusterModel",
           "allreduce_seconds", "predict_seconds", "predict_table", "MAX_ROWS", "MAX_WEIGHTS",
           "Job", "make_rows", "partial_gradient", "reference_gradient", "PROBE_BYTES",
           "probe", "run", "Tuning", "tune"]
