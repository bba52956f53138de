# SPDX-License-Identifier: MIT
# The client's RESP codec in the extension: pack_command and ReplyReader,
# checked against hand-written RESP bytes (no server); and the client's
# fast path, Connection (and its Lock), over a socketpair whose other end
# the test plays.

import os
import signal
import socket
import struct
import threading
import time

import pytest

from tiny_mp_cache import ReplyError
from tiny_mp_cache._native import (CMD_DECODE, CMD_IDLE_CHECK, CMD_LOCKED,
                                   CMD_MANY, IDLE_CHECK_SECONDS, Connection,
                                   ConnectionClosed, ConnectionForked,
                                   ConnectionStale, Lock, ProtocolError,
                                   ReplyReader, pack_command)


def test_pack_command_bytes():
    assert pack_command(b"GET", "k") == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    assert pack_command(b"DBSIZE") == b"*1\r\n$6\r\nDBSIZE\r\n"
    assert pack_command(b"SET", "key", b"") == \
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n"


def test_pack_command_argument_kinds():
    assert pack_command("ECHO", "é") == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"
    assert pack_command("X", 0, -12, 2**63 - 1) == (
        b"*4\r\n$1\r\nX\r\n$1\r\n0\r\n$3\r\n-12\r\n"
        b"$19\r\n9223372036854775807\r\n")
    assert pack_command("X", bytearray(b"ab"), memoryview(b"cde")) == \
        b"*3\r\n$1\r\nX\r\n$2\r\nab\r\n$3\r\ncde\r\n"
    assert pack_command("X", "\udcff") == b"*2\r\n$1\r\nX\r\n$1\r\n\xff\r\n"
    assert pack_command("X", b"\x00\r\n") == b"*2\r\n$1\r\nX\r\n$3\r\n\x00\r\n\r\n"


def test_pack_command_many_args():
    args = [b"DEL"] + [f"k{i}" for i in range(1000)]
    out = pack_command(*args)
    assert out.startswith(b"*1001\r\n$3\r\nDEL\r\n$2\r\nk0\r\n")
    assert out.endswith(b"$4\r\nk999\r\n")


def test_pack_command_large_value():
    value = b"v" * (3 * 1024 * 1024)
    out = pack_command(b"SET", "k", value)
    assert out == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3145728\r\n" + value + b"\r\n"
    # The buffer shrinks back; a small command after a big one is right.
    assert pack_command(b"PING") == b"*1\r\n$4\r\nPING\r\n"


@pytest.mark.parametrize("bad", [None, 1.5, True, ["x"], object()])
def test_pack_command_type_error(bad):
    with pytest.raises(TypeError):
        pack_command(b"SET", "k", bad)


def test_pack_command_needs_a_name():
    with pytest.raises(TypeError):
        pack_command()
    with pytest.raises(OverflowError):
        pack_command("X", 2**64)


def reader():
    return ReplyReader(ReplyError)


def test_reader_kinds():
    r = reader()
    r.feed(b"+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$3\r\nabc\r\n$0\r\n\r\n"
           b"$-1\r\n*-1\r\n*0\r\n*3\r\n$1\r\na\r\n:1\r\n*1\r\n+x\r\n")
    assert r.gets() == "OK"
    err = r.gets()
    assert type(err) is ReplyError and str(err) == "ERR bad thing"
    assert r.gets() == 42
    assert r.gets() == -7
    assert r.gets() == b"abc"
    assert r.gets() == b""
    assert r.gets() is None
    assert r.gets() is None
    assert r.gets() == []
    assert r.gets() == [b"a", 1, ["x"]]
    assert r.gets() is False
    assert r.pending == 0


def test_reader_decode():
    r = reader()
    r.feed(b"*2\r\n$4\r\n\xd0\xba\xd0\xb8\r\n$2\r\n\xff\xfe\r\n")
    assert r.gets(True) == ["\u043a\u0438", "\udcff\udcfe"]


