# SPDX-License-Identifier: MIT
"""The workloads of issue 12 (the Python package as Python developers
expect it) for the benchmark harness (bench/run): 16 the serializers'
cost on a get hit, 17 memoize's hit path against diskcache's, 18 get and
set against the other local caches Python users pick (memcached through
pymemcache, diskcache), 19 AsyncTinyCache against redis.asyncio.

Every server here is tiny-mp-cache (one started per round) or memcached;
redis-server is not used: the "other" column of each row names what ours
is compared with. Each workload function takes the Config and the
Results and runs its rounds (ours, then the other, for every row of every
round: A B A B), recording one value per side per round, as
bench/workloads.py does. Single-process rows pin the server and the
client as workload 4 does (same CPU, and different CPUs with 2+ CPUs);
the 8-process rows are not pinned. targets() gives issue 12's targets
with the measured figures, for bench/run to print.

Needs, besides the harness's own: memcached and pymemcache (Debian:
memcached, python3-pymemcache) for workload 18's memcached rows,
diskcache (python3-diskcache) for 17 and 18's diskcache rows,
redis-py with hiredis for 19's other column, and tiny_mp_cache.aio for
19's ours. What is missing skips its rows and says so.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing as mp
import os
import queue
import shutil
import socket
import statistics
import tempfile
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import workloads
from benchlib import (HOST, OURS, REDIS, BenchError, Config, RawConn, Results, Server,
                      free_port, progress, reap, spawn_process, stop_process)

VALUE32 = workloads.VALUE32
CHUNK = 128                         # calls between two clock readings
PROCS = 8                           # processes of the "at once" rows
PAR_TIMEOUT = 120.0                 # seconds without a worker's result
MEMCACHED_START = 10.0              # seconds memcached may take to answer


def _sizes(cfg: Config) -> Dict[str, Any]:
    """The sizes of workloads 16-19, default / --quick: single-process
    operations and their time cap, operations per process of the
    8-process rows and their cap, the async rows' operations."""
    if cfg.quick:
        return {"n": 2_000, "cap": 0.4, "ser_n": 20_000, "per_proc": 5_000,
                "par_cap": 5.0, "aio_n": 2_000, "aio_tasks": 100, "aio_per_task": 20}
    return {"n": 10_000, "cap": 1.0, "ser_n": 100_000, "per_proc": 25_000,
            "par_cap": 20.0, "aio_n": 20_000, "aio_tasks": 100, "aio_per_task": 200}


def _placements(cfg: Config, res: Results, w: str) -> List[Tuple[str, int, int]]:
    """(name, server CPU, client CPU) as in workload 4: both on the first
    usable CPU, and (with 2+ CPUs) the server on the first, the client on
    the second."""
    cpus = cfg.cpus
    out = [("same CPU", cpus[0], cpus[0])]
    if len(cpus) > 1:
        out.append(("different CPUs", cpus[0], cpus[1]))
    else:
        res.notes.append(f"{w}: one usable CPU, so only the same-CPU placement")
    return out


class _Pinned:
    """``with _Pinned(cpu):`` runs this process on that CPU only, and
    gives back the old affinity after."""

    def __init__(self, cpu: Optional[int]) -> None:
        self.cpu = cpu
        self.old = os.sched_getaffinity(0)

    def __enter__(self) -> "_Pinned":
        if self.cpu is not None:
            os.sched_setaffinity(0, {self.cpu})
        return self

    def __exit__(self, *exc: object) -> None:
        os.sched_setaffinity(0, self.old)


def _import(name: str) -> Tuple[Optional[Any], str]:
    """(the module name, "") or (None, why it could not be imported)."""
    try:
        return importlib.import_module(name), ""
    except ImportError as e:
        return None, str(e)


def _tinycache() -> Any:
    """tiny_mp_cache.TinyCache, or BenchError if the package is missing."""
    try:
        from tiny_mp_cache import TinyCache
    except ImportError as e:
        raise BenchError(f"tiny_mp_cache is not importable ({e})") from None
    return TinyCache


# ---- Timing helpers -------------------------------------------------------------


TURN = 32                           # calls of each op in a turn of _interleaved_us


