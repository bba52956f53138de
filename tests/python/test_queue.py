# SPDX-License-Identifier: MIT
# tiny_mp_cache.Queue and TinyCache's list helpers, against our server (each
# event backend, started with spawn()) and against a real redis-server (the
# Queue must run unchanged there): the queue.Queue interface, FIFO order,
# binary and empty items, timeouts, a waiting get served as the item is put
# (no polling), the client's timeout never cutting a blocking wait short, a
# connection that breaks during a blocking take, pickling into Pool and
# spawn children, reliable mode (ack, task_done, recover after SIGKILL), and
# serializer= (encoding, decoding, ack of a decoded value by the bytes stored,
# items that do not decode set aside or held, never lost).

import json
import multiprocessing as mp
import os
import pickle
import queue
import signal
import socket
import statistics
import threading
import time

import pytest

from tmcpy import FakeServer, Tagged, python_child, processes, wait_for
from tiny_mp_cache import (Queue, ReplyError, TinyCache,
                           TinyCacheConnectionError, TinyCacheTimeoutError)

# How late a timed-out wait may end: redis-server checks the deadlines of
# blocked clients in its cron (hz 10: every 100 ms); ours keeps them
# ordered and wakes at the first. Generous for a loaded 2-core machine.
LATE = 0.6


@pytest.fixture
def addr(module_address):
    """The module's server (conftest.py: ours on each backend, or a
    redis-server), emptied."""
    with TinyCache(module_address, connect_timeout=10, timeout=30) as c:
        c.execute("FLUSHALL")
    return module_address


@pytest.fixture
def cache(addr):
    with TinyCache(addr, connect_timeout=10, timeout=30) as c:
        yield c


@pytest.fixture
def q(addr):
    with Queue(addr, "jobs", connect_timeout=10) as jobs:
        yield jobs


def blocked_clients(c):
    """INFO clients' blocked_clients."""
    info = c.execute("INFO", "clients").decode()
    for line in info.splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError(f"no blocked_clients in {info!r}")


# ---- TinyCache's list helpers ----

def test_push_take(cache):
    assert cache.push("l", b"a") == 1
    assert cache.push("l", b"b", bytearray(b"c"), memoryview(b"d")) == 4
    assert cache.llen("l") == 4
    assert cache.peek("l") == b"a"
    assert cache.peek("l", -1) == b"d"
    assert cache.peek("l", 10) is None
    assert cache.lrange("l") == [b"a", b"b", b"c", b"d"]
    assert cache.lrange("l", 1, 2) == [b"b", b"c"]
    assert cache.take("l") == b"a"
    assert cache.take_nowait("l") == b"b"
    assert cache.take("l", 0) == b"c"
    assert cache.take("l", 1.5) == b"d"
    assert cache.llen("l") == 0
    assert cache.get("l") is None and cache.len() == 0   # gone when empty
    assert cache.take_nowait("l") is None
    assert cache.peek("l") is None and cache.lrange("l") == []


def test_take_many(cache):
    cache.push("l", *[b"%d" % i for i in range(10)])
    assert cache.take_many("l", 3) == [b"0", b"1", b"2"]
    assert cache.take_many("l", 3, 0) == [b"3", b"4", b"5"]
    assert cache.take_many("l", 100, 1) == [b"6", b"7", b"8", b"9"]
    assert cache.take_many("l", 5, 0) == []
    t0 = time.monotonic()
    assert cache.take_many("l", 5, 0.2) == []
    assert 0.19 < time.monotonic() - t0 < 0.2 + LATE


def test_take_into(cache):
    cache.push("src", b"1", b"2", b"3")
    assert cache.take("src", into="dst") == b"1"
    assert cache.take("src", 0.5, into="dst") == b"2"
    assert cache.take_nowait("src", into="dst") == b"3"
    assert cache.lrange("dst") == [b"1", b"2", b"3"]      # appended
    assert cache.take_nowait("src", into="dst") is None
    t0 = time.monotonic()
    assert cache.take("src", 0.2, into="dst") is None
    assert 0.19 < time.monotonic() - t0 < 0.2 + LATE
    assert cache.llen("dst") == 3


def test_take_timeout(cache):
    for timeout in (0.1, 0.25):
        t0 = time.monotonic()
        assert cache.take("none", timeout) is None
        assert timeout - 0.01 < time.monotonic() - t0 < timeout + LATE
    t0 = time.monotonic()
    assert cache.take("none", 0) is None
    assert cache.take("none", 1e-9) is None       # sent as 1 ms, not "0"
    assert time.monotonic() - t0 < LATE


def test_list_errors(cache):
    cache.set("s", b"string")
    for call in (lambda: cache.push("s", b"x"), lambda: cache.take("s"),
                 lambda: cache.take("s", 0), lambda: cache.take_many("s", 2),
                 lambda: cache.llen("s"), lambda: cache.peek("s"),
                 lambda: cache.lrange("s")):
        with pytest.raises(ReplyError, match="^WRONGTYPE"):
            call()
    assert cache.get("s") == b"string"             # still usable
    cache.push("l", b"x")
    with pytest.raises(ReplyError, match="^WRONGTYPE"):
        cache.get("l")


