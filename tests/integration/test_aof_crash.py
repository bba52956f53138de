# SPDX-License-Identifier: MIT
"""Crash safety of the append-only file (issue 11): kills under load,
queue hand-out across restarts, and a full disk.

- Crash under load: worker processes (redis-py, one command at a time,
  no retries) run SETs, RPUSHes of unique jobs, and LPOP/RPOP/BLPOP/
  BRPOP by three consumers, recording every acknowledged command, while
  our server (appendonly yes) is SIGKILLed at random moments, 16 times
  with appendfsync always and 8 with everysec (4 and 3 under valgrind),
  some of them during a BGREWRITEAOF (INFO persistence is read just
  before the kill; at least one kill must land while
  aof_rewrite_in_progress is 1). Each time the server restarts on the
  same directory and the state is checked against the acknowledgements:
  - always: 0 acknowledged SETs lost, 0 acknowledged pushes lost, 0
    acknowledged pops resurrected, 0 jobs duplicated; a job may be gone
    only through a pop whose reply the kill cut ("lost in flight": at
    most one per consumer, counted, allowed).
  - everysec: every write acknowledged more than 2.5 s before the kill is
    there; and since SIGKILL keeps the page cache and a reply leaves
    only once its record is written, nothing at all may be lost here.
- Graceful restarts (SIGTERM) under the queue load: every job is handed
  out exactly once; none may be lost in flight.
- A full disk (a 1 MiB tmpfs the test mounts, so root is needed: skipped
  without it, a failure under CI): during appends writes, PING and pops
  get Redis's MISCONF text while reads go on, and the server recovers by
  itself once a filler file is deleted; a rewrite whose base does not fit
  fails cleanly and a later one succeeds; a BGREWRITEAOF with no room for
  the manifest is refused as Redis refuses it. redis-server 7.0 runs the
  same sequences and must show the same replies, statuses and files.

The random moments come from one seed, new each run and printed in every
failure message (TMC_AOF_CRASH_SEED=N replays a run). Every process the
tests start is stopped in a finally block.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import multiprocessing
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from tmc_testlib import RedisServer, Server  # noqa: E402

tmc_testlib.require_module("redis")
import redis  # noqa: E402
import redis.connection  # noqa: E402

VALGRIND = tmc_testlib.valgrind_enabled()
SEED = int(os.environ.get("TMC_AOF_CRASH_SEED") or
           random.SystemRandom().randrange(1 << 31))
DIRNAME = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"
JOBS = b"jobs"
WRITER_KEYS = 300            # the writer's keyspace (values overwritten)
PRELOAD = 2000 if VALGRIND else 20000   # fixed keys: a rewrite takes a while
WORKER_TIMEOUT = 120.0 if VALGRIND else 20.0   # a reply later than this: hang
EVERYSEC_WINDOW = 2.5        # everysec may lose what came in the last ~2 s
MISCONF_ENOSPC = "MISCONF Errors writing to the AOF file: No space left on device"
BGREWRITE_FAILED = ("ERR Can't execute an AOF background rewriting. Please "
                    "check the server logs for more information.")


def seed_note() -> str:
    """The words every failure message carries to replay the run."""
    return "(seed %d: TMC_AOF_CRASH_SEED=%d replays it)" % (SEED, SEED)


# ---- The load: worker processes ----

@dataclass
class WorkerResult:
    """What one worker saw in one round.

    acked: writer (key, value, ack time); producer (jobs, ack time);
    consumer (job, ack time). inflight: the command sent whose reply
    never came (it may or may not have been applied). Times are
    time.monotonic(), which is the same clock in every process.
    """

    role: str
    index: int
    acked: List[Tuple[Any, ...]] = field(default_factory=list)
    inflight: Optional[Tuple[Any, ...]] = None
    error: Optional[str] = None       # a reply that is a bug: a hang, -ERR
    ops: int = 0


class Worker:
    """One client of the load, in its own process; its counters run on
    across rounds so keys' values and job names stay unique. The load
    keeps the server's loop busy but stays bounded: one command at a
    time (at most one in flight per worker), a short pause after each,
    at most max_ops a round."""

    def __init__(self, role: str, index: int, seed: int, pause: float) -> None:
        self.role = role
        self.index = index
        self.rng = random.Random(seed * 100 + index)
        self.pause = pause
        self.seq = 0

    def next_command(self, round_no: int) -> Tuple[bytes, ...]:
        """The next command of this worker's kind."""
        if self.role == "writer":
            self.seq += 1
            key = b"w:%d" % self.rng.randrange(WRITER_KEYS)
            return (b"SET", key, b"%d:%d" % (round_no, self.seq))
        if self.role == "producer":
            jobs = []
            for _ in range(self.rng.randint(1, 4)):
                self.seq += 1
                jobs.append(b"job:%09d" % self.seq)
            return (b"RPUSH", JOBS) + tuple(jobs)
        pick = self.rng.random()
        if pick < 0.35:
            return (b"LPOP", JOBS)
        if pick < 0.6:
            return (b"RPOP", JOBS)
        if pick < 0.8:
            return (b"BLPOP", JOBS, b"0.1")
        return (b"BRPOP", JOBS, b"0.1")

    def record(self, res: WorkerResult, cmd: Tuple[bytes, ...], reply: Any,
               now: float) -> None:
        """Note an acknowledged command in res."""
        if self.role == "writer":
            res.acked.append((cmd[1], cmd[2], now))
        elif self.role == "producer":
            res.acked.append((cmd[2:], now))
        elif isinstance(reply, list):          # BLPOP / BRPOP
            res.acked.append((reply[1], now))
        elif reply is not None:                # LPOP / RPOP
            res.acked.append((reply, now))

    def run_round(self, sock: str, round_no: int, max_ops: int) -> WorkerResult:
        """Send commands one at a time until the server goes away."""
        res = WorkerResult(self.role, self.index)
        conn = redis.connection.UnixDomainSocketConnection(
            path=sock, socket_timeout=WORKER_TIMEOUT)
        try:
            conn.connect()
        except (redis.ConnectionError, OSError):
            return res                   # it died before: nothing sent
        deadline = time.monotonic() + 10 * WORKER_TIMEOUT
        try:
            while res.ops < max_ops and time.monotonic() < deadline:
                cmd = self.next_command(round_no)
                try:
                    conn.send_command(*cmd)
                except (redis.ConnectionError, OSError):
                    break                # not sent whole: not applied
                try:
                    reply = conn.read_response()
                except redis.TimeoutError:
                    res.inflight = cmd
                    res.error = "no reply within %.0f s to %r (a hang?)" \
                        % (WORKER_TIMEOUT, cmd)
                    break
                except (redis.ConnectionError, OSError):
                    res.inflight = cmd
                    break
                except redis.ResponseError as e:
                    res.error = "error reply to %r: %s" % (cmd, e)
                    break
                res.ops += 1
                self.record(res, cmd, reply, time.monotonic())
                if self.pause:
                    time.sleep(self.pause)
        finally:
            conn.disconnect()
        return res


