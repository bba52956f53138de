#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bounded memory soak: is the server's RSS flat once its key count is flat?

    python3 bench/soak.py [--duration SECONDS] [--server PATH] [--clients N]
                          [--keys N] [--max-value BYTES] [--interval S]
                          [--max-growth-pct P] [--max-growth-mb M]
                          [--event-backend NAME]

Starts tiny-mp-cache-server on 127.0.0.1 (a free port), then runs a mixed
load from --clients worker processes for --duration seconds (default 600;
``--duration 30`` for a quick run): SET, GET, GETDEL, DEL, ``KEYS
prefix*`` and pipelines of 50 SET/GET/GETDEL, over a bounded keyspace of
--keys keys with values of random sizes up to --max-value bytes. SETs
fill the keyspace and GETDEL/DEL empty it, so the key count settles at
about two thirds of --keys after the first seconds.

Every --interval seconds (default: duration / 60, between 1 and 5 s) it
prints the server's key count (DBSIZE), INFO used_memory, VmRSS from
/proc/PID/status and the operations per second of the clients.

At the end it takes the second half of the samples (the key count is flat
by then; the spread is printed), and compares the mean RSS of its first
quarter with the mean RSS of its last quarter. The verdict is "flat" if
RSS grew by at most max(--max-growth-pct % of the first mean,
--max-growth-mb MiB) (defaults 5 % and 4 MiB), else "grew".

Every value a worker reads back is checked: it names its key and has the
length its header says, so a corrupted or mixed-up value is counted as an
error. The server must exit 0 on SIGTERM at the end.

Exit status: 0 flat and no errors; 1 RSS grew past the threshold; 2 the
server failed (did not start, died, exited non-zero) or a client saw a
wrong reply or lost its connection; 130 interrupted (Ctrl-C). Everything
started here (the server and the workers) is stopped on exit, including
on Ctrl-C and SIGTERM. Only loopback is used. Linux only (/proc).

The server is found with --server, else $TMC_SERVER, else
$top_builddir/src/tiny-mp-cache-server, else src/tiny-mp-cache-server in
the source tree (an in-tree build).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import multiprocessing.synchronize
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any, List, Optional, Sequence, Tuple

HOST = "127.0.0.1"
KEY_PREFIX = b"soak:"
READY_RE = re.compile(rb"Ready to accept connections: tcp [^ ]*:(\d+)")
PIPELINE = 50

EXIT_FLAT = 0
EXIT_GREW = 1
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


class SoakError(RuntimeError):
    """The server or a client misbehaved; the soak cannot go on."""


# ---- A minimal RESP2 client (standard library only) ----

class Conn:
    """A blocking RESP2 connection with a read buffer."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    @staticmethod
    def encode(*args: bytes) -> bytes:
        """Encode one command as a RESP multibulk request."""
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, data: bytes) -> None:
        """Send raw request bytes."""
        self.sock.sendall(data)

    def _fill(self) -> None:
        """Read more bytes into the buffer; SoakError on EOF."""
        if self.pos > 65536 and self.pos * 2 > len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise SoakError("server closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        """Return the next CRLF-terminated line, without the CRLF."""
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos:end])
                self.pos = end + 2
                return line
            self._fill()

    def reply(self) -> Any:
        """Read one reply: str, int, bytes, None, list, or SoakError."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return SoakError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            data = bytes(self.buf[self.pos:self.pos + n])
            if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
                raise SoakError("bulk reply not followed by CRLF")
            self.pos += n + 2
            return data
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.reply() for _ in range(n)]
        raise SoakError("not a RESP reply: %r" % line[:40])

    def call(self, *args: bytes) -> Any:
        """Send one command and return its reply."""
        self.send(self.encode(*args))
        return self.reply()


# ---- Values that can be checked when read back ----

def make_value(key: bytes, rng: random.Random, max_size: int) -> bytes:
    """Return a value for key: "<key>|<length>|" then filler bytes.

    The size is log-uniform between 16 and max_size bytes, so many small
    and some large values mix, which is what fragments an allocator.
    """
    size = int(16 * (max_size / 16.0) ** rng.random())
    head = key + b"|%d|" % size
    fill = bytes([97 + rng.randrange(26)])
    return head + fill * max(0, size - len(head))


def check_value(key: bytes, value: Any) -> bool:
    """Return True if value is None or a well-formed value for key."""
    if value is None:
        return True
    if not isinstance(value, bytes):
        return False
    parts = value.split(b"|", 2)
    if len(parts) != 3 or parts[0] != key:
        return False
    try:
        size = int(parts[1])
    except ValueError:
        return False
    head = len(parts[0]) + len(parts[1]) + 2
    return len(value) == max(size, head)


