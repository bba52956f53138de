# SPDX-License-Identifier: MIT
# serve(), serve_unix(), Server and spawn(): startup, a taken port,
# SIGTERM/SIGINT shutdown, stopping from a thread, Unix socket files,
# readiness, and redis-cli against serve().

import errno
import inspect
import logging
import os
import queue
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from tmcpy import (free_port, need_tool, pid_alive, port_is_free,
                   python_child, wait_for)
from tiny_mp_cache import Server, TinyCache, serve, serve_unix, spawn

SERVE_CODE = """
import signal, sys
from tiny_mp_cache import serve
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGINT, signal.default_int_handler)
serve(int(sys.argv[1]), unixsocket=sys.argv[2] or None,
      event_backend=sys.argv[3], loglevel="notice")
print("serve returned", flush=True)
"""


def start_serve(port, unixsocket, backend):
    return python_child(SERVE_CODE, port, unixsocket or "", backend)


def wait_ready(addr):
    with TinyCache(addr, connect_timeout=30) as c:
        assert c.ping()


# ---- Taken port: OSError at once ----

@pytest.fixture
def taken_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


def test_taken_port_server(taken_port):
    t0 = time.monotonic()
    with pytest.raises(OSError) as ei:
        Server(taken_port, loglevel="nothing")
    assert time.monotonic() - t0 < 2
    assert str(taken_port) in str(ei.value) or "in use" in str(ei.value)
    assert ei.value.errno == errno.EADDRINUSE


def test_taken_port_serve(taken_port):
    t0 = time.monotonic()
    with pytest.raises(OSError) as ei:
        serve(taken_port, loglevel="nothing")
    assert time.monotonic() - t0 < 2
    assert ei.value.errno == errno.EADDRINUSE
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_taken_port_spawn(taken_port):
    t0 = time.monotonic()
    with pytest.raises(OSError) as ei:
        spawn(port=taken_port, loglevel="nothing")
    assert time.monotonic() - t0 < 15
    assert ei.value.errno == errno.EADDRINUSE
    assert str(taken_port) in str(ei.value) or "in use" in str(ei.value)


def test_taken_port_process(taken_port, backend):
    with start_serve(taken_port, None, backend) as child:
        out, err = child.proc.communicate(timeout=30)
    assert child.proc.returncode == 1
    assert b"OSError" in err
    assert b"serve returned" not in out


# ---- Signals ----

def test_sigterm_exits_cleanly(backend, short_tmp):
    port = free_port()
    path = os.path.join(short_tmp, "term.sock")
    with start_serve(port, path, backend) as child:
        wait_ready(f"127.0.0.1:{port}")
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        c = TinyCache(f"127.0.0.1:{port}")
        c.set("k", b"v")                      # a connected client
        t0 = time.monotonic()
        child.signal(signal.SIGTERM)
        out, err = child.proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 10
        assert child.proc.returncode == -signal.SIGTERM
        assert b"serve returned" not in out    # as an unhandled SIGTERM
        assert b"Traceback" not in err
        c.close()
    assert not os.path.exists(path)            # the socket file is gone
    assert port_is_free(port)
    with pytest.raises(ConnectionError):
        TinyCache(f"127.0.0.1:{port}", connect_timeout=0).pop("k")


def test_sigint_raises_keyboardinterrupt(backend, short_tmp):
    port = free_port()
    path = os.path.join(short_tmp, "int.sock")
    with start_serve(port, path, backend) as child:
        wait_ready(f"unix://{path}")
        t0 = time.monotonic()
        child.signal(signal.SIGINT)
        out, err = child.proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 10
        # An uncaught KeyboardInterrupt ends Python by SIGINT (3.8+).
        assert child.proc.returncode in (-signal.SIGINT, 1)
        assert b"KeyboardInterrupt" in err
        assert b"serve returned" not in out
    assert not os.path.exists(path)
    assert port_is_free(port)


def test_sigint_caught_by_caller(backend):
    port = free_port()
    code = """
import signal, sys
from tiny_mp_cache import serve
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    serve(int(sys.argv[1]), event_backend=sys.argv[2])
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    with python_child(code, port, backend) as child:
        wait_ready(f"127.0.0.1:{port}")
        child.signal(signal.SIGINT)
        out, err = child.proc.communicate(timeout=30)
    assert child.proc.returncode == 0, err
    assert out == b"interrupted\n"
    assert port_is_free(port)


def test_own_sigterm_handler_is_kept(backend):
    port = free_port()
    code = """
