#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare Python clients of tiny-mp-cache, Redis and multiprocessing.

    python3 bench/python_clients.py [--ops N] [--size BYTES] [--procs N]
                                    [--max-seconds S] [--quick]

Round trips per second from one client for SET, GET and GETDEL of one
value, with:

  - tiny_mp_cache.TinyCache -> tiny-mp-cache (started with spawn());
  - redis-py (hiredis parser if installed) -> tiny-mp-cache;
  - a new TCP connection per operation -> tiny-mp-cache (the original
    tiny-mp-cache design): connect, send the pre-encoded RESP command,
    read the reply, close;
  - TinyCache -> redis-server and redis-py -> redis-server;
  - multiprocessing.Manager().dict() (d[k] = v, d.get(k), d.pop(k, None)).

Then GET of one key from --procs forked client processes at once
(aggregate ops/s), which is how multiprocessing workers use a cache.

Everything runs on 127.0.0.1 on free ports, and every server this script
starts is stopped before it exits, also on Ctrl-C, SIGTERM or an error.
Without redis-server or redis-py the rows that need them are skipped.
Loopback round trips vary from run to run with where the scheduler puts
client and server; ``taskset -c 0`` (everything on one CPU) steadies them.
Run it from a build directory with ``PYTHONPATH=python-stage``, or with
the package installed.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import multiprocessing.queues
import multiprocessing.synchronize
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.managers import SyncManager
from types import FrameType, ModuleType
from typing import Callable, List, Optional, Sequence, Tuple

try:
    import tiny_mp_cache
    from tiny_mp_cache import TinyCache, spawn
except ImportError as exc:  # pragma: no cover - depends on the setup
    sys.exit(f"cannot import tiny_mp_cache ({exc}); run from a build "
             "directory with PYTHONPATH=python-stage, or install it")

HOST = "127.0.0.1"
KEY_PREFIX = "bench:"
SHARED_KEY = "bench:0"          # the key the parallel GET rows read
CHUNK = 256                     # operations between two deadline checks
SERVER_START_TIMEOUT = 10.0     # seconds a server may take to listen
QUICK_OPS = 2000
QUICK_MAX_SECONDS = 2.0

Op = Callable[[int], object]        # one timed operation on key number i
GetOp = Callable[[], object]        # one GET of SHARED_KEY
MakeGet = Callable[[], GetOp]       # runs in each client process


class Interrupted(BaseException):
    """Raised by the SIGTERM and SIGALRM handlers, so cleanup code runs."""


@dataclass
class Row:
    """One line of the result table; None marks a cell not measured."""

    name: str
    set_rate: Optional[float] = None
    get_rate: Optional[float] = None
    getdel_rate: Optional[float] = None
    parallel_rate: Optional[float] = None


@dataclass
class Target:
    """The three timed operations of one client against one server.

    ``ops(keys, value)`` returns the SET, GET and GETDEL operations on
    ``keys[i]``; ``set_one(key, value)`` and ``get_one(key)`` serve the
    untimed steps; ``make_get()`` runs in each process of the parallel row.
    """

    name: str
    ops: Callable[[Sequence[str], bytes], Tuple[Op, Op, Op]]
    set_one: Callable[[str, bytes], object]
    get_one: Callable[[str], object]
    make_get: MakeGet


# ---- Machine facts ------------------------------------------------------


def cpu_model() -> str:
    """Return the CPU model named in /proc/cpuinfo, or 'unknown'."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                name, sep, value = line.partition(":")
                if sep and name.strip() in ("model name", "Processor"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus() -> List[int]:
    """Return the CPUs this process may run on (taskset narrows them)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def redis_server_version(exe: Optional[str]) -> Optional[str]:
    """Return the version printed by ``redis-server --version``, or None."""
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"v=(\S+)", out)
    return m.group(1) if m else (out.strip() or None)


def import_redis() -> Tuple[Optional[ModuleType], str, str]:
    """Import redis-py; return (module or None, the label of its rows,
    a description for the report)."""
    try:
        import redis
    except ImportError:
        return None, "", "not installed (redis-py rows skipped)"
    try:
        from redis.utils import HIREDIS_AVAILABLE as hiredis
    except ImportError:  # pragma: no cover - very old redis-py
        hiredis = False
    if hiredis:
        return (redis, "redis-py (hiredis)",
                f"{redis.__version__}, hiredis parser")
    return (redis, "redis-py (Python parser)",
            f"{redis.__version__}, pure-Python parser (hiredis not installed)")


