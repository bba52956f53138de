# SPDX-License-Identifier: MIT
# TinyCache(password=...): AUTH on every new connection, before any
# command, against our server (spawn(requirepass=...)) and a real
# redis-server with requirepass; refused passwords raise at once and are
# never retried; a missing password raises NOAUTH with a hint. Also the
# requirepass and client_output_buffer_limit options of serve()/spawn().

import os
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from tmcpy import FakeServer, free_port, need_tool, port_is_free, wait_for
from tiny_mp_cache import (AuthenticationError, ReplyError, TinyCache,
                           TinyCacheConnectionError, TinyCacheTimeoutError,
                           spawn)

PW = "pa55-word"
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOAUTH = "NOAUTH Authentication required."


@pytest.fixture
def pw_server(backend):
    with spawn(event_backend=backend, loglevel="warning",
               requirepass=PW) as srv:
        yield srv


def api_roundtrip(c):
    """Exercise the whole API once on an authenticated client."""
    c.set("job:1", b"one")
    c.set("job:2", b"two")
    assert c.get("job:1") == b"one"
    assert sorted(c.keys("job:*")) == ["job:1", "job:2"]
    assert c.len() == 2
    assert c.pop("job:1") == b"one"
    assert c.pop("job:1") is None
    assert c.delete("job:2") == 1
    assert c.len() == 0
    assert c.ping()


# ---- Our server ----

def test_password_works(pw_server):
    with TinyCache(pw_server.address, password=PW, connect_timeout=5) as c:
        api_roundtrip(c)
    with TinyCache(pw_server.address, password=PW.encode(),
                   username="default", connect_timeout=5) as c:
        api_roundtrip(c)


def test_unix_socket_password(backend, short_tmp):
    path = os.path.join(short_tmp, "s.sock")
    with spawn(port=-1, unixsocket=path, event_backend=backend,
               loglevel="warning", requirepass=PW) as srv:
        with TinyCache(srv.address, password=PW, connect_timeout=5) as c:
            api_roundtrip(c)
        with TinyCache(srv.address, connect_timeout=5) as c:
            with pytest.raises(AuthenticationError, match="^NOAUTH"):
                c.get("k")


def test_wrong_password_raises_at_once(pw_server):
    for kw in ({"password": "wrong"}, {"password": ""},
               {"password": PW, "username": "someone"},
               {"password": PW.upper(), "username": "default"}):
        c = TinyCache(pw_server.address, connect_timeout=5, **kw)
        t0 = time.monotonic()
        with pytest.raises(AuthenticationError) as ei:
            c.get("k")
        assert time.monotonic() - t0 < 2.0
        e = ei.value
        assert isinstance(e, ReplyError)
        assert str(e).startswith(WRONGPASS)
        assert e.message.startswith("WRONGPASS")
        user = kw.get("username", "default")
        assert f"'{user}'" in str(e) and pw_server.address in str(e)
        assert c._sock is None          # dropped, never used unauthenticated
        # Every call tries once more (the password may have been fixed
        # on the server meanwhile), and fails the same way.
        for call in (lambda: c.pop("k"), lambda: c.set("k", b"v"),
                     lambda: c.keys()):
            with pytest.raises(AuthenticationError, match="^WRONGPASS"):
                call()
        c.close()
    with TinyCache(pw_server.address, password=PW, connect_timeout=5) as c:
        assert c.len() == 0             # nothing ran unauthenticated


def test_missing_password_raises_noauth(pw_server):
    with TinyCache(pw_server.address, connect_timeout=5) as c:
        for call in (lambda: c.set("k", b"v"), lambda: c.get("k"),
                     lambda: c.pop("k"), lambda: c.keys("*"),
                     lambda: c.len(), lambda: c.delete("k"),
                     lambda: c.execute("SET", "k", "v")):
            with pytest.raises(AuthenticationError) as ei:
                call()
            msg = str(ei.value)
            assert msg.startswith(NOAUTH)
            assert "password=" in msg and pw_server.address in msg
            assert isinstance(ei.value, ReplyError)
        # AUTH by hand still works on that connection.
        assert c.execute("AUTH", PW) == "OK"
        assert c.get("k") is None
    with TinyCache(pw_server.address, password=PW, connect_timeout=5) as c:
        assert c.len() == 0


