# SPDX-License-Identifier: MIT
"""The seven workloads of the benchmark harness (bench/run).

Each workload function takes the Config and the Results, runs its rounds
(tiny-mp-cache, then redis-server, for every row in every round: A B A B)
and records one value per side per round.
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import json
import multiprocessing as mp
import os
import queue
import random
import re
import resource
import socket
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from benchlib import (HOST, KINDS, LABEL, OURS, REDIS, BenchError, Config,
                      RawConn, Results, Server, cmd_chunks, del_chunks, encode, progress,
                      reap, set_chunks)

VALUE32 = b"v" * 32                 # the 32-byte value of workloads 2-4

# ---- 1. redis-benchmark ------------------------------------------------------

W1 = "1 redis-benchmark"


# Rows that also report redis-benchmark's own CPU use.
CLIENT_CPU_ROWS = ("-P 1, TCP", "-P 16, TCP")


def rb_configs(cfg: Config) -> List[Tuple[str, List[str], int]]:
    """(row label, extra redis-benchmark options, -n) of each invocation."""
    # Each run lasts about a second or more (P 1: ~100k/s, P 16: ~1.4M/s
    # here), so connection setup and scheduler noise weigh little.
    n1, n16 = (30_000, 300_000) if cfg.quick else (150_000, 1_500_000)
    return [
        ("-P 1, TCP", ["-P", "1"], n1),
        ("-P 16, TCP", ["-P", "16"], n16),
        ("-P 1, Unix socket", ["-P", "1", "@unix"], n1),
        ("-P 16, Unix socket", ["-P", "16", "@unix"], n16),
        ("-P 1 -d 1024, TCP", ["-P", "1", "-d", "1024"], n1),
        ("-P 16 -d 1024, TCP", ["-P", "16", "-d", "1024"], n16),
    ]


def redis_benchmark(cfg: Config, res: Results) -> None:
    """Workload 1: redis-benchmark -t set,get -c 50 at -P 1 and -P 16, TCP
    and Unix socket, 3-byte (default) and 1024-byte values."""
    if not cfg.redis_benchmark:
        res.failures.append(f"{W1}: redis-benchmark not found, skipped")
        return
    from benchlib import parse_redis_benchmark_csv
    for rnd in range(cfg.rounds):
        servers = {k: Server(cfg, k, tag=f"-rb{rnd}") for k in KINDS}
        try:
            for label, extra, n in rb_configs(cfg):
                for kind in KINDS:
                    s = servers[kind]
                    where = (["-s", s.unix] if "@unix" in extra
                             else ["-h", HOST, "-p", str(s.port)])
                    opts = [o for o in extra if o != "@unix"]
                    argv = ([cfg.redis_benchmark] + where +
                            ["-t", "set,get", "-c", "50", "-n", str(n)] + opts + ["--csv"])
                    res.commands.append(" ".join(argv))
                    progress(f"round {rnd + 1}/{cfg.rounds} {W1} {label} n={n} "
                             f"-> {LABEL[kind]}")
                    ru0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
                    try:
                        r = subprocess.run(argv, capture_output=True, text=True,
                                           timeout=300, check=False)
                        rps = parse_redis_benchmark_csv(r.stdout)
                    except subprocess.TimeoutExpired:
                        rps = {}
                    ru1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
                    for test in ("SET", "GET"):
                        v = rps.get(test)
                        if v is None:
                            res.failures.append(f"{W1} {test} {label} {LABEL[kind]} "
                                                f"round {rnd + 1}: no result")
                        res.add(W1, f"{test} {label}", "req/s", "higher", kind, rnd, v)
                    if label in CLIENT_CPU_ROWS and rps:
                        # How busy the load generator itself was: near 100%
                        # of a core, it (not the server) sets the pace.
                        busy = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
                        res.add(W1, f"redis-benchmark CPU, {label}", "% of a core",
                                "higher", kind, rnd, 100.0 * busy / (t1 - t0))
                    if servers[kind].proc.poll() is not None:
                        raise BenchError(f"{LABEL[kind]} died during redis-benchmark")
            _rb_set_ex(cfg, res, servers, rnd)
        finally:
            for s in servers.values():
                s.stop()


# The command of the SET EX row: random keys among a million, a TTL each.
RB_SET_EX = ["SET", "key:__rand_int__", "v", "EX", "100"]


def _rb_set_ex(cfg: Config, res: Results, servers: Dict[str, Server], rnd: int) -> None:
    """The SET EX row of workload 1: redis-benchmark -c 50 -P 1 -r 1000000
    running `SET key:__rand_int__ v EX 100` over TCP, against each server."""
    n = 30_000 if cfg.quick else 150_000
    label = "SET key:__rand_int__ v EX 100 (-r 1000000), -P 1, TCP"
    for kind in KINDS:
        s = servers[kind]
        argv = ([cfg.redis_benchmark, "-h", HOST, "-p", str(s.port), "-c", "50", "-n",
                 str(n), "-r", "1000000", "-P", "1", "--csv"] + RB_SET_EX)
        res.commands.append(" ".join(argv))
        progress(f"round {rnd + 1}/{cfg.rounds} {W1} SET EX n={n} -> {LABEL[kind]}")
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                               check=False)
            rows = [line.split('","') for line in r.stdout.splitlines()
                    if line.startswith('"SET key:')]
            v: Optional[float] = float(rows[-1][1]) if rows else None
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            v = None
        if v is None:
            res.failures.append(f"{W1} SET EX {LABEL[kind]} round {rnd + 1}: no result")
        res.add(W1, label, "req/s", "higher", kind, rnd, v)


# ---- 2. Memory ---------------------------------------------------------------

W2 = "2 memory"


def _settle_rss(servers: Dict[str, Server], start: Dict[str, Tuple[int, float]],
                quiet: float, max_wait: float) -> Dict[str, Tuple[int, float]]:
    """Poll the servers' RSS every 0.25 s until each has not fallen for
    quiet seconds (at most max_wait seconds). start gives each server's
    (RSS, monotonic time) right after its deletion; return for each its
    lowest RSS and the seconds from its deletion to the last fall seen."""
    t0 = time.monotonic()
    low = {k: v[0] for k, v in start.items()}
    when = {k: v[1] for k, v in start.items()}
    while True:
        now = time.monotonic()
        for k, s in servers.items():
            r = s.rss()
            if r < low[k] - 64 * 1024:
                when[k] = now
            low[k] = min(low[k], r)
        settled = all(now - max(when[k], t0) >= quiet for k in servers)
        if now - t0 >= max_wait or settled:
            return {k: (low[k], when[k] - start[k][1]) for k in servers}
        time.sleep(0.25)


def memory(cfg: Config, res: Results) -> None:
    """Workload 2: RSS and used_memory per key for N keys key:<n> with
    32-byte values over the empty server, then the RSS after deleting them
    all (DEL in batches of 1000; then, loaded again, FLUSHALL). Fresh
    servers each round; the waits for freed memory to be returned run for
    both servers at once."""
    nkeys = 200_000 if cfg.quick else 1_000_000
    # redis-server's jemalloc starts returning freed pages ~3.5 s after a
    # mass DEL and is done ~10 s after it: so wait for 4.5 s without a fall.
    # The quick run waits 1.5 s only, which does not see redis's return.
    quiet, settle = (1.5, 3.0) if cfg.quick else (4.5, 16.0)
    keys = [b"key:%d" % i for i in range(nkeys)]
    loads = set_chunks(keys, VALUE32, 10_000)
    dels = del_chunks(keys, 1000, 10)
    res.params["memory_keys"] = nkeys
    res.params["memory_settle"] = (f"poll RSS every 0.25 s until it has not fallen "
                                   f"for {quiet} s, at most {settle} s")
    w = f"{W2} ({nkeys:,} keys)"

    def add(name: str, unit: str, better: str, kind: str, rnd: int, v: Optional[float],
            ratio: bool = True) -> None:
        res.add(w, name, unit, better, kind, rnd, v)
        res.row(w, name, unit, better).no_ratio = not ratio

    def load(s: Server) -> float:
        with s.conn() as c:
            t = time.monotonic()
            errs = c.pipeline(loads)
            took = time.monotonic() - t
            if errs or c.call(b"DBSIZE") != nkeys:
                raise BenchError(f"{LABEL[s.kind]}: loading {nkeys} keys failed")
        return took

    for rnd in range(cfg.rounds):
        servers = {k: Server(cfg, k, tag=f"-mem{rnd}") for k in KINDS}
        try:
            time.sleep(0.2)
            rss0 = {}
            rss1 = {}
            for kind, s in servers.items():
                progress(f"round {rnd + 1}/{cfg.rounds} {W2}: load {nkeys:,} keys "
                         f"-> {LABEL[kind]}")
                rss0[kind] = s.rss()
                used0 = int(s.info()["used_memory"])
                took = load(s)
                rss1[kind] = s.rss()
                used1 = int(s.info()["used_memory"])
                add("empty server RSS", "MB", "lower", kind, rnd, rss0[kind] / 1e6)
                add("RSS per key (over empty)", "bytes", "lower", kind, rnd,
                    (rss1[kind] - rss0[kind]) / nkeys)
                add("used_memory per key (INFO)", "bytes", "lower", kind, rnd,
                    (used1 - used0) / nkeys)
                add("pipelined SET load rate", "keys/s", "higher", kind, rnd,
                    nkeys / took)
            for how in ("DEL", "FLUSHALL"):
                if how == "FLUSHALL":
                    for kind, s in servers.items():
                        progress(f"round {rnd + 1}/{cfg.rounds} {W2}: load again "
                                 f"-> {LABEL[kind]}")
                        load(s)
                        rss1[kind] = s.rss()
                after = {}
                for kind, s in servers.items():
                    progress(f"round {rnd + 1}/{cfg.rounds} {W2}: {how} "
                             f"{'in batches of 1000 ' if how == 'DEL' else ''}"
                             f"-> {LABEL[kind]}")
                    with s.conn() as c:
                        if how == "DEL":
                            c.pipeline(dels)
                        else:
                            c.call(b"FLUSHALL")
                        if c.call(b"DBSIZE") != 0:
                            raise BenchError(f"{LABEL[kind]}: {how} left keys behind")
                    after[kind] = (s.rss(), time.monotonic())
                    add(f"RSS after {how}, right after", "MB", "lower", kind, rnd,
                        after[kind][0] / 1e6)
                progress(f"  waiting for the RSS to settle ({quiet:g} s without a fall, "
                         f"at most {settle:g} s)")
                settled = _settle_rss(servers, after, quiet, settle)
                for kind in KINDS:
                    low, when = settled[kind]
                    add(f"RSS after {how}, settled", "MB", "lower", kind, rnd, low / 1e6)
                    add(f"share of the growth returned after {how}", "%", "higher",
                        kind, rnd, 100.0 * (rss1[kind] - low) / (rss1[kind] - rss0[kind]),
                        ratio=False)
                    add(f"seconds from {how} to the last RSS fall", "s", "lower",
                        kind, rnd, when, ratio=False)
                    progress(f"  {LABEL[kind]}: {rss0[kind] / 1e6:.1f} MB empty, "
                             f"{rss1[kind] / 1e6:.1f} MB loaded, {low / 1e6:.1f} MB "
                             f"{when:.1f} s after {how}")
        finally:
            for s in servers.values():
                s.stop()
        _memory_ttl(cfg, res, w, keys, nkeys, rnd, add)


def _memory_ttl(cfg: Config, res: Results, w: str, keys: Sequence[bytes], nkeys: int,
                rnd: int, add: Callable[..., None]) -> None:
    """The TTL rows of workload 2: fresh servers take the same keys with
    `SET key value EX 100000` (the same TTL for both; none expires during
    the measurement); bytes per key by RSS and by used_memory."""
    head = b"*5\r\n$3\r\nSET\r\n"
    tail = b"$%d\r\n%s\r\n$2\r\nEX\r\n$6\r\n100000\r\n" % (len(VALUE32), VALUE32)
    loads = [(b"".join(head + b"$%d\r\n%s\r\n" % (len(k), k) + tail
                       for k in keys[i:i + 10_000]), len(keys[i:i + 10_000]))
             for i in range(0, nkeys, 10_000)]
    servers = {k: Server(cfg, k, tag=f"-memttl{rnd}") for k in KINDS}
    try:
        time.sleep(0.2)
        for kind, s in servers.items():
            progress(f"round {rnd + 1}/{cfg.rounds} {W2}: load {nkeys:,} keys with "
                     f"EX 100000 -> {LABEL[kind]}")
            rss0 = s.rss()
            used0 = int(s.info()["used_memory"])
            with s.conn() as c:
                if c.pipeline(loads) or c.call(b"DBSIZE") != nkeys:
                    raise BenchError(f"{LABEL[kind]}: loading {nkeys} keys with a TTL "
                                     "failed")
            add("RSS per key with a TTL (over empty)", "bytes", "lower", kind, rnd,
                (s.rss() - rss0) / nkeys)
            add("used_memory per key with a TTL (INFO)", "bytes", "lower", kind, rnd,
                (int(s.info()["used_memory"]) - used0) / nkeys)
    finally:
        for s in servers.values():
            s.stop()


# ---- 3. Instructions per request (callgrind) ----------------------------------

W3 = "3 server instructions (callgrind)"
CG_DEPTH = 16


def _cg_total(path: str) -> int:
    """The total Ir of one callgrind output file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = (re.search(r"^totals:\s*(\d+)", text, re.M)
         or re.search(r"^summary:\s*(\d+)", text, re.M))
    if not m:
        raise BenchError(f"no totals in {path}")
    return int(m.group(1))


