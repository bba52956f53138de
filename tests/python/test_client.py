# SPDX-License-Identifier: MIT
# TinyCache against the tiny-mp-cache server (both event backends): every
# method, every error case, binary values, addresses, reconnects, fork and
# thread safety.

import multiprocessing as mp
import os
import signal
import socket
import threading
import time

import pytest

from tmcpy import FakeServer, first_copy_dropped, free_port, read_command, wait_for
from tiny_mp_cache import (ProtocolError, ReplyError, TinyCache,
                           TinyCacheConnectionError, TinyCacheError,
                           TinyCacheTimeoutError, spawn)
from tiny_mp_cache._native import IDLE_CHECK_SECONDS, pack_command


# ---- The original API ----

def test_set_get(cache):
    assert cache.set("foo", b"bar") is None
    assert cache.get("foo") == b"bar"


def test_get_missing_is_none(cache):
    assert cache.get("nope") is None


def test_set_replaces(cache):
    cache.set("k", b"one")
    cache.set("k", b"two")
    assert cache.get("k") == b"two"
    assert cache.len() == 1


def test_pop(cache):
    cache.set("job:1", b"payload")
    assert cache.pop("job:1") == b"payload"
    assert cache.get("job:1") is None
    assert cache.pop("job:1") is None
    assert cache.len() == 0


def test_delete(cache):
    cache.set("user:1", b"x")
    assert cache.delete("user:1") == 1
    assert cache.delete("user:1") == 0
    assert cache.get("user:1") is None


def test_keys(cache):
    assert cache.keys("job:*") == []
    for k in ("job:1", "job:2", "job:10", "user:1", "jobs"):
        cache.set(k, b"v")
    assert sorted(cache.keys("job:*")) == ["job:1", "job:10", "job:2"]
    assert sorted(cache.keys("*")) == sorted(
        ["job:1", "job:2", "job:10", "user:1", "jobs"])
    assert sorted(cache.keys()) == sorted(cache.keys("*"))
    assert sorted(cache.keys("job:?")) == ["job:1", "job:2"]
    assert sorted(cache.keys("job:[12]")) == ["job:1", "job:2"]
    assert cache.keys("job:[^1]") == ["job:2"]
    assert cache.keys("user*") == ["user:1"]
    assert all(type(k) is str for k in cache.keys("*"))


def test_keys_escape(cache):
    cache.set("a*b", b"1")
    cache.set("axb", b"2")
    assert cache.keys("a\\*b") == ["a*b"]
    assert sorted(cache.keys("a*b")) == ["a*b", "axb"]


def test_len(cache):
    assert cache.len() == 0
    for i in range(25):
        cache.set(f"k{i}", b"v")
    assert cache.len() == 25
    cache.delete("k0")
    cache.pop("k1")
    assert cache.len() == 23


# ---- Values and keys ----

@pytest.mark.parametrize("value", [
    b"",
    b"\x00",
    b"a\x00b\x00\r\n$3\r\n*1\r\n",
    bytes(range(256)),
    b"\xff" * 70000,
], ids=["empty", "nul", "resp-like", "all-bytes", "70k"])
def test_binary_values(cache, value):
    cache.set("bin", value)
    got = cache.get("bin")
    assert type(got) is bytes
    assert got == value
    assert cache.pop("bin") == value


def test_empty_value_is_not_none(cache):
    cache.set("e", b"")
    assert cache.get("e") == b""
    assert cache.get("e") is not None


def test_ten_megabytes(cache):
    value = os.urandom(1024) * (10 * 1024)
    assert len(value) == 10 * 1024 * 1024
    cache.set("big", value)
    assert cache.get("big") == value
    cache.set("small", b"s")        # the connection is still in step
    assert cache.get("small") == b"s"
    assert cache.pop("big") == value


def test_bytes_like_values(cache):
    cache.set("ba", bytearray(b"abc"))
    cache.set("mv", memoryview(b"xyzw")[1:3])
    assert cache.get("ba") == b"abc"
    assert cache.get("mv") == b"yz"