# ---- Servers ------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes],
                   timeout: float) -> bool:
    """Wait until something accepts on HOST:port; False if proc exits or
    ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((HOST, port), timeout=1.0).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server process: SIGTERM, then SIGKILL after 10 seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_redis_server(stack: contextlib.ExitStack,
                       exe: str) -> Tuple[Optional[int], str]:
    """Start redis-server on a free loopback port without persistence.

    Registers its stop with ``stack``. Returns (port, "") or (None, why).
    It runs in a session of its own, so a Ctrl-C in the terminal reaches
    only this script, which then stops it.
    """
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", HOST, "--save", "",
         "--appendonly", "no", "--loglevel", "warning"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        start_new_session=True)
    stack.callback(stop_process, proc)
    if wait_listening(port, proc, SERVER_START_TIMEOUT):
        return port, ""
    return None, f"redis-server did not start on port {port}"


def reset_child_signals() -> None:
    """In a helper process: leave SIGINT to the parent, default SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


# ---- Connection per operation (the original tiny-mp-cache design) ------


def encode_command(*args: bytes) -> bytes:
    """Encode one command as a RESP2 array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(sock: socket.socket) -> Optional[bytes]:
    """Read one simple-string or bulk-string reply from ``sock``.

    Returns the payload (None for a null bulk string); an error reply
    raises RuntimeError, a closed connection ConnectionError.
    """
    buf = bytearray()
    while b"\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    end = buf.index(b"\r\n")
    kind, head = buf[:1], bytes(buf[1:end])
    if kind == b"-":
        raise RuntimeError(f"error reply: {head.decode(errors='replace')}")
    if kind != b"$":
        return head
    length = int(head)
    if length < 0:
        return None
    need = end + 2 + length + 2
    while len(buf) < need:
        chunk = sock.recv(max(need - len(buf), 65536))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk
    return bytes(buf[end + 2:end + 2 + length])


def one_shot(address: Tuple[str, int], payload: bytes) -> Optional[bytes]:
    """Open a TCP connection, send one encoded command, read the reply and
    close the connection."""
    with socket.create_connection(address) as sock:
        sock.sendall(payload)
        return read_reply(sock)


def connection_per_op_target(port: int) -> Target:
    """The connection-per-operation client of tiny-mp-cache on ``port``."""
    address = (HOST, port)

    def ops(keys: Sequence[str], value: bytes) -> Tuple[Op, Op, Op]:
        """Pre-encode every command, so the timed loop only does I/O."""
        bkeys = [k.encode() for k in keys]
        sets = [encode_command(b"SET", k, value) for k in bkeys]
        gets = [encode_command(b"GET", k) for k in bkeys]
        dels = [encode_command(b"GETDEL", k) for k in bkeys]
        return (lambda i: one_shot(address, sets[i]),
                lambda i: one_shot(address, gets[i]),
                lambda i: one_shot(address, dels[i]))

    def set_one(key: str, value: bytes) -> object:
        """SET one key on a connection of its own."""
        return one_shot(address, encode_command(b"SET", key.encode(), value))

    def get_one(key: str) -> object:
        """GET one key on a connection of its own."""
        return one_shot(address, encode_command(b"GET", key.encode()))

    def make_get() -> GetOp:
        """Return a GET of SHARED_KEY that connects every time."""
        payload = encode_command(b"GET", SHARED_KEY.encode())
        return lambda: one_shot(address, payload)

    return Target("connection per operation (the original tiny-mp-cache "
                  "design)", ops, set_one, get_one, make_get)


# ---- Persistent clients -------------------------------------------------


def tinycache_target(name: str, address: str) -> Target:
    """TinyCache (one persistent connection) against ``address``."""
    client = TinyCache(address, connect_timeout=SERVER_START_TIMEOUT)

    def ops(keys: Sequence[str], value: bytes) -> Tuple[Op, Op, Op]:
        """SET, GET and pop() (GETDEL) of keys[i] on the one client."""
        return (lambda i: client.set(keys[i], value),
                lambda i: client.get(keys[i]),
                lambda i: client.pop(keys[i]))

    def make_get() -> GetOp:
        """Return a GET of SHARED_KEY on a new TinyCache."""
        c = TinyCache(address, connect_timeout=SERVER_START_TIMEOUT)
        return lambda: c.get(SHARED_KEY)

    return Target(name, ops, client.set, client.get, make_get)


def redispy_target(name: str, redis: ModuleType, port: int) -> Target:
    """redis-py (its default connection pool) against HOST:port."""
    client = redis.Redis(host=HOST, port=port)

    def ops(keys: Sequence[str], value: bytes) -> Tuple[Op, Op, Op]:
        """SET, GET and GETDEL of keys[i] on the one client."""
        return (lambda i: client.set(keys[i], value),
                lambda i: client.get(keys[i]),
                lambda i: client.getdel(keys[i]))

    def make_get() -> GetOp:
        """Return a GET of SHARED_KEY on a new redis.Redis."""
        c = redis.Redis(host=HOST, port=port)
        return lambda: c.get(SHARED_KEY)

    return Target(name, ops, client.set, client.get, make_get)


def manager_target(manager: SyncManager) -> Target:
    """A dict proxy of a multiprocessing manager process."""
    d = manager.dict()

    def ops(keys: Sequence[str], value: bytes) -> Tuple[Op, Op, Op]:
        """d[k] = v, d.get(k) and d.pop(k, None) of k = keys[i]."""
        def put(i: int) -> None:
            """Store the value under keys[i]."""
            d[keys[i]] = value
        return (put, lambda i: d.get(keys[i]),
                lambda i: d.pop(keys[i], None))

    def set_one(key: str, value: bytes) -> None:
        """Store value under key."""
        d[key] = value

    def make_get() -> GetOp:
        """Return a GET of SHARED_KEY through the (inherited) proxy."""
        return lambda: d.get(SHARED_KEY)

    return Target("multiprocessing.Manager().dict()", ops, set_one, d.get,
                  make_get)


# ---- Measurement --------------------------------------------------------


def run_timed(op: Op, count: int, max_seconds: float) -> Tuple[int, float]:
    """Call op(0), op(1), ... op(count - 1) one after the other.

    Stops early once ``max_seconds`` have passed (checked every CHUNK
    calls). Returns (calls done, elapsed seconds by time.perf_counter).
    """
    t0 = time.perf_counter()
    limit = t0 + max_seconds
    done = 0
    while done < count:
        end = min(done + CHUNK, count)
        for i in range(done, end):
            op(i)
        done = end
        if time.perf_counter() > limit:
            break
    return done, time.perf_counter() - t0


def bench_one_client(target: Target, ops_count: int, value: bytes,
                     max_seconds: float) -> Row:
    """Measure SET, then GET, then GETDEL of distinct keys, one client.

    GET and GETDEL use the keys SET stored. One untimed SET, GET and
    GETDEL first open the connection; untimed checks afterwards make sure
    the values really were stored and deleted.
    """
    keys = [f"{KEY_PREFIX}{i}" for i in range(ops_count)]
    warm = [f"{KEY_PREFIX}warmup"]
    for op in target.ops(warm, value):
        op(0)
    set_op, get_op, del_op = target.ops(keys, value)
    stored, t_set = run_timed(set_op, ops_count, max_seconds)
    got, t_get = run_timed(get_op, stored, max_seconds)
    if target.get_one(keys[0]) != value:
        raise RuntimeError(f"{target.name}: GET did not return the value")
    deleted, t_del = run_timed(del_op, stored, max_seconds)
    if target.get_one(keys[0]) is not None:
        raise RuntimeError(f"{target.name}: GETDEL left the key behind")
    for i in range(deleted, stored):        # after an early stop
        del_op(i)
    return Row(target.name, stored / t_set, got / t_get, deleted / t_del)


def get_worker(make_get: MakeGet, count: int, max_seconds: float,
               ready: mp.synchronize.Barrier, start: mp.synchronize.Event,
               out: mp.queues.Queue[int]) -> None:
    """Client process: connect and GET once untimed, report ready, wait
    for the start signal, then GET SHARED_KEY ``count`` times.

    Puts the number of GETs done on ``out``, or -1 after an error (which
    it describes in one line on standard error).
    """
    reset_child_signals()
    try:
        get = make_get()
        get()
        ready.wait(60)
        if not start.wait(60):
            raise TimeoutError("no start signal within 60 s")
        done, _ = run_timed(lambda i: get(), count, max_seconds)
    except Exception as e:
        ready.abort()
        print(f"client process {os.getpid()}: {type(e).__name__}: {e}",
              file=sys.stderr, flush=True)
        out.put(-1)
    else:
        out.put(done)


def bench_parallel(make_get: MakeGet, procs: int, ops_count: int,
                   max_seconds: float) -> float:
    """GET SHARED_KEY from ``procs`` forked processes at once.

    Each does ops_count // procs GETs. Returns all GETs done divided by the
    wall time from the start signal until the last process reported.
    Processes still running on the way out are terminated.
    """
    ctx = mp.get_context("fork")
    ready = ctx.Barrier(procs + 1)
    start = ctx.Event()
    out: mp.queues.Queue[int] = ctx.Queue()
    per = max(ops_count // procs, 1)
    workers = [ctx.Process(target=get_worker,
                           args=(make_get, per, max_seconds, ready, start,
                                 out),
                           daemon=True)
               for _ in range(procs)]
    try:
        for w in workers:
            w.start()
        try:
            ready.wait(60)      # every process has connected
        except threading.BrokenBarrierError:
            raise RuntimeError("a client process failed to start") from None
        t0 = time.perf_counter()
        start.set()
        counts = [out.get(timeout=max_seconds + 60) for _ in workers]
        elapsed = time.perf_counter() - t0
        for w in workers:
            w.join(10)
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
                w.join()
    if min(counts) < 0:
        raise RuntimeError("a client process failed")
    return sum(counts) / elapsed


# ---- Report -------------------------------------------------------------


def fmt(rate: Optional[float]) -> str:
    """Format an ops/s figure with thousands separators; '' if missing."""
    return "" if rate is None else f"{rate:,.0f}"


def progress(text: str) -> None:
    """Show progress on standard error (standard output is the report)."""
    print(text, file=sys.stderr, flush=True)


def print_table(rows: Sequence[Row], procs: int) -> None:
    """Print the results as a Markdown table."""
    print("| client -> server | SET | GET | GETDEL "
          f"| GET, {procs} processes |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r.name} | {fmt(r.set_rate)} | {fmt(r.get_rate)} | "
              f"{fmt(r.getdel_rate)} | {fmt(r.parallel_rate)} |")


def print_header(args: argparse.Namespace, redis_exe: Optional[str],
                 redis_desc: str) -> None:
    """Print the machine facts and how the figures are measured."""
    cpus = usable_cpus()
    redis_version = redis_server_version(redis_exe)
    print("## Python clients: operations per second\n")
    print(f"- CPU: {cpu_model()}; {os.cpu_count()} logical CPUs, this run "
          f"may use {len(cpus)}: {','.join(map(str, cpus))}")
    print(f"- OS: {platform.system()} {platform.release()}; load average "
          f"at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- Python {platform.python_version()} "
          f"({platform.python_implementation()}, {sys.executable})")
    print(f"- tiny-mp-cache {tiny_mp_cache.__version__}")
    print(f"- redis-server: {redis_version or 'not found (rows skipped)'}")
    print(f"- redis-py: {redis_desc}")
    print(f"- {args.ops} operations per phase, {args.size}-byte values, "
          f"{args.procs} client processes, at most {args.max_seconds:g} s "
          "per phase")
    print("\nMethod: one client on 127.0.0.1 does SET of --ops distinct "
          "keys, then GET of them, then GETDEL of them, one operation after "
          "the other; one untimed SET/GET/GETDEL first opens the connection. "
          "Each phase is timed as a whole with time.perf_counter(): "
          "ops/s = operations completed / elapsed seconds, a single run, "
          "not an average. 'connection per operation' connects, sends the "
          "pre-encoded command, reads the reply and closes, every time. "
          f"'GET, {args.procs} processes': forked processes each connect "
          "and do one untimed GET; once all are ready a common start "
          "signal sets them off to GET "
          f"one key {max(args.ops // args.procs, 1)} times each; ops/s = "
          "all GETs / wall time from the start signal until the last "
          "process reports. Client and servers share this machine (and "
          "the CPUs above).\n", flush=True)


# ---- Main ---------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line; --quick lowers the counts."""
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--ops", type=int, default=20000,
                    help="operations per phase and client (default 20000)")
    ap.add_argument("--size", type=int, default=100,
                    help="value size in bytes (default 100)")
    ap.add_argument("--procs", type=int, default=8,
                    help="client processes for the parallel GET (default 8)")
    ap.add_argument("--max-seconds", type=float, default=10.0,
                    help="stop a phase after this many seconds (default 10)")
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK_OPS} operations, at most "
                         f"{QUICK_MAX_SECONDS:g} s per phase (< 30 s in all)")
    args = ap.parse_args(argv)
    if args.quick:
        args.ops = min(args.ops, QUICK_OPS)
        args.max_seconds = min(args.max_seconds, QUICK_MAX_SECONDS)
    if args.ops < 1 or args.size < 0 or args.procs < 1 \
            or args.max_seconds <= 0:
        ap.error("--ops and --procs must be >= 1, --size >= 0, "
                 "--max-seconds > 0")
    return args