def test_username_needs_password():
    with pytest.raises(ValueError):
        TinyCache("127.0.0.1:1", username="default")
    with pytest.raises(TypeError):
        TinyCache("127.0.0.1:1", password=123)
    with pytest.raises(TypeError):
        TinyCache("127.0.0.1:1", password="x", username=b"default")
    assert "pw" not in repr(TinyCache("127.0.0.1:1", password="pw"))


def test_password_to_server_without_one(server):
    # As with Redis: AUTH <password> to a server without requirepass is an
    # error (a configuration mistake worth seeing); the two-argument form
    # as the default user is accepted.
    with TinyCache(server.address, password="x", connect_timeout=5) as c:
        with pytest.raises(AuthenticationError,
                           match="^ERR AUTH <password> called without any "
                                 "password configured"):
            c.get("k")
    with TinyCache(server.address, password="x", username="default",
                   connect_timeout=5) as c:
        api_roundtrip(c)
    with TinyCache(server.address, password="x", username="bob",
                   connect_timeout=5) as c:
        with pytest.raises(AuthenticationError, match="^WRONGPASS"):
            c.ping()


def test_reconnect_reauthenticates(backend):
    """A server restarted on the same port: the next command reconnects
    and authenticates again (get retries; pop notices the idle close)."""
    port = free_port()
    srv = spawn(port=port, event_backend=backend, loglevel="warning",
                requirepass=PW)
    try:
        c = TinyCache(f"127.0.0.1:{port}", password=PW, connect_timeout=10)
        c.set("a", b"1")
        first = c._sock
        srv.stop()
        wait_for(lambda: port_is_free(port), 10, "the port to be free")
        srv = spawn(port=port, event_backend=backend, loglevel="warning",
                    requirepass=PW)
        assert c.get("a") is None       # a new, empty server
        assert c._sock is not first
        c.set("job", b"x")
        srv.stop()
        wait_for(lambda: port_is_free(port), 10, "the port to be free")
        srv = spawn(port=port, event_backend=backend, loglevel="warning",
                    requirepass=PW)
        time.sleep(0.05)
        assert c.pop("job") is None     # the idle close is seen first
        c.set("job", b"y")
        assert c.pop("job") == b"y"
        # Restarted with another password: refused, not looped.
        srv.stop()
        wait_for(lambda: port_is_free(port), 10, "the port to be free")
        srv = spawn(port=port, event_backend=backend, loglevel="warning",
                    requirepass="another")
        t0 = time.monotonic()
        with pytest.raises(AuthenticationError, match="^WRONGPASS"):
            c.get("a")
        assert time.monotonic() - t0 < 2.0
        c.close()
    finally:
        srv.stop()


def test_second_server_and_close(pw_server, backend):
    with spawn(event_backend=backend, loglevel="warning",
               requirepass="other-pw") as srv2:
        a = TinyCache(pw_server.address, password=PW, connect_timeout=5)
        b = TinyCache(srv2.address, password="other-pw", connect_timeout=5)
        a.set("k", b"a")
        b.set("k", b"b")
        for _ in range(3):
            a.close()
            b.close()
            assert a.get("k") == b"a"   # each reconnect authenticates
            assert b.get("k") == b"b"
        with pytest.raises(AuthenticationError, match="^WRONGPASS"):
            TinyCache(srv2.address, password=PW, connect_timeout=5).len()
        a.close()
        b.close()


def test_fork_child_authenticates(pw_server):
    c = TinyCache(pw_server.address, password=PW, connect_timeout=5)
    c.set("k", b"parent")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            c.set("child", b"yes")
            code = 0 if c.get("k") == b"parent" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert c.get("child") == b"yes"     # the parent's connection still works
    c.close()


