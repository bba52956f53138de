# SPDX-License-Identifier: MIT
"""Redis's guards against hostile input, compared with redis-server.

Cross-protocol scripting: a request whose command is POST or Host: (what
a browser sends when a web page makes it talk to a server on localhost)
closes the connection at once, with no reply, not even to the requests
before it in the same batch, and logs Redis's warning at most once a
minute.

Protected mode: with no password, a TCP client whose address is not
127.0.0.1 or ::1 gets Redis's DENIED error and is closed, however the
server is bound; Unix-socket clients are always let in. The tests use a
second loopback address, 127.0.0.2, as the client's source: still only
loopback traffic, but not 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from typing import Iterator, List, Tuple

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from diffcase import C, Case, check_case  # noqa: E402

WARNING = ("Possible SECURITY ATTACK detected. It looks like somebody is "
           "sending POST or Host: commands to Redis. This is likely due to an "
           "attacker attempting to use Cross Protocol Scripting to compromise "
           "your Redis instance. Connection aborted.")

HTTP_CASES: List[Case] = [
    Case("http-post-inline", b"POST / HTTP/1.1\r\nHost: localhost\r\n"
         b"Content-Length: 14\r\n\r\n*1\r\n$4\r\nPING\r\n", sentinel=False),
    Case("http-host-first", b"Host: localhost\r\nPING\r\n", sentinel=False),
    Case("http-after-commands", C("SET", "a", "1") + C("PING") +
         b"post /x HTTP/1.1\r\n" + C("GET", "a"), sentinel=False),
    Case("http-multibulk-post", C("POST", "/", "HTTP/1.1"), sentinel=False),
    Case("http-multibulk-host", C("hOsT:", "example.com"), sentinel=False),
    Case("http-in-pieces", [b"PI", b"NG\r\nPO", b"ST / HTTP/1.0\r\n"],
         sentinel=False, delay=0.05),
    # Near misses are ordinary unknown commands.
    Case("http-near-misses", C("POSTX") + C("Host") + C("host::") +
         C("GET", "post") + b"Hostx: y\r\n"),
    Case("http-get-is-a-command", b"GET / HTTP/1.1\r\n" + C("PING")),
]


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c.id for c in HTTP_CASES])
def test_cross_protocol(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                        case: Case) -> None:
    """POST and Host: close the connection exactly as Redis does."""
    check_case(ref, ours, case)


def test_cross_protocol_logs_once(backend: str) -> None:
    """The warning is logged (Redis's words), once a minute at most, and
    the server keeps serving others with their data."""
    with tmc_testlib.Server(backend=backend, unixsocket=True) as srv:
        keep = srv.connect()
        keep.sendall(C("SET", "k", "v"))
        assert tmc_testlib.read_replies(keep, 1)[0] == ["OK"]
        for _ in range(3):
            reply, closed = _send_and_read(srv.connect(),
                                           b"POST / HTTP/1.1\r\n")
            assert reply == b"" and closed
        keep.sendall(C("GET", "k"))
        assert tmc_testlib.read_replies(keep, 1)[0] == [b"v"]
        keep.close()
        assert srv.log.count(WARNING) == 1, srv.log


def _send_and_read(s: socket.socket, data: bytes,
                   timeout: float = 5.0) -> Tuple[bytes, bool]:
    """Send data, read until the peer closes or is quiet for 0.3 s."""
    out = b""
    closed = False
    s.settimeout(timeout)
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(0.3)
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except socket.timeout:
        pass
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    finally:
        s.close()
    return out, closed


def _from(addr: str, port: int, source: str) -> socket.socket:
    """A TCP connection to addr:port from the local address source."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(5)
    s.connect((addr, port))
    return s


def _second_loopback() -> str:
    """127.0.0.2 if this host can use it as a source address."""
    try:
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.close()
    except OSError as e:
        if tmc_testlib.in_ci():
            pytest.fail("127.0.0.2 is not usable as a source address: %s" % e)
        pytest.skip("127.0.0.2 is not usable as a source address: %s" % e)
    return "127.0.0.2"


@contextlib.contextmanager
def pair(backend: str, *args: str
         ) -> Iterator[Tuple[tmc_testlib.RedisServer, tmc_testlib.Server]]:
    """redis-server and our server on TCP (bound to 127.0.0.1), both
    started with args."""
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    with tmc_testlib.RedisServer(tcp=True, args=args) as ref, \
            tmc_testlib.Server(backend=backend, unixsocket=True,
                               args=args) as ours:
        yield ref, ours


def _greeting(srv: tmc_testlib._Process, source: str,
              command: bytes = b"PING\r\n") -> Tuple[bytes, bool]:
    """What a client from source gets for command."""
    host, port = srv.addr
    return _send_and_read(_from(host, port, source), command)


def test_protected_mode_denies_like_redis(backend: str) -> None:
    """No password: a client from 127.0.0.2 gets Redis's DENIED text and
    is closed; 127.0.0.1 and the Unix socket are served."""
    source = _second_loopback()
    with pair(backend) as (ref, ours):
        _check_denied(ref, ours, source)


def _check_denied(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                  source: str) -> None:
    want = _greeting(ref, source)
    got = _greeting(ours, source)
    assert want[0].startswith(b"-DENIED Redis is running in protected mode")
    assert got == want
    assert _greeting(ours, "127.0.0.1") == (b"+PONG\r\n", False)
    s = ours.connect(unix=True)
    s.sendall(b"PING\r\n")
    assert tmc_testlib.read_replies(s, 1)[0] == ["PONG"]
    s.close()
    # The refusal counts as a rejected connection, as in Redis.
    s = ours.connect(unix=True)
    s.sendall(C("INFO", "stats"))
    info = tmc_testlib.read_replies(s, 1)[0][0]
    s.close()
    assert b"rejected_connections:1\r\n" in info


def test_protected_mode_with_password(backend: str) -> None:
    """With a password, remote clients are let in (and must AUTH)."""
    source = _second_loopback()
    talk = C("PING") + C("AUTH", "secret") + C("PING")
    with pair(backend) as (ref, ours):
        # Set at run time: the test library waits for PING to answer.
        for srv in (ref, ours):
            host, port = srv.addr
            assert _send_and_read(_from(host, port, "127.0.0.1"),
                                  C("CONFIG", "SET", "requirepass",
                                    "secret")) == (b"+OK\r\n", False)
        want = _greeting(ref, source, talk)
        got = _greeting(ours, source, talk)
    assert want[0].startswith(b"-NOAUTH")
    assert got == want


def test_protected_mode_off(backend: str) -> None:
    """protected-mode no lets everyone in, as in Redis."""
    source = _second_loopback()
    with pair(backend, "--protected-mode", "no") as (ref, ours):
        assert _greeting(ours, source) == _greeting(ref, source) == \
            (b"+PONG\r\n", False)


def test_protected_mode_config_set(backend: str) -> None:
    """CONFIG SET protected-mode no (from 127.0.0.1) takes effect for the
    next connection; yes brings the guard back."""
    source = _second_loopback()
    with pair(backend) as servers:
        for srv in servers:
            _toggle(srv, source)


def _toggle(srv: tmc_testlib._Process, source: str) -> None:
    """protected-mode off and on again, seen from source."""
    host, port = srv.addr
    assert _send_and_read(_from(host, port, "127.0.0.1"),
                          C("CONFIG", "SET", "protected-mode", "no")) == \
        (b"+OK\r\n", False)
    assert _greeting(srv, source) == (b"+PONG\r\n", False)
    assert _send_and_read(_from(host, port, "127.0.0.1"),
                          C("CONFIG", "SET", "protected-mode", "yes")) == \
        (b"+OK\r\n", False)
    assert _greeting(srv, source)[0].startswith(b"-DENIED")