import signal, sys
from tiny_mp_cache import serve
def on_term(signum, frame):
    print("my handler", flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, on_term)
try:
    serve(int(sys.argv[1]), event_backend=sys.argv[2])
finally:
    print("finally ran", flush=True)
"""
    with python_child(code, port, backend) as child:
        wait_ready(f"127.0.0.1:{port}")
        child.signal(signal.SIGTERM)
        out, err = child.proc.communicate(timeout=30)
    assert child.proc.returncode == 3, err
    assert out == b"my handler\nfinally ran\n"
    assert port_is_free(port)


def test_multiprocessing_terminate(backend):
    # The original README's pattern: serve in a daemon mp.Process, then
    # terminate() it.
    port = free_port()
    code = """
import multiprocessing as mp, sys
from tiny_mp_cache import serve, TinyCache
mp.set_start_method("fork", force=True)
port = int(sys.argv[1])
p = mp.Process(target=serve, args=(port,),
               kwargs={"event_backend": sys.argv[2], "loglevel": "warning"},
               daemon=True)
p.start()
c = TinyCache(f"127.0.0.1:{port}", connect_timeout=30)
c.set("foo", b"bar")
assert c.get("foo") == b"bar"
p.terminate()
p.join(10)
print(p.exitcode, flush=True)
"""
    with python_child(code, port, backend) as child:
        out, err = child.proc.communicate(timeout=60)
    assert child.proc.returncode == 0, err
    assert out.split() == [str(-signal.SIGTERM).encode()]
    assert port_is_free(port)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_child_outlives_no_parent(method):
    # serve() in an mp.Process whose parent is SIGKILLed: the child stops
    # its server (the port comes free) instead of living on as an orphan.
    port = free_port()
    code = """
import multiprocessing as mp, os, sys, time
from tiny_mp_cache import serve, TinyCache
if __name__ == "__main__":
    mp.set_start_method(sys.argv[2], force=True)
    port = int(sys.argv[1])
    p = mp.Process(target=serve, args=(port,), kwargs={"loglevel": "warning"})
    p.start()
    c = TinyCache(f"127.0.0.1:{port}", connect_timeout=30)
    c.set("foo", b"bar")
    print(p.pid, flush=True)
    time.sleep(60)
"""
    with python_child(code, port, method) as parent:
        line = parent.proc.stdout.readline()
        child_pid = int(line)
        assert not port_is_free(port)
        parent.proc.kill()
        parent.proc.wait(10)
        wait_for(lambda: port_is_free(port) and not pid_alive(child_pid),
                 15, "the orphaned child to stop its server")


def test_embedded_logs_go_to_logging(capfd):
    # The embedded server's lines reach logging's "tiny_mp_cache" logger
    # (the ready line as INFO), not the process's standard error.
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("tiny_mp_cache")
    handler = Keep(level=logging.DEBUG)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        srv = Server(0, loglevel="notice")
        t = threading.Thread(target=srv.run)
        t.start()
        with TinyCache(f"127.0.0.1:{srv.port}", connect_timeout=10) as c:
            assert c.ping()
        srv.stop()
        t.join(30)
        srv.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    ready = [r for r in records
             if r.getMessage().startswith("Ready to accept connections")]
    assert len(ready) == 1 and ready[0].levelno == logging.INFO
    assert any(r.getMessage().startswith("Shutting down") for r in records)
    assert "Ready to accept" not in capfd.readouterr().err


def test_spawn_is_quiet(short_tmp):
    # spawn()'s child logs nothing on the shared standard error by
    # default (its lines go to logging, where only warnings show).
    code = """
from tiny_mp_cache import spawn, TinyCache
with spawn() as srv:
    with TinyCache(srv.address) as c:
        assert c.ping()
