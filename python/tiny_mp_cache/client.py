# SPDX-License-Identifier: MIT
"""TinyCache: the client, one persistent connection over the bundled RESP codec.

It speaks plain RESP2, so it works against tiny-mp-cache and against a real
Redis or Valkey server alike.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from typing import Any, List, NoReturn, Optional, Tuple, Union

from ._native import ProtocolError as _NativeProtocolError
from ._native import ReplyReader as _ReplyReader
from ._native import pack_command as _pack

__all__ = [
    "TinyCache",
    "TinyCacheError",
    "ReplyError",
    "ProtocolError",
    "TinyCacheConnectionError",
    "TinyCacheTimeoutError",
    "parse_address",
]

Value = Union[bytes, bytearray, memoryview]
Address = Union[str, Tuple[str, int]]

_RECV_SIZE = 64 * 1024
_RETRY_DELAY_MIN = 0.005        # first pause while a server is starting
_RETRY_DELAY_MAX = 0.1          # longest pause between connect attempts


class TinyCacheError(Exception):
    """Base class of every error tiny_mp_cache raises itself."""


class ReplyError(TinyCacheError):
    """The server answered with an error reply; str(e) is its message.

    The connection stays usable (unless the message is a protocol error,
    after which the server closes it and the client reconnects).
    """

    @property
    def message(self) -> str:
        """The server's error text, e.g. ``"ERR unknown command ..."``."""
        return str(self.args[0]) if self.args else ""


class ProtocolError(TinyCacheError):
    """The server sent bytes that are not a RESP2 reply."""


class TinyCacheConnectionError(TinyCacheError, ConnectionError):
    """The server is unreachable, or the connection broke mid-command.

    Also a built-in :class:`ConnectionError` (so an :class:`OSError`).
    """


class TinyCacheTimeoutError(TinyCacheError, TimeoutError):
    """The server did not answer within ``timeout`` seconds.

    Also a built-in :class:`TimeoutError` (so an :class:`OSError`).
    """


class _ConnectionLost(Exception):
    """Internal: the connection broke before the reply was complete."""


def parse_address(addr: Address) -> Tuple[int, Any, str]:
    """Split an address into (socket family, sockaddr, display form).

    Accepted: ``"host:port"``, ``"tcp://host:port"``, ``"[::1]:port"``,
    ``"unix:///path/to.sock"``, a path starting with ``/``, or a
    ``(host, port)`` tuple. Raises :class:`ValueError` for anything else
    and :class:`TypeError` for a non-str, non-tuple address.
    """
    if isinstance(addr, tuple):
        if len(addr) != 2:
            raise ValueError(f"address tuple must be (host, port), not {addr!r}")
        return _tcp(str(addr[0]), addr[1], addr)
    if not isinstance(addr, str):
        raise TypeError(
            f"address must be a str like '127.0.0.1:5002', not {type(addr).__name__}")
    if addr.startswith("unix://"):
        path = addr[len("unix://"):]
        if not path:
            raise ValueError(f"no socket path in address {addr!r}")
        return socket.AF_UNIX, path, f"unix://{path}"
    if addr.startswith("/"):
        return socket.AF_UNIX, addr, f"unix://{addr}"
    rest = addr[len("tcp://"):] if addr.startswith("tcp://") else addr
    if rest.startswith("["):
        host, sep, portstr = rest[1:].partition("]:")
        if not sep:
            raise ValueError(f"bad address {addr!r}: expected '[ipv6]:port'")
    else:
        host, sep, portstr = rest.rpartition(":")
        if not sep or not host:
            raise ValueError(
                f"bad address {addr!r}: expected 'host:port', 'tcp://host:port' "
                "or 'unix:///path'")
    return _tcp(host, portstr, addr)


def _tcp(host: str, port: object, addr: object) -> Tuple[int, Any, str]:
    try:
        portnum = int(port)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"bad port in address {addr!r}") from None
    if not 0 < portnum < 65536:
        raise ValueError(f"port out of range in address {addr!r}")
    display = f"[{host}]:{portnum}" if ":" in host else f"{host}:{portnum}"
    return socket.AF_INET, (host, portnum), display


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"key must be str, not {type(key).__name__}")


