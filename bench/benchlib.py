# SPDX-License-Identifier: MIT
"""Shared pieces of the benchmark harness (bench/run): starting and stopping
servers, a raw RESP pipeline client, process memory, machine facts, results.
"""

from __future__ import annotations

import atexit
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

HOST = "127.0.0.1"
START_TIMEOUT = 30.0            # seconds a server may take to answer PING
STOP_TIMEOUT = 60.0             # seconds before SIGKILL (valgrind is slow)

OURS = "ours"
REDIS = "redis"
KINDS = (OURS, REDIS)
LABEL = {OURS: "tiny-mp-cache", REDIS: "redis-server"}


class BenchError(Exception):
    """A workload could not be measured (the message says why)."""


# ---- Progress -------------------------------------------------------------

T0 = time.monotonic()
MAIN_PID = os.getpid()          # forked workers must not run our cleanup


def progress(msg: str) -> None:
    """Print one progress line with the time since the harness started."""
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


# ---- Processes we started -------------------------------------------------

_CHILDREN: List[subprocess.Popen] = []


def stop_all() -> None:
    """Stop every process started with spawn_process() that still runs."""
    if os.getpid() != MAIN_PID:
        return
    for proc in list(_CHILDREN):
        stop_process(proc, timeout=5.0)


def _on_signal(signum: int, frame: object) -> None:
    """SIGTERM/SIGHUP: stop our children, then exit with 128+signum."""
    if os.getpid() != MAIN_PID:
        os._exit(128 + signum)
    stop_all()
    os._exit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def spawn_process(argv: Sequence[str], *, cpus: Optional[Iterable[int]] = None,
                  log: Optional[str] = None) -> subprocess.Popen:
    """Start argv (its output to the file log, else discarded), pinned to
    cpus if given; it is stopped at exit if still running."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    pin = set(cpus) if cpus is not None else None

    def pre() -> None:
        os.setpgid(0, 0)        # Ctrl-C in the terminal reaches us only
        if pin is not None:
            os.sched_setaffinity(0, pin)

    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=pre)
    finally:
        if log:
            out.close()
    _CHILDREN.append(proc)
    return proc


def stop_process(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT,
                 sig: int = signal.SIGTERM) -> Optional[int]:
    """Send sig, wait up to timeout seconds, then SIGKILL; return the
    exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _CHILDREN:
        _CHILDREN.remove(proc)
    return proc.returncode


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---- Servers --------------------------------------------------------------


@dataclass
class Config:
    """Paths and options shared by every workload."""

    server: str                     # our binary
    redis_server: str
    redis_benchmark: Optional[str]
    valgrind: Optional[str]
    callgrind_control: Optional[str]
    workdir: str                    # scratch: sockets, logs, callgrind files
    outdir: str
    quick: bool
    rounds: int
    cpus: List[int] = field(default_factory=list)