def test_list_bad_arguments(cache):
    with pytest.raises(TypeError):
        cache.push("l")
    with pytest.raises(TypeError):
        cache.push("l", "text")
    with pytest.raises(TypeError):
        cache.push(b"l", b"x")
    for bad in (-1, -0.5, float("nan")):
        with pytest.raises(ValueError):
            cache.take("l", bad)
    for bad in ("1", True, [1]):
        with pytest.raises(TypeError):
            cache.take("l", bad)
    with pytest.raises(TypeError):
        cache.take("l", 0, into=b"x")
    for bad in (0, -3):
        with pytest.raises(ValueError):
            cache.take_many("l", bad)
    with pytest.raises(TypeError):
        cache.take_many("l", 2.0)
    with pytest.raises(TypeError):
        cache.peek("l", "0")
    with pytest.raises(TypeError):
        cache.lrange("l", 0, True)
    assert cache.len() == 0                        # nothing was sent


def test_huge_timeout_waits(cache):
    # A timeout past what the server accepts waits as long as it takes.
    def later():
        time.sleep(0.2)
        with TinyCache(cache.address) as c:
            c.push("l", b"late")

    t = threading.Thread(target=later)
    t.start()
    assert cache.take("l", 1e30) == b"late"
    t.join()


# ---- The client's timeout never cuts a blocking wait short ----

def test_client_timeout_does_not_cut_take(addr):
    with TinyCache(addr, timeout=0.1) as c:
        t0 = time.monotonic()
        assert c.take("l", 0.4) is None             # not a timeout error
        assert 0.39 < time.monotonic() - t0 < 0.4 + LATE
        assert c.take_many("l", 3, 0.3) == []
        assert c.take("l", 0.3, into="m") is None

        def later():
            time.sleep(0.4)
            with TinyCache(addr) as other:
                other.push("l", b"x")

        t = threading.Thread(target=later)
        t.start()
        assert c.take("l") == b"x"                  # waits for ever
        t.join()
        assert c.get("k") is None                   # the connection is fine


def test_queue_client_timeout_does_not_cut_get(addr):
    with Queue(addr, "jobs", timeout=0.1) as jobs:
        t0 = time.monotonic()
        with pytest.raises(queue.Empty):
            jobs.get(timeout=0.4)
        assert 0.39 < time.monotonic() - t0 < 0.4 + LATE
        threading.Timer(0.3, jobs.put, (b"x",)).start()
        assert jobs.get() == b"x"


def test_timeout_restored_after_blocking_take():
    # The fake server answers the BLPOP after 0.4 s (within the wait),
    # then never answers the GET: the client's 0.2 s applies again.
    release = threading.Event()

    def handler(fake, conn, index):
        args = fake.read(conn)
        assert args[0] == b"BLPOP" and args[2] == b"1.000", args
        time.sleep(0.4)
        conn.sendall(b"*-1\r\n")
        fake.read(conn)
        release.wait(10)

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=0.2)
        assert c.take("l", 1) is None
        t0 = time.monotonic()
        with pytest.raises(TinyCacheTimeoutError):
            c.get("k")
        assert 0.15 < time.monotonic() - t0 < 1.5
        release.set()
        c.close()


def test_blocking_take_timeout_is_wait_plus_grace_plus_client_timeout():
    # A server that never answers: the take gives up after its wait, a
    # second of grace (Redis ends waits up to 1/hz s late) and the
    # client's timeout.
    release = threading.Event()

    def handler(fake, conn, index):
        fake.read(conn)
        release.wait(10)

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(TinyCacheTimeoutError) as ei:
            c.take("l", 0.5)
        assert 1.75 < time.monotonic() - t0 < 2.5
        assert "within 1.8 s" in str(ei.value)
        assert "may have taken an item" in str(ei.value)
        assert "lost" in str(ei.value)
        release.set()
        c.close()