def _interleaved_us(ops: Dict[str, Callable[[], object]], base: str, n: int,
                    cap: float) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Microseconds per call of each op, run in turns of TURN calls each
    (A B C A B C ...) until each has made n calls or cap seconds have
    passed, after 200 untimed calls of each. Returns (the median over the
    turns of each op's time a call, the median over the turns of each
    op's time a call minus base's in the same turn). Turns a burst of
    other work on the machine hit are outliers the medians leave out."""
    for op in ops.values():
        for _ in range(200):
            op()
    times: Dict[str, List[float]] = {k: [] for k in ops}
    clock = time.perf_counter
    t_end = clock() + cap * len(ops)
    calls = range(TURN)
    for _ in range(max(1, n // TURN)):
        for k, op in ops.items():
            t = clock()
            for _ in calls:
                op()
            times[k].append(clock() - t)
        if clock() > t_end:
            break
    per = {k: 1e6 * statistics.median(v) / TURN for k, v in times.items()}
    diff = {k: 1e6 * statistics.median(a - b for a, b in zip(v, times[base])) / TURN
            for k, v in times.items()}
    return per, diff


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    """Microseconds per call of fn, in process, best of 5 runs of n calls
    (for work without a round trip: the minimum is its cost)."""
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t)
    return 1e6 * best / n


def _par_worker(make_op: Callable[[int], Callable[[int], object]], wid: int, per: int,
                cap: float, barrier: Any, out: Any) -> None:
    """One process of an "at once" row: make_op(wid) (connects), then,
    after the barrier every process passes together, op(0) ... op(per-1),
    stopping early after cap seconds. Puts (calls done, error or None)."""
    done = 0
    try:
        op = make_op(wid)
        barrier.wait(60)
        t0 = time.perf_counter()
        while done < per:
            end = min(done + CHUNK, per)
            for i in range(done, end):
                op(i)
            done = end
            if time.perf_counter() - t0 > cap:
                break
        out.put((done, None))
    except BaseException as e:      # report, never hang the parent
        out.put((done, repr(e)))


def _parallel(make_op: Callable[[int], Callable[[int], object]], per: int,
              cap: float) -> float:
    """Calls a second of PROCS forked processes at once (make_op as in
    _par_worker), from the barrier they pass together until the last has
    reported. BenchError if one failed."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(PROCS + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_par_worker, args=(make_op, w, per, cap, barrier, out),
                         daemon=True) for w in range(PROCS)]
    for p in procs:
        p.start()
    try:
        barrier.wait(60)
        t0 = time.perf_counter()
        total, errors = 0, []
        for _ in procs:
            try:
                done, err = out.get(timeout=PAR_TIMEOUT)
            except queue.Empty:
                errors.append(f"no result from a process in {PAR_TIMEOUT:.0f} s")
                break
            total += done
            if err:
                errors.append(err)
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(30)
    finally:
        reap(procs)
    if errors:
        raise BenchError(f"a process of {PROCS} failed: {errors[0]}")
    return total / elapsed


# ---- memcached ------------------------------------------------------------------


class Memcached:
    """A memcached of our own on a free loopback port, UDP off (``-l
    127.0.0.1 -p PORT -U 0``, its default 4 threads; as root also ``-u
    root``), pinned to cpus if given; never the system's service."""

    def __init__(self, exe: str, workdir: str, cpus: Optional[List[int]] = None,
                 tag: str = "") -> None:
        self.port = free_port()
        self.log = os.path.join(workdir, f"memcached{tag}.log")
        argv = [exe, "-l", HOST, "-p", str(self.port), "-U", "0"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]      # it refuses to run as root without -u
        self.proc = spawn_process(argv, cpus=cpus, log=self.log)
        deadline = time.monotonic() + MEMCACHED_START
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"memcached exited at start (status "
                                 f"{self.proc.returncode}); log: {self.log}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    s.sendall(b"version\r\n")
                    if s.recv(100).startswith(b"VERSION"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"memcached did not answer in {MEMCACHED_START:.0f} s")
            time.sleep(0.02)

    def stop(self) -> None:
        stop_process(self.proc, timeout=10.0)

    def __enter__(self) -> "Memcached":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pymemcache(port: int) -> Any:
    """A pymemcache client of memcached at port that waits for every
    reply (default_noreply=False: pymemcache's default sends a set
    without reading its reply, which is no round trip), TCP_NODELAY."""
    from pymemcache.client.base import Client
    return Client((HOST, port), no_delay=True, default_noreply=False)


