# SPDX-License-Identifier: MIT
# tiny_mp_cache.aio.AsyncTinyCache (issue 12): TinyCache's methods as
# coroutines over one pipelined connection; replies matched in order, so
# a cancelled or timed-out call never hands its reply to the next one; a
# cancelled pop puts its value back (SET NX) or says it dropped it; the
# connection breaks and comes back as TinyCache's does. Plain pytest: each
# test runs its coroutine with asyncio.run, bounded by run()'s limit.

import asyncio
import logging
import multiprocessing as mp
import pickle
import queue
import socket
import threading
import time

import pytest

import tmcpy
from tmcpy import FakeServer, free_port, read_command
from tiny_mp_cache import (AuthenticationError, ProtocolError, ReplyError,
                           TinyCache, TinyCacheConnectionError,
                           TinyCacheTimeoutError, spawn)
from tiny_mp_cache.aio import AsyncTinyCache

# No single test's coroutine may take longer than this.
LIMIT = 60.0


def run(coro, limit=LIMIT):
    """Run coro in a new event loop, failing after limit seconds."""
    return asyncio.run(asyncio.wait_for(coro, limit))


def run_logged(caplog, *coros):
    """Run each coro as run() does and return the messages logged on
    logger tiny_mp_cache at WARNING or above meanwhile."""
    with caplog.at_level(logging.WARNING, logger="tiny_mp_cache"):
        for coro in coros:
            run(coro)
    return [r.getMessage() for r in caplog.records
            if r.name == "tiny_mp_cache" and r.levelno >= logging.WARNING]


async def until(pred, what, timeout=10.0):
    """Await pred() becoming true (polled); fail after timeout."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.002)


async def cancel(task):
    """Cancel task and check that it ends cancelled."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def settle(c):
    """Return once the replies of everything sent so far are in, and
    what a late reply made the client send (a put-back) has run."""
    await c.ping()
    await c.ping()


def client(server, **kw):
    kw.setdefault("connect_timeout", 5.0)
    return AsyncTinyCache(server.address, **kw)


# ---- A scripted server: a small store whose answers the test holds ----

def _bulk(value):
    if value is None:
        return b"$-1\r\n"
    return b"$%d\r\n%s\r\n" % (len(value), value)


class Store:
    """A fake server keeping a dict: PING, AUTH, GET, SET [NX], GETDEL,
    DEL, DBSIZE, LPOP, LPUSH. Every command is recorded when read
    (.commands, pipelined ones too) and run once .gate is set (it is at
    first); a command named in .drop closes the connection unanswered
    (once per name)."""

    def __init__(self):
        self.data = {}
        self.lists = {}
        self.gate = threading.Event()
        self.gate.set()
        self.drop = set()
        self.commands = []
        self.fake = FakeServer(self._handle)
        self.address = self.fake.address

    def names(self):
        return [c[0] for c in self.commands]

    async def hold(self, call, what, count=1):
        """Close the gate, start call (a coroutine) as a task and return
        the task once the store has read count more commands (what names
        them, for a timeout's message): they wait for the gate."""
        before = len(self.commands)
        self.gate.clear()
        task = asyncio.ensure_future(call)
        await until(lambda: len(self.commands) == before + count, what)
        return task

    def _handle(self, fake, conn, index):
        # One thread reads (and records) commands as they come, this one
        # runs them when the gate lets it.
        commands = queue.Queue()

        def read():
            buf = b""
            while True:
                try:
                    args, buf = read_command(conn, buf)
                except OSError:             # closed by the other thread
                    args = None
                if args is not None:
                    self.commands.append(args)
                commands.put(args)
                if args is None:
                    return

        threading.Thread(target=read, daemon=True).start()
        while True:
            args = commands.get(timeout=30)
            if args is not None and self.gate.wait(20) and \
                    args[0] not in self.drop:
                conn.sendall(self._run(args))
                continue
            if args is not None:
                self.drop.discard(args[0])
            # Wakes the reading thread (a close() alone would not).
            conn.shutdown(socket.SHUT_RDWR)
            return

    def _run(self, args):
        cmd = args[0]
        if cmd == b"PING":
            return b"+PONG\r\n"
        if cmd == b"AUTH":
            return b"+OK\r\n"
        if cmd == b"GET":
            return _bulk(self.data.get(args[1]))
        if cmd == b"GETDEL":
            return _bulk(self.data.pop(args[1], None))
        if cmd == b"SET":
            if b"NX" in args[3:] and args[1] in self.data:
                return b"$-1\r\n"
            self.data[args[1]] = args[2]
            return b"+OK\r\n"
        if cmd == b"DEL":
            return b":%d\r\n" % sum(self.data.pop(k, None) is not None
                                    for k in args[1:])
        if cmd == b"DBSIZE":
            return b":%d\r\n" % len(self.data)
        if cmd == b"LPOP":
            items = self.lists.get(args[1])
            return _bulk(items.pop(0) if items else None)
        if cmd == b"LPUSH":
            items = self.lists.setdefault(args[1], [])
            items[:0] = reversed(args[2:])
            return b":%d\r\n" % len(items)
        return b"-ERR unknown command\r\n"

    def close(self):
        self.gate.set()
        self.fake.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- Every method against our server ----

