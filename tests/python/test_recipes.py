# SPDX-License-Identifier: MIT
# tiny_mp_cache.recipes: Lock (leases with owner tokens, released with DELEX
# IFEQ, extended under WATCH) and memoize (stampede protection), against
# our server (each event backend) and against redis-server 7.0, which has
# no DELEX (the release falls back to a WATCH transaction).

import collections
import multiprocessing as mp
import os
import sys
import threading
import time

import pytest

import tmcpy
from tiny_mp_cache import TinyCache, TinyCacheError, spawn
from tiny_mp_cache import recipes
from tiny_mp_cache.recipes import (Lock, LockError, LockNotAcquiredError,
                                   LockNotOwnedError, memoize)

# Slack for timings on a loaded 2-core machine.
SLACK = 0.5

# A result type the default serializer refuses (it would come back as a
# tuple) and pickle keeps.
Point = collections.namedtuple("Point", "x y")


@pytest.fixture
def cache(module_address):
    """A client of the module's server (conftest.py: ours with each event
    backend, and redis-server 7.0, which has no DELEX), which starts
    empty."""
    with TinyCache(module_address, connect_timeout=5.0, timeout=10.0) as c:
        c.execute("FLUSHALL")
        yield c


def is_redis(cache):
    return cache.execute("INFO", "server").find(b"tiny_mp_cache_version") < 0


def calls(cache, command):
    """How many times the server ran command (INFO commandstats)."""
    info = cache.execute("INFO", "commandstats").decode()
    for line in info.splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


# ---- Lock ----

def test_acquire_release(cache):
    lock = Lock(cache, "L", ttl=10)
    assert not lock.locked() and not lock.owned()
    assert lock.acquire() is True
    assert lock.locked() and lock.owned()
    assert cache.get("L") == lock.token and len(lock.token) == 32
    assert 9.0 < cache.ttl("L") <= 10.0
    lock.release()
    assert cache.get("L") is None and not lock.locked() and lock.token is None
    with pytest.raises(LockNotOwnedError, match="has not acquired"):
        lock.release()
    # Each acquire has a new token.
    lock.acquire()
    first = lock.token
    lock.release()
    lock.acquire()
    assert lock.token != first
    lock.release()


def test_exclusive_and_not_reentrant(cache):
    a, b = Lock(cache, "L"), Lock(cache, "L")
    assert a.acquire(blocking=False)
    assert b.acquire(blocking=False) is False
    assert b.acquire(timeout=0) is False
    assert not b.owned() and b.locked()
    with pytest.raises(LockError, match="not reentrant"):
        a.acquire()
    a.release()
    assert b.acquire(blocking=False)
    b.release()


def test_context_manager(cache):
    lock = Lock(cache, "L", ttl=5)
    with lock as held:
        assert held is lock and lock.owned()
        with pytest.raises(LockNotAcquiredError, match="at once"):
            with Lock(cache, "L", blocking=False):
                pass
        with pytest.raises(LockNotAcquiredError, match="within 0.1 s"):
            with Lock(cache, "L", timeout=0.1):
                pass
    assert not lock.locked()
    # An error in the body releases the lock and propagates.
    with pytest.raises(KeyError):
        with lock:
            raise KeyError("x")
    assert not lock.locked()


def test_expired_release_leaves_new_owner_alone(cache):
    """The lease runs out while held; another owner takes the lock; the
    first owner's release must not delete it, and must say so."""
    first = Lock(cache, "L", ttl=0.1)
    assert first.acquire()
    time.sleep(0.2)
    assert not first.owned() and not first.locked()
    second = Lock(cache, "L", ttl=10)
    assert second.acquire(blocking=False)
    with pytest.raises(LockNotOwnedError, match="expired before release"):
        first.release()
    assert second.owned() and cache.get("L") == second.token
    assert first.token is None
    # A with block whose lease ran out reports it on exit.
    with pytest.raises(LockNotOwnedError):
        with Lock(cache, "M", ttl=0.05):
            time.sleep(0.15)
            assert Lock(cache, "M", ttl=10).acquire(blocking=False)
    assert cache.ttl("M") > 9
    second.release()


