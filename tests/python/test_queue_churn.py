# SPDX-License-Identifier: MIT
# Exactly once under churn with Queue: 16 worker processes get 100,000 jobs
# from one Queue while the test SIGKILLs some of them mid-run and starts
# replacements; in plain mode and in reliable mode. Every worker logs,
# unbuffered (os.write on an O_APPEND descriptor), "T" before each get,
# "G <job>" / "E" after it returned a job / raised queue.Empty, and once
# the job is done "D <job>" (plain) or, after ack() returned True,
# "A <job>" (reliable; "R <job>" if it returned False). Every hundredth
# job takes 10 ms. Half the kills hit a worker in the middle of such a job
# (the test SIGSTOPs workers until one's log ends with its "G"), the others
# at a random moment, mostly during a get or an ack.
#
# Plain mode: no job is got twice; every job is done, still queued, or in
# flight in a killed worker: got and not done, or lost with a worker
# killed during its get (the server popped it, the reply died with the
# process); at most one per killed worker. The counts add up exactly.
#
# Reliable mode: shortly after each kill (once the server has run what the
# dead worker had sent, and long before its heartbeat expires) the test
# reads what it holds (its processing list, found by its pid: at most one
# job, the one its log shows in flight, if any), and calls recover() as it
# goes, which hands those jobs back once the heartbeat expired. Then every job is
# completed exactly once: got and acknowledged by one worker, counting out
# only the holds of killed workers that were recovered; every recovered
# job is got again; no ack ever fails; nothing is left held.
#
# Environment: TMC_CHURN_JOBS (100000), TMC_CHURN_WORKERS (16),
# TMC_CHURN_KILLS (4), TMC_CHURN_BUDGET (seconds, 100: the workers are
# told to stop then and the accounting covers what is left), as
# test_churn.py; sizes shrink under TMC_VALGRIND=1.

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tmcpy import python_env
from tiny_mp_cache import Queue, TinyCache, spawn

VALGRIND = os.environ.get("TMC_VALGRIND", "") not in ("", "0", "no")
JOBS = int(os.environ.get("TMC_CHURN_JOBS", "10000" if VALGRIND else "100000"))
WORKERS = int(os.environ.get("TMC_CHURN_WORKERS", "16"))
KILLS = int(os.environ.get("TMC_CHURN_KILLS", "4"))
BUDGET = float(os.environ.get("TMC_CHURN_BUDGET", "100"))
TIME_LIMIT = 120.0      # each run, filling and checking included
HEARTBEAT = 2.0         # reliable mode: a killed worker is recovered after
SETTLE = 0.2            # ... and what it holds is read this long after
NAME = "jobs"
PROCESSING = NAME + ":processing:"

# The worker: argv = address, log path, stop-file path, mode. Exits 0 when
# the stop file exists, 3 when a job is not a job.
WORKER = r"""
import os, queue, sys, time
from tiny_mp_cache import Queue
addr, log, stop, mode = sys.argv[1:5]
reliable = mode == "reliable"
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
write, exists = os.write, os.path.exists
q = Queue(addr, %r, reliable=reliable, heartbeat=%r, connect_timeout=10)
while not exists(stop):
    write(fd, b"T\n")
    try:
        job = q.get(timeout=0.2)
    except queue.Empty:
        write(fd, b"E\n")
        continue
    if len(job) != 6 or not job.isdigit():
        sys.exit(3)
    write(fd, b"G " + job + b"\n")
    if job.endswith(b"00"):
        time.sleep(0.01)
    if reliable:
        write(fd, (b"A " if q.ack(job) else b"R ") + job + b"\n")
    else:
        write(fd, b"D " + job + b"\n")
os.close(fd)
""" % (NAME, HEARTBEAT)


def report(capsys, text):
    """Print past pytest's capture, so the figures reach the test log."""
    with capsys.disabled():
        print("\n" + text, flush=True)


def job_name(i):
    return b"%06d" % i