def test_threads_share_authenticated_client(pw_server):
    c = TinyCache(pw_server.address, password=PW, connect_timeout=5,
                  timeout=30)
    errors = []

    def work(n):
        try:
            for i in range(200):
                c.set(f"t{n}:{i}", b"v")
                if i % 50 == 0:
                    c.close()           # force reconnects mid-run
        except Exception as e:          # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert c.len() == 800
    c.close()


# ---- What the client sends, seen by a scripted server ----

def test_auth_is_first_on_every_connection():
    def handler(fake, conn, index):
        while True:
            args = fake.read(conn)
            if args is None:
                return
            if args[0] == b"AUTH":
                conn.sendall(b"+OK\r\n")
            elif args[0] == b"GET":
                conn.sendall(b"$1\r\nv\r\n")
                if index == 0:
                    return              # drop the first connection
            else:
                conn.sendall(b"+OK\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, password="p", connect_timeout=5)
        assert c.get("k") == b"v"
        assert c.get("k") == b"v"       # reconnects: AUTH again, then GET
        c.close()
        assert c.get("k") == b"v"
        u = TinyCache(fake.address, password="p", username="app",
                      connect_timeout=5)
        assert u.get("k") == b"v"
        u.close()
    cmds = fake.commands
    assert cmds == [
        [b"AUTH", b"p"], [b"GET", b"k"],
        [b"AUTH", b"p"], [b"GET", b"k"],
        [b"AUTH", b"p"], [b"GET", b"k"],
        [b"AUTH", b"app", b"p"], [b"GET", b"k"],
    ]


def test_refused_auth_is_not_retried():
    def handler(fake, conn, index):
        while fake.read(conn) is not None:
            conn.sendall(b"-" + WRONGPASS.encode() + b"\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, password="p", connect_timeout=5)
        with pytest.raises(AuthenticationError, match="^WRONGPASS"):
            c.get("k")                  # get is otherwise retried once
        assert fake.connections == 1
        assert fake.commands == [[b"AUTH", b"p"]]
        with pytest.raises(AuthenticationError):
            c.pop("k")
        assert fake.connections == 2
        assert fake.commands == [[b"AUTH", b"p"]] * 2
        c.close()


def test_other_error_reply_to_auth():
    # Not an authentication failure (e.g. the server is full): a plain
    # ReplyError with the server's text.
    def handler(fake, conn, index):
        fake.read(conn)
        conn.sendall(b"-ERR max number of clients reached\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, password="p", connect_timeout=5)
        with pytest.raises(ReplyError) as ei:
            c.get("k")
        assert not isinstance(ei.value, AuthenticationError)
        assert str(ei.value) == "ERR max number of clients reached"
        assert c._sock is None
        c.close()


def test_auth_timeout_and_broken_connection():
    release = threading.Event()

    def handler(fake, conn, index):
        args = fake.read(conn)
        if args is None:
            return
        if index == 0:
            release.wait(10)            # never answers AUTH in time
        # index 1: close during AUTH

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, password="p", connect_timeout=5,
                      timeout=0.3)
        with pytest.raises(TinyCacheTimeoutError):
            c.get("k")
        assert c._sock is None
        release.set()
        with pytest.raises(TinyCacheConnectionError, match="during AUTH"):
            c.get("k")
        assert c._sock is None
        assert fake.commands == [[b"AUTH", b"p"]] * 2
        c.close()


# ---- A real redis-server with requirepass ----

@pytest.fixture(scope="module")
def redis_pw():
    exe = need_tool("redis-server", "REDIS_SERVER")
    tmp = tempfile.mkdtemp(prefix="tmc-redis-")
    sock = os.path.join(tmp, "redis.sock")
    proc = None
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1",
             "--unixsocket", sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", tmp,
             "--daemonize", "no", "--loglevel", "warning",
             "--requirepass", PW],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with TinyCache(f"127.0.0.1:{port}", connect_timeout=10,
                           password=PW) as c:
                if c.ping():
                    break
        except ConnectionError:
            proc.kill()
            proc.wait(10)
            proc = None
    if proc is None:
        pytest.fail("could not start redis-server")
    yield {"proc": proc, "address": f"127.0.0.1:{port}",
           "unix": f"unix://{sock}", "tmp": tmp}
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)


