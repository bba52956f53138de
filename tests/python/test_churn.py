# SPDX-License-Identifier: MIT
# Exactly-once under churn: 16 worker processes take 100,000 jobs with
# keys("job:*") + pop while the test SIGKILLs some of them mid-run and
# starts replacements. Every worker logs, unbuffered (os.write on an
# O_APPEND descriptor), "T <key>" before pop and "G <key>" / "N <key>"
# after it returned a value / None. Afterwards no key may be taken twice,
# and every job must be taken, still in the cache, or in flight in a
# killed worker (its last "T" with nothing after it; at most one each):
# the three counts must add up to the number of jobs exactly.
#
# Environment: TMC_CHURN_JOBS (100000), TMC_CHURN_WORKERS (16),
# TMC_CHURN_KILLS (4), TMC_CHURN_BUDGET (seconds, 100: the workers are
# told to stop then and the accounting covers what is left).

import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

from tmcpy import python_env
from tiny_mp_cache import TinyCache, spawn
from tiny_mp_cache._native import pack_command

JOBS = int(os.environ.get("TMC_CHURN_JOBS", "100000"))
WORKERS = int(os.environ.get("TMC_CHURN_WORKERS", "16"))
KILLS = int(os.environ.get("TMC_CHURN_KILLS", "4"))
BUDGET = float(os.environ.get("TMC_CHURN_BUDGET", "100"))
TIME_LIMIT = 120.0      # the whole test, filling and checking included
CHUNK = 256             # keys a worker tries per keys() call

# The worker: argv = address, log path, stop-file path, seed. Exits 0
# when no job is left (or the stop file exists), 3 on a wrong value.
WORKER = r"""
import os, random, sys
from tiny_mp_cache import TinyCache
addr, log, stop, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rnd = random.Random(seed)
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
c = TinyCache(addr, connect_timeout=10, timeout=60)
write = os.write
while not os.path.exists(stop):
    keys = c.keys("job:*")
    if not keys:
        break
    batch = rnd.sample(keys, min(len(keys), %d))
    for k in batch:
        kb = k.encode()
        write(fd, b"T " + kb + b"\n")
        v = c.pop(k)
        if v is None:
            write(fd, b"N " + kb + b"\n")
        elif v == kb[4:]:
            write(fd, b"G " + kb + b"\n")
        else:
            write(fd, b"X " + kb + b" " + v + b"\n")
            sys.exit(3)
os.close(fd)
""" % CHUNK


def report(capsys, text):
    """Print past pytest's capture, so the figures reach the test log."""
    with capsys.disabled():
        print("\n" + text, flush=True)


def job_key(i):
    return "job:%06d" % i


def fill(srv, n):
    """Store n jobs job:NNNNNN -> NNNNNN, pipelined over one socket."""
    host, port = srv.host, srv.port
    batch = 5000
    with socket.create_connection((host, port), timeout=60) as s:
        for start in range(0, n, batch):
            end = min(n, start + batch)
            s.sendall(b"".join(
                pack_command(b"SET", job_key(i), b"%06d" % i)
                for i in range(start, end)))
            want = b"+OK\r\n" * (end - start)
            got = bytearray()
            while len(got) < len(want):
                chunk = s.recv(1 << 16)
                assert chunk, "server closed while filling"
                got += chunk
            assert bytes(got) == want