def test_reader_byte_by_byte():
    data = (b"*4\r\n$5\r\nhello\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n"
            b"$12\r\nab\r\ncd\r\n\x00fgh\r\n")
    r = reader()
    for i, byte in enumerate(data):
        assert r.gets() is False, i
        r.feed(bytes([byte]))
    reply = r.gets()
    assert reply[0] == b"hello"
    assert reply[1] == [1, None]
    assert type(reply[2]) is ReplyError
    assert reply[3] == b"ab\r\ncd\r\n\x00fgh"


def test_reader_feed_length_and_need():
    r = reader()
    buf = bytearray(b"$10\r\n0123xxxxxxxxxxxx")
    r.feed(buf, 9)
    assert r.gets() is False
    assert r.need == 8                       # 6 body bytes + CRLF
    r.feed(b"456789\r\n")
    assert r.gets() == b"0123456789"


def test_reader_big_bulk_in_pieces():
    value = bytes(range(256)) * 40000        # ~10 MB
    data = b"$%d\r\n" % len(value) + value + b"\r\n"
    r = reader()
    for i in range(0, len(data), 65536):
        assert r.gets() is False
        r.feed(data[i:i + 65536])
    assert r.gets() == value


@pytest.mark.parametrize("data", [
    b"hello\r\n", b"$abc\r\n", b":1x\r\n", b"$3\r\nabcde\r\n", b"*-2\r\n",
    b"$-2\r\n", b"+no-cr\n",
])
def test_reader_invalid_is_sticky(data):
    r = reader()
    r.feed(data)
    with pytest.raises(ProtocolError):
        r.gets()
    r.feed(b"+OK\r\n")
    with pytest.raises(ProtocolError):
        r.gets()


def test_reader_deep_nesting_is_bounded():
    r = reader()
    r.feed(b"*1\r\n" * 10000 + b":1\r\n")
    with pytest.raises(ProtocolError):
        r.gets()


def test_reader_error_class_default():
    r = ReplyReader()
    r.feed(b"-ERR x\r\n")
    e = r.gets()
    assert type(e) is Exception and str(e) == "ERR x"
    with pytest.raises(TypeError):
        ReplyReader(42)


def test_reader_many_replies_in_one_feed():
    r = reader()
    r.feed(b":1\r\n" * 100000)
    assert [r.gets() for _ in range(100000)] == [1] * 100000
    assert r.gets() is False


# ---- Connection: the client's round trips, over a socketpair ----

class Err(Exception):
    """The error class the Connections below build error replies with."""


@pytest.fixture
def pair():
    """(client end, peer end) of a connected socketpair; the test plays
    the server on the peer end."""
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def attached(sock, timeout=None):
    c = Connection(Err)
    c.attach(sock, timeout)
    return c