def test_every_method(server):
    async def main():
        async with client(server, timeout=30) as c:
            assert await c.ping() is True
            assert await c.get("k") is None
            assert await c.get("k", b"d") == b"d"
            assert await c.set("k", b"v") is None
            assert await c.get("k") == b"v"
            await c.set("b", bytearray(b"ba"))
            await c.set("m", memoryview(b"mv"))
            assert await c.get_many(["b", "m", "nope"]) == [b"ba", b"mv", None]
            assert await c.len() == 3
            assert sorted(await c.keys()) == ["b", "k", "m"]
            assert await c.keys("[bm]") in (["b", "m"], ["m", "b"])
            assert await c.exists("k", "k", "nope") == 2
            assert await c.exists() == 0
            assert await c.touch("k", "nope") == 1
            assert await c.pop("k") == b"v"
            assert await c.pop("k") is None
            assert await c.pop("k", b"gone") == b"gone"
            assert await c.delete("b", "m", "nope") == 2
            assert await c.delete() == 0
            assert await c.delete(key="nope") == 0
            await c.set_many({"x": b"1", "y": b"2"})
            await c.set_many([("z", b"3")])
            assert await c.pop_many(["x", "nope", "z"]) == [b"1", None, b"3"]
            assert await c.pop_many([]) == []
            assert await c.get_many([]) == []
            assert await c.add("a", b"1") is True
            assert await c.add("a", b"2") is False
            assert await c.get("a") == b"1"
            assert await c.add("t", b"1", ttl=100) is True
            assert 99 < await c.ttl("t") <= 100
            assert await c.ttl("a") == float("inf")
            assert await c.ttl("nope") is None
            assert await c.expire("a", 50) is True
            assert await c.expire("nope", 50) is False
            assert 49 < await c.ttl("a") <= 50
            assert await c.persist("a") is True
            assert await c.persist("a") is False
            await c.set("e", b"v", ttl=0.05)
            await asyncio.sleep(0.2)
            assert await c.get("e") is None
            assert await c.incr("n") == 1
            assert await c.incr("n", 10) == 11
            assert await c.decr("n", 2) == 9
            assert await c.decr("n") == 8
            assert await c.push("q", b"a", b"b", b"c") == 3
            assert await c.llen("q") == 3
            assert await c.peek("q") == b"a"
            assert await c.peek("q", -1) == b"c"
            assert await c.peek("q", 9) is None
            assert await c.lrange("q") == [b"a", b"b", b"c"]
            assert await c.lrange("q", 1, 1) == [b"b"]
            assert await c.take_nowait("q") == b"a"
            assert await c.take_nowait("q", into="done") == b"b"
            assert await c.lrange("done") == [b"b"]
            assert await c.take_nowait("nope") is None
            assert await c.execute("SET", "raw", b"r") == "OK"
            assert await c.execute(b"GET", "raw") == b"r"
            assert await c.execute("STRLEN", "raw") == 1
            await c.clear()
            assert await c.len() == 0

    run(main())


def test_scan_and_async_for(server):
    async def main():
        async with client(server) as c:
            await c.set_many({f"s:{i}": b"" for i in range(2500)})
            await c.set("other", b"")
            got = [k async for k in c]
            assert sorted(set(got)) == sorted([f"s:{i}" for i in range(2500)]
                                              + ["other"])
            got = [k async for k in c.scan_iter("s:1*", count=10)]
            assert sorted(set(got)) == sorted(f"s:{i}" for i in range(2500)
                                              if str(i).startswith("1"))
            with pytest.raises(TypeError):
                c.scan_iter(1)
            with pytest.raises(ValueError):
                c.scan_iter("*", 0)
            with pytest.raises(TypeError):
                c.scan_iter("*", 1.5)

    run(main())


def test_argument_errors_send_nothing():
    # Bad arguments raise before anything is sent: no server needed.
    c = AsyncTinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)

    async def main():
        for call in (c.get(1), c.pop(b"k"), c.set(1, b"v"), c.delete("a", 2),
                     c.exists(None), c.keys(1), c.get_many(["a", 1]),
                     c.pop_many([1]), c.set_many({1: b"v"}), c.add(1, b"v"),
                     c.expire(1, 1), c.persist(1), c.ttl(1), c.incr(1),
                     c.push(1, b"v"), c.push("q"), c.take_nowait(1),
                     c.take_nowait("q", into=1), c.llen(1), c.peek(1),
                     c.peek("q", "0"), c.lrange(1), c.incr("n", 1.5),
                     c.execute()):
            with pytest.raises(TypeError):
                await call
        with pytest.raises(TypeError, match="serializer="):
            await c.set("k", "text")
        with pytest.raises(TypeError, match="serializer="):
            await c.push("q", {"a": 1})
        with pytest.raises(ValueError):
            await c.set("k", b"v", ttl=0)
        with pytest.raises(ValueError):
            await c.expire("k", -1)
        # ... and the first real call reports the missing server.
        with pytest.raises(TinyCacheConnectionError, match="cannot connect"):
            await c.get("k")

    run(main())
    with pytest.raises(ValueError):
        AsyncTinyCache("127.0.0.1:1", timeout=0)
    with pytest.raises(ValueError):
        AsyncTinyCache("127.0.0.1:1", connect_timeout=-1)
    with pytest.raises(ValueError, match="serializer"):
        AsyncTinyCache("127.0.0.1:1", serializer="nope")
    with pytest.raises(ValueError):
        AsyncTinyCache("127.0.0.1:1", username="u")


def test_no_awaitable_dict_habits(server):
    # len(), in and [] cannot be awaited: they are absent, not blocking.
    c = client(server)
    for name in ("__len__", "__contains__", "__getitem__", "__setitem__",
                 "__delitem__", "__iter__"):
        assert not hasattr(c, name), name
    assert bool(c) is True
    assert hasattr(c, "__aiter__")
    assert "len(cache)" in AsyncTinyCache.__doc__


# ---- Pipelining ----

def test_100_concurrent_tasks_get_their_own_replies(server):
    async def task(c, i):
        key, value = f"t:{i}", f"value-{i}-".encode() * (i % 7 + 1)
        for j in range(20):
            await c.set(key, value + b"%d" % j)
            assert await c.get(key) == value + b"%d" % j
            assert await c.incr(f"n:{i}", i) == i * (j + 1)
            assert await c.exists(key, key) == 2
            assert await c.get_many([key, "nope"]) == [value + b"%d" % j,
                                                       None]
        assert await c.pop(key) == value + b"19"
        return i

    async def main():
        async with client(server) as c:
            done = await asyncio.gather(*(task(c, i) for i in range(100)))
            assert done == list(range(100))
            assert await c.len() == 100             # the n:i counters
            # One connection for all of them.
            clients = await c.execute("CLIENT", "LIST")
            assert clients.count(b"id=") == 1

    run(main())


def test_writes_of_one_turn_go_out_together(server):
    # Requests made while others are in flight are sent in one write.
    async def main():
        async with client(server) as c:
            await c.ping()
            proto = c._proto
            writes = []
            real = proto.transport.write
            proto.transport.write = lambda data: (writes.append(data),
                                                  real(data))
            values = await asyncio.gather(*(c.get(f"k{i}") for i in range(50)))
            assert values == [None] * 50
            assert len(writes) == 2                 # the first, then 49
            assert writes[1].count(b"GET") == 49

    run(main())