@pytest.mark.parametrize("key", [
    "ключ", "日本語のキー", "emoji:\U0001F600", "café", "a\x00b", "",
    "x" * 10000, "with space\r\n",
])
def test_unusual_keys(cache, key):
    cache.set(key, b"v")
    assert cache.get(key) == b"v"
    assert cache.keys("*") == [key]
    assert cache.pop(key) == b"v"
    assert cache.delete(key) == 0


def test_non_ascii_keys_glob(cache):
    cache.set("задача:1", b"1")
    cache.set("задача:2", b"2")
    cache.set("job:1", b"3")
    assert sorted(cache.keys("задача:*")) == ["задача:1", "задача:2"]


def test_non_utf8_key_round_trips(cache):
    cache.execute(b"SET", b"\xff\xfe", b"v")
    (key,) = cache.keys("*")
    assert key == "\udcff\udcfe"
    assert cache.get(key) == b"v"
    assert cache.pop(key) == b"v"


# ---- Type errors, raised before anything is sent ----

BAD_KEYS = [b"bytes", 1, None, 1.5, ["k"], bytearray(b"k")]


@pytest.mark.parametrize("method", ["get", "pop", "delete"])
@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_key_type_error(method, key):
    # Nothing listens there: a TypeError proves nothing was sent.
    c = TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)
    with pytest.raises(TypeError, match="key must be str"):
        getattr(c, method)(key)
    assert c._sock is None


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_set_key_type_error(key):
    c = TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)
    with pytest.raises(TypeError, match="key must be str"):
        c.set(key, b"v")


@pytest.mark.parametrize("value", ["str", 1, None, 1.5, [b"v"], object()],
                         ids=repr)
def test_set_value_type_error(value):
    c = TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)
    with pytest.raises(TypeError, match="value must be bytes"):
        c.set("k", value)


@pytest.mark.parametrize("pattern", [b"*", 1, None])
def test_keys_pattern_type_error(pattern):
    c = TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)
    with pytest.raises(TypeError, match="pattern must be str"):
        c.keys(pattern)


def test_type_error_leaves_connection_usable(cache):
    cache.set("k", b"v")
    with pytest.raises(TypeError):
        cache.set("k", "not bytes")
    assert cache.get("k") == b"v"


# ---- Addresses ----

def test_address_forms(server):
    port = server.port
    for addr in (f"127.0.0.1:{port}", f"tcp://127.0.0.1:{port}",
                 ("127.0.0.1", port), f"localhost:{port}"):
        with TinyCache(addr, connect_timeout=5) as c:
            c.set("a", b"1")
            assert c.get("a") == b"1"


@pytest.mark.parametrize("addr", [
    "127.0.0.1", "127.0.0.1:", ":5002", "127.0.0.1:x", "127.0.0.1:0",
    "127.0.0.1:70000", "unix://", "tcp://", "[::1]5002", ("h",), ("h", "p"),
])
def test_bad_addresses(addr):
    with pytest.raises(ValueError):
        TinyCache(addr)


def test_address_type():
    with pytest.raises(TypeError):
        TinyCache(5002)


def test_unix_socket(unix_server):
    assert unix_server.port is None
    assert unix_server.address.startswith("unix:///")
    with TinyCache(unix_server.address, connect_timeout=5) as c:
        c.set("k", b"unix")
        assert c.get("k") == b"unix"
        assert c.keys("*") == ["k"]
        assert c.len() == 1
        assert c.pop("k") == b"unix"
        assert c.delete("k") == 0
    with TinyCache(unix_server.unixsocket, connect_timeout=5) as c:
        assert c.len() == 0


def test_ipv6(backend):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with spawn(host="::1", event_backend=backend, loglevel="warning") as srv:
        assert srv.address == f"[::1]:{srv.port}"
        with TinyCache(srv.address, connect_timeout=5) as c:
            c.set("six", b"6")
            assert c.get("six") == b"6"


# ---- Connecting ----