def worker_main(pipe: Connection, role: str, index: int, seed: int,
                pause: float) -> None:
    """A worker process: one round per (socket, round, max_ops) message,
    its WorkerResult sent back; None ends it."""
    worker = Worker(role, index, seed, pause)
    while True:
        msg = pipe.recv()
        if msg is None:
            return
        pipe.send(worker.run_round(*msg))


class Load:
    """The worker processes of a test (forked; stopped by close())."""

    def __init__(self, roles: Sequence[str], seed: int, pause: float) -> None:
        ctx = multiprocessing.get_context("fork")
        self.procs: List[Any] = []
        self.pipes: List[Connection] = []
        try:
            for i, role in enumerate(roles):
                ours, theirs = ctx.Pipe()
                p = ctx.Process(target=worker_main,
                                args=(theirs, role, i, seed, pause),
                                daemon=True)
                p.start()
                theirs.close()
                self.procs.append(p)
                self.pipes.append(ours)
        except BaseException:
            self.close()
            raise

    def go(self, sock: str, round_no: int, max_ops: int = 100000) -> None:
        """Start a round against the server on sock."""
        for pipe in self.pipes:
            pipe.send((sock, round_no, max_ops))

    def collect(self) -> List[WorkerResult]:
        """The results of the round (the server is gone by now)."""
        out = []
        for pipe in self.pipes:
            if not pipe.poll(WORKER_TIMEOUT + 30):
                raise AssertionError("a worker did not end its round after "
                                     "the server went away %s" % seed_note())
            out.append(pipe.recv())
        return out

    def close(self) -> None:
        """Stop every worker process."""
        for pipe in self.pipes:
            try:
                pipe.send(None)
            except OSError:
                pass
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join(10)
        for pipe in self.pipes:
            pipe.close()


CRASH_ROLES = ["writer", "producer", "consumer", "consumer", "consumer"]
QUEUE_ROLES = ["producer", "consumer", "consumer", "consumer"]


# ---- What must be there after a restart ----

def job_number(job: bytes) -> int:
    return int(job.split(b":", 1)[1])


