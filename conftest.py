"""Hygiene for the notebook tests: after each notebook, nothing it started is left running.

nbval runs a notebook's cells as test items in one kernel. Before the first cell we note
the kernel's own listening ports; after the last cell (the kernel still alive) we check that
no worker process is still a child of the kernel and no new port is still listening.
"""
import psutil
import pytest


def _kernel_process(item):
    kernel = getattr(item.parent, "kernel", None)
    if kernel is None or not kernel.is_alive():
        return None
    return psutil.Process(kernel.km.provisioner.pid)


def _listening(process):
    return {c.laddr.port for c in process.net_connections() if c.status == psutil.CONN_LISTEN}


def _is_notebook_cell(item):
    return type(item.parent).__name__ == "IPyNbFile"


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item):
    if _is_notebook_cell(item) and not hasattr(item.parent, "_distlab_ports"):
        process = _kernel_process(item)
        item.parent._distlab_ports = _listening(process) if process else set()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    if not _is_notebook_cell(item) or (nextitem is not None and nextitem.parent is item.parent):
        return
    process = _kernel_process(item)
    if process is None:
        return
    # multiprocessing's resource tracker lives as long as the kernel by design; anything
    # else (a Nanny, a worker) means the notebook did not close its cluster.
    left = [" ".join(p.cmdline()[-3:]) for p in process.children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())]
    ports = _listening(process) - item.parent._distlab_ports
    assert not left, f"{item.parent.name} left processes running: {left}"
    assert not ports, f"{item.parent.name} left ports listening: {sorted(ports)}"
