"""Every use of Dask's private or undocumented API in distlab, in one place.

Internal to distlab: nothing here is for learners (``__all__`` is empty).

The direct engines and the SPMD ranks run a plan on the workers themselves, sending chunks
worker to worker, which Dask's public API (tasks, futures, ``client.run``, worker plugins)
does not offer: a worker cannot be given a new message handler once it runs, two workers
cannot message each other, and data a worker computed outside a task cannot become a
future. Each function below wraps one such use, with a comment saying why no public API
serves. Tested with ``distributed`` 2024.8 to 2026.8 (pyproject.toml bounds the range);
when a new release breaks one, it breaks here.

Public API used elsewhere is not wrapped: ``WorkerPlugin`` and ``client.register_plugin``,
``client.submit``/``scatter``/``gather``/``run``/``nthreads``/``who_has``, ``wait``,
``get_worker``, ``secede``, ``Future``.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from distributed import Future

#: Internal: for distlab's own modules only, never for learners.
__all__: list[str] = []


# ---------------------------------------------------------------- handlers on a worker

def add_handlers(worker, handlers: dict) -> None:
    # Worker(handlers=...) is public only when you construct the worker; a plugin's setup
    # can only add a handler to a running one through its handler table
    worker.handlers.update(handlers)


def remove_handlers(worker, names) -> None:
    # the inverse of add_handlers, for the plugin's teardown
    for name in names:
        worker.handlers.pop(name, None)


def handler_of(worker, name: str):
    # the handler table is the only record of what a plugin installed on a worker
    return worker.handlers.get(name)


# ---------------------------------------------------------------- messages

async def call(sender, address: str, op: str, **message):
    # sender.rpc, the client's or a worker's pool of connections, sends a message to a
    # handler and awaits its reply; the public API sends only tasks and client.run calls
    return await getattr(sender.rpc(address), op)(**message)


@asynccontextmanager
async def pooled_comm(worker, address: str):
    # a connection borrowed from the worker's pool, as Dask's own transfers borrow one; no
    # public API hands out a comm, and a comm left half written must never be reused
    pool = worker.rpc
    comm = await pool.connect(address)
    try:
        yield comm
    except BaseException:
        comm.abort()
        raise
    pool.reuse(address, comm)


def raw_stream(comm):
    # the TCP comm's stream (tornado IOStream), to write or read raw bytes after a header
    # message: the Comm interface moves only whole serialised messages; None for other comms
    return getattr(comm, "stream", None)


async def read_raw(comm, view: memoryview) -> None:
    # reads the raw bytes that follow a header on comm's stream. When the connection
    # closes midway (the sender was killed), raise CommClosedError, on which Dask's
    # server loop drops the comm: tornado's own error would let the loop read on from
    # the half-filled buffer (a TypeError in distributed.comm.tcp.read, logged as "Task
    # exception was never retrieved")
    from distributed.comm.core import CommClosedError
    stream = raw_stream(comm)
    try:
        for a in range(0, len(view), 2**30):
            await stream.read_into(view[a:a + 2**30])
    except OSError as exc:                   # tornado's StreamClosedError
        comm.abort()
        raise CommClosedError(f"{comm}: closed in the middle of raw bytes") from exc


def serialized(value):
    # marks a value for Dask's serialisation (numpy arrays travel as out-of-band frames);
    # to_serialize is Dask's own protocol helper, not part of its documented API
    from distributed.protocol import to_serialize
    return to_serialize(value)


def pickled(value):
    # sends an object inside a message by pickle (a Plan); ToPickle is protocol-internal
    from distributed.protocol.serialize import ToPickle
    return ToPickle(value)


# ---------------------------------------------------------------- data in worker memory

async def read_value(worker, key):
    # a value in this worker's memory, or fetched from the worker holding it: what a task
    # gets for its dependencies, done here for a handler (not a task) that reads one by key
    if key in worker.data:
        return worker.data[key]
    from distributed.worker import get_data_from_worker
    holders = (await worker.scheduler.who_has(keys=[key])).get(key) or []
    for holder in holders:
        answer = await get_data_from_worker(worker.rpc, [key], holder, who=worker.address)
        if answer.get("status") == "OK" and key in answer["data"]:
            return answer["data"][key]
    raise KeyError(f"no worker holds the input {key!r}")


def store(worker, data: dict, stimulus_id: str) -> None:
    # puts results in the worker's memory as client.scatter(direct=True) does; only the
    # scatter itself is public, and it sends from the client
    worker.update_data(data=data, stimulus_id=stimulus_id)


async def register(client, keys: list, homes: list, nbytes: int) -> None:
    # tells the scheduler who holds these keys and that this client wants them, the
    # message client.scatter(direct=True) sends; must reach it before the workers store them
    who_has = {k: [h] for k, h in zip(keys, homes)}
    try:
        await client.scheduler.update_data(who_has=who_has, nbytes={k: nbytes for k in keys},
                                           client=client.id)
    except Exception:
        # a home left the cluster first: the scheduler made the keys up to it but left
        # them wanted by no client, where no release reaches them; name only the homes
        # still there, so that this client wants every key and release() forgets them
        alive = await scheduler_workers(client)
        await client.scheduler.update_data(
            who_has={k: [h for h in w if h in alive] for k, w in who_has.items()},
            nbytes={k: nbytes for k in keys}, client=client.id)


async def scheduler_workers(sender) -> set:
    # the workers the scheduler has now, asked from a worker or the client's loop: the
    # scheduler's "ncores" handler (what client.nthreads() calls); a worker has no public
    # way to ask, and the client's own is blocking
    return set(await sender.scheduler.ncores())


async def lost_workers(sender, addresses, wait: float) -> set:
    # which of addresses the scheduler no longer has, asked from a worker or the client's
    # loop and polled for up to wait seconds until one is missing (the scheduler learns
    # of a killed worker when its connection closes)
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        gone = set(addresses) - await scheduler_workers(sender)
        if gone or asyncio.get_running_loop().time() >= deadline:
            return gone
        await asyncio.sleep(0.05)


def set_nbytes(client, keys: list, homes: list, nbytes: int) -> None:
    # the size of results registered before it was known (as 0), sent without waiting:
    # the same "update-data" message on the client's stream to the scheduler
    client._send_to_scheduler({"op": "update-data", "who_has": {k: [h] for k, h in
                                                                zip(keys, homes)},
                               "nbytes": {k: nbytes for k in keys}, "client": client.id})


def futures_for(client, keys: list, type_) -> list:
    # Future(key, client) is public; marking it finished, so that its status and type are
    # known without asking the scheduler, is not
    futures = [Future(k, client) for k in keys]
    for k in keys:
        client.futures[k].finish(type=type_)
    return futures


def release(client, keys: list) -> None:
    # forgets keys no Future was made for (a failed call); Future.release needs a Future
    client._send_to_scheduler({"op": "client-releases-keys", "keys": list(keys),
                               "client": client.id})


# ---------------------------------------------------------------- event loops

def run_from_client(client, coroutine_function, *args):
    # runs a coroutine on the client's event loop and waits for it; Client.sync is
    # undocumented, and the public API has no way to await several rpc calls at once
    return client.sync(coroutine_function, *args)


def run_on_worker_loop(worker, coroutine_function, *args):
    # from a task's thread, runs a coroutine on its worker's event loop and waits for it
    # (the loop owns the connections); distributed.utils.sync is undocumented
    from distributed.utils import sync
    return sync(worker.loop, coroutine_function, *args)


# ---------------------------------------------------------------- for the other modules

def in_kernel() -> bool:
    # whether this process runs a Jupyter kernel, by Dask's own test (it decides whether
    # Dask draws widgets); distributed.utils.is_kernel is undocumented
    from distributed.utils import is_kernel
    return is_kernel()


def scheduler_address(client) -> str:
    # the address the client is connected to; client.scheduler (its rpc) is undocumented
    # and the documented scheduler_info() asks the scheduler
    return client.scheduler.address


def memory_manager(worker):
    # a worker's memory manager holds the spill/pause fractions that Dask read from its
    # config at start (distributed.worker.memory.*); no public API changes them later
    return worker.memory_manager


def nanny_memory_managers(client) -> dict:
    # the embedded cluster's nannies (in this process) by their worker's address, each with
    # the memory manager that holds its restart fraction; LocalCluster.workers is not
    # documented, and the fraction has no public setter
    return {nanny.worker_address: nanny.memory_manager
            for nanny in client.cluster.workers.values()}


def future_cancelled_error() -> type:
    # what a cancelled or lost future raises; the class is not exported by distributed
    from distributed.client import FutureCancelledError
    return FutureCancelledError
