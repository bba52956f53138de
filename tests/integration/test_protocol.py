# SPDX-License-Identifier: MIT
"""Malformed protocol: Redis's own protocol test cases, differentially.

The cases are those of Redis's tests/unit/protocol.tcl (empty query,
negative and out-of-range multibulk lengths, a wrong bulk header, negative
/ out-of-range / non-numeric bulk lengths, a multibulk not followed by
bulks, wrong number of arguments, unbalanced quotes inline, the protocol
desync regressions, pipelining regressions, a large number of arguments)
plus the neighbouring cases the reliability issue names: an inline line
past the 64 KB limit without a newline, a huge declared bulk that never
arrives, NUL bytes and non-UTF-8 bytes.

Every case is checked three ways:

(a) differentially: the same bytes go to a reference redis-server
    (started with --databases 1) and to our server, once per event
    backend; the reply bytes and whether the server closed the
    connection must be identical, and must also match what the case
    itself expects (the error text protocol.tcl looks for);
(b) afterwards a second client on the same server is served, the keys
    stored before the case are intact, and the whole keyspace is the same
    on both servers (so a command after a protocol error was not run by
    one and not the other);
(c) for declared-but-unsent sizes (*2147483647, $536870912 with a few
    bytes, 200 such clients at once) the server's VmRSS and INFO
    used_memory do not grow by the declared size, and (outside valgrind
    and ASan) its address space is capped 256 MB above its size at start
    (RLIMIT_AS), so even a brief allocation of a declared size makes it
    abort and the test fail (tests at the end).

Without redis-server the differential tests are skipped (failed under
CI=true); the memory tests do not need it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import sys
import time
from typing import (Dict, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from tmc_testlib import encode_command, read_replies  # noqa: E402

C = encode_command

# A marker command after a case whose input leaves the parser between
# requests: its reply ends the exchange early when the connection stays
# open (no need to wait for silence).
SENTINEL_TOKEN = b"tmc-protocol-sentinel-5d2a"
SENTINEL = C(b"ECHO", SENTINEL_TOKEN)
SENTINEL_REPLY = b"$%d\r\n%s\r\n" % (len(SENTINEL_TOKEN), SENTINEL_TOKEN)

# Silence that ends an exchange where the server must answer nothing and
# keep the connection open. Every other exchange ends on the sentinel's
# reply or on EOF, whatever the machine's load.
QUIET = 0.5
TIMEOUT = 30.0         # upper bound for one exchange
INLINE_MAX = 64 * 1024
BULK_MAX = 512 * 1024 * 1024

# Keys stored on every server before the cases run; each case must leave
# them intact.
PRESERVED: Dict[bytes, bytes] = {
    b"proto:plain": b"value",
    b"proto:binary\x00\xff": b"\x00\x01\r\n\xfe\xff",
    b"proto:empty": b"",
    b"proto:big": bytes(range(256)) * 1024,
}

E_PREFIX = b"-ERR Protocol error: "


class Case(NamedTuple):
    """One malformed (or borderline) input.

    data: bytes sent at once, or a list of chunks sent delay seconds
    apart. sentinel: append SENTINEL (the input ends between requests).
    reply: bytes the reply must contain (None: it must be empty).
    closed: whether the server must have closed the connection.
    """

    id: str
    data: Union[bytes, List[bytes]]
    reply: Optional[bytes]
    closed: bool
    sentinel: bool = True
    delay: float = 0.0


def perr(text: Union[str, bytes]) -> bytes:
    """The reply for a protocol error: '-ERR Protocol error: text'."""
    if isinstance(text, str):
        text = text.encode()
    return E_PREFIX + text + b"\r\n"


PING = C("PING")

CASES: List[Case] = [
    # -- protocol.tcl: "Handle an empty query"
    Case("empty-query", b"\r\n" + PING, b"+PONG\r\n", False),
    Case("empty-queries-many", b"\r\n" * 1000 + b"\n" * 1000 + PING,
         b"+PONG\r\n", False),
    # -- "Negative multibulk length": ignored, the next command works
    Case("negative-multibulk-length", b"*-10\r\n" + PING, b"+PONG\r\n",
         False),
    Case("zero-multibulk-length", b"*0\r\n" + PING, b"+PONG\r\n", False),
    # -- "Out of range multibulk length"
    Case("out-of-range-multibulk-length", b"*3000000000\r\n",
         perr("invalid multibulk length"), True),
    Case("multibulk-length-int-max-plus-1", b"*2147483648\r\n",
         perr("invalid multibulk length"), True),
    Case("multibulk-length-llong-overflow", b"*99999999999999999999\r\n",
         perr("invalid multibulk length"), True),
    Case("multibulk-length-not-a-number", b"*blabla\r\n",
         perr("invalid multibulk length"), True),
    Case("multibulk-length-empty", b"*\r\n",
         perr("invalid multibulk length"), True),
    # A multibulk length up to INT_MAX is valid: the server waits for the
    # arguments (and must not allocate for them, see the memory tests).
    Case("multibulk-length-int-max-waits", b"*2147483647\r\n", None, False,
         sentinel=False),
    Case("multibulk-length-20000000-waits", b"*20000000\r\n", None, False,
         sentinel=False),
    Case("multibulk-length-int-max-then-array",
         b"*2147483647\r\n" + PING, perr("expected '$', got '*'"), True),
    # -- "Wrong multibulk payload header"
    Case("wrong-multibulk-payload-header",
         b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
         perr("expected '$', got 'f'"), True),
    # -- "Negative multibulk payload length"
    Case("negative-bulk-length", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n",
         perr("invalid bulk length"), True),
    Case("bulk-length-minus-1", b"*1\r\n$-1\r\n",
         perr("invalid bulk length"), True),
    # -- "Out of range multibulk payload length"
    Case("out-of-range-bulk-length",
         b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n",
         perr("invalid bulk length"), True),
    Case("bulk-length-max-plus-1",
         b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$%d\r\n" % (BULK_MAX + 1),
         perr("invalid bulk length"), True),
    Case("bulk-length-llong-overflow",
         b"*1\r\n$99999999999999999999\r\n",
         perr("invalid bulk length"), True),
    # -- "Non-number multibulk payload length"
    Case("non-number-bulk-length",
         b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n",
         perr("invalid bulk length"), True),
    Case("bulk-length-empty", b"*1\r\n$\r\n",
         perr("invalid bulk length"), True),
    # -- "Multi bulk request not followed by bulk arguments"
    Case("multibulk-not-followed-by-bulks", b"*1\r\nfoo\r\n",
         perr("expected '$', got 'f'"), True),
    Case("multibulk-followed-by-integer", b"*1\r\n:5\r\n",
         perr("expected '$', got ':'"), True),
    # The error comes after the good commands before it, and nothing
    # after it runs (the keyspace comparison checks the SET).
    Case("error-after-good-commands",
         C("SET", "proto:before", "1") + C("GET", "proto:before") +
         b"*1\r\n$x\r\n" + C("SET", "proto:after", "1"),
         b"+OK\r\n$1\r\n1\r\n" + perr("invalid bulk length"), True),
    # -- "Generic wrong number of args"
    Case("generic-wrong-number-of-args", C("PING", "x", "y", "z"),
         b"-ERR wrong number of arguments for 'ping' command\r\n", False),
    # -- "Unbalanced number of quotes in inline protocol"
    Case("unbalanced-quotes-1", b'set """test-key""" test-value\r\n',
         perr("unbalanced quotes in request"), True),
    Case("unbalanced-quotes-2", b'set """"test-key""" test-value\r\n',
         perr("unbalanced quotes in request"), True),
    Case("unbalanced-single-quote", b"ECHO 'abc\r\n",
         perr("unbalanced quotes in request"), True),
    # -- an inline line past the limit without a newline
    Case("inline-past-limit", b"a" * (INLINE_MAX + 100),
         perr("too big inline request"), True, sentinel=False),
    Case("inline-past-limit-slowly",
         [b"b" * 16384] * 5 + [b"b" * 100],
         perr("too big inline request"), True, sentinel=False, delay=0.02),
    Case("inline-just-below-limit-waits", b"c" * (INLINE_MAX - 1), None,
         False, sentinel=False),
    Case("mbulk-count-past-limit", b"*" + b"1" * (INLINE_MAX + 100),
         perr("too big mbulk count string"), True, sentinel=False),
    Case("bulk-count-past-limit", b"*1\r\n$" + b"1" * (INLINE_MAX + 100),
         perr("too big bulk count string"), True, sentinel=False),
    # -- a huge declared bulk that never arrives: the server just waits
    Case("huge-bulk-never-arrives", b"*1\r\n$%d\r\nabc" % BULK_MAX, None,
         False, sentinel=False),
    Case("huge-bulk-value-never-arrives",
         b"*3\r\n$3\r\nSET\r\n$10\r\nproto:huge\r\n$%d\r\n" % BULK_MAX +
         b"x" * 100000, None, False, sentinel=False),
    # -- NUL bytes: binary-safe in bulks; in a header or an inline line
    # Redis looks for the line end only up to the NUL, so it waits.
    Case("nul-in-bulks", C(b"SET", b"proto:n\x00ul", b"a\x00b\x00") +
         C(b"GET", b"proto:n\x00ul") + C(b"ECHO", b"\x00"),
         b"+OK\r\n$4\r\na\x00b\x00\r\n$1\r\n\x00\r\n", False),
    Case("nul-alone", b"\x00\r\n" + PING, None, False, sentinel=False),
    Case("nul-in-inline", b"PI\x00NG\r\n", None, False, sentinel=False),
    Case("nul-in-multibulk-header", b"*1\x00\r\n" + PING, None, False,
         sentinel=False),
    Case("nul-in-bulk-header", b"*1\r\n$4\x00\r\nPING\r\n", None, False,
         sentinel=False),
    Case("nul-in-command-name", C(b"PI\x00NG"),
         b"-ERR unknown command '", False),
    # -- non-UTF-8 bytes
    Case("non-utf8-bulks", C(b"SET", b"proto:\xff\xfe", b"\xc3\x28\x80") +
         C(b"GET", b"proto:\xff\xfe") + C(b"KEYS", b"proto:\xff*"),
         b"+OK\r\n$3\r\n\xc3\x28\x80\r\n*1\r\n$8\r\nproto:\xff\xfe\r\n",
         False),
    Case("non-utf8-inline", b"ECHO \xff\xfe\x80\r\n",
         b"$3\r\n\xff\xfe\x80\r\n", False),
    Case("non-utf8-command-name", C(b"\xff\xfe"),
         b"-ERR unknown command '", False),
    Case("non-utf8-in-bulk-length", b"*1\r\n$\xff\r\n",
         perr("invalid bulk length"), True),
    Case("non-utf8-in-multibulk-length", b"*\xc3\xa9\r\n",
         perr("invalid multibulk length"), True),
    Case("non-utf8-header-byte", b"*1\r\n\xff\r\n",
         perr(b"expected '$', got '\xff'"), True),
    # -- "test large number of args" (protocol.tcl uses MSET; DEL here)
    Case("large-number-of-args",
         C("DEL", *["proto:k%d" % i for i in range(10000)]) +
         C("SET", "proto:k10000", "v") + C("GET", "proto:k10000"),
         b":0\r\n+OK\r\n$1\r\nv\r\n", False),
    # -- arguments that arrive a few bytes at a time ("crash with cron
    # release of client arguments" regression)
    Case("arguments-arrive-slowly",
         [b"*3\r\n", b"$3\r\nSET\r\n$1", b"0\r\nproto:slo", b"w\r\n$1\r",
          b"\n1\r", b"\n"] + [C("GET", "proto:slow")],
         b"+OK\r\n$1\r\n1\r\n", False, delay=0.05),
    Case("header-split-at-every-byte",
         [bytes([b]) for b in C("ECHO", "hello")],
         b"$5\r\nhello\r\n", False, delay=0.002),
]


