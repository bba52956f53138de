# SPDX-License-Identifier: MIT
"""Faults: clients that misbehave or vanish must not hurt the server.

Once per event backend ($TMC_BACKENDS):

- clients that disconnect mid-command (half a header, half a bulk; with a
  FIN or a reset), mid-reply (an 8 MB value, partly read) or with
  megabytes of unread replies (200 pipelined GETs of a 1 MB value);
- a client that sends but never reads, with --client-output-buffer-limit
  16mb: it is disconnected, and the server's VmRSS stays bounded while it
  pipelines GETs of a 1 MB value for a few seconds; with the default
  limit (1gb) the log says "closed for overcoming of output buffer
  limits";
- --maxclients 5: the 6th connection gets exactly
  "-ERR max number of clients reached\\r\\n" and is closed, the 5 others
  keep working, and a freed slot can be taken again;
- 10,000 connections opened and closed in a loop (FIN, reset, after a
  PING): connected_clients returns to 1 and VmRSS hardly grows;
- SIGPIPE: clients that close (or reset) while the server writes a big
  reply, many times: the server lives on;
- EINTR/EAGAIN: the server is stopped and continued (SIGSTOP/SIGCONT makes
  epoll_wait/select return EINTR) under a pipelined load, and a big reply
  goes to a slow reader (writes meet EAGAIN): every reply arrives intact.

After each case the other clients are served and the stored data is
intact; every server must exit 0 on SIGTERM at the end (under
TMC_VALGRIND=1 that includes no leaks). Memory figures are printed (see
them with pytest -s).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from tmc_testlib import encode_command, read_replies  # noqa: E402

C = encode_command
MIB = 1024 * 1024

# Data stored before each test and checked after it.
STORED: Dict[bytes, bytes] = {
    b"faults:small": b"v",
    b"faults:binary": bytes(range(256)),
    b"faults:1mb": bytes(range(256)) * 4096,
}

SLOW = tmc_testlib.valgrind_enabled()


# ---- Helpers ----

def call(sock: socket.socket, *args: Any, timeout: float = 30.0) -> Any:
    """Send one command and return its reply."""
    sock.sendall(C(*args))
    (value,), _ = read_replies(sock, 1, timeout=timeout)
    return value


def store(srv: tmc_testlib.Server, items: Dict[bytes, bytes]) -> None:
    """SET every item on a new connection."""
    with srv.connect(timeout=30) as s:
        s.sendall(b"".join(C(b"SET", k, v) for k, v in items.items()))
        values, _ = read_replies(s, len(items), timeout=60)
    assert values == ["OK"] * len(items)


def check_intact(srv: tmc_testlib.Server,
                 items: Optional[Dict[bytes, bytes]] = None) -> None:
    """A new client is served (PING) and the stored values are intact."""
    items = STORED if items is None else items
    assert srv.proc is not None and srv.proc.poll() is None, (
        "server died:\n" + srv.log)
    with srv.connect(timeout=30) as s:
        assert call(s, "PING") == "PONG"
        s.sendall(b"".join(C(b"GET", k) for k in items))
        values, _ = read_replies(s, len(items), timeout=60)
    for (k, v), got in zip(items.items(), values):
        assert got == v, "value of %r lost or changed" % k


def info(srv: tmc_testlib.Server) -> Dict[str, str]:
    """INFO's fields, from a new connection."""
    with srv.connect(timeout=30) as s:
        raw = call(s, "INFO")
    out = {}
    for line in raw.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def rss(srv: tmc_testlib.Server) -> int:
    """The server's VmRSS in bytes."""
    assert srv.proc is not None
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def wait_clients(srv: tmc_testlib.Server, n: int = 1,
                 timeout: float = 30.0) -> Dict[str, str]:
    """Wait until INFO connected_clients is n (the prober included)."""
    deadline = time.monotonic() + timeout
    while True:
        fields = info(srv)
        if int(fields["connected_clients"]) == n:
            return fields
        if time.monotonic() > deadline:
            raise AssertionError("connected_clients stays %s, expected %d"
                                 % (fields["connected_clients"], n))
        time.sleep(0.05)


