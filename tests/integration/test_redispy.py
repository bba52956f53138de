# SPDX-License-Identifier: MIT
"""redis-py against our server, for every event backend.

Plain calls, binary and non-ASCII data, a 1000-command pipeline, a pool
shared by threads, the Unix socket, error replies with Redis's texts, and
the client limit. Each test gets a fresh server (conftest.py), which must
exit with status 0 afterwards. Both redis-py reply parsers are used.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from typing import Any, Dict, Iterator, List

import pytest

import tmc_testlib

if tmc_testlib.in_ci():
    import redis  # CI installs redis-py: a missing one is an error
else:
    redis = pytest.importorskip("redis")

from redis.connection import PythonParser  # noqa: E402

PARSERS: List[Any] = [PythonParser]
try:
    from redis.connection import HiredisParser  # noqa: E402
    from redis.utils import HIREDIS_AVAILABLE  # noqa: E402

    if HIREDIS_AVAILABLE:
        PARSERS.append(HiredisParser)
except ImportError:  # pragma: no cover - depends on the redis-py version
    pass


@pytest.fixture(params=PARSERS, ids=lambda p: p.__name__)
def parser(request: pytest.FixtureRequest) -> Any:
    """A redis-py reply parser class."""
    return request.param


def make_client(server: tmc_testlib.Server, parser: Any = PythonParser,
                unix: bool = False, **kw: Any) -> Any:
    """A redis-py client with its own pool, using the given parser."""
    if unix:
        pool = redis.ConnectionPool(
            connection_class=redis.UnixDomainSocketConnection,
            path=server.unixsocket, socket_timeout=20, parser_class=parser,
            **kw)
    else:
        pool = redis.ConnectionPool(host=server.host, port=server.port,
                                    socket_timeout=20, parser_class=parser,
                                    **kw)
    return redis.Redis(connection_pool=pool)


@pytest.fixture
def r(server: tmc_testlib.Server, parser: Any) -> Iterator[Any]:
    """A redis-py client on the server's TCP port."""
    client = make_client(server, parser)
    try:
        yield client
    finally:
        client.connection_pool.disconnect()


def test_plain_calls(r: Any, server: tmc_testlib.Server) -> None:
    assert r.ping() is True
    assert r.echo("hello") == b"hello"
    assert r.set("job:1", "x") is True
    assert r.get("job:1") == b"x"
    assert r.getdel("job:1") == b"x"
    assert r.getdel("job:1") is None
    assert r.get("job:1") is None
    assert r.set("job:1", "a") and r.set("job:2", "b") and r.set("other", "c")
    assert r.set("job:1", "a2") is True              # overwrite
    assert r.get("job:1") == b"a2"
    assert sorted(r.keys("job:*")) == [b"job:1", b"job:2"]
    assert sorted(r.keys()) == [b"job:1", b"job:2", b"other"]
    assert r.keys("job:[13]") == [b"job:1"]
    assert r.keys("nothing*") == []
    assert r.dbsize() == 3
    assert r.exists("job:1") == 1
    assert r.exists("job:1", "job:1", "job:2", "nope") == 3
    assert r.delete("job:2", "other", "nope") == 2
    assert r.delete("job:2") == 0
    assert r.dbsize() == 1

    info = r.info()
    assert info["multiplexing_api"] == server.backend
    assert info["tcp_port"] == server.port
    assert info["connected_clients"] >= 1
    assert r.info("keyspace") == {
        "db0": {"keys": 1, "expires": 0, "avg_ttl": 0}}
    assert "save" in r.config_get("save")
    # The default is Redis's 10000; select can watch only FD_SETSIZE
    # descriptors, and the server logs how far it lowered the limit.
    m = re.search(r"maxclients lowered from 10000 to (\d+)", server.log)
    want = m.group(1) if m else "10000"
    assert r.config_get("maxclients") == {"maxclients": want}
    if server.backend == "epoll":
        assert want == "10000"

    assert r.client_getname() is None
    assert r.client_setname("worker-1") is True
    assert r.client_getname() == "worker-1"
    cid = r.client_id()
    assert isinstance(cid, int) and cid > 0
    other = redis.Redis(host=server.host, port=server.port, socket_timeout=20)
    try:
        assert other.client_id() != cid
        assert other.get("job:1") == b"a2"      # one shared keyspace
    finally:
        other.close()

    assert r.flushdb() is True
    assert r.dbsize() == 0
    assert r.set("k", "v") and r.flushall() is True
    assert r.dbsize() == 0
    assert r.select(0) is True


