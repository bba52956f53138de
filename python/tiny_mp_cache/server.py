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

In another thread no handler is touched: stop the server with
``Server.stop()``, which is safe from any thread. ``serve(...,
ready=callback)`` hands the :class:`Server` to ``callback`` once it is
listening, e.g. to keep it for a later ``stop()``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Union

from ._native import DEFAULT_PORT, Server

__all__ = ["Server", "serve", "serve_unix", "spawn", "SpawnedServer"]

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


def _serve(make: Callable[[], Server], ready: Optional[ReadyCallback]) -> None:
    restore = _install_sigterm()
    terminated = False
    try:
        with make() as srv:
            if ready is not None:
                ready(srv)
            srv.run()
    except _Terminated:
        terminated = True
    finally:
        restore()
    if terminated:
        _die_by_sigterm()


def serve(port: int = DEFAULT_PORT, *, host: str = "127.0.0.1",
          unixsocket: Optional[PathLike] = None,
          unixsocketperm: int = 0o700,
          maxclients: int = 10000,
          loglevel: str = "notice",
          logfile: Optional[PathLike] = None,
          event_backend: Optional[str] = None,
          proto_max_bulk_len: int = 0,
          tcp_backlog: int = 511,
          requirepass: Optional[str] = None,
          client_output_buffer_limit: Optional[int] = None,
          busy_poll_us: int = 50,
          ready: Optional[ReadyCallback] = None,
          **settings: Any) -> None:
    """Serve on host:port (127.0.0.1:5002 by default) until stopped; blocks.

    Runs the same C server as ``tiny-mp-cache-server`` in this process with
    the GIL released, so other Python threads keep running. A taken port
    (or any other setup failure) raises :class:`OSError` at once. port=0
    picks a free port (``ready`` gets the :class:`Server`, whose ``.port``
    tells which); port=-1 with ``unixsocket`` serves the Unix socket only.

    Options mirror the server's: ``unixsocket``/``unixsocketperm`` (also
    listen on a Unix socket), ``maxclients``, ``loglevel`` (debug, verbose,
    notice, warning, nothing), ``logfile`` (default: standard error),
    ``event_backend`` ("epoll" or "select"; default: the best),
    ``proto_max_bulk_len`` (0: 512 MB), ``tcp_backlog``, ``requirepass``
    (clients must ``AUTH`` with this password first, as with Redis's
    ``requirepass``; connect with ``TinyCache(..., password=...)``; None
    or "": no password), ``client_output_buffer_limit`` (a client with
    more unsent reply bytes than this is disconnected; 0: no limit;
    None: the server's default, 1 GB) and ``busy_poll_us`` (after a round
    of requests, poll this long for more before sleeping; 0: off).

    Any other server setting goes in ``settings``, named as the server's
    ``--option`` with ``_`` for ``-``: ``maxmemory="100mb"``,
    ``maxmemory_policy="allkeys-lru"``, ``hz=20`` ... (see
    ``tiny-mp-cache-server --help``). A wrong type raises
    :class:`TypeError`, a bad value :class:`ValueError`.

    Returns when the server is stopped (SHUTDOWN, ``Server.stop()``);
    raises :class:`KeyboardInterrupt` on SIGINT; ends the process on
    SIGTERM (see the module's documentation).
    """
    _serve(lambda: Server(
        port, host=host, unixsocket=unixsocket, unixsocketperm=unixsocketperm,
        maxclients=maxclients, loglevel=loglevel, logfile=logfile,
        event_backend=event_backend, proto_max_bulk_len=proto_max_bulk_len,
        tcp_backlog=tcp_backlog, requirepass=requirepass,
        client_output_buffer_limit=client_output_buffer_limit,
        busy_poll_us=busy_poll_us, **settings), ready)


def serve_unix(path: PathLike, *, unixsocketperm: int = 0o700,
               maxclients: int = 10000,
               loglevel: str = "notice",
               logfile: Optional[PathLike] = None,
               event_backend: Optional[str] = None,
               proto_max_bulk_len: int = 0,
               requirepass: Optional[str] = None,
               client_output_buffer_limit: Optional[int] = None,
               busy_poll_us: int = 50,
               ready: Optional[ReadyCallback] = None,
               **settings: Any) -> None:
    """Like :func:`serve`, on the Unix socket at path only (no TCP).

    A stale socket file left by a dead server is replaced; a file that is
    not a socket, or a socket a live server answers on, is an OSError.
    The file is removed when the server stops. Connect with
    ``TinyCache("unix://" + path)``.
    """
    _serve(lambda: Server(
        -1, unixsocket=path, unixsocketperm=unixsocketperm,
        maxclients=maxclients, loglevel=loglevel, logfile=logfile,
        event_backend=event_backend, proto_max_bulk_len=proto_max_bulk_len,
        requirepass=requirepass,
        client_output_buffer_limit=client_output_buffer_limit,
        busy_poll_us=busy_poll_us, **settings), ready)


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
        report.write(f"!{kind}\t" + str(e).replace("\n", " ") + "\n")
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
          **options: Any) -> SpawnedServer:
    """Start the server in a child process; return once it accepts connections.

    ``with spawn() as srv: cache = TinyCache(srv.address)``. port=0 (the
    default) picks a free port, reported as ``srv.port``; port=-1 with
    ``unixsocket`` listens on the Unix socket only. Other keyword options
    are those of :func:`serve` (``maxclients``, ``loglevel``,
    ``requirepass``, ...). A taken
    port raises :class:`OSError`; a child that fails to start in
    ``timeout`` seconds raises :class:`TimeoutError`. The child runs
    ``python`` (default: this interpreter) with environment ``env``
    (default: this process's), imports this same tiny_mp_cache package,
    and stops by itself if this process dies.
    """
    path = os.fsdecode(unixsocket) if unixsocket is not None else None
    return SpawnedServer(port, host, path, options, timeout,
                         python or sys.executable, env)
