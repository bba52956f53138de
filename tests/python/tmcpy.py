# SPDX-License-Identifier: MIT
# Helpers for the tiny_mp_cache tests: free ports, scripted fake servers,
# subprocesses and multiprocessing children that are always reaped,
# locating the tools, a custom serializer.

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def need_tool(name, env=None):
    """Path of a tool ($env or PATH, then /usr/bin, /usr/sbin); skip the
    test if it is missing, except under CI=true where that is a failure."""
    path = os.environ.get(env) if env else None
    if not path:
        path = shutil.which(name, path=os.environ.get("PATH", "") +
                            ":/usr/bin:/usr/sbin:/usr/local/bin")
    if not path:
        if IN_CI:
            pytest.fail(f"{name} is required under CI=true but was not found")
        pytest.skip(f"{name} not found")
    return path


@contextlib.contextmanager
def redis_server():
    """A redis-server of our own, on a free loopback port and a Unix
    socket in a temporary directory, stopped on exit: yields a dict with
    its "port", "address" (host:port) and "unix" (unix://path) addresses.
    Skipped when redis-server is missing (a failure under CI=true)."""
    from tiny_mp_cache import TinyCache
    exe = need_tool("redis-server", "REDIS_SERVER")
    with tempfile.TemporaryDirectory(prefix="tmc-redis-") as tmp:
        sock = os.path.join(tmp, "redis.sock")
        for _attempt in range(5):
            port = free_port()
            proc = subprocess.Popen(
                [exe, "--port", str(port), "--bind", "127.0.0.1",
                 "--unixsocket", sock, "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", tmp,
                 "--daemonize", "no", "--loglevel", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                with TinyCache(f"127.0.0.1:{port}", connect_timeout=10) as c:
                    if c.ping():
                        break
            except ConnectionError:
                pass
            proc.kill()
            proc.wait(10)
        else:
            pytest.fail("could not start redis-server (5 free ports tried)")
        try:
            yield {"port": port, "address": f"127.0.0.1:{port}",
                   "unix": f"unix://{sock}"}
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def python_env():
    """The environment for a child Python that must import the package
    under test the way this process does."""
    import tiny_mp_cache
    env = dict(os.environ)
    parent = os.path.dirname(os.path.dirname(tiny_mp_cache.__file__))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (parent, env.get("PYTHONPATH", "")) if p)
    return env


class Child:
    """A subprocess that is always reaped: use as a context manager."""

    def __init__(self, args, **kw):
        kw.setdefault("env", python_env())
        self.proc = subprocess.Popen(args, **kw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def signal(self, signum):
        self.proc.send_signal(signum)


def python_child(code, *args, **kw):
    """Run `code` in a new interpreter (stdout/stderr captured)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return Child([sys.executable, "-c", code] + [str(a) for a in args], **kw)


def wait_for(pred, timeout, what):
    """Poll pred() until true; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def port_is_free(port, host="127.0.0.1"):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def read_command(conn, buf=b""):
    """Read one multibulk command from conn; return (args, rest) or
    (None, b"") at EOF. Enough RESP for the fake servers below."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = conn.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk

    def line():
        nonlocal buf
        while b"\r\n" not in buf:
            need(len(buf) + 1)
        ln, buf = buf.split(b"\r\n", 1)
        return ln

    try:
        head = line()
        assert head.startswith(b"*"), head
        args = []
        for _ in range(int(head[1:])):
            n = int(line()[1:])
            need(n + 2)
            args.append(buf[:n])
            buf = buf[n + 2:]
        return args, buf
    except (EOFError, ConnectionError):
        return None, b""


class FakeServer:
    """A TCP server on a free port that runs handler(conn, index) in a
    thread for each connection (index counts from 0). Records every
    command it read through read_command in .commands."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.connections = 0
        self.commands = []
        self.threads = []
        self.conns = []
        self.closing = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.closing:
                conn.close()
                return
            index = self.connections
            self.connections += 1
            self.conns.append(conn)
            t = threading.Thread(target=self._run, args=(conn, index),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _run(self, conn, index):
        try:
            self.handler(self, conn, index)
        except OSError:
            pass
        finally:
            conn.close()

    def read(self, conn):
        args, _ = read_command(conn)
        if args is not None:
            self.commands.append(args)
        return args

    def close(self):
        self.closing = True
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1):
                pass
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads + [self.acceptor]:
            t.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def first_copy_dropped(replies):
    """A FakeServer handler that drops the first copy of each command (its
    connection closed, no reply) and answers every later copy, on any
    connection, with replies[name]: what a client that retries once after
    a broken connection needs to get its answer."""
    seen = set()

    def handler(fake, conn, index):
        while True:
            args = fake.read(conn)
            if args is None:
                return
            cmd = args[0]
            if cmd not in seen:
                seen.add(cmd)
                return                      # drop it without replying
            conn.sendall(replies[cmd])

    return handler


@contextlib.contextmanager
def processes(ctx, count, target, args):
    """Start count processes of the multiprocessing context ctx, each
    running target(*args), and yield their list; any still alive on exit
    (a test that failed or timed out) is killed and reaped."""
    children = [ctx.Process(target=target, args=args) for _ in range(count)]
    try:
        for p in children:
            p.start()
        yield children
    finally:
        for p in children:
            if p.is_alive():
                p.kill()
                p.join()


class Tagged:
    """A custom serializer instance with state (pickled as itself): JSON
    after a tag; data without the tag does not decode (ValueError)."""

    def __init__(self, tag):
        self.tag = tag

    def dumps(self, obj):
        return self.tag + json.dumps(obj).encode()

    def loads(self, data):
        if not data.startswith(self.tag):
            raise ValueError(f"untagged: {data!r}")
        return json.loads(data[len(self.tag):])


def pid_alive(pid):
    """True while pid runs (a zombie nobody reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

