"""Shared fixtures for the unit tests."""
import pytest

import distlab


@pytest.fixture(scope="module")
def client():
    """One embedded cluster (2 worker processes) per test module, closed afterwards: a
    module that kills workers cannot disturb the next one."""
    with distlab.connect() as client:
        client.wait_for_workers(2)
        yield client
