# SPDX-License-Identifier: MIT
"""Persistence from Python: serve(dir=..., appendonly=True) and spawn()
keep the data across a restart (SIGTERM) and a crash (SIGKILL); a
reliable Queue's jobs, acknowledged or not, come back as they were; the
data directory is made if missing; the settings are checked like the
others."""

import os
import signal
import time
from typing import List

import pytest

from tmcpy import free_port, python_child, wait_for
from tiny_mp_cache import Queue, TinyCache, spawn

SERVE_CODE = """
import signal, sys
from tiny_mp_cache import serve
signal.signal(signal.SIGTERM, signal.SIG_DFL)
serve(int(sys.argv[1]), dir=sys.argv[2], appendonly=True,
      appendfsync=sys.argv[3], loglevel="warning")
"""


def ready(addr: str) -> TinyCache:
    """A client of the server at addr once it answers."""
    def answers() -> bool:
        try:
            with TinyCache(addr, connect_timeout=1) as c:
                return c.ping()
        except OSError:
            return False
    wait_for(answers, 30, f"the server at {addr}")
    return TinyCache(addr, connect_timeout=10, timeout=30)


def write_some(c: TinyCache, n: int) -> None:
    """Keys, a ttl, a counter and a list of jobs, three of them popped."""
    for i in range(n):
        c.set(f"k{i}", b"v%d" % i)
    c.set("ttl", b"x", ttl=3600)
    c.incr("counter", 5)
    c.push("jobs", *[b"job%d" % i for i in range(10)])
    assert c.pop("k0") == b"v0"
    assert [c.take_nowait("jobs") for _ in range(3)] == \
        [b"job0", b"job1", b"job2"]


def check_some(c: TinyCache, n: int) -> None:
    """What write_some left."""
    assert c.get("k0") is None                  # popped: stays popped
    for i in range(1, n):
        assert c.get(f"k{i}") == b"v%d" % i, i
    ttl = c.ttl("ttl")
    assert ttl is not None and 3500 < ttl <= 3600
    assert c.get("counter") == b"5"
    assert c.lrange("jobs") == [b"job%d" % i for i in range(3, 10)]
    assert c.len() == n - 1 + 3


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGTERM", "SIGKILL"])
def test_serve_comes_back_with_its_data(tmp_path, sig: int) -> None:
    """serve(port, dir="data", appendonly=True) in a child interpreter:
    the relative data directory is made; after SIGTERM (a clean stop) or
    SIGKILL (a crash: with everysec the records are written before each
    reply, so a process crash loses nothing acknowledged) a new serve()
    on the same directory has every key, ttl and list as they were."""
    port = free_port()
    addr = f"127.0.0.1:{port}"
    cwd = str(tmp_path)
    with python_child(SERVE_CODE, port, "data", "everysec", cwd=cwd) as child:
        with ready(addr) as c:
            write_some(c, 50)
        child.signal(sig)
        assert child.wait(30) == -sig
    assert sorted(os.listdir(tmp_path / "data" / "appendonlydir")) == [
        "appendonly.aof.1.base.aof", "appendonly.aof.1.incr.aof",
        "appendonly.aof.manifest"]
    port = free_port()
    addr = f"127.0.0.1:{port}"
    with python_child(SERVE_CODE, port, "data", "everysec", cwd=cwd) as child:
        with ready(addr) as c:
            check_some(c, 50)
        child.signal(signal.SIGTERM)
        assert child.wait(30) == -signal.SIGTERM


def test_spawn_always_survives_sigkill(tmp_path) -> None:
    """spawn(dir=..., appendonly=True, appendfsync="always"): SIGKILL
    right after the last acknowledgement loses nothing; the respawned
    server reports the same data."""
    data = tmp_path / "nested" / "data"
    with spawn(dir=data, appendonly=True, appendfsync="always",
               loglevel="warning") as srv:
        with TinyCache(srv.address, connect_timeout=10) as c:
            assert c.execute("CONFIG", "GET", "dir") == \
                [b"dir", os.fsencode(os.path.realpath(data))]
            write_some(c, 200)
        os.kill(srv.pid, signal.SIGKILL)
        srv.process.wait(30)
    with spawn(dir=str(data), appendonly=True, loglevel="warning") as srv:
        with TinyCache(srv.address, connect_timeout=10) as c:
            check_some(c, 200)


def test_reliable_queue_survives_a_restart(tmp_path) -> None:
    """A reliable Queue across a restart of its server: what was put and
    not taken is still queued in order, what was taken and acknowledged
    is gone for good, what was taken and not acknowledged is in the
    consumer's processing list and recover() hands it out again once the
    consumer's heartbeat is gone (at least once, never lost)."""
    data = tmp_path / "data"
    taken: List[bytes] = []
    with spawn(dir=data, appendonly=True, appendfsync="always",
               loglevel="warning") as srv:
        q = Queue(srv.address, "jobs", reliable=True, heartbeat=0.5)
        q.put_many([b"job%d" % i for i in range(20)])
        for _ in range(5):
            item = q.get(timeout=5)
            taken.append(item)
            q.ack(item)                       # done: never again
        unacked = q.get(timeout=5)            # taken, then the crash
        os.kill(srv.pid, signal.SIGKILL)
        srv.process.wait(30)
        q.cancel_join_thread()
    assert taken == [b"job%d" % i for i in range(5)] and unacked == b"job5"
    with spawn(dir=data, appendonly=True, loglevel="warning") as srv:
        q2 = Queue(srv.address, "jobs", reliable=True)
        assert q2.qsize() == 14
        deadline = time.monotonic() + 30
        while q2.recover() == 0:              # the heartbeat's ttl runs out
            assert time.monotonic() < deadline, "recover() found nothing"
            time.sleep(0.1)
        got = [q2.get(timeout=5) for _ in range(15)]
        for item in got:
            q2.ack(item)
        assert got == [b"job%d" % i for i in range(5, 20)]
        assert q2.qsize() == 0
        q2.close()
    q.close()


@pytest.mark.parametrize("name, value, error, message", [
    ("appendonly", 1, TypeError, "appendonly must be a bool, not int"),
    ("appendfsync", "sometimes", ValueError,
     "invalid appendfsync='sometimes': argument(s) must be one of the "
     "following: everysec, always, no"),
    ("auto_aof_rewrite_percentage", -1, ValueError,
     "invalid auto_aof_rewrite_percentage=-1: argument must be between 0 "
     "and 2147483647 inclusive"),
    ("dir", 5, TypeError, "expected str, bytes or os.PathLike object"),
], ids=["appendonly=1", "appendfsync", "percentage", "dir=5"])
def test_persistence_settings_checked(tmp_path, name: str, value: object,
                                      error: type, message: str) -> None:
    with pytest.raises(error) as ei:
        with spawn(loglevel="warning", **{name: value}):
            pass
    assert str(ei.value).startswith(message), str(ei.value)