# ---- Exchanges ----

def exchange(addr: tmc_testlib.Address, data: Union[bytes, Sequence[bytes]],
             *, until: Optional[bytes] = None, delay: float = 0.0,
             quiet: float = QUIET,
             timeout: float = TIMEOUT) -> Tuple[bytes, bool]:
    """Send data and return (reply bytes, whether the server closed).

    Reading stops at EOF or a reset (closed), when the reply ends with
    until (open), or after quiet seconds of silence (open).
    """
    chunks = [data] if isinstance(data, (bytes, bytearray)) else list(data)
    out = bytearray()
    closed = False
    deadline = time.monotonic() + timeout
    with tmc_testlib.connect(addr, timeout) as s:
        for i, c in enumerate(chunks):
            if i and delay:
                time.sleep(delay)
            try:
                s.sendall(c)
            except (BrokenPipeError, ConnectionResetError):
                break
        while True:
            if until is not None and out.endswith(until):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(quiet, left))
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    return bytes(out), closed


def desync_exchange(addr: tmc_testlib.Address, start: bytes,
                    limit: int = 16 << 20) -> Tuple[bytes, bool]:
    """Protocol desync: send start, then 1 KB chunks with no line end.

    Stops sending as soon as the server answers or closes (or after limit
    bytes), then reads what it said. Returns (reply, closed).
    """
    payload = b"A" * 1024
    sent = 0
    out = bytearray()
    closed = False
    with tmc_testlib.connect(addr, TIMEOUT) as s:
        s.sendall(start)
        while sent < limit:
            readable, _, _ = select.select([s], [], [], 0)
            if readable:
                break
            try:
                s.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(payload)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    return bytes(out), closed