# ---- Reading: replies of any size, in any pieces ----

def test_big_replies_across_reads(server):
    # The connection reads into a buffer of its own (64 KiB); a reply
    # bigger than that (up to one bigger than the 4 MiB a read buffer
    # may take) comes in whole, alone or among small ones, and the small
    # buffer is back once it is in.
    sizes = [0, 1, 65535, 65536, 65537, 300_000, 4 * 1024 * 1024 + 3]
    values = {f"big:{n}": bytes([65 + n % 26]) * n for n in sizes}

    async def main():
        async with client(server) as c:
            for key, value in values.items():
                await c.set(key, value)
            for key, value in values.items():
                assert await c.get(key) == value
                assert c._proto.rbuf is c._proto.rbuf_small
            keys = list(values)
            got = await asyncio.gather(*(c.get(k) for k in keys * 2),
                                       c.get_many(keys), c.ping())
            assert got[:-2] == [values[k] for k in keys * 2]
            assert got[-2] == [values[k] for k in keys]
            assert got[-1] is True
            await c.push("big:list", *([b"x" * 1000] * 500))
            assert await c.lrange("big:list") == [b"x" * 1000] * 500
            assert c._proto.rbuf is c._proto.rbuf_small

    run(main())


def test_replies_in_pieces():
    # Replies split anywhere (one byte, then the rest in pieces, two
    # replies sharing a piece) are put together and matched in order.
    value = bytes(range(256)) * 1000           # 256,000 bytes

    def pieces(fake, conn, index):
        buf = b""
        while True:
            args, buf = read_command(conn, buf)
            if args is None:
                return
            if args[0] == b"PING":
                conn.sendall(b"+PONG\r\n")
                continue
            # A GET: its reply and the next PING's come split up.
            args, buf = read_command(conn, buf)
            assert args[0] == b"PING"
            data = _bulk(value) + b"+PONG\r\n"
            cuts = [0, 1, 2, 5, 70_000, 200_000, len(data) - 3, len(data)]
            for a, b in zip(cuts, cuts[1:]):
                conn.sendall(data[a:b])
                time.sleep(0.01)

    with FakeServer(pieces) as fake:
        async def main():
            async with AsyncTinyCache(fake.address, connect_timeout=5) as c:
                assert await c.ping()
                for _ in range(2):
                    got = await asyncio.gather(c.get("k"), c.ping())
                    assert got == [value, True]
                    assert c._proto.rbuf is c._proto.rbuf_small

        run(main())


# ---- Cancellation ----

def test_cancelled_call_never_gets_or_gives_a_stale_reply():
    with Store() as store:
        store.data[b"a"], store.data[b"b"] = b"value-a", b"value-b"

        async def main():
            async with client(store) as c:
                assert await c.ping()
                first = await store.hold(c.get("a"), "GET a")
                await cancel(first)
                # Timed out with wait_for after it was sent: the same.
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(c.get("a"), 0.05)
                second = await store.hold(c.get("b"), "GET b")
                store.gate.set()
                assert await second == b"value-b"
                assert await c.get("a") == b"value-a"

        run(main())
        assert store.names() == [b"PING", b"GET", b"GET", b"GET", b"GET"]


def test_cancelled_before_sending_sends_nothing():
    # Calls cancelled while the connection is being opened (here: its
    # AUTH is not answered yet) send nothing.
    with Store() as store:
        async def main():
            c = client(store, password="pw")
            await cancel(await store.hold(c.pop("k"), "AUTH"))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.set("k", b"v"), 0.05)
            store.gate.set()
            assert await c.ping()
            await c.aclose()

        run(main())
        assert store.names() == [b"AUTH", b"PING"]
        assert store.data == {}


def test_cancelled_pop_puts_the_value_back():
    with Store() as store:
        store.data[b"k"] = b"v"

        async def main():
            async with client(store) as c:
                assert await c.ping()
                p = await store.hold(c.pop("k"), "GETDEL")
                await cancel(p)
                store.gate.set()
                # The value is back once the late reply is in.
                await settle(c)
                assert await c.get("k") == b"v"

        run(main())
        assert store.commands[1] == [b"GETDEL", b"k"]
        assert [b"SET", b"k", b"v", b"NX"] in store.commands
        assert store.data == {b"k": b"v"}


def test_cancelled_pop_of_a_key_set_again_logs_the_drop(caplog):
    with Store() as store:
        store.data[b"k"] = b"old"

        async def main():
            async with client(store) as c:
                assert await c.ping()
                p = await store.hold(c.pop("k"), "GETDEL")
                p.cancel()
                s = asyncio.ensure_future(c.set("k", b"new"))
                await until(lambda: len(store.commands) == 3, "SET")
                store.gate.set()
                await s
                assert await c.get("k") == b"new"
                await c.ping()

        with caplog.at_level(logging.WARNING, logger="tiny_mp_cache"):
            run(main())
        assert store.names()[1:4] == [b"GETDEL", b"SET", b"SET"]
        assert store.commands[3] == [b"SET", b"k", b"old", b"NX"]
        drops = [r for r in caplog.records if r.name == "tiny_mp_cache"
                 and r.levelno == logging.WARNING]
        assert len(drops) == 1
        assert "'k'" in drops[0].getMessage()
        assert "dropped" in drops[0].getMessage()


def test_pop_cancelled_after_its_reply_came_puts_it_back():
    # The reply is in (the future holds it) but the task is cancelled
    # before it resumes: the value is put back too.
    with Store() as store:
        store.data[b"k"] = b"v"

        async def main():
            async with client(store) as c:
                assert await c.ping()
                p = await store.hold(c.pop("k"), "GETDEL")
                proto = c._proto
                fut = proto.pending[0][0]
                received = proto.buffer_updated

                def then_cancel(nbytes):
                    received(nbytes)
                    assert fut.result() == b"v"
                    p.cancel()                  # before p resumes

                proto.buffer_updated = then_cancel
                store.gate.set()
                with pytest.raises(asyncio.CancelledError):
                    await p
                assert await c.get("k") == b"v"

        run(main())
        assert store.names()[1:] == [b"GETDEL", b"SET", b"GET"]