@dataclass
class Ledger:
    """The state verified after the last restart, and the counts so far.

    values: each writer key's value; queue: the job list; handed_out:
    every job an acknowledged pop gave to a consumer (the round).
    """

    mode: str
    values: Dict[bytes, Optional[bytes]] = field(default_factory=dict)
    queue: List[bytes] = field(default_factory=list)
    handed_out: Dict[bytes, int] = field(default_factory=dict)
    pushed: Set[bytes] = field(default_factory=set)   # acked pushes
    maybe_pushed: Set[bytes] = field(default_factory=set)
    counts: collections.Counter = field(default_factory=collections.Counter)

    def summary(self) -> str:
        return "%s: %s" % (self.mode, ", ".join(
            "%s %d" % kv for kv in sorted(self.counts.items())))

    def check_round(self, round_no: int, results: List[WorkerResult],
                    got_values: Dict[bytes, Optional[bytes]],
                    got_queue: List[bytes], cutoff: Optional[float],
                    graceful: bool, t_stop: float) -> None:
        """Check the restarted server's keys and list against the round's
        acknowledgements, then take them as the new state.

        cutoff None: everything acknowledged must be there (always, and
        graceful stops); else what was acknowledged up to cutoff must be,
        what came later may be lost (everysec). graceful: no pop may be
        lost in flight either.
        """
        problems: List[str] = []
        bugs = [r.error for r in results if r.error]
        if bugs:
            problems.append("workers saw: %s" % "; ".join(bugs))
        self._check_sets(results, got_values, cutoff, t_stop, problems)
        self._check_queue(round_no, results, got_queue, cutoff, graceful,
                          problems)
        self.counts["rounds"] += 1
        if problems:
            raise AssertionError(
                "round %d (%s, stopped %s): %s\n%s %s" % (
                    round_no, self.mode, "by SIGTERM" if graceful else
                    "by SIGKILL", "\n".join(problems), self.summary(),
                    seed_note()))

    def _check_sets(self, results: List[WorkerResult],
                    got: Dict[bytes, Optional[bytes]], cutoff: Optional[float],
                    t_stop: float, problems: List[str]) -> None:
        hist: Dict[bytes, List[Tuple[bytes, float]]] = {}
        inflight: Dict[bytes, bytes] = {}
        for r in results:
            if r.role != "writer":
                continue
            for key, value, t in r.acked:
                hist.setdefault(key, []).append((value, t))
            if r.inflight is not None:
                inflight[r.inflight[1]] = r.inflight[2]
        lost = []
        for key in sorted(set(got) | set(hist) | set(inflight)):
            h = hist.get(key, [])
            self.counts["acked SETs"] += len(h)
            firm = len(h) - 1
            if cutoff is not None:
                firm = max([i for i, (_, t) in enumerate(h) if t <= cutoff],
                           default=-1)
            allowed: List[Optional[bytes]]
            if firm >= 0:
                allowed = [v for v, _ in h[firm:]]
            else:
                allowed = [self.values.get(key)] + [v for v, _ in h]
            if key in inflight:
                allowed.append(inflight[key])
            value = got.get(key)
            if value not in allowed:
                want, age = (h[firm][0], t_stop - h[firm][1]) if firm >= 0 \
                    else (self.values.get(key), float("nan"))
                lost.append("%r: %r, want %r (acked %.2f s before the "
                            "stop)" % (key, value, want, age))
            elif h and value not in (h[-1][0], inflight.get(key)):
                self.counts["recent SETs lost (allowed)"] += 1
            self.values[key] = value
        if lost:
            problems.append("%d acknowledged SETs lost or wrong: %s"
                            % (len(lost), "; ".join(lost[:5])))

    def _check_queue(self, round_no: int, results: List[WorkerResult],
                     got: List[bytes], cutoff: Optional[float], graceful: bool,
                     problems: List[str]) -> None:
        push_time: Dict[bytes, float] = {}
        inflight_push: Set[bytes] = set()
        pops: List[Tuple[Any, ...]] = []
        inflight_pops = 0
        for r in results:
            if r.role == "producer":
                for jobs, t in r.acked:
                    for job in jobs:
                        push_time[job] = t
                if r.inflight is not None:
                    inflight_push.update(r.inflight[2:])
            elif r.role == "consumer":
                pops.extend(r.acked)
                inflight_pops += r.inflight is not None
        self.pushed.update(push_time)
        self.maybe_pushed.update(inflight_push)
        self.counts["acked pushes"] += len(push_time)
        self.counts["acked pops"] += len(pops)
        self.counts["pops in flight"] += inflight_pops
        # A job handed out twice, or one nobody pushed.
        seen = collections.Counter(j for j, _ in pops)
        twice = sorted(j for j, n in seen.items() if n > 1 or
                       j in self.handed_out)
        unknown = sorted(j for j in seen if j not in self.pushed and
                         j not in self.maybe_pushed)
        in_list = collections.Counter(got)
        dup = sorted(j for j, n in in_list.items() if n > 1)
        # An acknowledged pop whose job is back.
        pop_time: Dict[bytes, float] = {j: t for j, t in pops}
        back, undone = [], []
        for job in in_list:
            if job in self.handed_out:
                back.append(job)           # verified gone at a restart
            elif job in pop_time:
                if cutoff is not None and pop_time[job] > cutoff:
                    undone.append(job)
                else:
                    back.append(job)
        stray = sorted(j for j in in_list if j not in self.pushed and
                       j not in self.maybe_pushed)
        # Jobs that should be in the list and are not.
        expect = (set(self.queue) | set(push_time)) - set(pop_time)
        missing = sorted(expect - set(in_list))
        # Each pop whose reply the stop cut may have taken one of them
        # (not at a graceful stop); one pushed within the everysec
        # window may be lost.
        firm = [j for j in missing if cutoff is None or
                push_time.get(j, 0.0) <= cutoff]
        allowed = 0 if graceful else inflight_pops
        lost = firm[allowed:]
        spare = max(0, allowed - len(firm))
        recent = len(missing) - len(firm)
        self.counts["lost in flight (allowed)"] += \
            len(firm) - len(lost) + min(recent, spare)
        self.counts["recent pushes lost (allowed)"] += max(0, recent - spare)
        self.counts["recent pops undone (allowed)"] += len(undone)
        order = [a for a, b in zip(got, got[1:])
                 if job_number(a) >= job_number(b)]
        for what, items in [("handed out twice (duplicated)", twice),
                            ("popped but never pushed", unknown),
                            ("twice in the list (duplicated)", dup),
                            ("acknowledged pops resurrected", back),
                            ("in the list but never pushed", stray),
                            ("acknowledged pushes lost" + (
                                " (gone from the list with no acknowledged "
                                "pop: applied by a pop whose reply the "
                                "graceful stop dropped? %d pops were in "
                                "flight)" if graceful else " (beyond the "
                                "%d pops in flight)") % inflight_pops, lost),
                            ("out of push order in the list", order)]:
            if items:
                problems.append("%d jobs %s: %s" % (
                    len(items), what, b" ".join(sorted(items)[:5]).decode()))
        for job, _ in pops:
            self.handed_out[job] = round_no
        for job in undone:                 # back in the queue, as it was
            del self.handed_out[job]
        self.queue = list(got)


