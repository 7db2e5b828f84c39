"""The book's glossary, 中文 / English: every term the chapters use, with where it runs.

    from distlab.present import glossary
    glossary.lookup("最终一致性")          # Term(english='eventual consistency', ...)
    glossary.lookup("all-reduce").chapters  # ('04', '06', '07', '08')
    glossary.table(chapter="04")           # a DataFrame, one row per term
    glossary.find_in("the ring all-reduce is bandwidth-optimal")  # terms named in a text

Each :class:`Term` has its English and Chinese names, other names it goes by (aliases:
abbreviations, spellings), a one-line definition in each language, and the chapters whose
cells run the idea, so a learner can jump from a word to the code that shows it. The
Chinese names follow the source document where it uses the term (分布式架构, 强一致性,
最终一致性, 任务划分, 负载均衡, 通信开销, 自动调优, …) and common usage in the Chinese
distributed-systems and machine-learning literature elsewhere.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

CHAPTERS = tuple(f"{i:02d}" for i in range(10))


@dataclass(frozen=True)
class Term:
    english: str
    chinese: str
    en: str                      # definition in English
    zh: str                      # definition in Chinese
    chapters: tuple[str, ...]    # where the idea is run ("04", "06", ...)
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.english, self.chinese, *self.aliases)

    def __str__(self) -> str:
        where = ", ".join(self.chapters)
        return f"{self.english} — {self.chinese} (chapters {where})\n  {self.en}\n  {self.zh}"


def _t(english, chinese, en, zh, chapters, aliases=()):
    return Term(english, chinese, en, zh, tuple(chapters.split()), tuple(aliases))


TERMS: tuple[Term, ...] = (
    # --- 2.1 distributed architecture ------------------------------------------------
    _t("distributed architecture", "分布式架构",
       "A system split into independent parts on several machines that cooperate through "
       "messages and interfaces.",
       "把大型系统分解为多台机器上的独立子系统，通过通信协议和接口协作。", "00 02 09"),
    _t("node", "节点",
       "One participant of a distributed system: a machine, a process or a logical "
       "replica holding its own data.",
       "分布式系统中的一个参与者：一台机器、一个进程或一个持有自己数据的逻辑副本。",
       "03 04 05"),
    _t("cluster", "集群",
       "A group of machines or processes working as one system; in this book a Dask "
       "scheduler with its workers.",
       "协同工作的一组机器或进程；本书中指一个 Dask 调度器及其工作进程。", "00 02 05 07"),
    _t("scheduler", "调度器",
       "Dask's central process: it holds the task graph, decides which worker runs each "
       "task and tracks where every result lives.",
       "Dask 的中心进程：保存任务图，决定每个任务由哪个工作进程执行，并记录每个结果的位置。",
       "00 02 05 07"),
    _t("worker", "工作进程",
       "A process that runs tasks and keeps their results in memory; a Dask worker, or a "
       "rank in PyTorch.",
       "执行任务并在内存中保存结果的进程；即 Dask 的 worker，或 PyTorch 中的一个 rank。",
       "00 02 05 07 08", ("worker process", "workers")),
    _t("client", "客户端",
       "The handle a program uses to submit work to a Dask cluster and collect results "
       "(distributed.Client).",
       "程序向 Dask 集群提交任务并取回结果所用的句柄（distributed.Client）。", "00 05 07"),
    _t("task", "任务",
       "One function call scheduled on a worker; Dask adds about a millisecond of overhead "
       "to each.",
       "在工作进程上调度执行的一次函数调用；Dask 为每个任务增加约 1 毫秒的开销。",
       "00 02 03 05 08", ("tasks", "subtask", "子任务")),
    _t("future", "Future（未来结果）",
       "A reference to a task's result that may not exist yet; it can be passed to further "
       "tasks without moving the data.",
       "对某个任务结果的引用，结果可能尚未算出；可以直接传给后续任务而无需搬运数据。",
       "00 05 06", ("futures", "Future")),
    _t("nanny", "看护进程（nanny）",
       "The process Dask starts beside each worker to watch it and restart it when it dies.",
       "Dask 为每个工作进程启动的看护进程，监视它并在其崩溃后重启。", "02 06 09"),
    _t("Mermaid diagram", "Mermaid 流程图",
       "A diagram written as text (graph TD; A --> B) that JupyterLab draws; the document's "
       "flow chart of 2.4.", "用文本描述、由 JupyterLab 绘制的图（graph TD; A --> B）；即文档 2.4 的流程图。",
       "00 02", ("Mermaid", "flow chart", "流程图")),
    _t("dashboard", "仪表盘",
       "Dask's live web view of the cluster: task stream, progress, worker memory.",
       "Dask 的实时网页视图：任务流、进度、各工作进程内存。", "00"),
    _t("high availability", "高可用性",
       "The system keeps serving when a node fails: no single failure takes it down.",
       "任何一个节点失效都不会导致整个系统瘫痪，其他节点可以继续工作。", "02 09"),
    _t("scalability", "可扩展性",
       "Adding nodes raises the system's performance or capacity.",
       "可以通过增加节点数量来提高系统的性能和容量。", "02 08 09", ("scaling",)),
    _t("fault tolerance", "容错性",
       "The computation still finishes correctly when some nodes fail, e.g. by recomputing "
       "lost results or restarting from a checkpoint.",
       "部分节点失效时系统仍能正确完成计算，例如重算丢失的结果或从检查点恢复。",
       "02 06 09", ("fault-tolerant", "recomputation", "lineage")),
    _t("replica", "副本",
       "A copy of the same data kept on another node, so it survives that node's loss.",
       "保存在另一节点上的同一份数据的拷贝，使数据在该节点丢失后依然存在。", "02 03 09",
       ("replicas", "replication", "复制")),
    _t("checkpoint", "检查点",
       "A saved copy of the state (e.g. the model) from which work restarts after a failure.",
       "保存下来的状态副本（如模型参数），故障后从这里重新开始。", "06 09"),
    _t("MTBF and MTTR", "平均故障间隔与平均修复时间",
       "Mean time between failures and mean time to repair; availability ≈ MTBF / (MTBF + "
       "MTTR), often counted in 'nines'.",
       "平均故障间隔时间与平均修复时间；可用性 ≈ MTBF /（MTBF + MTTR），常用“几个九”表示。",
       "02", ("MTBF", "MTTR", "nines", "availability")),
    # --- 2.2 data synchronisation ----------------------------------------------------
    _t("data synchronisation", "数据同步",
       "Bringing the nodes' copies of the data into agreement.",
       "使各节点上的数据副本趋于一致的过程。", "02 03 04 09",
       ("data sync", "data synchronization", "sync", "synchronisation")),
    _t("strong consistency", "强一致性",
       "Every read sees the latest completed write, as if there were one copy; costs "
       "waiting for other replicas on each operation.",
       "所有读操作都能看到最近一次已完成的写，如同只有一份数据；代价是每次操作都要等待其他副本。",
       "02 03 08 09"),
    _t("eventual consistency", "最终一致性",
       "Replicas may disagree for a while (a read can be stale) but converge once updates "
       "stop.",
       "允许副本在一段时间内不一致（读到旧值），但更新停止后最终达到一致。",
       "02 03 04 08 09"),
    _t("linearizability", "线性一致性",
       "The precise form of strong consistency: every operation appears to take effect at "
       "one instant between its call and its return.",
       "强一致性的严格定义：每个操作都好像在其调用与返回之间的某一瞬间原子地生效。",
       "02 08", ("linearizable",)),
    _t("CAP theorem", "CAP 定理",
       "During a network partition a replicated store must give up either consistency or "
       "availability (Gilbert & Lynch 2002).",
       "发生网络分区时，复制存储只能在一致性与可用性之间二选一（Gilbert & Lynch 2002）。",
       "02 08", ("CAP",)),
    _t("stale read", "陈旧读",
       "A read that returns an older value than the latest completed write.",
       "读到的值比最近一次已完成的写更旧。", "02 08 09", ("stale reads", "staleness of reads")),
    _t("quorum", "法定人数（仲裁）",
       "The number of replicas that must answer a read (R) or a write (W); R + W > N makes "
       "every read overlap the latest write.",
       "读（R）或写（W）必须得到应答的副本数；R + W > N 保证每次读都与最近的写有交集。",
       "02 08 09", ("read quorum", "write quorum", "R + W > N")),
    _t("anti-entropy", "反熵",
       "A background exchange in which replicas compare and repair their differences, so "
       "that they converge.",
       "副本在后台相互比对并修复差异，从而趋于一致的机制。", "02 08"),
    _t("network partition", "网络分区",
       "A failure that splits the nodes into groups that cannot reach each other.",
       "网络故障把节点分成互相无法通信的几组。", "02 09", ("partition (network)",)),
    _t("gossip", "Gossip 协议（流言协议）",
       "Decentralised averaging: each node repeatedly averages with a few neighbours; the "
       "nodes converge to the mean without any coordinator.",
       "去中心化的平均：每个节点反复与少数邻居求平均，无需协调者即可收敛到均值。",
       "04 06 09", ("gossip averaging", "gossip SGD")),
    _t("mixing matrix", "混合矩阵（权重矩阵 W）",
       "The weights of gossip averaging, x ← W x; its second-largest eigenvalue magnitude r "
       "sets the speed, about ln(1/ε)/ln(1/r) rounds (1 − r is the spectral gap).",
       "gossip 平均的权重 x ← W x；其第二大特征值的模 r 决定收敛速度，约 ln(1/ε)/ln(1/r) 轮（1 − r 称为谱间隙）。",
       "04", ("matrix $W$ of weights", "spectral gap", "谱间隙", "gossip matrix")),
    _t("consensus distance", "共识距离",
       "How far the nodes' copies are from their average; 0 when they agree.",
       "各节点副本与其平均值之间的距离；完全一致时为 0。", "04 06", ("consensus",)),
    # --- 2.3 algorithm parallelisation ----------------------------------------------
    _t("algorithm parallelisation", "算法并行化",
       "Running one computation as subtasks on several nodes at once to finish sooner.",
       "把计算任务分布到多个节点上同时执行，以加速计算过程。", "02 03 05 09",
       ("parallelisation", "parallelization", "parallel computation", "并行计算")),
    _t("task partitioning", "任务划分",
       "Cutting the whole job into subtasks that can run independently.",
       "把整体任务划分为多个可以独立执行的子任务。", "02 03 05 08 09",
       ("partitioning", "partition", "partitions")),
    _t("task assignment", "任务分配",
       "Deciding which node runs each subtask.", "决定每个子任务由哪个节点执行。", "03 05",
       ("assign",)),
    _t("result aggregation", "结果汇总",
       "Collecting the subtasks' results and combining them (gather, then reduce).",
       "收集各节点的计算结果并进行汇总（先收集，再归约）。", "03 05", ("gather", "aggregation")),
    _t("partition size", "分区大小",
       "How much data one task processes; too small and per-task overhead dominates, too "
       "large and some workers sit idle.",
       "单个任务处理的数据量；过小则任务开销占主导，过大则部分工作进程空闲。", "02 08",
       ("chunk size", "task size", "granularity")),
    _t("load balancing", "负载均衡",
       "Spreading work so that no node is overloaded while others wait.",
       "使各节点的计算负载均衡，避免某些节点过载而其他节点空等。", "02 03 06 09",
       ("load balance",)),
    _t("longest-first placement", "最长任务优先",
       "Graham's LPT rule: place the longest task first, each on the least-loaded worker; "
       "within 4/3 of the best makespan.",
       "Graham 的 LPT 规则：先放最长的任务，每个放到当前负载最小的工作进程；完工时间不超过最优的 4/3。",
       "09", ("longest first", "LPT", "round-robin", "轮询")),
    _t("work stealing", "工作窃取",
       "An idle worker takes queued tasks from a busy one; Dask's scheduler does this "
       "dynamically.",
       "空闲的工作进程从繁忙者的队列中取走任务；Dask 调度器会动态这样做。", "02 09",
       ("steal",)),
    _t("makespan", "完工时间",
       "Time from the start of a set of tasks to the end of the last one.",
       "从一批任务开始到最后一个任务完成所用的时间。", "02"),
    _t("communication overhead", "通信开销",
       "Time spent moving data and coordinating instead of computing.",
       "花在传输数据和协调上、而非计算上的时间。", "02 03 04 07 08 09",
       ("communication cost",)),
    _t("speed-up", "加速比",
       "Time on one worker divided by time on N workers.", "单个工作进程用时除以 N 个工作进程用时。",
       "02 08 09", ("speedup",)),
    _t("parallel efficiency", "并行效率",
       "Speed-up divided by the number of workers: 1 means no time lost to overhead.",
       "加速比除以工作进程数：为 1 表示没有时间损失在开销上。", "02 08", ("efficiency",)),
    _t("Amdahl's law", "阿姆达尔定律",
       "With a parallel fraction f, speed-up on p workers is 1/((1−f) + f/p), at most "
       "1/(1−f) (Amdahl 1967).",
       "并行部分占比为 f 时，p 个工作进程的加速比为 1/((1−f) + f/p)，上限 1/(1−f)（Amdahl 1967）。",
       "02 09", ("Amdahl",)),
    _t("Gustafson's law", "古斯塔夫森定律",
       "If the problem grows with the machine, speed-up is (1−f) + f·p (Gustafson 1988).",
       "若问题规模随机器规模增长，加速比为 (1−f) + f·p（Gustafson 1988）。", "02",
       ("Gustafson",)),
    _t("Karp–Flatt metric", "Karp–Flatt 指标",
       "The serial fraction measured from a speed-up S on p workers: e = (1/S − 1/p)/(1 − "
       "1/p); if it grows with p, the loss is overhead.",
       "由 p 个工作进程上的加速比 S 反推的串行比例 e = (1/S − 1/p)/(1 − 1/p)；随 p 增大说明损失来自开销。",
       "02", ("Karp-Flatt", "Karp–Flatt")),
    # --- 4 the averaging model and all-reduce -----------------------------------------
    _t("averaging formula", "平均同步公式",
       "X_i' = (1/N) Σ_j X_j: every node ends with the mean of all nodes' values (the "
       "document's data-sync model; 10, 20, 30 → 20).",
       "X_i' = (1/N) Σ_j X_j：每个节点最终都持有所有节点数据的平均值（文中的数据同步模型；10、20、30 → 20）。",
       "03 04 05 07", ("data sync model", "数据同步模型", "X_i' = (1/N) Σ_j X_j")),
    _t("all-reduce", "全归约（All-Reduce）",
       "A collective in which every node ends with the reduction (sum or mean) of all "
       "nodes' values; the averaging formula realised.",
       "一种集合通信：每个节点最终都得到所有节点数据的归约结果（和或平均），即平均同步公式的实现。",
       "03 04 06 07 08", ("allreduce", "all_reduce", "allreduce averaging")),
    _t("collective communication", "集合通信",
       "Operations in which all nodes of a group take part: broadcast, reduce, all-reduce, "
       "all-gather, reduce-scatter.",
       "组内所有节点共同参与的通信操作：广播、归约、全归约、全收集、归约-散射。", "04 07",
       ("collective", "collectives")),
    _t("broadcast", "广播", "One node sends its value to all others.",
       "一个节点把数据发送给所有其他节点。", "04 05", ("broadcasts",)),
    _t("reduce-scatter", "归约-散射",
       "Each node ends with the reduction of one chunk of the vector: the first half of a "
       "ring or Rabenseifner all-reduce.",
       "每个节点得到向量中一个分块的归约结果：环形或 Rabenseifner 全归约的前半段。", "04"),
    _t("all-gather", "全收集",
       "Every node ends with every node's chunk: the second half of a ring all-reduce.",
       "每个节点都收集到所有节点的分块：环形全归约的后半段。", "04", ("allgather",)),
    _t("star all-reduce", "星型全归约",
       "The naive all-reduce: everyone sends to one root (a parameter server), which "
       "averages and sends back; the root carries p/2 times the minimum traffic.",
       "最朴素的全归约：所有节点发给一个根节点（参数服务器），根节点求平均后再发回；根节点的流量是下界的 p/2 倍。",
       "04 08", ("star",)),
    _t("parameter server", "参数服务器",
       "A node (or group) that holds the model: workers push gradients to it and pull "
       "parameters back; synchronous or asynchronous.",
       "保存模型的节点（或节点组）：工作节点向它推送梯度、拉取参数；可同步也可异步。",
       "04 06 07"),
    _t("tree all-reduce", "树形全归约",
       "Reduce up a binomial tree, then broadcast down it: 2⌈lg p⌉ rounds.",
       "沿二项树向上归约再向下广播：共 2⌈lg p⌉ 轮。", "04", ("tree", "binomial tree")),
    _t("ring all-reduce", "环形全归约",
       "Reduce-scatter then all-gather around a ring: 2(p−1) rounds, each node sends "
       "2(p−1)/p·n bytes, the lower bound.",
       "沿环先归约-散射再全收集：2(p−1) 轮，每个节点发送 2(p−1)/p·n 字节，达到下界。",
       "04 06 07 08", ("ring",)),
    _t("recursive doubling", "递归倍增",
       "Pairs at distance 1, 2, 4, … exchange whole vectors: lg p rounds, best for small "
       "messages.",
       "相距 1、2、4…的节点两两交换整个向量：lg p 轮，适合小消息。", "04 06 08"),
    _t("Rabenseifner's algorithm", "Rabenseifner 算法",
       "Recursive-halving reduce-scatter plus recursive-doubling all-gather: 2 lg p rounds "
       "and the minimum bytes.",
       "递归减半的归约-散射加递归倍增的全收集：2 lg p 轮且字节数最少。", "04 08",
       ("Rabenseifner", "rabenseifner")),
    _t("bandwidth lower bound", "带宽下界",
       "Every node must send at least 2(p−1)/p·n bytes in any all-reduce of n bytes "
       "(Patarasuk & Yuan 2009).",
       "任何 n 字节的全归约中，每个节点至少要发送 2(p−1)/p·n 字节（Patarasuk & Yuan 2009）。",
       "04 07 08", ("lower bound",)),
    _t("communication round", "通信轮次",
       "One step of an algorithm in which messages travel in parallel; latency is paid "
       "once per round.",
       "算法中消息并行传输的一步；每轮付出一次延迟。", "04 08", ("round", "rounds")),
    _t("α-β cost model", "α-β 代价模型",
       "A message of m bytes costs α + m·β: α the latency, β the time per byte (Hockney "
       "1994; Thakur et al. 2005).",
       "传输 m 字节的消息耗时 α + m·β：α 为延迟，β 为每字节时间（Hockney 1994；Thakur 等 2005）。",
       "04 07 08", ("alpha-beta model", "cost model", "α-β model", "代价模型")),
    _t("latency", "延迟",
       "The fixed time a message or task costs regardless of its size (α).",
       "与大小无关的、每条消息或每个任务的固定耗时（α）。", "02 04 06 07 08",
       ("tail latency", "尾延迟", "p99")),
    _t("bandwidth", "带宽",
       "Bytes per second a link moves (1/β).", "链路每秒传输的字节数（1/β）。", "04 07 08"),
    _t("simulator", "模拟器",
       "distlab's deterministic discrete-event engine: virtual time, seeded network, "
       "exact and reproducible.",
       "distlab 的确定性离散事件引擎：虚拟时间、带种子的网络，结果精确可复现。",
       "02 03 04 06 08", ("virtual time", "虚拟时间", "discrete-event simulation")),
    # --- training ----------------------------------------------------------------------
    _t("large model", "大模型",
       "A model with billions of parameters (GPT, BERT, …) whose memory and compute exceed "
       "one machine.",
       "拥有数十亿参数的模型（如 GPT、BERT），其内存和算力需求超出单台机器。", "01",
       ("large models", "large AI model")),
    _t("FLOPs", "浮点运算次数",
       "Floating-point operations; training costs about 6 × parameters × tokens of them.",
       "浮点运算次数；训练约需 6 × 参数量 × token 数次。", "01", ("FLOP",)),
    _t("mixed precision", "混合精度",
       "Computing in 16-bit floats while keeping a 32-bit master copy of the weights.",
       "用 16 位浮点计算，同时保留 32 位的权重主副本。", "01", ("fp16", "bf16")),
    _t("optimizer state", "优化器状态",
       "What the optimiser keeps per parameter besides the weight, e.g. Adam's two "
       "moments.", "优化器为每个参数额外保存的数据，例如 Adam 的一阶和二阶矩。", "01"),
    _t("token", "词元（token）",
       "The unit a language model reads and predicts, a word or piece of a word; training "
       "data is counted in tokens.", "语言模型读取和预测的单位（词或词的一部分）；训练数据量以 token 计。",
       "01", ("tokens",)),
    _t("activations", "激活值",
       "The intermediate outputs of each layer kept for the backward pass; their memory "
       "depends on batch size and sequence length.",
       "前向传播中各层的中间输出，反向传播时需要保留；其内存取决于批量大小和序列长度。", "01",
       ("activation", "activation recomputation")),
    _t("model FLOPs utilisation", "模型算力利用率（MFU）",
       "The share of an accelerator's peak FLOP/s that training really achieves (about 20–50 %).",
       "训练实际达到的加速器峰值算力的比例（约 20–50 %）。", "01",
       ("MFU", "utilisation", "utilization")),
    _t("ZeRO", "ZeRO（零冗余优化器）",
       "Sharding the optimizer state, gradients and weights across data-parallel workers "
       "instead of replicating them (Rajbhandari et al. 2020).",
       "把优化器状态、梯度和权重在数据并行的各工作节点间分片存放，而不是每个节点保存一份（Rajbhandari 等 2020）。",
       "01 06"),
    _t("data parallelism", "数据并行",
       "Every node holds the whole model and a shard of the data; gradients (or "
       "parameters) are averaged with an all-reduce.",
       "每个节点持有完整模型和一部分数据；通过全归约对梯度（或参数）求平均。", "06 07",
       ("data-parallel", "data parallel")),
    _t("model parallelism", "模型并行",
       "The model itself is split across nodes (layers or tensors), for models too big "
       "for one device.",
       "把模型本身（按层或按张量）切分到多个节点上，用于单个设备放不下的模型。", "01 07",
       ("tensor parallelism", "pipeline parallelism", "FSDP", "张量并行", "流水线并行")),
    _t("stochastic gradient descent", "随机梯度下降",
       "Step the parameters against the gradient of the loss on a small random batch.",
       "在随机小批量数据上计算损失梯度，并沿其反方向更新参数。", "04 06 07",
       ("SGD", "mini-batch", "小批量")),
    _t("softmax regression", "Softmax 回归（多项逻辑回归）",
       "A linear classifier whose scores become class probabilities through the softmax; "
       "chapter 06's model.", "线性分类器，其得分经 softmax 变为各类概率；第 06 章的模型。", "06 07",
       ("multinomial logistic regression", "softmax")),
    _t("epoch", "训练轮（epoch）", "One pass over the whole training set.",
       "遍历一次全部训练数据。", "06", ("epochs",)),
    _t("gradient", "梯度", "The vector of partial derivatives of the loss with respect to the "
       "parameters.", "损失函数对参数的偏导数组成的向量。", "04 06 07", ("gradients",)),
    _t("synchronous SGD", "同步 SGD",
       "Every step, all nodes' gradients are averaged and every node applies the same "
       "update; equal to single-process SGD on the union of the batches.",
       "每一步都对所有节点的梯度求平均，所有节点执行相同更新；等价于在所有批次之并上的单进程 SGD。",
       "06 07 09", ("synchronous data parallelism", "sync SGD")),
    _t("local SGD", "本地 SGD",
       "Each node takes H steps alone, then the parameters are averaged: H times fewer "
       "communication rounds (Stich 2019; FedAvg).",
       "每个节点先独立走 H 步再对参数求平均：通信轮次减少 H 倍（Stich 2019；FedAvg）。",
       "06 09", ("model averaging", "模型平均", "FedAvg")),
    _t("asynchronous SGD", "异步 SGD",
       "Nodes push gradients to a parameter server without waiting for each other; a "
       "gradient may be computed on a stale model.",
       "各节点不互相等待地向参数服务器推送梯度；梯度可能基于过时的模型计算。", "06 09",
       ("async", "asynchronous parameter server")),
    _t("staleness", "陈旧度",
       "How many model versions old the parameters were when a gradient was computed.",
       "计算某个梯度时所用参数落后最新模型的版本数。", "06", ("bounded staleness",)),
    _t("DistributedDataParallel", "分布式数据并行（DDP）",
       "PyTorch's data-parallel wrapper: gradients are all-reduced in buckets during the "
       "backward pass (Li et al., VLDB 2020).",
       "PyTorch 的数据并行封装：在反向传播过程中按桶对梯度做全归约（Li 等，VLDB 2020）。",
       "07", ("DDP",)),
    _t("gradient bucketing", "梯度分桶",
       "Grouping many small gradient tensors into larger buffers so each all-reduce "
       "pays the latency once and overlaps the backward pass.",
       "把许多小梯度张量合并成较大的缓冲区，使每次全归约只付一次延迟并与反向传播重叠。", "07",
       ("bucketing", "buckets")),
    # --- tools -------------------------------------------------------------------------
    _t("Dask", "Dask",
       "A Python library for parallel and distributed computing: a task scheduler, "
       "workers, and collections (arrays, data frames).",
       "基于 Python 的并行与分布式计算库：任务调度器、工作进程以及数组、数据框等集合。",
       "00 05 07"),
    _t("PyTorch Distributed", "PyTorch 分布式",
       "torch.distributed: process groups, collectives and DDP for training across "
       "processes and machines.",
       "torch.distributed：进程组、集合通信和 DDP，用于跨进程、跨机器训练。", "07",
       ("torch.distributed",)),
    _t("process group", "进程组",
       "The set of PyTorch processes that take part in collectives together.",
       "共同参与集合通信的一组 PyTorch 进程。", "07"),
    _t("rank", "进程编号（rank）",
       "A process's number in a PyTorch process group, 0 … world size − 1.",
       "进程在 PyTorch 进程组中的编号，从 0 到 world size − 1。", "07", ("world size",)),
    _t("SPMD", "单程序多数据",
       "Single program, multiple data: every process runs the same code on its own data "
       "(PyTorch, MPI), unlike Dask's central scheduler handing out tasks.",
       "单程序多数据：每个进程在自己的数据上运行同一份代码（PyTorch、MPI），不同于 Dask 由中心调度器分发任务。",
       "07"),
    _t("gloo", "gloo 后端",
       "PyTorch's collective-communication backend for CPUs over TCP (NCCL is the GPU one).",
       "PyTorch 在 CPU 上基于 TCP 的集合通信后端（GPU 上对应 NCCL）。", "07",
       ("backend", "NCCL")),
    _t("torchrun", "torchrun",
       "PyTorch's launcher: starts one process per rank on each machine and sets up the "
       "rendezvous.",
       "PyTorch 的启动器：在每台机器上为每个 rank 启动一个进程并完成会合（rendezvous）。", "07",
       ("rendezvous",)),
    _t("external scheduler", "外部调度器",
       "A Dask scheduler started outside the notebook (dask scheduler, dask-kubernetes, "
       "dask-jobqueue) that distlab.connect() joins through DISTLAB_SCHEDULER.",
       "在 notebook 之外启动的 Dask 调度器（dask scheduler、dask-kubernetes、dask-jobqueue），"
       "distlab.connect() 通过 DISTLAB_SCHEDULER 连接它。", "00 07",
       ("dask-kubernetes", "dask-jobqueue", "DISTLAB_SCHEDULER")),
    # --- applications and outlook ------------------------------------------------------
    _t("prediction serving", "预测服务",
       "Answering prediction requests from a trained model, replicated for throughput and "
       "failover.", "用训练好的模型响应预测请求，通过副本提高吞吐量并实现故障转移。", "06 09",
       ("serving", "model serving")),
    _t("hedged request", "对冲请求",
       "Sending a second copy of a slow request to another replica and taking the first "
       "answer, to cut the tail latency (Dean & Barroso 2013).",
       "把迟迟未返回的请求再发给另一副本并采用先到的结果，以降低尾延迟（Dean & Barroso 2013）。",
       "06", ("hedging", "hedged requests")),
    _t("recommender system", "推荐系统",
       "Suggests items to users from their past behaviour, e.g. by matrix factorisation "
       "of the ratings.", "根据用户历史行为推荐物品，例如对评分矩阵做矩阵分解。", "06 09",
       ("recommendation", "recommendation system", "matrix factorisation", "矩阵分解")),
    _t("embedding", "嵌入向量",
       "A learned vector that represents a user or an item; matrix factorisation learns one "
       "per user and per item.", "表示用户或物品的可学习向量；矩阵分解为每个用户和物品各学习一个。",
       "06", ("embeddings", "item embeddings")),
    _t("RMSE", "均方根误差",
       "Root-mean-square error: the typical size of a prediction's error.",
       "均方根误差：预测误差的典型大小。", "06", ("root-mean-square error",)),
    _t("hot key", "热点键",
       "An item so popular that the shard holding it gets much more load than the others.",
       "极其热门的条目，使保存它的分片负载远高于其他分片。", "06", ("hot items", "hot-key")),
    _t("sharding", "分片",
       "Splitting data (or a model's tables) across nodes, each holding one shard.",
       "把数据（或模型的表）切分到多个节点上，每个节点持有一个分片。", "06",
       ("shard", "shards")),
    _t("automatic tuning", "自动调优",
       "Choosing configuration (workers, partition size, algorithm) by measuring the live "
       "system, guided by a cost model.",
       "在代价模型指导下，通过在实际系统上测量来选择配置（工作进程数、分区大小、算法）。", "08",
       ("auto-tuning", "autotuning", "tuning")),
    _t("price of consistency", "一致性的代价",
       "The extra latency strong consistency pays over eventual consistency for the "
       "same operations.", "相同操作下，强一致性比最终一致性多付出的延迟。", "08"),
)


def _key(name: str) -> str:
    return re.sub(r"[\s\-_–]+", " ", name.strip().lower())


_INDEX: dict[str, Term] = {}
for _term in TERMS:
    for _name in _term.names:
        if _key(_name) in _INDEX and _INDEX[_key(_name)] is not _term:
            raise RuntimeError(f"glossary name {_name!r} names two terms")
        _INDEX[_key(_name)] = _term


def lookup(name: str) -> Term:
    """The term called ``name`` in English or Chinese (or one of its aliases); case,
    spaces and hyphens do not matter. Unknown names raise ``ValueError`` with suggestions."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if not name.strip():
        raise ValueError("name must not be blank")
    term = _INDEX.get(_key(name))
    if term is None:
        close = difflib.get_close_matches(_key(name), list(_INDEX), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"{name!r} is not in the glossary{hint}")
    return term