def recv_exactly(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "EOF"
        out += chunk
    return out


def nothing_waiting(sock):
    """True if no byte is waiting on sock."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
    except BlockingIOError:
        return True


def test_connection_not_attached_is_stale():
    c = Connection(Err)
    assert c.fd == -1 and c.timeout is None and not c.forked
    with pytest.raises(ConnectionStale):
        c.command(0, b"PING")
    # Arguments are checked first; an empty batch needs no connection.
    with pytest.raises(TypeError):
        c.command(0, b"SET", "k", 1.5)
    assert c.command(CMD_MANY, b"GETDEL", []) == []
    assert isinstance(c.lock, Lock) and not c.lock.locked()


def test_connection_reply_kinds(pair):
    a, b = pair
    c = attached(a)
    assert c.fd == a.fileno()
    b.sendall(b"$3\r\nbar\r\n+OK\r\n:-7\r\n$-1\r\n*-1\r\n"
              b"*3\r\n$1\r\na\r\n:1\r\n*0\r\n+PONG\r\n")
    assert c.command(0, b"GET", "foo") == b"bar"
    assert c.command(0, b"SET", "foo", b"v") == "OK"
    assert c.command(0, "DEL", "foo") == -7
    assert c.command(0, "GET", "x") is None
    assert c.command(0, "X") is None
    assert c.command(0, "X") == [b"a", 1, []]
    assert c.command(0, "PING") == "PONG"
    # What was sent, in order, is what pack_command encodes.
    want = b"".join([pack_command(b"GET", "foo"),
                     pack_command(b"SET", "foo", b"v"),
                     pack_command("DEL", "foo"), pack_command("GET", "x"),
                     pack_command("X"), pack_command("X"),
                     pack_command("PING")])
    assert recv_exactly(b, len(want)) == want
    assert nothing_waiting(b)
    assert c.lock.locked() is False


def test_connection_error_reply_is_raised_and_stays_in_step(pair):
    a, b = pair
    c = attached(a)
    b.sendall(b"-ERR no such key\r\n$2\r\nok\r\n")
    with pytest.raises(Err, match="^ERR no such key$") as ei:
        c.command(0, b"GET", "k")
    assert type(ei.value) is Err
    assert c.fd == a.fileno()            # still usable, in step
    assert c.command(0, b"GET", "k") == b"ok"


def test_connection_decode(pair):
    a, b = pair
    c = attached(a)
    b.sendall(b"*2\r\n$3\r\njob\r\n$2\r\n\xff\xfe\r\n")
    assert c.command(CMD_DECODE, b"KEYS", "*") == ["job", "\udcff\udcfe"]


def test_connection_many(pair):
    a, b = pair
    c = attached(a)
    b.sendall(b"$1\r\nx\r\n$-1\r\n$2\r\nyz\r\n")
    assert c.command(CMD_MANY, b"GETDEL", ["a", "b", "c"]) == \
        [b"x", None, b"yz"]
    want = b"".join(pack_command(b"GETDEL", k) for k in "abc")
    assert recv_exactly(b, len(want)) == want
    # An error among the replies is raised once all are read.
    b.sendall(b"$1\r\nx\r\n-WRONGTYPE no\r\n-ERR two\r\n+PONG\r\n")
    with pytest.raises(Err, match="^WRONGTYPE no$"):
        c.command(CMD_MANY, b"GETDEL", ("a", "b", "c"))
    assert c.command(0, b"PING") == "PONG"
    with pytest.raises(TypeError):
        c.command(CMD_MANY, b"GETDEL", "abc")
    recv_exactly(b, len(want) + len(pack_command(b"PING")))
    with pytest.raises(TypeError):
        c.command(CMD_MANY, b"GETDEL", ["a", 1.5])
    assert nothing_waiting(b)


def test_connection_bad_argument_sends_nothing(pair):
    a, b = pair
    c = attached(a)
    for bad in ((b"SET", "k", 1.5), (b"SET", "k", None), ("X", 2**64),
                (b"GET", "\ud800")):
        with pytest.raises((TypeError, ValueError, OverflowError)):
            c.command(0, *bad)
        assert c.fd == a.fileno()
    with pytest.raises(TypeError):
        c.command(0)
    assert nothing_waiting(b)
    b.sendall(b"+PONG\r\n")
    assert c.command(0, b"PING") == "PONG"


def test_connection_protocol_error_breaks_it(pair):
    a, b = pair
    c = attached(a)
    b.sendall(b"hello\r\n")
    with pytest.raises(ProtocolError, match="0x68"):
        c.command(0, b"GET", "k")
    assert c.fd == -1
    with pytest.raises(ConnectionStale):
        c.command(0, b"GET", "k")


def test_connection_eof(pair):
    a, b = pair
    c = attached(a)
    b.sendall(b"$10\r\nhalf")
    b.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionClosed) as ei:
        c.command(0, b"GET", "k")
    assert isinstance(ei.value, ConnectionError)
    assert c.fd == -1


def test_connection_detach(pair):
    a, b = pair
    c = attached(a)
    c.detach()
    assert c.fd == -1
    with pytest.raises(ConnectionStale):
        c.command(0, b"PING")
    assert nothing_waiting(b)
    c.attach(a, None)                    # and again
    b.sendall(b"+PONG\r\n")
    assert c.command(0, b"PING") == "PONG"


def test_connection_timeout_is_a_socket_option(pair):
    a, b = pair
    c = attached(a, 0.25)
    assert c.timeout == 0.25
    for opt in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
        sec, usec = struct.unpack("ll", a.getsockopt(socket.SOL_SOCKET,
                                                     opt, 16))
        assert 0.25 <= sec + usec / 1e6 < 0.27     # kernel ticks round up
    assert a.gettimeout() is None        # the socket itself blocks
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        c.command(0, b"GET", "k")
    assert 0.2 < time.monotonic() - t0 < 3
    assert c.fd == -1
    with pytest.raises(ValueError):
        c.attach(a, 0)
    with pytest.raises(ValueError):
        c.attach(a, float("nan"))


def test_connection_timeout_despite_signals(pair):
    # Signals interrupt the wait again and again; each wait goes on with
    # what is left of the timeout, so it still ends in time.
    a, b = pair
    c = attached(a, 0.4)
    seen = []

    def tick(*_):
        seen.append(1)
        if len(seen) >= 60:          # bounded, should the wait not end
            signal.setitimer(signal.ITIMER_REAL, 0)

    old = signal.signal(signal.SIGALRM, tick)
    signal.setitimer(signal.ITIMER_REAL, 0.03, 0.03)
    try:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            c.command(0, b"GET", "k")
        elapsed = time.monotonic() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert len(seen) >= 5                # handlers ran during the wait
    assert 0.35 < elapsed < 1.5


def test_connection_signal_handler_exception(pair):
    a, b = pair
    c = attached(a)

    class Stop(Exception):
        pass

    def handler(*_):
        raise Stop()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.1)
    try:
        with pytest.raises(Stop):
            c.command(0, b"GET", "k")   # never answered
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert c.fd == -1                    # mid-command: out of step
    assert not c.lock.locked()


def test_connection_reply_in_many_pieces(pair):
    # A reply arriving a few bytes at a time takes many recv() calls.
    a, b = pair
    c = attached(a, 10)
    value = os.urandom(300000)
    reply = b"$%d\r\n%s\r\n" % (len(value), value)
    small = b"*3\r\n$1\r\na\r\n:42\r\n$-1\r\n"

    def serve():
        recv_exactly(b, len(pack_command(b"GET", "k")))
        for i in range(len(small)):
            b.sendall(small[i:i + 1])
            time.sleep(0.001)
        recv_exactly(b, len(pack_command(b"GET", "k")))
        pos = 0
        for n in range(1, 10**6):
            if pos >= len(reply):
                break
            step = 1 + (n * 7919) % 9000
            b.sendall(reply[pos:pos + step])
            pos += step

    t = threading.Thread(target=serve)
    t.start()
    try:
        assert c.command(0, b"GET", "k") == [b"a", 42, None]
        assert c.command(0, b"GET", "k") == value
    finally:
        t.join(30)


def test_connection_big_request_partial_sends(pair):
    # 10 MB does not fit the socket buffers: send() goes in parts while
    # the peer reads slowly.
    a, b = pair
    c = attached(a, 30)
    value = os.urandom(10 * 1024 * 1024)
    want = pack_command(b"SET", "big", value)
    got = []

    def serve():
        n = 0
        while n < len(want):
            chunk = b.recv(100000)
            got.append(chunk)
            n += len(chunk)
            time.sleep(0.0005)
        b.sendall(b"+OK\r\n")

    t = threading.Thread(target=serve)
    t.start()
    try:
        assert c.command(0, b"SET", "big", value) == "OK"
    finally:
        t.join(60)
    assert b"".join(got) == want


def test_connection_send_timeout(pair):
    # The peer never reads: the send times out within about the timeout
    # (the whole send, as socket.sendall).
    a, b = pair
    c = attached(a, 0.3)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        c.command(0, b"SET", "big", b"x" * (64 * 1024 * 1024))
    assert time.monotonic() - t0 < 5
    assert c.fd == -1


def test_connection_late_error_reply(pair):
    # The peer refuses a request with an error reply and closes before
    # reading it all (a server's bulk limit): that reply is raised, not
    # the broken pipe.
    a, b = pair
    c = attached(a, 30)

    def serve():
        b.recv(1000)
        b.sendall(b"-ERR Protocol error: invalid bulk length\r\n")
        b.shutdown(socket.SHUT_RDWR)

    t = threading.Thread(target=serve)
    t.start()
    try:
        with pytest.raises(Err, match="^ERR Protocol error"):
            c.command(0, b"SET", "k", b"x" * (32 * 1024 * 1024))
    finally:
        t.join(30)
    assert c.fd == -1


def test_connection_idle_check(pair):
    a, b = pair
    c = attached(a)
    # Idle and open: the check lets the command through.
    time.sleep(IDLE_CHECK_SECONDS + 0.03)
    t = threading.Thread(target=lambda: (
        recv_exactly(b, len(pack_command(b"GETDEL", "k"))),
        b.sendall(b"$-1\r\n")))
    t.start()
    try:
        assert c.command(CMD_IDLE_CHECK, b"GETDEL", "k") is None
    finally:
        t.join(10)
    # Bytes nobody asked for while idle: out of step, not used either.
    b.sendall(b"+STRAY\r\n")
    time.sleep(IDLE_CHECK_SECONDS + 0.03)
    with pytest.raises(ConnectionStale):
        c.command(CMD_IDLE_CHECK, b"GETDEL", "k")
    assert nothing_waiting(b)
    c.attach(a, None)
    a.recv(100)
    # Closed by the peer while idle: nothing is sent, ConnectionStale.
    b.shutdown(socket.SHUT_WR)
    time.sleep(IDLE_CHECK_SECONDS + 0.03)
    with pytest.raises(ConnectionStale, match="idle"):
        c.command(CMD_IDLE_CHECK, b"GETDEL", "k")
    assert c.fd == -1
    assert nothing_waiting(b)


def test_connection_lock_serializes(pair):
    a, b = pair
    c = attached(a)
    order = []
    c.lock.acquire()

    def other():
        order.append(("start", c.command(0, b"PING")))

    t = threading.Thread(target=other)
    t.start()
    time.sleep(0.1)
    assert order == []                   # waits for the lock
    b.sendall(b"+ONE\r\n+TWO\r\n")
    # The holder may run commands with CMD_LOCKED.
    assert c.command(CMD_LOCKED, b"PING") == "ONE"
    c.lock.release()
    t.join(10)
    assert order == [("start", "TWO")]


def test_connection_forked_child_never_uses_it(pair):
    a, b = pair
    c = attached(a)
    c.lock.acquire()                     # as if another thread held it
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if c.forked:
                try:
                    c.command(0, b"PING")
                except ConnectionForked:
                    code = 0 if Connection(Err).forked is False else 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:   # deadlocked on the lock
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child waited for the parent's lock")
        time.sleep(0.01)
    c.lock.release()
    assert os.waitstatus_to_exitcode(status) == 0
    assert not c.forked
    assert nothing_waiting(b)            # the child sent nothing


def test_lock_like_threading_lock():
    lk = Lock()
    assert not lk.locked()
    assert lk.acquire() is True and lk.locked()
    assert lk.acquire(False) is False
    t0 = time.monotonic()
    assert lk.acquire(timeout=0.1) is False
    assert 0.08 < time.monotonic() - t0 < 3
    lk.release()
    with pytest.raises(RuntimeError):
        lk.release()
    with lk:
        assert lk.locked()
    assert not lk.locked()
    with pytest.raises(ValueError):
        lk.acquire(False, 1)
    with pytest.raises(ValueError):
        lk.acquire(timeout=-2)
    with pytest.raises(TypeError):
        Lock(1)
    # Released from another thread, as threading.Lock allows.
    lk.acquire()
    t = threading.Thread(target=lk.release)
    t.start()
    t.join(10)
    assert lk.acquire(timeout=5) is True
    lk.release()