def read_state(r: "redis.Redis") -> Tuple[Dict[bytes, Optional[bytes]],
                                          List[bytes]]:
    """The writer's keys and the job list."""
    keys = [b"w:%d" % i for i in range(WRITER_KEYS)]
    return dict(zip(keys, r.mget(keys))), r.lrange(JOBS, 0, -1)


def preload(r: "redis.Redis") -> None:
    """Fixed keys, so the base a rewrite writes takes a while."""
    for start in range(0, PRELOAD, 2000):
        r.mset({b"pre:%d" % i: b"p%d-" % i + b"x" * 100
                for i in range(start, min(PRELOAD, start + 2000))})


def check_preload(r: "redis.Redis", note: str) -> None:
    for start in range(0, PRELOAD, 5000):
        keys = [b"pre:%d" % i for i in range(start, min(PRELOAD,
                                                        start + 5000))]
        got = r.mget(keys)
        bad = [k for k, v in zip(keys, got)
               if v != b"p%s-" % k[4:] + b"x" * 100]
        assert not bad, "%d preloaded keys lost or wrong (%r...) %s %s" % (
            len(bad), bad[:3], note, seed_note())


# ---- Servers that get killed ----

def start_ours(data_dir: str, fsync: str, round_no: int) -> Server:
    """Our server with appendonly yes on data_dir, on a Unix socket; the
    event backends take turns."""
    backends = tmc_testlib.backends()
    return Server(backend=backends[round_no % len(backends)],
                  unixsocket=True,
                  args=["--appendonly", "yes", "--dir", data_dir,
                        "--appendfsync", fsync])


def client(srv: tmc_testlib._Process) -> "redis.Redis":
    assert srv.unixsocket
    return redis.Redis(unix_socket_path=srv.unixsocket,
                       socket_timeout=WORKER_TIMEOUT)