@pytest.mark.parametrize("client_timeout", [None, 5.0])
def test_connection_breaks_during_take(client_timeout):
    # The server reads the blocking command and closes the connection: it
    # may have popped an item for it, so the take is never retried and the
    # error says so. The next call reconnects.
    def handler(fake, conn, index):
        while True:
            args = fake.read(conn)
            if args is None:
                return
            if args[0] in (b"BLPOP", b"BLMOVE", b"BLMPOP") and index < 3:
                return                              # closes
            conn.sendall(b"$2\r\nok\r\n" if args[0] == b"GET" else
                         b"*2\r\n$1\r\nl\r\n$1\r\nx\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=client_timeout)
        with pytest.raises(TinyCacheConnectionError) as ei:
            c.take("l")
        assert "never retried" in str(ei.value)
        assert "may have taken an item" in str(ei.value) and \
            "lost" in str(ei.value)
        with pytest.raises(TinyCacheConnectionError) as ei:
            c.take("l", 2, into="proc")
        assert "moved to 'proc'" in str(ei.value)
        assert "not lost" in str(ei.value)
        with pytest.raises(TinyCacheConnectionError) as ei:
            c.take_many("l", 7)
        assert "up to 7 items" in str(ei.value)
        assert c.get("k") == b"ok"
        assert c.take("l") == b"x"
        blocking = [a[0] for a in fake.commands if a[0].startswith(b"BL")]
        assert blocking == [b"BLPOP", b"BLMOVE", b"BLMPOP", b"BLPOP"]
        c.close()


@pytest.mark.parametrize("client_timeout", [None, 5.0])
def test_take_after_idle_close_reconnects(client_timeout):
    # A connection the server closed while idle is noticed before the
    # blocking command is sent: it goes out on a new connection, no error.
    def handler(fake, conn, index):
        args = fake.read(conn)
        if args is None:
            return
        if index == 0:
            conn.sendall(b"$1\r\nv\r\n")           # the GET, then close
            return
        conn.sendall(b"*2\r\n$1\r\nl\r\n$1\r\nx\r\n")
        while fake.read(conn) is not None:
            pass

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=client_timeout)
        assert c.get("k") == b"v"
        wait_for(lambda: fake.connections == 1 and len(fake.threads) == 1
                 and not fake.threads[0].is_alive(), 5, "the close")
        time.sleep(0.05)
        assert c.take("l") == b"x"
        assert fake.connections == 2
        c.close()


# ---- Queue: the queue.Queue interface ----

def test_fifo(q, cache):
    items = [b"job-%d" % i for i in range(200)]
    for item in items[:100]:
        assert q.put(item) is None
    q.put_many(items[100:])
    assert q.qsize() == 200 and not q.empty() and not q.full()
    assert cache.llen("jobs") == 200
    assert [q.get() for _ in range(200)] == items
    assert q.qsize() == 0 and q.empty()


def test_binary_and_empty_items(q):
    items = [b"", b"\x00", b"\r\n$-1\r\n", bytes(range(256)), b"x" * 1_000_000,
             "ключ".encode(), b""]
    q.put_many(items)
    q.put(bytearray(b"ba"))
    q.put_nowait(memoryview(b"mv"))
    got = [q.get(timeout=5) for _ in range(len(items) + 2)]
    assert got == items + [b"ba", b"mv"]
    assert all(type(g) is bytes for g in got)
    with pytest.raises(TypeError):
        q.put("text")
    with pytest.raises(TypeError):
        q.put_many([b"ok", 1])
    assert q.empty()                               # nothing of it was sent


def test_put_many_in_chunks(q, cache):
    q.put_many([])
    q.put_many(b"%05d" % i for i in range(2500))   # any iterable
    q.put_many([b"x" * 300_000] * 5)               # chunks of about 1 MB
    assert q.qsize() == 2505
    assert q.get_many(2500) == [b"%05d" % i for i in range(2500)]
    assert q.get_many(10) == [b"x" * 300_000] * 5


def test_get_nowait_and_empty(q):
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(block=False)
    with pytest.raises(queue.Empty):
        q.get(False, 10)                           # timeout ignored
    with pytest.raises(queue.Empty):
        q.get(timeout=0)
    with pytest.raises(queue.Empty):
        q.get_many(3, timeout=0)
    q.put(b"a")
    assert q.get_nowait() == b"a"
    assert issubclass(queue.Empty, Exception)


@pytest.mark.parametrize("timeout", [0.05, 0.3])
def test_get_timeout_bounds(q, timeout):
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=timeout)
    assert timeout - 0.01 < time.monotonic() - t0 < timeout + LATE
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get_many(5, timeout=timeout)
    assert timeout - 0.01 < time.monotonic() - t0 < timeout + LATE


def test_get_many(q):
    q.put_many([b"%d" % i for i in range(10)])
    assert q.get_many(4) == [b"0", b"1", b"2", b"3"]
    assert q.get_many(100, timeout=1) == [b"%d" % i for i in range(4, 10)]
    with pytest.raises(queue.Empty):
        q.get_many(3, timeout=0.05)
    with pytest.raises(ValueError):
        q.get_many(0)
    with pytest.raises(TypeError):
        q.get_many("3")


def test_bad_arguments(addr, q):
    with pytest.raises(ValueError):
        q.get(timeout=-1)
    with pytest.raises(TypeError):
        q.get(timeout="1")
    with pytest.raises(TypeError):
        Queue(addr, b"jobs")
    with pytest.raises(ValueError):
        Queue(addr, "jobs", heartbeat=0)
    with pytest.raises(TypeError):
        Queue(addr, "jobs", heartbeat="10")
    with pytest.raises(ValueError):
        Queue(addr, "jobs", timeout=-1)
    with pytest.raises(ValueError):
        Queue("nowhere", "jobs")