# ---- 16. The serializers' cost on a get hit -----------------------------------------

W16 = "16 serializer cost on a get hit (TinyCache -> ours, same CPU)"
VALUE100 = b"v" * 100
OBJ = {"id": 12345, "name": "widget-12345", "price": 19.99,
       "tags": ["red", "small", "sale"], "stock": 42, "ok": True}
TEXT100 = "t" * 100
SERIALIZED = (("pickle", "dict", OBJ), ("json", "dict", OBJ), ("str", "str", TEXT100))


def serializers(cfg: Config, res: Results) -> None:
    """Workload 16: microseconds per TinyCache.get hit of a 100-byte raw
    value against serializer="pickle" and "json" (a dict of about 100
    bytes encoded) and "str" (100 characters), interleaved in turns of
    TURN gets on one server, server and client on the same CPU: the
    median time of a get over the turns, and what each serializer adds
    (the median over the turns of its time minus raw's in the same
    turn); and what each serializer's loads() costs alone, in process."""
    TinyCache = _tinycache()
    sz = _sizes(cfg)
    cpu = cfg.cpus[0]
    sizes = {s: len(TinyCache(f"{HOST}:1", serializer=s).serializer.dumps(v))
             for s, _, v in SERIALIZED}
    res.params["serializer_value_bytes"] = {"raw": len(VALUE100), **sizes}
    res.params["serializer_gets"] = sz["ser_n"]
    for rnd in range(cfg.rounds):
        progress(f"round {rnd + 1}/{cfg.rounds} {W16}: {sz['ser_n']:,} gets each")
        with Server(cfg, OURS, cpus=[cpu], tag=f"-ser{rnd}") as s, _Pinned(cpu):
            addr = f"{HOST}:{s.port}"
            clients = {"raw": TinyCache(addr)}
            clients["raw"].set("ser:raw", VALUE100)
            ops: Dict[str, Callable[[], object]] = {
                "raw": lambda c=clients["raw"]: c.get("ser:raw")}
            for name, _, value in SERIALIZED:
                c = clients[name] = TinyCache(addr, serializer=name)
                c.set(f"ser:{name}", value)
                if c.get(f"ser:{name}") != value:
                    raise BenchError(f"serializer={name!r}: get did not return the value")
                ops[name] = (lambda c=c, k=f"ser:{name}": c.get(k))
            try:
                us, added = _interleaved_us(ops, "raw", sz["ser_n"], 5 * sz["cap"])
                alone = {name: _per_call_us(
                    lambda f=clients[name].serializer.loads,
                    d=clients[name].serializer.dumps(v): f(d), 10_000)
                    for name, _, v in SERIALIZED}
            finally:
                for c in clients.values():
                    c.close()
        for name, kind, _ in SERIALIZED:
            label = f"serializer={name!r} ({kind}, {sizes[name]} B)"
            res.add(W16, f"get hit: {label} vs raw bytes (100 B)", "us", "lower",
                    OURS, rnd, us[name], ours_label=name, redis_label="raw bytes")
            res.add(W16, f"get hit: {label} vs raw bytes (100 B)", "us", "lower",
                    REDIS, rnd, us["raw"], ours_label=name, redis_label="raw bytes")
            r = res.row(W16, f"{name}: added to a get | its loads() alone", "us", "lower",
                        ours_label="get - raw get", redis_label="loads() alone")
            r.no_ratio = True
            res.add(W16, r.name, "us", "lower", OURS, rnd, added[name])
            res.add(W16, r.name, "us", "lower", REDIS, rnd, alone[name])
        progress("  " + ", ".join(f"{k} {v:.2f} us" for k, v in us.items()))


# ---- 17. memoize's hit path -------------------------------------------------------

W17 = "17 memoize hit path (TinyCache -> ours vs diskcache, SQLite in a temp dir)"
MEMO_ARGS = 100                     # distinct arguments, all cached before timing


def _memo_result(item: int) -> Dict[str, Any]:
    """The memoized function's result: a small dict (about 60 bytes of
    JSON), which memoize's default "exact" serializer and diskcache's
    pickle both store."""
    return {"item": item, "price": 19.99, "stock": 42, "tags": ["a", "b"]}