# ---- Servers ----

def store(addr: tmc_testlib.Address, items: Dict[bytes, bytes]) -> None:
    """SET every item (replies must be +OK)."""
    with tmc_testlib.connect(addr) as s:
        s.sendall(b"".join(C(b"SET", k, v) for k, v in items.items()))
        values, _ = read_replies(s, len(items))
    assert values == ["OK"] * len(items)


def snapshot(addr: tmc_testlib.Address) -> Dict[bytes, bytes]:
    """Return the whole keyspace as {key: value}, from a new client."""
    with tmc_testlib.connect(addr) as s:
        s.sendall(C("PING") + C("KEYS", "*"))
        (pong, keys), _ = read_replies(s, 2)
        assert pong == "PONG"
        if not keys:
            return {}
        s.sendall(b"".join(C(b"GET", k) for k in keys))
        values, _ = read_replies(s, len(keys))
    return dict(zip(keys, values))


def check_after(addr: tmc_testlib.Address) -> Dict[bytes, bytes]:
    """(b): a new client is served and PRESERVED is intact; then drop every
    other key (restoring the starting state) and return what was there."""
    snap = snapshot(addr)
    for k, v in PRESERVED.items():
        assert snap.get(k) == v, "stored key %r lost or changed" % k
    extra = {k: v for k, v in snap.items() if k not in PRESERVED}
    if extra:
        with tmc_testlib.connect(addr) as s:
            s.sendall(C(b"DEL", *extra.keys()))
            (n,), _ = read_replies(s, 1)
        assert n == len(extra)
    return extra


