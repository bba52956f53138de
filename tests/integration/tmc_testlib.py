# SPDX-License-Identifier: MIT
"""Helpers shared by the Python integration tests (standard library only).

Start our server or a reference redis-server on a free loopback port or a
Unix socket, pick the event backends to cover, and exchange raw RESP bytes.
Every process started here is stopped by stop() or by leaving the ``with``
block, so a failing test never leaves a server behind.

Environment (set by ``make check``, see Makefile.am):
  TMC_SERVER     our server binary (else $top_builddir/src/tiny-mp-cache-server)
  TMC_BACKENDS   event backends to test, e.g. "epoll select"
  REDIS_SERVER   reference redis-server (else /usr/bin/redis-server)
  TMC_VALGRIND=1 run our server under valgrind; leaks make stop() fail
  CI=true        a missing tool fails the test instead of skipping it
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any, List, Optional, Sequence, Tuple, Union

__all__ = [
    "ServerError",
    "Server",
    "RedisServer",
    "Address",
    "free_port",
    "server_path",
    "redis_server_path",
    "backends",
    "in_ci",
    "valgrind_enabled",
    "require_tool",
    "ipv6_loopback_available",
    "connect",
    "encode_command",
    "parse_reply",
    "read_replies",
    "raw_exchange",
    "READY_RE",
    "RespError",
]

#: A socket address: a (host, port) tuple for TCP or a path for Unix.
Address = Union[Tuple[str, int], str]

#: The server's ready line (a complete line is searched); the pieces are
#: parsed by READY_TCP_RE, READY_UNIX_RE and READY_BACKEND_RE.
READY_RE = re.compile(r"Ready to accept connections[^\n]*\n")
READY_TCP_RE = re.compile(r"\btcp (\S+):(\d+)\b")
READY_UNIX_RE = re.compile(r"\bunix (\S+?)(?:,|\s|$)")
READY_BACKEND_RE = re.compile(r"event backend (\w+)")

VALGRIND_ARGS = [
    "valgrind",
    "-q",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect",
]


class ServerError(RuntimeError):
    """A server did not start, or did not stop as expected."""


# ---- Environment ----

def in_ci() -> bool:
    """Return True under CI (CI=true), where a missing tool is an error."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def valgrind_enabled() -> bool:
    """Return True if TMC_VALGRIND asks to run our server under valgrind."""
    return os.environ.get("TMC_VALGRIND", "") not in ("", "0", "no")


def server_path() -> str:
    """Return the path of our server binary ($TMC_SERVER or the build tree)."""
    path = os.environ.get("TMC_SERVER")
    if path:
        return path
    top = os.environ.get("top_builddir")
    if not top:
        # tests/integration/ -> the source tree, for in-tree builds.
        top = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
    return os.path.join(top, "src", "tiny-mp-cache-server")


def redis_server_path() -> str:
    """Return the reference redis-server ($REDIS_SERVER or /usr/bin)."""
    return os.environ.get("REDIS_SERVER") or "/usr/bin/redis-server"


def backends() -> List[str]:
    """Return the event backends to test, from TMC_BACKENDS."""
    names = os.environ.get("TMC_BACKENDS", "").split()
    return names or ["epoll", "select"]


def require_tool(name: str, what: Optional[str] = None) -> str:
    """Return the full path of a program, or skip the test if it is missing.

    name is a command name or a path. Under CI a missing tool fails the
    test (pytest.fail) instead, since CI installs every tool. what names
    the tool in the message (defaults to name).
    """
    import pytest  # only the tests need it, not the library

    path = shutil.which(name) if name else None
    if path and os.access(path, os.X_OK):
        return path
    msg = "required tool not found: %s (%r)" % (what or name, name)
    if in_ci():
        pytest.fail("CI=true: " + msg, pytrace=False)
    pytest.skip(msg)
    raise AssertionError("unreachable")


def require_module(name: str) -> None:
    """Skip the calling test module if the Python module name is missing.

    Call it at module level before importing name. Under CI, which
    installs every module the tests use, it does nothing: the import
    that follows then fails the run.
    """
    import pytest  # only the tests need it, not the library

    if not in_ci():
        pytest.importorskip(name)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on host a moment ago.

    Another process may take it before it is used; callers that bind it
    must retry (RedisServer does). Our server takes --port 0 instead.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ipv6_loopback_available() -> bool:
    """Return True if a TCP socket can be bound on ::1."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def connect(addr: Address, timeout: float = 5.0) -> socket.socket:
    """Open a blocking socket to addr ((host, port) or a Unix path)."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


# ---- RESP helpers ----