def test_close(addr):
    jobs = Queue(addr, "jobs")
    jobs.put(b"a")
    jobs.close()
    jobs.close()                                   # twice is fine
    jobs.join_thread()                             # as multiprocessing's
    jobs.cancel_join_thread()
    for call in (lambda: jobs.put(b"b"), jobs.get, jobs.get_nowait,
                 jobs.qsize, lambda: jobs.get_many(2)):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert "closed" in repr(jobs)
    with Queue(addr, "jobs") as again:             # other handles go on
        assert again.get() == b"a"


def test_repr_and_properties(addr, q):
    assert q.name == "jobs" and q.address == TinyCache(addr).address
    assert not q.reliable and q.consumer_id is None
    assert repr(q) == f"<Queue 'jobs' at {q.address}>"


# ---- No polling: a waiting get is served when the item is put ----

def test_waiting_get_served_at_once(q, addr):
    # A thread waits in get() on its own connection; the main thread puts
    # once the server shows it blocked. The hand-off takes a round trip
    # or two (well under a millisecond), not a polling interval: with the
    # server's timer slowed to once a second (hz 1), a waiter served by
    # anything periodic would wait half a second on average. The bound
    # leaves room for a loaded machine; the speed itself is measured in
    # bench/.
    delays = []
    with TinyCache(addr) as mon:
        mon.execute("CONFIG", "SET", "hz", "1")
        try:
            _hand_offs(q, mon, delays)
        finally:
            mon.execute("CONFIG", "SET", "hz", "10")
    assert statistics.median(delays) < 0.15, delays


def _hand_offs(q: Queue, mon: TinyCache, delays: "list[float]") -> None:
    """Seven hand-offs to a get waiting in a thread; their delays, from
    the put to the waiter holding the item, go into delays."""
    for i in range(7):
        got = {}

        def waiter():
            got["item"] = q.get(timeout=10)
            got["t"] = time.monotonic()

        t = threading.Thread(target=waiter)
        t.start()
        wait_for(lambda: blocked_clients(mon) == 1, 10, "a blocked get")
        time.sleep(0.02)
        t0 = time.monotonic()
        q.put(b"item %d" % i)
        t.join(10)
        assert got["item"] == b"item %d" % i
        delays.append(got["t"] - t0)


def test_get_waiting_in_one_thread_does_not_hold_up_put(q):
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    t.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    q.put(b"x")                                    # same Queue object
    assert time.monotonic() - t0 < 1
    t.join(10)
    assert got == [b"x"]


def test_waiters_served_in_order(q, addr):
    # Several waiting consumers: one put of several items serves several,
    # each item going to exactly one, first come first served.
    results = {}
    threads = []
    with TinyCache(addr) as mon:
        for n in range(3):
            t = threading.Thread(
                target=lambda n=n: results.__setitem__(n, q.get(timeout=10)))
            t.start()
            threads.append(t)
            wait_for(lambda: blocked_clients(mon) == n + 1, 10, "blocked")
    q.put_many([b"a", b"b", b"c"])
    for t in threads:
        t.join(10)
    assert results == {0: b"a", 1: b"b", 2: b"c"}


# ---- Pickling: Pool workers and spawn children ----

def _pool_get(jobs):
    """Pool worker: take one item from the pickled Queue."""
    return jobs.get(timeout=30)


def _child_echo(jobs, results):
    """spawn child: move items from jobs to results until b"stop"."""
    while True:
        item = jobs.get(timeout=30)
        if item == b"stop":
            break
        results.put(b"done " + item)
    jobs.close()
    results.close()


def test_pickle(q):
    q.put(b"a")                                    # the connection is open
    data = pickle.dumps(q)
    assert b"socket" not in data
    copy = pickle.loads(data)
    assert copy.name == q.name and copy.address == q.address
    assert copy.get() == b"a"
    copy.close()
    r = Queue(q.address, "r", reliable=True, heartbeat=3, timeout=7,
              password="pw", connect_timeout=4)
    state = pickle.loads(pickle.dumps(r)).__getstate__()
    assert state == {"addr": q.address, "name": "r", "reliable": True,
                     "heartbeat": 3.0, "connect_timeout": 4, "timeout": 7,
                     "password": "pw", "username": None}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers(q, method):
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        res = pool.map_async(_pool_get, [q] * 6)
        q.put_many([b"%d" % i for i in range(6)])
        assert sorted(res.get(60)) == [b"%d" % i for i in range(6)]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_children(addr, method):
    ctx = mp.get_context(method)
    with Queue(addr, "jobs") as jobs, Queue(addr, "results") as results:
        with processes(ctx, 2, _child_echo, (jobs, results)) as children:
            jobs.put_many([b"%d" % i for i in range(50)] + [b"stop"] * 2)
            done = sorted(results.get(timeout=30) for _ in range(50))
            for p in children:
                p.join(30)
                assert p.exitcode == 0
        assert done == sorted(b"done %d" % i for i in range(50))
        assert jobs.empty() and results.empty()


