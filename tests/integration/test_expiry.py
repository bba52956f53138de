# SPDX-License-Identifier: MIT
"""Key expiry as Redis 7.0 does it: the active cycle, the lazy check, and
what INFO says about them.

- A million keys with a 1 s TTL that nobody touches are reclaimed (99%
  within 5 s of the load, then all), the process shrinks back near its
  empty size, and another client's GETs stay fast meanwhile.
- A key is never visible after its time; DBSIZE, EXISTS, GET, KEYS, SCAN
  and INFO keyspace count keys not yet reclaimed as redis-server does.
- hz and active-expire-effort set by CONFIG SET change the cycle's pace
  as they change Redis's (checked on both servers).

Timing checks use ratios and wide margins: the machine has 2 cores shared
with other work. Under valgrind (TMC_VALGRIND=1) sizes shrink and the
latency and RSS checks are skipped, and with AddressSanitizer the RSS
checks (their allocators and speed make these meaningless).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any, Dict, Iterable, List, Sequence, Tuple

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from tmc_testlib import RedisServer, Server, encode_command, read_replies  # noqa: E402

VALGRIND = tmc_testlib.valgrind_enabled()


def _sanitized() -> bool:
    """True if our server is built with AddressSanitizer, whose allocator
    (redzones, a quarantine of freed blocks) makes RSS meaningless."""
    try:
        with open(tmc_testlib.server_path(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


#: RSS says something about our memory use (not under valgrind or ASan).
RSS_MEANINGFUL = not VALGRIND and not _sanitized()
MASS_KEYS = 20_000 if VALGRIND else 1_000_000
MASS_KEYS_OTHER_BACKEND = 20_000 if VALGRIND else 100_000
RECLAIM_S = 10.0 if VALGRIND else 5.0   # 99% gone this long after the load
GET_P99_MS = 50.0                       # another client's GET, during the cycle
GET_P99_X = 5.0                         # ... or this times its p99 before
GET_MAX_MS = 100.0 if not VALGRIND else 1000.0  # no long stall (without
                                        # fastbins, 26-30 ms was seen)
RSS_LEFT = 0.10                         # share of the growth left after
VALUE = b"v" * 32


# ---- Helpers ----

def call(sock: socket.socket, *args: Any) -> Any:
    """Send one command, return its reply (errors as RespError)."""
    sock.sendall(encode_command(*args))
    return read_replies(sock, 1, timeout=60)[0][0]


def pipeline(sock: socket.socket, cmds: Sequence[Sequence[Any]]) -> List[Any]:
    """Send cmds in one write; return their replies."""
    sock.sendall(b"".join(encode_command(*c) for c in cmds))
    return read_replies(sock, len(cmds), timeout=60)[0]


def load(sock: socket.socket, cmds: Iterable[bytes], per: int = 10_000) -> int:
    """Send pre-encoded commands whose replies are +OK, per at a time, and
    read the replies (fast: by length). Returns how many were sent."""
    batch: List[bytes] = []
    sent = 0

    def flush() -> None:
        sock.sendall(b"".join(batch))
        want = 5 * len(batch)
        got = b""
        while len(got) < want:
            chunk = sock.recv(want - len(got))
            if not chunk:
                raise tmc_testlib.ServerError("connection closed while loading")
            got += chunk
        if got != b"+OK\r\n" * len(batch):
            raise AssertionError("a load command failed: %r" % got[:200])

    for c in cmds:
        batch.append(c)
        if len(batch) == per:
            flush()
            sent += len(batch)
            batch = []
    if batch:
        flush()
        sent += len(batch)
    return sent


def set_cmds(prefix: str, n: int, *opts: Any) -> Iterable[bytes]:
    """SET <prefix><i> <32 bytes> [opts...] for i in 0..n-1, encoded."""
    for i in range(n):
        yield encode_command("SET", "%s%d" % (prefix, i), VALUE, *opts)


def info(sock: socket.socket, section: str) -> Dict[str, str]:
    """One INFO section as a dict of strings."""
    text = call(sock, "INFO", section).decode()
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k] = v
    return out


def keyspace(sock: socket.socket) -> Dict[str, int]:
    """INFO keyspace's db0 line as {"keys": .., "expires": .., "avg_ttl": ..},
    or {} when the line is absent (an empty keyspace)."""
    line = info(sock, "keyspace").get("db0")
    if line is None:
        return {}
    return {k: int(v) for k, v in (p.split("=") for p in line.split(","))}


def rss(pid: int) -> int:
    """VmRSS of pid in bytes."""
    with open("/proc/%d/status" % pid, encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def percentile(values: Sequence[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


def both_servers(args: Sequence[str] = ()) -> Tuple[Server, RedisServer]:
    """Our server (the first backend under test) and a reference
    redis-server, with the same extra "--name value" arguments."""
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    ours = Server(backend=tmc_testlib.backends()[0], unixsocket=True, args=list(args))
    try:
        return ours, RedisServer(args=list(args))
    except BaseException:
        ours.stop(check=False)
        raise


# ---- A million keys nobody touches ----

def _get_latencies(sock: socket.socket, seconds: float) -> List[float]:
    """Seconds each GET probe took, for the given time."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        assert call(sock, "GET", "probe") == b"here"
        out.append(time.perf_counter() - t)
    return out