def encode_command(*args: Union[bytes, str, int]) -> bytes:
    """Encode one command as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespError(str):
    """An error reply ("-ERR ..."), the text without the leading '-'."""


def parse_reply(buf: bytes, pos: int = 0) -> Optional[Tuple[Any, int]]:
    """Parse one RESP2 (and simple RESP3) reply from buf at pos.

    Returns (value, next_pos), or None if buf holds only part of a reply.
    Values: simple string -> str, error -> RespError, integer -> int,
    bulk -> bytes, nil -> None, array/set/push -> list, map -> flat list
    of alternating keys and values. Raises ValueError on bytes
    that are not RESP.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind = buf[pos:pos + 1]
    line = buf[pos + 1:end]
    nxt = end + 2
    if kind == b"+":
        return line.decode("utf-8", "replace"), nxt
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), nxt
    if kind == b":":
        return int(line), nxt
    if kind == b"_":  # RESP3 null
        return None, nxt
    if kind == b"#":  # RESP3 boolean
        return line == b"t", nxt
    if kind == b",":  # RESP3 double
        return float(line), nxt
    if kind in (b"$", b"=", b"!"):  # bulk, verbatim, bulk error
        n = int(line)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            return None
        if buf[nxt + n:nxt + n + 2] != b"\r\n":
            raise ValueError("bulk not followed by CRLF at %d" % (nxt + n))
        return buf[nxt:nxt + n], nxt + n + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):  # array, set, push, map
        n = int(line)
        if n < 0:
            return None, nxt
        if kind in (b"%", b"|"):
            n *= 2
        items = []
        for _ in range(n):
            r = parse_reply(buf, nxt)
            if r is None:
                return None
            items.append(r[0])
            nxt = r[1]
        if kind == b"|":  # attributes precede the real reply
            return parse_reply(buf, nxt)
        return items, nxt
    raise ValueError("not a RESP reply at offset %d: %r" % (pos, buf[pos:pos + 20]))


def read_replies(sock: socket.socket, count: int,
                 timeout: float = 10.0) -> Tuple[List[Any], bytes]:
    """Read exactly count complete replies from sock.

    Returns (values, raw_bytes). Raises ServerError if the peer closes or
    the timeout passes first; bytes past the last reply are an error too.
    """
    buf = b""
    values: List[Any] = []
    pos = 0
    deadline = time.monotonic() + timeout
    while len(values) < count:
        r = parse_reply(buf, pos)
        if r is not None:
            values.append(r[0])
            pos = r[1]
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            raise ServerError("timeout: %d of %d replies, got %r"
                              % (len(values), count, buf[-200:]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            continue
        if not chunk:
            raise ServerError("connection closed after %d of %d replies: %r"
                              % (len(values), count, buf[-200:]))
        buf += chunk
    if pos != len(buf):
        raise ServerError("unexpected bytes after %d replies: %r"
                          % (count, buf[pos:pos + 200]))
    return values, buf


def raw_exchange(addr: Address, data: Union[bytes, Sequence[bytes]], *,
                 timeout: float = 10.0, quiet: float = 0.3,
                 shutdown_write: bool = False, delay: float = 0.0) -> bytes:
    """Send bytes to a server and return everything it answers.

    data is one bytes object or a sequence of chunks, sent with delay
    seconds between them (to exercise partial reads). Reading stops when
    the peer closes, when nothing arrives for quiet seconds, or after
    timeout seconds in total. With shutdown_write, the write side is shut
    down after sending (the server then sees EOF).
    """
    chunks = [data] if isinstance(data, (bytes, bytearray)) else list(data)
    out = bytearray()
    deadline = time.monotonic() + timeout
    with connect(addr, timeout) as s:
        for i, c in enumerate(chunks):
            if i and delay:
                time.sleep(delay)
            try:
                s.sendall(c)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server closed; collect what it said
        if shutdown_write:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(quiet, left))
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return bytes(out)


# ---- Processes ----

def _wait_or_kill(proc: subprocess.Popen, timeout: float) -> Tuple[int, bool]:
    """Wait for proc up to timeout, then SIGKILL it. Returns (code, killed)."""
    try:
        return proc.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=30), True