class Worker:
    """One worker process and its log."""

    def __init__(self, n, addr, tmp, stop, seed):
        self.n = n
        self.log = os.path.join(tmp, "worker-%02d.log" % n)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, addr, self.log, stop, str(seed)],
            env=python_env(), stdin=subprocess.DEVNULL)
        self.killed = False

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.killed = True

    def reap(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
            return None


def parse_log(path, killed):
    """Check a worker's log and return (taken keys, none count, trailing
    key or None). Lines come in pairs: "T k" then "G k"/"N k"; only a
    killed worker may end with a lone "T k" (possibly cut short), and
    only a killed one may have no log at all (killed while starting)."""
    if killed and not os.path.exists(path):
        return [], 0, None
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        # A line without its newline: only a killed worker can leave one,
        # and only a "T" (G/N lines follow a finished pop; the T of a cut
        # line was not complete, so pop had not been called).
        assert killed, f"{path}: last line cut short in a live worker"
        assert lines[-1][:1] in (b"T", b""), f"{path}: cut line {lines[-1]!r}"
        lines.pop()
    taken = []
    nones = 0
    pending = None
    for ln in lines:
        kind, _, key = ln.partition(b" ")
        assert kind != b"X", f"{path}: wrong value: {ln!r}"
        if kind == b"T":
            assert pending is None, (
                f"{path}: T {key!r} after unfinished {pending!r}")
            pending = key
        else:
            assert kind in (b"G", b"N") and key == pending, (
                f"{path}: {ln!r} does not finish T {pending!r}")
            if kind == b"G":
                taken.append(key.decode())
            else:
                nones += 1
            pending = None
    if pending is not None:
        assert killed, f"{path}: a worker that was not killed left {pending!r}"
        pending = pending.decode()
    return taken, nones, pending


@pytest.mark.parametrize("backend_name", os.environ.get(
    "TMC_BACKENDS", "epoll select").split() or ["select"])
def test_exactly_once_under_churn(backend_name, tmp_path, capsys):
    t_start = time.monotonic()
    rnd = random.Random()
    seed = rnd.randrange(1 << 30)
    rnd.seed(seed)
    report(capsys, f"churn: backend {backend_name}, {JOBS} jobs, "
           f"{WORKERS} workers, {KILLS} kills, seed {seed}")
    stop = str(tmp_path / "stop")
    workers = []
    with spawn(event_backend=backend_name, loglevel="warning") as srv:
        fill(srv, JOBS)
        t_filled = time.monotonic()
        mon = TinyCache(srv.address, connect_timeout=10, timeout=60)
        assert mon.len() == JOBS
        for n in range(WORKERS):
            workers.append(Worker(n, srv.address, str(tmp_path), stop,
                                  rnd.randrange(1 << 30)))
        # Kill when the number of jobs left drops below random thresholds
        # spread over the run (the first at 5-95 % done).
        thresholds = sorted((rnd.uniform(0.05, 0.95) * JOBS
                             for _ in range(KILLS)), reverse=True)
        kills = []
        deadline = t_start + BUDGET
        stopped_early = False
        try:
            while any(w.alive() for w in workers):
                if time.monotonic() > deadline and not stopped_early:
                    open(stop, "w").close()
                    stopped_early = True
                left = mon.len()
                while thresholds and left <= thresholds[0]:
                    thresholds.pop(0)
                    live = [w for w in workers if w.alive()]
                    if not live:
                        break
                    victim = rnd.choice(live)
                    time.sleep(rnd.uniform(0, 0.005))   # a random moment
                    victim.kill()
                    kills.append((victim.n, left))
                    workers.append(Worker(len(workers), srv.address,
                                          str(tmp_path), stop,
                                          rnd.randrange(1 << 30)))
                time.sleep(0.01)
        finally:
            for w in workers:
                if w.alive() and not w.killed:
                    w.reap(30)
        t_run = time.monotonic()
        codes = {w.n: w.proc.returncode for w in workers if not w.killed}
        assert all(c == 0 for c in codes.values()), codes
        assert len(kills) == KILLS or stopped_early, (kills, thresholds)

        # What is still in the cache: drain it (checking the values).
        remaining = set(mon.keys("job:*"))
        for k in remaining:
            assert mon.pop(k) == k[4:].encode()
        assert mon.len() == 0
        mon.close()

    taken = {}
    duplicates = []
    nones = 0
    in_flight = {}
    for w in workers:
        got, n_none, pending = parse_log(w.log, w.killed)
        nones += n_none
        for k in got:
            if k in taken:
                duplicates.append((k, taken[k], w.n))
            taken[k] = w.n
        if pending is not None:
            in_flight[w.n] = pending
    assert not duplicates, f"jobs given to two workers: {duplicates[:10]}"
    assert len(in_flight) <= len(kills)

    jobs = {job_key(i) for i in range(JOBS)}
    assert set(taken) <= jobs and remaining <= jobs
    assert not (set(taken) & remaining)
    # A killed worker's last key is either lost with it (GETDEL ran, the
    # reply died with the process), or its request never reached the
    # server and the job was taken by another worker or is still here.
    lost = {k for k in in_flight.values()
            if k not in taken and k not in remaining}
    not_reached = len(in_flight) - len(lost)
    vanished = jobs - set(taken) - remaining - lost
    elapsed = time.monotonic() - t_start
    report(capsys, f"churn: taken {len(taken)}, remaining {len(remaining)}, "
          f"in flight in killed workers {len(lost)} "
          f"(+{not_reached} whose pop never reached the server), "
          f"vanished {len(vanished)}; empty pops {nones}; "
          f"kills at jobs left {[left for _, left in kills]}; "
          f"{len(workers)} worker processes; fill {t_filled - t_start:.1f} s, "
          f"run {t_run - t_filled:.1f} s, total {elapsed:.1f} s"
          + (" (stopped at the time budget)" if stopped_early else ""))
    assert not vanished, f"jobs that vanished: {sorted(vanished)[:10]}"
    assert len(taken) + len(remaining) + len(lost) == JOBS
    assert elapsed < TIME_LIMIT