# ---- Reliable mode ----

def test_reliable_ack(addr, cache):
    with Queue(addr, "jobs", reliable=True, heartbeat=5) as jobs:
        assert jobs.reliable and jobs.consumer_id is None
        jobs.put_many([b"a", b"b", b"c", b"b"])
        assert jobs.get() == b"a"
        cid = jobs.consumer_id
        assert cid is not None and cid.startswith(f"{os.getpid()}-")
        with pytest.raises(ValueError):
            jobs.get(timeout=-1)                   # nothing sent: same id
        assert jobs.consumer_id == cid
        processing = f"jobs:processing:{cid}"
        assert cache.lrange(processing) == [b"a"]
        assert 0 < cache.ttl(f"jobs:alive:{cid}") <= 5
        assert jobs.qsize() == 3
        assert jobs.get_many(2) == [b"b", b"c"]
        assert cache.lrange(processing) == [b"a", b"b", b"c"]
        assert jobs.ack(b"b") is True
        assert cache.lrange(processing) == [b"a", b"c"]
        assert jobs.ack(b"b") is False             # not held (any more)
        jobs.task_done()                           # the oldest: a
        assert cache.lrange(processing) == [b"c"]
        jobs.task_done()
        assert cache.lrange(processing) == []
        with pytest.raises(ValueError, match="too many"):
            jobs.task_done()
        assert jobs.get() == b"b"                  # the second b
        assert jobs.ack(bytearray(b"b")) is True
        with pytest.raises(queue.Empty):
            jobs.get(timeout=0.05)
        cache.set("jobs", b"not a list")           # an error reply:
        for call in (jobs.get, lambda: jobs.get_many(2)):
            with pytest.raises(ReplyError, match="^WRONGTYPE"):
                call()
        assert jobs.consumer_id == cid             # nothing was moved
        cache.delete("jobs")
        assert cache.keys("jobs*") == [f"jobs:alive:{cid}"]
    assert cache.keys("jobs*") == []               # close() deletes it


def test_plain_ack_and_task_done_do_nothing(q):
    q.put(b"a")
    assert q.get() == b"a"
    assert q.ack(b"a") is True
    q.task_done()
    q.task_done()


def test_heartbeat_renewed(addr, cache):
    with Queue(addr, "jobs", reliable=True, heartbeat=0.3) as jobs:
        jobs.put(b"a")
        jobs.get()
        key = f"jobs:alive:{jobs.consumer_id}"
        for _ in range(10):                        # 1 s: 3 ttls
            time.sleep(0.1)
            assert cache.ttl(key) is not None
        assert jobs.recover() == 0                 # alive: left alone
        with Queue(addr, "jobs") as other:
            assert other.recover() == 0
        assert cache.llen(f"jobs:processing:{jobs.consumer_id}") == 1


def test_close_hands_back_unacknowledged(addr, cache):
    jobs = Queue(addr, "jobs", reliable=True)
    jobs.put_many([b"1", b"2", b"3", b"4"])
    assert jobs.get_many(3) == [b"1", b"2", b"3"]
    jobs.ack(b"2")
    jobs.close()
    assert cache.lrange("jobs") == [b"1", b"3", b"4"]
    assert cache.keys("jobs:*") == []


def _reliable_child(jobs, conn):
    """fork child: take two items in reliable mode, report, then hang."""
    items = [jobs.get(timeout=30), jobs.get(timeout=30)]
    conn.send((jobs.consumer_id, items))
    time.sleep(60)


def test_recover_after_sigkill(addr, cache):
    jobs = Queue(addr, "jobs", reliable=True, heartbeat=0.5)
    jobs.put_many([b"z", b"a", b"b", b"c"])
    assert jobs.get() == b"z"                      # the parent consumes too
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_reliable_child, args=(jobs, child))
    p.start()
    try:
        assert parent.poll(30)
        cid, items = parent.recv()
        assert items == [b"a", b"b"]
        assert cid != jobs.consumer_id             # its own id after fork
        assert jobs.ack(b"z")
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
        assert cache.lrange(f"jobs:processing:{cid}") == [b"a", b"b"]
        assert jobs.recover() == 0                 # its heartbeat lives on
        wait_for(lambda: cache.ttl(f"jobs:alive:{cid}") is None, 5,
                 "the heartbeat to expire")
        with Queue(addr, "jobs") as supervisor:    # a plain one works too
            assert supervisor.recover() == 2
            assert supervisor.recover() == 0
        assert cache.lrange("jobs") == [b"a", b"b", b"c"]   # at the head
        assert jobs.get_many(3) == [b"a", b"b", b"c"]
        assert all(jobs.ack(x) for x in (b"a", b"b", b"c"))
    finally:
        if p.is_alive():
            p.kill()
        p.join(30)
        jobs.close()
    assert cache.keys("jobs*") == []