def test_extend(cache):
    lock = Lock(cache, "L", ttl=2)
    with pytest.raises(LockNotOwnedError, match="has not acquired"):
        lock.extend()
    lock.acquire()
    lock.extend(10)                        # added to what is left
    assert 11.0 < cache.ttl("L") <= 12.0
    lock.extend(3, replace_ttl=True)       # from now
    assert 2.5 < cache.ttl("L") <= 3.0
    lock.extend()                          # the lock's ttl, from now
    assert 1.5 < cache.ttl("L") <= 2.0
    lock.extend(0.5)
    assert 2.0 < cache.ttl("L") <= 2.5
    assert lock.owned() and cache.get("L") == lock.token
    with pytest.raises(ValueError):
        lock.extend(0)
    lock.release()


def test_extend_after_expiry_fails(cache):
    lock = Lock(cache, "L", ttl=0.1)
    lock.acquire()
    time.sleep(0.2)
    with pytest.raises(LockNotOwnedError, match="expired before extend"):
        lock.extend(10)
    assert cache.get("L") is None          # not revived
    # Nor does it touch the lock of the owner who took it since.
    lock.acquire()
    time.sleep(0.2)
    other = Lock(cache, "L", ttl=5)
    assert other.acquire(blocking=False)
    with pytest.raises(LockNotOwnedError):
        lock.extend(100)
    with pytest.raises(LockNotOwnedError):
        lock.extend(100, replace_ttl=True)
    assert cache.ttl("L") <= 5.0 and cache.get("L") == other.token
    other.release()


def test_extend_transaction_aborted_by_a_write(cache):
    """A write between the WATCH and the EXEC of extend() (here: the
    lock expires and another owner takes it while extend reads the
    expiry) makes EXEC run nothing; the next try sees the new token."""
    lock = Lock(cache, "L", ttl=10)
    lock.acquire()
    other = Lock(cache, "L", ttl=30)
    real = recipes._Owned.transaction

    def racing(self, key, token, command):
        def command_then_steal(client):
            args = command(client)
            cache.delete("L")
            assert other.acquire(blocking=False)
            return args
        return real(self, key, token, command_then_steal)

    recipes._Owned.transaction = racing
    try:
        with pytest.raises(LockNotOwnedError):
            lock.extend(100)
    finally:
        recipes._Owned.transaction = real
    assert cache.get("L") == other.token and 29 < cache.ttl("L") <= 30
    other.release()


def test_blocking_timeout(cache):
    holder = Lock(cache, "L", ttl=30)
    holder.acquire()
    waiter = Lock(cache, "L")
    t0 = time.monotonic()
    assert waiter.acquire(timeout=0.3) is False
    took = time.monotonic() - t0
    assert 0.3 <= took < 0.3 + SLACK, took
    t0 = time.monotonic()
    assert waiter.acquire(timeout=0) is False
    assert time.monotonic() - t0 < SLACK
    # The Lock's own timeout is acquire()'s default.
    t0 = time.monotonic()
    assert Lock(cache, "L", timeout=0.2).acquire() is False
    assert 0.2 <= time.monotonic() - t0 < 0.2 + SLACK
    holder.release()


def test_blocking_acquire_after_release_and_after_expiry(cache):
    holder = Lock(cache, "L", ttl=30)
    holder.acquire()
    timer = threading.Timer(0.2, holder.release)
    timer.start()
    t0 = time.monotonic()
    try:
        waiter = Lock(cache, "L")
        assert waiter.acquire(timeout=5)
    finally:
        timer.join()
    # Noticed within one back-off pause (at most MAX_SLEEP) of the release.
    assert 0.2 <= time.monotonic() - t0 < 0.2 + recipes.MAX_SLEEP + SLACK
    waiter.release()
    # A holder that never releases (it died): its lease expires.
    Lock(cache, "L", ttl=0.3).acquire()
    t0 = time.monotonic()
    assert waiter.acquire(timeout=5)
    assert 0.25 <= time.monotonic() - t0 < 0.3 + recipes.MAX_SLEEP + SLACK
    waiter.release()


