# SPDX-License-Identifier: MIT
"""The workloads of issue 11 (the append-only file) for the benchmark
harness (bench/run): 13 redis-benchmark SET with appendonly yes
(appendfsync everysec and always), 14 BGREWRITEAOF of a million keys
(wall time and peak extra memory), 15 start (load) time of a million keys
from the same files, both servers loading both servers' files.

Both servers get the same AOF settings, each a fresh data directory of
its own (under a temporary directory removed at the end of the
workload); redis-server also --aof-use-rdb-preamble no (so its base is
in the AOF format we read and write) and --save ''. Each workload
function takes the Config and the Results, runs its rounds (ours, then
redis-server, for every row of every round: A B A B) and records one
value per side per round, as bench/workloads.py does. targets() gives
issue 11's targets with the measured ratios, for bench/run to print.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import workloads
import workloads_lists
from benchlib import (HOST, KINDS, LABEL, OURS, REDIS, BenchError, Config, RawConn,
                      Results, Row, Server, encode, free_port, parse_redis_benchmark_csv,
                      progress, proc_rss, set_chunks, spawn_process, stop_process)

VALUE32 = workloads.VALUE32
AOF_DIRNAME = "appendonlydir"       # appenddirname, the default of both servers
FSYNC_MODES = ("everysec", "always")


def _aof_args(kind: str, data_dir: str, fsync: str = "everysec",
              auto_rewrite: bool = True) -> List[str]:
    """The options that give a server of kind an AOF in data_dir: the
    same settings for both; without auto_rewrite no automatic rewrite
    (auto-aof-rewrite-percentage 0: a million keys make an AOF over
    auto-aof-rewrite-min-size, 64 MB, and the rewrite it starts would
    race with the one measured). redis-server also writes its base in
    the AOF format (aof-use-rdb-preamble no) and no RDB snapshots (save
    '')."""
    args = ["--appendonly", "yes", "--appendfsync", fsync, "--dir", data_dir]
    if not auto_rewrite:
        args += ["--auto-aof-rewrite-percentage", "0"]
    if kind == REDIS:
        args += ["--aof-use-rdb-preamble", "no", "--save", ""]
    return args


def _fresh_dir(parent: str, name: str) -> str:
    """An empty directory parent/name (removed first if it was there)."""
    path = os.path.join(parent, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def _info(c: RawConn, section: str) -> Dict[str, str]:
    """INFO section through c, as a dict of strings."""
    out = {}
    for line in c.call(b"INFO", section.encode()).decode().splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k] = v.strip()
    return out


# ---- The dataset of workloads 14 and 15 ---------------------------------------

LIST_COUNT = 10                     # lists list:<j>
TTL_EVERY = 10                      # every 10th key gets a TTL
TTL_SECONDS = b"100000"             # far enough that none expires while measured


def _dataset(cfg: Config) -> Tuple[List[Tuple[bytes, int]], int, str]:
    """The commands that make the dataset, about 10,000 a chunk: N keys
    key:<n> with 32-byte values, every TTL_EVERY-th with SET ... EX
    100000; and LIST_COUNT lists list:<j> of M elements of 32 bytes (e
    and 31 digits), RPUSHed 100 a command. Returns (chunks, the number of
    keys the server holds then, a description)."""
    nkeys = 100_000 if cfg.quick else 1_000_000
    per_list = 1_000 if cfg.quick else 10_000
    cmds = [encode(b"SET", b"key:%d" % i, VALUE32, b"EX", TTL_SECONDS)
            if i % TTL_EVERY == 0 else encode(b"SET", b"key:%d" % i, VALUE32)
            for i in range(nkeys)]
    for j in range(LIST_COUNT):
        elems = [b"e%031d" % (j * per_list + i) for i in range(per_list)]
        cmds += [encode(b"RPUSH", b"list:%d" % j, *elems[i:i + 100])
                 for i in range(0, per_list, 100)]
    chunks = [(b"".join(cmds[i:i + 10_000]), len(cmds[i:i + 10_000]))
              for i in range(0, len(cmds), 10_000)]
    what = (f"{nkeys:,} keys key:<n> with 32-byte values, every {TTL_EVERY}th set with "
            f"EX {TTL_SECONDS.decode()}; {LIST_COUNT} lists of {per_list:,} elements of "
            "32 bytes (RPUSH, 100 a command)")
    return chunks, nkeys + LIST_COUNT, what


def _load_dataset(s: Server, chunks: List[Tuple[bytes, int]], expect: int) -> float:
    """Send the dataset to s as pipelines (each chunk's replies read before
    the next is sent); check DBSIZE. Returns the seconds it took."""
    with s.conn() as c:
        t = time.monotonic()
        errors = c.pipeline(chunks)
        took = time.monotonic() - t
        size = c.call(b"DBSIZE")
    if errors or size != expect:
        raise BenchError(f"{LABEL[s.kind]}: loading the dataset failed ({errors} "
                         f"errors, {size} keys, {expect} expected)")
    return took


def _wait_rewrite(c: RawConn, rewrites0: int, timeout: float = 300.0) -> Dict[str, str]:
    """Poll INFO persistence through c every 10 ms until a rewrite newer
    than the rewrites0-th has ended; its INFO persistence."""
    deadline = time.monotonic() + timeout
    while True:
        info = _info(c, "persistence")
        if (info.get("aof_rewrite_in_progress") == "0"
                and int(info.get("aof_rewrites", "0")) > rewrites0):
            if info.get("aof_last_bgrewrite_status") != "ok":
                raise BenchError("BGREWRITEAOF failed (aof_last_bgrewrite_status "
                                 f"{info.get('aof_last_bgrewrite_status')})")
            return info
        if time.monotonic() > deadline:
            raise BenchError(f"BGREWRITEAOF not done after {timeout:.0f} s")
        time.sleep(0.01)


# ---- 13. redis-benchmark SET with appendonly yes ----------------------------------

W13 = "13 redis-benchmark SET, appendonly yes"


def aof_benchmark(cfg: Config, res: Results) -> None:
    """Workload 13: redis-benchmark -t set -c 50 over TCP at -P 1 and -P 16
    against both servers with appendonly yes, appendfsync everysec and
    always: fresh servers, each with a fresh data directory, for every row.
    Also the server's CPU (all threads: the fsync thread too) per request
    and the bytes its AOF grew by (the same commands: the same bytes); and,
    as a reference, -P 1 with appendonly no (what the AOF costs each)."""
    if not cfg.redis_benchmark:
        res.failures.append(f"{W13}: redis-benchmark not found, skipped")
        return
    n1, n16 = (30_000, 200_000) if cfg.quick else (150_000, 1_000_000)
    # -P 16's n stays below auto-aof-rewrite-min-size (64 MB, both servers'
    # default: 45 bytes of AOF a SET): no automatic rewrite in a run.
    res.params["aof_benchmark_requests"] = {"-P 1": n1, "-P 16": n16}
    w = f"{W13} (-t set -c 50, TCP, fresh data directories)"
    top = tempfile.mkdtemp(prefix="aof13-", dir=cfg.workdir)
    try:
        for rnd in range(cfg.rounds):
            for fsync in FSYNC_MODES + (None,):
                for pipe, n in ((1, n1), (16, n16)) if fsync else ((1, n1),):
                    for kind in KINDS:
                        _aof_rb(cfg, res, w, kind, fsync, pipe, n, rnd, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _aof_rb(cfg: Config, res: Results, w: str, kind: str, fsync: Optional[str],
            pipe: int, n: int, rnd: int, top: str) -> None:
    """One redis-benchmark run of workload 13 against a fresh server of
    kind with appendfsync fsync, in a fresh data directory; fsync None:
    appendonly no (the reference rows)."""
    data = _fresh_dir(top, f"{kind}-{fsync}-{pipe}-{rnd}")
    label = (f"SET -P {pipe}, appendfsync {fsync}" if fsync
             else f"SET -P {pipe}, appendonly no (reference)")
    extra = _aof_args(kind, data, fsync) if fsync else []
    with Server(cfg, kind, tag=f"-aofrb{rnd}", extra=extra) as s:
        with s.conn() as c:
            size0 = int(_info(c, "persistence").get("aof_current_size", "0"))
        argv = [cfg.redis_benchmark, "-h", HOST, "-p", str(s.port), "-t", "set",
                "-c", "50", "-n", str(n), "-P", str(pipe), "--csv"]
        res.commands.append(" ".join(argv) + ("  # appendonly yes, appendfsync " + fsync
                                              if fsync else "  # appendonly no"))
        progress(f"round {rnd + 1}/{cfg.rounds} {W13}: {label}, n={n:,} -> "
                 f"{LABEL[kind]}")
        cpu0 = workloads_lists._sched(s.pid)[0]
        ru0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                               check=False)
            rps = parse_redis_benchmark_csv(r.stdout).get("SET")
        except subprocess.TimeoutExpired:
            rps = None
        ru1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        cpu1 = workloads_lists._sched(s.pid)[0]
        if s.proc.poll() is not None:
            raise BenchError(f"{LABEL[kind]} died during redis-benchmark")
        with s.conn() as c:
            info = _info(c, "persistence")
    if rps is None:
        res.failures.append(f"{W13} {label} {LABEL[kind]} round {rnd + 1}: no result")
    mode = fsync or "appendonly no"
    res.add(w, label, "req/s", "higher", kind, rnd, rps)
    res.add(w, f"server CPU per SET, -P {pipe}, {mode}", "us", "lower", kind, rnd,
            (cpu1 - cpu0) / 1e3 / n)
    busy = ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime
    res.add(w, f"redis-benchmark CPU, -P {pipe}, {mode}", "% of a core", "higher",
            kind, rnd, 100.0 * busy / (t1 - t0))
    grown = int(info.get("aof_current_size", "0")) - size0
    if fsync:
        res.add(w, f"AOF bytes per SET, -P {pipe}, {fsync}", "bytes", "lower", kind, rnd,
                grown / n)
    if info.get("aof_last_write_status", "ok") != "ok":
        res.failures.append(f"{W13} {label} {LABEL[kind]} round {rnd + 1}: "
                            f"aof_last_write_status {info.get('aof_last_write_status')}")
    progress(f"  {rps or 0:,.0f} SET/s, server {(cpu1 - cpu0) / 1e3 / n:.2f} us CPU a "
             f"SET, AOF +{grown:,} bytes")
    shutil.rmtree(data, ignore_errors=True)


# ---- 14. BGREWRITEAOF of a million keys ---------------------------------------

W14 = "14 BGREWRITEAOF"
REWRITE_POLL = 0.002                # s between samples while the rewrite runs


def _children(pid: int) -> List[int]:
    """The child processes of pid (all its threads' children)."""
    out: List[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                out += [int(x) for x in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def _private_dirty(pid: int) -> Optional[int]:
    """Private_Dirty of pid in bytes (from /proc/PID/smaps_rollup: its
    pages that no other process maps and that were written: for a forked
    child, the pages copied on write by either side and its own new
    ones), or None once it has exited (a zombie maps nothing)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return None
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def _base_size(data: str) -> int:
    """The size of the base file the manifest in data/appendonlydir names
    (INFO's aof_base_size is not that in redis-server: it adds what the
    incremental file took during the rewrite)."""
    aof_dir = os.path.join(data, AOF_DIRNAME)
    with open(os.path.join(aof_dir, "appendonly.aof.manifest"), encoding="utf-8") as f:
        for line in f:
            words = line.split()
            pairs = dict(zip(words[::2], words[1::2]))
            if pairs.get("type") == "b":
                return os.path.getsize(os.path.join(aof_dir, pairs["file"]))
    raise BenchError(f"no base file in the manifest of {aof_dir}")


def _measure_rewrite(s: Server, data: str) -> Dict[str, float]:
    """BGREWRITEAOF on s, watched until it is over: every REWRITE_POLL
    seconds the parent's VmRSS, the child's Private_Dirty and INFO
    persistence. Returns the wall time (the command sent until INFO says
    aof_rewrite_in_progress:0 with a new aof_rewrites), the child's life
    (the command sent until the child is seen exited), and the peaks of
    the parent's RSS growth over its value before the command, of the
    child's Private_Dirty and of their sum at one sample (the extra
    memory the rewrite holds at once)."""
    with s.conn() as c:
        before = _info(c, "persistence")
        rewrites0 = int(before.get("aof_rewrites", "0"))
        if before.get("aof_rewrite_in_progress") != "0":
            raise BenchError(f"{LABEL[s.kind]}: a rewrite is already in progress")
        known = set(_children(s.pid))
        rss0 = proc_rss(s.pid)
        t0 = time.monotonic()
        reply = c.call(b"BGREWRITEAOF")
        child = None
        child_end = None
        peak_parent = peak_child = peak_sum = 0
        samples = 0
        while True:
            now = time.monotonic()
            if child is None:
                new = [p for p in _children(s.pid) if p not in known]
                child = new[0] if new else None
            dirty = 0
            if child is not None and child_end is None:
                got = _private_dirty(child)
                if got is None:
                    child_end = now - t0
                else:
                    dirty = got
            grow = proc_rss(s.pid) - rss0
            peak_parent = max(peak_parent, grow)
            peak_child = max(peak_child, dirty)
            peak_sum = max(peak_sum, grow + dirty)
            samples += 1
            info = _info(c, "persistence")
            if (info.get("aof_rewrite_in_progress") == "0"
                    and int(info.get("aof_rewrites", "0")) > rewrites0):
                wall = time.monotonic() - t0
                break
            if now - t0 > 300:
                raise BenchError(f"{LABEL[s.kind]}: BGREWRITEAOF not done in 300 s")
            time.sleep(REWRITE_POLL)
    if info.get("aof_last_bgrewrite_status") != "ok":
        raise BenchError(f"{LABEL[s.kind]}: BGREWRITEAOF failed ({reply!r}, "
                         f"status {info.get('aof_last_bgrewrite_status')})")
    if child is None:
        raise BenchError(f"{LABEL[s.kind]}: no rewrite child was seen")
    return {"wall": wall, "child": child_end if child_end is not None else wall,
            "parent": peak_parent, "dirty": peak_child, "sum": peak_sum,
            "rss0": rss0, "samples": samples, "base": float(_base_size(data)),
            "cow": float(info.get("aof_last_cow_size", 0))}


WRITE_RATE = 20_000                 # SETs a second during the rewrites under writes
WRITE_TICK = 0.001                  # s: WRITE_RATE * WRITE_TICK SETs a pipeline
GROWTH_ROOM = 1_000                 # keys below the table's size (growth variant)
REWRITE_VARIANTS = (("rest", "at rest"),
                    ("writes", f"under {WRITE_RATE:,} SETs/s to existing keys"),
                    ("growth", f"under {WRITE_RATE:,} new keys/s, the table growing"))


def _writer(port: int, nkeys: int, new: bool, stop, out) -> None:
    """The writer process of the rewrites under writes: every WRITE_TICK
    seconds a pipeline of WRITE_RATE * WRITE_TICK SETs (32-byte values),
    its replies read before the next, paced by the clock (a late tick is
    caught up), until stop is set: of random existing keys key:<n> (n <
    nkeys), or with new of new keys new:<n>. Sends the number of SETs
    made, or an error, to out."""
    rng = random.Random(port)
    per = max(1, int(WRITE_RATE * WRITE_TICK))
    value = b"w" * len(VALUE32)
    done = 0
    try:
        with RawConn(port) as c:
            t_next = time.monotonic()
            while not stop.is_set():
                keys = ([b"new:%d" % (done + i) for i in range(per)] if new else
                        [b"key:%d" % rng.randrange(nkeys) for _ in range(per)])
                c.pipeline([(b"".join(encode(b"SET", k, value) for k in keys), per)])
                done += per
                t_next += WRITE_TICK
                wait = t_next - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
        out.send(done)
    except BaseException as e:      # report, never hang the parent
        out.send(repr(e))


def _rewrite_under_writes(s: Server, data: str, nkeys: int, new: bool,
                          lead: float) -> Tuple[Dict[str, float], float]:
    """_measure_rewrite while a writer process (_writer) makes WRITE_RATE
    SETs a second; it starts lead seconds before the BGREWRITEAOF and
    stops once the rewrite is over. Returns the measurement and the SETs
    a second the writer made."""
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_writer, args=(s.port, nkeys, new, stop, there),
                       daemon=True)
    t0 = time.monotonic()
    proc.start()
    try:
        time.sleep(lead)
        m = _measure_rewrite(s, data)
        stop.set()
        took = time.monotonic() - t0
        if not here.poll(30):
            raise BenchError(f"{LABEL[s.kind]}: the writer did not stop")
        done = here.recv()
        proc.join(10)
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join()
    if not isinstance(done, int):
        raise BenchError(f"{LABEL[s.kind]}: the writer failed: {done}")
    return m, done / took


def _growth_keys(cfg: Config) -> int:
    """The keys of the growth variant: GROWTH_ROOM (quick: a fifth) below
    2^20 (quick: 2^17), so that both servers' keys table (a power of two
    that grows once it holds as many keys as it has buckets, in both)
    has 2^20 buckets and the writer's new keys fill it during the
    rewrite."""
    return (1 << 17) - GROWTH_ROOM // 5 if cfg.quick else (1 << 20) - GROWTH_ROOM


def aof_rewrite(cfg: Config, res: Results) -> None:
    """Workload 14: the dataset (a million keys, a tenth with TTLs, and a
    few lists) is loaded into a fresh server with appendonly yes
    (everysec, no automatic rewrite); after 1 s at rest, BGREWRITEAOF,
    watched by _measure_rewrite; 0.5 s later another, while a process
    overwrites random keys at WRITE_RATE SETs a second (the copy-on-write
    a rewrite costs under writes). Then, on another fresh server holding
    _growth_keys() keys without a TTL, BGREWRITEAOF while a process adds
    new keys at WRITE_RATE from the moment it is sent: the keys table
    becomes full during the rewrite. One server at a time (the other is
    not running)."""
    chunks, expect, what = _dataset(cfg)
    nkeys = expect - LIST_COUNT
    ngrow = _growth_keys(cfg)
    room = (1 << 17 if cfg.quick else 1 << 20) - ngrow
    grow_chunks = set_chunks([b"key:%d" % i for i in range(ngrow)], VALUE32,
                                       10_000)
    res.params["aof_rewrite_dataset"] = what
    res.params["aof_rewrite_method"] = (
        "fresh server with appendonly yes, appendfsync everysec, auto-aof-rewrite-"
        "percentage 0, in a fresh directory; the dataset sent as pipelines of 10,000 "
        "commands; 1 s at rest; then BGREWRITEAOF, and every "
        f"{REWRITE_POLL * 1e3:g} ms (plus the time the reads take): the parent's "
        "VmRSS (/proc/PID/status), the child's Private_Dirty (/proc/CHILD/smaps_rollup; "
        "the child is found in /proc/PID/task/*/children), INFO persistence; wall time "
        "= BGREWRITEAOF sent until aof_rewrite_in_progress:0 with aof_rewrites grown; "
        "extra memory = parent RSS growth over its value before the command + child "
        "Private_Dirty, at the same sample; its peak. Then 0.5 s later the same while "
        f"another process overwrites random keys key:<n>, {WRITE_RATE:,} SETs/s "
        f"({int(WRITE_RATE * WRITE_TICK)} a pipeline every {WRITE_TICK * 1e3:g} ms), "
        "from 0.3 s before the BGREWRITEAOF to its end. Growth variant: a fresh server "
        f"with {ngrow:,} keys key:<n> (32-byte values, no TTL: {room:,} below the keys "
        "table's size), 1 s at rest, then the same with a writer of "
        f"new keys new:<n> at {WRITE_RATE:,}/s started with the BGREWRITEAOF")
    w = f"{W14} ({expect:,} keys; appendonly yes, everysec)"
    for _, vlabel in REWRITE_VARIANTS:          # the rows in this order
        for name, unit in _rewrite_rows(vlabel):
            res.row(w, name, unit, "lower")
    rate_rows = ("SETs/s the writer made, to existing keys", "SETs/s the writer made, "
                 "new keys")
    top = tempfile.mkdtemp(prefix="aof14-", dir=cfg.workdir)
    try:
        for rnd in range(cfg.rounds):
            for kind in KINDS:
                data = _fresh_dir(top, f"{kind}-{rnd}")
                progress(f"round {rnd + 1}/{cfg.rounds} {W14}: load {expect:,} keys -> "
                         f"{LABEL[kind]}")
                with Server(cfg, kind, tag=f"-aofrw{rnd}",
                            extra=_aof_args(kind, data, auto_rewrite=False)) as s:
                    took = _load_dataset(s, chunks, expect)
                    time.sleep(1.0)
                    m = _measure_rewrite(s, data)
                    _record_rewrite(res, w, kind, rnd, REWRITE_VARIANTS[0][1], m)
                    time.sleep(0.5)
                    m, rate = _rewrite_under_writes(s, data, nkeys, False, 0.3)
                    _record_rewrite(res, w, kind, rnd, REWRITE_VARIANTS[1][1], m)
                shutil.rmtree(data, ignore_errors=True)
                res.add(w, "dataset load, appendonly yes everysec", "cmds/s", "higher",
                        kind, rnd, sum(n for _, n in chunks) / took)
                res.add(w, rate_rows[0], "SET/s", "higher", kind, rnd, rate)
                res.row(w, rate_rows[0], "SET/s", "higher").no_ratio = True
                progress(f"  {LABEL[kind]}: dataset loaded in {took:.2f} s; the writer "
                         f"made {rate:,.0f} SETs/s; growth variant: {ngrow:,} keys")
                data = _fresh_dir(top, f"{kind}-{rnd}-growth")
                with Server(cfg, kind, tag=f"-aofgr{rnd}",
                            extra=_aof_args(kind, data, auto_rewrite=False)) as s:
                    _load_dataset(s, grow_chunks, ngrow)
                    time.sleep(1.0)
                    m, rate = _rewrite_under_writes(s, data, ngrow, True, 0.0)
                    _record_rewrite(res, w, kind, rnd, REWRITE_VARIANTS[2][1], m)
                    with s.conn() as c:
                        m_keys = c.call(b"DBSIZE")
                shutil.rmtree(data, ignore_errors=True)
                res.add(w, rate_rows[1], "SET/s", "higher", kind, rnd, rate)
                res.row(w, rate_rows[1], "SET/s", "higher").no_ratio = True
                progress(f"  the writer made {rate:,.0f} new keys/s; {m_keys:,} keys at "
                         "the end")
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _rewrite_rows(vlabel: str) -> List[Tuple[str, str]]:
    """(row, unit) of one variant of workload 14."""
    return [(f"BGREWRITEAOF wall time (to aof_rewrite_in_progress:0), {vlabel}", "ms"),
            (f"rewrite child's life (BGREWRITEAOF to its exit), {vlabel}", "ms"),
            (f"peak extra memory (parent RSS growth + child Private_Dirty), {vlabel}",
             "MB"),
            (f"peak child Private_Dirty (copy-on-write + its own), {vlabel}", "MB"),
            (f"peak parent RSS growth, {vlabel}", "MB"),
            (f"parent RSS before the rewrite, {vlabel}", "MB"),
            (f"new base file, {vlabel}", "MB")]


def _record_rewrite(res: Results, w: str, kind: str, rnd: int, vlabel: str,
                    m: Dict[str, float]) -> None:
    """The rows of one measurement of workload 14 (_measure_rewrite's m)."""
    values = (1e3 * m["wall"], 1e3 * m["child"], m["sum"] / 1e6, m["dirty"] / 1e6,
              m["parent"] / 1e6, m["rss0"] / 1e6, m["base"] / 1e6)
    for (name, unit), v in zip(_rewrite_rows(vlabel), values):
        res.add(w, name, unit, "lower", kind, rnd, v)
    progress(f"  {LABEL[kind]}, {vlabel}: rewrite {1e3 * m['wall']:.0f} ms (child "
             f"{1e3 * m['child']:.0f} ms), peak extra {m['sum'] / 1e6:.1f} MB (child "
             f"Private_Dirty {m['dirty'] / 1e6:.1f} MB, parent +{m['parent'] / 1e6:.1f} "
             f"MB; RSS before {m['rss0'] / 1e6:.1f} MB), base {m['base'] / 1e6:.1f} MB, "
             f"{m['samples']:.0f} samples"
             + (f"; its aof_last_cow_size {m['cow'] / 1e6:.1f} MB" if kind == REDIS
                else ""))


# ---- 15. Start (load) time ------------------------------------------------------

W15 = "15 start with a million keys"
W15L = "15b load time the server logs"
W15B = "15c start, each server its own files (from the same rounds)"
LOAD_POLL = 0.001                   # s between tries to get a PONG
LOADED_RE = re.compile(rb"DB loaded from append only file: ([0-9.]+) seconds")
VARIANTS = (("written", "as written (incr file)"),
            ("rewritten", "after BGREWRITEAOF (base file)"))


def _make_files(cfg: Config, kind: str, chunks: List[Tuple[bytes, int]], expect: int,
                top: str) -> Dict[str, str]:
    """Have a server of kind write the dataset with appendonly yes
    (everysec): a copy of its AOF directory is taken once the writes are
    acknowledged ("written"), then BGREWRITEAOF, and once the server has
    stopped (SIGTERM: it writes and fsyncs what is left) its directory is
    the "rewritten" variant. Returns {variant: AOF directory}."""
    data = _fresh_dir(top, f"src-{kind}")
    progress(f"{W15}: {LABEL[kind]} writes the files ({expect:,} keys)")
    with Server(cfg, kind, tag="-aofsrc",
                extra=_aof_args(kind, data, auto_rewrite=False)) as s:
        _load_dataset(s, chunks, expect)
        written = os.path.join(top, f"written-{kind}")
        shutil.copytree(os.path.join(data, AOF_DIRNAME), written)
        with s.conn() as c:
            rewrites0 = int(_info(c, "persistence").get("aof_rewrites", "0"))
            c.call(b"BGREWRITEAOF")
            _wait_rewrite(c, rewrites0)
        if s.stop() != 0:
            raise BenchError(f"{LABEL[kind]} did not stop cleanly after writing its files")
    rewritten = os.path.join(top, f"rewritten-{kind}")
    os.rename(os.path.join(data, AOF_DIRNAME), rewritten)
    shutil.rmtree(data, ignore_errors=True)
    return {"written": written, "rewritten": rewritten}


def _timed_start(cfg: Config, kind: str, data: str,
                 log: str) -> Tuple[float, subprocess.Popen, str]:
    """Start a server of kind on data (appendonly yes, loglevel notice, its
    log in log) and time it from just before the process is created until
    it answers PING with PONG on its Unix socket (tried every LOAD_POLL
    seconds: a refused connection and -LOADING, which both servers answer
    until they have loaded, are tried again). The server is left running.
    Returns (seconds to PONG, the process, its Unix socket)."""
    port = free_port()
    unix = os.path.join(cfg.workdir, f"{kind}-load.sock")
    if os.path.exists(unix):
        os.unlink(unix)
    if kind == OURS:
        argv = [cfg.server, "--port", str(port), "--bind", HOST, "--unixsocket", unix,
                "--loglevel", "notice"]
    else:
        argv = [cfg.redis_server, "--port", str(port), "--bind", HOST, "--unixsocket",
                unix, "--loglevel", "notice", "--daemonize", "no", "--protected-mode", "no"]
    argv += _aof_args(kind, data, auto_rewrite=False)
    ping = encode(b"PING")
    t0 = time.monotonic()
    proc = spawn_process(argv, log=log)
    sock: Optional[socket.socket] = None
    try:
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{LABEL[kind]} exited at start (status "
                                 f"{proc.returncode}); log: {log}")
            if time.monotonic() - t0 > 300:
                raise BenchError(f"{LABEL[kind]}: no PONG in 300 s; log: {log}")
            try:
                if sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.settimeout(30)
                    sock.connect(unix)
                sock.sendall(ping)
                got = b""
                while not got.endswith(b"\r\n"):
                    d = sock.recv(4096)
                    if not d:
                        raise ConnectionResetError("closed")
                    got += d
                if got == b"+PONG\r\n":
                    return time.monotonic() - t0, proc, unix
                if not got.startswith(b"-LOADING"):
                    raise BenchError(f"{LABEL[kind]}: PING got {got[:80]!r}")
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
            time.sleep(LOAD_POLL)
    except BaseException:
        stop_process(proc)
        raise
    finally:
        if sock is not None:
            sock.close()


def _logged_load(log: str) -> Optional[float]:
    """The load time the server logged ("DB loaded from append only file:
    X seconds", both servers' words), or None (waits up to 2 s for it)."""
    deadline = time.monotonic() + 2.0
    while True:
        with open(log, "rb") as f:
            m = LOADED_RE.search(f.read())
        if m:
            return float(m.group(1))
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def aof_load(cfg: Config, res: Results) -> None:
    """Workload 15: each server writes the dataset (as workload 14's) with
    appendonly yes; its AOF directory is kept as written and after a
    BGREWRITEAOF. Then each round, for each variant, each server starts
    on a fresh copy of each server's directory (ours on ours, redis on
    ours, ours on redis's, redis on redis's), timed from the process's
    creation to its first PONG; DBSIZE is checked, then it is stopped.
    One server runs at a time. A row compares both servers loading the
    same files; 15b has the load time each server logged, 15c pairs each
    server loading its own."""
    chunks, expect, what = _dataset(cfg)
    res.params["aof_load_dataset"] = what
    res.params["aof_load_method"] = (
        "each server writes the dataset (appendonly yes, everysec) into its own directory: "
        "a copy as written, then BGREWRITEAOF and SIGTERM; each server then starts on a "
        "fresh copy of each directory (appendonly yes, the same options), timed from "
        "just before the process is created until PING answers +PONG on its Unix socket "
        f"(tried every {LOAD_POLL * 1e3:g} ms; -LOADING and refused connections are "
        "retried); the load time each server logs ('DB loaded from append only file: X "
        "seconds') is shown too; DBSIZE checked")
    w = f"{W15} ({expect:,} keys; start until the first PONG)"
    wl = f"{W15L} ({expect:,} keys)"
    names = [f"{LABEL[src]}'s files, {vlabel}" for _, vlabel in VARIANTS for src in KINDS]
    for wname in (w, wl):               # the rows in this order, each table in one piece
        for name in names:
            res.row(wname, name, "s", "lower")
    top = tempfile.mkdtemp(prefix="aof15-", dir=cfg.workdir)
    try:
        files = {kind: _make_files(cfg, kind, chunks, expect, top) for kind in KINDS}
        for rnd in range(cfg.rounds):
            for variant, vlabel in VARIANTS:
                for src in KINDS:
                    name = f"{LABEL[src]}'s files, {vlabel}"
                    for kind in KINDS:
                        took, logged = _load_one(cfg, kind, files[src][variant], top,
                                                 expect, f"{rnd}-{variant}-{src}")
                        progress(f"round {rnd + 1}/{cfg.rounds} {W15}: {LABEL[kind]} "
                                 f"on {LABEL[src]}'s files ({variant}): PONG after "
                                 f"{took:.3f} s (it logged a load of "
                                 f"{'-' if logged is None else f'{logged:.3f}'} s)")
                        res.add(w, name, "s", "lower", kind, rnd, took)
                        res.add(wl, name, "s", "lower", kind, rnd, logged)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    for variant, vlabel in VARIANTS:
        _pair_own(res, w, f"{LABEL[OURS]}'s files, {vlabel}",
                  f"{LABEL[REDIS]}'s files, {vlabel}", f"each its own files, {vlabel}")


def _load_one(cfg: Config, kind: str, src: str, top: str, expect: int,
              tag: str) -> Tuple[float, Optional[float]]:
    """Start a server of kind on a fresh copy of the AOF directory src,
    timed (_timed_start); check DBSIZE; stop it. Returns (seconds to
    PONG, the load time it logged or None)."""
    data = _fresh_dir(top, "load")
    shutil.copytree(src, os.path.join(data, AOF_DIRNAME))
    log = os.path.join(top, f"load-{kind}-{tag}.log")
    try:
        took, proc, unix = _timed_start(cfg, kind, data, log)
        try:
            with RawConn(unix=unix) as c:
                size = c.call(b"DBSIZE")
            if size != expect:
                raise BenchError(f"{LABEL[kind]} loaded {size} keys from {src}, not "
                                 f"{expect}")
            logged = _logged_load(log)
        finally:
            stop_process(proc)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return took, logged


def _pair_own(res: Results, w: str, ours_files: str, redis_files: str, name: str) -> None:
    """Row name of 15c: ours loading its own files (row ours_files) against
    redis-server loading its own (row redis_files), per round."""
    a, b = res.find(w, ours_files), res.find(w, redis_files)
    if a is None or b is None:
        return
    row = res.row(W15B, name, "s", "lower", ours_label="tiny-mp-cache on its own",
                  redis_label="redis-server on its own")
    row.ours = list(a.ours)
    row.redis = list(b.redis)


# ---- Targets ------------------------------------------------------------------------



def targets(res: Results) -> List[Dict[str, str]]:
    """Issue 11's targets with the measured ratio (median of the per-round
    ratios) and met / MISSED / not measured, as report.targets gives
    those of issues 5, 9 and 10."""
    out: List[Dict[str, str]] = []

    def add(what: str, r: Optional[Row], goal: float, higher: bool, fmt: str) -> None:
        v = r.ratio() if r is not None else None
        if v is None:
            out.append({"target": what, "measured": "-", "verdict": "not measured"})
            return
        ok = v >= goal if higher else v <= goal
        meds = ""
        if r.median(OURS) is not None and r.median(REDIS) is not None:
            meds = f" ({fmt.format(r.median(OURS))} vs {fmt.format(r.median(REDIS))})"
        out.append({"target": what, "measured": f"{v:.2f}x{meds}",
                    "verdict": "met" if ok else "MISSED"})

    for fsync in FSYNC_MODES:
        add(f"redis-benchmark SET -c 50 -P 1, appendonly yes, appendfsync {fsync}: "
            "ours >= 1.0x redis", res.find_numbered("13", f"SET -P 1, appendfsync {fsync}"),
            1.0, True, "{:,.0f}/s")
    for _, vlabel in REWRITE_VARIANTS:
        rows = dict(_rewrite_rows(vlabel))
        wall, extra = list(rows)[0], list(rows)[2]
        add(f"BGREWRITEAOF wall time, {vlabel}: ours <= redis", res.find_numbered("14", wall),
            1.0, False, "{:,.0f} ms")
        add(f"BGREWRITEAOF peak extra memory, {vlabel}: ours <= redis",
            res.find_numbered("14", extra), 1.0, False, "{:.1f} MB")
    for src in KINDS:
        for _, vlabel in VARIANTS:
            add(f"start until the first PONG on {LABEL[src]}'s files, {vlabel}: ours "
                "<= 0.7x redis", res.find_numbered("15", f"{LABEL[src]}'s files, {vlabel}"), 0.7,
                False, "{:.3f} s")
    return out


WORKLOADS = {
    "13": ("aof-benchmark", aof_benchmark),
    "14": ("aof-rewrite", aof_rewrite),
    "15": ("aof-load", aof_load),
}