def terms(chapter: str | None = None) -> list[Term]:
    """Every term, or those run in ``chapter`` ("04"), in glossary order."""
    if chapter is None:
        return list(TERMS)
    if not isinstance(chapter, str):
        raise TypeError(f"chapter must be a string such as '04', got {type(chapter).__name__}")
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {', '.join(CHAPTERS)}, got {chapter!r}")
    return [t for t in TERMS if chapter in t.chapters]


def table(chapter: str | None = None):
    """A DataFrame: English, 中文, definition, 定义, chapters — one row per term."""
    import pandas as pd

    rows = [{"English": t.english, "中文": t.chinese, "definition": t.en, "定义": t.zh,
             "chapters": " ".join(t.chapters)} for t in terms(chapter)]
    return pd.DataFrame(rows, columns=["English", "中文", "definition", "定义", "chapters"])


def find_in(text: str) -> list[Term]:
    """The terms named in ``text`` (by any of their names, whole words for Latin names),
    each once, in glossary order."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    flat = _key(text)
    found = []
    for term in TERMS:
        for name in term.names:
            key = _key(name)
            if re.search(r"[a-z0-9]", key):
                hit = re.search(r"(?<![a-z0-9])" + re.escape(key) + r"(?![a-z0-9])", flat)
            else:
                hit = key in flat
            if hit:
                found.append(term)
                break
    return found


def widget():
    """A search box over the glossary: type English or Chinese, see the matching terms."""
    import html

    import ipywidgets as widgets

    box = widgets.Text(placeholder="type a term, English or 中文", description="Search:")
    out = widgets.HTML()

    def show(change=None):
        query = _key(box.value)
        rows = [t for t in TERMS if not query
                or any(query in _key(n) for n in t.names)
                or query in t.en.lower() or query in t.zh]
        out.value = "<table>" + "".join(
            f"<tr><td><b>{html.escape(t.english)}</b></td><td>{html.escape(t.chinese)}</td>"
            f"<td>{html.escape(t.en)}<br>{html.escape(t.zh)}</td>"
            f"<td>{' '.join(t.chapters)}</td></tr>" for t in rows) + "</table>"

    box.observe(show, names="value")
    show()
    return widgets.VBox([box, out])