def test_cancelled_pop_many_puts_every_value_back():
    with Store() as store:
        store.data.update({b"a": b"1", b"b": b"2"})

        async def main():
            async with client(store) as c:
                assert await c.ping()
                p = await store.hold(c.pop_many(["a", "b", "c"]), "GETDELs", 3)
                await cancel(p)
                store.gate.set()
                await settle(c)
                assert await c.execute("DBSIZE") == 2
                assert store.data == {b"a": b"1", b"b": b"2"}

        run(main())


def test_cancelled_take_nowait_pushes_the_item_back():
    with Store() as store:
        store.lists[b"q"] = [b"1", b"2"]

        async def main():
            async with client(store) as c:
                assert await c.ping()
                p = await store.hold(c.take_nowait("q"), "LPOP")
                p.cancel()
                store.gate.set()
                await settle(c)
                assert store.lists[b"q"] == [b"1", b"2"]

        run(main())
        assert [b"LPUSH", b"q", b"1"] in store.commands


def test_cancelled_pop_against_our_server(server, caplog):
    # The real thing: GETDEL pipelined behind a BLPOP that waits 0.5 s.
    async def main():
        async with client(server) as c:
            await c.set("k", b"v")
            slow = asyncio.ensure_future(c.execute("BLPOP", "nolist", "0.5"))
            p = asyncio.ensure_future(c.pop("k"))
            await asyncio.sleep(0.05)
            p.cancel()
            assert await slow is None
            assert await c.get("k") == b"v"            # put back
            slow = asyncio.ensure_future(c.execute("BLPOP", "nolist", "0.5"))
            p = asyncio.ensure_future(c.pop("k"))
            await asyncio.sleep(0.05)
            p.cancel()
            s = asyncio.ensure_future(c.set("k", b"v2"))
            assert await slow is None
            await s
            await c.ping()
            assert await c.get("k") == b"v2"

    warnings = run_logged(caplog, main())
    assert len(warnings) == 1 and "'k'" in warnings[0]


# ---- Timeouts ----

def test_timeout_keeps_the_connection_and_drops_the_late_reply():
    with Store() as store:
        store.data.update({b"a": b"1", b"b": b"2", b"p": b"popped"})

        async def main():
            c = AsyncTinyCache(store.address, connect_timeout=5, timeout=0.2)
            assert await c.ping()
            store.gate.clear()
            t0 = time.monotonic()
            with pytest.raises(TinyCacheTimeoutError) as ei:
                await c.get("a")
            assert 0.15 < time.monotonic() - t0 < 5
            assert "within 0.2 s" in str(ei.value)
            assert "may have run" not in str(ei.value)
            with pytest.raises(TinyCacheTimeoutError) as ei:
                await c.pop("p")
            assert "GETDEL, which is not retried: it may have run" in \
                str(ei.value)
            store.gate.set()
            assert await c.get("b") == b"2"
            assert await c.get("p") == b"popped"        # put back
            await c.aclose()

        run(main())
        # One connection; the late replies were matched and dropped.
        assert store.fake.connections == 1


# ---- Errors ----

def test_error_replies_as_tinycache(server):
    sync = TinyCache(server.address, connect_timeout=5)
    sync.push("alist", b"x")
    expected = {}
    for name, call in (("get", lambda c: c.get("alist")),
                       ("incr", lambda c: c.incr("alist")),
                       ("exec", lambda c: c.execute("NOSUCH"))):
        with pytest.raises(ReplyError) as ei:
            call(sync)
        expected[name] = str(ei.value)
    sync.close()

    async def main():
        async with client(server) as c:
            with pytest.raises(ReplyError) as ei:
                await c.get("alist")
            assert str(ei.value) == expected["get"]
            assert str(ei.value).startswith("WRONGTYPE")
            with pytest.raises(ReplyError) as ei:
                await c.incr("alist")
            assert str(ei.value) == expected["incr"]
            with pytest.raises(ReplyError) as ei:
                await c.execute("NOSUCH")
            assert str(ei.value) == expected["exec"]
            with pytest.raises(ReplyError, match="^WRONGTYPE"):
                await c.pop_many(["alist"])
            assert await c.ping()                      # still usable

    run(main())


def test_pop_many_error_puts_the_others_back(server):
    async def main():
        async with client(server) as c:
            await c.push("alist", b"x")
            await c.set("a", b"1")
            with pytest.raises(ReplyError, match="^WRONGTYPE"):
                await c.pop_many(["a", "alist"])
            assert await c.get("a") == b"1"

    run(main())


def test_garbage_reply_is_protocol_error():
    def garbage(fake, conn, index):
        while fake.read(conn) is not None:
            conn.sendall(b"?what\r\n")

    with FakeServer(garbage) as fake:
        async def main():
            c = AsyncTinyCache(fake.address, connect_timeout=5)
            with pytest.raises(ProtocolError):
                await c.get("k")
            await c.aclose()

        run(main())


def test_passwords():
    pw = "pa55-word"

    async def main(addr):
        async with AsyncTinyCache(addr, password=pw, connect_timeout=5) as c:
            await c.set("k", b"v")
            assert await c.get("k") == b"v"
        async with AsyncTinyCache(addr, password="wrong",
                                  connect_timeout=5) as c:
            with pytest.raises(AuthenticationError, match="WRONGPASS"):
                await c.get("k")
        async with AsyncTinyCache(addr, connect_timeout=5) as c:
            with pytest.raises(AuthenticationError,
                               match="^NOAUTH.*password="):
                await c.get("k")
        url = addr.replace("127.0.0.1", f"redis://:{pw}@127.0.0.1")
        async with AsyncTinyCache.from_url(url, connect_timeout=5) as c:
            assert await c.get("k") == b"v"

    with spawn(port=0, loglevel="warning", requirepass=pw) as srv:
        run(main(srv.address))


# ---- Connections ----

def test_connect_waits_for_starting_server(backend):
    port = free_port()

    async def main():
        c = AsyncTinyCache(f"127.0.0.1:{port}", connect_timeout=20)
        calls = [asyncio.ensure_future(c.len()) for _ in range(5)]
        await asyncio.sleep(0.3)
        assert not any(f.done() for f in calls)
        srv = await asyncio.get_running_loop().run_in_executor(
            None, lambda: spawn(port=port, event_backend=backend,
                                loglevel="warning"))
        try:
            assert await asyncio.gather(*calls) == [0] * 5
            await c.aclose()
        finally:
            srv.stop()

    run(main())