class TinyCache:
    """A client of a tiny-mp-cache (or Redis) server.

    ``TinyCache("127.0.0.1:5002")``; also ``"tcp://host:port"`` and
    ``"unix:///path"``. Keys are ``str`` (sent as UTF-8), values ``bytes``
    (``bytearray`` and ``memoryview`` are accepted too).

    Connection: one persistent connection, opened on the first command
    (so creating a TinyCache never fails because the server is not up
    yet). Opening it retries for up to ``connect_timeout`` seconds while
    the server refuses connections or its Unix socket does not exist yet,
    then raises :class:`TinyCacheConnectionError` naming the address.
    ``timeout`` bounds each command's wait for its reply (``None``: wait
    as long as it takes); on expiry :class:`TinyCacheTimeoutError` is
    raised and the connection is dropped, so a late reply is never read
    as the answer to a later command.

    Broken connections: ``get``, ``set``, ``delete``, ``keys`` and ``len``
    are safe to repeat, so if the connection turns out to be broken they
    reconnect and retry once. ``pop`` never retries after sending (a
    repeated GETDEL could lose a job or hand it out twice): it raises
    :class:`TinyCacheConnectionError` and the next call reconnects. A
    connection the server closed while idle (e.g. it restarted) is
    noticed before ``pop`` sends anything, so that case just reconnects.

    Processes: fork-safe. A TinyCache used in a child process after
    ``fork()`` leaves the parent's connection alone and opens its own.

    Threads: thread-safe; commands from several threads on one TinyCache
    are serialized by an internal lock (one connection, one command at a
    time). Give each thread its own TinyCache for parallel round trips.
    """

    def __init__(self, addr: Address = "127.0.0.1:5002", *,
                 connect_timeout: float = 2.0,
                 timeout: Optional[float] = None) -> None:
        if connect_timeout is None or connect_timeout < 0:
            raise ValueError("connect_timeout must be a number >= 0")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be None or a number > 0")
        self._family, self._sockaddr, self._display = parse_address(addr)
        self._addr = addr
        self._connect_timeout = float(connect_timeout)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._sock: Optional[socket.socket] = None
        self._poll: Optional[select.poll] = None
        self._reader = _ReplyReader(ReplyError)
        self._buf = bytearray(_RECV_SIZE)

    # ---- The API of the original tiny-mp-cache ----

    def set(self, key: str, value: Value) -> None:
        """Store value under key (SET), replacing any old value."""
        _check_key(key)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"value must be bytes, not {type(value).__name__}")
        self._call(_pack(b"SET", key, value), True)

    def get(self, key: str) -> Optional[bytes]:
        """Return the value stored under key, or None if there is none."""
        _check_key(key)
        reply: Optional[bytes] = self._call(_pack(b"GET", key), True)
        return reply

    def pop(self, key: str) -> Optional[bytes]:
        """Atomically get and delete key (GETDEL); None if it is absent.

        When several processes pop the same key at once, exactly one of
        them gets the value. Never retried after a broken connection.
        """
        _check_key(key)
        reply: Optional[bytes] = self._call(_pack(b"GETDEL", key), False)
        return reply

    def delete(self, key: str) -> int:
        """Delete key (DEL): 1 if it existed, 0 if it did not."""
        _check_key(key)
        reply: int = self._call(_pack(b"DEL", key), True)
        return reply

    def keys(self, pattern: str = "*") -> List[str]:
        """Return the keys matching a Redis glob pattern, e.g. ``"job:*"``.

        ``*``, ``?``, ``[abc]``, ``[^a-z]`` and ``\\`` escapes work as in
        Redis. Keys that are not UTF-8 come back with surrogate escapes
        and can be passed back to get()/pop() as they are.
        """
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be str, not {type(pattern).__name__}")
        reply: List[str] = self._call(_pack(b"KEYS", pattern), True, True)
        return reply

    def len(self) -> int:
        """Return the number of keys (DBSIZE)."""
        reply: int = self._call(_pack(b"DBSIZE"), True)
        return reply

    # ---- Extras ----

    def ping(self) -> bool:
        """Round-trip a PING; True when the server answers."""
        reply: object = self._call(_pack(b"PING"), True)
        return reply == "PONG"

    def execute(self, *args: Union[str, bytes, int]) -> Any:
        """Send one raw command and return its reply (never retried).

        Replies: bulk -> bytes, status -> str, integer -> int, nil -> None,
        array -> list; an error reply raises :class:`ReplyError`.
        """
        return self._call(_pack(*args), False)

    def close(self) -> None:
        """Close the connection. A later command opens a new one."""
        with self._lock:
            if self._pid == os.getpid():
                self._drop()
            else:
                self._abandon()

    def __enter__(self) -> "TinyCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self._sock is not None else "idle"
        return f"<TinyCache {self._display} {state}>"

    @property
    def address(self) -> str:
        """The server address, normalized (``host:port`` or ``unix://path``)."""
        return self._display

    # ---- Internals ----

    def _call(self, payload: bytes, retry: bool, decode: bool = False) -> Any:
        """Send one encoded command and return its reply.

        retry: the command is safe to repeat, so one broken connection is
        repaired and the command sent again. An error reply is raised.
        """
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            sock = self._sock
            if sock is None:
                sock = self._connect()
            elif not retry and self._poll is not None and self._poll.poll(0):
                # Readable while idle: the server closed it (or it is out of
                # step). Nothing is sent yet, so reconnecting is safe.
                self._drop()
                sock = self._connect()
            try:
                reply = self._roundtrip(sock, payload, decode)
            except (_ConnectionLost, ConnectionError) as e:
                self._drop()
                if not retry:
                    raise TinyCacheConnectionError(
                        f"connection to {self._display} broke during a command "
                        f"that is not retried (it may or may not have run): {e}"
                    ) from None
                sock = self._connect()
                try:
                    reply = self._roundtrip(sock, payload, decode)
                except (_ConnectionLost, ConnectionError) as e2:
                    self._drop()
                    raise TinyCacheConnectionError(
                        f"connection to {self._display} broke twice: {e2}") from None
                except BaseException as e2:
                    self._fail(e2)
            except BaseException as e:
                self._fail(e)
        if reply.__class__ is ReplyError:
            if str(reply).startswith("ERR Protocol error"):
                # The server closes the connection after this one.
                self.close()
            raise reply
        return reply

    def _fail(self, e: BaseException) -> NoReturn:
        """Drop the connection (its state is unknown) and raise e as ours."""
        self._drop()
        if isinstance(e, socket.timeout):
            raise TinyCacheTimeoutError(
                f"no reply from {self._display} within {self._timeout} s") from None
        if isinstance(e, _NativeProtocolError):
            raise ProtocolError(f"{self._display}: {e}") from None
        if isinstance(e, OSError) and not isinstance(e, TinyCacheError):
            raise TinyCacheConnectionError(
                f"connection to {self._display} failed: {e}") from e
        raise e

    def _roundtrip(self, sock: socket.socket, payload: bytes, decode: bool) -> Any:
        reader = self._reader
        buf = self._buf
        try:
            sock.sendall(payload)
        except ConnectionError:
            # The server may have refused the request with an error reply
            # and closed before reading it all (a value over its bulk
            # limit): report that reply rather than the broken pipe.
            late = self._late_error(sock)
            if late is not None:
                return late
            raise
        while True:
            n = sock.recv_into(buf)
            if not n:
                raise _ConnectionLost("the server closed the connection")
            reader.feed(buf, n)
            reply = reader.gets(decode)
            if reply is not False:
                return reply

    def _late_error(self, sock: socket.socket) -> Optional[ReplyError]:
        """An error reply already received on a connection whose sending
        side failed, or None."""
        try:
            if self._poll is None or not self._poll.poll(0):
                return None
            n = sock.recv_into(self._buf, 0, socket.MSG_DONTWAIT)
        except OSError:
            return None
        self._reader.feed(self._buf, n)
        try:
            reply = self._reader.gets()
        except _NativeProtocolError:
            return None
        return reply if reply.__class__ is ReplyError else None

    def _connect(self) -> socket.socket:
        """Open the connection, waiting up to connect_timeout for a server
        that is still starting. Caller holds the lock."""
        deadline = time.monotonic() + self._connect_timeout
        delay = _RETRY_DELAY_MIN
        while True:
            left = deadline - time.monotonic()
            try:
                sock = self._open(max(left, 0.05))
                break
            except (ConnectionRefusedError, FileNotFoundError) as e:
                # Not listening (yet): a server that is starting up.
                if time.monotonic() + delay > deadline:
                    raise TinyCacheConnectionError(
                        e.errno, f"cannot connect to {self._display}: "
                        f"{e.strerror or e} (waited {self._connect_timeout:g} s)"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, _RETRY_DELAY_MAX)
            except (socket.timeout, OSError) as e:
                raise TinyCacheConnectionError(
                    f"cannot connect to {self._display}: {e}") from None
        self._sock = sock
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        self._poll = poller
        self._reader = _ReplyReader(ReplyError)
        return sock

    def _open(self, timeout: float) -> socket.socket:
        if self._family == socket.AF_UNIX:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(self._sockaddr)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(self._sockaddr, timeout)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except BaseException:
                sock.close()
                raise
        sock.settimeout(self._timeout)
        return sock

    def _drop(self) -> None:
        """Close our connection (this process owns it)."""
        sock, self._sock, self._poll = self._sock, None, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _abandon(self) -> None:
        """Forget a connection inherited through fork(): close only this
        process's copy of the descriptor (no shutdown(), so the parent's
        connection is untouched) and never read from it."""
        self._drop()
        self._reader = _ReplyReader(ReplyError)

    def _after_fork(self) -> None:
        # Only the forking thread exists in the child; a lock another
        # thread held at fork time would never be released: replace it.
        self._lock = threading.Lock()
        self._abandon()
        self._pid = os.getpid()