@pytest.mark.parametrize("backend", tmc_testlib.backends())
def test_mass_expiry(backend: str) -> None:
    """Keys with a 1 s TTL go by themselves: 99% within RECLAIM_S of the
    end of the load, then all of them; expired_keys counts each, the cycle's
    INFO fields move, RSS comes back near the empty server's, and a client
    reading another key meanwhile sees no long stall.

    "Near": at most RSS_LEFT (10%) of what the load added is left. With
    every key gone nothing pins the heap's pages but the tables at their
    smallest, the connections' buffers and the allocator's own state (a
    few hundred KB here); measured, well under 1% of a million keys'
    growth is left. 10% leaves room for a busy machine and other libcs.
    """
    n = MASS_KEYS if backend == tmc_testlib.backends()[0] else MASS_KEYS_OTHER_BACKEND
    with Server(backend=backend, unixsocket=True) as srv:
        s = srv.connect(unix=True, timeout=60)
        probe = srv.connect(unix=True, timeout=60)
        assert call(probe, "SET", "probe", "here") == "OK"
        before = _get_latencies(probe, 1.0)
        pid = srv.proc.pid
        rss0 = rss(pid)
        load(s, set_cmds("key:", n, "PX", 1000))
        loaded = time.monotonic()
        rss1 = rss(pid)
        lat: List[float] = []
        ninety_nine = None
        next_poll = 0.0
        while time.monotonic() < loaded + 3 * RECLAIM_S:
            t = time.perf_counter()
            assert call(probe, "GET", "probe") == b"here"
            lat.append(time.perf_counter() - t)
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + 0.05
                left = call(s, "DBSIZE") - 1
                if ninety_nine is None and left <= n // 100:
                    ninety_nine = now - loaded
                if left == 0:
                    break
        assert ninety_nine is not None, "99%% not gone in %.0f s" % (3 * RECLAIM_S)
        assert ninety_nine <= RECLAIM_S, \
            "99%% of %d keys gone only %.2f s after the load" % (n, ninety_nine)
        assert call(s, "DBSIZE") == 1, "the keys not all reclaimed"
        assert keyspace(s) == {"keys": 1, "expires": 0, "avg_ttl": 0}
        stats = info(s, "stats")
        assert int(stats["expired_keys"]) == n
        assert float(stats["expired_stale_perc"]) > 0
        assert int(stats["expire_cycle_cpu_milliseconds"]) > 0
        if not VALGRIND:
            # Tens of ms at most, or a few times what a busy machine
            # gave before the keys were there.
            p99 = percentile(lat, 0.99) * 1e3
            p99_before = percentile(before, 0.99) * 1e3
            worst = max(lat) * 1e3
            assert p99 < max(GET_P99_MS, GET_P99_X * p99_before), \
                "GET p99 %.1f ms during the cycle, %.1f ms before" % (p99, p99_before)
            assert worst < GET_MAX_MS, "a GET took %.0f ms during the cycle" % worst
        if RSS_MEANINGFUL:
            # The memory goes back once the burst is over (a slow cycle
            # that finds little left to do trims the heap).
            limit = rss0 + RSS_LEFT * (rss1 - rss0)
            deadline = time.monotonic() + 5
            while rss(pid) > limit and time.monotonic() < deadline:
                time.sleep(0.1)
            assert rss(pid) <= limit, \
                "RSS %.1f MB after, %.1f MB empty, %.1f MB loaded" % (
                    rss(pid) / 1e6, rss0 / 1e6, rss1 / 1e6)
        assert call(probe, "GET", "probe") == b"here", "a key without a TTL stays"
        s.close()
        probe.close()


