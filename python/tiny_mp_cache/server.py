# SPDX-License-Identifier: MIT
"""serve() and serve_unix() run the embedded server in this process;
spawn() runs it in a child process and waits until it accepts connections.

Signals while serve() runs in the main thread:

* SIGINT: Python's own handler runs (the server looks for pending signals
  every 100 ms), so serve() stops the server, closes every connection,
  removes its Unix socket file and raises :class:`KeyboardInterrupt`.
* SIGTERM: if no handler is installed (SIG_DFL), serve() installs one for
  its duration that stops and closes the server the same way and then
  ends the process by SIGTERM with the default action, so the exit status
  is the conventional one (``Process.exitcode == -15``; 143 in a shell).
  Code after serve() does not run then, just as without a handler. If
  you installed your own SIGTERM handler, serve() leaves it alone: when
  it raises, serve() closes the server and lets the exception through.

In a :mod:`multiprocessing` child (``Process(target=serve)``), serve()
stops the server and returns when the parent process dies, however it
dies (SIGKILL included), so no orphan server keeps the port and its old
data, as spawn()'s child does.

In another thread no handler is touched: stop the server with
``Server.stop()``, which is safe from any thread. ``serve(...,
ready=callback)`` hands the :class:`Server` to ``callback`` once it is
listening, e.g. to keep it for a later ``stop()``.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Union

from ._native import DEFAULT_PORT, Server

__all__ = ["Server", "serve", "serve_unix", "spawn", "SpawnedServer",
           "SETTINGS"]

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
ReadyCallback = Callable[[Server], None]


class _Terminated(BaseException):
    """Raised by serve()'s SIGTERM handler to unwind out of run()."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _install_sigterm() -> Callable[[], None]:
    """Install serve()'s SIGTERM handler if appropriate; return a function
    that restores the previous state."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None
    signal.signal(signal.SIGTERM, _on_sigterm)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return restore


def _die_by_sigterm() -> None:
    """End the process as an unhandled SIGTERM would, output flushed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(1.0)             # delivery is immediate; this is a fallback
    os._exit(128 + signal.SIGTERM)