# ---- Worker processes ----

@dataclass
class WorkerConfig:
    """What one worker process needs to know."""

    index: int
    port: int
    keys: int
    max_value: int
    seed: int


def worker_main(cfg: WorkerConfig, stop: mp.synchronize.Event,
                ops: Any, errors: Any) -> None:
    """Run the mixed load until stop is set.

    ops and errors are shared counters (multiprocessing.Value). An error
    (a wrong reply, a broken value, a lost connection) is counted and
    printed, and the worker reconnects.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rng = random.Random(cfg.seed)
    conn: Optional[Conn] = None
    done = 0

    def key() -> bytes:
        return KEY_PREFIX + b"%d" % rng.randrange(cfg.keys)

    while not stop.is_set():
        try:
            if conn is None:
                conn = Conn(cfg.port)
            done += run_one(conn, rng, key, cfg)
        except (OSError, SoakError) as exc:
            with errors.get_lock():
                errors.value += 1
            print("worker %d: %s" % (cfg.index, exc), file=sys.stderr,
                  flush=True)
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.1)
        if done >= 200:
            with ops.get_lock():
                ops.value += done
            done = 0
    with ops.get_lock():
        ops.value += done
    if conn is not None:
        conn.close()


def expect(ok: bool, what: str) -> None:
    """Raise SoakError(what) unless ok."""
    if not ok:
        raise SoakError(what)


def run_one(conn: Conn, rng: random.Random, key: Any,
            cfg: WorkerConfig) -> int:
    """Run one randomly chosen operation; return the commands it sent.

    Mix: SET 30 %, GET 30 %, GETDEL 10 %, DEL 5 % (1-3 keys), a pipeline
    of PIPELINE commands (SET 45 %, GET 35 %, GETDEL 20 % of them) 24 %,
    KEYS prefix* 1 %.
    """
    r = rng.random()
    if r < 0.30:
        k = key()
        rep = conn.call(b"SET", k, make_value(k, rng, cfg.max_value))
        expect(rep == "OK", "SET replied %r" % (rep,))
        return 1
    if r < 0.60:
        k = key()
        rep = conn.call(b"GET", k)
        expect(check_value(k, rep), "GET %r replied %r" % (k, rep))
        return 1
    if r < 0.70:
        k = key()
        rep = conn.call(b"GETDEL", k)
        expect(check_value(k, rep), "GETDEL %r replied %r" % (k, rep))
        return 1
    if r < 0.75:
        ks = [key() for _ in range(rng.randint(1, 3))]
        rep = conn.call(b"DEL", *ks)
        expect(isinstance(rep, int) and 0 <= rep <= len(ks),
               "DEL replied %r" % (rep,))
        return 1
    if r < 0.99:
        cmds: List[Tuple[bytes, bytes]] = []
        for _ in range(PIPELINE):
            k, c = key(), rng.random()
            cmds.append((b"SET" if c < 0.45 else b"GET" if c < 0.80
                         else b"GETDEL", k))
        conn.send(b"".join(
            conn.encode(name, k, make_value(k, rng, cfg.max_value))
            if name == b"SET" else conn.encode(name, k)
            for name, k in cmds))
        for name, k in cmds:
            rep = conn.reply()
            if name == b"SET":
                expect(rep == "OK", "pipelined SET replied %r" % (rep,))
            else:
                expect(check_value(k, rep), "pipelined %s %r replied %r"
                       % (name.decode(), k, rep))
        return PIPELINE
    # KEYS walks the whole keyspace, so it stays rare; the prefix matches
    # about keys / 1000 keys (e.g. soak:123*).
    prefix = KEY_PREFIX + b"%d" % rng.randrange(100, 1000)
    rep = conn.call(b"KEYS", prefix + b"*")
    expect(isinstance(rep, list)
           and all(isinstance(k, bytes) and k.startswith(prefix)
                   for k in rep),
           "KEYS replied %r" % (rep if not isinstance(rep, list)
                                else rep[:5],))
    return 1


# ---- The server ----

def default_server_path() -> str:
    """Return $TMC_SERVER, $top_builddir/src/..., or the in-tree binary."""
    path = os.environ.get("TMC_SERVER")
    if path:
        return path
    top = os.environ.get("top_builddir") or os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(top, "src", "tiny-mp-cache-server")


class ServerProcess:
    """The server under test, on a free loopback port."""

    def __init__(self, path: str, backend: Optional[str]) -> None:
        self.path = path
        self.backend = backend
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self.spawned = False
        self.log = tempfile.NamedTemporaryFile(prefix="tmc-soak-",
                                               suffix=".log", delete=False)

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait for its ready line."""
        if not os.access(self.path, os.X_OK):
            raise SoakError("server binary not found: %s (build it, or "
                            "give --server or TMC_SERVER)" % self.path)
        argv = [self.path, "--port", "0", "--bind", HOST]
        if self.backend:
            argv += ["--event-backend", self.backend]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        self.spawned = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log.name, "rb") as f:
                m = READY_RE.search(f.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise SoakError("server did not get ready:\n" + self.output())

    def output(self) -> str:
        """Everything the server logged so far."""
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self) -> bool:
        """Return True if the server process is running."""
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self) -> int:
        """Return the server's VmRSS in KiB."""
        assert self.proc is not None
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise SoakError("no VmRSS in /proc/%d/status" % self.proc.pid)

    def stop(self) -> Optional[int]:
        """SIGTERM the server (SIGKILL after 10 s); return its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def remove_log(self) -> None:
        """Delete the log file."""
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


def info_fields(conn: Conn) -> dict:
    """Return INFO's fields as a dict of strings."""
    raw = conn.call(b"INFO")
    if not isinstance(raw, bytes):
        raise SoakError("INFO replied %r" % (raw,))
    out = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        if ":" in line and not line.startswith("#"):
            name, value = line.split(":", 1)
            out[name] = value
    return out