# ---- What clients see of stale keys, against the reference ----

STALE = 50                  # keys with PX 1
LIVE = 10                   # keys without a TTL


def _stale_view(sock: socket.socket) -> List[Any]:
    """Make STALE keys stale that the active cycle has not reclaimed yet
    (hz 1 and a fresh stale estimate: no cycle runs in the window but
    perhaps one slow cycle; retried if one did), then ask everything in
    one pipeline, so no cycle can run between the answers."""
    call(sock, "CONFIG", "SET", "hz", "1")
    for _attempt in range(10):
        pipeline(sock, [("FLUSHALL",), ("CONFIG", "RESETSTAT")]
                 + [("SET", "p:%d" % i, "v") for i in range(LIVE)]
                 + [("SET", "s:%d" % i, "v", "PX", 1) for i in range(STALE)])
        time.sleep(0.02)
        r = pipeline(sock, [
            ("INFO", "stats"), ("DBSIZE",), ("INFO", "keyspace"),
            ("EXISTS", "s:0", "s:1", "p:0"), ("DBSIZE",),
            ("GET", "s:2"), ("DBSIZE",), ("TTL", "s:3"), ("PTTL", "s:4"),
            ("DBSIZE",), ("KEYS", "s:*"), ("DBSIZE",),
            ("SCAN", 0, "MATCH", "s:*", "COUNT", 1000), ("DBSIZE",),
            ("INFO", "keyspace")])
        if b"\r\nexpired_keys:0\r\n" in r[0]:
            return r[1:]
    raise AssertionError("an active cycle ran in the window 10 times")


def test_stale_keys_as_reference() -> None:
    """Stale keys not reclaimed yet count in DBSIZE and INFO keyspace, and
    are gone for EXISTS, GET, TTL (each such access deletes one: DBSIZE
    drops), KEYS (which deletes nothing) and SCAN (which deletes those it
    meets), exactly as in redis-server."""
    ours, ref = both_servers()
    with ours, ref:
        a = _stale_view(ours.connect(unix=True))
        b = _stale_view(ref.connect(unix=True))
    assert a == b
    assert a[0] == LIVE + STALE, "DBSIZE counts the stale keys"
    assert a[2] == 1, "EXISTS sees only p:0"


def test_never_visible_after_its_time(server: Server) -> None:
    """Keys are visible to every read until their expire time and never
    after it: every answer sent after the time (by the same wall clock the
    server reads) says the keys are gone, every answer received before it
    says they are there."""
    s = server.connect(unix=True)
    nkeys = 100
    when = int(time.time() * 1000) + 300
    load(s, set_cmds("t:", nkeys, "PXAT", when))
    reads = [("GET", "t:7"), ("EXISTS", "t:8"), ("PTTL", "t:9"), ("KEYS", "t:1*"),
             ("MGET", "t:10", "t:11"), ("STRLEN", "t:12"), ("TYPE", "t:13")]
    gone = [None, 0, -2, [], [None, None], 0, "none"]
    seen_before = seen_after = 0
    while True:
        sent = time.time() * 1000
        r = pipeline(s, reads)
        received = time.time() * 1000
        if received < when:
            seen_before += 1
            assert r[0] == VALUE and r[1] == 1 and r[2] >= 0 and len(r[3]) == 11, \
                "gone before its time: %r" % (r,)
        elif sent > when + 1:
            seen_after += 1
            assert r == gone, "visible after its time: %r" % (r,)
            if seen_after >= 50:
                break
    assert seen_before > 0
    assert call(s, "DBSIZE") <= nkeys - 6
    s.close()


