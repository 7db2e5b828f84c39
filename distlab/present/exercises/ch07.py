"""Self-checks for chapter 07 (工具和资源推荐: Dask and PyTorch Distributed)."""
from distlab.present.exercises import Exercise, number, register, yes

register(Exercise(
    id="07.gloo-sum",
    question="PyTorch's all_reduce with ReduceOp.SUM on ranks holding 10, 20 and 30: what "
             "does each rank hold right after it, before the divide by N?",
    is_correct=lambda a: abs(a - 60) < 1e-9,
    parse=number,
    hint="gloo's all-reduce sums (there is no mean operation for gloo); allreduce_mean "
         "divides by the world size afterwards",
))
register(Exercise(
    id="07.ranks",
    question="How many processes does torch.distributed need to run the document's "
             "three-node example, one value per node?",
    is_correct=lambda a: a == 3,
    parse=lambda s: int(number(s)),
    hint="PyTorch is SPMD: every node is a process with its own rank, 0 … world size − 1",
))
register(Exercise(
    id="07.ddp-equal",
    question="One DistributedDataParallel step and one step of distlab's synchronous "
             "strategy, same model, shards and mini-batches: are the new parameters equal "
             "(to rounding)? (yes/no)",
    is_correct=yes,
    hint="both average the nodes' gradients and apply the same SGD step: compare "
         "np.abs(ddp - distlab).max() in the cell above",
))