def test_unreachable_names_address():
    port = free_port()

    async def main():
        c = AsyncTinyCache(f"127.0.0.1:{port}", connect_timeout=0.2)
        t0 = time.monotonic()
        with pytest.raises(TinyCacheConnectionError,
                           match=f"127.0.0.1:{port}.*waited 0.2 s"):
            await c.pop("k")
        assert time.monotonic() - t0 < 5

    run(main())


def test_server_restart(backend):
    port = free_port()

    async def main():
        c = AsyncTinyCache(f"127.0.0.1:{port}", connect_timeout=10)
        with spawn(port=port, event_backend=backend, loglevel="warning"):
            await c.set("job:1", b"a")
            assert await c.len() == 1
        with spawn(port=port, event_backend=backend, loglevel="warning"):
            # pop notices the closed idle connection before sending.
            assert await c.pop("job:1") is None
            await c.set("job:2", b"b")
        with spawn(port=port, event_backend=backend, loglevel="warning"):
            assert await c.get("job:2") is None     # sent again
            assert await c.len() == 0
        await c.aclose()

    run(main())


def test_broken_connection_retries_or_not():
    # A command safe to repeat is sent again once on a new connection;
    # pop is not (TinyCacheConnectionError); each next call reconnects.
    with Store() as store:
        store.data[b"k"] = b"v"

        async def main():
            c = AsyncTinyCache(store.address, connect_timeout=5)
            store.drop.add(b"GET")
            assert await c.get("k") == b"v"
            store.drop.add(b"GETDEL")
            with pytest.raises(TinyCacheConnectionError, match="not retried"):
                await c.pop("k")
            assert await c.pop("k") == b"v"
            store.drop.add(b"DBSIZE")
            assert await c.len() == 0               # sent again
            await c.aclose()

        run(main())
        assert store.names() == [b"GET", b"GET", b"GETDEL", b"GETDEL",
                                 b"DBSIZE", b"DBSIZE"]


def test_retry_only_once():
    def drop_all(fake, conn, index):
        fake.read(conn)                     # and close unanswered

    with FakeServer(drop_all) as fake:
        async def main():
            c = AsyncTinyCache(fake.address, connect_timeout=5)
            with pytest.raises(TinyCacheConnectionError, match="twice"):
                await c.get("k")
            await c.aclose()

        run(main())
        assert [a[0] for a in fake.commands] == [b"GET", b"GET"]


def test_pending_calls_fail_when_the_connection_breaks():
    release = threading.Event()

    def hang_then_close(fake, conn, index):
        buf = b""
        for _ in range(3):
            args, buf = read_command(conn, buf)
            if args is None:
                return
        release.wait(10)                    # then close, unanswered

    with FakeServer(hang_then_close) as fake:
        async def main():
            c = AsyncTinyCache(fake.address, connect_timeout=5)
            calls = [asyncio.ensure_future(c.incr("n")),
                     asyncio.ensure_future(c.pop("k")),
                     asyncio.ensure_future(c.add("a", b"1"))]
            await asyncio.sleep(0.1)
            release.set()
            for f in calls:
                with pytest.raises(TinyCacheConnectionError,
                                   match="not retried"):
                    await f
            await c.aclose()

        run(main())


def test_aclose_fails_pending_and_reopens(server):
    async def main():
        c = client(server)
        await c.set("k", b"v")
        slow = asyncio.ensure_future(c.execute("BLPOP", "nolist", "5"))
        await asyncio.sleep(0.05)
        assert "connected" in repr(c)
        await c.aclose()
        assert "idle" in repr(c)
        with pytest.raises(TinyCacheConnectionError, match="aclose"):
            await slow
        assert await c.get("k") == b"v"            # a new connection
        await c.aclose()
        await c.aclose()                           # twice is fine

    run(main())


def test_unix_socket(unix_server):
    async def main():
        for addr in (unix_server.address,
                     unix_server.address.replace("unix://", "")):
            async with AsyncTinyCache(addr, connect_timeout=5) as c:
                await c.set("k", b"v")
                assert await c.get("k") == b"v"
                got = await asyncio.gather(*(c.incr("n") for _ in range(50)))
                assert got == list(range(1, 51))
                assert await c.pop("k") == b"v"
                await c.clear()

    run(main())


def test_unix_socket_counts_in_order(unix_server):
    async def main():
        async with AsyncTinyCache(unix_server.address, connect_timeout=5) as c:
            got = await asyncio.gather(*(c.incr("n") for _ in range(200)))
            assert sorted(got) == list(range(1, 201))
            assert got == list(range(1, 201))      # sent in order

    run(main())


def test_each_event_loop_gets_its_own_connection(server):
    c = client(server)

    async def use(value):
        await c.set("k", value)
        return await c.get("k")

    assert run(use(b"1")) == b"1"
    assert run(use(b"2")) == b"2"                   # a new loop: reconnects
    run(c.aclose())


# ---- Values, URLs, pickling, fork ----

def test_serializer_json(server):
    async def main():
        async with client(server, serializer="json") as c:
            assert c.serializer.name == "json"
            await c.set("d", {"n": 1, "l": [1, "x"]})
            assert await c.get("d") == {"n": 1, "l": [1, "x"]}
            await c.set_many({"a": [1], "b": "text"})
            assert await c.get_many(["a", "b", "nope"]) == [[1], "text", None]
            assert await c.add("c", None) is True
            assert await c.get("c") is None
            assert await c.exists("c") == 1
            assert await c.pop("d") == {"n": 1, "l": [1, "x"]}
            assert await c.pop_many(["a", "b"]) == [[1], "text"]
            await c.push("q", {"job": 1}, {"job": 2})
            assert await c.lrange("q") == [{"job": 1}, {"job": 2}]
            assert await c.peek("q") == {"job": 1}
            assert await c.take_nowait("q") == {"job": 1}
            with pytest.raises(TypeError):
                await c.set("k", object())
        async with client(server) as raw:
            assert await raw.get("c") == b"null"
            assert await raw.lrange("q") == [b'{"job":2}']

    run(main())