def test_unreachable_names_address():
    port = free_port()
    c = TinyCache(f"127.0.0.1:{port}", connect_timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(TinyCacheConnectionError) as ei:
        c.get("k")
    elapsed = time.monotonic() - t0
    assert isinstance(ei.value, ConnectionError)
    assert isinstance(ei.value, TinyCacheError)
    assert f"127.0.0.1:{port}" in str(ei.value)
    assert 0.15 <= elapsed < 3.0


def test_unreachable_unix_names_path(short_tmp):
    path = os.path.join(short_tmp, "none.sock")
    c = TinyCache("unix://" + path, connect_timeout=0)
    with pytest.raises(ConnectionError, match=path):
        c.len()


def test_pop_unreachable_raises():
    c = TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)
    with pytest.raises(TinyCacheConnectionError):
        c.pop("job:1")


def test_constructor_never_connects():
    # As in the original, making a TinyCache before the server exists works.
    c = TinyCache(f"127.0.0.1:{free_port()}")
    assert c._sock is None
    assert "idle" in repr(c)


def test_connect_waits_for_starting_server(backend):
    port = free_port()
    result = {}

    def client():
        try:
            with TinyCache(f"127.0.0.1:{port}", connect_timeout=20) as c:
                result["len"] = c.len()
        except BaseException as e:          # reported below
            result["error"] = e

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.3)                         # the client is now retrying
    assert t.is_alive()
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        t.join(20)
    assert not t.is_alive()
    assert result == {"len": 0}


def test_connect_waits_for_unix_socket(backend, short_tmp):
    path = os.path.join(short_tmp, "late.sock")
    result = {}

    def client():
        try:
            with TinyCache("unix://" + path, connect_timeout=20) as c:
                result["ping"] = c.ping()
        except BaseException as e:
            result["error"] = e

    t = threading.Thread(target=client)
    t.start()
    time.sleep(0.3)
    with spawn(port=-1, unixsocket=path, event_backend=backend,
               loglevel="warning"):
        t.join(20)
    assert result == {"ping": True}


def test_bad_timeouts():
    with pytest.raises(ValueError):
        TinyCache("127.0.0.1:1", connect_timeout=-1)
    with pytest.raises(ValueError):
        TinyCache("127.0.0.1:1", timeout=0)


# ---- Errors from the server ----

def test_error_reply_carries_message(cache):
    with pytest.raises(ReplyError) as ei:
        cache.execute("NOSUCHCOMMAND", "x")
    assert "unknown command" in str(ei.value)
    assert ei.value.message == str(ei.value)
    assert isinstance(ei.value, TinyCacheError)
    cache.set("k", b"v")                     # still usable
    assert cache.get("k") == b"v"


def test_error_reply_from_api_method():
    def handler(fake, conn, index):
        while fake.read(conn) is not None:
            conn.sendall(b"-WRONGTYPE Operation against a key holding "
                         b"the wrong kind of value\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        for call in (lambda: c.get("k"), lambda: c.pop("k"),
                     lambda: c.set("k", b"v"), lambda: c.delete("k"),
                     lambda: c.keys("*"), lambda: c.len()):
            with pytest.raises(ReplyError, match="^WRONGTYPE Operation"):
                call()
        assert fake.connections == 1        # errors keep the connection
        c.close()


def test_protocol_error_reply_then_reconnect(backend):
    # A value beyond proto_max_bulk_len: the server replies with a protocol
    # error and closes the connection; the client recovers.
    with spawn(event_backend=backend, loglevel="warning",
               proto_max_bulk_len=1024 * 1024) as srv:
        with TinyCache(srv.address, connect_timeout=5) as c:
            for size in (1024 * 1024 + 1, 8 * 1024 * 1024):
                with pytest.raises(ReplyError,
                                   match="Protocol error: invalid bulk length"):
                    c.set("k", b"x" * size)
            c.set("k", b"x" * 10)
            assert c.pop("k") == b"x" * 10


