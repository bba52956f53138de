# SPDX-License-Identifier: MIT
"""--requirepass and AUTH: the same bytes as redis-server.

A reference redis-server started with ``--requirepass`` (and
``--databases 1``, as our server has one database) and our server started
with ``--requirepass``, once per event backend in $TMC_BACKENDS, get the
same byte sequences on fresh connections (Unix sockets); the replies and
whether the connection was closed must be identical. Covered: NOAUTH
before AUTH (and the checks that come before it: unknown command, wrong
arity), QUIT without AUTH, AUTH with the right and wrong password and
user, AUTH's syntax error, HELLO without AUTH and HELLO AUTH, a failed
AUTH after a good one, the parser's tighter limits for unauthenticated
clients (multibulk count 10, bulk 16384 bytes), AUTH against a server
without a password, and CONFIG SET requirepass at run time.

HELLO's reply carries the connection id, which legitimately differs; it
is masked before comparing. Without redis-server the module is skipped,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from contextlib import contextmanager
from typing import Dict, Iterator, List, NamedTuple, Sequence, Tuple, Union

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from tmc_testlib import encode_command  # noqa: E402

PASSWORD = "s3cret-pw"
QUIET = 0.3          # seconds of silence that end a reply without sentinel
TIMEOUT = 10.0       # upper bound for one exchange

# An unknown command gets the same error before and after AUTH, so it
# marks the end of the replies on any connection.
SENTINEL = encode_command("TMC-AUTH-SENTINEL")
SENTINEL_REPLY = (b"-ERR unknown command 'TMC-AUTH-SENTINEL', "
                  b"with args beginning with: \r\n")

NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = (b"-WRONGPASS invalid username-password pair or user is "
             b"disabled.\r\n")
HELLO_NOAUTH = (b"-NOAUTH HELLO must be called with the client already "
                b"authenticated, otherwise the HELLO AUTH <user> <pass> "
                b"option can be used to authenticate the client and select "
                b"the RESP protocol version at the same time\r\n")
NO_PASSWORD = (b"-ERR AUTH <password> called without any password "
               b"configured for the default user. Are you sure your "
               b"configuration is correct?\r\n")
MULTIBULK_LIMIT = b"-ERR Protocol error: unauthenticated multibulk length\r\n"
BULK_LIMIT = b"-ERR Protocol error: unauthenticated bulk length\r\n"

HELLO_ID_RE = re.compile(rb"\$2\r\nid\r\n:\d+\r\n")


def C(*args: Union[bytes, str, int]) -> bytes:
    """One command as a multibulk request."""
    return encode_command(*args)


AUTH_OK = C("AUTH", PASSWORD)


class Case(NamedTuple):
    """One differential case: data is sent on a fresh connection.

    sentinel: False when the server closes the connection or the input
    ends inside a request, so reading ends on EOF or silence instead.
    expect: bytes the replies must start with (a check that does not rely
    on Redis alone); closed: whether the server must close the connection
    (None: not checked beyond the comparison).
    """
    id: str
    data: bytes
    sentinel: bool = True
    expect: bytes = b""
    closed: Union[bool, None] = None


DEL10 = C("DEL", *["k%d" % i for i in range(9)])      # 10 arguments
DEL11 = C("DEL", *["k%d" % i for i in range(10)])     # 11 arguments
BULK_16384 = C("SET", "big", b"v" * 16384)
BULK_16385 = C("SET", "big", b"v" * 16385)

# With requirepass.
AUTH_CASES: List[Case] = [
    # -- NOAUTH before AUTH --
    Case("noauth-get", C("GET", "a"), expect=NOAUTH),
    Case("noauth-set", C("SET", "a", "1") + C("GET", "a"),
         expect=NOAUTH + NOAUTH),
    Case("noauth-keyspace", C("DEL", "a") + C("GETDEL", "a") +
         C("KEYS", "*") + C("DBSIZE") + C("EXISTS", "a") + C("FLUSHALL"),
         expect=NOAUTH * 6),
    Case("noauth-ping", C("PING") + C("PING", "hi"), expect=NOAUTH * 2),
    Case("noauth-misc", C("ECHO", "x") + C("SELECT", "0") + C("INFO") +
         C("COMMAND") + C("CONFIG", "GET", "requirepass") +
         C("CLIENT", "SETNAME", "n") + C("CLIENT", "LIST"),
         expect=NOAUTH * 7),
    Case("noauth-shutdown", C("SHUTDOWN", "NOSAVE") + C("PING"),
         expect=NOAUTH * 2),
    Case("noauth-inline", b"PING\r\nGET a\r\n", expect=NOAUTH * 2),
    Case("noauth-lowercase", C("get", "a") + C("ping"), expect=NOAUTH * 2),
    Case("quit-without-auth", C("QUIT") + C("GET", "a"), sentinel=False,
         expect=b"+OK\r\n", closed=True),
    Case("unknown-before-noauth", C("FOOBAR", "x"),
         expect=b"-ERR unknown command 'FOOBAR'"),
    Case("arity-before-noauth", C("GET") + C("SET", "a") + C("PING", "a", "b"),
         expect=b"-ERR wrong number of arguments for 'get' command\r\n"
                b"-ERR wrong number of arguments for 'set' command\r\n"),
    # -- AUTH --
    Case("auth-ok", AUTH_OK + C("SET", "a", "1") + C("GET", "a") + C("PING"),
         expect=b"+OK\r\n+OK\r\n$1\r\n1\r\n+PONG\r\n"),
    Case("auth-inline", b"AUTH " + PASSWORD.encode() + b"\r\nPING\r\n",
         expect=b"+OK\r\n+PONG\r\n"),
    Case("auth-default-ok", C("AUTH", "default", PASSWORD) + C("GET", "a"),
         expect=b"+OK\r\n$-1\r\n"),
    Case("auth-wrong", C("AUTH", "wrong") + C("GET", "a"),
         expect=WRONGPASS + NOAUTH),
    Case("auth-default-wrong", C("AUTH", "default", "wrong") + C("GET", "a"),
         expect=WRONGPASS + NOAUTH),
    Case("auth-other-user", C("AUTH", "otheruser", PASSWORD) + C("GET", "a"),
         expect=WRONGPASS + NOAUTH),
    Case("auth-near-misses", C("AUTH", PASSWORD.upper()) +
         C("AUTH", PASSWORD[:-1]) + C("AUTH", PASSWORD + "x") +
         C("AUTH", PASSWORD + "\x00") + C("AUTH", "") + C("AUTH", "Default",
                                                         PASSWORD) +
         C("GET", "a"), expect=WRONGPASS * 6 + NOAUTH),
    Case("auth-arity", C("AUTH"),
         expect=b"-ERR wrong number of arguments for 'auth' command\r\n"),
    Case("auth-syntax", C("AUTH", "a", "b", "c") +
         C("AUTH", "default", PASSWORD, "x") + C("GET", "a"),
         expect=b"-ERR syntax error\r\n-ERR syntax error\r\n" + NOAUTH),
    Case("auth-pipelined", C("GET", "a") + AUTH_OK + C("GET", "a"),
         expect=NOAUTH + b"+OK\r\n$-1\r\n"),
    Case("auth-then-config-get", AUTH_OK + C("CONFIG", "GET", "requirepass"),
         expect=b"+OK\r\n*2\r\n$11\r\nrequirepass\r\n"),
    Case("failed-auth-after-success", AUTH_OK + C("SET", "a", "1") +
         C("AUTH", "bad") + C("GET", "a") + C("AUTH", "nobody", "x") +
         C("GET", "a"),
         expect=b"+OK\r\n+OK\r\n" + WRONGPASS + b"$1\r\n1\r\n" + WRONGPASS +
         b"$1\r\n1\r\n"),
    Case("auth-twice", AUTH_OK + AUTH_OK + C("PING"),
         expect=b"+OK\r\n+OK\r\n+PONG\r\n"),
    # -- HELLO --
    Case("hello-noauth", C("HELLO") + C("HELLO", "2") +
         C("HELLO", "2", "SETNAME", "n"), expect=HELLO_NOAUTH * 3),
    Case("hello-auth-ok", C("HELLO", "2", "AUTH", "default", PASSWORD) +
         C("GET", "a"), expect=b"*14\r\n$6\r\nserver\r\n"),
    Case("hello-auth-setname", C("HELLO", "2", "AUTH", "default", PASSWORD,
                                 "SETNAME", "worker") +
         C("CLIENT", "GETNAME"), expect=b"*14\r\n"),
    Case("hello-auth-wrong", C("HELLO", "2", "AUTH", "default", "wrong") +
         C("GET", "a"), expect=WRONGPASS + NOAUTH),
    Case("hello-auth-other-user", C("HELLO", "2", "AUTH", "bob", PASSWORD) +
         C("GET", "a"), expect=WRONGPASS + NOAUTH),
    Case("hello-auth-missing-pass", C("HELLO", "2", "AUTH", "default") +
         C("GET", "a"),
         expect=b"-ERR Syntax error in HELLO option 'AUTH'\r\n" + NOAUTH),
    Case("hello-after-auth", AUTH_OK + C("HELLO", "2"),
         expect=b"+OK\r\n*14\r\n"),
    # -- The parser's limits for unauthenticated clients --
    Case("limit-multibulk-11", b"*11\r\n", sentinel=False,
         expect=MULTIBULK_LIMIT, closed=True),
    Case("limit-multibulk-huge", b"*1048576\r\n", sentinel=False,
         expect=MULTIBULK_LIMIT, closed=True),
    Case("limit-multibulk-11-full", DEL11, sentinel=False,
         expect=MULTIBULK_LIMIT, closed=True),
    Case("limit-multibulk-10-header", b"*10\r\n", sentinel=False,
         expect=b"", closed=False),
    Case("limit-multibulk-10", DEL10, expect=NOAUTH, closed=False),
    Case("limit-bulk-16385-header",
         b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$16385\r\n",
         sentinel=False, expect=BULK_LIMIT, closed=True),
    Case("limit-bulk-huge", b"*2\r\n$3\r\nGET\r\n$100000000\r\n",
         sentinel=False, expect=BULK_LIMIT, closed=True),
    Case("limit-bulk-16385-full", BULK_16385, sentinel=False,
         expect=BULK_LIMIT, closed=True),
    Case("limit-bulk-16384-header",
         b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$16384\r\n",
         sentinel=False, expect=b"", closed=False),
    Case("limit-bulk-16384", BULK_16384 + C("GET", "big"),
         expect=NOAUTH + NOAUTH, closed=False),
    Case("limit-after-failed-auth", C("AUTH", "bad") + b"*11\r\n",
         sentinel=False, expect=WRONGPASS + MULTIBULK_LIMIT, closed=True),
    Case("limit-lifted-by-auth", AUTH_OK + DEL11 + BULK_16385 +
         C("EXISTS", "big"), expect=b"+OK\r\n:0\r\n+OK\r\n:1\r\n",
         closed=False),
    Case("limit-lifted-by-hello-auth",
         C("HELLO", "2", "AUTH", "default", PASSWORD) + DEL11,
         expect=b"*14\r\n", closed=False),
    Case("inline-long-unauth", b"A" * 20000 + b"\r\n",
         expect=b"-ERR unknown command 'AAAA"),
]

# Without requirepass.
OPEN_CASES: List[Case] = [
    Case("auth-without-password", C("AUTH", "x") + C("PING"),
         expect=NO_PASSWORD + b"+PONG\r\n"),
    Case("auth-empty-without-password", C("AUTH", ""),
         expect=NO_PASSWORD),
    Case("auth-default-any", C("AUTH", "default", "x") +
         C("AUTH", "default", "") + C("PING"),
         expect=b"+OK\r\n+OK\r\n+PONG\r\n"),
    Case("auth-other-user-open", C("AUTH", "other", "x") + C("PING"),
         expect=WRONGPASS + b"+PONG\r\n"),
    Case("auth-syntax-open", C("AUTH", "a", "b", "c"),
         expect=b"-ERR syntax error\r\n"),
    Case("hello-auth-default-open", C("HELLO", "2", "AUTH", "default", "x") +
         C("PING"), expect=b"*14\r\n"),
    Case("hello-auth-other-open", C("HELLO", "2", "AUTH", "bob", "x"),
         expect=WRONGPASS),
    Case("no-limit-open", b"*11\r\n", sentinel=False, expect=b"",
         closed=False),
    Case("no-limit-open-full", DEL11 + BULK_16385 + C("EXISTS", "big"),
         expect=b":0\r\n+OK\r\n:1\r\n"),
    Case("config-get-open", C("CONFIG", "GET", "requirepass"),
         expect=b"*2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n"),
]


# ---- Servers ----

class AuthRedisServer(tmc_testlib.RedisServer):
    """redis-server that may require a password: NOAUTH to the readiness
    PING means it is up, just as PONG does."""

    def _ping(self) -> bool:
        try:
            out = tmc_testlib.raw_exchange(
                str(self.unixsocket), C("PING"), timeout=1.0, quiet=0.2)
        except OSError:
            return False
        return out.startswith((b"+PONG", b"-NOAUTH"))


def _require_redis() -> None:
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")


def redis_args(password: Union[str, None]) -> List[str]:
    args = ["--databases", "1"]
    if password is not None:
        args += ["--requirepass", password]
    return args


def our_args(password: Union[str, None]) -> List[str]:
    return ["--requirepass", password] if password is not None else []


@pytest.fixture(scope="module", params=tmc_testlib.backends())
def backend(request: pytest.FixtureRequest) -> str:
    """The event backend under test (module scope: the servers below
    serve every case of one backend)."""
    return str(request.param)


@pytest.fixture(scope="module")
def ref_auth() -> Iterator[tmc_testlib.RedisServer]:
    _require_redis()
    with AuthRedisServer(args=redis_args(PASSWORD)) as srv:
        yield srv


@pytest.fixture(scope="module")
def ref_open() -> Iterator[tmc_testlib.RedisServer]:
    _require_redis()
    with AuthRedisServer(args=redis_args(None)) as srv:
        yield srv


@contextmanager
def our_server(backend: str, password: Union[str, None]
                ) -> Iterator[tmc_testlib.Server]:
    path = tmc_testlib.server_path()
    if not os.access(path, os.X_OK):
        pytest.fail("server binary not built: %s" % path, pytrace=False)
    srv = tmc_testlib.Server(backend=backend, unixsocket=True,
                             args=our_args(password))
    try:
        yield srv
    finally:
        srv.stop(check=True)


@pytest.fixture(scope="module")
def ours_auth(backend: str) -> Iterator[tmc_testlib.Server]:
    with our_server(backend, PASSWORD) as srv:
        yield srv


@pytest.fixture(scope="module")
def ours_open(backend: str) -> Iterator[tmc_testlib.Server]:
    with our_server(backend, None) as srv:
        yield srv


# ---- Exchanges ----

def read_until(sock: socket.socket, done: bytes = b"",
               quiet: float = QUIET, check_closed: bool = True
               ) -> Tuple[bytes, bool]:
    """Read what the server sends: until the bytes end with done (if
    given), until it closes, or until quiet seconds pass without data.
    Returns (bytes, closed); check_closed=False skips the short wait
    that tells whether the server closed right after done."""
    out = bytearray()
    deadline = time.monotonic() + TIMEOUT
    while not (done and out.endswith(done)):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(min(left, quiet) if not done else left)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            break
        except ConnectionResetError:
            return bytes(out), True
        if not chunk:
            return bytes(out), True
        out += chunk
    if done and out.endswith(done):
        if not check_closed:
            return bytes(out[:-len(done)]), False
        # The sentinel was answered; a closed connection would show as EOF
        # right after it.
        sock.settimeout(0.05)
        try:
            closed = sock.recv(1) == b""
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
        return bytes(out[:-len(done)]), closed
    return bytes(out), False


def exchange(path: str, data: bytes, sentinel: bool,
             check_closed: bool = True) -> Tuple[bytes, bool]:
    """Send data on a fresh connection; return (replies, closed)."""
    with tmc_testlib.connect(path, TIMEOUT) as s:
        try:
            s.sendall(data + (SENTINEL if sentinel else b""))
        except (BrokenPipeError, ConnectionResetError):
            pass
        out, closed = read_until(s, SENTINEL_REPLY if sentinel else b"",
                                 check_closed=check_closed)
    return HELLO_ID_RE.sub(b"$2\r\nid\r\n:ID\r\n", out), closed


def flush(path: str, password: Union[str, None]) -> None:
    """Empty the keyspace (authenticating first if needed)."""
    pre = C("AUTH", password) if password is not None else b""
    want = (b"+OK\r\n" if password is not None else b"") + b"+OK\r\n"
    out, _ = exchange(path, pre + C("FLUSHALL"), sentinel=True,
                      check_closed=False)
    assert out == want, out


def check_case(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
               case: Case, password: Union[str, None]) -> None:
    assert ref.unixsocket and ours.unixsocket
    flush(ref.unixsocket, password)
    flush(ours.unixsocket, password)
    want = exchange(ref.unixsocket, case.data, case.sentinel)
    got = exchange(ours.unixsocket, case.data, case.sentinel)
    # Our own expectations first, so a change in Redis cannot hide a bug.
    assert got[0].startswith(case.expect), (
        "%s: expected the replies to start with %r, got %r"
        % (case.id, case.expect[:200], got[0][:400]))
    if case.closed is not None:
        assert got[1] == case.closed, (
            "%s: connection %s" % (case.id, "stayed open" if case.closed
                                   else "was closed"))
    assert got == want, (
        "%s: differs from redis-server\n  redis: %r (closed=%s)\n"
        "  ours:  %r (closed=%s)" % (case.id, want[0][:400], want[1],
                                     got[0][:400], got[1]))


@pytest.mark.parametrize("case", AUTH_CASES, ids=[c.id for c in AUTH_CASES])
def test_requirepass_same_bytes(ref_auth: tmc_testlib.RedisServer,
                                ours_auth: tmc_testlib.Server,
                                case: Case) -> None:
    check_case(ref_auth, ours_auth, case, PASSWORD)


@pytest.mark.parametrize("case", OPEN_CASES, ids=[c.id for c in OPEN_CASES])
def test_no_requirepass_same_bytes(ref_open: tmc_testlib.RedisServer,
                                   ours_open: tmc_testlib.Server,
                                   case: Case) -> None:
    check_case(ref_open, ours_open, case, None)


def test_bytewise_auth(ref_auth: tmc_testlib.RedisServer,
                       ours_auth: tmc_testlib.Server) -> None:
    """AUTH and a command split into one-byte writes: same replies."""
    data = C("GET", "a") + AUTH_OK + C("SET", "a", "1") + C("GET", "a")
    expect = NOAUTH + b"+OK\r\n+OK\r\n$1\r\n1\r\n"
    for srv in (ref_auth, ours_auth):
        assert srv.unixsocket
        flush(srv.unixsocket, PASSWORD)
        with tmc_testlib.connect(srv.unixsocket, TIMEOUT) as s:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                if i % 16 == 0:
                    time.sleep(0.001)
            s.sendall(SENTINEL)
            out, closed = read_until(s, SENTINEL_REPLY)
        assert (out, closed) == (expect, False), srv.name


def test_tcp_needs_auth(ours_auth: tmc_testlib.Server) -> None:
    """The TCP listener enforces the password like the Unix socket."""
    assert ours_auth.unixsocket
    flush(ours_auth.unixsocket, PASSWORD)
    out = tmc_testlib.raw_exchange(ours_auth.addr, C("GET", "a") + AUTH_OK +
                                   C("GET", "a"))
    assert out == NOAUTH + b"+OK\r\n$-1\r\n"


# ---- CONFIG SET requirepass at run time ----

# Steps: (connection name, request). Connections are opened on first use
# and kept; each step's replies (up to the sentinel) and whether the
# connection was closed are recorded.
Step = Tuple[str, bytes]

RUNTIME_FROM_NONE: List[Step] = [
    ("old", C("SET", "a", "1")),
    ("admin", C("CONFIG", "SET", "requirepass", "pw2")),
    ("old", C("GET", "a")),                         # still authenticated
    ("admin", C("GET", "a") + C("CONFIG", "GET", "requirepass")),
    ("new", C("GET", "a") + C("PING")),             # NOAUTH
    ("new", C("AUTH", "wrong") + C("GET", "a")),
    ("new", C("AUTH", "pw2") + C("GET", "a")),
    ("new2", C("AUTH", "default", "pw2") + C("DBSIZE")),
    ("new3", C("HELLO", "2", "AUTH", "default", "pw2")),
    ("new4", b"*11\r\n"),                           # limits apply again
    ("admin", C("CONFIG", "SET", "requirepass", "")),  # off again
    ("new5", C("GET", "a") + C("AUTH", "x")),
    ("new", C("GET", "a")),
]

RUNTIME_CHANGE: List[Step] = [
    ("old", C("AUTH", PASSWORD) + C("SET", "a", "1")),
    ("old", C("CONFIG", "SET", "requirepass", "next-pw")),
    ("old", C("GET", "a") + C("CONFIG", "GET", "requirepass")),
    ("new", C("AUTH", PASSWORD) + C("GET", "a")),   # the old one: WRONGPASS
    ("new", C("AUTH", "next-pw") + C("GET", "a")),
    ("unauth", C("GET", "a")),
    ("old", C("CONFIG", "SET", "requirepass", PASSWORD)),
    ("unauth", C("AUTH", PASSWORD) + C("GET", "a")),
]


def run_steps(path: str, steps: Sequence[Step]
              ) -> List[Tuple[str, bytes, bool]]:
    conns: Dict[str, socket.socket] = {}
    out: List[Tuple[str, bytes, bool]] = []
    try:
        for name, data in steps:
            if name not in conns:
                conns[name] = tmc_testlib.connect(path, TIMEOUT)
            s = conns[name]
            closes = data.startswith(b"*11\r\n")
            try:
                s.sendall(data + (b"" if closes else SENTINEL))
            except (BrokenPipeError, ConnectionResetError):
                pass
            reply, closed = read_until(s, b"" if closes else SENTINEL_REPLY)
            out.append((name, HELLO_ID_RE.sub(b"$2\r\nid\r\n:ID\r\n", reply),
                        closed))
    finally:
        for s in conns.values():
            s.close()
    return out


@pytest.mark.parametrize("start_password,steps,expect", [
    (None, RUNTIME_FROM_NONE, {
        2: b"$1\r\n1\r\n",
        4: NOAUTH + NOAUTH,
        6: b"+OK\r\n$1\r\n1\r\n",
        9: MULTIBULK_LIMIT,
        11: b"$1\r\n1\r\n" + NO_PASSWORD,
    }),
    (PASSWORD, RUNTIME_CHANGE, {
        2: b"$1\r\n1\r\n*2\r\n$11\r\nrequirepass\r\n$7\r\nnext-pw\r\n",
        3: WRONGPASS + NOAUTH,
        4: b"+OK\r\n$1\r\n1\r\n",
        5: NOAUTH,
        7: b"+OK\r\n$1\r\n1\r\n",
    }),
], ids=["from-none", "change"])
def test_config_set_requirepass(backend: str, start_password: Union[str, None],
                                steps: Sequence[Step],
                                expect: Dict[int, bytes]) -> None:
    """New connections need the new password; existing ones stay in."""
    _require_redis()
    with AuthRedisServer(args=redis_args(start_password)) as ref:
        assert ref.unixsocket
        want = run_steps(ref.unixsocket, steps)
    with our_server(backend, start_password) as srv:
        assert srv.unixsocket
        got = run_steps(srv.unixsocket, steps)
    for i, reply in expect.items():
        assert got[i][1] == reply, "step %d %r: got %r" % (i, steps[i], got[i])
    assert [c for _, _, c in got] == [c for _, _, c in want]
    for i, (w, g) in enumerate(zip(want, got)):
        assert w == g, "step %d %r:\n  redis: %r\n  ours:  %r" % (
            i, steps[i], w, g)


def test_empty_requirepass_option(backend: str) -> None:
    """--requirepass "" means no password, as in Redis."""
    with our_server(backend, "") as srv:
        assert srv.unixsocket
        out = tmc_testlib.raw_exchange(srv.unixsocket, C("PING"))
        assert out == b"+PONG\r\n"