class _Callgrind:
    """A server running under valgrind --tool=callgrind."""

    def __init__(self, cfg: Config, kind: str, tag: str) -> None:
        self.cfg = cfg
        self.out = os.path.join(cfg.workdir, f"callgrind.{kind}.{tag}.out")
        for old in glob.glob(self.out + "*"):
            os.unlink(old)
        wrapper = [cfg.valgrind or "valgrind", "--tool=callgrind",
                   f"--callgrind-out-file={self.out}"]
        self.srv = Server(cfg, kind, wrapper=wrapper, tag=f"-cg{tag}")
        self.dumps = 0

    def control(self, opt: str) -> None:
        """callgrind_control -z (zero) or -d (dump) the server."""
        assert self.cfg.callgrind_control
        r = subprocess.run([self.cfg.callgrind_control, opt, str(self.srv.pid)],
                           capture_output=True, text=True, timeout=60, check=False)
        if r.returncode != 0 or "OK" not in r.stdout:
            raise BenchError(f"callgrind_control {opt} failed: "
                             f"{(r.stdout + r.stderr).strip()[:200]}")
        if opt == "-d":
            self.dumps += 1
            path = f"{self.out}.{self.dumps}"
            deadline = time.monotonic() + 30
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.05)

    def dumped(self, i: int) -> int:
        return _cg_total(f"{self.out}.{i}")

    def rename(self, names: Sequence[str]) -> None:
        """Give the dump files (1, 2, ...) the phase names, for people
        reading them with callgrind_annotate."""
        base = self.out[:-len(".out")]
        for i, name in enumerate(names, 1):
            if os.path.exists(f"{self.out}.{i}"):
                os.replace(f"{self.out}.{i}", f"{base}.{name}.out")
        if os.path.exists(self.out):
            os.replace(self.out, f"{base}.{'shutdown' if names else 'total'}.out")

    def stop(self) -> int:
        """Stop the server (SIGTERM); return the Ir of the final file."""
        status = self.srv.stop()
        if status != 0:
            raise BenchError(f"server under callgrind exited with {status}")
        return _cg_total(self.out)


