# SPDX-License-Identifier: MIT
"""CONFIG SET and GET for the settings Redis 7.0 lets change at run time,
compared with redis-server: the reasons a value is refused, the values
CONFIG GET shows after a change, and what each change does to a running
server (timeouts, output-buffer limits, maxclients, hz, listeners).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any, List, Tuple, Union

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from diffcase import C, Case, check_case, command  # noqa: E402


def _sets(*pairs: Tuple[str, ...]) -> bytes:
    """CONFIG SET name value ... for each pair."""
    return b"".join(C("CONFIG", "SET", *p) for p in pairs)


BAD_VALUES = [
    ("hz", "abc"), ("hz", "-1"), ("hz", "1.5"), ("hz", "99999999999"),
    ("active-expire-effort", "0"), ("active-expire-effort", "11"),
    ("maxmemory-samples", "0"), ("maxmemory-samples", "x"),
    ("maxmemory-eviction-tenacity", "101"), ("lfu-log-factor", "-1"),
    ("lfu-decay-time", "-1"), ("maxmemory", "abc"), ("maxmemory", "-1"),
    ("maxmemory", "1.5mb"), ("maxmemory", " 1"), ("maxmemory", "1gbb"),
    ("maxmemory-policy", "foo"), ("maxmemory-policy", ""),
    ("protected-mode", "maybe"), ("protected-mode", "1"),
    ("timeout", "-1"), ("tcp-keepalive", "-1"), ("maxclients", "0"),
    ("maxclients", "4294967296"), ("loglevel", "foo"),
    ("loglevel", "nothing"), ("port", "65536"),
    ("client-output-buffer-limit", "foo"),
    ("client-output-buffer-limit", "normal 1 2"),
    ("client-output-buffer-limit", "foo 1 2 3"),
    ("client-output-buffer-limit", "normal x 2 3"),
    ("client-output-buffer-limit", "normal 1 2 x"),
    ("client-output-buffer-limit", "normal 1 2 -3"),
    ("dir", "/tmp"), ("unixsocket", "/tmp/x"), ("tcp-backlog", "5"),
    ("logfile", "x"), ("unixsocketperm", "777"),
]

CASES: List[Case] = [
    Case("config-set-bad-values", _sets(*BAD_VALUES)),
    Case("config-set-atomic", C("CONFIG", "SET", "hz", "20", "maxclients",
                                "0") + C("CONFIG", "GET", "hz") +
         C("CONFIG", "SET", "hz", "20", "hz", "30") +
         C("CONFIG", "SET", "timeout", "5", "nosuch", "1") +
         C("CONFIG", "GET", "timeout")),
    # Values that Redis stores differently from how they were given
    # (compared as maps: Redis lists a pattern's matches in hash order).
    Case("config-set-get", _sets(
        ("hz", "1000"), ("active-expire-effort", "7"),
        ("maxmemory-samples", "9"), ("maxmemory-eviction-tenacity", "20"),
        ("lfu-log-factor", "5"), ("lfu-decay-time", "3"),
        ("maxmemory-policy", "ALLKEYS-LFU"), ("timeout", "100"),
        ("tcp-keepalive", "60"), ("protected-mode", "No"),
        ("maxmemory", "1GB"), ("loglevel", "VERBOSE"),
        ("client-output-buffer-limit", "normal 1mb 512kb 30 pubsub 1 2 3")) +
         C("CONFIG", "GET", "hz") + C("CONFIG", "GET", "active-expire-effort") +
         C("CONFIG", "GET", "maxmemory-s*", "maxmemory-e*", "maxmemory-p*") +
         C("CONFIG", "GET", "lfu-*") +
         C("CONFIG", "GET", "timeout") + C("CONFIG", "GET", "tcp-keepalive") +
         C("CONFIG", "GET", "protected-mode") + C("CONFIG", "GET", "loglevel") +
         C("CONFIG", "GET", "client-output-buffer-limit") +
         C("CONFIG", "SET", "hz", "0") + C("CONFIG", "GET", "hz") +
         C("CONFIG", "SET", "maxmemory", "18446744073709551615") +
         C("CONFIG", "GET", "maxmemory") +
         C("CONFIG", "SET", "maxmemory", "99999999999999999999999") +
         C("CONFIG", "GET", "maxmemory") +
         # Back to Redis's defaults for what follows.
         _sets(("hz", "10"), ("active-expire-effort", "1"),
               ("maxmemory-samples", "5"),
               ("maxmemory-eviction-tenacity", "10"),
               ("lfu-log-factor", "10"), ("lfu-decay-time", "1"),
               ("maxmemory-policy", "noeviction"), ("timeout", "0"),
               ("tcp-keepalive", "300"), ("protected-mode", "yes"),
               ("maxmemory", "0"), ("loglevel", "notice"),
               ("client-output-buffer-limit",
                "pubsub 33554432 8388608 60")), mode="map"),
    Case("config-get-patterns", C("CONFIG", "GET", "lfu*", "maxmemory-p*") +
         C("CONFIG", "GET", "HZ") + C("CONFIG", "GET", "*-effort"),
         mode="map"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_bytes(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                    case: Case) -> None:
    """CONFIG answers exactly as Redis's does."""
    check_case(ref, ours, case)


