# SPDX-License-Identifier: MIT
# Fixtures for the tiny_mp_cache tests: servers on free ports (both event
# backends, and redis-server for a module), clients, and a time bound on
# every test.

import faulthandler
import os
import shutil
import tempfile

import pytest

import tiny_mp_cache
import tmcpy
from tiny_mp_cache import TinyCache, spawn

# No test may hang make check: after this many seconds the tracebacks of
# every thread are printed and pytest exits (its spawned servers stop by
# themselves when their parent goes away).
TEST_TIME_LIMIT = float(os.environ.get("TMC_TEST_TIME_LIMIT", "300"))

# make check-installed runs these tests in a venv with the package
# installed from its wheel: they must import that copy, not the build
# tree's.
_VENV = os.environ.get("TMC_INSTALLED_VENV")
if _VENV and not os.path.realpath(tiny_mp_cache.__file__).startswith(
        os.path.realpath(_VENV) + os.sep):
    raise pytest.UsageError(
        f"tiny_mp_cache was imported from {tiny_mp_cache.__file__}, not "
        f"from the venv {_VENV}: unset PYTHONPATH")


def backends():
    """The event backends to test: $TMC_BACKENDS (set by make check)."""
    names = os.environ.get("TMC_BACKENDS", "epoll select").split()
    return names or ["select"]


@pytest.fixture(autouse=True)
def _time_limit():
    faulthandler.dump_traceback_later(TEST_TIME_LIMIT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(params=backends())
def backend(request):
    return request.param


@pytest.fixture
def server(backend):
    """A tiny-mp-cache server process on a free TCP port."""
    with spawn(port=0, event_backend=backend, loglevel="warning") as srv:
        yield srv


@pytest.fixture(scope="module", params=backends() + ["redis"])
def module_address(request):
    """The address of one server for the whole test module: ours on each
    event backend, and a redis-server 7.0 of our own (a module whose
    tests must behave the same on both). Tests that use it empty it
    first."""
    if request.param == "redis":
        with tmcpy.redis_server() as ref:
            yield ref["address"]
    else:
        with spawn(port=0, event_backend=request.param,
                   loglevel="warning") as srv:
            yield srv.address


@pytest.fixture
def cache(server):
    """A TinyCache connected to `server`."""
    with TinyCache(server.address, connect_timeout=5.0, timeout=30.0) as c:
        yield c


@pytest.fixture
def short_tmp():
    """A short temporary directory (Unix socket paths are limited to
    about 100 bytes)."""
    path = tempfile.mkdtemp(prefix="tmc-py-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unix_server(backend, short_tmp):
    """A server listening on a Unix socket only."""
    path = os.path.join(short_tmp, "tmc.sock")
    with spawn(port=-1, unixsocket=path, event_backend=backend,
               loglevel="warning") as srv:
        yield srv


def pytest_report_header(config):
    return (f"tiny_mp_cache {tiny_mp_cache.__version__} from "
            f"{os.path.dirname(tiny_mp_cache.__file__)}")