@pytest.mark.parametrize("where", ["address", "unix"])
def test_redis_password(redis_pw, where):
    addr = redis_pw[where]
    with TinyCache(addr, password=PW, connect_timeout=5, timeout=30) as c:
        c.execute("FLUSHALL")
        api_roundtrip(c)
        c.close()
        c.set("k", b"v")                # reconnect: AUTH again
        assert c.pop("k") == b"v"
    with TinyCache(addr, password=PW, username="default",
                   connect_timeout=5) as c:
        assert c.ping()
    with TinyCache(addr, password="wrong", connect_timeout=5) as c:
        with pytest.raises(AuthenticationError, match="^" + WRONGPASS):
            c.get("k")
    with TinyCache(addr, password=PW, username="nobody",
                   connect_timeout=5) as c:
        with pytest.raises(AuthenticationError, match="^WRONGPASS"):
            c.get("k")
    with TinyCache(addr, connect_timeout=5) as c:
        with pytest.raises(AuthenticationError, match="^" + NOAUTH):
            c.pop("k")
        with pytest.raises(AuthenticationError, match="password="):
            c.set("k", b"v")


# ---- serve()/spawn() options ----

def test_spawn_options(backend):
    with spawn(event_backend=backend, loglevel="warning", requirepass="",
               client_output_buffer_limit=123456789, busy_poll_us=0) as srv:
        with TinyCache(srv.address, connect_timeout=5) as c:
            assert c.ping()             # "": no password
            assert c.execute("CONFIG", "GET", "busy-poll-us") == [
                b"busy-poll-us", b"0"]
            assert c.execute("CONFIG", "GET", "requirepass") == [
                b"requirepass", b""]
            obuf = c.execute("CONFIG", "GET", "client-output-buffer-limit")
            assert obuf[1].startswith(b"normal 123456789 0 0 ")
    with spawn(event_backend=backend, loglevel="warning",
               requirepass=PW) as srv:
        with TinyCache(srv.address, password=PW, connect_timeout=5) as c:
            assert c.execute("CONFIG", "GET", "requirepass") == [
                b"requirepass", PW.encode()]
            obuf = c.execute("CONFIG", "GET", "client-output-buffer-limit")
            assert obuf[1].startswith(b"normal 1073741824 0 0 ")
            assert c.execute("CONFIG", "GET", "busy-poll-us") == [
                b"busy-poll-us", b"50"]
            # A NUL byte would cut the password short: refused, the old
            # one stays.
            with pytest.raises(ReplyError, match="NUL"):
                c.execute("CONFIG", "SET", "requirepass", b"a\x00b")
        with TinyCache(srv.address, password=PW, connect_timeout=5) as c:
            assert c.ping()
    for bad, exc in (({"client_output_buffer_limit": -1}, ValueError),
                     ({"client_output_buffer_limit": "lots"}, ValueError),
                     ({"client_output_buffer_limit": 1.5}, TypeError),
                     ({"busy_poll_us": -1}, ValueError),
                     ({"busy_poll_us": 100001}, ValueError),
                     ({"busy_poll_us": "fast"}, TypeError),
                     ({"requirepass": 5}, TypeError)):
        with pytest.raises(exc):
            spawn(event_backend=backend, loglevel="warning", **bad)


def test_serve_in_thread_with_password():
    from tiny_mp_cache import Server
    srv = Server(0, loglevel="warning", requirepass=PW)
    t = threading.Thread(target=srv.run)
    t.start()
    try:
        with TinyCache(f"127.0.0.1:{srv.port}", password=PW,
                       connect_timeout=5) as c:
            api_roundtrip(c)
        with TinyCache(f"127.0.0.1:{srv.port}", connect_timeout=5) as c:
            with pytest.raises(AuthenticationError, match="^NOAUTH"):
                c.len()
    finally:
        srv.stop()
        t.join(10)
        srv.close()