class _Process:
    """Common parts: temp dir, log file, start/stop, context manager."""

    name = "server"

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = None
        self.tmpdir: str = tempfile.mkdtemp(prefix="tmc-test-")
        self.logpath: str = os.path.join(self.tmpdir, "stderr.log")
        self.host: str = "127.0.0.1"
        self.port: Optional[int] = None
        self.unixsocket: Optional[str] = None
        self.returncode: Optional[int] = None
        self.argv: List[str] = []
        self.extra_logs: List[str] = []    # e.g. the server's --logfile

    @property
    def log(self) -> str:
        """Everything the process wrote to its stderr/stdout so far, then
        its --logfile (if it has one)."""
        out = []
        for path in [self.logpath] + self.extra_logs:
            try:
                with open(path, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    @property
    def addr(self) -> Tuple[str, int]:
        """The TCP address (host, port); ServerError if TCP is off."""
        if self.port is None:
            raise ServerError("%s has no TCP listener" % self.name)
        return (self.host, self.port)

    def connect(self, unix: bool = False, timeout: float = 5.0) -> socket.socket:
        """Open a socket to the server (TCP, or its Unix socket)."""
        if unix:
            if not self.unixsocket:
                raise ServerError("%s has no Unix socket" % self.name)
            return connect(self.unixsocket, timeout)
        return connect(self.addr, timeout)

    def _spawn(self, argv: List[str], env: Optional[dict] = None) -> None:
        """Start argv with stdout and stderr going to the log file."""
        self.argv = argv
        with open(self.logpath, "ab") as logf:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                cwd=self.tmpdir, env=env, start_new_session=True)

    def _fail_start(self, why: str) -> None:
        """Kill the process and raise ServerError with its output."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        code = self.proc.returncode if self.proc is not None else None
        self.proc = None
        log = self.log
        self._cleanup_dir()
        raise ServerError("%s: %s (exit code %s)\ncommand: %s\noutput:\n%s"
                          % (self.name, why, code, " ".join(self.argv), log))

    def _cleanup_dir(self) -> None:
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def stop_timeout(self) -> float:
        """Seconds to wait after SIGTERM before SIGKILL."""
        return 5.0

    def stop(self, check: bool = True, sig: int = signal.SIGTERM) -> int:
        """Stop the process with sig (SIGTERM) and return its exit code.

        Kills it if it has not exited after stop_timeout() seconds. With
        check, raise ServerError unless it exited by itself with code 0
        (under valgrind, 99 means memory errors or leaks). Safe to call
        twice; a process that already exited is just reaped.
        """
        if self.proc is None:
            return self.returncode if self.returncode is not None else 0
        proc = self.proc
        self.proc = None
        killed = False
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
            code, killed = _wait_or_kill(proc, self.stop_timeout())
        else:
            code = proc.returncode
        self.returncode = code
        log = self.log
        self._cleanup_dir()
        if check and (killed or code != 0):
            raise ServerError(
                "%s did not exit cleanly after %s: exit code %s%s\n"
                "command: %s\noutput:\n%s"
                % (self.name, signal.Signals(sig).name, code,
                   " (killed after timeout)" if killed else "",
                   " ".join(self.argv), log))
        return code

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # Do not hide the test's own exception behind a stop failure.
        self.stop(check=exc_type is None)

    def __del__(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


class Server(_Process):
    """Our tiny-mp-cache-server, started on a free port (--port 0).

    backend: "epoll"/"select" (--event-backend), None for the default.
    unixsocket: True for a socket in a fresh temp dir, a path, or None.
    args: extra command-line arguments.
    check_backend: check that the ready line names the requested backend.

    Usage::

        with Server(backend="select", unixsocket=True) as srv:
            raw_exchange(srv.addr, b"PING\\r\\n")
    """

    name = "tiny-mp-cache-server"

    def __init__(self, backend: Optional[str] = None,
                 args: Sequence[str] = (),
                 unixsocket: Union[bool, str, None] = None,
                 start: bool = True,
                 timeout: Optional[float] = None,
                 binary: Optional[str] = None,
                 valgrind: Optional[bool] = None,
                 check_backend: bool = True,
                 env: Optional[dict] = None) -> None:
        super().__init__()
        self.backend: Optional[str] = backend
        self.binary: str = binary or server_path()
        self.extra_args: List[str] = list(args)
        self.valgrind: bool = valgrind_enabled() if valgrind is None else valgrind
        self.timeout: float = timeout or (90.0 if self.valgrind else 10.0)
        self.check_backend = check_backend
        self.env = env
        self.ready_line: str = ""
        if unixsocket is True:
            self.unixsocket = os.path.join(self.tmpdir, "tmc.sock")
        elif unixsocket:
            self.unixsocket = str(unixsocket)
        if start:
            self.start()

    def stop_timeout(self) -> float:
        return 60.0 if self.valgrind else 5.0

    def command_line(self) -> List[str]:
        """The argv used to start the server."""
        argv = [self.binary]
        if "--port" not in self.extra_args:
            argv += ["--port", "0"]
        if self.backend:
            argv += ["--event-backend", self.backend]
        if self.unixsocket and "--unixsocket" not in self.extra_args:
            argv += ["--unixsocket", self.unixsocket]
        argv += self.extra_args
        if self.valgrind:
            argv = VALGRIND_ARGS + argv
        return argv

    def _ready_source(self) -> str:
        """The file the ready line goes to: --logfile if given, else stderr."""
        a = self.extra_args
        for i, arg in enumerate(a):
            if arg == "--logfile" and i + 1 < len(a) and a[i + 1]:
                return os.path.join(self.tmpdir, a[i + 1])
            if arg.startswith("--logfile="):
                return os.path.join(self.tmpdir, arg.split("=", 1)[1])
        return self.logpath

    def start(self) -> "Server":
        """Start the server and wait for its ready line.

        Raises ServerError (with the output) if it exits first or the
        line does not come within the timeout.
        """
        if not os.access(self.binary, os.X_OK):
            self._fail_start("server binary not found: %s" % self.binary)
        src = self._ready_source()
        if src != self.logpath:
            self.extra_logs = [src]
        self._spawn(self.command_line(), self.env)
        deadline = time.monotonic() + self.timeout
        assert self.proc is not None
        while True:
            text = ""
            try:
                with open(src, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                pass
            m = READY_RE.search(text)
            if m:
                break
            if self.proc.poll() is not None:
                self._fail_start("exited before the ready line")
            if time.monotonic() > deadline:
                self._fail_start("no ready line within %.0f s" % self.timeout)
            time.sleep(0.01)
        self.ready_line = m.group(0).rstrip("\n")
        tcp = READY_TCP_RE.search(self.ready_line)
        unix = READY_UNIX_RE.search(self.ready_line)
        bk = READY_BACKEND_RE.search(self.ready_line)
        upath = unix.group(1) if unix else None
        used = bk.group(1) if bk else None
        if tcp:
            host = tcp.group(1)
            self.host = host[1:-1] if host.startswith("[") else host
            self.port = int(tcp.group(2))
        else:
            self.port = None
        if upath and self.unixsocket and upath != self.unixsocket:
            self._fail_start("ready line names unix socket %s, expected %s"
                             % (upath, self.unixsocket))
        if self.check_backend and self.backend and used != self.backend:
            self._fail_start("ready line names backend %s, expected %s"
                             % (used, self.backend))
        if self.unixsocket and not upath:
            self._fail_start("ready line does not name the unix socket")
        if upath and not self.unixsocket:    # given through args
            self.unixsocket = upath
        self.backend = used or self.backend
        return self

    def __enter__(self) -> "Server":
        return self


class RedisServer(_Process):
    """The reference redis-server with persistence off.

    tcp=False (the default) listens only on a Unix socket in a temp dir
    (--port 0 disables TCP in Redis); it is ready when the socket
    accepts a connection and answers PING. tcp=True also listens on
    127.0.0.1 at a free port, retrying with another port if the bind
    fails because someone took it in between.
    """

    name = "redis-server"

    def __init__(self, tcp: bool = False, args: Sequence[str] = (),
                 start: bool = True, timeout: float = 10.0,
                 binary: Optional[str] = None) -> None:
        super().__init__()
        self.binary: str = binary or redis_server_path()
        self.tcp = tcp
        self.extra_args: List[str] = list(args)
        self.timeout = timeout
        self.unixsocket = os.path.join(self.tmpdir, "redis.sock")
        if start:
            self.start()

    def command_line(self, port: int) -> List[str]:
        """The argv for a given TCP port (0: no TCP)."""
        return [self.binary, "--port", str(port),
                "--bind", "127.0.0.1",
                "--unixsocket", str(self.unixsocket),
                "--unixsocketperm", "700",
                "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--dir", self.tmpdir,
                "--logfile", ""] + self.extra_args

    def _ping(self) -> bool:
        """Return True if the Unix socket answers PING."""
        try:
            out = raw_exchange(str(self.unixsocket), b"*1\r\n$4\r\nPING\r\n",
                               timeout=1.0, quiet=0.2)
        except OSError:
            return False
        return out.startswith(b"+PONG")

    def start(self) -> "RedisServer":
        """Start redis-server and wait until it answers."""
        if not os.access(self.binary, os.X_OK):
            self._fail_start("redis-server not found: %s" % self.binary)
        for _attempt in range(5):
            port = free_port() if self.tcp else 0
            self._spawn(self.command_line(port))
            assert self.proc is not None
            deadline = time.monotonic() + self.timeout
            while True:
                if self.proc.poll() is not None:
                    break
                if os.path.exists(str(self.unixsocket)) and self._ping():
                    self.port = port if self.tcp else None
                    return self
                if time.monotonic() > deadline:
                    self._fail_start("not answering within %.0f s"
                                     % self.timeout)
                time.sleep(0.01)
            # It exited: a lost race for the port is worth a retry.
            if not (self.tcp and "Address already in use" in self.log):
                self._fail_start("exited during startup")
        self._fail_start("could not bind a free port after 5 attempts")
        raise AssertionError("unreachable")

    def __enter__(self) -> "RedisServer":
        return self