def test_urls(server, unix_server):
    port = server.address.rsplit(":", 1)[1]

    async def main():
        for url in (f"redis://127.0.0.1:{port}/0", f"tcp://127.0.0.1:{port}",
                    f"redis://127.0.0.1:{port}"):
            c = AsyncTinyCache.from_url(url, connect_timeout=5)
            assert isinstance(c, AsyncTinyCache)
            assert c.address == f"127.0.0.1:{port}"
            assert await c.ping()
            await c.aclose()
        c = AsyncTinyCache(unix_server.address + "?db=0", connect_timeout=5)
        assert await c.ping()
        await c.aclose()

    run(main())
    with pytest.raises(ValueError, match="TLS"):
        AsyncTinyCache("rediss://127.0.0.1:1")
    with pytest.raises(ValueError, match="database 1"):
        AsyncTinyCache.from_url("redis://127.0.0.1:1/1")
    with pytest.raises(ValueError, match="not a URL"):
        AsyncTinyCache.from_url("127.0.0.1:1")


def test_pickle_keeps_address_and_options(server):
    async def main():
        c = client(server, serializer="json", timeout=7.0)
        await c.set("k", [1])
        copy = pickle.loads(pickle.dumps(c))
        assert isinstance(copy, AsyncTinyCache)
        assert copy is not c and copy.address == c.address
        assert copy.serializer is c.serializer
        assert copy._timeout == 7.0 and copy._proto is None
        assert await copy.get("k") == [1]
        await copy.aclose()
        await c.aclose()

    run(main())


def _child_main(c, q):
    async def main():
        await c.set("child", b"c")
        return await c.get("parent")
    q.put(asyncio.run(main()))


def test_fork_child_opens_its_own_connection(server):
    async def main():
        c = client(server)
        await c.set("parent", b"p")
        port = c._proto.transport.get_extra_info("sockname")[1]
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=_child_main, args=(c, q))
        p.start()
        got = await asyncio.get_running_loop().run_in_executor(
            None, lambda: q.get(timeout=30))
        p.join(30)
        assert got == b"p" and p.exitcode == 0
        # The parent's connection is untouched.
        assert c._proto.transport.get_extra_info("sockname")[1] == port
        assert await c.get("child") == b"c"
        await c.aclose()

    run(main())


# ---- Against a real redis-server ----

def test_against_redis_server(caplog):
    async def main(addr):
        async with AsyncTinyCache(addr, connect_timeout=10) as c:
            await c.clear()
            await c.set("k", b"v", ttl=100)
            assert await c.get("k") == b"v"
            assert 99 < await c.ttl("k") <= 100
            assert await c.pop("k") == b"v"
            got = await asyncio.gather(*(c.incr(f"n{i % 10}")
                                         for i in range(100)))
            assert sorted(got) == sorted(list(range(1, 11)) * 10)
            await c.push("alist", b"x")
            with pytest.raises(ReplyError, match="^WRONGTYPE"):
                await c.get("alist")
            await c.set("p", b"v")
            slow = asyncio.ensure_future(c.execute("BLPOP", "nolist", "0.5"))
            p = asyncio.ensure_future(c.pop("p"))
            await asyncio.sleep(0.05)
            p.cancel()
            assert await slow is None
            assert await c.get("p") == b"v"
            assert sorted([k async for k in c]) == ["alist", "n0", "n1", "n2",
                                                    "n3", "n4", "n5", "n6",
                                                    "n7", "n8", "n9", "p"]

    with tmcpy.redis_server() as r:
        with caplog.at_level(logging.WARNING, logger="tiny_mp_cache"):
            run(main(r["address"]))
            run(main(r["unix"]))
    assert not [r for r in caplog.records if r.name == "tiny_mp_cache"]


# ---- Blocking takes: each on a connection of its own ----

def _on(address, **kw):
    kw.setdefault("connect_timeout", 10.0)
    return AsyncTinyCache(address, **kw)


async def _waiting(c, count=1):
    """Return once count takes of c wait on the server (their requests
    are read: CLIENT LIST names the blocking command)."""
    deadline = time.monotonic() + 10
    while True:
        listing = await c.execute("CLIENT", "LIST")
        if _blocked(listing) >= count:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"no {count} blocked take(s): {listing!r}")
        await asyncio.sleep(0.005)


def _blocked(listing):
    """How many clients of a CLIENT LIST reply wait (flag b)."""
    return sum("b" in line.split(" flags=")[1].split(" ")[0]
               for line in listing.decode().splitlines())


def _before_unblock(c, hook):
    """Run hook() (synchronous) right before c sends its first CLIENT
    UNBLOCK, over the main connection: what another client does then
    happens before the server reads the unblock."""
    real = c._call
    state = {"done": False}

    async def call(data, *rest):
        if b"UNBLOCK" in data and not state["done"]:
            state["done"] = True
            hook()
        return await real(data, *rest)

    c._call = call
    return state


def test_take_in_order_with_timeouts_into_and_take_many(module_address):
    async def main():
        async with _on(module_address) as c:
            await c.clear()
            await c.push("q", b"1", b"2", b"3")
            assert [await c.take("q") for _ in range(3)] == [b"1", b"2", b"3"]
            t0 = time.monotonic()
            assert await c.take("q", 0.2) is None
            assert 0.15 < time.monotonic() - t0 < 5
            assert await c.take("q", 0) is None
            assert await c.take_many("q", 3, 0.1) == []
            assert await c.take_many("q", 3, 0) == []
            # A take waiting as long as it takes gets a later push.
            t = asyncio.ensure_future(c.take("q"))
            await _waiting(c)
            await c.push("q", b"late")
            assert await t == b"late"
            await c.push("q", b"a", b"b", b"c")
            assert await c.take_many("q", 2) == [b"a", b"b"]
            assert await c.take_many("q", 5, 1) == [b"c"]
            await c.push("q", b"d", b"e", b"f")
            assert await c.take_many("q", 2, 0) == [b"d", b"e"]
            # into: the item moves atomically to the tail of into.
            await c.push("done", b"old")
            assert await c.take("q", 5, into="done") == b"f"
            assert await c.take("q", 0.1, into="done") is None
            assert await c.lrange("done") == [b"old", b"f"]
            assert await c.llen("q") == 0
            t = asyncio.ensure_future(c.take("q", into="done"))
            await _waiting(c)
            await c.push("q", b"g")
            assert await t == b"g"
            assert await c.lrange("done") == [b"old", b"f", b"g"]
            # Errors as TinyCache's; the connection stays usable.
            await c.set("s", b"x")
            with pytest.raises(ReplyError, match="^WRONGTYPE"):
                await c.take("s", 1)
            with pytest.raises(ReplyError, match="^WRONGTYPE"):
                await c.take_many("s", 2)
            # One blocking connection did it all, kept in the pool.
            assert len(c._idle) == 1 and len(c._blockers) == 1
            clients = await c.execute("CLIENT", "LIST")
            assert clients.count(b"id=") == 2

    run(main())