def test_busy_poll_setting(r: Any) -> None:
    """busy-poll-us: CONFIG GET/SET with Redis's error wording; its
    counters in INFO stats, zeroed by CONFIG RESETSTAT."""
    assert r.config_get("busy-poll-us") == {"busy-poll-us": "50"}
    for i in range(200):
        r.set(f"k{i}", b"v")
    assert {"busy_poll_hits", "busy_poll_misses"} <= set(r.info("stats"))
    assert r.config_set("busy-poll-us", 0) is True
    assert r.config_get("busy-poll-us") == {"busy-poll-us": "0"}
    r.config_resetstat()
    for i in range(200):
        r.get(f"k{i}")
    stats = r.info("stats")
    assert (stats["busy_poll_hits"], stats["busy_poll_misses"]) == (0, 0)
    for bad, why in (("-1", "must be between 0 and 100000 inclusive"),
                     ("100001", "must be between 0 and 100000 inclusive"),
                     ("fast", "couldn't be parsed into an integer")):
        with pytest.raises(redis.ResponseError) as e:
            r.config_set("busy-poll-us", bad)
        assert str(e.value) == (
            "CONFIG SET failed (possibly related to argument "
            f"'busy-poll-us') - argument {why}")
    assert r.config_set("busy-poll-us", 50) is True
    assert r.config_get("busy-poll-us") == {"busy-poll-us": "50"}


@pytest.mark.parametrize("value", [
    b"",
    b"\x00",
    b"a\x00b\r\nc\n\r",
    bytes(range(256)),
    b"\r\n" * 1000,
    b"*1\r\n$4\r\nPING\r\n",            # a request inside a value
])
def test_binary_values(r: Any, value: bytes) -> None:
    assert r.set(b"bin", value) is True
    assert r.get(b"bin") == value
    assert r.exists(b"bin") == 1
    assert r.getdel(b"bin") == value
    assert r.exists(b"bin") == 0


def test_big_values(r: Any) -> None:
    rng = random.Random(1)
    big = bytes(rng.getrandbits(8) for _ in range(1 << 20))
    assert r.set("big", big) is True
    assert r.get("big") == big
    huge = os.urandom(8 << 20)
    assert r.set("huge", huge) is True
    assert r.getdel("huge") == huge
    assert r.getdel("big") == big
    assert r.dbsize() == 0


def test_non_ascii_and_binary_keys(r: Any) -> None:
    keys = ["ключ", "日本語:1", "café", "emoji:\U0001F600"]
    for i, k in enumerate(keys):
        assert r.set(k, str(i)) is True
    bkey = b"\xff\xfe\x00key"
    assert r.set(bkey, b"raw") is True
    for i, k in enumerate(keys):
        assert r.get(k) == str(i).encode()
    assert r.get(bkey) == b"raw"
    assert sorted(r.keys()) == sorted([k.encode() for k in keys] + [bkey])
    # The glob matches bytes: "?" is one byte, so "caf?" misses "café".
    assert r.keys("caf?") == []
    assert r.keys("caf??") == ["café".encode()]
    assert r.keys("日本語:*") == ["日本語:1".encode()]
    assert r.delete(*keys, bkey) == 5
    assert r.dbsize() == 0


def test_pipeline_1000(r: Any) -> None:
    pipe = r.pipeline(transaction=False)
    expected: List[Any] = []
    present: Dict[str, bytes] = {}
    rng = random.Random(42)
    for i in range(1000):
        key = "p:%d" % rng.randrange(50)
        op = rng.randrange(5)
        if op == 0:
            val = b"v%d\x00" % i
            pipe.set(key, val)
            present[key] = val
            expected.append(True)
        elif op == 1:
            pipe.get(key)
            expected.append(present.get(key))
        elif op == 2:
            pipe.getdel(key)
            expected.append(present.pop(key, None))
        elif op == 3:
            pipe.exists(key)
            expected.append(1 if key in present else 0)
        else:
            pipe.delete(key)
            expected.append(1 if present.pop(key, None) is not None else 0)
    results = pipe.execute()
    assert len(results) == 1000
    for i, (got, want) in enumerate(zip(results, expected)):
        assert got == want, "command %d" % i
    assert r.dbsize() == len(present)
    assert sorted(r.keys("p:*")) == sorted(k.encode() for k in present)