# ---- What changes do to a running server (both servers) ----

def _servers(backend: str, *args: str) -> List[tmc_testlib._Process]:
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    return [tmc_testlib.RedisServer(tcp=True, args=args),
            tmc_testlib.Server(backend=backend, unixsocket=True, args=args)]


def _call(srv: tmc_testlib._Process, *args: Union[str, bytes, int]) -> Any:
    s = srv.connect(unix=True)
    try:
        s.sendall(C(*args))
        return tmc_testlib.read_replies(s, 1)[0][0]
    finally:
        s.close()


def _closed_within(s: socket.socket, seconds: float) -> bool:
    """Whether the peer closes s within seconds (reading what comes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not s.recv(1 << 20):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False


def test_timeout_closes_idle_clients(backend: str) -> None:
    """timeout N closes a connection idle for N seconds, not a busy one."""
    for srv in _servers(backend):
        with srv:
            # 2 s, and a busy client that speaks every 0.1 s: a loaded
            # machine may pause a process for a while.
            assert _call(srv, "CONFIG", "SET", "timeout", "2") == "OK"
            idle = srv.connect()
            busy = srv.connect()
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                busy.sendall(C("PING"))
                assert tmc_testlib.read_replies(busy, 1)[0] == ["PONG"]
                time.sleep(0.1)
            assert _closed_within(idle, 5.0), srv.name
            busy.sendall(C("PING"))
            assert tmc_testlib.read_replies(busy, 1)[0] == ["PONG"]
            idle.close()
            busy.close()


def test_timeout_closes_every_idle_client_of_many(backend: str) -> None:
    """With 400 connections the server checks a slice of them a tick
    (clients / hz, as Redis does): the slices go round, so every idle
    client is still closed about a second past its timeout, though the
    100 newest wait in BLPOP (exempt from the timeout) and fill more than
    a slice; the client that keeps speaking stays."""
    srv = tmc_testlib.Server(backend=backend, unixsocket=True,
                             args=["--hz", "10"])
    with srv:
        idle = [srv.connect(unix=True) for _ in range(300)]
        waiting = [srv.connect(unix=True, timeout=30) for _ in range(100)]
        for s in waiting:
            s.sendall(C("BLPOP", "q", "0"))
        # The timeout starts once every waiter is blocked (a slow server,
        # under valgrind, could otherwise find one idle before it read
        # its BLPOP).
        deadline = time.monotonic() + 60.0
        while b"blocked_clients:100\r\n" not in _call(srv, "INFO", "clients"):
            assert time.monotonic() < deadline, "the waiters never blocked"
            time.sleep(0.05)
        assert _call(srv, "CONFIG", "SET", "timeout", "1") == "OK"
        busy = srv.connect(unix=True)
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            busy.sendall(C("PING"))
            assert tmc_testlib.read_replies(busy, 1)[0] == ["PONG"]
            # The waiting ones, the busy one and _call's own.
            if b"connected_clients:102\r\n" in _call(srv, "INFO", "clients"):
                break
            time.sleep(0.1)
        open_left = sum(not _closed_within(s, 0.01) for s in idle)
        assert open_left == 0, "%d of 300 idle clients still open" % open_left
        busy.sendall(C("PING"))
        assert tmc_testlib.read_replies(busy, 1)[0] == ["PONG"]
        busy.sendall(C("RPUSH", "q", *range(100)))
        assert tmc_testlib.read_replies(busy, 1)[0] == [100]
        for s in waiting:
            assert tmc_testlib.read_replies(s, 1)[0][0][0] == b"q"
        for s in idle + waiting:
            s.close()
        busy.close()


def test_served_waiter_is_not_idle(backend: str) -> None:
    """A client that waited in BLPOP longer than the idle timeout gets the
    element pushed to it and stays connected: its idle time counts from
    the end of the wait (Redis refreshes it when the reply is written), so
    the timeout neither drops the element nor closes it right after."""
    srv = tmc_testlib.Server(backend=backend, unixsocket=True,
                             args=["--hz", "50", "--timeout", "1"])
    with srv:
        waiter = srv.connect(unix=True, timeout=30)
        waiter.sendall(C("BLPOP", "q", "0"))
        time.sleep(2.5)                     # blocked: exempt from timeout
        assert _call(srv, "RPUSH", "q", "job") == 1
        assert tmc_testlib.read_replies(waiter, 1)[0] == [[b"q", b"job"]]
        time.sleep(0.4)                     # many crons, under 1 s idle
        waiter.sendall(C("PING"))
        assert tmc_testlib.read_replies(waiter, 1)[0] == ["PONG"]
        waiter.close()


def _flooded_out(s: socket.socket, seconds: float) -> bool:
    """Ask for a 1 MB value again and again (4 times every 0.25 s) without
    reading the replies; True once the server drops the connection
    (Redis checks the soft limit when it adds a reply, so the asking
    goes on), False if it is still open after seconds."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            s.settimeout(1)
            s.sendall(C("GET", "big") * 4)
        except (BrokenPipeError, ConnectionResetError):
            return True
        except socket.timeout:
            pass
        try:
            s.settimeout(0.25)
            s.recv(1, socket.MSG_PEEK)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
        # Something to read: replies (not read on purpose) or EOF.
        time.sleep(0.25)
        try:
            s.settimeout(0.01)
            s.send(b"")
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