def test_take_arguments_checked_before_sending():
    c = AsyncTinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)

    async def main():
        for call in (c.take(1), c.take("q", "1"), c.take("q", into=1),
                     c.take("q", True), c.take_many(1, 1),
                     c.take_many("q", 1.0), c.take_many("q", 1, "1")):
            with pytest.raises(TypeError):
                await call
        for call in (c.take("q", -1), c.take("q", float("nan")),
                     c.take_many("q", 0), c.take_many("q", 1, -1)):
            with pytest.raises(ValueError):
                await call
        assert not c._blockers

    run(main())


def test_serializer_applies_to_take(server):
    async def main():
        async with client(server, serializer="json") as c:
            await c.push("q", {"job": 1}, [2], "three", None)
            assert await c.take("q") == {"job": 1}
            assert await c.take("q", 1, into="p") == [2]
            assert await c.take_many("q", 5) == ["three", None]
            assert await c.lrange("p") == [[2]]
            await c.push("q", {"a": 1})
            assert await c.take_many("q", 5, 0) == [{"a": 1}]

    run(main())


def test_waiting_take_holds_up_no_other_call(module_address):
    # Three takes wait (on three connections) while the main connection
    # serves other tasks' calls at once.
    async def main():
        async with _on(module_address) as c:
            await c.clear()
            takes = [asyncio.ensure_future(c.take(f"q{i}")) for i in range(3)]
            await _waiting(c, 3)
            t0 = time.monotonic()
            for i in range(20):
                await c.set(f"k{i}", b"v")
                assert await c.get(f"k{i}") == b"v"
            assert time.monotonic() - t0 < 2
            assert not any(t.done() for t in takes)
            for i in range(3):
                await c.push(f"q{i}", b"%d" % i)
            assert await asyncio.gather(*takes) == [b"0", b"1", b"2"]
            assert len(c._blockers) == 3 and len(c._idle) == 3

    run(main())


def test_cancelled_take_with_nothing_served_leaves_the_list(module_address,
                                                           caplog):
    async def main():
        async with _on(module_address) as c:
            await c.clear()
            await c.push("other", b"x")
            t = asyncio.ensure_future(c.take("q"))
            await _waiting(c)
            await cancel(t)
            # The server's wait is over: nothing is blocked any more.
            assert _blocked(await c.execute("CLIENT", "LIST")) == 0
            t = asyncio.ensure_future(c.take_many("q", 3, 30))
            await _waiting(c)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(t, 0.05)
            t = asyncio.ensure_future(c.take("q", into="done"))
            await _waiting(c)
            await cancel(t)
            assert await c.exists("q", "done") == 0
            # The connection went back to the pool, and takes still work.
            assert len(c._blockers) == 1 and len(c._idle) == 1
            await c.push("q", b"1", b"2")
            assert await c.take("q") == b"1"
            assert await c.take_many("q", 5) == [b"2"]
            assert len(c._blockers) == 1

    assert run_logged(caplog, main()) == []


def test_cancelled_take_served_just_before_the_unblock_puts_back(
        module_address, caplog):
    # Another client pushes right before the CLIENT UNBLOCK is sent: the
    # server serves the waiting take first (the unblock finds nothing
    # waiting), and the item must come back at the head, in order.
    sync = TinyCache(module_address, connect_timeout=10)

    async def main():
        async with _on(module_address) as c:
            await c.clear()
            await c.push("q", b"before")        # another take's, below
            assert await c.take("q") == b"before"
            await c.push("keep", b"k")
            _before_unblock(c, lambda: sync.push("q", b"served", b"next"))
            t = asyncio.ensure_future(c.take("q"))
            await _waiting(c)
            await cancel(t)
            assert await c.lrange("q") == [b"served", b"next"]

            # take_many: its items come back in order, ahead of the rest.
            await c.delete("q")
            _before_unblock(c, lambda: sync.push("q", b"a", b"b", b"c"))
            t = asyncio.ensure_future(c.take_many("q", 2))
            await _waiting(c)
            await cancel(t)
            assert await c.lrange("q") == [b"a", b"b", b"c"]

            # into: the very item leaves into again, even with others put
            # after it there meanwhile (LMOVE into q RIGHT LEFT would take
            # "later"), and is back at the head of q.
            await c.delete("q")
            await c.push("done", b"old")

            def serve_then_append():
                sync.push("q", b"moved", b"rest")
                sync.push("done", b"later")
            _before_unblock(c, serve_then_append)
            t = asyncio.ensure_future(c.take("q", into="done"))
            await _waiting(c)
            await cancel(t)
            assert await c.lrange("q") == [b"moved", b"rest"]
            assert await c.lrange("done") == [b"old", b"later"]
            assert len(c._idle) == 1            # back in the pool
            assert await c.lrange("keep") == [b"k"]

    try:
        assert run_logged(caplog, main()) == []
    finally:
        sync.close()


def test_take_cancelled_twice_still_ends_its_wait(server, caplog):
    # A second cancel during the first's clean-up does not stop it: the
    # wait is ended and the served item put back all the same.
    import tiny_mp_cache.aio as aio
    sync = TinyCache(server.address, connect_timeout=10)

    async def main():
        async with client(server) as c:
            _before_unblock(c, lambda: sync.push("q", b"served"))
            t = asyncio.ensure_future(c.take("q"))
            await _waiting(c)
            t.cancel()
            await asyncio.sleep(0)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            await until(lambda: not aio._TASKS, "the clean-up")
            assert await c.lrange("q") == [b"served"]
            await c.push("q", b"v")
            assert await c.take_many("q", 5, 1) == [b"served", b"v"]

    try:
        assert run_logged(caplog, main()) == []
    finally:
        sync.close()


