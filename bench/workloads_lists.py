# SPDX-License-Identifier: MIT
"""The workloads of issue 10 (lists, blocking pops, the Python Queue) for
the benchmark harness (bench/run): 8 job queue with blocking gets, 9
hand-off latency, 10 redis-benchmark and instructions for list pushes and
pops, 11 memory per list element, 12 idle blocked clients.

Each workload function takes the Config and the Results, runs its rounds
(tiny-mp-cache, then redis-server, for every row in every round: A B A B)
and records one value per side per round, as bench/workloads.py does.
"""

from __future__ import annotations

import importlib.util
import json
import math
import multiprocessing as mp
import os
import queue
import random
import resource
import select
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import workloads
from benchlib import (HOST, KINDS, LABEL, OURS, REDIS, BenchError, Config, RawConn,
                      Results, Server, encode, parse_redis_benchmark_csv, progress, reap)

VALUE32 = workloads.VALUE32
CLOCK = time.CLOCK_MONOTONIC        # one clock for all processes of the machine


def _now_ns() -> int:
    """CLOCK_MONOTONIC in ns: system-wide on Linux, so a time taken in one
    process compares with one taken in another (time.perf_counter_ns is
    this clock on Linux; see time.get_clock_info("perf_counter"))."""
    return time.clock_gettime_ns(CLOCK)


def _redis_py_label() -> Optional[str]:
    """The label of redis-py rows ("redis-py+hiredis" as in workload 4),
    or None when redis-py is not importable."""
    if importlib.util.find_spec("redis") is None:
        return None
    from redis.utils import HIREDIS_AVAILABLE
    return "redis-py+hiredis" if HIREDIS_AVAILABLE else "redis-py (no hiredis)"


def _have_queue() -> bool:
    """Whether tiny_mp_cache.Queue is importable."""
    try:
        from tiny_mp_cache import Queue  # noqa: F401
    except ImportError:
        return False
    return True