def test_recover_leaves_other_queues_alone(addr, cache):
    # A queue named like another queue's processing list is not one of
    # its consumers; nor is a key without a consumer id.
    cache.push("jobs:processing:x", b"other queue")
    cache.push("jobs:processing:x:processing:1-aaaaaaaaaaaa", b"held")
    cache.push("jobs:processing:", b"odd")
    cache.push("jobs:processing:1-bbbbbbbbbbbb", b"dead")
    cache.push("jo*s:processing:1-cccccccccccc", b"glob")
    with Queue(addr, "jobs") as jobs:
        assert jobs.recover() == 1
        assert jobs.get_nowait() == b"dead"
    with Queue(addr, "jo*s") as glob:
        assert glob.recover() == 1
        assert glob.get_nowait() == b"glob"
    assert cache.llen("jobs:processing:x") == 1
    assert cache.llen("jobs:processing:x:processing:1-aaaaaaaaaaaa") == 1


def test_reliable_get_timeout_and_connection_loss(addr, cache):
    with Queue(addr, "jobs", reliable=True, timeout=0.1,
               heartbeat=0.5) as jobs:
        t0 = time.monotonic()
        with pytest.raises(queue.Empty):
            jobs.get(timeout=0.3)                  # not cut by timeout=0.1
        assert 0.29 < time.monotonic() - t0 < 0.3 + LATE
        with pytest.raises(queue.Empty):
            jobs.get_many(4, timeout=0)
        # The connection breaks while the get waits (shut down under it):
        # the item the server may have moved is in the processing list,
        # not lost, and the error says so.
        mine = jobs._state().client
        old = jobs.consumer_id
        assert old is not None
        got = {}

        def waiter():
            try:
                jobs.get(timeout=10)
            except TinyCacheConnectionError as e:
                got["error"] = str(e)

        t = threading.Thread(target=waiter)
        t.start()
        wait_for(lambda: blocked_clients(cache) == 1, 10, "a blocked get")
        theirs = [c for c in list(jobs._clients) if c is not mine]
        assert len(theirs) == 1
        theirs[0]._sock.shutdown(socket.SHUT_RDWR)
        t.join(10)
        assert "not lost" in got["error"]
        # Until the server has seen that connection close, its BLMOVE
        # still waits there and would take the next item (into the old
        # processing list, where recover() finds it): let it go first.
        wait_for(lambda: blocked_clients(cache) == 0, 10,
                 "the server to drop the broken waiter")
        # This process gave up its consumer id: the heartbeat is no longer
        # renewed, so recover() hands back what the old list holds (as if
        # the failed BLMOVE had moved an item there) once it expires.
        assert jobs.consumer_id is None
        jobs.put(b"x")                             # reconnects
        assert jobs.get() == b"x"
        assert jobs.consumer_id != old
        assert jobs.ack(b"x")
        cache.push(f"jobs:processing:{old}", b"orphan")
        assert jobs.recover() == 0
        wait_for(lambda: cache.ttl(f"jobs:alive:{old}") is None, 15,
                 "the old heartbeat to expire")
        assert jobs.recover() == 1
        assert jobs.get_nowait() == b"orphan"
        assert jobs.ack(b"orphan")


def test_reliable_ack_after_retire(addr, cache):
    # An item got before the consumer id was retired is acknowledged in
    # the old processing list.
    with Queue(addr, "jobs", reliable=True, heartbeat=5) as jobs:
        jobs.put_many([b"a", b"b"])
        assert jobs.get() == b"a"
        old = jobs.consumer_id
        jobs._retire(jobs._consumer)
        assert jobs.consumer_id is None
        assert jobs.get() == b"b"
        assert jobs.consumer_id not in (None, old)
        assert cache.lrange(f"jobs:processing:{old}") == [b"a"]
        assert jobs.ack(b"a") and jobs.ack(b"b")
        assert cache.keys("jobs:processing:*") == []
        jobs.put(b"c")
        assert jobs.get() == b"c"
    # close() hands back what the old and the new lists hold.
    assert cache.lrange("jobs") == [b"c"]
    assert cache.keys("jobs:*") == [f"jobs:alive:{old}"] or \
        cache.keys("jobs:*") == []


def test_reliable_exit_hands_back(addr, cache):
    # A consumer process that ends normally without close() hands back
    # what it holds and deletes its heartbeat (at exit).
    code = (
        "import sys\n"
        "from tiny_mp_cache import Queue\n"
        "q = Queue(sys.argv[1], 'jobs', reliable=True)\n"
        "print(q.get(timeout=10).decode(), q.consumer_id, flush=True)\n")
    cache.push("jobs", b"a", b"b")
    with python_child(code, addr) as child:
        out, err = child.proc.communicate(timeout=60)
    assert child.proc.returncode == 0, err
    item, cid = out.decode().split()
    assert item == "a" and cid
    assert cache.lrange("jobs") == [b"a", b"b"]
    assert cache.keys("jobs:*") == []


# ---- Queue(serializer=...): values beyond bytes ----