def on_signal(signum: int, frame: Optional[FrameType]) -> None:
    """Turn SIGTERM and the overall time limit into an exception."""
    raise Interrupted(signal.Signals(signum).name)


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> List[Row]:
    """Start the servers (stopped by ``stack``) and measure every row."""
    value = b"x" * args.size
    redis, label, _ = import_redis()
    redis_exe = shutil.which("redis-server")

    srv = stack.enter_context(spawn(host=HOST, loglevel="warning"))
    assert srv.port is not None
    targets: List[Target] = [
        tinycache_target("TinyCache -> tiny-mp-cache", srv.address)]
    if redis is not None:
        targets.append(redispy_target(f"{label} -> tiny-mp-cache", redis,
                                      srv.port))
    targets.append(connection_per_op_target(srv.port))

    if redis_exe is not None:
        port, why = start_redis_server(stack, redis_exe)
        if port is None:
            progress(f"skipped the redis-server rows: {why}")
        else:
            address = f"{HOST}:{port}"
            targets.append(tinycache_target("TinyCache -> redis-server",
                                            address))
            if redis is not None:
                targets.append(redispy_target(f"{label} -> redis-server",
                                              redis, port))
    else:
        progress("skipped the redis-server rows: redis-server not found")
    if redis is None:
        progress("skipped the redis-py rows: redis-py is not installed")

    manager = SyncManager(ctx=mp.get_context("fork"))
    manager.start(reset_child_signals)
    stack.callback(manager.shutdown)
    targets.append(manager_target(manager))

    rows: List[Row] = []
    for t in targets:
        rows.append(bench_one_client(t, args.ops, value, args.max_seconds))
        r = rows[-1]
        progress(f"{r.name}: SET {fmt(r.set_rate)}, GET {fmt(r.get_rate)}, "
                 f"GETDEL {fmt(r.getdel_rate)} ops/s")

    for t, r in zip(targets, rows):
        t.set_one(SHARED_KEY, value)
        r.parallel_rate = bench_parallel(t.make_get, args.procs, args.ops,
                                         args.max_seconds)
        progress(f"{r.name}: GET from {args.procs} processes "
                 f"{fmt(r.parallel_rate)} ops/s")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; print the report on standard output."""
    args = parse_args(argv)
    _, _, redis_desc = import_redis()
    print_header(args, shutil.which("redis-server"), redis_desc)
    # Each timed phase is bounded by --max-seconds; this bounds the rest.
    phases = 6 * 4
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(int(phases * (args.max_seconds + 5) + 120))
    try:
        with contextlib.ExitStack() as stack:
            rows = run(args, stack)
    except (KeyboardInterrupt, Interrupted) as e:
        why = str(e) or type(e).__name__
        print(f"\nstopped by {why}; the servers it started are stopped",
              file=sys.stderr)
        return 130
    finally:
        signal.alarm(0)
    print_table(rows, args.procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