def test_pipeline_errors_do_not_stop_it(r: Any) -> None:
    pipe = r.pipeline(transaction=False)
    pipe.set("a", "1")
    pipe.execute_command("NOSUCHCMD", "x")
    pipe.get("a")
    pipe.execute_command("GET")
    pipe.getdel("a")
    results = pipe.execute(raise_on_error=False)
    assert results[0] is True
    assert isinstance(results[1], redis.ResponseError)
    assert str(results[1]) == \
        "unknown command 'NOSUCHCMD', with args beginning with: 'x' "
    assert results[2] == b"1"
    assert isinstance(results[3], redis.ResponseError)
    assert str(results[3]) == "wrong number of arguments for 'get' command"
    assert results[4] == b"1"


def test_pool_shared_by_threads(server: tmc_testlib.Server, parser: Any) -> None:
    client = make_client(server, parser, max_connections=8)
    pool = client.connection_pool
    errors: List[str] = []
    per_thread = 300

    def work(t: int) -> None:
        try:
            for i in range(per_thread):
                key = "t%d:%d" % (t, i)
                val = b"%d-%d-\x00" % (t, i)
                assert client.set(key, val) is True
                got = client.get(key)
                if got != val:
                    errors.append("%s: %r != %r" % (key, got, val))
            for i in range(0, per_thread, 3):
                got = client.getdel("t%d:%d" % (t, i))
                if got != b"%d-%d-\x00" % (t, i):
                    errors.append("getdel t%d:%d: %r" % (t, i, got))
        except Exception as e:  # reported by the main thread
            errors.append("thread %d: %r" % (t, e))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
        assert not th.is_alive(), "a worker thread hung"
    assert errors == []
    assert client.dbsize() == 8 * (per_thread - len(range(0, per_thread, 3)))
    for t in range(8):
        assert client.get("t%d:1" % t) == b"%d-1-\x00" % t
        assert client.get("t%d:0" % t) is None
    pool.disconnect()


def test_getdel_hands_out_each_key_once(server: tmc_testlib.Server) -> None:
    client = redis.Redis(host=server.host, port=server.port, socket_timeout=20)
    n = 2000
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set("job:%d" % i, str(i))
    pipe.execute()
    got: List[List[bytes]] = [[] for _ in range(6)]

    def take(t: int) -> None:
        c = redis.Redis(host=server.host, port=server.port, socket_timeout=20)
        for i in range(n):
            v = c.getdel("job:%d" % i)
            if v is not None:
                got[t].append(v)
        c.close()

    threads = [threading.Thread(target=take, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
        assert not th.is_alive()
    taken = sorted(int(v) for lst in got for v in lst)
    assert taken == list(range(n))
    assert client.dbsize() == 0
    client.close()


def test_unix_socket(server: tmc_testlib.Server, parser: Any) -> None:
    assert server.unixsocket
    plain = redis.Redis(unix_socket_path=server.unixsocket, socket_timeout=20)
    assert plain.ping() is True
    plain.close()
    u = make_client(server, parser, unix=True)
    t = redis.Redis(host=server.host, port=server.port, socket_timeout=20)
    try:
        assert u.ping() is True
        assert u.set("via", b"unix\x00") is True
        assert t.get("via") == b"unix\x00"
        assert t.set("via2", "tcp") is True
        assert u.getdel("via2") == b"tcp"
        assert u.dbsize() == 1
        assert u.info()["multiplexing_api"] == server.backend
    finally:
        u.connection_pool.disconnect()
        t.close()


@pytest.mark.parametrize("args,message", [
    (("FOO", "bar"), "unknown command 'FOO', with args beginning with: 'bar' "),
    (("NOPE",), "unknown command 'NOPE', with args beginning with: "),
    (("GET",), "wrong number of arguments for 'get' command"),
    (("GET", "a", "b"), "wrong number of arguments for 'get' command"),
    (("GETDEL",), "wrong number of arguments for 'getdel' command"),
    (("SET", "a"), "wrong number of arguments for 'set' command"),
    (("DEL",), "wrong number of arguments for 'del' command"),
    (("EXISTS",), "wrong number of arguments for 'exists' command"),
    (("KEYS",), "wrong number of arguments for 'keys' command"),
    (("DBSIZE", "x"), "wrong number of arguments for 'dbsize' command"),
    (("SET", "a", "b", "c"), "syntax error"),
    (("SELECT", "x"), "value is not an integer or out of range"),
    (("SELECT", "1"), "DB index is out of range"),
])
def test_error_replies(r: Any, args: tuple, message: str) -> None:
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*args)
    assert str(ei.value) == message
    # The connection stays usable after an error reply.
    assert r.ping() is True


def test_many_connections(server: tmc_testlib.Server) -> None:
    clients = [redis.Redis(host=server.host, port=server.port,
                           socket_timeout=20) for _ in range(200)]
    try:
        for i, c in enumerate(clients):
            assert c.set("c%d" % i, i) is True
        for i, c in enumerate(clients):
            assert c.get("c%d" % i) == str(i).encode()
        assert clients[0].info("clients")["connected_clients"] == 200
    finally:
        for c in clients:
            c.close()


def test_maxclients(backend: str) -> None:
    with tmc_testlib.Server(backend=backend, args=["--maxclients", "2"]) as srv:
        a = srv.connect()
        b = srv.connect()
        try:
            for s in (a, b):
                s.sendall(tmc_testlib.encode_command("PING"))
                assert tmc_testlib.read_replies(s, 1)[0] == ["PONG"]
            # The third gets Redis's error, then the server closes it.
            out = tmc_testlib.raw_exchange(srv.addr, b"", timeout=5.0,
                                           quiet=2.0)
            assert out == b"-ERR max number of clients reached\r\n"
        finally:
            a.close()
            b.close()
        # Once one leaves, a new client is served again.
        c = redis.Redis(host=srv.host, port=srv.port, socket_timeout=20)
        for _ in range(50):
            try:
                if c.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.05)
        assert c.ping() is True
        c.close()