def _memo_tc(addr: str, serializer: Optional[str] = None) -> Callable[[int], object]:
    """A function memoized with TinyCache.memoize (the default key; the
    default serializer, "exact", unless serializer is given), its
    MEMO_ARGS results stored."""
    cache = _tinycache()(addr)

    def price(item: int) -> Dict[str, Any]:
        return _memo_result(item)
    # Its own key prefix for each serializer (the key names the function).
    price.__qualname__ = f"price_{serializer or 'exact'}"
    price = cache.memoize(serializer=serializer)(price)
    for i in range(MEMO_ARGS):
        price(i)
    return lambda i: price(i % MEMO_ARGS)


def _memo_dc(directory: str) -> Callable[[int], object]:
    """The same function memoized with diskcache's Cache.memoize, in the
    Cache at directory, its MEMO_ARGS results stored."""
    import diskcache
    cache = diskcache.Cache(directory)

    @cache.memoize()
    def price(item: int) -> Dict[str, Any]:
        return _memo_result(item)
    for i in range(MEMO_ARGS):
        price(i)
    return lambda i: price(i % MEMO_ARGS)


def memoize_hits(cfg: Config, res: Results) -> None:
    """Workload 17: microseconds per call of a memoized function whose
    results are all cached (MEMO_ARGS arguments in turn), TinyCache's
    memoize (its default serializer, "exact", and "pickle", which
    diskcache uses) against diskcache's, one process (pinned as workload
    4); then calls a second of PROCS processes calling at once (not
    pinned; hits only read, so diskcache's writers do not meet here:
    workload 18's 8-process sets show that)."""
    _tinycache()
    dc, why = _import("diskcache")
    if dc is None:
        res.failures.append(f"{W17}: diskcache is not importable ({why}; Debian: "
                            "python3-diskcache); skipped")
        return
    sz = _sizes(cfg)
    res.params["memoize"] = {"arguments": MEMO_ARGS, "calls": sz["n"],
                             "calls_per_process": sz["per_proc"], "processes": PROCS,
                             "diskcache": dc.__version__}
    top = tempfile.mkdtemp(prefix="memo17-", dir=cfg.workdir)
    try:
        for rnd in range(cfg.rounds):
            for place, scpu, ccpu in _placements(cfg, res, W17):
                progress(f"round {rnd + 1}/{cfg.rounds} {W17}: 1 process, {place}")
                name = f"call, 1 process, {place}"
                with Server(cfg, OURS, cpus=[scpu], tag=f"-memo{rnd}") as s, \
                        _Pinned(ccpu):
                    us = [1e6 / workloads._rate(_bind(_memo_tc(f"{HOST}:{s.port}", ser)),
                                                sz["n"], sz["cap"])
                          for ser in (None, "pickle")]
                d = os.path.join(top, f"r{rnd}-{place[:4]}")
                with _Pinned(ccpu):
                    dc_us = 1e6 / workloads._rate(_bind(_memo_dc(d)), sz["n"], sz["cap"])
                for suffix, v in zip(("", ", memoize(serializer='pickle')"), us):
                    _add(res, W17, name + suffix, "us", "lower", OURS, rnd, v)
                    _add(res, W17, name + suffix, "us", "lower", REDIS, rnd, dc_us)
            progress(f"round {rnd + 1}/{cfg.rounds} {W17}: {PROCS} processes at once")
            name = f"calls/s, {PROCS} processes at once"
            with Server(cfg, OURS, tag=f"-memop{rnd}") as s:
                addr = f"{HOST}:{s.port}"
                _memo_tc(addr)
                v = _parallel(lambda _w: _memo_tc(addr), sz["per_proc"], sz["par_cap"])
            _add(res, W17, name, "ops/s", "higher", OURS, rnd, v)
            d = os.path.join(top, f"r{rnd}-par")
            _memo_dc(d)
            v = _parallel(lambda _w: _memo_dc(d), sz["per_proc"], sz["par_cap"])
            _add(res, W17, name, "ops/s", "higher", REDIS, rnd, v)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _bind(op: Callable[[int], object]) -> Callable[[], object]:
    """op as a function of no arguments, going through 0, 1, 2, ..."""
    counter = iter(range(1 << 62))
    return lambda: op(next(counter))


def _add(res: Results, w: str, name: str, unit: str, better: str, side: str, rnd: int,
         value: Optional[float], other: str = "diskcache") -> None:
    """res.add with the labels of these workloads: TinyCache against
    other."""
    res.add(w, name, unit, better, side, rnd, value, ours_label="TinyCache",
            redis_label=other)