def _cg_phases(n: int) -> List[Tuple[str, List[Tuple[bytes, int]]]]:
    """The measured phases, in order: (name, pipelined chunks). SET EX
    writes other keys than SET, so that it creates keys too."""
    keys = [b"key:%d" % i for i in range(n)]
    ex_keys = [b"exp:%d" % i for i in range(n)]
    return [("SET", set_chunks(keys, VALUE32, CG_DEPTH)),
            ("GET", cmd_chunks(b"GET", keys, CG_DEPTH)),
            ("SET EX", [(b"".join(encode(b"SET", k, VALUE32, b"EX", b"100")
                                  for k in ex_keys[i:i + CG_DEPTH]),
                         len(ex_keys[i:i + CG_DEPTH]))
                        for i in range(0, n, CG_DEPTH)])]


def _run_phase(srv: Server, chunks: List[Tuple[bytes, int]]) -> float:
    with srv.conn() as c:
        t = time.monotonic()
        if c.pipeline(chunks):
            raise BenchError("error replies in the callgrind workload")
        return time.monotonic() - t


def callgrind(cfg: Config, res: Results) -> None:
    """Workload 3: user-space instructions (callgrind Ir) per pipelined SET,
    GET and SET EX (depth 16, N distinct keys, 32-byte values, EX 100) on
    each server.

    With callgrind_control: zero the counters once the server is up, dump
    after 1 s idle (the idle rate) and after each phase; a phase's Ir
    minus idle rate x its duration, over N. Without it: one run per prefix
    of the phases (idle; SET; SET + GET; ...) and differences of their
    totals."""
    if not cfg.valgrind:
        res.failures.append(f"{W3}: valgrind not found, skipped")
        return
    n = 10_000 if cfg.quick else 100_000
    idle = 0.5 if cfg.quick else 1.0
    phases = _cg_phases(n)
    res.params["callgrind_requests_per_phase"] = n
    res.params["callgrind_pipeline_depth"] = CG_DEPTH
    use_control = bool(cfg.callgrind_control)
    w = f"{W3} ({n:,} each of SET, GET, SET EX; -P {CG_DEPTH})"
    for rnd in range(cfg.rounds):
        for kind in KINDS:
            progress(f"round {rnd + 1}/{cfg.rounds} {W3} -> {LABEL[kind]}"
                     f"{'' if use_control else ' (one run per phase)'}")
            if use_control:
                try:
                    per, idle_rate = _cg_with_control(cfg, kind, rnd, phases, n, idle)
                    res.params["callgrind_method"] = "callgrind_control zero/dump"
                except BenchError as e:
                    progress(f"  callgrind_control did not work ({e}); "
                             "falling back to one run per phase")
                    use_control = False
            if not use_control:
                per, idle_rate = _cg_runs(cfg, kind, rnd, phases, n)
                res.params["callgrind_method"] = "one run per prefix of the phases"
            progress(f"  {LABEL[kind]}: " + ", ".join(f"{v:,.0f} Ir/{name}"
                                                      for name, v in per.items()))
            for name, v in per.items():
                res.add(w, f"instructions per {name}", "Ir", "lower", kind, rnd, v)
            if idle_rate is not None:
                res.add(w, "idle instructions per second (subtracted)", "Ir/s",
                        "lower", kind, rnd, idle_rate)


def _cg_with_control(cfg: Config, kind: str, rnd: int,
                     phases: List[Tuple[str, List[Tuple[bytes, int]]]], n: int,
                     idle: float, tag: str = "") -> Tuple[Dict[str, float], Optional[float]]:
    """Zero the counters of a fresh server under callgrind, dump after idle
    seconds and after each phase; return (Ir per request of each phase,
    idle Ir per second). tag tells this workload's files from others'."""
    cg = _Callgrind(cfg, kind, f"{tag}round{rnd + 1}")
    took = []
    try:
        cg.control("-z")
        t = time.monotonic()
        time.sleep(idle)
        cg.control("-d")
        t_idle = time.monotonic() - t
        for _, chunks in phases:
            took.append(_run_phase(cg.srv, chunks))
            cg.control("-d")
    finally:
        cg.stop()
    rate = cg.dumped(1) / t_idle
    per = {name: (cg.dumped(i + 2) - rate * took[i]) / n
           for i, (name, _) in enumerate(phases)}
    cg.rename(["idle"] + [name.lower().replace(" ", "") for name, _ in phases])
    return per, rate