def test_client_limit_and_high_fds(backend: str) -> None:
    """Fill the server to its client limit; the rest are refused cleanly.

    select can watch only FD_SETSIZE descriptors, so the server lowers
    maxclients for it (and logs that); epoll gets 1100, so descriptors
    past 1024 are served too.
    """
    import resource

    args = ["--maxclients", "1100"] if backend == "epoll" else []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1300 and (hard == resource.RLIM_INFINITY or hard >= 1300):
        resource.setrlimit(resource.RLIMIT_NOFILE, (1300, hard))
    elif soft < 1300:
        pytest.skip("needs 1300 file descriptors, the limit is %d" % hard)
    with tmc_testlib.Server(backend=backend, args=args) as srv:
        # The probe stays connected: it holds one of the slots.
        probe = redis.Redis(host=srv.host, port=srv.port, socket_timeout=20)
        limit = int(probe.config_get("maxclients")["maxclients"])
        if backend == "epoll":
            assert limit == 1100
        else:
            assert 0 < limit < 1024
        socks = [srv.connect() for _ in range(limit - 1 + 20)]
        try:
            for s in socks:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
            answers: Dict[bytes, int] = {}
            for s in socks:
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
                answers[data] = answers.get(data, 0) + 1
            assert answers == {
                b"+PONG\r\n": limit - 1,
                b"-ERR max number of clients reached\r\n": 20,
            }
        finally:
            for s in socks:
                s.close()
            probe.close()
        # Served again once they are gone (the server may still be
        # handling the closes, so allow it a moment).
        for _ in range(100):
            out = tmc_testlib.raw_exchange(srv.addr, b"PING\r\n", quiet=1.0)
            if out == b"+PONG\r\n":
                break
            time.sleep(0.05)
        assert out == b"+PONG\r\n"


def test_redis_py_lock(r: Any) -> None:
    """redis-py's Lock takes the lock with SET NX PX, which works here; its
    release runs a Lua script, which this server refuses with Redis's
    unknown-command error. DELEX ... IFEQ token is the atomic release
    that needs no Lua."""
    lock = r.lock("job-lock", timeout=5, blocking=False)
    assert lock.acquire()
    assert 0 < r.pttl("job-lock") <= 5000
    token = r.get("job-lock")
    assert token == lock.local.token
    other = r.lock("job-lock", timeout=5, blocking=False)
    assert not other.acquire()              # held: SET NX refused
    with pytest.raises(redis.exceptions.ResponseError,
                       match="^unknown command 'EVALSHA'"):
        lock.release()
    assert r.execute_command("DELEX", "job-lock", "IFEQ", b"not-mine") == 0
    assert r.exists("job-lock") == 1
    assert r.execute_command("DELEX", "job-lock", "IFEQ", token) == 1
    assert r.exists("job-lock") == 0
    assert other.acquire()                  # free again