def kill_all(srv: tmc_testlib._Process) -> None:
    """SIGKILL the server and its rewrite child at once (its process
    group: the helpers start it in a session of its own), and reap it.
    Nothing if it is stopped already."""
    if srv.proc is None:
        return
    try:
        os.killpg(srv.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    srv.stop(check=False, sig=signal.SIGKILL)


def restart(data_dir: str, fsync: str, round_no: int) -> Server:
    """start_ours after a kill: a refusal to start is a failure of the
    round (the seed replays it)."""
    try:
        return start_ours(data_dir, fsync, round_no)
    except tmc_testlib.ServerError as e:
        raise AssertionError("the restart after round %d failed %s:\n%s"
                             % (round_no - 1, seed_note(), e)) from None


def aof_files(data_dir: str) -> List[str]:
    return sorted(os.listdir(os.path.join(data_dir, DIRNAME)))


def manifest_names(data_dir: str) -> List[str]:
    with open(os.path.join(data_dir, DIRNAME, MANIFEST)) as f:
        return [line.split()[1] for line in f if line.strip()]


def crash_rounds(data_dir: str, fsync: str, rounds: int,
                 delays: Sequence[float], rewrite_every: int) -> Ledger:
    """Run the load, SIGKILL the server after each delay, restart and
    check. Every rewrite_every-th round starts a BGREWRITEAOF during the
    load: either at a random moment, or (every other one) 0-30 ms before
    the kill; while no kill has yet landed inside a rewrite, the last
    ones kill right after BGREWRITEAOF's reply, so at least one does."""
    rng = random.Random(SEED + len(fsync))
    ledger = Ledger(fsync)
    pause = 0.0005 if fsync == "everysec" else 0.0002
    load = Load(CRASH_ROLES, SEED, pause)
    srv = start_ours(data_dir, fsync, 0)
    try:
        r = client(srv)
        preload(r)
        r.close()
        for i in range(rounds):
            delay = delays[i]
            rewrite = i % rewrite_every == rewrite_every - 1
            rewrites_left = sum(1 for j in range(i + 1, rounds)
                                if j % rewrite_every == rewrite_every - 1)
            late = rewrite and rewrites_left < 2 and \
                ledger.counts["kills in a rewrite (INFO)"] == 0
            hunt = late or (rewrite and i // rewrite_every % 2 == 0)
            r = client(srv)
            assert srv.unixsocket
            t_start = time.monotonic()
            load.go(srv.unixsocket, i)
            in_progress = 0
            if rewrite and not hunt:
                time.sleep(rng.uniform(0.05, delay))
                r.bgrewriteaof()
            time.sleep(max(0.0, t_start + delay - time.monotonic()))
            if hunt:
                r.bgrewriteaof()
                time.sleep(0.0 if late else rng.uniform(0.0, 0.03))
            if rewrite:
                in_progress = r.info("persistence")["aof_rewrite_in_progress"]
            t_kill = time.monotonic()
            kill_all(srv)
            r.close()
            results = load.collect()
            left = [n for n in aof_files(data_dir)
                    if n.startswith("temp-rewriteaof-")]
            ledger.counts["kills"] += 1
            ledger.counts["kills in a rewrite (INFO)"] += in_progress
            ledger.counts["kills leaving a rewrite's temp file"] += bool(left)
            srv = restart(data_dir, fsync, i + 1)
            r = client(srv)
            assert r.info("persistence")["loading"] == 0
            values, queue = read_state(r)
            cutoff = None if fsync == "always" else t_kill - EVERYSEC_WINDOW
            ledger.check_round(i, results, values, queue, cutoff, False,
                               t_kill)
            # The start removes what a killed rewrite child left; a torn
            # temp-<manifest> stays (as with Redis), harmless: the next
            # manifest save writes over it.
            left = aof_files(data_dir)
            ledger.counts["restarts finding a temp manifest"] += \
                "temp-" + MANIFEST in left
            # Files a kill between the manifest's swap and their removal
            # left unnamed (counted: they only take room).
            named = manifest_names(data_dir)
            ledger.counts["files the manifest no longer names"] += sum(
                1 for n in left if n.endswith(".aof") and n not in named and
                not n.startswith("temp-"))
            left = [n for n in left if n.startswith("temp-rewriteaof-")]
            assert not left, "temp files left after a restart: %r %s" % (
                left, seed_note())
            if i % 4 == 3 or i == rounds - 1:
                check_preload(r, "after round %d" % i)
            r.close()
        # A clean stop and start keeps it all too.
        r = client(srv)
        values, queue = read_state(r)
        r.close()
        srv.stop()
        srv = start_ours(data_dir, fsync, 0)
        r = client(srv)
        assert read_state(r) == (values, queue), seed_note()
        check_preload(r, "after the last clean restart")
        r.close()
        srv.stop()
    finally:
        kill_all(srv)
        load.close()
    return ledger


# ---- Crash tests ----

@pytest.fixture
def data_dir(tmp_path: pathlib.Path) -> str:
    return str(tmp_path)


def test_sigkill_under_load_always(data_dir: str) -> None:
    """appendfsync always, SIGKILL at random moments under load (15-25
    rounds; 4 under valgrind), every other round during a BGREWRITEAOF:
    0 acknowledged SETs lost, 0 acknowledged pushes lost (a job may go
    only with a pop whose reply the kill cut: "lost in flight", at most
    one per consumer), 0 acknowledged pops resurrected, 0 jobs
    duplicated; and at least one kill landed while INFO said
    aof_rewrite_in_progress:1."""
    rng = random.Random(SEED)
    rounds = 4 if VALGRIND else 16
    delays = [rng.uniform(2.0, 4.0) if VALGRIND else rng.uniform(0.3, 1.0)
              for _ in range(rounds)]
    ledger = crash_rounds(data_dir, "always", rounds, delays, 2)
    print(ledger.summary(), seed_note())
    assert ledger.counts["kills in a rewrite (INFO)"] >= 1, \
        "no kill landed during a rewrite: %s %s" % (ledger.summary(),
                                                    seed_note())
    assert ledger.counts["acked SETs"] > rounds * 10, ledger.summary()
    assert ledger.counts["acked pops"] > rounds * 5, ledger.summary()


def test_sigkill_under_load_everysec(data_dir: str) -> None:
    """appendfsync everysec, SIGKILL at random moments under load: every
    write acknowledged more than 2.5 s before the kill is there (Redis
    loses at most about the last 2 s: the fsync thread runs once a
    second and a write may wait for a slow one; the extra 0.5 s is slack
    for this shared 2-core machine). Rounds alternate short and long
    (over 3 s) loads so the bound is exercised; every third round kills
    during a BGREWRITEAOF."""
    rng = random.Random(SEED + 1)
    rounds = 3 if VALGRIND else 8
    delays = [rng.uniform(3.5, 5.0) if VALGRIND or i % 2 else
              rng.uniform(0.4, 1.2) for i in range(rounds)]
    ledger = crash_rounds(data_dir, "everysec", rounds, delays, 3)
    print(ledger.summary(), seed_note())
    assert ledger.counts["kills in a rewrite (INFO)"] >= 1, \
        "no kill landed during a rewrite: %s %s" % (ledger.summary(),
                                                    seed_note())
    # SIGKILL keeps the page cache and our replies leave only once their
    # record is written (issue 11's group commit): nothing is lost here.
    for what in ["recent SETs lost", "recent pushes lost",
                 "recent pops undone"]:
        assert ledger.counts[what + " (allowed)"] == 0, \
            "acknowledged but not written before the reply? %s %s" % (
                ledger.summary(), seed_note())


def test_queue_exactly_once_across_graceful_restarts(data_dir: str) -> None:
    """appendfsync always, a producer and three consumers (LPOP, RPOP,
    BLPOP, BRPOP) while the server is stopped with SIGTERM and started
    again: every acknowledged push is either handed out by exactly one
    acknowledged pop or still in the list, nothing is lost in flight,
    nothing handed out twice."""
    rng = random.Random(SEED + 2)
    rounds = 2 if VALGRIND else 6
    ledger = Ledger("always, graceful")
    load = Load(QUEUE_ROLES, SEED + 2, 0.0002)
    srv = start_ours(data_dir, "always", 0)
    try:
        for i in range(rounds):
            assert srv.unixsocket
            load.go(srv.unixsocket, i)
            time.sleep(rng.uniform(2.0, 4.0) if VALGRIND else
                       rng.uniform(0.3, 1.0))
            t_stop = time.monotonic()
            srv.stop()                      # SIGTERM; exit code 0
            results = load.collect()
            srv = restart(data_dir, "always", i + 1)
            r = client(srv)
            values, queue = read_state(r)
            r.close()
            ledger.check_round(i, results, values, queue, None, True, t_stop)
        srv.stop()
    finally:
        kill_all(srv)
        load.close()
    print(ledger.summary(), seed_note())
    # Exactly once: handed out + left = pushed, with no overlap.
    handed = set(ledger.handed_out)
    left = set(ledger.queue)
    assert not handed & left, seed_note()
    assert ledger.pushed <= handed | left, seed_note()
    assert handed | left <= ledger.pushed | ledger.maybe_pushed, seed_note()
    assert ledger.counts["acked pops"] > rounds * 5, ledger.summary()


# ---- A full disk ----

def wait_for(pred: Any, timeout: float = 10.0, what: str = "") -> None:
    """Poll pred until it is true; fail after timeout seconds."""
    deadline = time.monotonic() + (timeout * 6 if VALGRIND else timeout)
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting: %s" % what
        time.sleep(0.02)


@contextlib.contextmanager
def small_tmpfs(where: str, size: str = "1m") -> Iterator[str]:
    """Mount a tmpfs of size at where/mnt, unmounted on leaving. Without
    the right to mount (not root): fail under CI, skip elsewhere."""
    tmc_testlib.require_tool("mount")
    tmc_testlib.require_tool("umount")
    mnt = os.path.join(where, "mnt")
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size,
                        "tmpfs", mnt], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    if p.returncode != 0:
        msg = ("cannot mount a small tmpfs for the full-disk tests (needs "
               "root or CAP_SYS_ADMIN; euid %d): %s"
               % (os.geteuid(), p.stdout.decode("utf-8", "replace").strip()))
        if tmc_testlib.in_ci():
            pytest.fail("CI=true: " + msg, pytrace=False)
        pytest.skip(msg)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", mnt], timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", mnt], timeout=30)