def _percentile(vals: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) of vals, nearest rank."""
    s = sorted(vals)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def _pair_rows(res: Results, w: str, name: str, unit: str, better: str,
               a: Tuple[str, str, str], b: Tuple[str, str, str]) -> None:
    """A row of per-round values recorded elsewhere, paired anew (as
    workload 4b does): a and b are (workload, row, side); their labels
    are taken from the names given in name "A vs B"."""
    ra, rb = res.find(a[0], a[1]), res.find(b[0], b[1])
    if ra is None or rb is None:
        return
    la, _, lb = name.partition(" vs ")
    row = res.row(w, name, unit, better, ours_label=la.split(": ")[-1], redis_label=lb)
    row.ours = list(getattr(ra, a[2]))
    row.redis = list(getattr(rb, b[2]))


# ---- 8. Job queue with blocking gets -------------------------------------------

W8 = "8 job queue, blocking"
W8B = "8b job queue pairs (from the same rounds)"
QNAME = "jobs"
STOP = b"STOP"                      # the sentinel: one per worker, after the jobs
Q_BATCH = 100                       # get_many's max_items
QGET, QMANY, BLPOP, KEYS_POP, MPQ = ("Queue.get", "Queue.get_many", "redis-py BLPOP",
                                     "keys + pop", "multiprocessing.Queue")
ROW_QGET = "Queue.get, one job a round trip (BLPOP)"
ROW_QMANY = f"Queue.get_many({Q_BATCH}) (BLMPOP)"
ROW_KEYS = "keys + pop (TinyCache, workload 5's recipe; ours only)"
ROW_MPQ = "multiprocessing.Queue.get, one by one (reference; ours column)"


def _job(j: int) -> bytes:
    """Job j as workload 5 has it: JSON {"id": j, "payload": "data-j"}."""
    return json.dumps({"id": j, "payload": f"data-{j}"}).encode()


def _load_queue(srv: Server, njobs: int, nworkers: int) -> None:
    """Empty srv, then RPUSH the jobs and one STOP per worker to the list
    QNAME, 1000 items a command."""
    items = [_job(j) for j in range(njobs)] + [STOP] * nworkers
    chunks = [(encode(b"RPUSH", QNAME.encode(), *items[i:i + 1000]), 1)
              for i in range(0, len(items), 1000)]
    with srv.conn() as c:
        c.call(b"FLUSHALL")
        if c.pipeline(chunks) or c.call(b"LLEN", QNAME.encode()) != len(items):
            raise BenchError(f"{LABEL[srv.kind]}: loading the queue failed")


def _queue_worker(recipe: str, wid: int, target: object, barrier, results) -> None:
    """One worker process: take jobs (recipe QGET, QMANY, BLPOP or MPQ)
    until it gets a STOP (None for MPQ), or until keys("job:*") comes
    back empty (KEYS_POP); send its job ids and the CLOCK time when it
    took its last one to results."""
    ids: List[int] = []
    try:
        if recipe == KEYS_POP:
            from tiny_mp_cache import TinyCache
            cache = TinyCache(f"{HOST}:{target}")
            cache.ping()
            barrier.wait()
            while True:                 # workload 5's loop, exactly
                keys = cache.keys("job:*")
                if not keys:
                    break
                for key in keys:
                    raw = cache.pop(key)
                    if raw is None:
                        continue
                    ids.append(json.loads(raw)["id"])
            cache.close()
        elif recipe == MPQ:
            q = target
            barrier.wait()
            while True:
                raw = q.get()
                if raw is None:
                    break
                ids.append(json.loads(raw)["id"])
        elif recipe == BLPOP:
            import redis
            r = redis.Redis(host=HOST, port=target)
            r.ping()
            barrier.wait()
            while True:
                _, raw = r.blpop([QNAME], 0)
                if raw == STOP:
                    break
                ids.append(json.loads(raw)["id"])
            r.close()
        else:
            from tiny_mp_cache import Queue
            jobs = Queue(f"{HOST}:{target}", QNAME)
            jobs.qsize()                # connected before the clock starts
            barrier.wait()
            if recipe == QGET:
                while True:
                    raw = jobs.get()
                    if raw == STOP:
                        break
                    ids.append(json.loads(raw)["id"])
            else:
                stops = 0
                while not stops:
                    for raw in jobs.get_many(Q_BATCH):
                        if raw == STOP:
                            stops += 1
                        else:
                            ids.append(json.loads(raw)["id"])
                if stops > 1:           # the other workers' STOPs go back
                    jobs.put_many([STOP] * (stops - 1))
            jobs.close()
        results.put((wid, ids, _now_ns(), None))
    except BaseException as e:      # report, never hang the parent
        results.put((wid, ids, _now_ns(), repr(e)))


def _run_queue_jobs(recipe: str, port: int, njobs: int,
                    nworkers: int) -> Tuple[float, str]:
    """Run nworkers forked workers of recipe on njobs jobs that are all
    queued before the clock starts (in the server's list, loaded by the
    caller; for MPQ put by this process before the barrier, its feeder
    thread then writing them to the pipe as the workers drain it).
    Return (jobs/s from the barrier until the last worker took its last
    job, the exactly-once verdict). The clock stops when the workers are
    done, not when their ids have reached this process: sending the ids
    back takes as long as a fast run itself."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(nworkers + 1)
    results = ctx.Queue()
    jobq = ctx.Queue() if recipe == MPQ else None
    target = jobq if jobq is not None else port
    procs = [ctx.Process(target=_queue_worker, args=(recipe, w, target, barrier, results),
                         daemon=True) for w in range(nworkers)]
    for p in procs:
        p.start()
    try:
        if jobq is not None:
            for j in range(njobs):
                jobq.put(_job(j))
            for _ in range(nworkers):
                jobq.put(None)
        barrier.wait(timeout=60)
        t0 = _now_ns()
        got: List[int] = []
        errors = []
        t_end = t0
        for _ in range(nworkers):
            try:
                _, ids, t_done, err = results.get(timeout=workloads.JOB_TIMEOUT)
            except queue.Empty:
                errors.append(f"no result from a worker in {workloads.JOB_TIMEOUT} s")
                t_done = _now_ns()
                break
            got.extend(ids)
            t_end = max(t_end, t_done)
            if err:
                errors.append(err)
        elapsed = (t_end - t0) / 1e9
        for p in procs:
            p.join(30)
    finally:
        reap(procs)
    return njobs / elapsed, workloads.exactly_once(got, njobs, errors)