@pytest.mark.parametrize("limit,grace", [("normal 2mb 0 0", 1.0),
                                          ("normal 0 1mb 1", 3.0)])
def test_output_buffer_limits(backend: str, limit: str, grace: float) -> None:
    """A client that sends but does not read is dropped past the hard
    limit at once, or past the soft limit for its seconds; the others
    keep their data."""
    for srv in _servers(backend):
        with srv:
            assert _call(srv, "CONFIG", "SET", "client-output-buffer-limit",
                         limit) == "OK"
            assert _call(srv, "SET", "big", "x" * (1 << 20)) == "OK"
            s = srv.connect()
            assert _flooded_out(s, grace + 3.0), (srv.name, limit)
            s.close()
            assert _call(srv, "EXISTS", "big") == 1
            assert _call(srv, "CLIENT", "LIST").count(b"\n") == 1


def test_maxclients_lowered(backend: str) -> None:
    """maxclients lowered at run time refuses new clients with Redis's
    error; the ones connected stay."""
    for srv in _servers(backend):
        with srv:
            first = srv.connect()
            first.sendall(C("CONFIG", "SET", "maxclients", "1"))
            assert tmc_testlib.read_replies(first, 1)[0] == ["OK"]
            extra = srv.connect()
            extra.settimeout(5)
            data = extra.recv(256)
            assert data == b"-ERR max number of clients reached\r\n", srv.name
            extra.close()
            first.sendall(C("PING"))
            assert tmc_testlib.read_replies(first, 1)[0] == ["PONG"]
            first.close()