def test_info_keyspace_as_reference() -> None:
    """INFO keyspace counts keys and keys with a TTL as redis-server does,
    and avg_ttl is the cycle's estimate from the keys it looked at: near
    the TTL once cycles ran, 0 again when no key has a TTL."""
    ours, ref = both_servers(args=["--hz", "50"])
    with ours, ref:
        for srv in (ours, ref):
            s = srv.connect(unix=True)
            load(s, set_cmds("e:", 1000, "EX", 100))
            load(s, set_cmds("p:", 500))
            time.sleep(0.5)
            ks = keyspace(s)
            assert (ks["keys"], ks["expires"]) == (1500, 1000), srv.name
            assert 90_000 <= ks["avg_ttl"] <= 100_000, (srv.name, ks)
            call(s, "DEL", *["e:%d" % i for i in range(1000)])
            time.sleep(0.3)
            assert keyspace(s) == {"keys": 500, "expires": 0, "avg_ttl": 0}, srv.name
            call(s, "FLUSHALL")
            assert keyspace(s) == {}, srv.name
            s.close()


def test_expiry_stats_fields_as_reference() -> None:
    """The INFO stats fields of expiry exist in both servers, and CONFIG
    RESETSTAT zeroes them as in Redis."""
    ours, ref = both_servers()
    names = ["expired_keys", "expired_stale_perc", "expired_time_cap_reached_count",
             "expire_cycle_cpu_milliseconds"]
    with ours, ref:
        for srv in (ours, ref):
            s = srv.connect(unix=True)
            load(s, set_cmds("x:", 2000, "PX", 1))
            deadline = time.monotonic() + 10
            while call(s, "DBSIZE") and time.monotonic() < deadline:
                time.sleep(0.05)
            stats = info(s, "stats")
            assert all(k in stats for k in names), srv.name
            assert int(stats["expired_keys"]) == 2000, srv.name
            call(s, "CONFIG", "RESETSTAT")
            stats = info(s, "stats")
            assert [stats[k] for k in names] == ["0", "0.00", "0", "0"], srv.name
            s.close()


# ---- CONFIG SET hz and active-expire-effort ----

def _reclaim_delays(sock: socket.socket, hz: int) -> List[float]:
    """At hz, set 3 keys with PX 1 a third of a second apart and return,
    for each, the seconds until the active cycle reclaimed it (DBSIZE,
    which reclaims nothing itself, polled every 10 ms). Keys go in the
    order they were set, so the k-th fall of DBSIZE is the k-th key."""
    call(sock, "CONFIG", "SET", "hz", hz)
    call(sock, "FLUSHALL")
    call(sock, "CONFIG", "RESETSTAT")
    # The cron's timer was armed at the old hz (in Redis too): let it fire.
    time.sleep(1.1)
    set_at: List[float] = []
    gone_at: List[float] = []
    start = time.monotonic()
    while len(gone_at) < 3 and time.monotonic() - start < 10:
        now = time.monotonic()
        if len(set_at) < 3 and now - start >= len(set_at) / 3:
            assert call(sock, "SET", "h:%d" % len(set_at), "v", "PX", 1) == "OK"
            set_at.append(time.monotonic())
        left = call(sock, "DBSIZE")
        while len(gone_at) < len(set_at) - left:
            gone_at.append(time.monotonic())
        time.sleep(0.01)
    assert len(gone_at) == 3, "keys not reclaimed at hz %d" % hz
    return [g - s for g, s in zip(gone_at, set_at)]


