"""Shared fixtures for the unit tests: the embedded cluster, Debian's Chromium (never a
downloaded browser) and the optional PyTorch."""
import os
import shutil
import signal
from contextlib import contextmanager

import pytest

import distlab


@pytest.fixture(scope="module")
def client():
    """One embedded cluster (2 worker processes) per test module, closed afterwards: a
    module that kills workers cannot disturb the next one."""
    with distlab.connect() as client:
        client.wait_for_workers(2)
        yield client


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    """The system Chromium driven by Playwright; skipped without it unless
    DISTLAB_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        reason = "no system Chromium (install Debian's chromium package)"
        if os.environ.get("DISTLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; DISTLAB_REQUIRE_BROWSER=1 makes the browser test mandatory")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def torch_needed():
    """Skips without PyTorch (optional for users), unless DISTLAB_REQUIRE_TORCH=1 (CI)."""
    from distlab.engines import torch_gloo
    if not torch_gloo.available():
        if os.environ.get("DISTLAB_REQUIRE_TORCH") == "1":
            pytest.fail("DISTLAB_REQUIRE_TORCH=1 but PyTorch is not installed; "
                        "pip install torch==2.13.0 (the CPU build)", pytrace=False)
        pytest.skip(f"PyTorch is not installed (optional; {torch_gloo.INSTALL_COMMAND})")


@contextmanager
def within(seconds: float):
    """Fail, rather than hang, if the block takes longer than ``seconds`` (main thread)."""
    def expired(*_):
        raise TimeoutError(f"still running after {seconds} s: refused too late or not at all")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