def test_waiting_is_not_a_busy_loop(cache):
    """A waiter polls with back-off: over a 1 s wait it sends about
    log2(MAX_SLEEP / MIN_SLEEP) + 1 s / (MAX_SLEEP * 3/4) SETs, not
    thousands."""
    Lock(cache, "L", ttl=30).acquire()
    before = calls(cache, "set")
    assert Lock(cache, "L").acquire(timeout=1.0) is False
    tries = calls(cache, "set") - before
    assert 10 <= tries <= 50, tries


def _contender(address, rounds, ready):
    """Increment a counter the non-atomic way (GET, then SET) under the
    lock, rounds times."""
    with TinyCache(address, timeout=10) as c:
        lock = Lock(c, "counter-lock", ttl=10, timeout=20)
        ready.wait()
        for _ in range(rounds):
            with lock:
                n = int(c.get("counter") or b"0")
                c.set("counter", str(n + 1).encode())
                # Overlapping holders would be seen here.
                if c.incr("inside") != 1:
                    c.incr("overlaps")
                c.decr("inside")


def test_contention_many_processes(cache):
    procs, rounds = 8, 50
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    with tmcpy.processes(ctx, procs, _contender,
                         (cache.address, rounds, ready)) as children:
        t0 = time.monotonic()
        ready.set()
        for p in children:
            p.join(30)
        took = time.monotonic() - t0
        codes = [p.exitcode for p in children]
    assert codes == [0] * procs
    assert cache.get("counter") == str(procs * rounds).encode()
    assert cache.get("overlaps") is None
    assert not Lock(cache, "counter-lock").locked()
    print(f"{procs * rounds} critical sections by {procs} processes "
          f"in {took:.2f} s")


def test_password_server_transactions():
    """extend(), and release() without DELEX, run on a private connection,
    which authenticates as the cache's does."""
    with spawn(port=0, requirepass="s3cret", loglevel="warning") as srv:
        with TinyCache(srv.address, password="s3cret") as c:
            lock = Lock(c, "L", ttl=5)
            lock.acquire()
            lock.extend(20, replace_ttl=True)
            assert 19 < c.ttl("L") <= 20
            lock.release()
            assert c.get("L") is None


def test_lock_arguments(cache):
    with pytest.raises(TypeError):
        Lock(cache, b"L")
    with pytest.raises(ValueError):
        Lock(cache, "L", ttl=0)
    with pytest.raises(TypeError):
        Lock(cache, "L", ttl="10")
    with pytest.raises(ValueError):
        Lock(cache, "L", timeout=-1)
    with pytest.raises(ValueError):
        Lock(cache, "L", min_sleep=0.1, max_sleep=0.01)
    assert Lock(cache, "L", ttl=1.1)._ttl_ms == 1100
    assert repr(Lock(cache, "L")) == "<Lock 'L' ttl=10 not acquired>"


# ---- memoize ----

def test_memoize_values_and_types(cache):
    runs = []

    @memoize(cache, ttl=60)
    def f(a, b=2):
        runs.append((a, b))
        return (a, [b, None, True, 1.5, "é"], {1: b"\x00\xff", (1, "x"): {2}},
                frozenset({3}), {"t": [4]})

    first = f(1)
    assert f(1) == first and f(1, b=2) == first
    again = f(1)
    assert type(again) is tuple and type(again[2]) is dict and \
        type(again[3]) is frozenset and again[4] == {"t": [4]}
    assert runs == [(1, 2), (1, 2)]        # f(1) and f(1, b=2) differ
    assert f.__wrapped__ is not f and f.__name__ == "f"
    key = f.cache_key(1)
    assert key.startswith("memoize:test_recipes.test_memoize_values_and_types"
                          ".<locals>.f:")
    assert 59 < cache.ttl(key) <= 60
    assert cache.get(key + ":lease") is None
    assert f.forget(1) is True and f.forget(1) is False
    f(1)
    assert len(runs) == 3
    # None is a result too.
    none_runs = []

    @memoize(cache)
    def g():
        none_runs.append(1)

    assert g() is None and g() is None and none_runs == [1]
    assert cache.ttl(g.cache_key()) == float("inf")