def test_config_set_hz_takes_effect() -> None:
    """At hz 1 the slow cycle runs once a second: of three keys set a third
    of a second apart, one waits at least 2/3 s to be reclaimed; at hz 100
    every key goes within a few ticks. The same holds for redis-server."""
    ours, ref = both_servers()
    with ours, ref:
        for srv in (ours, ref):
            s = srv.connect(unix=True)
            slow = _reclaim_delays(s, 1)
            fast = _reclaim_delays(s, 100)
            assert call(s, "CONFIG", "GET", "hz") == [b"hz", b"100"]
            assert max(slow) >= 0.6, (srv.name, slow)
            assert max(fast) <= 0.4, (srv.name, fast)
            s.close()


def _reclaimed_at_effort(sock: socket.socket, effort: int) -> int:
    """At effort, with 40,000 keys that expire in an hour and 2,000 (4.8%)
    stale ones mixed in, the stale keys reclaimed in 1.5 s."""
    call(sock, "FLUSHALL")
    call(sock, "CONFIG", "SET", "active-expire-effort", effort)
    cmds: List[bytes] = []
    for i in range(42_000):
        if i % 21 == 0:
            cmds.append(encode_command("SET", "f:%d" % i, "v", "PX", 1))
        else:
            cmds.append(encode_command("SET", "f:%d" % i, "v", "EX", 3600))
    load(sock, cmds)
    time.sleep(1.5)
    return 42_000 - call(sock, "DBSIZE")


def test_config_set_active_expire_effort_takes_effect() -> None:
    """active-expire-effort sets how many stale keys the cycle tolerates:
    at 1 (10% acceptable, 20 keys a round) a keyspace with 5% stale keys
    gets one round a tick; at 10 (1%, 65 keys a round) rounds repeat while
    more than one key in 65 is stale, so many times more go. The same holds
    for redis-server."""
    ours, ref = both_servers(args=["--hz", "10"])
    with ours, ref:
        for srv in (ours, ref):
            s = srv.connect(unix=True)
            low = _reclaimed_at_effort(s, 1)
            high = _reclaimed_at_effort(s, 10)
            # Measured: about 15 against 180 (Redis), 15 against 250 (ours).
            assert low < 100, (srv.name, low, high)
            assert high >= 4 * max(low, 10), (srv.name, low, high)
            s.close()


def test_config_get_expiry_settings(server: Server) -> None:
    """hz and active-expire-effort read back as set; out-of-range values
    are refused or clamped as Redis does (hz is kept within 1-500)."""
    s = server.connect(unix=True)
    assert call(s, "CONFIG", "SET", "active-expire-effort", 7) == "OK"
    assert call(s, "CONFIG", "GET", "active-expire-effort") == [
        b"active-expire-effort", b"7"]
    err = call(s, "CONFIG", "SET", "active-expire-effort", 11)
    assert isinstance(err, tmc_testlib.RespError)
    assert call(s, "CONFIG", "SET", "hz", 1000) == "OK"
    assert call(s, "CONFIG", "GET", "hz") == [b"hz", b"500"]
    s.close()


def test_keys_with_ttl_survive_the_cycle(server: Server) -> None:
    """The cycle reclaims only what is stale: keys with time left, and
    keys without a TTL, are all still there after many cycles."""
    s = server.connect(unix=True)
    call(s, "CONFIG", "SET", "hz", 100)
    call(s, "CONFIG", "SET", "active-expire-effort", 10)
    load(s, set_cmds("live:", 5000, "EX", 3600))
    load(s, set_cmds("dead:", 5000, "PX", 1))
    load(s, set_cmds("perm:", 5000))
    deadline = time.monotonic() + 15
    while call(s, "DBSIZE") > 10_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert call(s, "DBSIZE") == 10_000
    assert keyspace(s)["expires"] == 5000
    assert call(s, "EXISTS", *["live:%d" % i for i in range(0, 5000, 7)]) == \
        len(range(0, 5000, 7))
    ttl = call(s, "TTL", "live:1234")
    assert 3500 <= ttl <= 3600
    s.close()