class Worker:
    """One worker process and its log."""

    def __init__(self, n, addr, tmp, stop, mode):
        self.n = n
        self.log = os.path.join(tmp, "worker-%02d.log" % n)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, addr, self.log, stop, mode],
            env=python_env(), stdin=subprocess.DEVNULL)
        self.killed = False
        self.killed_at = None
        self.held = None        # reliable: its processing list at its death

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.killed = True
        self.killed_at = time.monotonic()

    def stop(self):
        """SIGSTOP it and wait until it is stopped; False if it ended."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except FileNotFoundError:
                return False
            if state in (b"T", b"t"):
                return True
            if state in (b"Z", b"X"):
                return False
            time.sleep(0.0005)
        raise AssertionError(f"worker {self.n} did not stop")

    def last_line(self):
        """The last complete line of its log (b"" if none)."""
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 64))
                tail = f.read()
        except FileNotFoundError:
            return b""
        return tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]

    def reap(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
            return None


def pick_mid_job(live, rnd):
    """Stop live workers in random order until one is in the middle of a
    long job (its log ends with "G <job>" and the job is one of the 10 ms
    ones) and return it, stopped; resume the others. None if none was
    (then all run)."""
    for w in rnd.sample(live, len(live)):
        if not w.stop():
            continue
        line = w.last_line()
        if line.startswith(b"G ") and line.endswith(b"00"):
            return w
        w.proc.send_signal(signal.SIGCONT)
    return None


def read_held(mon, workers):
    """Read what each killed worker holds once SETTLE seconds have passed
    since its death (a request it sent just before may still have been
    run: its BLMOVE moving a job): the jobs in the processing lists of the
    consumers of its process. Its heartbeat must still be alive then, so
    that recover() cannot have touched them."""
    now = time.monotonic()
    for w in workers:
        if w.killed and w.held is None and now - w.killed_at >= SETTLE:
            keys = list(mon.scan_iter(f"{NAME}:*:{w.proc.pid}-*"))
            assert all(mon.ttl(k) is not None for k in keys
                       if k.startswith(f"{NAME}:alive:")), \
                f"worker {w.n}: its heartbeat expired before it was read"
            w.held = []
            for key in keys:
                if key.startswith(PROCESSING):
                    w.held += mon.lrange(key)


def parse_log(w, reliable):
    """Check a worker's log; return (jobs got, jobs done: acknowledged in
    reliable mode, count of failed acks, (its state at the end, the job
    of its last line)). Only a killed worker may end in the middle of a
    step ("T": in get; "G job": before the job was done), or with a "T"
    cut short (get had not been called)."""
    try:
        with open(w.log, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        assert w.killed, f"{w.log}: a live worker wrote no log"
        lines = [b""]           # killed before it opened its log
    if lines[-1] != b"":
        assert w.killed, f"{w.log}: last line cut short in a live worker"
        assert lines[-1] == b"T", f"{w.log}: cut line {lines[-1]!r}"
    lines.pop()
    got, done, failed = [], [], 0
    state = "idle"              # idle -> T -> (E -> idle | G -> D/A/R)
    last = None
    for ln in lines:
        kind, _, job = ln.partition(b" ")
        if kind == b"T":
            assert state == "idle", (w.log, ln, state)
            state = "T"
        elif kind == b"E":
            assert state == "T", (w.log, ln, state)
            state = "idle"
        elif kind == b"G":
            assert state == "T", (w.log, ln, state)
            got.append(job)
            state = "G"
        else:
            assert kind in ((b"A", b"R") if reliable else (b"D",)), \
                (w.log, ln)
            assert state == "G" and job == got[-1], (w.log, ln, state)
            if kind == b"R":
                failed += 1
            else:
                done.append(job)
            state = "idle"
        last = job
    if state != "idle":
        assert w.killed, f"{w.log}: a live worker stopped in state {state}"
    return got, done, failed, (state, last)


@pytest.mark.parametrize("mode", ["plain", "reliable"])
@pytest.mark.parametrize("backend_name", os.environ.get(
    "TMC_BACKENDS", "epoll select").split() or ["select"])
def test_queue_exactly_once_under_churn(backend_name, mode, tmp_path, capsys):
    reliable = mode == "reliable"
    t_start = time.monotonic()
    rnd = random.Random()
    seed = rnd.randrange(1 << 30)
    rnd.seed(seed)
    report(capsys, f"queue churn: backend {backend_name}, {mode}, {JOBS} "
           f"jobs, {WORKERS} workers, {KILLS} kills, seed {seed}")
    stop = str(tmp_path / "stop")
    workers = []
    recovered = 0
    with spawn(event_backend=backend_name, loglevel="warning") as srv:
        mon = TinyCache(srv.address, connect_timeout=10, timeout=60)
        supervisor = Queue(srv.address, NAME, connect_timeout=10, timeout=60)
        supervisor.put_many(job_name(i) for i in range(JOBS))
        assert supervisor.qsize() == JOBS
        t_filled = time.monotonic()
        for n in range(WORKERS):
            workers.append(Worker(n, srv.address, str(tmp_path), stop, mode))
        # Kill when the number of jobs left drops below random thresholds
        # spread over the run (the first at 5-95 % done).
        thresholds = sorted((rnd.uniform(0.05, 0.95) * JOBS
                             for _ in range(KILLS)), reverse=True)
        kills = []
        deadline = t_start + BUDGET
        stopped_early = False
        try:
            while True:
                left = supervisor.qsize()
                while thresholds and left <= thresholds[0]:
                    thresholds.pop(0)
                    live = [w for w in workers if w.alive()]
                    victim = None
                    if len(kills) % 2 == 0:
                        victim = pick_mid_job(live, rnd)
                    if victim is None:
                        victim = rnd.choice(live)
                        time.sleep(rnd.uniform(0, 0.005))  # a random moment
                    victim.kill()
                    kills.append((victim.n, left))
                    workers.append(Worker(len(workers), srv.address,
                                          str(tmp_path), stop, mode))
                if reliable:
                    read_held(mon, workers)
                    recovered += supervisor.recover()
                if not thresholds and left == 0 and \
                        not list(mon.scan_iter(PROCESSING + "*")):
                    break               # every job done (and acknowledged)
                if time.monotonic() > deadline:
                    stopped_early = True
                    break
                time.sleep(0.01)
        finally:
            open(stop, "w").close()
            for w in workers:
                if not w.killed:
                    w.proc.send_signal(signal.SIGCONT)
                    w.reap(30)
        t_run = time.monotonic()
        codes = {w.n: w.proc.returncode for w in workers if not w.killed}
        assert all(c == 0 for c in codes.values()), codes
        assert len(kills) == KILLS or stopped_early, (kills, thresholds)

        if reliable:
            # Stopped workers hand back what they held (at exit): the rest
            # belongs to killed workers, recovered once their heartbeat
            # has expired.
            t_wait = time.monotonic() + HEARTBEAT * 2 + 5
            time.sleep(SETTLE)
            read_held(mon, workers)
            while list(mon.scan_iter(PROCESSING + "*")):
                assert time.monotonic() < t_wait, "held jobs not recovered"
                recovered += supervisor.recover()
                time.sleep(0.05)
        remaining = []
        while supervisor.qsize():
            remaining += supervisor.get_many(1000, timeout=0)
        assert all(k.startswith(NAME + ":alive:") for k in mon.keys("*"))
        supervisor.close()
        mon.close()

    holders = {}                # job -> the workers that got it
    dones = {}                  # job -> the workers that did (acked) it
    failed_acks = 0
    in_get = 0                  # killed workers that died during a get
    in_job = {}                 # job -> the killed worker that died in it
    for w in workers:
        got, done, failed, (state, job) = parse_log(w, reliable)
        failed_acks += failed
        for j in got:
            holders.setdefault(j, []).append(w)
        for j in done:
            dones.setdefault(j, []).append(w)
        if w.killed and state == "T":
            in_get += 1
        elif w.killed and state == "G":
            in_job[job] = w
        if w.killed and reliable:
            assert len(w.held) <= 1, (w.n, w.held)
            if state == "G":
                assert w.held in ([], [job]), (w.n, state, job, w.held)
            elif state != "T":
                assert w.held == [], (w.n, state, job, w.held)
    jobs = {job_name(i) for i in range(JOBS)}
    assert set(holders) <= jobs and set(remaining) <= jobs
    assert len(set(remaining)) == len(remaining)
    assert in_get + len(in_job) <= len(kills)
    elapsed = time.monotonic() - t_start
    timing = (f"{len(workers)} worker processes; kills at jobs left "
              f"{[left for _, left in kills]}; fill {t_filled - t_start:.1f} "
              f"s, run {t_run - t_filled:.1f} s, total {elapsed:.1f} s"
              + (" (stopped at the time budget)" if stopped_early else ""))

    if not reliable:
        duplicates = {j: [w.n for w in ws] for j, ws in holders.items()
                      if len(ws) > 1}
        assert not duplicates, f"jobs got twice: {list(duplicates.items())[:10]}"
        assert not set(holders) & set(remaining)
        # A job got and not done is the one a killed worker was doing.
        assert set(holders) - set(dones) == set(in_job)
        # A worker killed during its get may have lost the job the server
        # popped for it: at most one per such worker, and nothing else.
        lost = jobs - set(holders) - set(remaining)
        report(capsys, f"queue churn (plain): done {len(dones)}, remaining "
               f"{len(remaining)}; killed {len(kills)}: {len(in_job)} in the "
               f"middle of a job (got, not done), {in_get} in a get "
               f"({len(lost)} jobs lost with them); {timing}")
        assert len(lost) <= in_get
        assert len(dones) + len(in_job) + len(remaining) + len(lost) == JOBS
    else:
        held = {}               # job -> the killed workers that held it
        for w in workers:
            for j in w.held or []:
                held.setdefault(j, []).append(w)
        assert sum(len(w.held or []) for w in workers) == recovered
        assert failed_acks == 0, "an ack failed: a live worker's job recovered"
        not_once = []
        for j in jobs:
            ws = [w for w in holders.get(j, []) if w not in held.get(j, [])]
            if len(ws) + (j in remaining) != 1:
                not_once.append((j, [w.n for w in holders.get(j, [])],
                                 j in remaining))
            for w in ws:
                # Its ack returned (or it was killed after the ack ran).
                assert w in dones.get(j, []) or in_job.get(j) is w, (j, w.n)
        assert not not_once, f"jobs not done exactly once: {not_once[:10]}"
        mid_job = sum(1 for j, w in in_job.items() if w in held.get(j, []))
        report(capsys, f"queue churn (reliable): done {len(jobs) - len(remaining)}, "
               f"remaining {len(remaining)}; killed {len(kills)}: "
               f"{len(in_job)} in the middle of a job ({mid_job} held and "
               f"recovered, {len(in_job) - mid_job} after their ack ran), "
               f"{in_get} in a get ({recovered - mid_job} held and "
               f"recovered); {timing}")
    assert elapsed < TIME_LIMIT