def fill_disk(mnt: str, leave: int) -> str:
    """A filler file on mnt that leaves about leave bytes free (0: none
    at all); its path."""
    path = os.path.join(mnt, "filler")
    st = os.statvfs(mnt)
    want = st.f_bavail * st.f_frsize - leave
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        chunk = b"f" * 4096
        while want > 0:
            try:
                want -= os.write(fd, chunk[:min(len(chunk), want)])
            except OSError as e:
                if leave == 0 and e.errno == errno.ENOSPC:   # full, as asked
                    break
                raise
    finally:
        os.close(fd)
    return path


class Raw:
    """One connection speaking raw RESP, so a reply that does not come
    (held until the disk takes its record) can be waited for."""

    def __init__(self, path: str) -> None:
        self.sock = tmc_testlib.connect(path, 5.0)
        self.buf = b""

    def send(self, *args: Any) -> None:
        self.sock.sendall(tmc_testlib.encode_command(*args))

    def reply(self, timeout: float) -> Any:
        """The next reply (an error as RespError), or raise
        socket.timeout if none comes within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = tmc_testlib.parse_reply(self.buf)
            if got is not None:
                self.buf = self.buf[got[1]:]
                return got[0]
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply within %.1f s" % timeout)
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk

    def call(self, *args: Any, timeout: float = 10.0) -> Any:
        self.send(*args)
        return self.reply(timeout * 6 if VALGRIND else timeout)

    def close(self) -> None:
        self.sock.close()


Starter = Any   # a callable that starts a server on the tmpfs


def ours_on(mnt: str, fsync: str = "everysec") -> Starter:
    return lambda: Server(unixsocket=True, args=[
        "--appendonly", "yes", "--dir", mnt, "--appendfsync", fsync])


def redis_on(mnt: str) -> Starter:
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    return lambda: RedisServer(args=[
        "--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--dir", mnt])


def dump(r: "redis.Redis") -> Dict[bytes, Any]:
    """Every key with its value (strings and lists)."""
    out: Dict[bytes, Any] = {}
    for key in r.keys("*"):
        out[key] = r.get(key) if r.type(key) == b"string" else \
            r.lrange(key, 0, -1)
    return out


def full_disk_appends(start: Starter, mnt: str) -> Dict[str, Any]:
    """Fill the disk under the AOF with SETs until one is refused (Redis)
    or held (ours: its record cannot be written, so its reply waits);
    then other writes, PING and a pop must get MISCONF while reads go
    on; free the room and the server must recover by itself; a restart
    must have every acknowledged write. Returns what the clients saw."""
    seen: Dict[str, Any] = {}
    acked: Dict[bytes, bytes] = {}
    srv = start()
    try:
        r = client(srv)
        for i in range(20):
            r.set(b"a%d" % i, b"x" * 100)
            acked[b"a%d" % i] = b"x" * 100
        r.rpush("q", "j1", "j2")
        filler = fill_disk(mnt, 48 * 1024)
        assert srv.unixsocket
        a, b = Raw(srv.unixsocket), Raw(srv.unixsocket)
        held = None
        big = b"v" * 1000
        for n in range(1000):
            key = b"k%d" % n
            a.send("SET", key, big)
            reply = None
            deadline = time.monotonic() + WORKER_TIMEOUT
            while reply is None:
                assert time.monotonic() < deadline, "no reply to SET, and " \
                    "INFO says aof_last_write_status:ok (a hang?)"
                try:
                    reply = a.reply(0.5)
                except socket.timeout:
                    if r.info("persistence")["aof_last_write_status"] == \
                            "err":
                        break                # it waits for the disk
            if reply is None:
                held = key
                break
            if isinstance(reply, tmc_testlib.RespError):
                seen["first refused SET"] = str(reply)
                break
            assert reply == "OK", reply
            acked[key] = big
        else:
            raise AssertionError("1000 SETs of 1000 bytes fit in 48 KiB?")
        wait_for(lambda: r.info("persistence")["aof_last_write_status"] ==
                 "err", what="aof_last_write_status:err")
        seen["SET"] = b.call("SET", "refused", "1")
        seen["PING"] = b.call("PING")
        seen["LPOP"] = b.call("LPOP", "q")
        seen["GET"] = b.call("GET", "a0")            # reads go on
        seen["LRANGE"] = b.call("LRANGE", "q", "0", "-1")
        os.unlink(filler)
        if held is not None:
            assert a.reply(30.0) == "OK", "the held write"
            acked[held] = big
        wait_for(lambda: r.info("persistence")["aof_last_write_status"] ==
                 "ok", what="recovery (aof_last_write_status:ok)")
        seen["SET after"] = b.call("SET", "after", "1")
        acked[b"after"] = b"1"
        seen["LPOP after"] = b.call("LPOP", "q")
        seen["solved logged"] = "AOF write error looks solved" in srv.log
        a.close()
        b.close()
        r.close()
        srv.stop()
        srv = start()
        r = client(srv)
        got = {k: r.get(k) for k in acked}
        lost = sorted(k for k in acked if got[k] != acked[k])
        assert not lost, "%d acknowledged writes lost after the full disk: " \
            "%r" % (len(lost), lost[:5])
        seen["refused after restart"] = r.get("refused")
        seen["q after restart"] = r.lrange("q", 0, -1)
        r.close()
        srv.stop()
    finally:
        kill_all(srv)
    return seen


def test_full_disk_during_appends_like_redis(tmp_path: pathlib.Path) -> None:
    """appendfsync everysec, ours and redis-server 7.0 through the same
    sequence: the same MISCONF text for writes, PING and pops, reads go
    on, recovery by itself once the filler is deleted, nothing
    acknowledged lost across a restart."""
    with small_tmpfs(str(tmp_path / "ours")) as mnt:
        ours = full_disk_appends(ours_on(mnt), mnt)
    with small_tmpfs(str(tmp_path / "ref")) as mnt:
        ref = full_disk_appends(redis_on(mnt), mnt)
    # Redis acknowledges the write whose record failed (it waits in its
    # buffer) and refuses the next one; ours holds that reply until the
    # record is written, so the next write never comes from that client.
    assert ref.pop("first refused SET") == MISCONF_ENOSPC
    assert ours == ref
    assert ours["SET"] == MISCONF_ENOSPC and ours["PING"] == MISCONF_ENOSPC
    assert ours["LPOP"] == MISCONF_ENOSPC
    assert ours["GET"] == b"x" * 100 and ours["solved logged"]
    assert ours["SET after"] == "OK" and ours["LPOP after"] == b"j1"
    assert ours["q after restart"] == [b"j2"]


def test_full_disk_during_appends_always(tmp_path: pathlib.Path) -> None:
    """appendfsync always (Redis exits on a write error there; we refuse
    writes with the same MISCONF text and recover, as with everysec)."""
    with small_tmpfs(str(tmp_path)) as mnt:
        seen = full_disk_appends(ours_on(mnt, "always"), mnt)
    assert "first refused SET" not in seen
    assert seen["SET"] == MISCONF_ENOSPC and seen["PING"] == MISCONF_ENOSPC
    assert seen["LPOP"] == MISCONF_ENOSPC and seen["GET"] == b"x" * 100
    assert seen["SET after"] == "OK" and seen["q after restart"] == [b"j2"]


def rewrite_data(r: "redis.Redis") -> None:
    """About 260 KB: the base of a rewrite takes as much."""
    r.mset({b"k%d" % i: b"%d" % i + b"v" * 1000 for i in range(250)})
    r.rpush("list", *[b"item%d" % i for i in range(100)])
    r.lpop("list")


def wait_rewrite(r: "redis.Redis") -> Dict[str, Any]:
    wait_for(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0,
             20.0, "the end of the rewrite")
    return dict(r.info("persistence"))


def snapshot(mnt: str) -> Dict[str, bytes]:
    """The AOF directory's files and their bytes."""
    d = os.path.join(mnt, DIRNAME)
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def rewrite_again_and_restart(start: Starter, srv: tmc_testlib._Process,
                              r: "redis.Redis", filler: str, mnt: str,
                              seen: Dict[str, Any]) -> None:
    """The end of a full-disk rewrite scenario: the room comes back
    (filler deleted) and a new BGREWRITEAOF must succeed (its reply, its
    status, the files and the manifest it leaves go into seen); then srv
    stops and a server started on the same directory must load every key
    srv had. Closes r; the new server is stopped (killed on a failure)."""
    want = dump(r)
    os.unlink(filler)
    seen["BGREWRITEAOF again"] = r.execute_command("BGREWRITEAOF")
    seen["status again"] = wait_rewrite(r)["aof_last_bgrewrite_status"]
    seen["files again"] = aof_files(mnt)
    seen["manifest again"] = snapshot(mnt)[MANIFEST].decode()
    r.close()
    srv.stop()
    srv = start()
    try:
        r = client(srv)
        assert dump(r) == want
        r.close()
        srv.stop()
    finally:
        kill_all(srv)