print("done", flush=True)
"""
    with python_child(code) as child:
        out, err = child.proc.communicate(timeout=60)
    assert child.proc.returncode == 0, err
    assert out == b"done\n"
    assert err == b"", err


# ---- serve() in a thread, Server ----

def test_serve_in_thread_stopped_from_main(backend):
    got = queue.Queue()
    t = threading.Thread(target=serve, args=(0,), kwargs=dict(
        ready=got.put, loglevel="warning", event_backend=backend))
    t.start()
    srv = got.get(timeout=30)
    port = srv.port
    try:
        assert not srv.closed
        assert srv.backend == backend
        with TinyCache(f"127.0.0.1:{srv.port}", connect_timeout=10) as c:
            c.set("k", b"v")
            assert c.get("k") == b"v"
        # SIGTERM handling is only for the main thread.
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        srv.stop()
        t.join(30)
    assert not t.is_alive()
    assert srv.closed
    assert port_is_free(port)


def test_server_object(backend):
    with Server(0, event_backend=backend, loglevel="warning") as srv:
        port = srv.port
        assert 0 < port < 65536
        assert srv.backend == backend
        assert not srv.running and not srv.closed
        t = threading.Thread(target=srv.run)
        t.start()
        wait_for(lambda: srv.running, 10, "the server to run")
        with pytest.raises(RuntimeError):
            srv.close()                        # not while running
        with pytest.raises(RuntimeError):
            srv.run()                          # not twice at once
        with TinyCache(f"127.0.0.1:{port}", connect_timeout=10) as c:
            c.set("a", b"1")
            assert c.len() == 1
        srv.stop()
        t.join(30)
        assert not t.is_alive()
        assert not srv.running
        with pytest.raises(RuntimeError):
            srv.run()                          # a server runs once
    assert srv.closed
    assert port_is_free(port)
    with pytest.raises(RuntimeError):
        srv.port
    srv.stop()                                 # harmless when closed
    srv.close()


def test_server_stop_before_run():
    srv = Server(0, loglevel="warning")
    srv.stop()
    t0 = time.monotonic()
    srv.run()
    assert time.monotonic() - t0 < 5
    srv.close()


def test_server_shutdown_command(backend):
    srv = Server(0, event_backend=backend, loglevel="warning")
    t = threading.Thread(target=srv.run)
    t.start()
    with TinyCache(f"127.0.0.1:{srv.port}", connect_timeout=10) as c:
        with pytest.raises(ConnectionError):
            c.execute("SHUTDOWN", "NOSAVE")
    t.join(30)
    assert not t.is_alive()
    srv.close()


@pytest.mark.parametrize("kwargs", [
    dict(port=70000), dict(port=-2), dict(port=-1),
    dict(loglevel="loud"), dict(maxclients=0), dict(unixsocketperm=0o10000),
    dict(event_backend="kqueue-please"), dict(proto_max_bulk_len=10),
])
def test_server_bad_options(kwargs):
    with pytest.raises(ValueError):
        Server(**kwargs)


def test_server_option_types():
    with pytest.raises(TypeError):
        Server("5002")
    with pytest.raises(TypeError):
        Server(0, 1)                           # options are keyword-only
    with pytest.raises(TypeError):
        Server(0, host=None)


def test_serve_signature():
    # The original API: serve(port); 5002 is the documented default.
    assert inspect.signature(serve).parameters["port"].default == 5002
    assert list(inspect.signature(serve_unix).parameters)[0] == "path"


def test_maxclients(backend):
    with spawn(maxclients=2, event_backend=backend, loglevel="warning") as srv:
        a = TinyCache(srv.address, connect_timeout=5)
        b = TinyCache(srv.address, connect_timeout=5)
        a.ping()
        b.ping()
        c = TinyCache(srv.address, connect_timeout=5)
        with pytest.raises(Exception) as ei:
            c.ping()
        assert "max number of clients" in str(ei.value) or \
            isinstance(ei.value, ConnectionError)
        for x in (a, b, c):
            x.close()


# ---- Unix sockets ----

def run_in_thread(fn, *args, **kwargs):
    got = queue.Queue()
    errors = queue.Queue()

    def target():
        try:
            fn(*args, ready=got.put, **kwargs)
        except BaseException as e:
            errors.put(e)
            got.put(None)

    t = threading.Thread(target=target)
    t.start()
    srv = got.get(timeout=30)
    if srv is None:
        t.join(10)
        raise errors.get()
    return srv, t


def test_serve_unix(backend, short_tmp):
    path = os.path.join(short_tmp, "s.sock")
    srv, t = run_in_thread(serve_unix, path, loglevel="warning",
                           event_backend=backend)
    try:
        assert srv.port is None
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o700
        with TinyCache("unix://" + path, connect_timeout=10) as c:
            c.set("u", b"x")
            assert c.pop("u") == b"x"
        # A second server on a live socket is refused; the first lives on.
        with pytest.raises(OSError):
            Server(-1, unixsocket=path, loglevel="nothing")
        with TinyCache("unix://" + path, connect_timeout=10) as c:
            assert c.ping()
    finally:
        srv.stop()
        t.join(30)
    assert not os.path.exists(path)


def test_serve_unix_perm(short_tmp):
    path = os.path.join(short_tmp, "p.sock")
    srv, t = run_in_thread(serve_unix, path, unixsocketperm=0o770,
                           loglevel="warning")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o770
    finally:
        srv.stop()
        t.join(30)


def test_serve_unix_replaces_stale_socket(short_tmp):
    path = os.path.join(short_tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()                                   # leaves the file behind
    assert os.path.exists(path)
    srv, t = run_in_thread(serve_unix, path, loglevel="warning")
    try:
        with TinyCache("unix://" + path, connect_timeout=10) as c:
            assert c.ping()
    finally:
        srv.stop()
        t.join(30)
    assert not os.path.exists(path)


def test_serve_unix_refuses_regular_file(short_tmp):
    path = os.path.join(short_tmp, "file")
    with open(path, "w") as f:
        f.write("precious")
    with pytest.raises(OSError):
        serve_unix(path, loglevel="nothing")
    with open(path) as f:
        assert f.read() == "precious"


def test_serve_with_tcp_and_unix(short_tmp):
    path = os.path.join(short_tmp, "both.sock")
    with spawn(unixsocket=path, loglevel="warning") as srv:
        assert srv.port is not None
        with TinyCache(srv.address, connect_timeout=5) as a, \
                TinyCache("unix://" + path, connect_timeout=5) as b:
            a.set("shared", b"1")
            assert b.pop("shared") == b"1"


# ---- spawn() ----

def test_spawn_is_ready_on_return(backend):
    for _ in range(5):
        with spawn(event_backend=backend, loglevel="warning") as srv:
            # connect_timeout=0: no waiting at all, it must accept now.
            with TinyCache(srv.address, connect_timeout=0) as c:
                assert c.ping()
        assert srv.process.returncode == -signal.SIGTERM


def test_spawn_free_ports():
    with spawn(loglevel="warning") as a, spawn(loglevel="warning") as b:
        assert a.port != b.port
        assert a.address == f"127.0.0.1:{a.port}"
        assert a.pid != b.pid


def test_spawn_fixed_port():
    port = free_port()
    with spawn(port=port, loglevel="warning") as srv:
        assert srv.port == port
    assert port_is_free(port)


def test_spawn_unix_only(short_tmp):
    path = os.path.join(short_tmp, "sp.sock")
    with spawn(port=-1, unixsocket=path, loglevel="warning") as srv:
        assert srv.port is None
        assert srv.address == "unix://" + path
        with TinyCache(srv.address, connect_timeout=0) as c:
            assert c.ping()
    assert not os.path.exists(path)


def test_spawn_bad_option():
    with pytest.raises(ValueError):
        spawn(loglevel="loud")


def test_spawn_stop_returns_status():
    srv = spawn(loglevel="warning")
    assert srv.stop() == -signal.SIGTERM
    assert srv.stop() == -signal.SIGTERM       # twice is fine


def test_spawned_server_stops_when_parent_dies():
    code = """