# ---- Sampling and the verdict ----

@dataclass
class Sample:
    """One measurement of the server."""

    t: float
    keys: int
    used_memory: int
    rss_kib: int
    ops: int


def mib(nbytes: float) -> float:
    """Bytes to MiB."""
    return nbytes / (1024.0 * 1024.0)


@dataclass
class Verdict:
    """The comparison of the second half's first and last quarters."""

    samples: int
    keys_min: int
    keys_max: int
    rss_first: float
    rss_last: float
    used_first: float
    used_last: float
    limit: float
    flat: bool


def judge(samples: Sequence[Sample], max_pct: float,
          max_mib: float) -> Verdict:
    """Compare mean RSS of the first and last quarter of the second half.

    RSS and used_memory figures are in bytes. Needs at least 8 samples.
    """
    half = list(samples[len(samples) // 2:])
    q = max(1, len(half) // 4)
    first, last = half[:q], half[-q:]
    rss_first = statistics.mean(s.rss_kib * 1024.0 for s in first)
    rss_last = statistics.mean(s.rss_kib * 1024.0 for s in last)
    used_first = statistics.mean(float(s.used_memory) for s in first)
    used_last = statistics.mean(float(s.used_memory) for s in last)
    limit = max(rss_first * max_pct / 100.0, max_mib * 1024.0 * 1024.0)
    return Verdict(samples=len(half),
                   keys_min=min(s.keys for s in half),
                   keys_max=max(s.keys for s in half),
                   rss_first=rss_first, rss_last=rss_last,
                   used_first=used_first, used_last=used_last,
                   limit=limit, flat=rss_last - rss_first <= limit)


def print_verdict(v: Verdict, max_pct: float, max_mib: float) -> None:
    """Print the numbers behind the verdict."""
    print()
    print("second half: %d samples, key count %d..%d (spread %.1f %%)"
          % (v.samples, v.keys_min, v.keys_max,
             100.0 * (v.keys_max - v.keys_min) / max(1, v.keys_max)))
    print("mean RSS, first quarter of it:  %8.2f MiB" % mib(v.rss_first))
    print("mean RSS, last quarter of it:   %8.2f MiB" % mib(v.rss_last))
    print("RSS growth: %+.2f MiB (%+.2f %%); allowed: %.2f MiB "
          "(max of %.1f %% and %.1f MiB)"
          % (mib(v.rss_last - v.rss_first),
             100.0 * (v.rss_last - v.rss_first) / v.rss_first,
             mib(v.limit), max_pct, max_mib))
    print("mean used_memory, first / last quarter: %.2f / %.2f MiB "
          "(%+.2f MiB)" % (mib(v.used_first), mib(v.used_last),
                           mib(v.used_last - v.used_first)))
    print("verdict: RSS %s" % ("flat" if v.flat else "GREW"))


# ---- Main ----

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description="Bounded memory soak of tiny-mp-cache-server: mixed "
        "load on a bounded keyspace; is RSS flat once the key count is?")
    p.add_argument("--duration", type=float, default=600.0,
                   help="seconds of load (default 600; 30 for a quick run)")
    p.add_argument("--server", default=None,
                   help="server binary (default $TMC_SERVER or the build "
                   "tree)")
    p.add_argument("--clients", type=int, default=4,
                   help="client processes (default 4)")
    p.add_argument("--keys", type=int, default=20000,
                   help="size of the keyspace (default 20000)")
    p.add_argument("--max-value", type=int, default=16384,
                   help="largest value in bytes (default 16384)")
    p.add_argument("--interval", type=float, default=None,
                   help="seconds between samples (default duration/60, "
                   "1..5)")
    p.add_argument("--max-growth-pct", type=float, default=5.0,
                   help="allowed RSS growth in %% (default 5)")
    p.add_argument("--max-growth-mb", type=float, default=4.0,
                   help="allowed RSS growth in MiB, if larger (default 4)")
    p.add_argument("--event-backend", default=None,
                   help="epoll or select (default: the server's)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed (default: from the time)")
    a = p.parse_args(argv)
    if a.duration < 8 or a.clients < 1 or a.keys < 1000 \
            or a.max_value < 64:
        p.error("need --duration >= 8, --clients >= 1, --keys >= 1000, "
                "--max-value >= 64")
    if a.interval is None:
        a.interval = min(5.0, max(1.0, a.duration / 60.0))
    if a.interval <= 0 or a.duration / a.interval < 8:
        p.error("need at least 8 samples: lower --interval")
    return a


def on_sigterm(_signum: int, _frame: Optional[FrameType]) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so cleanup runs."""
    raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the soak and return the exit status."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    seed = args.seed if args.seed is not None else int(time.time())
    server = ServerProcess(args.server or default_server_path(),
                           args.event_backend)
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    ops: Any = ctx.Value("q", 0)
    errors: Any = ctx.Value("q", 0)
    workers: List[Any] = []
    samples: List[Sample] = []
    status = EXIT_FAILED
    keep_log = False
    try:
        server.start()
        print("soak: server %s pid %d port %d; %d clients, %d keys, values "
              "up to %d bytes, %.0f s, a sample every %.1f s, seed %d"
              % (server.path, server.proc.pid if server.proc else 0,
                 server.port, args.clients, args.keys, args.max_value,
                 args.duration, args.interval, seed), flush=True)
        for i in range(args.clients):
            cfg = WorkerConfig(index=i, port=server.port, keys=args.keys,
                               max_value=args.max_value, seed=seed * 100 + i)
            w = ctx.Process(target=worker_main, args=(cfg, stop, ops, errors),
                            daemon=True)
            w.start()
            workers.append(w)
        mon = Conn(server.port)
        print("%8s %9s %13s %10s %10s %7s"
              % ("time_s", "keys", "used_memory", "rss_kib", "ops/s",
                 "errors"), flush=True)
        start = time.monotonic()
        last_t, last_ops = start, 0
        next_t = start + args.interval
        while True:
            time.sleep(max(0.0, next_t - time.monotonic()))
            next_t += args.interval
            if not server.alive():
                raise SoakError("server died:\n" + server.output())
            now = time.monotonic()
            info = info_fields(mon)
            dbsize = mon.call(b"DBSIZE")
            s = Sample(t=now - start, keys=int(dbsize),
                       used_memory=int(info.get("used_memory", "0")),
                       rss_kib=server.rss_kib(), ops=ops.value)
            samples.append(s)
            rate = (s.ops - last_ops) / max(1e-9, now - last_t)
            last_t, last_ops = now, s.ops
            print("%8.1f %9d %13d %10d %10.0f %7d"
                  % (s.t, s.keys, s.used_memory, s.rss_kib, rate,
                     errors.value), flush=True)
            if s.t >= args.duration:
                break
        mon.close()
        stop.set()
        for w in workers:
            w.join(timeout=30)
        total_ops = ops.value
        code = server.stop()
        print("\n%d commands in %.0f s (%.0f/s), %d client errors, server "
              "exit code %s" % (total_ops, samples[-1].t,
                                total_ops / samples[-1].t, errors.value,
                                code))
        v = judge(samples, args.max_growth_pct, args.max_growth_mb)
        print_verdict(v, args.max_growth_pct, args.max_growth_mb)
        if code != 0 or errors.value:
            print("FAILED: %s" % ("server exit code %s" % code if code != 0
                                  else "clients saw errors"))
            keep_log = True
            status = EXIT_FAILED
        else:
            status = EXIT_FLAT if v.flat else EXIT_GREW
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    except (SoakError, OSError) as exc:
        print("soak: %s" % exc, file=sys.stderr)
        keep_log = True
        status = EXIT_FAILED
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=5)
            if w.is_alive():
                w.kill()
                w.join()
        server.stop()
        if keep_log and server.spawned:
            print("server log kept: %s" % server.log.name, file=sys.stderr)
        else:
            server.remove_log()
    return status


if __name__ == "__main__":
    sys.exit(main())