class Server:
    """One running server (ours or redis-server) on a free loopback port
    and a Unix socket, started fresh for each measurement."""

    def __init__(self, cfg: Config, kind: str, *, cpus: Optional[Iterable[int]] = None,
                 wrapper: Sequence[str] = (), tag: str = "",
                 extra: Sequence[str] = ()) -> None:
        self.kind = kind
        self.port = free_port()
        self.unix = os.path.join(cfg.workdir, f"{kind}{tag}.sock")
        self.log = os.path.join(cfg.workdir, f"{kind}{tag}.log")
        if kind == OURS:
            argv = [cfg.server, "--port", str(self.port), "--bind", HOST,
                    "--unixsocket", self.unix, "--loglevel", "warning"]
        else:
            argv = [cfg.redis_server, "--port", str(self.port), "--bind", HOST,
                    "--unixsocket", self.unix, "--save", "", "--appendonly", "no",
                    "--dir", cfg.workdir, "--loglevel", "warning",
                    "--daemonize", "no", "--protected-mode", "no"]
        argv += list(extra)             # options both servers take, e.g. --maxclients
        self.proc = spawn_process(list(wrapper) + argv, cpus=cpus, log=self.log)
        self.pid = self.proc.pid
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Wait until the server answers PING on TCP and the Unix socket."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{LABEL[self.kind]} exited at start "
                                 f"(status {self.proc.returncode}); log: {self.log}")
            try:
                with RawConn(self.port) as c:
                    if c.call(b"PING") == b"PONG":
                        with RawConn(unix=self.unix) as u:
                            if u.call(b"PING") == b"PONG":
                                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{LABEL[self.kind]} did not answer PING in "
                                 f"{START_TIMEOUT:.0f} s; log: {self.log}")
            time.sleep(0.02)

    def conn(self) -> "RawConn":
        return RawConn(self.port)

    def rss(self) -> int:
        """Resident set size of the server process in bytes."""
        return proc_rss(self.pid)

    def info(self, section: str = "memory") -> Dict[str, str]:
        """INFO section as a dict of strings."""
        with self.conn() as c:
            text = c.call(b"INFO", section.encode()).decode()
        out = {}
        for line in text.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                out[k] = v.strip()
        return out

    def cpu(self) -> float:
        """CPU seconds (user + system) the server process has used."""
        return proc_cpu(self.pid)

    def config_set(self, *pairs: bytes) -> None:
        """CONFIG SET name value [name value ...], one pair at a time
        (Redis 7.0 takes several, but one at a time works everywhere)."""
        with self.conn() as c:
            for i in range(0, len(pairs), 2):
                c.call(b"CONFIG", b"SET", pairs[i], pairs[i + 1])

    def stop(self) -> Optional[int]:
        """SIGTERM (both servers exit cleanly on it), wait; exit status."""
        return stop_process(self.proc)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def proc_rss(pid: int) -> int:
    """VmRSS of pid in bytes, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of pid, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- A raw RESP client: pre-encoded pipelines, fast reply counting ---------


def encode(*args: bytes) -> bytes:
    """Encode one command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawConn:
    """A blocking socket that sends pre-encoded pipelines and reads back a
    known number of replies (simple strings, errors, integers, bulk
    strings; arrays only through call())."""

    def __init__(self, port: int = 0, unix: Optional[str] = None,
                 timeout: float = 120.0) -> None:
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection((HOST, port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawConn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _more(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise BenchError("server closed the connection")
        self.buf += data

    def skip_replies(self, n: int) -> int:
        """Read n non-array replies; return how many were errors."""
        errors = 0
        buf = self.buf
        pos = 0
        while n:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                self.buf = buf[pos:]
                self._more()
                buf, pos = self.buf, 0
                continue
            t = buf[pos:pos + 1]
            if t == b"$":
                size = int(buf[pos + 1:end])
                stop = end + 2 if size < 0 else end + 2 + size + 2
                if stop > len(buf):
                    self.buf = buf[pos:]
                    self._more()
                    buf, pos = self.buf, 0
                    continue
                pos = stop
            else:
                if t == b"-":
                    errors += 1
                elif t == b"*":
                    raise BenchError("array reply where none was expected")
                pos = end + 2
            n -= 1
        self.buf = buf[pos:]
        return errors

    def bulk_hits(self, n: int) -> List[bool]:
        """Read n replies that are bulk strings or nil (GET): for each,
        True if it was a bulk string. Any other reply is an error."""
        out = []
        buf = self.buf
        pos = 0
        while len(out) < n:
            end = buf.find(b"\r\n", pos)
            if end < 0:
                self.buf = buf[pos:]
                self._more()
                buf, pos = self.buf, 0
                continue
            if buf[pos:pos + 1] != b"$":
                raise BenchError(f"not a GET reply: {buf[pos:pos + 60]!r}")
            size = int(buf[pos + 1:end])
            stop = end + 2 if size < 0 else end + 2 + size + 2
            if stop > len(buf):
                self.buf = buf[pos:]
                self._more()
                buf, pos = self.buf, 0
                continue
            out.append(size >= 0)
            pos = stop
        self.buf = buf[pos:]
        return out

    def pipeline(self, chunks: Iterable[Tuple[bytes, int]]) -> int:
        """Send each (payload, replies) chunk and read its replies before
        the next; return the number of error replies."""
        errors = 0
        for payload, count in chunks:
            self.sock.sendall(payload)
            errors += self.skip_replies(count)
        return errors

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2:]
                return line
            self._more()

    def _reply(self) -> object:
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+",):
            return rest
        if t == b"-":
            return BenchError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buf) < size + 2:
                self._more()
            data, self.buf = self.buf[:size], self.buf[size + 2:]
            return data
        if t == b"*":
            size = int(rest)
            return None if size < 0 else [self._reply() for _ in range(size)]
        raise BenchError(f"bad reply line {line[:40]!r}")

    def call(self, *args: bytes) -> object:
        """Send one command and return its decoded reply (errors raised)."""
        self.sock.sendall(encode(*args))
        r = self._reply()
        if isinstance(r, BenchError):
            raise r
        return r


def set_chunks(keys: Sequence[bytes], value: bytes, per: int) -> List[Tuple[bytes, int]]:
    """Pre-encode SET key value for every key, per commands a chunk."""
    head = b"*3\r\n$3\r\nSET\r\n"
    vpart = b"$%d\r\n%s\r\n" % (len(value), value)
    out = []
    for i in range(0, len(keys), per):
        part = keys[i:i + per]
        out.append((b"".join(head + b"$%d\r\n%s\r\n" % (len(k), k) + vpart
                             for k in part), len(part)))
    return out


def cmd_chunks(name: bytes, keys: Sequence[bytes], per: int) -> List[Tuple[bytes, int]]:
    """Pre-encode NAME key (GET, GETDEL, ...) per key, per commands a chunk."""
    head = b"*2\r\n$%d\r\n%s\r\n" % (len(name), name)
    out = []
    for i in range(0, len(keys), per):
        part = keys[i:i + per]
        out.append((b"".join(head + b"$%d\r\n%s\r\n" % (len(k), k) for k in part),
                    len(part)))
    return out


def del_chunks(keys: Sequence[bytes], batch: int, per: int) -> List[Tuple[bytes, int]]:
    """Pre-encode DEL with batch keys a command, per commands a chunk."""
    cmds = [encode(b"DEL", *keys[i:i + batch]) for i in range(0, len(keys), batch)]
    return [(b"".join(cmds[i:i + per]), len(cmds[i:i + per]))
            for i in range(0, len(cmds), per)]


# ---- Machine facts --------------------------------------------------------


def _version(argv: Sequence[str]) -> str:
    """First line of a program's version output, or why there is none."""
    try:
        r = subprocess.run(list(argv), capture_output=True, text=True,
                           timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return f"unavailable ({e})"
    text = (r.stdout or r.stderr).strip()
    return text.splitlines()[0] if text else f"unavailable (status {r.returncode})"


def cpu_model() -> str:
    """The CPU model named in /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                k, sep, v = line.partition(":")
                if sep and k.strip() == "model name":
                    return v.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def machine_facts(cfg: Config) -> Dict[str, str]:
    """CPU, cores, kernel, and the versions of everything measured."""
    facts = {
        "cpu": cpu_model(),
        "cpus_online": str(os.cpu_count()),
        "cpus_usable": ",".join(map(str, cfg.cpus)),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "memory": _meminfo_total(),
        "loadavg_at_start": loadavg(),
        "tiny_mp_cache_server": _version([cfg.server, "--version"]),
        "redis_server": _version([cfg.redis_server, "--version"]),
        "redis_benchmark": (_version([cfg.redis_benchmark, "--version"])
                            if cfg.redis_benchmark else "not found"),
        "valgrind": _version([cfg.valgrind, "--version"]) if cfg.valgrind else "not found",
        "python": f"{sys.version.split()[0]} ({sys.executable})",
    }
    try:
        import tiny_mp_cache
        facts["tiny_mp_cache_package"] = (f"{tiny_mp_cache.__version__} "
                                          f"({os.path.dirname(tiny_mp_cache.__file__)})")
    except ImportError as e:
        facts["tiny_mp_cache_package"] = f"not importable ({e})"
    try:
        import redis
        from redis.utils import HIREDIS_AVAILABLE
        facts["redis_py"] = redis.__version__ + (" with hiredis" if HIREDIS_AVAILABLE
                                                 else " without hiredis")
        if HIREDIS_AVAILABLE:
            import hiredis
            facts["redis_py"] += " " + getattr(hiredis, "__version__", "?")
    except ImportError:
        facts["redis_py"] = "not installed"
    return facts


def _meminfo_total() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) // 1024} MiB"
    except OSError:
        pass
    return "unknown"


# ---- Results ---------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: the same measurement for both sides, one
    value per round."""

    workload: str
    name: str
    unit: str
    better: str                     # "higher" or "lower"
    ours_label: str = LABEL[OURS]
    redis_label: str = LABEL[REDIS]
    ours: List[Optional[float]] = field(default_factory=list)
    redis: List[Optional[float]] = field(default_factory=list)
    note: str = ""
    no_ratio: bool = False          # a ratio of these values means nothing

    def median(self, side: str) -> Optional[float]:
        vals = [v for v in getattr(self, side) if v is not None]
        return statistics.median(vals) if vals else None

    def ratio(self) -> Optional[float]:
        """Median over rounds of ours/redis (rounds with both values)."""
        if self.no_ratio:
            return None
        rs = [a / b for a, b in zip(self.ours, self.redis)
              if a is not None and b not in (None, 0)]
        return statistics.median(rs) if rs else None

    def spread(self, side: str) -> Optional[float]:
        """(max - min) / median over rounds, a rough noise figure."""
        vals = [v for v in getattr(self, side) if v is not None]
        if len(vals) < 2:
            return None
        m = statistics.median(vals)
        return (max(vals) - min(vals)) / m if m else None


class Results:
    """Rows in the order they were first recorded."""

    def __init__(self) -> None:
        self.rows: Dict[Tuple[str, str], Row] = {}
        self.notes: List[str] = []
        self.failures: List[str] = []
        self.commands: List[str] = []           # external benchmark commands run
        self.params: Dict[str, object] = {}     # sizes and methods used
        self.checks: Dict[str, List[str]] = {}  # exactly-once verdicts per round

    def row(self, workload: str, name: str, unit: str, better: str,
            **labels: str) -> Row:
        key = (workload, name)
        if key not in self.rows:
            self.rows[key] = Row(workload, name, unit, better, **labels)
        return self.rows[key]

    def add(self, workload: str, name: str, unit: str, better: str,
            side: str, rnd: int, value: Optional[float], **labels: str) -> None:
        """Record value for side (OURS or REDIS) in round rnd (0-based)."""
        r = self.row(workload, name, unit, better, **labels)
        vals = getattr(r, side)
        while len(vals) <= rnd:
            vals.append(None)
        vals[rnd] = value

    def find(self, workload: str, name: str) -> Optional[Row]:
        return self.rows.get((workload, name))

    def find_numbered(self, prefix: str, name: str) -> Optional[Row]:
        """The row name of the workload numbered prefix ("1", "4b", ...),
        or None."""
        for r in self.rows.values():
            if r.workload.split(" ", 1)[0] == prefix and r.name == name:
                return r
        return None


def reap(procs: Iterable[Any]) -> None:
    """Terminate and wait for the multiprocessing processes still alive
    (a workload's finally: none is left behind)."""
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join()


def median(vals: Sequence[float]) -> float:
    return statistics.median(vals)


def which(name: str, *fallbacks: str) -> Optional[str]:
    """Path of name on PATH, else the first existing fallback."""
    p = shutil.which(name)
    if p:
        return p
    for f in fallbacks:
        if os.path.exists(f):
            return f
    return None


def make_workdir() -> str:
    """A private scratch directory (short path: Unix socket names)."""
    return tempfile.mkdtemp(prefix="tmc-bench-", dir="/tmp")


def parse_redis_benchmark_csv(text: str) -> Dict[str, float]:
    """{"SET": rps, "GET": rps} from redis-benchmark --csv output."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^"([A-Z_ ]+?)(?: \(.*\))?","([0-9.]+)"', line)
        if m:
            out[m.group(1).strip()] = float(m.group(2))
    return out