def full_disk_rewrite(start: Starter, mnt: str) -> Dict[str, Any]:
    """A BGREWRITEAOF whose base does not fit (the incremental file still
    has room): it fails cleanly, the old files stay listed and intact,
    no temporary file is left, writes go on; with room again a new
    rewrite succeeds and a restart loads everything."""
    seen: Dict[str, Any] = {}
    srv = start()
    try:
        r = client(srv)
        rewrite_data(r)
        filler = fill_disk(mnt, 100 * 1024)
        before = snapshot(mnt)
        seen["BGREWRITEAOF"] = r.execute_command("BGREWRITEAOF")
        seen["SET during"] = r.set("during", "1")
        info = wait_rewrite(r)
        seen["status"] = info["aof_last_bgrewrite_status"]
        seen["write status"] = info["aof_last_write_status"]
        seen["failures"] = info["aof_rewrites_consecutive_failures"]
        after = snapshot(mnt)
        seen["files"] = sorted(after)
        seen["manifest"] = after[MANIFEST].decode()
        old = [n for n in before if n != MANIFEST]
        changed = [n for n in old if after.get(n) != before[n]]
        assert not changed, "old AOF files changed by the failed rewrite: %r" \
            % changed
        assert old and all(n in manifest_names(mnt) for n in old)
        seen["SET after"] = r.set("after", "1")
        rewrite_again_and_restart(start, srv, r, filler, mnt, seen)
    finally:
        kill_all(srv)
    return seen