@pytest.fixture(scope="module")
def redis_ref() -> Iterator[tmc_testlib.RedisServer]:
    """The reference redis-server for the whole module."""
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    with tmc_testlib.RedisServer(tcp=True, args=["--databases", "1"]) as r:
        store(r.addr, PRESERVED)
        yield r


@pytest.fixture(scope="module", params=tmc_testlib.backends())
def tmc(request: pytest.FixtureRequest) -> Iterator[tmc_testlib.Server]:
    """Our server, once per event backend; must exit 0 at the end."""
    path = tmc_testlib.server_path()
    if not os.access(path, os.X_OK):
        pytest.fail("server binary not built: %s" % path, pytrace=False)
    srv = tmc_testlib.Server(backend=str(request.param))
    try:
        store(srv.addr, PRESERVED)
        yield srv
    finally:
        srv.stop(check=True)


def check_case_reply(case: Case, who: str, reply: bytes,
                     closed: bool) -> None:
    """The case's own expectation, independent of the other server."""
    if case.reply is None:
        assert reply == b"", ("%s: expected no reply, got %r"
                              % (who, reply[:200]))
    else:
        assert case.reply in reply, ("%s: expected %r in the reply, got %r"
                                     % (who, case.reply, reply[:300]))
    assert closed == case.closed, ("%s: connection %s, expected %s"
                                   % (who, "closed" if closed else "open",
                                      "closed" if case.closed else "open"))