import os, sys
from tiny_mp_cache import spawn
srv = spawn(loglevel="warning")
print(srv.pid, srv.port, flush=True)
os._exit(0)                                    # no stop(): just vanish
"""
    with python_child(code) as child:
        out, err = child.proc.communicate(timeout=60)
    assert child.proc.returncode == 0, err
    pid, port = map(int, out.split())
    try:
        wait_for(lambda: not pid_alive(pid), 20, "the orphaned server to stop")
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: port_is_free(port), 10, "its port to be free")


# ---- redis-cli against serve() ----

def test_redis_cli_against_serve(backend):
    cli = need_tool("redis-cli", "REDIS_CLI")
    port = free_port()
    with start_serve(port, None, backend) as child:
        wait_ready(f"127.0.0.1:{port}")

        def rcli(*args):
            return subprocess.run(
                [cli, "-h", "127.0.0.1", "-p", str(port)] + list(args),
                capture_output=True, timeout=30, check=True).stdout

        assert rcli("PING") == b"PONG\n"
        assert rcli("SET", "foo", "bar") == b"OK\n"
        assert rcli("GET", "foo") == b"bar\n"
        assert rcli("DBSIZE") == b"1\n"
        assert rcli("GETDEL", "foo") == b"bar\n"
        assert rcli("GET", "foo") == b"\n"
        with TinyCache(f"127.0.0.1:{port}") as c:
            c.set("from-python", b"hello")
        assert rcli("GET", "from-python") == b"hello\n"
        child.signal(signal.SIGTERM)
        child.wait(30)
