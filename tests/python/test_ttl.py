# SPDX-License-Identifier: MIT
"""Keys that expire and counters: set(..., ttl=), add, expire, persist,
ttl, touch, incr, decr and scan_iter, against our server (both event
backends) and a real redis-server alike, plus the exact commands they
send and which of them retry after a broken connection.

Timing checks have wide, bounded margins (the machine is shared): a
0.2 s ttl is checked present only when the read came back within 0.15 s
of the write, and gone after 1 s."""

import math
import os
import threading
import time
from typing import Any, Callable, Iterator, List

import pytest

from tmcpy import FakeServer, first_copy_dropped, free_port, redis_server
from tiny_mp_cache import (ReplyError, TinyCache, TinyCacheConnectionError,
                           spawn)

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


# ---- Servers: ours on each backend and a real redis-server, one per
# module each (flushed before every test) ----

BACKENDS = os.environ.get("TMC_BACKENDS", "epoll select").split() or ["select"]


@pytest.fixture(scope="module", params=BACKENDS + ["redis"])
def target(request: Any) -> Iterator[str]:
    """The address of a server: ours on an event backend, or Redis."""
    if request.param == "redis":
        with redis_server() as ref:
            yield ref["address"]
        return
    with spawn(event_backend=request.param, loglevel="warning") as srv:
        yield srv.address


@pytest.fixture
def kv(target: str) -> Iterator[TinyCache]:
    """A TinyCache on an empty keyspace of `target`."""
    with TinyCache(target, connect_timeout=10, timeout=30) as c:
        c.execute("FLUSHALL")
        yield c


def nowhere() -> TinyCache:
    """A TinyCache whose server does not exist: a call that raises
    TypeError or ValueError and leaves no socket sent nothing."""
    return TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0)


def present_soon(write: Callable[[], None], read: Callable[[], Any],
                 within: float = 0.15, tries: int = 10) -> Any:
    """read()'s result from a read that came back within `within`
    seconds of the start of write(); retried on a slow machine."""
    for _ in range(tries):
        t0 = time.monotonic()
        write()
        got = read()
        if time.monotonic() - t0 < within:
            return got
    pytest.fail(f"no write + read took less than {within} s in {tries} tries")


# ---- set(..., ttl=) ----

def test_set_ttl_expires(kv: TinyCache) -> None:
    got = present_soon(lambda: kv.set("k", b"v", ttl=0.2),
                       lambda: kv.get("k"))
    assert got == b"v"
    time.sleep(1.0)
    assert kv.get("k") is None
    assert kv.ttl("k") is None
    assert kv.keys("*") == []
    assert kv.execute("EXISTS", "k") == 0


def test_set_int_ttl(kv: TinyCache) -> None:
    t0 = time.monotonic()
    kv.set("k", b"v", ttl=100)
    left = kv.ttl("k")
    elapsed = time.monotonic() - t0
    assert isinstance(left, float)
    assert 100 - elapsed - 0.01 <= left <= 100
    assert 99_000 - elapsed * 1000 <= kv.execute("PTTL", "k") <= 100_000
    assert kv.get("k") == b"v"


@pytest.mark.parametrize("ttl", [1.5, 2.25, 10.75])
def test_set_float_ttl(kv: TinyCache, ttl: float) -> None:
    t0 = time.monotonic()
    kv.set("k", b"v", ttl=ttl)
    left = kv.ttl("k")
    elapsed = time.monotonic() - t0
    assert left is not None and ttl - elapsed - 0.01 <= left <= ttl


def test_sub_millisecond_ttl_rounds_up(kv: TinyCache) -> None:
    # 0.0001 s is 1 ms (not 0 ms, which the server would refuse).
    kv.set("k", b"v", ttl=0.0001)
    time.sleep(0.05)
    assert kv.get("k") is None
    kv.set("k", b"v", ttl=1e-9)
    time.sleep(0.05)
    assert kv.get("k") is None