def job_queue_blocking(cfg: Config, res: Results) -> None:
    """Workload 8: 8 worker processes take N jobs with no work per job:
    tiny_mp_cache.Queue.get (BLPOP, one job a round trip) and get_many
    (BLMPOP) against both servers, redis-py BLPOP against both, workload
    5's keys + pop recipe against ours, and multiprocessing.Queue. Every
    run checks that each job was handed out exactly once."""
    njobs = 10_000 if cfg.quick else 20_000
    nworkers = 8
    rp_label = _redis_py_label()
    have_q = _have_queue()
    res.params["queue_jobs"] = njobs
    res.params["queue_workers"] = nworkers
    res.params["queue_get_many_max_items"] = Q_BATCH
    res.params["queue_method"] = (
        "all jobs queued before the clock starts (RPUSH'd to the list 'jobs' with one "
        "STOP per worker; multiprocessing.Queue: put by the parent before the barrier, "
        "then one None per worker); the clock runs from a barrier all connected "
        "workers pass until every worker has sent its job ids")
    if rp_label is None:
        res.failures.append(f"{W8}: redis-py is not importable in {sys.executable}; "
                            "its rows skipped (give --python a Python with redis-py)")
    if not have_q:
        res.failures.append(f"{W8}: tiny_mp_cache.Queue is not importable; "
                            "its rows skipped")
    w = f"{W8} ({nworkers} workers, {njobs:,} jobs, no work per job)"
    row_blpop = f"{rp_label or 'redis-py'} BLPOP, one job a round trip"
    # (row, recipe, the servers it runs against)
    rows = []
    if have_q:
        rows.append((ROW_QGET, QGET, KINDS))
    if rp_label:
        rows.append((row_blpop, BLPOP, KINDS))
    if have_q:
        rows.append((ROW_QMANY, QMANY, KINDS))
    rows.append((ROW_KEYS, KEYS_POP, (OURS,)))
    for rnd in range(cfg.rounds):
        for name, recipe, kinds in rows:
            for kind in kinds:
                progress(f"round {rnd + 1}/{cfg.rounds} {W8}: {recipe} -> {LABEL[kind]}")
                with Server(cfg, kind, tag=f"-q{rnd}") as s:
                    if recipe == KEYS_POP:
                        workloads._load_jobs(s, njobs)
                    else:
                        _load_queue(s, njobs, nworkers)
                    rate, verdict = _run_queue_jobs(recipe, s.port, njobs, nworkers)
                    with s.conn() as c:
                        left = c.call(b"DBSIZE")
                if left:
                    verdict += f"; {left} keys left"
                workloads._verdict(res, w, name, kind, rnd, rate, verdict)
            if recipe == KEYS_POP:
                res.row(w, name, "jobs/s", "higher").no_ratio = True
        progress(f"round {rnd + 1}/{cfg.rounds} {W8}: {MPQ}")
        rate, verdict = _run_queue_jobs(MPQ, 0, njobs, nworkers)
        workloads._verdict(res, w, ROW_MPQ, OURS, rnd, rate, verdict,
                           ours_label="multiprocessing.Queue", redis_label="-")
        res.row(w, ROW_MPQ, "jobs/s", "higher").no_ratio = True
    _pair_rows(res, W8B, f"Queue.get -> ours vs {rp_label} BLPOP -> redis-server",
               "jobs/s", "higher", (w, ROW_QGET, OURS), (w, row_blpop, REDIS))
    _pair_rows(res, W8B, "both -> ours: Queue.get vs keys + pop", "jobs/s", "higher",
               (w, ROW_QGET, OURS), (w, ROW_KEYS, OURS))
    _pair_rows(res, W8B, f"Queue.get_many({Q_BATCH}) -> ours vs multiprocessing.Queue",
               "jobs/s", "higher", (w, ROW_QMANY, OURS), (w, ROW_MPQ, OURS))


# ---- 9. Hand-off latency --------------------------------------------------------

W9 = "9 hand-off latency"
W9B = "9b hand-off latency pairs (from the same rounds)"
HANDOFF_PACE = 0.0005               # s the producer waits after the consumer's "ready"
HANDOFF_WARM = 50                   # untimed hand-offs first, each block
HANDOFF_BLOCKS = 5                  # each round: the recipes in turn, this many times
RAW = "raw sockets"                 # pre-encoded RESP, no client library
HANDOFF_KEY = b"handoff"