SERIALIZED = {
    "json": ([{"a": [1, 2.5], "b": "\u00e9t\u00e9"}, None, 1, "s", []],
             lambda v: json.dumps(v, ensure_ascii=False,
                                  separators=(",", ":")).encode()),
    "str": (["text", "\u00e9t\u00e9 \U0001f600", "", "0"], str.encode),
    "pickle": ([{"a": (1, 2.5), "b": {3}}, None, b"raw", [1, "x"], 0],
               lambda v: pickle.dumps(v, protocol=5)),
}


@pytest.mark.parametrize("name", ["json", "str", "pickle"])
def test_serializer_builtins(addr, cache, name):
    values, dumps = SERIALIZED[name]
    with Queue(addr, "jobs", serializer=name) as jobs:
        assert jobs.serializer is TinyCache(addr, serializer=name).serializer
        jobs.put(values[0])
        jobs.put_nowait(values[1])
        jobs.put_many(values[2:])
        assert cache.lrange("jobs") == [dumps(v) for v in values]
        assert jobs.get() == values[0]
        assert jobs.get_nowait() == values[1]
        assert jobs.get(timeout=5) == values[2]
        assert jobs.get_many(99) == values[3:]
        jobs.put_many(values)
        assert jobs.get_many(99, timeout=0) == values
        with pytest.raises(queue.Empty):
            jobs.get(timeout=0.01)
        assert jobs.ack(values[0]) is True          # plain: nothing sent


def test_serializer_custom(addr, cache):
    with Queue(addr, "jobs", serializer=Tagged(b"v1:")) as jobs:
        jobs.put({"n": 1})
        assert cache.lrange("jobs") == [b'v1:{"n": 1}']
        copy = pickle.loads(pickle.dumps(jobs))     # pickled as itself
        assert isinstance(copy.serializer, Tagged) and copy.serializer.tag == b"v1:"
        assert copy.get() == {"n": 1}
        copy.close()


def test_serializer_none_type_error_says_what_to_do(addr, q):
    assert q.serializer is None
    for call in (q.put, q.put_nowait, lambda v: q.put_many([b"ok", v])):
        with pytest.raises(TypeError) as ei:
            call("text")
        msg = str(ei.value)
        assert msg.startswith("item must be bytes, bytearray or memoryview, not str")
        assert "item.encode()" in msg and "serializer='str'" in msg and "Queue" in msg
        with pytest.raises(TypeError) as ei:
            call({"a": 1})
        assert "not dict" in str(ei.value) and "serializer='json'" in str(ei.value)
    with Queue(addr, "jobs", reliable=True) as jobs:
        with pytest.raises(TypeError, match="serializer='str'"):
            jobs.ack("text")
    assert q.empty()                               # nothing was sent


def test_serializer_encode_errors(addr, cache):
    class StrOut:
        dumps = staticmethod(json.dumps)            # returns str
        loads = staticmethod(json.loads)

    with Queue(addr, "jobs", serializer="str") as s, \
            Queue(addr, "jobs", serializer="json") as j, \
            Queue(addr, "jobs", serializer=StrOut) as o:
        with pytest.raises(TypeError, match="serializer='str' stores str.*'json'"):
            s.put(1)
        with pytest.raises(TypeError, match="serializer='str'"):
            s.put_many(["ok", b"bytes"])
        with pytest.raises(TypeError, match="not JSON serializable"):
            j.put(object())
        with pytest.raises(TypeError, match="not JSON serializable"):
            j.put_many([1, 2, {3}])
        with pytest.raises(TypeError, match=r"dumps\(\) must return bytes.*not str"):
            o.put(1)
    assert cache.len() == 0                        # nothing was sent
    with pytest.raises(ValueError, match="unknown serializer 'yaml'"):
        Queue(addr, "jobs", serializer="yaml")
    with pytest.raises(TypeError, match="dumps"):
        Queue(addr, "jobs", serializer=object())


def test_serializer_pickles_by_name(addr):
    jobs = Queue(addr, "jobs", serializer="json", reliable=True)
    data = pickle.dumps(jobs)
    assert b"_JsonSerializer" not in data and b"json" in data
    copy = pickle.loads(data)
    assert copy.serializer is jobs.serializer and copy.reliable
    assert copy.__getstate__()["serializer"] == "json"
    for x in (jobs, copy):
        x.close()


def test_serializer_pool_spawn(addr):
    # Workers of a spawn Pool get the queue pickled with its serializer.
    with Queue(addr, "jobs", serializer="json") as jobs:
        with mp.get_context("spawn").Pool(2) as pool:
            res = pool.map_async(_pool_get, [jobs] * 4)
            jobs.put_many([{"n": i} for i in range(4)])
            assert sorted(r["n"] for r in res.get(60)) == [0, 1, 2, 3]