# ---- 18. get and set against memcached and diskcache ---------------------------------

W18 = "18 Python get/set: TinyCache -> ours vs pymemcache -> memcached, diskcache"
MC = "pymemcache -> memcached"
DC = "diskcache"


def local_caches(cfg: Config, res: Results) -> None:
    """Workload 18: get and set round trips (a 32-byte value, one key)
    from one process, pinned as workload 4: TinyCache -> ours against
    pymemcache -> memcached (memcached pinned as our server) and against
    diskcache (a Cache in a temp dir, in process); then sets a second of
    PROCS processes writing at once (distinct keys, not pinned)."""
    TinyCache = _tinycache()
    sz = _sizes(cfg)
    mc_exe = shutil.which("memcached") or (
        "/usr/bin/memcached" if os.path.exists("/usr/bin/memcached") else None)
    pmc, why_pmc = _import("pymemcache")
    dc, why_dc = _import("diskcache")
    others = []
    if mc_exe and pmc is not None:
        others.append(MC)
    else:
        res.failures.append(f"{W18}: memcached or pymemcache missing ("
                            f"{why_pmc or 'no memcached'}; Debian: memcached, "
                            "python3-pymemcache); its rows skipped")
    if dc is not None:
        others.append(DC)
    else:
        res.failures.append(f"{W18}: diskcache is not importable ({why_dc}; Debian: "
                            "python3-diskcache); its rows skipped")
    res.params["local_caches"] = {
        "ops": sz["n"], "cap_s": sz["cap"], "sets_per_process": sz["per_proc"],
        "processes": PROCS, "value_bytes": len(VALUE32),
        "pymemcache": getattr(pmc, "__version__", None),
        "diskcache": getattr(dc, "__version__", None)}
    top = tempfile.mkdtemp(prefix="local18-", dir=cfg.workdir)
    try:
        for rnd in range(cfg.rounds):
            for place, scpu, ccpu in _placements(cfg, res, W18):
                progress(f"round {rnd + 1}/{cfg.rounds} {W18}: 1 process, {place}")
                for other in others:
                    for op in ("get", "set"):
                        name = f"{op}, 1 process, {place}: TinyCache vs {other}"
                        with Server(cfg, OURS, cpus=[scpu], tag=f"-lc{rnd}") as s, \
                                _Pinned(ccpu):
                            v = _one_client(_tc_ops(TinyCache, s.port), op, sz)
                        _add(res, W18, name, "ops/s", "higher", OURS, rnd, v, other)
                        if other == MC:
                            with Memcached(mc_exe, cfg.workdir, cpus=[scpu],
                                           tag=f"-{rnd}") as m, _Pinned(ccpu):
                                v = _one_client(_mc_ops(m.port), op, sz)
                        else:
                            with _Pinned(ccpu):
                                v = _one_client(_dc_ops(
                                    os.path.join(top, f"r{rnd}-{place[:4]}-{op}")), op, sz)
                        _add(res, W18, name, "ops/s", "higher", REDIS, rnd, v, other)
            progress(f"round {rnd + 1}/{cfg.rounds} {W18}: {PROCS} processes writing")
            for other in others:
                name = f"sets/s, {PROCS} processes at once: TinyCache vs {other}"
                with Server(cfg, OURS, tag=f"-lcp{rnd}") as s:
                    v = _parallel(lambda w, p=s.port: _writer(_tc_ops(TinyCache, p), w),
                                  sz["per_proc"], sz["par_cap"])
                _add(res, W18, name, "ops/s", "higher", OURS, rnd, v, other)
                if other == MC:
                    with Memcached(mc_exe, cfg.workdir, tag=f"-p{rnd}") as m:
                        v = _parallel(lambda w, p=m.port: _writer(_mc_ops(p), w),
                                      sz["per_proc"], sz["par_cap"])
                else:
                    d = os.path.join(top, f"r{rnd}-par")
                    _dc_ops(d)[2]()         # the database exists before they start
                    v = _parallel(lambda w, d=d: _writer(_dc_ops(d), w),
                                  sz["per_proc"], sz["par_cap"])
                _add(res, W18, name, "ops/s", "higher", REDIS, rnd, v, other)
                progress(f"  {other}: TinyCache {res.find(W18, name).ours[rnd] or 0:,.0f}"
                         f", {other} {v:,.0f} sets/s")
    finally:
        shutil.rmtree(top, ignore_errors=True)