class _RawQueue:
    """put (RPUSH handoff item, reading its reply) and get (BLPOP handoff 0,
    reading until the whole reply is in) on a plain socket: what a hand-off
    through the server costs without a client library."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Blocking, as TinyCache's socket: with a timeout, Python polls
        # before each recv (a system call and a wake-up path of its own).
        self.sock.settimeout(None)
        self.get_cmd = encode(b"BLPOP", HANDOFF_KEY, b"0")

    def put(self, item: bytes) -> None:
        """RPUSH the item; wait for the reply."""
        self.sock.sendall(encode(b"RPUSH", HANDOFF_KEY, item))
        got = b""
        while not got.endswith(b"\r\n"):
            got += self.sock.recv(64)
        if not got.startswith(b":"):
            raise BenchError(f"RPUSH: {got!r}")

    def get(self) -> bytes:
        """BLPOP handoff 0; return the item once the whole reply is in."""
        self.sock.sendall(self.get_cmd)
        got = b""
        # *2 $7 handoff $<len> <item>: five line ends in all
        while got.count(b"\r\n") < 5:
            d = self.sock.recv(256)
            if not d:
                raise BenchError("the server closed the connection")
            got += d
        return got.split(b"\r\n")[4]

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def _handoff_queue(recipe: str, port: int) -> object:
    """A connected queue of recipe (QGET: tiny_mp_cache.Queue, RAW) on the
    list HANDOFF_KEY at port."""
    if recipe == RAW:
        return _RawQueue(port)
    from tiny_mp_cache import Queue
    q = Queue(f"{HOST}:{port}", HANDOFF_KEY.decode())
    q.qsize()                           # connected before the first hand-off
    return q


def _handoff_consumer(recipe: str, target: object, n: int, conn) -> None:
    """The consumer process: n times, say "ready" and wait in get() for an
    item (the producer's CLOCK time when it called put); record the time
    from that until it holds the item. Sends ("done", [ns, ...])."""
    try:
        q = target if recipe == MPQ else _handoff_queue(recipe, target)
        lat = []
        for _ in range(n):
            conn.send(("ready",))
            item = q.get()
            t = _now_ns()
            lat.append(t - int(item))
        conn.send(("done", lat))
    except BaseException as e:      # report, never hang the parent
        conn.send(("error", repr(e)))


def _handoffs(recipe: str, port: int, n: int) -> List[float]:
    """n + HANDOFF_WARM hand-offs to a consumer process waiting in get();
    return the last n latencies in microseconds. The producer (this
    process) puts an item only once the consumer has said it is about to
    wait and HANDOFF_PACE has passed, so the consumer is always waiting."""
    ctx = mp.get_context("fork")
    here, there = ctx.Pipe()
    total = n + HANDOFF_WARM
    q = ctx.Queue() if recipe == MPQ else None
    proc = ctx.Process(target=_handoff_consumer,
                       args=(recipe, q if q is not None else port, total, there),
                       daemon=True)
    proc.start()
    try:
        if q is None:
            q = _handoff_queue(recipe, port)
        for _ in range(total):
            if not here.poll(30):
                raise BenchError(f"{recipe}: the consumer did not answer in 30 s")
            msg = here.recv()
            if msg[0] != "ready":
                raise BenchError(f"{recipe} consumer: {msg}")
            time.sleep(HANDOFF_PACE)
            q.put(b"%d" % _now_ns())
        if not here.poll(30):
            raise BenchError(f"{recipe}: the consumer did not finish in 30 s")
        msg = here.recv()
        if msg[0] != "done" or len(msg[1]) != total:
            raise BenchError(f"{recipe} consumer: {msg[:1]}")
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join()
        if q is not None:
            q.close()
    return [ns / 1000 for ns in msg[1][HANDOFF_WARM:]]


def handoff_latency(cfg: Config, res: Results) -> None:
    """Workload 9: the time from put to a consumer (another process,
    already waiting in get()) holding the item: tiny_mp_cache.Queue
    against both servers, and multiprocessing.Queue; p50 and p99. Also
    a hand-off through each server with raw sockets and no client library
    (what the server and the kernel take; on a loaded machine it is not
    always below Queue's)."""
    if not _have_queue():
        res.failures.append(f"{W9}: tiny_mp_cache.Queue is not importable; skipped")
        return
    n = 1_000 if cfg.quick else 5_000
    res.params["handoffs"] = n
    res.params["handoff_method"] = (
        f"{n} hand-offs per row and round, in {HANDOFF_BLOCKS} blocks: each block runs "
        f"every row in turn, with a new consumer process and {HANDOFF_WARM} untimed "
        "hand-offs first; the producer process puts its "
        f"CLOCK_MONOTONIC time in ns (as the item) {HANDOFF_PACE * 1e3:g} ms after the "
        "consumer process said (over a pipe) it was about to call get(); the consumer "
        "reads the same clock as get() returns the item (resolution "
        f"{time.clock_getres(CLOCK) * 1e9:g} ns); not pinned to CPUs")
    w = f"{W9} ({n:,} hand-offs, one consumer process waiting in get())"
    mpq = "multiprocessing.Queue put -> get, p{} (reference; ours column)"
    # (row label, recipe, server kind or None)
    runs = [("Queue put -> get, p{}", QGET, k) for k in KINDS] + \
        [(RAW + " put -> get, p{}", RAW, k) for k in KINDS] + [(mpq, MPQ, None)]
    for rnd in range(cfg.rounds):
        lat: Dict[int, List[float]] = {i: [] for i in range(len(runs))}
        servers = {k: Server(cfg, k, tag=f"-ho{rnd}") for k in KINDS}
        try:
            for block in range(HANDOFF_BLOCKS):
                progress(f"round {rnd + 1}/{cfg.rounds} {W9}: block {block + 1}/"
                         f"{HANDOFF_BLOCKS} of each")
                for i, (_, recipe, kind) in enumerate(runs):
                    port = servers[kind].port if kind else 0
                    lat[i] += _handoffs(recipe, port, n // HANDOFF_BLOCKS)
        finally:
            for srv in servers.values():
                srv.stop()
        for i, (name, _, kind) in enumerate(runs):
            for p in (50, 99):
                if kind is None:
                    res.add(w, name.format(p), "us", "lower", OURS, rnd,
                            _percentile(lat[i], p), ours_label="multiprocessing.Queue",
                            redis_label="-")
                    res.row(w, name.format(p), "us", "lower").no_ratio = True
                else:
                    res.add(w, name.format(p), "us", "lower", kind, rnd,
                            _percentile(lat[i], p))
            progress(f"  {name.split(' put')[0]}{' -> ' + LABEL[kind] if kind else ''}: "
                     f"p50 {_percentile(lat[i], 50):.1f} us, "
                     f"p99 {_percentile(lat[i], 99):.1f} us")
    for p in (50, 99):
        _pair_rows(res, W9B, f"p{p}: Queue -> ours vs multiprocessing.Queue", "us",
                   "lower", (w, f"Queue put -> get, p{p}", OURS), (w, mpq.format(p), OURS))
    for p in (50, 99):
        _pair_rows(res, W9B, f"p{p}, both -> ours: Queue vs {RAW}", "us",
                   "lower", (w, f"Queue put -> get, p{p}", OURS),
                   (w, f"{RAW} put -> get, p{p}", OURS))


# ---- 10. redis-benchmark and instructions: list pushes and pops --------------------

W10 = "10 redis-benchmark lists"
W10B = "10b list instructions (callgrind)"
LIST_TESTS = ("LPUSH", "RPUSH", "LPOP", "RPOP")
REF_TESTS = ("SET", "GET")          # the same run's strings, for reference


def list_benchmark(cfg: Config, res: Results) -> None:
    """Workload 10: redis-benchmark -t lpush,rpush,lpop,rpop -c 50 -P 1
    over TCP against both servers, then -t set,get the same way (rows
    "(reference)": do lists lag strings, or does the machine set the
    pace?); then the user-space instructions
    (callgrind) per pipelined LPUSH and RPOP, as workload 3 measures them
    for SET and GET."""
    if not cfg.redis_benchmark:
        res.failures.append(f"{W10}: redis-benchmark not found, skipped")
    else:
        n = 30_000 if cfg.quick else 150_000
        w = f"{W10} (-t lpush,rpush,lpop,rpop -c 50 -P 1, TCP, -n {n:,})"
        for rnd in range(cfg.rounds):
            servers = {k: Server(cfg, k, tag=f"-lrb{rnd}") for k in KINDS}
            try:
                for kind in KINDS:
                    _list_rb(cfg, res, w, servers[kind], n, rnd, LIST_TESTS)
                for kind in KINDS:
                    _list_rb(cfg, res, w, servers[kind], n, rnd, REF_TESTS)
            finally:
                for s in servers.values():
                    s.stop()
    _list_callgrind(cfg, res)


def _list_rb(cfg: Config, res: Results, w: str, s: Server, n: int, rnd: int,
             tests: Sequence[str]) -> None:
    """One redis-benchmark run of tests (LIST_TESTS, or REF_TESTS whose
    rows are named "... (reference)") against s."""
    names = ",".join(t.lower() for t in tests)
    argv = [cfg.redis_benchmark, "-h", HOST, "-p", str(s.port), "-t", names, "-c", "50",
            "-n", str(n), "-P", "1", "--csv"]
    res.commands.append(" ".join(argv))
    progress(f"round {rnd + 1}/{cfg.rounds} {W10} -t {names} n={n} -> {LABEL[s.kind]}")
    cpu0 = _sched(s.pid)[0]
    ru0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                           check=False)
        rps = parse_redis_benchmark_csv(r.stdout)
    except subprocess.TimeoutExpired:
        rps = {}
    ru1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    cpu1 = _sched(s.pid)[0]
    ref = tests == REF_TESTS
    for test in tests:
        v = rps.get(test)
        if v is None:
            res.failures.append(f"{W10} {test} {LABEL[s.kind]} round {rnd + 1}: "
                                "no result")
        res.add(w, f"{test} (reference)" if ref else test, "req/s", "higher", s.kind,
                rnd, v)
    if rps and not ref:
        busy = ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime
        res.add(w, "redis-benchmark CPU (list tests)", "% of a core", "higher", s.kind,
                rnd, 100.0 * busy / (t1 - t0))
        res.add(w, "server CPU (list tests)", "% of a core", "lower", s.kind, rnd,
                100.0 * (cpu1 - cpu0) / 1e9 / (t1 - t0))
        res.add(w, "server CPU per request (list tests)", "us", "lower", s.kind, rnd,
                (cpu1 - cpu0) / 1e3 / (n * len(tests)))
    progress("  " + ", ".join(f"{t} {rps.get(t, 0):,.0f}/s" for t in tests))
    if s.proc.poll() is not None:
        raise BenchError(f"{LABEL[s.kind]} died during redis-benchmark")


def _list_cg_phases(n: int) -> List[Tuple[str, List[Tuple[bytes, int]]]]:
    """LPUSH mylist value (32 bytes) n times, then RPOP mylist n times,
    workloads.CG_DEPTH commands a pipeline: one list, as redis-benchmark
    uses."""
    d = workloads.CG_DEPTH
    push = encode(b"LPUSH", b"mylist", VALUE32)
    pop = encode(b"RPOP", b"mylist")
    return [("LPUSH", [(push * min(d, n - i), min(d, n - i)) for i in range(0, n, d)]),
            ("RPOP", [(pop * min(d, n - i), min(d, n - i)) for i in range(0, n, d)])]


def _list_callgrind(cfg: Config, res: Results) -> None:
    """The callgrind rows of workload 10: workload 3's method (counters
    zeroed once the server is up, dumped after an idle second and after
    each phase; the idle rate times a phase's duration subtracted)."""
    if not cfg.valgrind:
        res.failures.append(f"{W10B}: valgrind not found, skipped")
        return
    n = 10_000 if cfg.quick else 50_000
    idle = 0.5 if cfg.quick else 1.0
    phases = _list_cg_phases(n)
    res.params["list_callgrind_requests_per_phase"] = n
    use_control = bool(cfg.callgrind_control)
    w = f"{W10B} ({n:,} each of LPUSH, RPOP on one list; -P {workloads.CG_DEPTH})"
    for rnd in range(cfg.rounds):
        for kind in KINDS:
            progress(f"round {rnd + 1}/{cfg.rounds} {W10B} -> {LABEL[kind]}")
            per: Dict[str, float] = {}
            idle_rate = None
            if use_control:
                try:
                    per, idle_rate = workloads._cg_with_control(cfg, kind, rnd, phases, n,
                                                                idle, tag="lists.")
                except BenchError as e:
                    progress(f"  callgrind_control did not work ({e}); "
                             "falling back to one run per phase")
                    use_control = False
            if not use_control:
                per, idle_rate = workloads._cg_runs(cfg, kind, rnd, phases, n,
                                                    tag="lists.")
            progress(f"  {LABEL[kind]}: " + ", ".join(f"{v:,.0f} Ir/{name}"
                                                      for name, v in per.items()))
            for name, v in per.items():
                res.add(w, f"instructions per {name}", "Ir", "lower", kind, rnd, v)
            if idle_rate is not None:
                res.add(w, "idle instructions per second (subtracted)", "Ir/s",
                        "lower", kind, rnd, idle_rate)


# ---- 11. Memory per list element ----------------------------------------------------

W11 = "11 list memory"
LIST_PAYLOAD = 32                   # bytes of each element


def _list_loads(variant: str, nelem: int) -> List[Tuple[bytes, int]]:
    """Pipelined RPUSHes of nelem distinct 32-byte elements ("e" and 31
    digits): into one list, 100 a command; or into nelem / 10 lists
    list:<n> of 10 each. About 10,000 elements a chunk."""
    elems = [b"e%031d" % i for i in range(nelem)]
    if variant == "one":
        cmds = [encode(b"RPUSH", b"biglist", *elems[i:i + 100])
                for i in range(0, nelem, 100)]
    else:
        cmds = [encode(b"RPUSH", b"list:%d" % (i // 10), *elems[i:i + 10])
                for i in range(0, nelem, 10)]
    per = max(1, 10_000 * len(cmds) // nelem)
    return [(b"".join(cmds[i:i + per]), len(cmds[i:i + per]))
            for i in range(0, len(cmds), per)]


def list_memory(cfg: Config, res: Results) -> None:
    """Workload 11: the RSS and used_memory each list element of 32 bytes
    adds, for N elements in one list and for N / 10 lists of 10, over the
    empty server. Fresh servers for each variant and round; the RSS is
    read once the loading connection is closed and it has settled
    (workload 2's _settle_rss: no fall for a while)."""
    nelem = 200_000 if cfg.quick else 1_000_000
    quiet, settle = (0.5, 2.0) if cfg.quick else (1.0, 4.0)
    variants = (("one", f"one list of {nelem:,}"),
                ("many", f"{nelem // 10:,} lists of 10"))
    res.params["list_memory_elements"] = nelem
    res.params["list_memory_settle"] = (f"RSS polled every 0.25 s after the load until "
                                        f"it has not fallen for {quiet} s, at most "
                                        f"{settle} s")
    w = f"{W11} ({nelem:,} elements of {LIST_PAYLOAD} bytes)"
    loads = {v: _list_loads(v, nelem) for v, _ in variants}
    for rnd in range(cfg.rounds):
        for variant, label in variants:
            servers = {k: Server(cfg, k, tag=f"-lmem{rnd}") for k in KINDS}
            try:
                time.sleep(0.2)
                rss0, used0, after = {}, {}, {}
                for kind, s in servers.items():
                    progress(f"round {rnd + 1}/{cfg.rounds} {W11}: {label} -> "
                             f"{LABEL[kind]}")
                    rss0[kind] = s.rss()
                    used0[kind] = int(s.info()["used_memory"])
                    with s.conn() as c:
                        if c.pipeline(loads[variant]):
                            raise BenchError(f"{LABEL[kind]}: loading the lists failed")
                        keys = c.call(b"DBSIZE")
                    if keys != (1 if variant == "one" else nelem // 10):
                        raise BenchError(f"{LABEL[kind]}: {keys} lists after the load")
                    after[kind] = (s.rss(), time.monotonic())
                settled = workloads._settle_rss(servers, after, quiet, settle)
                for kind, s in servers.items():
                    per = (settled[kind][0] - rss0[kind]) / nelem
                    used = (int(s.info()["used_memory"]) - used0[kind]) / nelem
                    res.add(w, f"RSS per element, {label}", "bytes", "lower", kind,
                            rnd, per)
                    res.add(w, f"used_memory per element (INFO), {label}", "bytes",
                            "lower", kind, rnd, used)
                    progress(f"  {LABEL[kind]}: {per:.1f} bytes of RSS per element "
                             f"({used:.1f} used_memory; the payload is "
                             f"{LIST_PAYLOAD})")
            finally:
                for s in servers.values():
                    s.stop()


# ---- 12. Idle blocked clients ---------------------------------------------------------

W12 = "12 idle blocked clients"
IDLE_CLIENTS = 10_000
IDLE_BATCH = 500                    # connections opened before checking they block
PUSH_GAP = 0.001                    # s before each measurement: an idle server each time
GETS_PER_PUSH = 2                   # plain GET round trips per push measured


def _raise_nofile(want: int) -> Tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards want (at most the hard limit);
    return the old soft limit and the new one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        return soft, new
    return soft, soft


def _blpop(key: bytes) -> bytes:
    return encode(b"BLPOP", key, b"0")


def _idle_key(i: int) -> bytes:
    return b"idle:%d" % i


class _Reader:
    """Reads one reply of known length from a non-blocking socket whose
    readiness the epoll ep reports."""

    def __init__(self, ep: select.epoll) -> None:
        self.ep = ep

    def wait(self, sock: socket.socket, want: int) -> bytes:
        """Wait (epoll) until sock has sent want bytes; return them. Any
        other socket that becomes readable is an error."""
        fd = sock.fileno()
        got = b""
        while len(got) < want:
            for efd, _ in self.ep.poll(10.0) or [(None, None)]:
                if efd is None:
                    raise BenchError("no reply in 10 s")
                if efd != fd:
                    raise BenchError(f"an idle client (fd {efd}) got something")
            try:
                d = sock.recv(65536)
            except BlockingIOError:
                continue
            if not d:
                raise BenchError("the server closed a connection")
            got += d
        return got


def _open_blocked(s: Server, ep: select.epoll, n: int) -> List[socket.socket]:
    """Open n TCP connections to s, each blocked in BLPOP idle:<i> 0,
    IDLE_BATCH at a time (then waiting until INFO says they block, so the
    listen backlog never overflows); all registered in ep."""
    socks: List[socket.socket] = []
    with s.conn() as ctl:
        while len(socks) < n:
            for i in range(len(socks), min(n, len(socks) + IDLE_BATCH)):
                c = socket.create_connection((HOST, s.port), timeout=30)
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sendall(_blpop(_idle_key(i)))
                c.setblocking(False)
                ep.register(c.fileno(), select.EPOLLIN)
                socks.append(c)
            deadline = time.monotonic() + 30
            while _blocked(ctl) < len(socks):
                if time.monotonic() > deadline:
                    raise BenchError(f"{LABEL[s.kind]}: {_blocked(ctl)} of {len(socks)} "
                                     "clients blocked after 30 s")
                time.sleep(0.01)
    return socks


def _blocked(c: RawConn) -> int:
    """blocked_clients from INFO clients, through c."""
    text = c.call(b"INFO", b"clients").decode()
    for line in text.splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise BenchError("INFO clients has no blocked_clients")


def _sched(pid: int) -> Tuple[int, int]:
    """(CPU time in ns, times scheduled onto a CPU) of pid, summed over its
    threads, from /proc/PID/task/*/schedstat: exact to the ns, where
    /proc/PID/stat counts whole clock ticks (10 ms)."""
    ns = runs = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                fields = f.read().split()
        except FileNotFoundError:       # a thread that has just ended
            continue
        ns += int(fields[0])
        runs += int(fields[2])
    return ns, runs


def _idle_one(cfg: Config, kind: str, rnd: int, n: int, idle_s: float,
              pushes: int) -> Dict[str, float]:
    """One server with n idle clients blocked in BLPOP: its CPU over idle_s
    seconds, then pushes measured pushes (each to another blocked client)
    and GETS_PER_PUSH times as many plain GET round trips."""
    extra = ["--maxclients", str(n + 100)]
    ep = select.epoll()
    socks: List[socket.socket] = []
    out: Dict[str, float] = {}
    try:
        with Server(cfg, kind, tag=f"-idle{rnd}", extra=extra) as s:
            t = time.monotonic()
            socks = _open_blocked(s, ep, n)
            progress(f"  {n:,} clients blocked in BLPOP in {time.monotonic() - t:.1f} s; "
                     f"{idle_s:g} s idle")
            pusher, getter = s.conn(), s.conn()
            pusher.call(b"SET", b"plain", VALUE32)
            getter.sock.setblocking(False)
            ep.register(getter.sock.fileno(), select.EPOLLIN)
            time.sleep(0.5)
            (cpu0, runs0), t0 = _sched(s.pid), time.monotonic()
            time.sleep(idle_s)
            (cpu1, runs1), t1 = _sched(s.pid), time.monotonic()
            out["cpu"] = 100.0 * (cpu1 - cpu0) / 1e9 / (t1 - t0)
            out["wakeups"] = (runs1 - runs0) / (t1 - t0)
            if ep.poll(0):
                raise BenchError(f"{LABEL[kind]}: an idle client got something")
            out.update(_push_latency(s, ep, socks, pusher, getter, pushes))
            with s.conn() as c:
                out["blocked"] = _blocked(c)
            pusher.close()
            getter.close()
    finally:
        for c in socks:
            c.close()
        ep.close()
    return out


def _push_latency(s: Server, ep: select.epoll, socks: List[socket.socket],
                  pusher: RawConn, getter: RawConn, pushes: int) -> Dict[str, float]:
    """Time pushes RPUSHes, each to a different blocked client, from the
    send until that client holds the whole reply (epoll, then recv); and
    GETS_PER_PUSH GET round trips before each, on an idle connection, the
    same way. The served client blocks again (outside the timing)."""
    reader = _Reader(ep)
    get_cmd = encode(b"GET", b"plain")
    get_len = len(b"$32\r\n") + 32 + 2
    picks = random.Random(12).sample(range(len(socks)), pushes)
    push_us: List[float] = []
    get_us: List[float] = []
    for i in picks:
        for _ in range(GETS_PER_PUSH):
            time.sleep(PUSH_GAP)
            t0 = time.perf_counter_ns()
            getter.sock.send(get_cmd)
            reader.wait(getter.sock, get_len)
            get_us.append((time.perf_counter_ns() - t0) / 1000)
        key = _idle_key(i)
        want = len(b"*2\r\n$%d\r\n%s\r\n$1\r\nx\r\n" % (len(key), key))
        time.sleep(PUSH_GAP)
        t0 = time.perf_counter_ns()
        pusher.sock.sendall(encode(b"RPUSH", key, b"x"))
        reader.wait(socks[i], want)
        push_us.append((time.perf_counter_ns() - t0) / 1000)
        if pusher.skip_replies(1):
            raise BenchError(f"{LABEL[s.kind]}: RPUSH failed")
        socks[i].send(_blpop(key))
    return {"push50": _percentile(push_us, 50), "push99": _percentile(push_us, 99),
            "get50": _percentile(get_us, 50), "get99": _percentile(get_us, 99)}


def idle_blocked(cfg: Config, res: Results) -> None:
    """Workload 12: 10,000 connections each blocked in BLPOP <own key> 0,
    held by this one process (epoll, raw RESP): the server's CPU while
    nothing happens, then the time from an RPUSH until the blocked client
    holds its reply, against a plain GET round trip on an idle connection
    in the same run. One server at a time (the process holds one server's
    connections)."""
    idle_s = 3.0 if cfg.quick else 10.0
    pushes = 300 if cfg.quick else 2000
    old, limit = _raise_nofile(IDLE_CLIENTS + 256)
    n = min(IDLE_CLIENTS, limit - 256)
    pushes = min(pushes, n)             # each to another blocked client
    if n < IDLE_CLIENTS:
        res.notes.append(f"{W12}: the open-files limit ({limit}) allows {n:,} clients, "
                         f"not {IDLE_CLIENTS:,} (raise ulimit -Hn)")
    res.params["idle_clients"] = n
    res.params["idle_method"] = (
        f"{n:,} TCP connections each blocked in BLPOP idle:<i> 0; server CPU time "
        f"and wake-ups (all threads, /proc/PID/task/*/schedstat) over {idle_s:g} s; "
        f"then {pushes} RPUSHes to clients picked at random, each timed from the send "
        f"until the client holds the reply (epoll), and {GETS_PER_PUSH} GET round "
        f"trips before each on an idle connection, timed the same way; "
        f"{PUSH_GAP * 1e3:g} ms of quiet before each")
    w = f"{W12} ({n:,} clients in BLPOP)"
    try:
        for rnd in range(cfg.rounds):
            for kind in KINDS:
                progress(f"round {rnd + 1}/{cfg.rounds} {W12} -> {LABEL[kind]}")
                got = _idle_one(cfg, kind, rnd, n, idle_s, pushes)
                if got["blocked"] != n:
                    raise BenchError(f"{LABEL[kind]}: {got['blocked']:.0f} clients "
                                     f"blocked at the end, not {n}")
                res.add(w, f"server CPU while idle ({idle_s:g} s)", "% of a core",
                        "lower", kind, rnd, got["cpu"])
                res.add(w, "server wake-ups per second while idle", "/s", "lower",
                        kind, rnd, got["wakeups"])
                res.add(w, "push served (RPUSH -> blocked client has it), p50", "us",
                        "lower", kind, rnd, got["push50"])
                res.add(w, "push served, p99", "us", "lower", kind, rnd, got["push99"])
                res.add(w, "GET round trip, p50", "us", "lower", kind, rnd, got["get50"])
                res.add(w, "GET round trip, p99", "us", "lower", kind, rnd, got["get99"])
                progress(f"  CPU {got['cpu']:.3f}% of a core, {got['wakeups']:.1f} "
                         f"wake-ups/s; push served p50 "
                         f"{got['push50']:.0f} us p99 {got['push99']:.0f} us; GET p50 "
                         f"{got['get50']:.0f} us p99 {got['get99']:.0f} us")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (old, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


WORKLOADS = {
    "8": ("queue", job_queue_blocking),
    "9": ("handoff", handoff_latency),
    "10": ("lists-benchmark", list_benchmark),
    "11": ("lists-memory", list_memory),
    "12": ("idle-blocked", idle_blocked),
}
