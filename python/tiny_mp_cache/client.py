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
from typing import (Any, Iterable, List, Mapping, NoReturn, Optional, Tuple,
                    Union)

from ._native import ProtocolError as _NativeProtocolError
from ._native import ReplyReader as _ReplyReader
from ._native import pack_command as _pack

__all__ = [
    "TinyCache",
    "TinyCacheError",
    "ReplyError",
    "AuthenticationError",
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

# Error replies to AUTH that mean "not let in" (Redis 6+, and older Redis).
_AUTH_ERRORS = ("WRONGPASS", "NOAUTH", "ERR AUTH", "ERR invalid password",
                "ERR Client sent AUTH")


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


class AuthenticationError(ReplyError):
    """The server did not let this client in.

    Raised when a connection's ``AUTH`` is refused (a wrong password:
    ``WRONGPASS ...``; or a password given to a server that has none),
    and when the server requires a password that was not given
    (``NOAUTH ...``). ``str(e)`` starts with the server's message. It is
    never retried: a wrong password stays wrong.
    """


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

    Passwords: with ``password=``, every new connection (the first, and
    each reconnect) sends ``AUTH password`` before any command, under the
    same lock, so no command ever runs unauthenticated; ``username=``
    sends ``AUTH username password`` instead (None: the server's
    "default" user). A refused AUTH raises :class:`AuthenticationError`
    with the server's message (``WRONGPASS ...``) and is not retried. A
    server that requires a password none was given for answers commands
    with ``NOAUTH``, raised as :class:`AuthenticationError` too.

    Processes: fork-safe. A TinyCache used in a child process after
    ``fork()`` leaves the parent's connection alone and opens its own.

    Threads: thread-safe; commands from several threads on one TinyCache
    are serialized by an internal lock (one connection, one command at a
    time). Give each thread its own TinyCache for parallel round trips.
    """

    def __init__(self, addr: Address = "127.0.0.1:5002", *,
                 connect_timeout: float = 2.0,
                 timeout: Optional[float] = None,
                 password: Optional[Union[str, bytes]] = None,
                 username: Optional[str] = None) -> None:
        if connect_timeout is None or connect_timeout < 0:
            raise ValueError("connect_timeout must be a number >= 0")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be None or a number > 0")
        if password is not None and not isinstance(password, (str, bytes)):
            raise TypeError(
                f"password must be str, bytes or None, not {type(password).__name__}")
        if username is not None:
            if not isinstance(username, str):
                raise TypeError(
                    f"username must be str or None, not {type(username).__name__}")
            if password is None:
                raise ValueError("username needs a password")
        # AUTH password authenticates the "default" user; the one-argument
        # form also works with servers older than Redis 6.
        self._auth: Optional[bytes] = None
        if password is not None:
            self._auth = (_pack(b"AUTH", password) if username is None
                          else _pack(b"AUTH", username, password))
        self._username = "default" if username is None else username
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

    # ---- Batches: one round trip for many keys ----

    def get_many(self, keys: Iterable[str]) -> List[Optional[bytes]]:
        """Return the values of keys (MGET), None where a key is absent.

        One command, one round trip; the values are read at one instant
        (no other command runs in between).
        """
        names = list(keys)
        for key in names:
            _check_key(key)
        if not names:
            return []
        reply: List[Optional[bytes]] = self._call(
            _pack(b"MGET", *names), True)
        return reply

    def set_many(self, items: Union[Mapping[str, Value],
                                    Iterable[Tuple[str, Value]]]) -> None:
        """Store many keys at once (MSET) from a mapping or (key, value)
        pairs; all are set before any other command runs."""
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        args: List[Union[str, Value]] = [b"MSET"]
        for key, value in pairs:
            _check_key(key)
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"value must be bytes, not {type(value).__name__}")
            args.append(key)
            args.append(value)
        if pairs:
            self._call(_pack(*args), True)

    def pop_many(self, keys: Iterable[str]) -> List[Optional[bytes]]:
        """Atomically get and delete each key (pipelined GETDEL).

        One round trip for all keys. Each key is handed out exactly once
        across all callers, as with pop(): the result has the value where
        this caller won the key and None where it was absent or another
        caller took it first. Never retried after a broken connection.
        """
        names = list(keys)
        for key in names:
            _check_key(key)
        if not names:
            return []
        payload = b"".join([_pack(b"GETDEL", key) for key in names])
        reply: List[Optional[bytes]] = self._call(payload, False,
                                                  count=len(names))
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

    def _call(self, payload: bytes, retry: bool, decode: bool = False,
              count: int = 0) -> Any:
        """Send encoded command(s) and return the reply.

        retry: the command is safe to repeat, so one broken connection is
        repaired and the command sent again. An error reply is raised.
        count: payload holds that many pipelined commands; their replies
        come back as a list (0: one command, its reply as is).
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
                reply = (self._roundtrip_many(sock, payload, count)
                         if count else self._roundtrip(sock, payload, decode))
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
        if count:
            for item in reply:
                if item.__class__ is ReplyError:
                    reply = item
                    break
        if reply.__class__ is ReplyError:
            text = str(reply)
            if text.startswith("ERR Protocol error"):
                # The server closes the connection after this one.
                self.close()
            elif text.startswith("NOAUTH"):
                if self._auth is None:
                    text += (f" ({self._display} requires a password: pass "
                             "TinyCache(..., password=...))")
                raise AuthenticationError(text)
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

    def _roundtrip_many(self, sock: socket.socket, payload: bytes,
                        count: int) -> List[Any]:
        """Send count pipelined commands and read all their replies (so
        the connection stays in step even when some are errors)."""
        reader = self._reader
        buf = self._buf
        replies: List[Any] = []
        sock.sendall(payload)
        while True:
            reply = reader.gets(False)
            if reply is not False:
                replies.append(reply)
                if len(replies) == count:
                    return replies
                continue
            n = sock.recv_into(buf)
            if not n:
                raise _ConnectionLost("the server closed the connection")
            reader.feed(buf, n)

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
        if self._auth is not None:
            self._authenticate(sock, self._auth)
        return sock

    def _authenticate(self, sock: socket.socket, payload: bytes) -> None:
        """Send AUTH on a new connection, before anything else. Caller
        holds the lock. On any failure the connection is dropped and the
        error raised: AuthenticationError when the server refused."""
        try:
            reply = self._roundtrip(sock, payload, False)
        except (_ConnectionLost, ConnectionError) as e:
            self._drop()
            raise TinyCacheConnectionError(
                f"connection to {self._display} broke during AUTH: {e}") from None
        except BaseException as e:
            self._fail(e)
        if reply.__class__ is ReplyError:
            self._drop()
            text = str(reply)
            if text.startswith(_AUTH_ERRORS):
                raise AuthenticationError(
                    f"{text} (AUTH as user '{self._username}' "
                    f"on {self._display})")
            raise reply

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