Ops = Tuple[Callable[[str, bytes], object], Callable[[str], object], Callable[[], None]]


def _tc_ops(TinyCache: Any, port: int) -> Ops:
    """(set, get, close) of a TinyCache of ours at port."""
    c = TinyCache(f"{HOST}:{port}")
    return c.set, c.get, c.close


def _mc_ops(port: int) -> Ops:
    """(set, get, close) of pymemcache -> memcached at port (keys and
    values as bytes, every set waits for its reply)."""
    c = _pymemcache(port)
    return ((lambda k, v: c.set(k, v)), c.get, c.close)


def _dc_ops(directory: str) -> Ops:
    """(set, get, close) of a diskcache.Cache at directory."""
    import diskcache
    c = diskcache.Cache(directory)
    return c.set, c.get, c.close


def _one_client(ops: Ops, op: str, sz: Dict[str, Any]) -> float:
    """ops/s of get or set of one key (VALUE32) by one client, as
    workload 4 measures (workloads._rate); the client is closed after."""
    set_, get, close = ops
    try:
        set_("lc:1", VALUE32)
        if get("lc:1") != VALUE32:
            raise BenchError("get did not return the value set")
        fn = (lambda: get("lc:1")) if op == "get" else (lambda: set_("lc:1", VALUE32))
        return workloads._rate(fn, sz["n"], sz["cap"])
    finally:
        close()


def _writer(ops: Ops, wid: int) -> Callable[[int], object]:
    """In a worker process: a set of key lc:<wid>:<i> (VALUE32) per call,
    after one untimed set and get that connect and check."""
    set_, get, _ = ops
    set_(f"lc:{wid}:warm", VALUE32)
    if get(f"lc:{wid}:warm") != VALUE32:
        raise BenchError("get did not return the value set")
    return lambda i: set_(f"lc:{wid}:{i}", VALUE32)


# ---- 19. AsyncTinyCache against redis.asyncio ----------------------------------------

W19 = "19 asyncio: AsyncTinyCache vs redis.asyncio, both -> ours"
ONE_CONN = "single_connection_client"


async def _aio_seq(get: Callable[[str], Awaitable[Any]], set_: Callable[..., Awaitable[Any]],
                   op: str, n: int, cap: float) -> Tuple[int, float]:
    """(calls, seconds) of one task awaiting get or set of one key n
    times (fewer if cap seconds pass), after 200 untimed ones."""
    call = (lambda: get("aio:1")) if op == "GET" else (lambda: set_("aio:1", VALUE32))
    for _ in range(200):
        await call()
    done = 0
    t0 = time.perf_counter()
    while done < n:
        for _ in range(CHUNK):
            await call()
        done += CHUNK
        if time.perf_counter() - t0 > cap:
            break
    return done, time.perf_counter() - t0


async def _aio_tasks(get: Callable[[str], Awaitable[Any]],
                     set_: Callable[..., Awaitable[Any]], op: str, tasks: int, per: int,
                     cap: float) -> Tuple[int, float]:
    """(calls, seconds) of tasks concurrent tasks on one client, each awaiting per
    gets or sets of its own key one after the other (a task stops early
    once cap seconds have passed); one untimed round of all first."""
    async def task(t: int, count: int, limit: Optional[float]) -> int:
        key = f"aio:t{t}"
        for i in range(count):
            if op == "GET":
                if await get(key) != VALUE32:
                    raise BenchError(f"task {t}: get returned a wrong value")
            else:
                await set_(key, VALUE32)
            if limit is not None and i % 16 == 15 and time.perf_counter() > limit:
                return i + 1
        return count

    for t in range(tasks):
        await set_(f"aio:t{t}", VALUE32)
    await asyncio.gather(*(task(t, 2, None) for t in range(tasks)))
    t0 = time.perf_counter()
    done = await asyncio.gather(*(task(t, per, t0 + cap) for t in range(tasks)))
    return sum(done), time.perf_counter() - t0


