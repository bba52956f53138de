# SPDX-License-Identifier: MIT
# TinyCache against a real redis-server (on a free port and a Unix socket):
# users who outgrow one machine point it at Redis. Skipped when
# redis-server is missing, except under CI=true where that fails.

import multiprocessing as mp
import os
import time

import pytest

import tmcpy
from tiny_mp_cache import ReplyError, TinyCache


@pytest.fixture(scope="module")
def redis_server():
    with tmcpy.redis_server() as srv:
        yield srv


@pytest.fixture(params=["address", "unix"])
def rcache(redis_server, request):
    with TinyCache(redis_server[request.param], connect_timeout=10,
                   timeout=30) as c:
        c.execute("FLUSHALL")
        yield c


def test_api(rcache):
    c = rcache
    assert c.get("foo") is None
    assert c.set("foo", b"bar") is None
    assert c.get("foo") == b"bar"
    assert c.len() == 1
    for i in range(5):
        c.set(f"job:{i}", str(i).encode())
    assert sorted(c.keys("job:*")) == [f"job:{i}" for i in range(5)]
    assert c.pop("job:0") == b"0"
    assert c.pop("job:0") is None
    assert c.delete("job:1") == 1
    assert c.delete("job:1") == 0
    assert c.len() == 4
    assert c.ping()


def test_binary_and_unicode(rcache):
    c = rcache
    for value in (b"", b"\x00\r\n\x00", bytes(range(256)),
                  os.urandom(1024) * 10240):
        c.set("ключ:\U0001F600", value)
        assert c.get("ключ:\U0001F600") == value
    assert c.keys("ключ:*") == ["ключ:\U0001F600"]


def test_error_reply(rcache):
    c = rcache
    c.execute("RPUSH", "alist", "x")
    with pytest.raises(ReplyError, match="^WRONGTYPE"):
        c.get("alist")
    with pytest.raises(ReplyError, match="unknown command"):
        c.execute("NOSUCHCOMMAND")
    assert c.delete("alist") == 1


def _popper(addr, n_keys, q):
    c = TinyCache(addr, connect_timeout=10)
    got = [k for k in (f"job:{i}" for i in range(n_keys))
           if c.pop(k) is not None]
    q.put(got)


def test_pop_exactly_once_with_processes(rcache, redis_server):
    for i in range(2000):
        rcache.set(f"job:{i}", b"x")
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_popper,
                         args=(redis_server["address"], 2000, q))
             for _ in range(4)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    popped = [k for r in results for k in r]
    assert len(popped) == 2000
    assert len(set(popped)) == 2000
    assert rcache.len() == 0


def test_fork_safety(rcache):
    rcache.set("k", b"parent")
    pid = os.fork()
    if pid == 0:
        ok = all(rcache.get("k") == b"parent" for _ in range(200))
        os._exit(0 if ok else 1)
    for _ in range(200):
        assert rcache.get("k") == b"parent"
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_reconnect_after_client_kill(rcache):
    rcache.set("k", b"v")
    my_id = rcache.execute("CLIENT", "ID")
    with TinyCache(rcache.address) as other:
        assert other.execute("CLIENT", "KILL", "ID", my_id) == 1
    time.sleep(0.05)
    assert rcache.pop("k") == b"v"             # noticed before sending
    rcache.set("k", b"w")
    my_id = rcache.execute("CLIENT", "ID")
    with TinyCache(rcache.address) as other:
        other.execute("CLIENT", "KILL", "ID", my_id)
    assert rcache.get("k") == b"w"             # retried once