def test_reliable_ack_removes_the_bytes_stored(addr, cache):
    # ack() of a decoded value removes the bytes the item was stored as,
    # which another writer may have spelled otherwise than dumps would.
    with Queue(addr, "jobs", reliable=True, heartbeat=5,
               serializer="json") as jobs:
        cache.push("jobs", b'{"b": 1,  "a": [2]}', b"[1]", b"[1.0]")
        v = jobs.get()
        assert v == {"b": 1, "a": [2]}
        processing = f"jobs:processing:{jobs.consumer_id}"
        assert cache.lrange(processing) == [b'{"b": 1,  "a": [2]}']
        assert jobs.ack(v) is True
        assert cache.lrange(processing) == []
        one, one_f = jobs.get(), jobs.get()
        assert one == one_f == [1]                 # equal values
        assert jobs.ack(one_f) is True             # the same object first
        assert cache.lrange(processing) == [b"[1]"]
        assert jobs.ack([1]) is True               # an equal one
        assert cache.lrange(processing) == []
        assert jobs.ack({"x": 1}) is False         # not held
        # An item another thread got is looked for as dumps encodes it.
        jobs.put({"t": 1})
        got = []
        t = threading.Thread(target=lambda: got.append(jobs.get(timeout=10)))
        t.start()
        t.join(10)
        assert got == [{"t": 1}]
        assert jobs.ack({"t": 1}) is True
        assert cache.lrange(processing) == []
        jobs.put_many([{"k": 1}, {"k": 2}])
        assert jobs.get_many(2) == [{"k": 1}, {"k": 2}]
        jobs.task_done()                           # the oldest
        assert cache.lrange(processing) == [b'{"k":2}']
        jobs.task_done()
        assert cache.lrange(processing) == []


@pytest.mark.parametrize("name, bad, error", [
    ("json", b"{bad", json.JSONDecodeError),
    ("str", b"\xff", UnicodeDecodeError),
    ("pickle", b"junk", pickle.UnpicklingError),
])
def test_plain_get_sets_undecodable_aside(addr, cache, name, bad, error):
    # A plain get that cannot decode the item raises the serializer's
    # error after appending the item to name:undecodable; the queue goes on.
    values, dumps = SERIALIZED[name]
    with Queue(addr, "jobs", serializer=name) as jobs:
        cache.push("jobs", bad, dumps(values[0]))
        with pytest.raises(error):
            jobs.get()
        assert cache.lrange("jobs:undecodable") == [bad]
        assert jobs.get() == values[0]
        with Queue(addr, "jobs:undecodable") as dead:
            assert dead.get_nowait() == bad


def test_reliable_undecodable_stays_held(addr, cache):
    with Queue(addr, "jobs", reliable=True, heartbeat=5,
               serializer="json") as jobs:
        cache.push("jobs", b"\xff bad", b"[2]")
        with pytest.raises(UnicodeDecodeError):
            jobs.get()
        cid = jobs.consumer_id
        processing = f"jobs:processing:{cid}"
        assert cache.lrange(processing) == [b"\xff bad"]
        assert jobs.get() == [2]
        assert jobs.consumer_id == cid             # not retired
        assert jobs.ack([2]) is True
        assert cache.lrange(processing) == [b"\xff bad"]
        jobs.task_done()                           # drops the bad item
        assert cache.lrange(processing) == []
        with pytest.raises(ValueError, match="too many"):
            jobs.task_done()
        cache.push("jobs", b"nope")
        with pytest.raises(json.JSONDecodeError):
            jobs.get()
        assert cache.lrange(processing) == [b"nope"]
    assert cache.lrange("jobs") == [b"nope"]       # close() hands it back
    assert cache.keys("jobs:*") == []


@pytest.mark.parametrize("reliable", [False, True], ids=["plain", "reliable"])
def test_get_many_undecodable(addr, cache, reliable):
    # get_many returns the items before an undecodable one, which goes
    # back to the head with those after it; it raises only for a first
    # item, which is then set aside (plain) or held (reliable).
    with Queue(addr, "jobs", reliable=reliable, heartbeat=5,
               serializer="json") as jobs:
        cache.push("jobs", b"[0]", b"[1]", b"bad", b"[3]", b"[4]")
        assert jobs.get_many(10) == [[0], [1]]
        assert cache.lrange("jobs") == [b"bad", b"[3]", b"[4]"]
        processing = f"jobs:processing:{jobs.consumer_id}"
        held = [b"[0]", b"[1]"] if reliable else []
        assert cache.lrange(processing) == held
        with pytest.raises(json.JSONDecodeError):
            jobs.get_many(10)
        assert cache.lrange("jobs") == [b"[3]", b"[4]"]
        if reliable:
            assert cache.lrange(processing) == held + [b"bad"]
            assert cache.llen("jobs:undecodable") == 0
        else:
            assert cache.lrange("jobs:undecodable") == [b"bad"]
        assert jobs.get_many(10, timeout=0) == [[3], [4]]
        if reliable:
            assert jobs.ack([0]) and jobs.ack([1])
            jobs.task_done()                       # bad
            assert jobs.ack([4]) and jobs.ack([3])
            assert cache.lrange(processing) == []