# ---- (a) + (b): the table ----

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_differential(case: Case,
                                redis_ref: tmc_testlib.RedisServer,
                                tmc: tmc_testlib.Server) -> None:
    """Same reply bytes and closed state as Redis; others unaffected."""
    data = case.data
    until = None
    if case.sentinel:
        data = (data + SENTINEL if isinstance(data, bytes)
                else list(data) + [SENTINEL])
        until = SENTINEL_REPLY
    # Only a case that must get no reply and stay open ends on silence.
    quiet = TIMEOUT if case.sentinel or case.closed else QUIET
    results = {}
    for who, srv in (("redis", redis_ref), ("tmc/" + str(tmc.backend), tmc)):
        reply, closed = exchange(srv.addr, data, until=until,
                                 delay=case.delay, quiet=quiet)
        if case.sentinel and not closed:
            assert reply.endswith(SENTINEL_REPLY), (
                "%s: connection open but no reply to the sentinel: %r"
                % (who, reply[-200:]))
            reply = reply[:-len(SENTINEL_REPLY)]
        results[who] = (reply, closed)
    (r_reply, r_closed), (t_reply, t_closed) = results.values()
    assert t_reply == r_reply, "reply differs from Redis"
    assert t_closed == r_closed, (
        "Redis %s the connection, we %s it"
        % ("closed" if r_closed else "kept", "closed" if t_closed else "kept"))
    for who, (reply, closed) in results.items():
        check_case_reply(case, who, reply, closed)
    # (b) others are served, stored data intact, same keyspace as Redis.
    assert check_after(tmc.addr) == check_after(redis_ref.addr)


# ---- protocol.tcl: "Protocol desync regression test #1..3" ----

@pytest.mark.parametrize("start", [b"\x00", b"*\x00", b"$\x00"],
                         ids=["nul", "star-nul", "dollar-nul"])
def test_protocol_desync(start: bytes, redis_ref: tmc_testlib.RedisServer,
                         tmc: tmc_testlib.Server) -> None:
    """A line that never ends is cut off with Redis's error, not buffered.

    After a NUL the line end cannot be found (as in Redis), so bytes keep
    arriving with no line end; past 64 KB the server must answer with a
    protocol error and close, well before megabytes have been sent.
    """
    want = perr("too big mbulk count string" if start.startswith(b"*")
                else "too big inline request")
    results = {}
    for who, srv in (("redis", redis_ref), ("tmc", tmc)):
        net0 = int(info(srv.addr)["total_net_input_bytes"])
        reply, closed = desync_exchange(srv.addr, start)
        read = int(info(srv.addr)["total_net_input_bytes"]) - net0
        results[who] = (reply, closed)
        assert reply == want, "%s: %r" % (who, reply[:200])
        assert closed, "%s: connection not closed" % who
        # It stopped reading soon after the limit (one more read at most).
        assert read < 1 << 20, "%s: read %d bytes of one line" % (who, read)
    assert results["tmc"] == results["redis"]
    assert check_after(tmc.addr) == check_after(redis_ref.addr)


# ---- protocol.tcl: "Regression for a crash with blocking ops and
# pipelining" (we have no blocking commands: the same shape with GETDEL,
# the job hand-out command, while another client writes the key) ----

def pipelining_transcript(addr: tmc_testlib.Address) -> List[object]:
    """Two pipelined GETDELs plus half a third, interleaved with SETs."""
    getdel = C("GETDEL", "proto:nolist")
    out: List[object] = []
    with tmc_testlib.connect(addr) as a, tmc_testlib.connect(addr) as b:
        a.sendall(getdel + getdel + getdel[:9])
        out += read_replies(a, 2)[0]
        b.sendall(C("SET", "proto:nolist", "a"))
        out += read_replies(b, 1)[0]
        a.sendall(getdel[9:] + getdel)
        out += read_replies(a, 2)[0]
        b.sendall(C("SET", "proto:nolist", "b") + C("GET", "proto:nolist"))
        out += read_replies(b, 2)[0]
        a.sendall((getdel + C("SET", "proto:nolist", "c")) * 3 + getdel)
        out += read_replies(a, 7)[0]
    return out


def test_pipelining_regression(redis_ref: tmc_testlib.RedisServer,
                               tmc: tmc_testlib.Server) -> None:
    """Pipelined GETDELs interleaved with another client: same as Redis."""
    want = [None, None, "OK", b"a", None, "OK", b"b",
            b"b", "OK", b"c", "OK", b"c", "OK", b"c"]
    assert pipelining_transcript(redis_ref.addr) == want
    assert pipelining_transcript(tmc.addr) == want
    assert check_after(tmc.addr) == check_after(redis_ref.addr)


# ---- (c) memory for declared-but-unsent sizes ----

MIB = 1024 * 1024