def reset_on_close(sock: socket.socket) -> None:
    """Make close() send a reset (SO_LINGER 0) instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))


def start_server(backend: str,
                 args: Sequence[str] = ()) -> tmc_testlib.Server:
    """Our server with extra arguments (stopped by the caller's with)."""
    path = tmc_testlib.server_path()
    if not os.access(path, os.X_OK):
        pytest.fail("server binary not built: %s" % path, pytrace=False)
    return tmc_testlib.Server(backend=backend, args=list(args),
                              unixsocket=True)


def read_until_closed(sock: socket.socket, timeout: float) -> Optional[int]:
    """Drain sock until EOF or reset; return the bytes read, or None if it
    is still open after timeout seconds."""
    total = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return total
        if not chunk:
            return total
        total += len(chunk)
    return None


def rss_meaningful(srv: tmc_testlib.Server) -> bool:
    """False under valgrind or AddressSanitizer: their allocators keep
    freed memory (quarantine), so VmRSS says little about what the server
    holds; INFO used_memory (the server's own count) is checked instead."""
    if srv.valgrind or srv.proc is None:
        return False
    with open("/proc/%d/maps" % srv.proc.pid) as f:
        maps = f.read()
    return "libasan" not in maps and "clang_rt.asan" not in maps


def peak_rss_reset(srv: tmc_testlib.Server) -> bool:
    """Reset the server's VmHWM (peak RSS) to its current RSS by writing
    5 to /proc/PID/clear_refs; False if the kernel does not allow it."""
    assert srv.proc is not None
    try:
        with open("/proc/%d/clear_refs" % srv.proc.pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss(srv: tmc_testlib.Server) -> int:
    """The server's VmHWM (peak VmRSS) in bytes."""
    assert srv.proc is not None
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def srv(server: tmc_testlib.Server) -> Iterator[tmc_testlib.Server]:
    """The conftest server (exit 0 checked) with STORED in it."""
    store(server, STORED)
    yield server
    check_intact(server)


# ---- Disconnects ----

def test_disconnect_mid_command(srv: tmc_testlib.Server) -> None:
    """Half a command, then the client goes (FIN or reset): nothing of it
    is run, and the server carries on."""
    full = C("SET", "faults:partial", b"x" * 100000)
    cuts = [1, 5, 10, len(full) // 2, len(full) - 3, len(full) - 1]
    for unix in (False, True):
        for cut in cuts:
            for reset in (False, True):
                s = srv.connect(unix=unix)
                if reset:
                    reset_on_close(s)
                s.sendall(full[:cut])
                time.sleep(0.005)
                s.close()
    # A big bulk header with 1 MB of its 512 MB, then gone.
    with srv.connect() as s:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$10\r\nfaults:big\r\n$536870912\r\n")
        s.sendall(b"y" * MIB)
    wait_clients(srv)
    with srv.connect() as s:
        assert call(s, "EXISTS", "faults:partial", "faults:big") == 0
    check_intact(srv)


def test_disconnect_mid_reply(srv: tmc_testlib.Server) -> None:
    """GET of an 8 MB value, read a little, close (FIN or reset); 20 times.
    The server lives, and the value is intact."""
    big = os.urandom(8 * MIB)
    store(srv, {b"faults:8mb": big})
    for i in range(20):
        s = srv.connect()
        if i % 2:
            reset_on_close(s)
        s.sendall(C("GET", "faults:8mb"))
        got = 0
        while got < 65536:
            chunk = s.recv(65536)
            assert chunk, "server closed the connection"
            got += len(chunk)
        s.close()
    wait_clients(srv)
    check_intact(srv, {b"faults:8mb": big})


def test_disconnect_with_unread_replies(srv: tmc_testlib.Server) -> None:
    """Five clients pipeline 200 GETs of a 1 MB value each, read nothing,
    and close: about a gigabyte of replies is never read. The server
    serves others, frees it all and keeps the data."""
    base_used = int(info(srv)["used_memory"])
    for reset in (False, True):
        socks = []
        for _ in range(5):
            s = srv.connect()
            if reset:
                reset_on_close(s)
            s.sendall(C("GET", "faults:1mb") * 200)
            socks.append(s)
        time.sleep(0.2)
        check_intact(srv)         # served while they hang on
        for s in socks:
            s.close()
    fields = wait_clients(srv)
    # Their reply buffers are gone (a few KB of slack for allocator sizes).
    assert int(fields["used_memory"]) - base_used < 256 * 1024


# ---- Output buffer limit ----

def flood_gets(srv: tmc_testlib.Server, seconds: float) -> Dict[str, int]:
    """Pipeline GETs of the 1 MB value without ever reading, for seconds;
    on each disconnection check the socket sees EOF/reset, reconnect and
    go on. Returns counts: disconnects, commands sent."""
    cmd = C("GET", "faults:1mb") * 16
    stats = {"disconnects": 0, "sent": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s = srv.connect()
        s.setblocking(False)
        dropped = False
        try:
            while time.monotonic() < deadline:
                _, w, _ = select.select([], [s], [], 0.1)
                if not w:
                    continue      # the server is not reading: keep waiting
                try:
                    n = s.send(cmd)
                except (BrokenPipeError, ConnectionResetError):
                    dropped = True
                    break
                except BlockingIOError:
                    continue
                stats["sent"] += n // (len(cmd) // 16)
        finally:
            s.setblocking(True)
            if dropped:
                # The server closed it: the socket reads the replies that
                # reached it, then EOF or a reset.
                left = read_until_closed(s, 30.0 if SLOW else 10.0)
                assert left is not None, (
                    "send failed but the socket does not see EOF")
                stats["disconnects"] += 1
            s.close()
    return stats


def test_output_buffer_limit_bounds_memory(backend: str) -> None:
    """--client-output-buffer-limit 16mb: a client that sends GETs of a
    1 MB value but never reads is disconnected, again and again for 3 s,
    and the server's VmRSS stays bounded throughout."""
    with start_server(backend, ["--client-output-buffer-limit",
                                "16mb"]) as srv:
        store(srv, STORED)
        base_used = int(info(srv)["used_memory"])
        # VmHWM is the true peak, however briefly it was reached (the
        # limit is usually crossed and the client dropped within one
        # event). Without clear_refs, the peak since start over-counts.
        peak_rss_reset(srv)
        base = rss(srv)
        stats = flood_gets(srv, 3.0)
        peak = peak_rss(srv)
        fields = wait_clients(srv)
        print("\noutput buffer limit 16mb: VmRSS before %.1f MiB, peak %.1f "
              "MiB (%+.1f), after %.1f MiB; used_memory before %.1f MiB, "
              "after %.1f MiB; %d disconnects, %d GETs sent"
              % (base / MIB, peak / MIB, (peak - base) / MIB,
                 rss(srv) / MIB, base_used / MIB,
                 int(fields["used_memory"]) / MIB, stats["disconnects"],
                 stats["sent"]))
        assert stats["disconnects"] >= 1
        assert "closed for overcoming of output buffer limits" in srv.log
        assert int(fields["used_memory"]) - base_used < 256 * 1024
        if rss_meaningful(srv):
            assert peak - base < 100 * MIB, (
                "VmRSS peaked %.1f MiB above the start"
                % ((peak - base) / MIB))
        check_intact(srv)


@pytest.mark.skipif(SLOW, reason="a gigabyte of replies under valgrind")
def test_output_buffer_default_limit(backend: str) -> None:
    """With the default limit (1gb), 1100 pipelined GETs of a 1 MB value
    never read: the client is dropped with the log line, not the server."""
    with start_server(backend) as srv:
        store(srv, STORED)
        line = "closed for overcoming of output buffer limits"
        with srv.connect() as s:
            s.sendall(C("GET", "faults:1mb") * 1100)
            # Read nothing until the server has dropped it.
            deadline = time.monotonic() + 60
            while line not in srv.log and time.monotonic() < deadline:
                time.sleep(0.05)
            left = read_until_closed(s, 30.0)
            # It is dropped once over 1 GB, so it gets less than 1100 MB.
            assert left is not None and left < 1100 * MIB
        assert line in srv.log
        fields = wait_clients(srv)
        print("\ndefault output buffer limit: client read %.1f MiB before "
              "EOF; used_memory after %s" % (left / MIB,
                                             fields["used_memory_human"]))
        check_intact(srv)


# ---- maxclients ----

def test_maxclients(backend: str) -> None:
    """--maxclients 5: the 6th gets Redis's error and is closed; the 5
    keep working; a freed slot is taken again."""
    with start_server(backend, ["--maxclients", "5"]) as srv:
        clients = [srv.connect() for _ in range(5)]
        try:
            for i, c in enumerate(clients):
                assert call(c, "SET", "faults:c%d" % i, str(i)) == "OK"
            for unix in (False, True):
                with srv.connect(unix=unix, timeout=30) as extra:
                    got = b""
                    while True:
                        chunk = extra.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                assert got == b"-ERR max number of clients reached\r\n"
            for i, c in enumerate(clients):
                assert call(c, "GET", "faults:c%d" % ((i + 1) % 5)) == \
                    str((i + 1) % 5).encode()
        finally:
            clients.pop().close()
        try:
            # One slot is free again (once the server saw the close).
            deadline = time.monotonic() + 30
            while True:
                c6 = srv.connect(timeout=30)
                c6.sendall(C("PING"))
                first = c6.recv(64)
                if first == b"+PONG\r\n":
                    break         # accepted
                assert first.startswith(b"-ERR max number of clients"), first
                c6.close()
                assert time.monotonic() < deadline, "slot never freed"
                time.sleep(0.05)
            with c6:
                raw = call(c6, "INFO", "clients", "stats").decode()
            fields = dict(line.split(":", 1) for line in raw.splitlines()
                          if ":" in line)
            assert int(fields["rejected_connections"]) >= 2
            assert int(fields["connected_clients"]) == 5
            assert call(clients[0], "DBSIZE") == 5
        finally:
            for c in clients:
                c.close()


# ---- Connection churn ----

def test_connection_churn(server: tmc_testlib.Server) -> None:
    """10,000 connections opened and closed in a loop (a third closed
    right away, a third reset, a third after a PING), in bounded time:
    connected_clients returns to 1 and VmRSS hardly grows."""
    srv = server
    n = 2000 if SLOW else 10000
    store(srv, STORED)
    base = rss(srv)
    base_used = int(info(srv)["used_memory"])
    t0 = time.monotonic()
    ping = C("PING")
    for i in range(n):
        s = srv.connect(unix=(i % 10 == 9), timeout=30)
        kind = i % 3
        if kind == 1:
            reset_on_close(s)
        elif kind == 2:
            s.sendall(ping)
            assert s.recv(16) == b"+PONG\r\n"
        s.close()
    elapsed = time.monotonic() - t0
    fields = wait_clients(srv)
    after = rss(srv)
    print("\n%d connections in %.1f s; VmRSS %.1f -> %.1f MiB (%+.1f); "
          "used_memory %d -> %s"
          % (n, elapsed, base / MIB, after / MIB, (after - base) / MIB,
             base_used, fields["used_memory"]))
    assert elapsed < 60
    assert int(fields["total_connections_received"]) >= n
    assert int(fields["used_memory"]) - base_used < 64 * 1024
    if rss_meaningful(srv):
        assert after - base < 8 * MIB
    check_intact(srv)


# ---- SIGPIPE ----

def test_sigpipe_never_kills(srv: tmc_testlib.Server) -> None:
    """100 clients ask for 4 x 8 MB and close (or reset) at once, while
    the server is writing: writes hit EPIPE/ECONNRESET, never SIGPIPE."""
    big = b"z" * (8 * MIB)
    store(srv, {b"faults:8mb": big})
    for i in range(100):
        s = srv.connect(unix=(i % 4 == 3))
        if i % 2:
            reset_on_close(s)
        s.sendall(C("GET", "faults:8mb") * 4)
        if i % 5 == 0:
            s.settimeout(60)
            assert s.recv(1024)   # the writes have surely begun
        s.close()
    wait_clients(srv)
    check_intact(srv, {b"faults:8mb": big})


# ---- EINTR / EAGAIN ----

def test_stop_continue_and_slow_reader(srv: tmc_testlib.Server) -> None:
    """SIGSTOP/SIGCONT 50 times during a pipelined load (the event wait
    returns EINTR), and a reader that takes an 8 MB reply 64 KB at a time
    with pauses (writes meet EAGAIN): every reply is complete and right."""
    assert srv.proc is not None
    pid = srv.proc.pid
    value = os.urandom(MIB)
    store(srv, {b"faults:eintr": value})
    errors: List[str] = []

    def load() -> None:
        try:
            with srv.connect(timeout=60) as s:
                for _ in range(20):
                    s.sendall(C("GET", "faults:eintr") * 10 + C("PING"))
                    vals, _ = read_replies(s, 11, timeout=60)
                    if vals[:10] != [value] * 10 or vals[10] != "PONG":
                        errors.append("wrong reply")
        except Exception as exc:  # reported by the main thread
            errors.append(repr(exc))

    t = threading.Thread(target=load)
    t.start()
    for _ in range(50):
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.002)
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.01)
    t.join(120)
    assert not t.is_alive() and not errors, errors
    # The slow reader.
    big = os.urandom(8 * MIB)
    store(srv, {b"faults:8mb": big})
    with srv.connect(timeout=60) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(C("GET", "faults:8mb") + C("PING"))
        buf = bytearray()
        want = len(b"$%d\r\n" % len(big)) + len(big) + 2 + len(b"+PONG\r\n")
        n = 0
        while len(buf) < want:
            chunk = s.recv(65536)
            assert chunk, "server closed the connection"
            buf += chunk
            n += 1
            if n % 8 == 0:
                time.sleep(0.01)
        assert bytes(buf) == b"$%d\r\n%s\r\n+PONG\r\n" % (len(big), big)
    check_intact(srv)