def test_unblock_sent_before_the_take_is_read_is_sent_again(server):
    # The first CLIENT UNBLOCK finds nothing waiting (as when the take's
    # request is not read yet): it is sent again until the wait is over.
    async def main():
        async with client(server) as c:
            t = asyncio.ensure_future(c.take("q"))
            await _waiting(c)
            real = c._call
            sent = []

            async def call(data, *rest):
                if b"UNBLOCK" in data:
                    sent.append(data)
                    if len(sent) == 1:
                        data = data.replace(b"$1\r\n", b"$6\r\n999999",
                                            1)[:-3] + b"\r\n"
                return await real(data, *rest)

            c._call = call
            await cancel(t)
            assert len(sent) == 2
            assert _blocked(await c.execute("CLIENT", "LIST")) == 0
            c._call = real
            await c.push("q", b"v")
            assert await c.take("q") == b"v"

    run(main())


def test_cancelled_take_that_cannot_put_back_warns(module_address, caplog):
    sync = TinyCache(module_address, connect_timeout=10)

    def serve_then_block_the_list():
        sync.push("q", b"served")
        sync.set("q", b"now a string")          # LPUSH: WRONGTYPE

    async def main():
        async with _on(module_address) as c:
            await c.clear()
            _before_unblock(c, serve_then_block_the_list)
            t = asyncio.ensure_future(c.take("q"))
            await _waiting(c)
            await cancel(t)
            assert await c.get("q") == b"now a string"

    try:
        warnings = run_logged(caplog, main())
    finally:
        sync.close()
    assert len(warnings) == 1, warnings
    assert "'q'" in warnings[0] and "dropped" in warnings[0]
    assert "WRONGTYPE" in warnings[0]


def test_cancelled_take_whose_connection_breaks_warns(module_address, caplog):
    async def main():
        async with _on(module_address) as c:
            await c.clear()
            t = asyncio.ensure_future(c.take("q"))
            await _waiting(c)
            sock = next(iter(c._blockers)).sock
            _before_unblock(c, lambda: sock.shutdown(socket.SHUT_RDWR))
            await cancel(t)
            assert not c._blockers and not c._idle
            while _blocked(await c.execute("CLIENT", "LIST")):
                await asyncio.sleep(0.005)
            await c.push("q", b"v")
            assert await c.take("q") == b"v"     # a new connection

    warnings = run_logged(caplog, main())
    assert len(warnings) == 1, warnings
    assert "may have taken" in warnings[0] and "'q'" in warnings[0]


def test_take_on_a_broken_connection_says_what_may_be_lost(server):
    async def main():
        async with client(server) as c:
            t = asyncio.ensure_future(c.take_many("q", 3))
            await _waiting(c)
            next(iter(c._blockers)).sock.shutdown(socket.SHUT_RDWR)
            with pytest.raises(TinyCacheConnectionError,
                               match="never retried.*up to 3 items"):
                await t
            assert not c._blockers
            # (Once the server has seen the close: an item pushed before
            # would be served to the dead take, and lost.)
            while _blocked(await c.execute("CLIENT", "LIST")):
                await asyncio.sleep(0.005)
            await c.push("q", b"v")
            assert await c.take("q", 5) == b"v"

    run(main())


def test_aclose_ends_waiting_takes_and_closes_their_connections(
        module_address):
    sync = TinyCache(module_address, connect_timeout=10)

    me = f"id={sync.execute('CLIENT', 'ID')} "

    def ours():
        return [line for line in sync.execute("CLIENT", "LIST").decode()
                .splitlines() if not line.startswith(me)]

    async def main():
        c = _on(module_address)
        await c.clear()
        await c.push("q", b"1")
        assert await c.take("q") == b"1"
        waiting = [asyncio.ensure_future(c.take("q")),
                   asyncio.ensure_future(c.take_many("q", 2))]
        await _waiting(c, 2)
        assert len(ours()) == 3
        await c.aclose()
        for t in waiting:
            with pytest.raises(TinyCacheConnectionError, match="aclose"):
                await t
        assert not c._blockers and not c._idle
        await until(lambda: not ours(), "the connections to close")
        assert sync.llen("q") == 0
        # Used again, it opens new ones.
        await c.push("q", b"2")
        assert await c.take("q") == b"2"
        await c.aclose()

    try:
        run(main())
    finally:
        sync.close()


def test_client_timeout_bounds_a_take_without_reply(monkeypatch, caplog):
    # A server that never answers the BLPOP nor ends it (CLIENT UNBLOCK:
    # 0): past the wait, the grace and the client's timeout, the wait
    # cannot be ended; the connection is closed, with a WARNING.
    import tiny_mp_cache.aio as aio
    monkeypatch.setattr(aio, "_UNBLOCK_WAIT", 0.3)

    def mute(fake, conn, index):
        while True:
            args = fake.read(conn)
            if args is None:
                return
            if args[:2] == [b"CLIENT", b"ID"]:
                conn.sendall(b":%d\r\n" % (index + 7))
            elif args[:2] == [b"CLIENT", b"UNBLOCK"]:
                conn.sendall(b":0\r\n")

    with FakeServer(mute) as fake:
        async def main():
            c = AsyncTinyCache(fake.address, connect_timeout=5, timeout=0.1)
            t0 = time.monotonic()
            with pytest.raises(TinyCacheTimeoutError,
                               match="within 1.2 s.*may have taken"):
                await c.take("q", 0.1)
            assert 1.2 < time.monotonic() - t0 < 10
            assert not c._blockers
            await c.aclose()

        with caplog.at_level(logging.WARNING, logger="tiny_mp_cache"):
            run(main())
        assert [b"CLIENT", b"UNBLOCK", b"7"] in fake.commands
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "tiny_mp_cache"]
    assert len(warnings) == 1 and "could not be ended" in warnings[0]


def test_each_event_loop_and_fork_child_gets_its_own_blocker(server):
    c = client(server)

    async def take_one(value):
        await c.push("q", value)
        assert await c.take("q") == value
        return next(iter(c._blockers))

    first = run(take_one(b"1"))
    second = run(take_one(b"2"))                    # a new loop
    assert first is not second and c._blockers == {second}
    run(c.aclose())
