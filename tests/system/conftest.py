"""Fixtures of the system tests (issue #7): one cluster per test session — a private
PostgreSQL, a private Redis, the fake carrier, two IdP nodes under gunicorn and nginx as a
round-robin load balancer — shared by every test in tests/system and repaired before each
test (a fault test leaves a service stopped or a node gone; `cluster` brings it back).

All system tests carry `xdist_group("system")`, so with `--dist loadgroup` (./test) they run
in one xdist worker and the cluster is built once. Without nginx, PostgreSQL's server binaries
or redis-server they are skipped with a message, except under CI=true where they fail.
"""
from __future__ import annotations

import os

import pytest

from tests.system.harness import Cluster, missing_tools


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "system: multi-node and fault tests on private PostgreSQL, Redis, nginx "
                   "and gunicorn nodes (tests/system)")


@pytest.fixture(scope="session")
def system_cluster():
    """Build the cluster once per session; tear everything down (processes, folder) even
    when a test or the start itself fails."""
    missing = missing_tools()
    if missing:
        message = "system tests need " + ", ".join(missing) + " (./test installs nginx-light " \
                  "as root; PostgreSQL server binaries and redis-server come with the machine)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(system_cluster):
    """The shared cluster with every service up and both nodes ready."""
    system_cluster.ensure_healthy()
    return system_cluster