def test_memoize_key_and_ttl(cache):
    runs = []

    @memoize(cache, ttl=0.2, key=lambda user, **kw: f"user:{user}")
    def profile(user, verbose=False):
        runs.append(user)
        return {"user": user}

    assert profile(7) == {"user": 7}
    assert profile(7, verbose=True) == {"user": 7}      # same key
    assert cache.get("user:7") is not None and runs == [7]
    time.sleep(0.3)
    profile(7)
    assert runs == [7, 7]

    @memoize(cache, key=lambda x: x)
    def bad(x):
        return x

    with pytest.raises(TypeError, match="returned int"):
        bad(1)


def test_memoize_argument_keys(cache):
    @memoize(cache)
    def f(*args, **kwargs):
        return 1

    # kwargs order and set/dict order do not matter; types do.
    assert f.cache_key(a=1, b=2) == f.cache_key(b=2, a=1)
    assert f.cache_key({"x", "y"}) == f.cache_key({"y", "x"})
    assert len({f.cache_key(1), f.cache_key(1.0), f.cache_key(True),
                f.cache_key("1"), f.cache_key(b"1"), f.cache_key((1,)),
                f.cache_key([1]), f.cache_key({1}), f.cache_key(a=1)}) == 9
    assert f.cache_key(Point(1, 2)) != f.cache_key((1, 2))
    with pytest.raises(TypeError, match="key="):
        f(object())
    with pytest.raises(TypeError, match="key="):
        f(lambda: 1)


ARGS = "({'b', 'a', 'c'}, {'k': frozenset({1, 'y', 2.5})}, ('x', b'y', None))"


def test_memoize_keys_are_the_same_in_every_process():
    """Set and dict iteration orders depend on PYTHONHASHSEED: the key text
    must not."""
    code = ("import sys; from tiny_mp_cache.recipes import _stable_repr; "
            f"print(_stable_repr({ARGS}))")
    texts = set()
    for seed in ("0", "1", "2", "random"):
        env = dict(tmcpy.python_env(), PYTHONHASHSEED=seed)
        with tmcpy.python_child(code, env=env) as child:
            out, err = child.proc.communicate(timeout=30)
            assert child.proc.returncode == 0, err
            texts.add(out.strip())
    assert texts == {recipes._stable_repr(eval(ARGS)).encode()}


def test_memoize_serializers(cache):
    @memoize(cache)
    def exact():
        return Point(1, 2)

    with pytest.raises(TypeError, match="serializer"):
        exact()
    assert cache.keys() == []              # lease given back, nothing stored

    @memoize(cache, serializer="pickle")
    def pickled():
        return Point(1, 2)

    assert pickled() == Point(1, 2) and type(pickled()) is Point

    @memoize(cache, serializer="json")
    def plain():
        return (1, 2)

    assert plain() == (1, 2) and plain() == [1, 2]

    # Data that is not the default serializer's is an error, and never
    # runs code (a pickle is not even looked at).
    @memoize(cache, key=lambda: "planted")
    def planted():
        return 1

    cache.set("planted", b"cos\nsystem\n(S'echo hacked'\ntR.")
    with pytest.raises(ValueError):
        planted()
    cache.set("planted", b'{"x":1}')
    with pytest.raises(ValueError, match="not memoize's data"):
        planted()
    with pytest.raises(ValueError, match="unknown serializer"):
        memoize(cache, serializer="yaml")
    with pytest.raises(TypeError):
        memoize(cache, serializer=object())