def _cg_runs(cfg: Config, kind: str, rnd: int,
             phases: List[Tuple[str, List[Tuple[bytes, int]]]],
             n: int, tag: str = "") -> Tuple[Dict[str, float], Optional[float]]:
    """Without callgrind_control: one run per prefix of the phases; return
    (Ir per request of each phase from the differences, None)."""
    totals = []
    for upto in range(len(phases) + 1):
        cg = _Callgrind(cfg, kind, f"{tag}round{rnd + 1}.run{upto}")
        try:
            for _, chunks in phases[:upto]:
                _run_phase(cg.srv, chunks)
        finally:
            totals.append(cg.stop())
        cg.rename([])
    return {name: (totals[i + 1] - totals[i]) / n
            for i, (name, _) in enumerate(phases)}, None


# ---- 4. Python, one process ---------------------------------------------------

W4 = "4 Python, one client process"
W4C = "4b Python clients compared (both -> tiny-mp-cache unless named)"
PY_KEY = "key:1"
PY_KEYB = PY_KEY.encode()
CHUNK = 128


def _rate(op: Callable[[], object], n: int, cap: float) -> float:
    """ops/s of op over n calls (fewer if cap seconds pass first), after a
    short untimed warm-up."""
    for _ in range(min(200, n)):
        op()
    done = 0
    t0 = time.perf_counter()
    while done < n:
        for _ in range(CHUNK):
            op()
        done += CHUNK
        if time.perf_counter() - t0 > cap:
            break
    return done / (time.perf_counter() - t0)