def _aio_client(which: str, port: int) -> Tuple[Any, Any, Any, Callable[[], Awaitable[None]],
                                               Callable[[], int]]:
    """(get, set, the client, close, connections open) for "ours"
    (AsyncTinyCache), "redis" (redis.asyncio.Redis, its default pool) or
    "redis1" (redis.asyncio.Redis(single_connection_client=True)); made
    inside the running loop."""
    if which == "ours":
        from tiny_mp_cache.aio import AsyncTinyCache
        c = AsyncTinyCache(f"{HOST}:{port}")
        return c.get, c.set, c, c.aclose, lambda: 1
    import redis.asyncio as ra
    r = ra.Redis(host=HOST, port=port, single_connection_client=(which == "redis1"))

    async def close() -> None:
        await r.close()
        await r.connection_pool.disconnect()

    def conns() -> int:
        if which == "redis1":
            return 1
        pool = r.connection_pool
        return len(pool._available_connections) + len(pool._in_use_connections)
    return r.get, r.set, r, close, conns


def _aio_measure(which: str, port: int, op: str, tasks: int, sz: Dict[str, Any],
                 ) -> Tuple[float, int]:
    """One async row for one client: (ops/s, connections it had open).
    The server's total_commands_processed must have grown by at least
    the calls counted (a reply never comes without its command, but the
    check costs nothing and catches a client that answers itself)."""
    async def run() -> Tuple[int, float, int]:
        get, set_, _, close, conns = _aio_client(which, port)
        try:
            await set_("aio:1", VALUE32)
            if await get("aio:1") != VALUE32:
                raise BenchError(f"{which}: get returned a wrong value")
            if tasks == 1:
                done, secs = await _aio_seq(get, set_, op, sz["aio_n"], sz["cap"])
            else:
                done, secs = await _aio_tasks(get, set_, op, tasks, sz["aio_per_task"],
                                              sz["cap"] * 2)
            return done, secs, conns()
        finally:
            await close()
    before = _commands(port)
    done, secs, conns = asyncio.run(run())
    if _commands(port) - before < done:
        raise BenchError(f"{which}: {done:,} calls counted, but the server processed "
                         "fewer commands")
    return done / secs, conns


def _commands(port: int) -> int:
    """The server's total_commands_processed (INFO stats)."""
    with RawConn(port) as c:
        text = c.call(b"INFO", b"stats").decode()
    for line in text.splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":", 1)[1])
    raise BenchError("INFO stats has no total_commands_processed")


def _aio_ready(res: Results) -> bool:
    """True if tiny_mp_cache.aio imports; else the reason goes to the
    failures."""
    try:
        importlib.import_module("tiny_mp_cache.aio")
    except ImportError as e:
        res.failures.append(f"{W19}: tiny_mp_cache.aio is not importable ({e}): "
                            "the AsyncTinyCache column is empty")
        return False
    return True


def asyncio_clients(cfg: Config, res: Results) -> None:
    """Workload 19: ops/s of GET and SET of a 32-byte value through
    AsyncTinyCache and through redis.asyncio (hiredis), both against the
    same server of ours (a fresh one per round and placement, pinned as
    workload 4 does): one task awaiting one call after another, and 100
    tasks on one client at once. redis.asyncio.Redis is measured as
    users make it (its default pool, which opens a connection per
    concurrent task and takes one from the pool per command) and with
    single_connection_client=True (one connection, commands one at a
    time under a lock), which is faster here."""
    sz = _sizes(cfg)
    ra, why = _import("redis.asyncio")
    if ra is None:
        res.failures.append(f"{W19}: redis.asyncio is not importable ({why}); its "
                            "column is empty")
    else:
        from redis.utils import HIREDIS_AVAILABLE
        if not HIREDIS_AVAILABLE:
            res.notes.append(f"{W19}: hiredis is not installed: redis.asyncio uses "
                             "its pure-Python parser")
    ours = _aio_ready(res)
    if ra is None and not ours:
        return
    tasks = sz["aio_tasks"]
    res.params["asyncio"] = {"sequential_ops": sz["aio_n"], "tasks": tasks,
                             "ops_per_task": sz["aio_per_task"]}
    label = _rp_label()
    sides = ([("ours", OURS)] if ours else []) + ([("redis", REDIS)] if ra else [])
    conns: Dict[str, int] = {}
    for rnd in range(cfg.rounds):
        for place, scpu, ccpu in _placements(cfg, res, W19):
            progress(f"round {rnd + 1}/{cfg.rounds} {W19}, {place}")
            with Server(cfg, OURS, cpus=[scpu], tag=f"-aio{rnd}") as s, _Pinned(ccpu):
                for op in ("GET", "SET"):
                    for n_tasks, what in ((1, "1 task, sequential awaits"),
                                          (tasks, f"{tasks} tasks on one client")):
                        name = f"{op}, {what}, {place}"
                        for which, side in sides:
                            v, conns[which] = _aio_measure(which, s.port, op, n_tasks, sz)
                            res.add(W19, name, "ops/s", "higher", side, rnd, v,
                                    ours_label="AsyncTinyCache", redis_label=label)
                        if ra is not None:
                            if n_tasks > 1:
                                res.params[f"redis_asyncio_connections_{tasks}_tasks"] = \
                                    conns["redis"]
                            v, _ = _aio_measure("redis1", s.port, op, n_tasks, sz)
                            r = res.row(W19, f"{name}, {ONE_CONN}", "ops/s", "higher",
                                        ours_label="AsyncTinyCache",
                                        redis_label=f"{label}, {ONE_CONN}")
                            mine = res.find(W19, name)
                            r.ours = list(mine.ours) if mine and ours else []
                            res.add(W19, r.name, "ops/s", "higher", REDIS, rnd, v)
                        row = res.find(W19, name)
                        progress("  " + name + ": " + ", ".join(
                            f"{lab} {vals[rnd] or 0:,.0f}/s" for lab, vals in
                            (("AsyncTinyCache", row.ours if row else []),
                             (label, row.redis if row else [])) if len(vals) > rnd))