def proc_status(pid: int) -> Dict[str, int]:
    """VmRSS, VmData, VmSize... of pid, in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if name.startswith("Vm") and len(parts) == 2 and parts[1] == "kB":
                out[name] = int(parts[0]) * 1024
    return out


def info(addr: tmc_testlib.Address) -> Dict[str, str]:
    """INFO's fields."""
    with tmc_testlib.connect(addr) as s:
        s.sendall(C("INFO"))
        (raw,), _ = read_replies(s, 1)
    fields = {}
    for line in raw.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k] = v
    return fields


class Mem(NamedTuple):
    """One memory measurement of our server."""

    rss: int
    data: int
    used: int
    clients: int


def measure(srv: tmc_testlib.Server) -> Mem:
    """Measure the server: VmRSS, VmData, used_memory, connected_clients."""
    assert srv.proc is not None
    st = proc_status(srv.proc.pid)
    fields = info(srv.addr)
    return Mem(rss=st["VmRSS"], data=st["VmData"],
               used=int(fields["used_memory"]),
               clients=int(fields["connected_clients"]))


def wait_clients(srv: tmc_testlib.Server, n: int,
                 timeout: float = 30.0) -> Mem:
    """Wait until connected_clients is n (the prober included)."""
    deadline = time.monotonic() + timeout
    while True:
        m = measure(srv)
        if m.clients == n or time.monotonic() > deadline:
            return m
        time.sleep(0.05)