def _raw_ops(port: int, reply_len: Dict[str, int]) -> Tuple[Dict[str, Callable], Callable]:
    """The raw-socket floor: one persistent socket, a pre-encoded command,
    sendall + recv_into until the known reply length has arrived."""
    s = socket.create_connection((HOST, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(65536)
    view = memoryview(buf)
    cmds = {"GET": encode(b"GET", PY_KEYB), "SET": encode(b"SET", PY_KEYB, VALUE32)}

    def make(op: str) -> Callable[[], None]:
        cmd, want = cmds[op], reply_len[op]
        send, recv_into = s.sendall, s.recv_into

        def run() -> None:
            send(cmd)
            got = recv_into(view)
            while got < want:
                got += recv_into(view[got:])
        return run
    return {op: make(op) for op in cmds}, s.close


def _conn_per_op(port: int, reply_len: Dict[str, int]) -> Dict[str, Callable]:
    """The original tiny-mp-cache design: a new TCP connection per op."""
    cmds = {"GET": encode(b"GET", PY_KEYB), "SET": encode(b"SET", PY_KEYB, VALUE32)}

    def make(op: str) -> Callable[[], None]:
        cmd, want = cmds[op], reply_len[op]

        def run() -> None:
            s = socket.create_connection((HOST, port))
            try:
                s.sendall(cmd)
                got = b""
                while len(got) < want:
                    d = s.recv(65536)
                    if not d:
                        raise BenchError("connection closed")
                    got += d
            finally:
                s.close()
        return run
    return {op: make(op) for op in cmds}


def python_clients(cfg: Config, res: Results) -> None:
    """Workload 4: ops/s of GET and SET from one Python process with
    TinyCache, redis-py (+hiredis), a raw socket and a connection per op,
    against both servers, client and server pinned to the same CPU and
    (with 2+ CPUs) to different CPUs."""
    try:
        from tiny_mp_cache import TinyCache
    except ImportError as e:
        TinyCache = None
        res.failures.append(f"{W4}: tiny_mp_cache is not importable ({e}); "
                            "TinyCache rows skipped")
    try:
        import redis
        from redis.utils import HIREDIS_AVAILABLE
        rp_label = "redis-py+hiredis" if HIREDIS_AVAILABLE else "redis-py (no hiredis)"
    except ImportError:
        redis = None
        rp_label = "redis-py"
        res.failures.append(f"{W4}: redis-py is not importable in {sys.executable}; "
                            "its rows skipped (give --python a Python with redis-py)")
    n = 2_000 if cfg.quick else 10_000
    n_conn = 300 if cfg.quick else 1_500
    cap = 0.4 if cfg.quick else 1.0
    res.params["python_ops"] = n
    res.params["python_ops_connection_per_op"] = n_conn
    res.params["python_cap_s"] = cap
    reply_len = {"GET": len(b"$32\r\n") + 32 + 2, "SET": len(b"+OK\r\n")}
    cpus = cfg.cpus
    placements = [("same CPU", cpus[0], cpus[0])]
    if len(cpus) > 1:
        placements.append(("different CPUs", cpus[0], cpus[1]))
    else:
        res.notes.append(f"{W4}: one usable CPU, so only the same-CPU placement")
    res.params["python_placements"] = {p: {"server_cpu": s, "client_cpu": c}
                                       for p, s, c in placements}
    clients = []
    if TinyCache is not None:
        clients.append("TinyCache")
    if redis is not None:
        clients.append(rp_label)
    clients += ["raw socket floor", "new connection per op"]
    old_affinity = os.sched_getaffinity(0)
    try:
        for rnd in range(cfg.rounds):
            for place, scpu, ccpu in placements:
                progress(f"round {rnd + 1}/{cfg.rounds} {W4}, {place} "
                         f"(server CPU {scpu}, client CPU {ccpu})")
                servers = {k: Server(cfg, k, cpus=[scpu], tag=f"-py{rnd}") for k in KINDS}
                os.sched_setaffinity(0, {ccpu})
                try:
                    for s in servers.values():
                        with s.conn() as c:
                            c.call(b"SET", PY_KEYB, VALUE32)
                    for op in ("GET", "SET"):
                        for client in clients:
                            for kind in KINDS:
                                port = servers[kind].port
                                v = _measure_client(client, op, port, n, n_conn, cap,
                                                    reply_len, TinyCache, redis)
                                res.add(W4, f"{op}, {client}, {place}", "ops/s", "higher",
                                        kind, rnd, v)
                finally:
                    os.sched_setaffinity(0, old_affinity)
                    for s in servers.values():
                        s.stop()
    finally:
        os.sched_setaffinity(0, old_affinity)
    _python_derived(res, clients, placements, rp_label)


def _measure_client(client: str, op: str, port: int, n: int, n_conn: int, cap: float,
                    reply_len: Dict[str, int], TinyCache, redis) -> float:
    if client == "TinyCache":
        c = TinyCache(f"{HOST}:{port}")
        try:
            fn = ((lambda: c.get(PY_KEY)) if op == "GET"
                  else (lambda: c.set(PY_KEY, VALUE32)))
            if op == "GET" and c.get(PY_KEY) != VALUE32:
                raise BenchError("TinyCache.get returned a wrong value")
            return _rate(fn, n, cap)
        finally:
            c.close()
    if client.startswith("redis-py"):
        r = redis.Redis(host=HOST, port=port)
        try:
            fn = ((lambda: r.get(PY_KEY)) if op == "GET"
                  else (lambda: r.set(PY_KEY, VALUE32)))
            if op == "GET" and r.get(PY_KEY) != VALUE32:
                raise BenchError("redis-py get returned a wrong value")
            return _rate(fn, n, cap)
        finally:
            r.close()
    if client == "raw socket floor":
        ops, close = _raw_ops(port, reply_len)
        try:
            return _rate(ops[op], n, cap)
        finally:
            close()
    ops = _conn_per_op(port, reply_len)
    return _rate(ops[op], n_conn, cap)


def _python_derived(res: Results, clients: List[str], placements, rp_label: str) -> None:
    """Client-against-client rows from the per-round values of workload 4."""
    def vals(op: str, client: str, place: str, side: str) -> List[Optional[float]]:
        r = res.find(W4, f"{op}, {client}, {place}")
        return list(getattr(r, side)) if r else []

    if "TinyCache" not in clients:
        return
    for place, _, _ in placements:
        for op in ("GET", "SET"):
            tc = vals(op, "TinyCache", place, OURS)
            pairs = [(rp_label, rp_label, OURS),
                     ("raw socket floor", "raw socket floor", OURS),
                     ("new connection per op", "new connection per op", OURS),
                     (f"{rp_label} -> redis-server", rp_label, REDIS)]
            for label, client, side in pairs:
                other = vals(op, client, place, side)
                if not other:
                    continue
                row = res.row(W4C, f"{op}, {place}: TinyCache vs {label}", "ops/s",
                              "higher", ours_label="TinyCache", redis_label=label)
                row.ours = list(tc)
                row.redis = other


# ---- 5. Job queue --------------------------------------------------------------

W5 = "5 job queue"
JOB_TIMEOUT = 120                   # seconds without a worker's result
JOB_ROW = "keys + pop: TinyCache -> ours | redis-py -> redis"
MPQ_ROW = "multiprocessing.Queue (reference; ours column)"
BATCH = 100


def _load_jobs(srv: Server, n: int) -> None:
    keys = [b"job:%d" % i for i in range(n)]
    chunks = []
    for i in range(0, n, 1000):
        part = range(i, min(n, i + 1000))
        chunks.append((b"".join(encode(b"SET", keys[j], json.dumps(
            {"id": j, "payload": f"data-{j}"}).encode()) for j in part), len(part)))
    with srv.conn() as c:
        c.call(b"FLUSHALL")
        if c.pipeline(chunks) or c.call(b"DBSIZE") != n:
            raise BenchError("loading the jobs failed")


def _worker(recipe: str, wid: int, nworkers: int, port: int, barrier, results) -> None:
    """One worker process: take jobs until none are left; send the ids."""
    ids: List[int] = []
    try:
        if recipe == "mp.Queue":
            q = port            # the job queue itself
            barrier.wait()
            while True:
                raw = q.get()
                if raw is None:
                    break
                ids.append(json.loads(raw)["id"])
        elif recipe.startswith("TinyCache"):
            from tiny_mp_cache import TinyCache
            cache = TinyCache(f"{HOST}:{port}")
            cache.ping()
            barrier.wait()
            if recipe == "TinyCache":
                while True:
                    keys = cache.keys("job:*")
                    if not keys:
                        break
                    for key in keys:
                        raw = cache.pop(key)
                        if raw is None:
                            continue
                        ids.append(json.loads(raw)["id"])
            else:
                while True:
                    keys = cache.keys("job:*")
                    if not keys:
                        break
                    start = len(keys) * wid // nworkers
                    keys = keys[start:] + keys[:start]
                    for i in range(0, len(keys), BATCH):
                        chunk = keys[i:i + BATCH]
                        got = cache.pop_many(chunk)
                        vals = (got.values() if isinstance(got, dict) else got)
                        for raw in vals:
                            if raw is not None:
                                ids.append(json.loads(raw)["id"])
        else:
            import redis
            r = redis.Redis(host=HOST, port=port)
            r.ping()
            barrier.wait()
            if recipe == "redis-py":
                while True:
                    keys = r.keys("job:*")
                    if not keys:
                        break
                    for key in keys:
                        raw = r.getdel(key)
                        if raw is None:
                            continue
                        ids.append(json.loads(raw)["id"])
            else:
                while True:
                    keys = r.keys("job:*")
                    if not keys:
                        break
                    start = len(keys) * wid // nworkers
                    keys = keys[start:] + keys[:start]
                    for i in range(0, len(keys), BATCH):
                        pipe = r.pipeline(transaction=False)
                        for k in keys[i:i + BATCH]:
                            pipe.getdel(k)
                        for raw in pipe.execute():
                            if raw is not None:
                                ids.append(json.loads(raw)["id"])
        results.put((wid, ids, None))
    except BaseException as e:      # report, never hang the parent
        results.put((wid, ids, repr(e)))


def _run_jobs(recipe: str, port: int, njobs: int, nworkers: int) -> Tuple[float, str]:
    """Run nworkers worker processes on njobs jobs; return (jobs/s, the
    exactly-once verdict: "ok" or what went wrong)."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(nworkers + 1)
    results = ctx.Queue()
    jobq = ctx.Queue() if recipe == "mp.Queue" else None
    target = jobq if jobq is not None else port
    procs = [ctx.Process(target=_worker, args=(recipe, w, nworkers, target, barrier, results),
                         daemon=True) for w in range(nworkers)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=60)
        t0 = time.perf_counter()
        if jobq is not None:
            for j in range(njobs):
                jobq.put(json.dumps({"id": j, "payload": f"data-{j}"}).encode())
            for _ in range(nworkers):
                jobq.put(None)
        got: List[int] = []
        errors = []
        for _ in range(nworkers):
            try:
                _, ids, err = results.get(timeout=JOB_TIMEOUT)
            except queue.Empty:
                errors.append(f"no result from a worker in {JOB_TIMEOUT} s")
                break
            got.extend(ids)
            if err:
                errors.append(err)
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(30)
    finally:
        reap(procs)
    return njobs / elapsed, exactly_once(got, njobs, errors)


def exactly_once(got: Sequence[int], njobs: int, errors: Sequence[str] = ()) -> str:
    """"ok" if got holds each of 0 .. njobs-1 exactly once (and there were
    no errors), else what is wrong."""
    unique = set(got)
    dup = len(got) - len(unique)
    missing = njobs - len(unique & set(range(njobs)))
    stray = len(unique - set(range(njobs)))
    if not (errors or dup or missing or stray):
        return "ok"
    return (f"duplicates={dup} missing={missing}" + (f" unknown={stray}" if stray else "")
            + (f" worker errors: {errors[0]}" if errors else ""))


def job_queue(cfg: Config, res: Results) -> None:
    """Workload 5: 8 worker processes share the jobs (keys("job:*"), then
    pop each; zero work time): jobs/s and an exactly-once check."""
    njobs = 5_000 if cfg.quick else 20_000
    nworkers = 8
    res.params["jobs"] = njobs
    res.params["job_workers"] = nworkers
    res.params["job_batch"] = BATCH
    w = f"{W5} ({nworkers} workers, {njobs:,} jobs)"
    try:
        from tiny_mp_cache import TinyCache
        have_tc = True
        have_batch = hasattr(TinyCache, "pop_many")
    except ImportError:
        have_tc = have_batch = False
    have_rp = importlib.util.find_spec("redis") is not None
    if not have_rp:
        res.failures.append(f"{W5}: redis-py is not importable in {sys.executable}; "
                            "its rows skipped (give --python a Python with redis-py)")
    if not have_tc:
        res.failures.append(f"{W5}: tiny_mp_cache is not importable; its rows skipped")
    if not have_batch:
        res.notes.append(f"{W5}: TinyCache has no pop_many, so the batched row has "
                         "no tiny-mp-cache value")
    # (row, recipe for ours, recipe for redis); None: not measured
    rows = [(JOB_ROW,
             "TinyCache" if have_tc else None, "redis-py" if have_rp else None),
            (f"batched by {BATCH}: pop_many -> ours | redis-py pipeline -> redis",
             "TinyCache-batch" if have_batch else None,
             "redis-py-pipeline" if have_rp else None)]
    for rnd in range(cfg.rounds):
        for name, ours_recipe, redis_recipe in rows:
            for kind, recipe in ((OURS, ours_recipe), (REDIS, redis_recipe)):
                if recipe is None:
                    continue
                progress(f"round {rnd + 1}/{cfg.rounds} {W5}: {recipe} -> {LABEL[kind]}")
                with Server(cfg, kind, tag=f"-jobs{rnd}") as s:
                    _load_jobs(s, njobs)
                    rate, verdict = _run_jobs(recipe, s.port, njobs, nworkers)
                    with s.conn() as c:
                        left = c.call(b"DBSIZE")
                if left:
                    verdict += f"; {left} keys left"
                _verdict(res, w, name, kind, rnd, rate, verdict)
        progress(f"round {rnd + 1}/{cfg.rounds} {W5}: multiprocessing.Queue")
        rate, verdict = _run_jobs("mp.Queue", 0, njobs, nworkers)
        _verdict(res, w, MPQ_ROW, OURS, rnd, rate, verdict,
                 ours_label="multiprocessing.Queue", redis_label="-")


def _verdict(res: Results, w: str, name: str, kind: str, rnd: int, rate: float,
             verdict: str, **labels: str) -> None:
    res.add(w, name, "jobs/s", "higher", kind, rnd, rate, **labels)
    key = f"exactly_once:{name}:{kind}"
    res.checks.setdefault(key, []).append(verdict)
    if verdict != "ok":
        res.failures.append(f"{w} {name} {LABEL[kind]} round {rnd + 1}: "
                            f"exactly-once check FAILED: {verdict}")
    progress(f"  {rate:,.0f} jobs/s, exactly once: {verdict}")


# ---- 6. Eviction quality ---------------------------------------------------------

W6 = "6 eviction quality"
ZIPF_S = 0.99                       # the Zipf exponent of the key popularity
EVICT_SHARE = 0.10                  # maxmemory: this share of the dataset
EVICT_BATCH = 100                   # GETs a pipeline (then SETs for the misses)
EVICT_RATE = 300_000                # requests a second, the same for both servers
EVICT_POLICIES = ("allkeys-lru", "allkeys-lfu")
EVICT_MIXED = "half the keys with a TTL"     # a row's keyspace variant
# The runs: (policy, keyspace variant: "" for no TTLs, or EVICT_MIXED).
EVICT_RUNS = (("allkeys-lru", ""), ("allkeys-lfu", ""), ("allkeys-lru", EVICT_MIXED))


def zipf_requests(nkeys: int, count: int, seed: int) -> List[int]:
    """count key numbers drawn from Zipf(ZIPF_S) over nkeys keys: rank r
    has weight 1 / r^s, and a fixed random permutation maps the ranks to
    key numbers (so the hot keys are not key:0, key:1, ...)."""
    rng = random.Random(seed)
    cum = list(itertools.accumulate(1.0 / r ** ZIPF_S for r in range(1, nkeys + 1)))
    perm = list(range(nkeys))
    rng.shuffle(perm)
    return [perm[r] for r in rng.choices(range(nkeys), cum_weights=cum, k=count)]


def _evict_budget(s: Server, loads: List[Tuple[bytes, int]], nkeys: int) -> Tuple[int, float]:
    """Size maxmemory in s's own terms: the used_memory of s holding
    EVICT_SHARE of the keys (the first ones, loaded into the empty server
    EVICT_BATCH a pipeline through one connection, as the run sends them,
    and read through it, so that its buffers count as in the run; then
    flushed). Return (that maxmemory, used_memory per key held)."""
    want = int(nkeys * EVICT_SHARE)
    with s.conn() as c:
        c.call(b"CONFIG", b"SET", b"maxmemory", b"0")
        c.call(b"FLUSHALL")
        base = _used_memory(c)
        if c.pipeline(loads[:want // EVICT_BATCH]) or c.call(b"DBSIZE") != want:
            raise BenchError(f"{LABEL[s.kind]}: loading {want} keys failed")
        time.sleep(0.5)                 # idle time ends a table's resize
        used = _used_memory(c)
        c.call(b"FLUSHALL")
    return used, (used - base) / want


def _used_memory(c: RawConn) -> int:
    """used_memory from INFO memory, through c."""
    text = c.call(b"INFO", b"memory").decode()
    return int(re.search(r"^used_memory:(\d+)", text, re.M).group(1))


def _zipf_run(s: Server, reqs: Sequence[int], warm: int, gets: Sequence[bytes],
              sets: Sequence[bytes],
              calibrate: Callable[[RawConn], None]) -> Tuple[float, int, float]:
    """Play reqs against s at EVICT_RATE requests a second at most: GET
    each key, and SET it (32-byte value) when the GET missed, EVICT_BATCH
    GETs a pipeline; calibrate(conn) is called halfway through the first
    warm requests. Return (hit ratio over the requests after the first
    warm ones, error replies to the SETs, requests a second achieved).

    The rate is fixed because LRU's clock counts seconds: a server that
    went through the same requests in less time would see more of them
    per tick of the clock, and choose worse, for being faster."""
    hits = errors = 0
    half = warm // 2 // EVICT_BATCH * EVICT_BATCH
    with s.conn() as c:
        t0 = time.monotonic()
        for i in range(0, len(reqs), EVICT_BATCH):
            if i == half:
                calibrate(c)
            ahead = t0 + i / EVICT_RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            batch = reqs[i:i + EVICT_BATCH]
            c.sock.sendall(b"".join([gets[k] for k in batch]))
            got = c.bulk_hits(len(batch))
            miss = [k for k, hit in zip(batch, got) if not hit]
            if miss:
                c.sock.sendall(b"".join([sets[k] for k in miss]))
                errors += c.skip_replies(len(miss))
            if i >= warm:
                hits += len(batch) - len(miss)
        rate = len(reqs) / (time.monotonic() - t0)
    return hits / (len(reqs) - warm), errors, rate


def eviction(cfg: Config, res: Results) -> None:
    """Workload 6: the hit ratio of a cache under maxmemory. N keys, Zipf
    popularity; each request GETs a key and SETs it (32-byte value) on a
    miss. maxmemory is what each server itself uses to hold EVICT_SHARE of
    the keys, so both hold about as many keys and the policies are
    compared; a second run of ours under redis's maxmemory bytes shows
    what the smaller keys buy. The same request sequence everywhere."""
    nkeys = 200_000 if cfg.quick else 1_000_000
    count = nkeys                       # warm-up requests, then as many measured
    names = [b"key:%d" % i for i in range(nkeys)]
    gets = [b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k) for k in names]
    plain = [b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n" % (len(k), k, VALUE32)
             for k in names]
    # The odd keys with a TTL (long: none expires), the even ones without:
    # the allkeys policies then draw on both of our tables.
    ttl = b"$2\r\nEX\r\n$6\r\n100000\r\n"
    mixed = [c if i % 2 == 0 else b"*5" + c[2:] + ttl for i, c in enumerate(plain)]
    variants = {"": plain, EVICT_MIXED: mixed}
    loads = {v: [(b"".join(sets[i:i + EVICT_BATCH]), len(sets[i:i + EVICT_BATCH]))
                 for i in range(0, nkeys, EVICT_BATCH)] for v, sets in variants.items()}
    progress(f"{W6}: drawing {2 * count:,} Zipf({ZIPF_S}) requests over {nkeys:,} keys")
    reqs = zipf_requests(nkeys, 2 * count, seed=6)
    res.params["eviction_keys"] = nkeys
    res.params["eviction_requests"] = {"warm_up": count, "measured": count,
                                       "paced_at_per_s": EVICT_RATE}
    res.params["eviction_sizing"] = (
        f"maxmemory starts at the server's used_memory holding {EVICT_SHARE:.0%} of the "
        f"keys ({int(nkeys * EVICT_SHARE):,} keys key:0.., loaded into the empty server "
        f"{EVICT_BATCH} a pipeline through the connection that then reads INFO), and "
        "halfway through the warm-up it is corrected by (that many keys - DBSIZE) x "
        "used_memory per key, so that each server holds the same number of keys; the "
        "same-bytes rows give ours redis-server's final maxmemory")
    w = f"{W6} (Zipf {ZIPF_S}, {nkeys:,} keys, maxmemory: {EVICT_SHARE:.0%} of the keys)"

    def run(s: Server, policy: str, sets: Sequence[bytes], budget: int,
            per_key: Optional[float], rnd: int, label: str) -> int:
        """One run of the requests; with per_key, maxmemory is calibrated
        halfway through the warm-up so that s holds EVICT_SHARE of the
        keys. Returns the maxmemory in force at the end."""
        kind = s.kind
        final = budget

        def calibrate(c: RawConn) -> None:
            nonlocal final
            if per_key is None:
                return
            held = c.call(b"DBSIZE")
            final = budget + int((int(nkeys * EVICT_SHARE) - held) * per_key)
            c.call(b"CONFIG", b"SET", b"maxmemory", str(final).encode())

        with s.conn() as c:
            c.call(b"FLUSHALL")
        s.config_set(b"maxmemory", b"0", b"maxmemory-policy", policy.encode(),
                     b"maxmemory", str(budget).encode())
        cpu0 = s.cpu()
        ratio, errors, rate = _zipf_run(s, reqs, count, gets, sets, calibrate)
        cpu = s.cpu() - cpu0
        if errors:
            raise BenchError(f"{LABEL[kind]} {policy}: {errors} SETs refused")
        with s.conn() as c:
            held = c.call(b"DBSIZE")
        used = int(s.info()["used_memory"])
        rss = s.rss()
        res.add(w, f"hit ratio, {label}", "%", "higher", kind, rnd, 100 * ratio)
        res.add(w, f"keys held at the end, {label}", "keys", "higher", kind, rnd, held)
        res.add(w, f"RSS at the end, {label}", "MB", "lower", kind, rnd, rss / 1e6)
        res.add(w, f"used_memory / maxmemory at the end, {label}", "%", "lower", kind,
                rnd, 100 * used / final)
        res.add(w, f"server CPU per request, {label}", "us", "lower", kind, rnd,
                1e6 * cpu / len(reqs))
        res.add(w, f"requests a second (paced at {EVICT_RATE:,} at most), {label}",
                "req/s", "higher", kind, rnd, rate)
        progress(f"  {100 * ratio:.2f}% hits, {held:,} keys held, maxmemory {final:,}, "
                 f"RSS {rss / 1e6:.1f} MB")
        return final

    for rnd in range(cfg.rounds):
        servers = {k: Server(cfg, k, tag=f"-ev{rnd}") for k in KINDS}
        try:
            for policy, variant in EVICT_RUNS:
                label = f"{policy}, {variant}" if variant else policy
                final = {}
                for kind, s in servers.items():
                    budget, per_key = _evict_budget(s, loads[variant], nkeys)
                    progress(f"round {rnd + 1}/{cfg.rounds} {W6}: {label} -> {LABEL[kind]}")
                    final[kind] = run(s, policy, variants[variant], budget, per_key, rnd,
                                      label)
                    res.add(w, f"maxmemory, {label}", "MB", "lower", kind, rnd,
                            final[kind] / 1e6)
                if variant:
                    continue
                progress(f"round {rnd + 1}/{cfg.rounds} {W6}: {label}, redis-server's "
                         f"maxmemory -> {LABEL[OURS]}")
                same = f"{label}, same maxmemory bytes (redis-server's)"
                run(servers[OURS], policy, variants[variant], final[REDIS], None, rnd, same)
                res.find(w, f"hit ratio, {same}").redis = list(
                    res.find(w, f"hit ratio, {label}").redis)
        finally:
            for s in servers.values():
                s.stop()


# ---- 7. Active expiry -----------------------------------------------------------

W7 = "7 active expiry"
PXAT_MARK = b"9999999999999"        # stands for the keys' expire time while encoding


def _expire_all(cfg: Config, kind: str, rnd: int, loads: List[Tuple[bytes, int]],
                nkeys: int, lead: float) -> Optional[Tuple[float, int, float, float, int,
                                                        int, int]]:
    """One measurement of workload 7 on a fresh server: load the keys to
    expire lead seconds after the load starts, then watch them go. Returns
    (CPU s, cycle ms, s to 99% gone, s to all gone, RSS empty, loaded,
    2 s after), or None if the load itself took past the expire time."""
    with Server(cfg, kind, tag=f"-exp{rnd}") as s:
        time.sleep(0.2)
        rss0 = s.rss()
        start = time.time()
        when = int((start + lead) * 1000)
        mark = b"%d" % when
        with s.conn() as c:
            if c.pipeline((p.replace(PXAT_MARK, mark), n) for p, n in loads):
                raise BenchError(f"{LABEL[kind]}: loading failed")
            if time.time() * 1000 >= when:
                return None
            rss1 = s.rss()
            time.sleep(when / 1000 - time.time())
            cpu0, t0 = s.cpu(), time.monotonic()
            cycle0 = int(s.info("stats")["expire_cycle_cpu_milliseconds"])
            t99 = None
            while True:
                left = c.call(b"DBSIZE")
                now = time.monotonic() - t0
                if t99 is None and left <= nkeys // 100:
                    t99 = now
                if left == 0 or now > 60:
                    break
                time.sleep(0.1)
            cpu = s.cpu() - cpu0
            if left:
                raise BenchError(f"{LABEL[kind]}: {left} keys left after 60 s")
            cycle_ms = int(s.info("stats")["expire_cycle_cpu_milliseconds"]) - cycle0
            time.sleep(2.0)
            return cpu, cycle_ms, t99, now, rss0, rss1, s.rss()


def active_expiry(cfg: Config, res: Results) -> None:
    """Workload 7: N keys (32-byte values) that all expire at the same
    instant T, loaded well before it, and nobody touching them: the server
    CPU time (utime + stime from /proc/PID/stat) from T until the last key
    is gone, how long that took, and the RSS. One server at a time, so the
    two do not compete for the CPUs while they reclaim."""
    nkeys = 200_000 if cfg.quick else 1_000_000
    lead = 3.0 if cfg.quick else 6.0    # seconds from the load's start to T
    keys = [b"key:%d" % i for i in range(nkeys)]
    loads = [(b"".join(encode(b"SET", k, VALUE32, b"PXAT", PXAT_MARK)
                       for k in keys[i:i + 10_000]), len(keys[i:i + 10_000]))
             for i in range(0, nkeys, 10_000)]
    res.params["active_expiry_keys"] = nkeys
    res.params["active_expiry_method"] = (
        f"SET key value PXAT T for all keys, T = the load's start + {lead:g} s (again "
        f"with {3 * lead:g} s if the load took longer); CPU from /proc/PID/stat between "
        "T and DBSIZE 0 (polled every 100 ms)")
    w = f"{W7} ({nkeys:,} keys, all expiring at once, untouched)"
    for rnd in range(cfg.rounds):
        for kind in KINDS:
            got = None
            for attempt_lead in (lead, 3 * lead):
                progress(f"round {rnd + 1}/{cfg.rounds} {W7}: load {nkeys:,} keys, "
                         f"expiring in {attempt_lead:g} s -> {LABEL[kind]}")
                got = _expire_all(cfg, kind, rnd, loads, nkeys, attempt_lead)
                if got is not None:
                    break
                progress(f"  the load went past the keys' expire time (a busy "
                         f"machine?): again with {3 * lead:g} s")
            if got is None:
                raise BenchError(f"{LABEL[kind]}: loading {nkeys:,} keys took over "
                                 f"{3 * lead:g} s")
            cpu, cycle_ms, t99, now, rss0, rss1, rss2 = got
            res.add(w, "server CPU from the expire time to the last key gone", "ms",
                    "lower", kind, rnd, 1000 * cpu)
            res.add(w, "time in the expiry cycle, the same span (INFO "
                    "expire_cycle_cpu_milliseconds)", "ms", "lower", kind, rnd, cycle_ms)
            res.add(w, "seconds from the expire time to 99% gone", "s", "lower", kind,
                    rnd, t99)
            res.add(w, "seconds from the expire time to all gone", "s", "lower", kind,
                    rnd, now)
            res.add(w, "RSS loaded, over empty", "MB", "lower", kind, rnd,
                    (rss1 - rss0) / 1e6)
            res.add(w, "share of the growth returned 2 s after the last key", "%",
                    "higher", kind, rnd, 100 * (rss1 - rss2) / (rss1 - rss0))
            res.row(w, "share of the growth returned 2 s after the last key", "%",
                    "higher").no_ratio = True
            progress(f"  {1000 * cpu:.0f} ms CPU, 99% gone after {t99:.2f} s, all after "
                     f"{now:.2f} s; RSS {rss0 / 1e6:.1f} -> {rss1 / 1e6:.1f} -> "
                     f"{rss2 / 1e6:.1f} MB")


WORKLOADS = {
    "1": ("redis-benchmark", redis_benchmark),
    "2": ("memory", memory),
    "3": ("callgrind", callgrind),
    "4": ("python", python_clients),
    "5": ("jobs", job_queue),
    "6": ("eviction", eviction),
    "7": ("expiry", active_expiry),
}