def _rp_label() -> str:
    """redis.asyncio's label: with hiredis or not."""
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:
        return "redis.asyncio"
    return "redis.asyncio+hiredis" if HIREDIS_AVAILABLE else "redis.asyncio (no hiredis)"


# ---- Targets ------------------------------------------------------------------------




def targets(res: Results) -> List[Dict[str, str]]:
    """Issue 12's targets with the measured figures and met / MISSED /
    not measured, as report.targets gives those of issues 5, 9 and 10;
    the single-process rows quote the same-CPU placement, as workload 4."""
    out: List[Dict[str, str]] = []

    def verdict(what: str, v: Optional[float], goal: float, higher: bool,
                shown: str) -> None:
        if v is None:
            out.append({"target": what, "measured": "-", "verdict": "not measured"})
            return
        ok = v >= goal if higher else v <= goal
        out.append({"target": what, "measured": shown,
                    "verdict": "met" if ok else "MISSED"})

    r = res.find_numbered("16", "pickle: added to a get | its loads() alone")
    v = r.median(OURS) if r else None
    shown = "" if v is None else (
        f"{v:+.2f} us (loads() alone {r.median(REDIS):.2f} us)")
    verdict("TinyCache.get hit, 100-byte value: serializer='pickle' adds <= 2 us over "
            "raw bytes", v, 2.0, False, shown)
    for place in ("same CPU", "different CPUs"):
        tag = " [quoted]" if place == "same CPU" else " [for reference]"
        for op in ("get", "set"):
            r = res.find_numbered("18", f"{op}, 1 process, {place}: TinyCache vs {MC}")
            v = r.ratio() if r else None
            verdict(f"TinyCache.{op} >= 1.3x {MC}, 1 process, {place}{tag}", v, 1.3, True,
                    "" if v is None else
                    f"{v:.2f}x ({r.median(OURS):,.0f} vs {r.median(REDIS):,.0f} ops/s)")
    label = _rp_label()
    for place in ("same CPU", "different CPUs"):
        tag = " [quoted]" if place == "same CPU" else " [for reference]"
        for op in ("GET", "SET"):
            for what in ("1 task, sequential awaits", "100 tasks on one client"):
                for conn in ("", f", {ONE_CONN}"):
                    r = res.find_numbered("19", f"{op}, {what}, {place}{conn}")
                    v = r.ratio() if r else None
                    verdict(f"AsyncTinyCache {op} >= 1.5x {label}{conn}, {what}, {place}"
                            f"{tag}", v, 1.5, True, "" if v is None else
                            f"{v:.2f}x ({r.median(OURS):,.0f} vs {r.median(REDIS):,.0f} "
                            "ops/s)")
    return out


WORKLOADS = {
    "16": ("serializers", serializers),
    "17": ("memoize", memoize_hits),
    "18": ("local-caches", local_caches),
    "19": ("asyncio", asyncio_clients),
}