def _stop_with_parent(srv: Server) -> None:
    """In a multiprocessing child, stop srv when the parent process dies
    (even by SIGKILL): its sentinel becomes readable then. Elsewhere,
    nothing."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        srv.stop()
    threading.Thread(target=watch, name="tmc-parent-watch",
                     daemon=True).start()


def _serve(make: Callable[[], Server], ready: Optional[ReadyCallback]) -> None:
    restore = _install_sigterm()
    terminated = False
    try:
        with make() as srv:
            _stop_with_parent(srv)
            if ready is not None:
                ready(srv)
            srv.run()
    except _Terminated:
        terminated = True
    finally:
        restore()
    if terminated:
        _die_by_sigterm()


# ---- Settings ----

# Every server setting serve(), serve_unix(), spawn() and Server() take
# as a keyword: the rows of _native.settings(), named as the server's
# --option with "_" for "-". tests/python/test_settings.py fails when this
# list, the signatures below, the stub (_native.pyi) or the README's table
# stop matching _native.settings().
SETTINGS = (
    "unixsocket", "unixsocketperm", "maxclients", "loglevel", "logfile",
    "event_backend", "proto_max_bulk_len", "tcp_backlog", "requirepass",
    "client_output_buffer_limit", "busy_poll_us",
    "maxmemory", "maxmemory_policy", "maxmemory_samples",
    "maxmemory_eviction_tenacity", "lfu_log_factor", "lfu_decay_time",
    "hz", "active_expire_effort",
    "protected_mode", "timeout", "tcp_keepalive",
    "list_max_listpack_size", "list_compress_depth",
    "dir", "appendonly", "appendfsync", "appenddirname", "appendfilename",
    "auto_aof_rewrite_percentage", "auto_aof_rewrite_min_size",
    "aof_load_truncated",
)

# A memory size: bytes, or a str with a unit ("100mb", "1gb", "512k").
MemorySize = Union[int, str]


def _settings(args: Dict[str, Any]) -> Dict[str, Any]:
    """The settings among a function's arguments (its locals()).

    A data directory (``dir``) that does not exist yet is made here, so
    ``serve(dir="data", appendonly=True)`` works on its first run too
    (the server itself, like redis-server, refuses a missing one).
    """
    settings = {name: args[name] for name in SETTINGS if name in args}
    if settings.get("dir") is not None:
        os.makedirs(settings["dir"], exist_ok=True)
    return settings


def serve(port: int = DEFAULT_PORT, *, host: str = "127.0.0.1",
          unixsocket: Optional[PathLike] = None,
          unixsocketperm: int = 0o700,
          maxclients: int = 10000,
          loglevel: str = "notice",
          logfile: Optional[PathLike] = None,
          event_backend: Optional[str] = None,
          proto_max_bulk_len: MemorySize = 0,
          tcp_backlog: int = 511,
          requirepass: Optional[str] = None,
          client_output_buffer_limit: Optional[MemorySize] = None,
          busy_poll_us: int = 50,
          maxmemory: MemorySize = 0,
          maxmemory_policy: str = "noeviction",
          maxmemory_samples: int = 5,
          maxmemory_eviction_tenacity: int = 10,
          lfu_log_factor: int = 10,
          lfu_decay_time: int = 1,
          hz: int = 10,
          active_expire_effort: int = 1,
          protected_mode: bool = True,
          timeout: int = 0,
          tcp_keepalive: int = 300,
          list_max_listpack_size: int = -2,
          list_compress_depth: int = 0,
          dir: Optional[PathLike] = None,
          appendonly: bool = False,
          appendfsync: str = "everysec",
          appenddirname: str = "appendonlydir",
          appendfilename: str = "appendonly.aof",
          auto_aof_rewrite_percentage: int = 100,
          auto_aof_rewrite_min_size: MemorySize = 67108864,
          aof_load_truncated: bool = True,
          ready: Optional[ReadyCallback] = None) -> None:
    """Serve on host:port (127.0.0.1:5002 by default) until stopped; blocks.

    Runs the same C server as ``tiny-mp-cache-server`` in this process with
    the GIL released, so other Python threads keep running. A taken port
    (or any other setup failure) raises :class:`OSError` at once. port=0
    picks a free port (``ready`` gets the :class:`Server`, whose ``.port``
    tells which); port=-1 with ``unixsocket`` serves the Unix socket only.

    Every other keyword is a server setting, named as the server's
    ``--option`` with ``_`` for ``-`` (``tiny-mp-cache-server --help``
    explains each; ``CONFIG GET`` shows them, and ``CONFIG SET`` changes
    most of them while the server runs). A wrong type raises
    :class:`TypeError` (ints are not bools here, nor bools ints), a bad
    value :class:`ValueError` with the server's reason.

    Listening and clients: ``unixsocket``/``unixsocketperm`` (also listen
    on a Unix socket), ``maxclients``, ``tcp_backlog``, ``requirepass``
    (clients must ``AUTH`` with this password first, as with Redis's
    ``requirepass``; connect with ``TinyCache(..., password=...)``; None
    or "": no password), ``protected_mode`` (without a password, refuse
    TCP clients from other hosts than this one, as Redis does),
    ``timeout`` (close a connection idle this many seconds; 0: never),
    ``tcp_keepalive`` (seconds between keepalive probes; 0: off),
    ``client_output_buffer_limit`` (a client with more unsent reply bytes
    than this is disconnected; 0: no limit; None: the server's default,
    1 GB), ``proto_max_bulk_len`` (the largest value; 0: 512 MB).

    Lists: ``list_max_listpack_size`` (a list chunk holds this many
    elements when > 0, or up to 4, 8, 16, 32 or 64 KB for -1 ... -5) and
    ``list_compress_depth`` (chunks kept uncompressed at each end; 0:
    none compressed), with Redis's meanings.

    Memory limit and eviction: ``maxmemory`` (bytes, or a str such as
    ``"100mb"``; 0, the default: no limit) bounds the memory the data
    takes (the ``used_memory`` of ``INFO memory``, not the process size).
    Over it, each command that may add data first evicts keys as
    ``maxmemory_policy`` says:

    - ``"noeviction"`` (the default): nothing is evicted; such commands
      fail with the :class:`ReplyError` ``OOM command not allowed when
      used memory > 'maxmemory'.`` while reads and deletes still work;
    - ``"allkeys-lru"``: the least recently used keys go first (a cache);
      ``"allkeys-lfu"``: the least frequently used; ``"allkeys-random"``;
    - ``"volatile-lru"``, ``"volatile-lfu"``, ``"volatile-random"``,
      ``"volatile-ttl"`` (soonest to expire first): only keys with a ttl
      are evicted; with none left, writes get the OOM error.

    LRU and LFU are approximated, as in Redis: ``maxmemory_samples`` keys
    are sampled per eviction (5; 10 comes close to true LRU for more
    CPU); ``maxmemory_eviction_tenacity`` (0-100, 10) bounds the time one
    command may spend evicting. LFU counts hits logarithmically
    (``lfu_log_factor``, 10: about a million hits saturate the counter)
    and lowers a key's count by one per ``lfu_decay_time`` minutes it
    is idle (1; 0: never).

    Expiry: a key with a ttl (``TinyCache.set(..., ttl=)``, ``expire``)
    is gone for every command from the moment it expires (checked on each
    access); the memory of expired keys nobody reads is reclaimed by a
    background cycle that runs ``hz`` times a second (10; 1-500) and
    samples keys with a ttl, working harder with ``active_expire_effort``
    (1-10; 1). Raise them when many keys expire unread and memory
    matters; each costs some CPU while idle.

    Persistence, as Redis's append-only file (the same files: a data
    directory moves between this server and redis-server 7):
    ``appendonly`` (False; True logs every write to files in ``dir``
    and replays them at start, so ``serve(5002, dir="data",
    appendonly=True)`` comes back with its data after a restart or a
    crash), ``dir`` (default: the working directory; made if missing),
    ``appendfsync`` ("always": a write's reply leaves only once it is on
    disk; "everysec", the default: the disk is synced once a second in
    the background, so a crash of the machine may lose the last ~2
    seconds; "no": the system decides), ``appenddirname`` and
    ``appendfilename`` (the directory and file names inside ``dir``),
    ``auto_aof_rewrite_percentage`` and ``auto_aof_rewrite_min_size``
    (the files are compacted in the background once they grew by this
    percentage since the last compaction and are at least this large;
    0: never) and ``aof_load_truncated`` (True: a write torn by a crash
    at the end of the file is cut off at start; False: refuse to start).

    Other: ``loglevel`` (debug, verbose, notice, warning, nothing),
    ``logfile`` (default: standard error), ``event_backend`` ("epoll" or
    "select"; default: the best), ``busy_poll_us`` (after a round of
    requests, poll this long for more before sleeping; 0: off).

    Returns when the server is stopped (SHUTDOWN, ``Server.stop()``);
    raises :class:`KeyboardInterrupt` on SIGINT; ends the process on
    SIGTERM (see the module's documentation).
    """
    settings = _settings(locals())
    _serve(lambda: Server(port, host=host, **settings), ready)


def serve_unix(path: PathLike, *, unixsocketperm: int = 0o700,
               maxclients: int = 10000,
               loglevel: str = "notice",
               logfile: Optional[PathLike] = None,
               event_backend: Optional[str] = None,
               proto_max_bulk_len: MemorySize = 0,
               tcp_backlog: int = 511,
               requirepass: Optional[str] = None,
               client_output_buffer_limit: Optional[MemorySize] = None,
               busy_poll_us: int = 50,
               maxmemory: MemorySize = 0,
               maxmemory_policy: str = "noeviction",
               maxmemory_samples: int = 5,
               maxmemory_eviction_tenacity: int = 10,
               lfu_log_factor: int = 10,
               lfu_decay_time: int = 1,
               hz: int = 10,
               active_expire_effort: int = 1,
               protected_mode: bool = True,
               timeout: int = 0,
               tcp_keepalive: int = 300,
               list_max_listpack_size: int = -2,
               list_compress_depth: int = 0,
               dir: Optional[PathLike] = None,
               appendonly: bool = False,
               appendfsync: str = "everysec",
               appenddirname: str = "appendonlydir",
               appendfilename: str = "appendonly.aof",
               auto_aof_rewrite_percentage: int = 100,
               auto_aof_rewrite_min_size: MemorySize = 67108864,
               aof_load_truncated: bool = True,
               ready: Optional[ReadyCallback] = None) -> None:
    """Like :func:`serve`, on the Unix socket at path only (no TCP).

    A stale socket file left by a dead server is replaced; a file that is
    not a socket, or a socket a live server answers on, is an OSError.
    The file is removed when the server stops. Connect with
    ``TinyCache("unix://" + path)``. The settings are those of
    :func:`serve` (``tcp_backlog`` sizes this socket's queue too;
    ``protected_mode`` and ``tcp_keepalive`` concern TCP only).
    """
    settings = _settings(locals())
    _serve(lambda: Server(-1, unixsocket=path, **settings), ready)


# ---- spawn(): the server in a child process ----

# argv[3] is the directory this package was imported from: the child
# imports the very same package first, whatever its sys.path holds.
_CHILD_CODE = ("import sys; sys.path.insert(0, sys.argv[3]); "
               "from tiny_mp_cache.server import _spawn_child; _spawn_child()")


def _spawn_child() -> None:
    """The child's side of spawn(): argv[1] is the options as JSON,
    argv[2] the descriptor to report on ("port\\n" once listening, or
    "!message\\n"). Standard input is the lifeline: when it reaches EOF
    (the parent is gone), the server stops."""
    opts: Dict[str, Any] = json.loads(sys.argv[1])
    report = os.fdopen(int(sys.argv[2]), "w")
    port = opts.pop("port")
    holder: List[Server] = []

    def ready(srv: Server) -> None:
        holder.append(srv)
        report.write(f"{srv.port if srv.port is not None else -1}\n")
        report.close()

    def lifeline() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        if holder:
            holder[0].stop()

    threading.Thread(target=lifeline, name="tmc-lifeline", daemon=True).start()
    try:
        serve(port, ready=ready, **opts)
    except Exception as e:
        if report.closed:
            raise
        kind = next((name for name, cls in _CHILD_ERRORS.items()
                     if isinstance(e, cls)), "RuntimeError")
        text = str(e)
        if isinstance(e, OSError) and e.errno is not None:
            kind += f":{e.errno}"           # OSError(errno, message) again
            text = str(e.strerror)
        report.write(f"!{kind}\t" + text.replace("\n", " ") + "\n")
        report.close()
        sys.exit(1)


_CHILD_ERRORS = {"OSError": OSError, "ValueError": ValueError,
                 "TypeError": TypeError}


class SpawnedServer:
    """A server process started by :func:`spawn`.

    Attributes: ``address`` (what to give TinyCache: ``"host:port"``, or
    ``"unix://path"`` when there is no TCP listener), ``host``, ``port``
    (the bound port, or None), ``unixsocket``, ``pid`` and ``process``
    (the :class:`subprocess.Popen`). ``stop()`` (also on leaving a
    ``with`` block) sends SIGTERM and waits; SIGKILL if it must.
    """

    def __init__(self, port: int, host: str, unixsocket: Optional[str],
                 options: Dict[str, Any], timeout: float,
                 python: str, env: Optional[Dict[str, str]]) -> None:
        self.host = host
        self.unixsocket = unixsocket
        self.port: Optional[int] = None
        opts = dict(options, port=port, host=host, unixsocket=unixsocket)
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        r, w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [python, "-c", _CHILD_CODE, json.dumps(opts), str(w),
                 pkg_parent],
                stdin=subprocess.PIPE, pass_fds=(w,), env=env)
        except BaseException:
            os.close(r)
            os.close(w)
            raise
        os.close(w)
        try:
            line = self._read_report(r, timeout)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(r)
        if line.startswith("!"):
            self.stop()
            kind, _, msg = line[1:].partition("\t")
            kind, _, errno = kind.partition(":")
            if errno:
                raise OSError(int(errno), msg)
            raise _CHILD_ERRORS.get(kind, RuntimeError)(msg)
        bound = int(line)
        self.port = bound if bound >= 0 else None

    def _read_report(self, fd: int, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"the server process did not start within {timeout} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 512)
            if not chunk:
                code = self.process.wait(timeout=max(left, 1.0))
                raise RuntimeError(
                    f"the server process exited (status {code}) before "
                    "it was ready; see its standard error")
            data += chunk
        return data.decode("utf-8", "replace").strip()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        if self.port is not None:
            if ":" in self.host:
                return f"[{self.host}]:{self.port}"
            return f"{self.host}:{self.port}"
        return f"unix://{self.unixsocket}"

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """Stop the server (SIGTERM, then SIGKILL after timeout seconds)
        and return its exit status (negative: the signal that ended it)."""
        proc = self.process
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        return proc.returncode

    def __enter__(self) -> "SpawnedServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SpawnedServer {self.address} pid={self.pid}>"


def spawn(port: int = 0, *, host: str = "127.0.0.1",
          unixsocket: Optional[PathLike] = None,
          timeout: float = 30.0,
          python: Optional[str] = None,
          env: Optional[Dict[str, str]] = None,
          unixsocketperm: int = 0o700,
          maxclients: int = 10000,
          loglevel: str = "notice",
          logfile: Optional[PathLike] = None,
          event_backend: Optional[str] = None,
          proto_max_bulk_len: MemorySize = 0,
          tcp_backlog: int = 511,
          requirepass: Optional[str] = None,
          client_output_buffer_limit: Optional[MemorySize] = None,
          busy_poll_us: int = 50,
          maxmemory: MemorySize = 0,
          maxmemory_policy: str = "noeviction",
          maxmemory_samples: int = 5,
          maxmemory_eviction_tenacity: int = 10,
          lfu_log_factor: int = 10,
          lfu_decay_time: int = 1,
          hz: int = 10,
          active_expire_effort: int = 1,
          protected_mode: bool = True,
          idle_timeout: int = 0,
          tcp_keepalive: int = 300,
          list_max_listpack_size: int = -2,
          list_compress_depth: int = 0,
          dir: Optional[PathLike] = None,
          appendonly: bool = False,
          appendfsync: str = "everysec",
          appenddirname: str = "appendonlydir",
          appendfilename: str = "appendonly.aof",
          auto_aof_rewrite_percentage: int = 100,
          auto_aof_rewrite_min_size: MemorySize = 67108864,
          aof_load_truncated: bool = True) -> SpawnedServer:
    """Start the server in a child process; return once it accepts connections.

    ``with spawn() as srv: cache = TinyCache(srv.address)``. port=0 (the
    default) picks a free port, reported as ``srv.port``; port=-1 with
    ``unixsocket`` listens on the Unix socket only. A taken port raises
    :class:`OSError`; a child that fails to start in ``timeout`` seconds
    raises :class:`TimeoutError`. The child runs ``python`` (default:
    this interpreter) with environment ``env`` (default: this
    process's), imports this same tiny_mp_cache package, and stops by
    itself if this process dies.

    The server settings are those of :func:`serve` (e.g. a cache of at
    most 64 MB that evicts the least recently used keys:
    ``spawn(maxmemory="64mb", maxmemory_policy="allkeys-lru")``), checked
    the same way (TypeError, ValueError, raised here), with one
    exception: ``timeout`` here is the wait for the child to start, so
    the server's ``timeout`` (close connections idle this many seconds)
    is ``idle_timeout``.
    """
    settings = _settings(locals())
    settings["timeout"] = idle_timeout
    del settings["unixsocket"]         # SpawnedServer passes it on
    for name in ("logfile", "dir"):
        if settings[name]:
            settings[name] = os.fsdecode(os.path.abspath(settings[name]))
    for name, value in settings.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} cannot be {type(value).__name__}: spawn() takes "
                "ints, strs, bools and None") from None
    path = os.fsdecode(unixsocket) if unixsocket is not None else None
    return SpawnedServer(port, host, path, settings, timeout,
                         python or sys.executable, env)