def test_hz_shown_in_info(ours: tmc_testlib.Server) -> None:
    """hz is clamped to 1-500 and INFO shows the value in use."""
    path = ours.unixsocket
    assert path
    assert command(path, "CONFIG", "SET", "hz", "1000") == "OK"
    info = command(path, "INFO", "server")
    assert b"\r\nhz:500\r\n" in info and b"\r\nconfigured_hz:500\r\n" in info
    assert command(path, "CONFIG", "SET", "hz", "10") == "OK"
    assert b"\r\nhz:10\r\n" in command(path, "INFO", "server")


def test_port_and_bind_at_run_time(backend: str) -> None:
    """CONFIG SET port moves the listener (existing connections stay); a
    port or address that cannot be used is refused with Redis's words
    and the old listener keeps working."""
    for srv in _servers(backend):
        with srv:
            host, old = srv.addr
            keep = srv.connect()
            new = tmc_testlib.free_port()
            assert _call(srv, "CONFIG", "SET", "port", str(new)) == "OK"
            assert tmc_testlib.raw_exchange((host, new), C("PING")) == \
                b"+PONG\r\n"
            with pytest.raises(OSError):
                socket.create_connection((host, old), timeout=2).close()
            keep.sendall(C("PING"))
            assert tmc_testlib.read_replies(keep, 1)[0] == ["PONG"]
            keep.close()
            taken = socket.socket()
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            try:
                err = _call(srv, "CONFIG", "SET", "port",
                            str(taken.getsockname()[1]))
            finally:
                taken.close()
            assert err == ("ERR CONFIG SET failed (possibly related to "
                           "argument 'port') - Unable to listen on this "
                           "port. Check server logs."), srv.name
            err = _call(srv, "CONFIG", "SET", "bind", "192.0.2.1")
            assert err == ("ERR CONFIG SET failed (possibly related to "
                           "argument 'bind') - Failed to bind to specified "
                           "addresses."), srv.name
            assert tmc_testlib.raw_exchange((host, new), C("PING")) == \
                b"+PONG\r\n"
            assert _call(srv, "CONFIG", "GET", "port") == [b"port",
                                                           str(new).encode()]


def test_failed_set_rolls_back(backend: str) -> None:
    """When one of several settings cannot take effect, none does."""
    for srv in _servers(backend):
        with srv:
            taken = socket.socket()
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            try:
                err = _call(srv, "CONFIG", "SET", "hz", "33", "port",
                            str(taken.getsockname()[1]))
            finally:
                taken.close()
            assert isinstance(err, tmc_testlib.RespError), srv.name
            assert _call(srv, "CONFIG", "GET", "hz") == [b"hz", b"10"]


def test_tcp_keepalive_applies_to_new_connections(backend: str) -> None:
    """tcp-keepalive N: the server's end of a new connection probes."""
    with tmc_testlib.Server(backend=backend, unixsocket=True) as srv:
        assert _call(srv, "CONFIG", "SET", "tcp-keepalive", "77") == "OK"
        s = srv.connect()
        s.sendall(C("PING"))
        assert tmc_testlib.read_replies(s, 1)[0] == ["PONG"]
        host, port = srv.addr
        local = s.getsockname()[1]
        assert _server_keepalive(port, local), "no keepalive timer"
        s.close()


def _server_keepalive(port: int, peer_port: int) -> bool:
    """Whether the server's socket of a connection has SO_KEEPALIVE on,
    read from /proc/net/tcp (the timer column: 2 = keepalive)."""
    want_local = ":%04X" % port
    want_peer = ":%04X" % peer_port
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(want_local) and \
                        fields[2].endswith(want_peer):
                    return fields[5].startswith("02:")
        time.sleep(0.05)
    return False