def test_garbage_reply_is_protocol_error():
    def handler(fake, conn, index):
        while fake.read(conn) is not None:
            conn.sendall(b"hello\r\n" if index == 0 else b"$2\r\nok\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        with pytest.raises(ProtocolError):
            c.get("k")
        assert c._sock is None              # dropped, never reused
        assert c.get("k") == b"ok"
        assert fake.connections == 2
        c.close()


# ---- Timeouts ----

def test_timeout_drops_connection():
    # First connection: the reply to the first GET comes too late. The
    # client must never read it as the reply to a later command.
    release = threading.Event()

    def handler(fake, conn, index):
        while fake.read(conn) is not None:
            if index == 0:
                release.wait(10)
                conn.sendall(b"$5\r\nstale\r\n")
            else:
                conn.sendall(b"$5\r\nfresh\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(TinyCacheTimeoutError) as ei:
            c.get("k")
        assert 0.25 < time.monotonic() - t0 < 5
        assert isinstance(ei.value, TimeoutError)
        assert fake.address in str(ei.value)
        release.set()
        assert c.get("k") == b"fresh"
        assert fake.connections == 2
        c.close()


# ---- Broken connections: retry once, never for pop ----

def test_idempotent_commands_retry_once():
    # Each command's first copy is dropped with its connection unanswered;
    # the retried copy, on a new connection, gets its reply.
    handler = first_copy_dropped({
        b"GET": b"$1\r\nv\r\n", b"SET": b"+OK\r\n", b"DEL": b":1\r\n",
        b"KEYS": b"*1\r\n$1\r\nk\r\n", b"DBSIZE": b":7\r\n"})

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        assert c.get("k") == b"v"
        assert c.set("k", b"v") is None
        assert c.delete("k") == 1
        assert c.keys("*") == ["k"]
        assert c.len() == 7
        names = [a[0] for a in fake.commands]
        assert names == [b"GET", b"GET", b"SET", b"SET", b"DEL", b"DEL",
                         b"KEYS", b"KEYS", b"DBSIZE", b"DBSIZE"]
        assert fake.connections == 6
        c.close()


def test_pop_never_retries():
    def handler(fake, conn, index):
        args = fake.read(conn)
        if args is not None and index == 1:
            conn.sendall(b"$3\r\njob\r\n")
            fake.read(conn)

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        with pytest.raises(TinyCacheConnectionError) as ei:
            c.pop("job:1")
        assert "not retried" in str(ei.value)
        assert [a[0] for a in fake.commands] == [b"GETDEL"]
        # The next call opens a new connection.
        assert c.pop("job:1") == b"job"
        assert [a[0] for a in fake.commands] == [b"GETDEL", b"GETDEL"]
        c.close()


def test_retry_only_once():
    def handler(fake, conn, index):
        fake.read(conn)                     # and drop it, every time

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        with pytest.raises(TinyCacheConnectionError):
            c.get("k")
        assert fake.connections == 2
        assert len(fake.commands) == 2


def test_server_restart(backend):
    port = free_port()
    c = TinyCache(f"127.0.0.1:{port}", connect_timeout=10)
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        c.set("job:1", b"a")
        assert c.len() == 1
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        # The idle connection to the old server is dead. pop notices that
        # before sending and reconnects; get/set retry.
        assert c.pop("job:1") is None
        c.set("job:2", b"b")
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        assert c.get("job:2") is None
        assert c.len() == 0
    c.close()


# ---- close() and the context manager ----

def test_close_and_reopen(cache, server):
    cache.set("k", b"v")
    assert cache._sock is not None
    cache.close()
    assert cache._sock is None
    cache.close()                           # twice is fine
    assert cache.get("k") == b"v"           # reconnects


def test_context_manager(server):
    with TinyCache(server.address) as c:
        c.set("k", b"v")
        assert "connected" in repr(c)
    assert c._sock is None


def test_ping_and_execute(cache):
    assert cache.ping() is True
    assert cache.execute("SET", "x", b"1") == "OK"
    assert cache.execute(b"GET", "x") == b"1"
    assert cache.execute("DBSIZE") == 1
    assert cache.execute("ECHO", 42) == b"42"


# ---- Threads ----

def test_threads_share_one_client(cache):
    errors = []

    def work(n):
        try:
            for i in range(300):
                key = f"t{n}:{i}"
                value = f"{n}/{i}".encode() * (1 + i % 7)
                cache.set(key, value)
                assert cache.get(key) == value
                if i % 3 == 0:
                    assert cache.pop(key) == value
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert cache.len() == 8 * 200


# ---- fork() ----

def _local_port(c):
    return c._sock.getsockname()[1]


def test_fork_child_opens_own_connection(cache):
    cache.set("parent", b"p")
    parent_port = _local_port(cache)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                            # the child
        status = 1
        try:
            os.close(r)
            ok = cache.get("parent") == b"p"
            child_port = _local_port(cache)
            for i in range(500):
                cache.set(f"child:{i}", str(i).encode())
                ok = ok and cache.get(f"child:{i}") == str(i).encode()
            os.write(w, f"{int(ok)} {child_port}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    # The parent keeps using its connection while the child runs.
    for i in range(500):
        cache.set(f"parent:{i}", str(-i).encode())
        assert cache.get(f"parent:{i}") == str(-i).encode()
    _, status = os.waitpid(pid, 0)
    msg = os.read(r, 100).decode()
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0
    ok, child_port = msg.split()
    assert ok == "1"
    assert int(child_port) != parent_port
    # The child's exit closed its copy only: the parent's connection lives.
    assert _local_port(cache) == parent_port
    assert cache.get("child:499") == b"499"
    assert cache.len() == 1 + 500 + 500


def _mp_worker(cache, n, q):
    got = []
    for i in range(200):
        cache.set(f"w{n}:{i}", str(i).encode())
        got.append(cache.get(f"w{n}:{i}") == str(i).encode())
    q.put((n, all(got)))


def test_fork_multiprocessing_workers(cache):
    cache.len()                              # connected before the fork
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_mp_worker, args=(cache, n, q))
             for n in range(6)]
    for p in procs:
        p.start()
    results = dict(q.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert results == {n: True for n in range(6)}
    assert cache.len() == 6 * 200


def test_fork_while_another_thread_holds_the_lock(cache):
    # A lock held by another thread at fork time is never released in the
    # child; the client must not deadlock on it there.
    cache.set("k", b"v")
    with cache._lock:
        pid = os.fork()
        if pid == 0:
            try:
                os._exit(0 if cache.get("k") == b"v" else 1)
            finally:
                os._exit(2)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the child deadlocked")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.get("k") == b"v"


def test_many_clients(server):
    clients = [TinyCache(server.address, connect_timeout=5)
               for _ in range(50)]
    for i, c in enumerate(clients):
        c.set(f"c{i}", b"x")
    wait_for(lambda: clients[0].len() == 50, 5, "50 keys")
    for c in clients:
        c.close()


# ---- The fast path (Connection.command in C) ----

def _answer(fake, conn, replies):
    """Answer each command read on conn with replies[name] (bytes)."""
    while True:
        args = fake.read(conn)
        if args is None:
            return
        conn.sendall(replies[args[0]])


def test_timeout_server_never_answers():
    # A server that accepts and never answers ("slow" keys): the wait ends
    # after about the timeout (SO_RCVTIMEO on a blocking socket), the
    # connection is dropped, and the next call opens a new one.
    done = threading.Event()

    def handler(fake, conn, index):
        while True:
            args = fake.read(conn)
            if args is None:
                return
            if args[1] == b"slow":
                done.wait(20)
                return
            conn.sendall(b"$2\r\nok\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=0.3)
        assert c.get("k") == b"ok"
        assert c._sock.gettimeout() is None          # a blocking socket
        assert c._conn.timeout == pytest.approx(0.3, abs=0.01)
        for call in (c.get, c.pop, c.delete):
            t0 = time.monotonic()
            with pytest.raises(TinyCacheTimeoutError, match="within 0.3 s"):
                call("slow")
            assert 0.25 < time.monotonic() - t0 < 5
            assert c._sock is None and c._conn.fd == -1
            assert c.get("k") == b"ok"
        assert fake.connections == 4
        c.close()
        done.set()


def test_send_timeout_server_never_reads():
    hold = threading.Event()

    def handler(fake, conn, index):
        if index == 0:
            hold.wait(20)                    # never reads
        else:
            _answer(fake, conn, {b"GET": b"$-1\r\n"})

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(TinyCacheTimeoutError):
            c.set("big", b"x" * (64 * 1024 * 1024))
        assert time.monotonic() - t0 < 5
        assert c._sock is None
        hold.set()
        assert c.get("k") is None
        c.close()


def test_timeout_despite_signals():
    # A signal every 30 ms during a 0.4 s wait: the handler runs each
    # time and the wait still ends in time.
    hold = threading.Event()

    def handler(fake, conn, index):
        fake.read(conn)
        hold.wait(20)

    seen = []

    def tick(*_):
        seen.append(1)
        if len(seen) >= 60:          # bounded, should the wait not end
            signal.setitimer(signal.ITIMER_REAL, 0)

    old = signal.signal(signal.SIGALRM, tick)
    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=0.4)
        c._lock.acquire()          # connect first, outside the timing
        c._lock.release()
        signal.setitimer(signal.ITIMER_REAL, 0.03, 0.03)
        try:
            t0 = time.monotonic()
            with pytest.raises(TinyCacheTimeoutError):
                c.get("k")
            elapsed = time.monotonic() - t0
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            hold.set()
        c.close()
    assert len(seen) >= 5
    assert 0.35 < elapsed < 1.5


def test_signal_handler_exception_mid_command():
    # An exception from a signal handler during the wait propagates; the
    # connection (now out of step) is dropped and the next call reconnects.
    hold = threading.Event()

    def handler(fake, conn, index):
        if index == 0:
            fake.read(conn)
            hold.wait(20)
        else:
            _answer(fake, conn, {b"GET": b"$3\r\nnew\r\n"})

    class Stop(Exception):
        pass

    def raiser(*_):
        raise Stop()

    old = signal.signal(signal.SIGALRM, raiser)
    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        try:
            with pytest.raises(Stop):
                c.get("k")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            hold.set()
        assert c._sock is None
        assert not c._lock.locked()
        assert c.get("k") == b"new"
        assert fake.connections == 2
        c.close()


def test_big_values_in_small_pieces():
    # The server reads the 10 MB request slowly and sends the replies in
    # small, uneven pieces: many partial send()s and recv()s.
    value = os.urandom(10 * 1024 * 1024)
    small_reply = b"*3\r\n$1\r\na\r\n:42\r\n$-1\r\n"

    def handler(fake, conn, index):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        buf = b""
        want = len(pack_command(b"SET", "big", value))
        while len(buf) < want:
            chunk = conn.recv(50000)
            if not chunk:
                return
            buf += chunk
            time.sleep(0.0002)
        assert buf == pack_command(b"SET", "big", value)
        conn.sendall(b"+OK\r\n")
        fake.read(conn)
        for i in range(len(small_reply)):
            conn.sendall(small_reply[i:i + 1])
            time.sleep(0.001)
        fake.read(conn)
        reply = b"$%d\r\n%s\r\n" % (len(value), value)
        pos, n = 0, 0
        while pos < len(reply):
            n += 1
            step = 1 + (n * 7919) % 65000
            conn.sendall(reply[pos:pos + step])
            pos += step
        fake.read(conn)

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=30)
        assert c.set("big", value) is None
        assert c.execute("X") == [b"a", 42, None]
        assert c.get("big") == value
        c.close()


def test_pop_reconnects_after_the_server_closed_it_while_idle():
    # The server answers one command and then closes the connection (it
    # restarted, or drops idle clients). An idle connection is checked
    # before pop sends anything, so pop reconnects: the job is taken
    # once, on the new connection.
    def handler(fake, conn, index):
        if index == 0:
            if fake.read(conn) is not None:
                conn.sendall(b"+OK\r\n")
            return                               # closes it
        _answer(fake, conn, {b"GETDEL": b"$3\r\njob\r\n",
                             b"DBSIZE": b":0\r\n"})

    with FakeServer(handler) as fake:
        for call, want in ((lambda c: c.pop("job:1"), b"job"),
                           (lambda c: c.pop_many(["job:1"]), [b"job"]),
                           (lambda c: c.execute("GETDEL", "job:1"), b"job")):
            fake.connections = 0
            del fake.commands[:]
            c = TinyCache(fake.address, connect_timeout=5)
            c.set("job:1", b"job")
            time.sleep(IDLE_CHECK_SECONDS + 0.05)   # idle; closed by now
            assert call(c) == want
            assert fake.connections == 2
            assert [a[0] for a in fake.commands] == [b"SET", b"GETDEL"]
            c.close()


def test_pop_many_never_retries():
    def handler(fake, conn, index):
        buf = b""
        while True:              # pipelined: keep what follows a command
            args, buf = read_command(conn, buf)
            if args is None:
                return
            fake.commands.append(args)
            if index == 0:
                return           # drops the connection, nothing answered
            conn.sendall(b"$1\r\nv\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        with pytest.raises(TinyCacheConnectionError, match="not retried"):
            c.pop_many(["a", "b", "c"])
        assert [a[0] for a in fake.commands] == [b"GETDEL"]
        assert c.pop_many(["a", "b"]) == [b"v", b"v"]
        assert [a[1] for a in fake.commands] == [b"a", b"a", b"b"]
        assert fake.connections == 2
        c.close()


def test_argument_errors_before_connecting():
    # Nothing listens there: an encoding error must come first.
    c = TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)
    with pytest.raises(UnicodeEncodeError):
        c.get("\ud800")
    with pytest.raises(TypeError):
        c.execute("SET", "k", 1.5)
    with pytest.raises(TypeError):
        c.execute()
    with pytest.raises(OverflowError):
        c.execute("ECHO", 2**64)
    assert c._sock is None


def test_argument_errors_keep_the_connection(cache):
    cache.set("k", b"v")
    sock = cache._sock
    with pytest.raises(TypeError):
        cache.execute("SET", "k", 1.5)
    with pytest.raises(UnicodeEncodeError):
        cache.pop("\ud800")
    assert cache._sock is sock
    assert cache.get("k") == b"v"


def test_threads_share_one_client_with_big_values_and_close(cache):
    # Threads mixing big and small values, pops and close() on one
    # TinyCache: every command gets its own reply.
    errors = []
    stop = threading.Event()

    def work(n):
        try:
            for i in range(150):
                key = f"t{n}:{i}"
                value = (f"{n}/{i}:".encode() *
                         (1 + (i * 131) % (200000 if i % 10 == 0 else 50)))
                cache.set(key, value)
                assert cache.get(key) == value
                if i % 2:
                    assert cache.pop(key) == value
                    assert cache.pop(key) is None
                else:
                    assert cache.get_many([key, "nope"]) == [value, None]
        except BaseException as e:
            errors.append(e)

    def closer():
        while not stop.is_set():
            cache.close()
            time.sleep(0.002)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    ct = threading.Thread(target=closer)
    ct.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    ct.join(10)
    assert not errors, errors[:3]
    assert cache.len() == 6 * 75


def _wait_child(pid, timeout):
    """The exit code of child pid; killed (and -9) after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -9
        time.sleep(0.01)


def test_fork_while_a_command_is_in_flight():
    # Another thread is inside a round trip (holding the lock, the GIL
    # released) when the process forks: the child must neither wait for
    # that lock nor read the parent's reply; it opens its own connection.
    release = threading.Event()

    def handler(fake, conn, index):
        if index == 0:
            fake.read(conn)
            release.wait(20)
            conn.sendall(b"$6\r\nparent\r\n")
        _answer(fake, conn, {b"GET": b"$5\r\nchild\r\n"})

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        got = []
        t = threading.Thread(target=lambda: got.append(c.get("k")))
        t.start()
        wait_for(lambda: len(fake.commands) == 1, 10, "the parent's GET")
        assert c._lock.locked()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = 0 if c.get("k") == b"child" else 2
            finally:
                os._exit(code)
        status = _wait_child(pid, 20)
        release.set()
        t.join(20)
        assert status == 0, "the child failed or deadlocked"
        assert got == [b"parent"]
        assert fake.connections == 2
        c.close()