def test_set_without_ttl_clears_it(kv: TinyCache) -> None:
    kv.set("k", b"1", ttl=100)
    kv.set("k", b"2")
    assert kv.ttl("k") == math.inf
    assert kv.get("k") == b"2"


def test_ttl_beyond_the_server_range(kv: TinyCache) -> None:
    # Past 64 bits of milliseconds, or past them once added to now: the
    # server's own error, and nothing is stored.
    for ttl in (2 ** 62, 1e300, INT64_MAX // 1000):
        with pytest.raises(ReplyError, match="invalid expire time|not an integer"):
            kv.set("k", b"v", ttl=ttl)
    assert kv.get("k") is None


BAD_TTL_VALUES = [0, -1, 0.0, -0.0, -0.5, float("nan"), float("inf"),
                  float("-inf")]
BAD_TTL_TYPES = [True, False, "1", b"1", [1], 1j]


@pytest.mark.parametrize("ttl", BAD_TTL_VALUES, ids=repr)
def test_bad_ttl_value(ttl: Any) -> None:
    c = nowhere()
    with pytest.raises(ValueError, match="ttl must be"):
        c.set("k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl must be"):
        c.add("k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl must be"):
        c.expire("k", ttl)
    assert c._sock is None


@pytest.mark.parametrize("ttl", BAD_TTL_TYPES, ids=repr)
def test_bad_ttl_type(ttl: Any) -> None:
    c: Any = nowhere()
    with pytest.raises(TypeError, match="ttl must be an int or float"):
        c.set("k", b"v", ttl=ttl)
    with pytest.raises(TypeError, match="ttl must be an int or float"):
        c.add("k", b"v", ttl=ttl)
    with pytest.raises(TypeError, match="ttl must be an int or float"):
        c.expire("k", ttl)
    with pytest.raises(TypeError, match="ttl must be an int or float"):
        c.expire("k", None)
    assert c._sock is None


def test_key_and_value_types_checked_first() -> None:
    c: Any = nowhere()          # Any: the calls below are wrong on purpose
    for call in (lambda: c.set(b"k", b"v", ttl=1), lambda: c.add(1, b"v"),
                 lambda: c.expire(None, 1), lambda: c.persist(b"k"),
                 lambda: c.ttl(1), lambda: c.touch("a", b"b"),
                 lambda: c.incr(b"k"), lambda: c.decr(None)):
        with pytest.raises(TypeError, match="key must be str"):
            call()
    with pytest.raises(TypeError, match="value must be bytes"):
        c.add("k", "v")
    assert c._sock is None


# ---- add ----

def test_add(kv: TinyCache) -> None:
    assert kv.add("k", b"first") is True
    assert kv.add("k", b"second") is False
    assert kv.get("k") == b"first"
    assert kv.ttl("k") == math.inf


def test_add_with_ttl(kv: TinyCache) -> None:
    assert kv.add("k", b"v", ttl=100) is True
    left = kv.ttl("k")
    assert left is not None and 99 <= left <= 100
    # A refused add leaves the value and its ttl alone.
    assert kv.add("k", b"w", ttl=5) is False
    left = kv.ttl("k")
    assert left is not None and 99 <= left <= 100
    assert kv.get("k") == b"v"


def test_add_after_expiry(kv: TinyCache) -> None:
    assert kv.add("lock", b"a", ttl=0.2) is True
    time.sleep(1.0)
    assert kv.add("lock", b"b") is True
    assert kv.get("lock") == b"b"


def test_add_exactly_one_winner(kv: TinyCache, target: str) -> None:
    wins: List[bool] = []
    start = threading.Barrier(8)

    def contender(i: int) -> None:
        with TinyCache(target, connect_timeout=10, timeout=30) as c:
            start.wait(30)
            wins.append(c.add("once", str(i).encode(), ttl=60))

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(wins) == [False] * 7 + [True]


# ---- expire, persist, ttl ----

def test_ttl_missing_key_is_none(kv: TinyCache) -> None:
    assert kv.ttl("nosuch") is None


def test_ttl_without_expiry_is_inf(kv: TinyCache) -> None:
    kv.set("k", b"v")
    assert kv.ttl("k") == math.inf
    kv.incr("n")
    assert kv.ttl("n") == math.inf


def test_expire(kv: TinyCache) -> None:
    assert kv.expire("nosuch", 10) is False
    assert kv.ttl("nosuch") is None
    kv.set("k", b"v")
    t0 = time.monotonic()
    assert kv.expire("k", 50) is True
    left = kv.ttl("k")
    elapsed = time.monotonic() - t0
    assert left is not None and 50 - elapsed - 0.01 <= left <= 50
    t0 = time.monotonic()
    assert kv.expire("k", 2.5) is True           # replaces the ttl
    left = kv.ttl("k")
    elapsed = time.monotonic() - t0
    assert left is not None and 2.5 - elapsed - 0.01 <= left <= 2.5
    assert kv.get("k") == b"v"


def test_expire_then_gone(kv: TinyCache) -> None:
    def write() -> None:
        kv.set("k", b"v")
        assert kv.expire("k", 0.2) is True

    assert present_soon(write, lambda: kv.get("k")) == b"v"
    time.sleep(1.0)
    assert kv.get("k") is None
    assert kv.expire("k", 10) is False


def test_expire_rounds_up(kv: TinyCache) -> None:
    kv.set("k", b"v")
    assert kv.expire("k", 0.0001) is True
    time.sleep(0.05)
    assert kv.ttl("k") is None


def test_persist(kv: TinyCache) -> None:
    assert kv.persist("nosuch") is False
    kv.set("k", b"v")
    assert kv.persist("k") is False              # no ttl to remove

    def write() -> None:
        kv.set("k", b"v", ttl=0.3)

    assert present_soon(write, lambda: kv.persist("k"), within=0.25) is True
    assert kv.ttl("k") == math.inf
    time.sleep(0.6)
    assert kv.get("k") == b"v"


def test_ttl_reads_well(kv: TinyCache) -> None:
    kv.set("forever", b"v")
    kv.set("soon", b"v", ttl=30)
    left = kv.ttl("soon")
    assert left is not None and left < 60
    forever = kv.ttl("forever")
    assert forever is not None and not forever < 60
    assert kv.ttl("gone") is None
    with pytest.raises(TypeError):
        kv.ttl("gone") < 60         # type: ignore[operator]  # on purpose


# ---- touch ----

def test_touch(kv: TinyCache) -> None:
    assert kv.touch() == 0
    assert kv.touch("a") == 0
    kv.set("a", b"1")
    kv.set("b", b"2", ttl=100)
    assert kv.touch("a", "b", "nosuch") == 2
    assert kv.touch("a", "a") == 2
    left = kv.ttl("b")                           # untouched by TOUCH
    assert left is not None and 99 <= left <= 100
    assert kv.get_many(["a", "b"]) == [b"1", b"2"]


# ---- incr, decr ----

def test_incr_decr(kv: TinyCache) -> None:
    assert kv.incr("n") == 1
    assert kv.incr("n", 5) == 6
    assert kv.decr("n") == 5
    assert kv.decr("n", 10) == -5
    assert kv.incr("n", -3) == -8
    assert kv.decr("n", -8) == 0
    assert kv.incr("n", 0) == 0
    assert kv.get("n") == b"0"
    assert kv.decr("m", 7) == -7
    kv.set("s", b"41")
    assert kv.incr("s") == 42
    assert kv.get("s") == b"42"


def test_incr_limits(kv: TinyCache) -> None:
    assert kv.incr("n", INT64_MAX) == INT64_MAX
    assert kv.decr("m", -INT64_MAX) == INT64_MAX
    assert kv.incr("p", INT64_MIN) == INT64_MIN
    with pytest.raises(ReplyError) as ei:
        kv.decr("q", INT64_MIN)
    assert ei.value.message == "ERR decrement would overflow"
    assert kv.get("q") is None


def test_incr_keeps_ttl(kv: TinyCache) -> None:
    kv.set("n", b"1", ttl=100)
    assert kv.incr("n") == 2
    left = kv.ttl("n")
    assert left is not None and 99 <= left <= 100


@pytest.mark.parametrize("value", [b"abc", b"1.5", b"", b" 1",
                                   b"99999999999999999999"])
def test_incr_not_an_integer(kv: TinyCache, value: bytes) -> None:
    kv.set("k", value)
    with pytest.raises(ReplyError) as ei:
        kv.incr("k")
    assert ei.value.message == "ERR value is not an integer or out of range"
    with pytest.raises(ReplyError, match="^ERR value is not an integer"):
        kv.decr("k", 2)
    assert kv.get("k") == value


def test_incr_overflow(kv: TinyCache) -> None:
    kv.set("k", str(INT64_MAX).encode())
    with pytest.raises(ReplyError) as ei:
        kv.incr("k")
    assert ei.value.message == "ERR increment or decrement would overflow"
    kv.set("k", str(INT64_MIN).encode())
    with pytest.raises(ReplyError, match="would overflow"):
        kv.decr("k")
    with pytest.raises(ReplyError, match="would overflow"):
        kv.incr("k", -1)
    assert kv.get("k") == str(INT64_MIN).encode()


def test_incr_amount_out_of_range(kv: TinyCache) -> None:
    # Sent as digits: the server refuses them in its own words.
    for amount in (INT64_MAX + 1, INT64_MIN - 1, 10 ** 30):
        with pytest.raises(ReplyError, match="^ERR value is not an integer"):
            kv.incr("k", amount)
    assert kv.get("k") is None


@pytest.mark.parametrize("amount", [True, 1.0, "1", None, b"1"], ids=repr)
def test_incr_amount_type(amount: Any) -> None:
    c = nowhere()
    with pytest.raises(TypeError, match="amount must be an int"):
        c.incr("k", amount)
    with pytest.raises(TypeError, match="amount must be an int"):
        c.decr("k", amount)
    assert c._sock is None


# ---- scan_iter ----

def test_scan_iter_every_key_once(kv: TinyCache) -> None:
    names = [f"k:{i}" for i in range(500)]
    kv.set_many({k: b"v" for k in names})
    got = list(kv.scan_iter())
    assert sorted(got) == sorted(names)
    assert all(type(k) is str for k in got)


def test_scan_iter_pattern(kv: TinyCache) -> None:
    jobs = [f"job:{i}" for i in range(300)]
    kv.set_many({k: b"j" for k in jobs})
    kv.set_many({f"user:{i}": b"u" for i in range(300)})
    kv.set("jobs", b"x")
    assert sorted(kv.scan_iter("job:*")) == sorted(jobs)
    assert sorted(kv.scan_iter("job:1?")) == [f"job:1{i}" for i in range(10)]
    assert list(kv.scan_iter("nothing:*")) == []
    assert sorted(kv.scan_iter("job:*", count=7)) == sorted(jobs)


def test_scan_iter_count_one(kv: TinyCache) -> None:
    names = [f"k{i}" for i in range(300)]
    kv.set_many({k: b"v" for k in names})
    got = list(kv.scan_iter(count=1))
    assert sorted(got) == sorted(names)


def test_scan_iter_empty(kv: TinyCache) -> None:
    assert list(kv.scan_iter()) == []


def test_scan_iter_big_keyspace(kv: TinyCache) -> None:
    names = [f"key:{i}" for i in range(10_000)]
    for i in range(0, len(names), 1000):
        kv.set_many({k: b"v" for k in names[i:i + 1000]})
    assert kv.len() == 10_000
    got = list(kv.scan_iter())
    assert len(got) == 10_000
    assert set(got) == set(names)
    assert sorted(kv.scan_iter("key:99*")) == sorted(
        k for k in names if k.startswith("key:99"))


def test_scan_iter_while_deleting(kv: TinyCache) -> None:
    # The usual clean-up loop: other commands between the batches, and
    # the table shrinking meanwhile. Every key that is there until the
    # scan reaches it is seen (some perhaps twice), so none is left.
    kv.set_many({f"tmp:{i}": b"x" for i in range(2000)})
    kv.set("keep", b"k")
    seen = set()
    for key in kv.scan_iter("tmp:*", count=50):
        seen.add(key)
        kv.delete(key)
    assert len(seen) == 2000
    assert kv.keys("*") == ["keep"]


def test_scan_iter_is_lazy(kv: TinyCache) -> None:
    kv.set_many({f"k{i}": b"v" for i in range(100)})
    it = kv.scan_iter(count=10)
    first = next(it)
    assert first.startswith("k")
    kv.set("late", b"v")        # the connection is free between batches
    rest = list(it)
    assert len(set([first] + rest) - {"late"}) == 100


def test_scan_iter_non_utf8_keys(kv: TinyCache) -> None:
    kv.execute(b"SET", b"\xff\xfe", b"v")
    kv.set("ok", b"v")
    got = sorted(kv.scan_iter())
    assert got == sorted(["\udcff\udcfe", "ok"])
    assert kv.get("\udcff\udcfe") == b"v"


@pytest.mark.parametrize("pattern, count, error", [
    (b"*", 10, TypeError), (None, 10, TypeError), ("*", 0, ValueError),
    ("*", -1, ValueError), ("*", True, TypeError), ("*", 1.5, TypeError),
    ("*", "10", TypeError),
])
def test_scan_iter_bad_arguments(pattern: Any, count: Any, error: Any) -> None:
    c = nowhere()
    with pytest.raises(error):
        c.scan_iter(pattern, count)      # raised at the call, not on next()
    assert c._sock is None


# ---- What is sent, and what retries after a broken connection ----

@pytest.mark.parametrize("backend", BACKENDS)
def test_server_restart_costs_no_error(backend: str) -> None:
    # The writes that are never retried first check whether the server
    # closed the idle connection (it restarted), as pop does.
    port = free_port()
    c = TinyCache(f"127.0.0.1:{port}", connect_timeout=10)
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        assert c.incr("n") == 1
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        assert c.incr("n") == 1
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        assert c.add("k", b"v", ttl=60) is True
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        assert c.persist("k") is False
    with spawn(port=port, event_backend=backend, loglevel="warning"):
        assert c.decr("n", 2) == -2
    c.close()


def replying(replies: dict) -> Callable[..., None]:
    """A FakeServer handler that answers each command by its name."""
    def handler(fake: FakeServer, conn: Any, index: int) -> None:
        while True:
            args = fake.read(conn)
            if args is None:
                return
            conn.sendall(replies[args[0]](args) if callable(replies[args[0]])
                         else replies[args[0]])
    return handler


def test_commands_sent() -> None:
    def scan(args: List[bytes]) -> bytes:
        nxt = {b"0": b"17", b"17": b"0"}[args[1]]
        return (b"*2\r\n$%d\r\n%s\r\n*1\r\n$2\r\nk%s\r\n"
                % (len(nxt), nxt, nxt[:1]))

    replies = {b"SET": b"+OK\r\n", b"PEXPIRE": b":1\r\n", b"PERSIST": b":0\r\n",
               b"PTTL": b":1500\r\n", b"TOUCH": b":2\r\n", b"INCRBY": b":3\r\n",
               b"DECRBY": b":-3\r\n", b"SCAN": scan}
    with FakeServer(replying(replies)) as fake:
        with TinyCache(fake.address, connect_timeout=5) as c:
            c.set("k", b"v", ttl=0.0001)
            c.set("k", b"v", ttl=1.1)
            c.set("k", b"v", ttl=2)
            c.set("k", b"v", ttl=0.0015)
            c.set("k", b"v")
            assert c.add("k", b"v") is True
            assert c.add("k", b"v", ttl=0.25) is True
            assert c.expire("k", 3.0005) is True
            assert c.persist("k") is False
            assert c.ttl("k") == 1.5
            assert c.touch("a", "b") == 2
            assert c.incr("n", 3) == 3
            assert c.decr("n", 3) == -3
            assert list(c.scan_iter("k*", count=5)) == ["k1", "k0"]
        assert fake.commands == [
            [b"SET", b"k", b"v", b"PX", b"1"],
            [b"SET", b"k", b"v", b"PX", b"1100"],
            [b"SET", b"k", b"v", b"PX", b"2000"],
            [b"SET", b"k", b"v", b"PX", b"2"],
            [b"SET", b"k", b"v"],
            [b"SET", b"k", b"v", b"NX"],
            [b"SET", b"k", b"v", b"NX", b"PX", b"250"],
            [b"PEXPIRE", b"k", b"3001"],
            [b"PERSIST", b"k"],
            [b"PTTL", b"k"],
            [b"TOUCH", b"a", b"b"],
            [b"INCRBY", b"n", b"3"],
            [b"DECRBY", b"n", b"3"],
            [b"SCAN", b"0", b"MATCH", b"k*", b"COUNT", b"5"],
            [b"SCAN", b"17", b"MATCH", b"k*", b"COUNT", b"5"],
        ]


def test_ttl_replies() -> None:
    replies = {b"PTTL": lambda args: {b"a": b":-2\r\n", b"b": b":-1\r\n",
                                      b"c": b":1\r\n"}[args[1]]}
    with FakeServer(replying(replies)) as fake:
        with TinyCache(fake.address, connect_timeout=5) as c:
            assert c.ttl("a") is None
            assert c.ttl("b") == math.inf
            assert c.ttl("c") == 0.001


def test_repeatable_commands_retry_once() -> None:
    replies = {b"SET": b"+OK\r\n", b"PEXPIRE": b":1\r\n", b"PTTL": b":-1\r\n",
               b"TOUCH": b":1\r\n",
               b"SCAN": b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"}
    with FakeServer(first_copy_dropped(replies)) as fake:
        with TinyCache(fake.address, connect_timeout=5) as c:
            c.set("k", b"v", ttl=5)
            assert c.expire("k", 5) is True
            assert c.ttl("k") == math.inf
            assert c.touch("k") == 1
            assert list(c.scan_iter()) == ["k"]
        names = [a[0] for a in fake.commands]
        assert names == [b"SET", b"SET", b"PEXPIRE", b"PEXPIRE", b"PTTL",
                         b"PTTL", b"TOUCH", b"TOUCH", b"SCAN", b"SCAN"]


@pytest.mark.parametrize("name, call", [
    (b"SET", lambda c: c.add("k", b"v")),
    (b"SET", lambda c: c.add("k", b"v", ttl=5)),
    (b"PERSIST", lambda c: c.persist("k")),
    (b"INCRBY", lambda c: c.incr("k")),
    (b"DECRBY", lambda c: c.decr("k", 2)),
], ids=["add", "add-ttl", "persist", "incr", "decr"])
def test_writes_never_retried(name: bytes, call: Callable[[TinyCache], Any]) -> None:
    with FakeServer(first_copy_dropped({name: b":1\r\n"})) as fake:
        with TinyCache(fake.address, connect_timeout=5) as c:
            with pytest.raises(TinyCacheConnectionError, match="not retried"):
                call(c)
            assert [a[0] for a in fake.commands] == [name]
            call(c)                      # the next call reconnects
            assert [a[0] for a in fake.commands] == [name, name]