def wait_read(srv: tmc_testlib.Server, before: int, nbytes: int,
              timeout: float = 30.0) -> None:
    """Wait until INFO total_net_input_bytes grew by nbytes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(info(srv.addr)["total_net_input_bytes"]) - before >= nbytes:
            return
        time.sleep(0.05)
    raise AssertionError("server did not read %d bytes" % nbytes)


def rss_meaningful(srv: tmc_testlib.Server) -> bool:
    """False under valgrind or AddressSanitizer: their allocators keep
    freed memory (quarantine) and add their own, so VmRSS says little
    about what the server holds; INFO used_memory (the server's own
    count of its heap) is checked in any case."""
    if srv.valgrind or srv.proc is None:
        return False
    with open("/proc/%d/maps" % srv.proc.pid) as f:
        maps = f.read()
    return "libasan" not in maps and "clang_rt.asan" not in maps


# Address space the server may add during a memory test (RLIMIT_AS on
# top of what it has mapped at the start): an allocation of a declared
# 512 MB, however briefly held, then fails and the server aborts.
AS_HEADROOM = 256 * MIB


def mem_server(backend: str) -> tmc_testlib.Server:
    """A fresh server of ours for one memory test, its address space
    capped at its current size + AS_HEADROOM (not under valgrind or ASan,
    which map terabytes of their own)."""
    path = tmc_testlib.server_path()
    if not os.access(path, os.X_OK):
        pytest.fail("server binary not built: %s" % path, pytrace=False)
    srv = tmc_testlib.Server(backend=backend)
    if rss_meaningful(srv):
        assert srv.proc is not None
        size = proc_status(srv.proc.pid)["VmSize"]
        hard = resource.prlimit(srv.proc.pid, resource.RLIMIT_AS)[1]
        resource.prlimit(srv.proc.pid, resource.RLIMIT_AS,
                         (size + AS_HEADROOM, hard))
    return srv


@contextlib.contextmanager
def died_is_failure(srv: tmc_testlib.Server) -> Iterator[None]:
    """Turn a socket error caused by the server dying (e.g. aborting on a
    failed allocation under RLIMIT_AS) into a failure that says so."""
    try:
        yield
    except (OSError, tmc_testlib.ServerError) as exc:
        if srv.proc is not None and srv.proc.poll() is not None:
            raise AssertionError("the server died (exit code %s):\n%s"
                                 % (srv.proc.returncode, srv.log)) from exc
        raise


def report(label: str, m: Mem, base: Mem) -> str:
    """One line of figures for the test output (pytest -s / on failure)."""
    return ("%-22s VmRSS %7.1f MiB (%+7.1f)  VmData %8.1f MiB (%+8.1f)  "
            "used_memory %7.1f MiB (%+7.1f)  clients %d"
            % (label, m.rss / MIB, (m.rss - base.rss) / MIB, m.data / MIB,
               (m.data - base.data) / MIB, m.used / MIB,
               (m.used - base.used) / MIB, m.clients))


DECLARED = {
    "mbulk-int-max": (b"*2147483647\r\n$1\r\na\r\n$1\r\nb\r\n",
                      2147483647 * 16),
    "bulk-512mb": (b"*1\r\n$%d\r\nabcdef" % BULK_MAX, BULK_MAX),
    "set-value-512mb": (b"*3\r\n$3\r\nSET\r\n$4\r\nmemk\r\n$%d\r\n" % BULK_MAX
                        + b"v" * 1000, BULK_MAX),
}


@pytest.mark.parametrize("kind", sorted(DECLARED))
def test_declared_sizes_not_allocated(backend: str, kind: str) -> None:
    """200 clients each declare a huge size and send a few bytes: the
    server's memory grows by kilobytes per client, not by what they
    declared; all of it comes back when they leave; others are served."""
    nclients = 200
    head, declared = DECLARED[kind]
    with mem_server(backend) as srv, died_is_failure(srv):
        store(srv.addr, PRESERVED)
        base = wait_clients(srv, 1)
        net0 = int(info(srv.addr)["total_net_input_bytes"])
        socks: List[socket.socket] = []
        lines = [report("before", base, base)]
        try:
            for _ in range(nclients):
                s = srv.connect()
                s.sendall(head)
                socks.append(s)
            wait_read(srv, net0, nclients * len(head))
            during = wait_clients(srv, nclients + 1)
            lines.append(report("with %d clients" % nclients, during, base))
            # Nothing was answered, nobody was closed.
            for s in socks[:10]:
                r, _, _ = select.select([s], [], [], 0)
                assert not r, "server answered or closed a waiting client"
            assert during.clients == nclients + 1
            # Others are served meanwhile and the data is intact.
            snap = snapshot(srv.addr)
            assert {k: snap.get(k) for k in PRESERVED} == PRESERVED
        finally:
            for s in socks:
                s.close()
        after = wait_clients(srv, 1)
        lines.append(report("after they left", after, base))
        print("\n" + "\n".join(lines))
        total = nclients * declared
        growth_rss = during.rss - base.rss
        growth_used = during.used - base.used
        msg = "\n".join(lines) + "\ndeclared in total: %d MiB" % (total // MIB)
        assert growth_used < 50 * MIB, msg
        if rss_meaningful(srv):
            assert growth_rss < 50 * MIB, msg
        assert after.used - base.used < 1 * MIB, msg
        assert snapshot(srv.addr).keys() == PRESERVED.keys()


def test_partial_bulk_memory_follows_bytes_sent(backend: str) -> None:
    """Of a declared 512 MB value, 1, 4, 16 and then 48 MB arrive: each
    time the server holds at most about twice what arrived (its query
    buffer grows by doubling with the data, never towards the declared
    size), and all of it is freed when the client disconnects."""
    steps = [1 * MIB, 4 * MIB, 16 * MIB, 48 * MIB]
    with mem_server(backend) as srv, died_is_failure(srv):
        base = wait_clients(srv, 1)
        net0 = int(info(srv.addr)["total_net_input_bytes"])
        head = b"*3\r\n$3\r\nSET\r\n$4\r\nmemk\r\n$%d\r\n" % BULK_MAX
        lines = [report("before", base, base)]
        with srv.connect() as s:
            s.sendall(head)
            chunk = b"p" * 65536
            sent = 0
            for step in steps:
                while sent < step:
                    s.sendall(chunk)
                    sent += len(chunk)
                wait_read(srv, net0, len(head) + sent)
                m = measure(srv)
                lines.append(report("%d MiB of 512 sent" % (sent // MIB),
                                    m, base))
                msg = "\n".join(lines)
                # Doubling with what arrives: at most 2x (+1 MiB of slack
                # for small buffers). Anything more is memory allocated
                # for bytes that were only declared.
                assert m.used - base.used <= 2 * sent + MIB, (
                    "%d MiB sent, used_memory grew by %.1f MiB\n%s"
                    % (sent // MIB, (m.used - base.used) / MIB, msg))
                if rss_meaningful(srv):
                    assert m.rss - base.rss <= 2 * sent + 8 * MIB, msg
        after = wait_clients(srv, 1)
        lines.append(report("after close", after, base))
        print("\n" + "\n".join(lines))
        msg = "\n".join(lines)
        assert after.used - base.used < 1 * MIB, msg
        assert snapshot(srv.addr) == {}