def test_memoize_on_a_cache_with_a_serializer(module_address):
    """memoize stores with its own serializer (not the cache's), unless
    given the cache's."""
    with TinyCache(module_address, serializer="json") as c:
        @memoize(c)
        def pair():
            return (1, b"x")

        assert pair() == (1, b"x") and pair() == (1, b"x")

        @memoize(c, serializer=c.serializer)
        def listed():
            return (1, 2)

        assert listed() == (1, 2) and listed() == [1, 2]
        assert c.get(listed.cache_key()) == [1, 2]


def test_memoize_exception_gives_the_lease_back(cache):
    """A computing caller that raises caches nothing and gives the lease
    back; a caller waiting for it computes the result itself."""
    runs = []
    entered = threading.Event()

    @memoize(cache, lease=30)
    def f(x):
        runs.append(x)
        if len(runs) == 1:
            entered.set()
            time.sleep(0.2)
            raise RuntimeError("first try fails")
        return x * 2

    errors = []

    def first():
        try:
            f(21)
        except RuntimeError as e:
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    assert entered.wait(5)
    assert f(21) == 42                    # waited, then computed
    t.join()
    assert len(errors) == 1 and runs == [21, 21]
    assert f(21) == 42 and len(runs) == 2
    assert cache.get(f.cache_key(21) + ":lease") is None


def test_memoize_waits_for_a_dead_computers_lease(cache):
    @memoize(cache, lease=5)
    def f():
        return "computed"

    # A process took the lease and died: its lease expires.
    cache.set(f.cache_key() + ":lease", b"dead-token", ttl=0.3)
    t0 = time.monotonic()
    assert f() == "computed"
    assert 0.25 <= time.monotonic() - t0 < 0.3 + recipes.MAX_SLEEP + SLACK


def _stampede_child(address, barrier, results):
    with TinyCache(address, timeout=10) as c:
        @memoize(c, ttl=60)
        def slow(x):
            c.incr("runs")
            time.sleep(0.3)
            return {"x": x, "pid": os.getpid()}

        barrier.wait(10)
        results.put(slow(7))


def test_memoize_stampede_many_processes(cache):
    """8 processes ask for the same missing result at once: the function
    runs once, and every process gets its result."""
    procs = 8
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    with tmcpy.processes(ctx, procs, _stampede_child,
                         (cache.address, barrier, results)) as children:
        barrier.wait(10)
        t0 = time.monotonic()
        got = [results.get(timeout=20) for _ in range(procs)]
        took = time.monotonic() - t0
        for p in children:
            p.join(10)
            assert p.exitcode == 0
    assert cache.get("runs") == b"1"
    assert len({r["pid"] for r in got}) == 1 and all(r["x"] == 7 for r in got)
    assert took < 0.3 + SLACK + 0.5, took
    print(f"{procs} processes, one run of 0.3 s: all had it in {took:.2f} s")


def test_memoize_arguments(cache):
    with pytest.raises(ValueError):
        memoize(cache, ttl=0)
    with pytest.raises(ValueError):
        memoize(cache, lease=-1)
    with pytest.raises(TypeError):
        memoize(cache, key="k")


def test_reports_errors_as_tinycache_errors():
    assert issubclass(LockNotOwnedError, LockError)
    assert issubclass(LockNotAcquiredError, LockError)
    assert issubclass(LockError, TinyCacheError)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_methods_of_tinycache(cache):
    # cache.lock() and cache.memoize() are the recipes' Lock and memoize.
    with cache.lock("m:lock", ttl=5) as lk:
        assert isinstance(lk, Lock) and lk.owned()
        assert cache.exists("m:lock") == 1
    assert cache.exists("m:lock") == 0
    runs = []

    @cache.memoize(ttl=30)
    def square(n):
        runs.append(n)
        return n * n

    square.forget(7)
    assert square(7) == 49 and square(7) == 49
    assert runs == [7]
    square.forget(7)