def test_full_disk_during_rewrite_like_redis(tmp_path: pathlib.Path) -> None:
    with small_tmpfs(str(tmp_path / "ours")) as mnt:
        ours = full_disk_rewrite(ours_on(mnt), mnt)
    with small_tmpfs(str(tmp_path / "ref")) as mnt:
        ref = full_disk_rewrite(redis_on(mnt), mnt)
    assert ours == ref
    assert ours["status"] == "err" and ours["status again"] == "ok"
    assert ours["files"] == [
        "appendonly.aof.1.base.aof", "appendonly.aof.1.incr.aof",
        "appendonly.aof.2.incr.aof", MANIFEST]
    assert ours["files again"] == [
        "appendonly.aof.2.base.aof", "appendonly.aof.3.incr.aof", MANIFEST]


def rewrite_cannot_start(start: Starter, mnt: str) -> Dict[str, Any]:
    """BGREWRITEAOF on a disk with no room at all (not even for the new
    manifest): its reply and status; with room again a rewrite succeeds
    and a restart loads everything."""
    seen: Dict[str, Any] = {}
    srv = start()
    try:
        r = client(srv)
        rewrite_data(r)
        filler = fill_disk(mnt, 0)
        assert srv.unixsocket
        raw = Raw(srv.unixsocket)
        seen["BGREWRITEAOF"] = raw.call("BGREWRITEAOF")
        raw.close()
        info = wait_rewrite(r)
        seen["status"] = info["aof_last_bgrewrite_status"]
        seen["in progress"] = info["aof_rewrite_in_progress"]
        seen["manifest"] = manifest_names(mnt)
        seen["left behind"] = [n for n in aof_files(mnt) if n != MANIFEST
                               and n not in seen["manifest"]]
        rewrite_again_and_restart(start, srv, r, filler, mnt, seen)
    finally:
        kill_all(srv)
    return seen


def test_rewrite_on_a_full_disk_refused_like_redis(tmp_path: pathlib.Path) -> None:
    """No room for the new manifest: Redis 7.0 answers BGREWRITEAOF with
    its generic error and sets aof_last_bgrewrite_status:err; the files
    it names stay as they were. (Redis leaves temp-appendonly.aof.manifest
    and an unlisted incremental file behind; we need not.)"""
    with small_tmpfs(str(tmp_path / "ours")) as mnt:
        ours = rewrite_cannot_start(ours_on(mnt), mnt)
    with small_tmpfs(str(tmp_path / "ref")) as mnt:
        ref = rewrite_cannot_start(redis_on(mnt), mnt)
    assert ours.pop("left behind") == [], "files the manifest does not name"
    ref.pop("left behind")
    assert ref["BGREWRITEAOF"] == BGREWRITE_FAILED
    assert ref["status"] == "err"
    assert ours == ref, "BGREWRITEAOF with no room for the manifest: ours " \
        "%r, redis-server %r" % (ours, ref)
