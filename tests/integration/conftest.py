# SPDX-License-Identifier: MIT
"""pytest fixtures for the integration tests in this directory.

backend        each event backend in $TMC_BACKENDS, in turn
server         our server for that backend (TCP + Unix socket), stopped
               after the test with exit code 0 required
redis_server   a reference redis-server (TCP + Unix socket)
ref            for the differential tests (diffcase.py): a redis-server
               on a Unix socket with one database, for a whole module
ours           our server on a Unix socket, for a whole module, once per
               event backend
"""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402


@pytest.fixture(params=tmc_testlib.backends())
def backend(request: pytest.FixtureRequest) -> str:
    """The event backend under test."""
    return str(request.param)


@pytest.fixture
def server(backend: str) -> Iterator[tmc_testlib.Server]:
    """Our server on a free port and a Unix socket, for one test."""
    path = tmc_testlib.server_path()
    if not os.access(path, os.X_OK):
        pytest.fail("server binary not built: %s" % path, pytrace=False)
    srv = tmc_testlib.Server(backend=backend, unixsocket=True)
    try:
        yield srv
    finally:
        # A non-zero exit (a crash, or leaks under TMC_VALGRIND) fails the
        # test even if its body passed.
        srv.stop(check=True)


@pytest.fixture
def redis_server() -> Iterator[tmc_testlib.RedisServer]:
    """A reference redis-server on a free port and a Unix socket."""
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    with tmc_testlib.RedisServer(tcp=True) as srv:
        yield srv


def _require_redis() -> str:
    """Path of redis-server; skip (or fail under CI) without it."""
    return tmc_testlib.require_tool(tmc_testlib.redis_server_path(),
                                    "redis-server")


@pytest.fixture(scope="module")
def ref() -> Iterator[tmc_testlib.RedisServer]:
    """The reference redis-server, on a Unix socket only, with one
    database as we have (so SELECT answers alike)."""
    _require_redis()
    with tmc_testlib.RedisServer(tcp=False, args=["--databases", "1"]) as srv:
        yield srv


@pytest.fixture(scope="module", params=tmc_testlib.backends())
def ours(request: pytest.FixtureRequest) -> Iterator[tmc_testlib.Server]:
    """Our server with one event backend, on a Unix socket."""
    _require_redis()   # skip everything consistently without Redis
    path = tmc_testlib.server_path()
    if not os.access(path, os.X_OK):
        pytest.fail("server binary not built: %s" % path, pytrace=False)
    srv = tmc_testlib.Server(backend=str(request.param), unixsocket=True)
    try:
        yield srv
    finally:
        srv.stop(check=True)
