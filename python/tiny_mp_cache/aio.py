# SPDX-License-Identifier: MIT
"""AsyncTinyCache: TinyCache for asyncio, over one pipelined connection.

Requests are encoded by the bundled C codec (``pack_command``) and the
replies parsed by it (``ReplyReader``), as TinyCache's own connection
does. Every call writes its request at once and awaits a future; the
connection's protocol matches the replies to the futures in order, so
concurrent tasks on one client share one connection without waiting for
each other's round trips. The blocking takes (BLPOP, BLMOVE, BLMPOP) wait
on connections of their own, from a small pool of the client, so that
they hold up no other call.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import time
import weakref
from typing import (Any, AsyncIterator, Deque, Iterable, List, Mapping,
                    Optional, Set, Tuple, Union, cast)

from ._commands import (_add_command, _bad_key, _bad_value, _check_count,
                        _check_pattern, _count_command, _index_arg,
                        _int64, _int_arg,
                        _key_arg, _key_list, _loaded, _loaded_many,
                        _mset_command, _push_command, _take_nowait_command,
                        _ttl_ms, _ttl_seconds)
from ._native import IDLE_CHECK_SECONDS as _IDLE_SECONDS
from ._native import ProtocolError as _NativeProtocolError
from ._native import ReplyReader as _ReplyReader
from ._native import pack_command as _pack
from .client import (_RETRY_DELAY_MAX, _RETRY_DELAY_MIN, _WAIT_GRACE,
                     SCAN_COUNT, Address, ProtocolError, ReplyError,
                     Serializer, TinyCache, TinyCacheConnectionError,
                     TinyCacheTimeoutError, _auth_refused, _blocking_effect,
                     _closed_while_idle, _noauth, _not_listening,
                     _unpickle_client, _wait_arg, _wait_seconds)

__all__ = ["AsyncTinyCache"]

_log = logging.getLogger("tiny_mp_cache")

_get_running_loop = asyncio.get_running_loop
_CancelledError = asyncio.CancelledError
_monotonic = time.monotonic

# A pending request, in the order it was written: (its future, decode its
# bulk replies as str, None for a command safe to repeat or else its name
# (for messages), what undoes a reply nobody awaits any more (None, or
# (kind, key): see _Protocol.undo), the timer of the client's timeout).
_Pending = Tuple["asyncio.Future[Any]", bool, Optional[str],
                 Optional[Tuple[str, str]], Optional[asyncio.TimerHandle]]

# How long aclose() waits for the transport to report the connection
# closed (it flushes what is still to be written first).
_CLOSE_WAIT = 1.0

# The receive buffer of a connection (the transport reads up to this much
# at a time), and the most a bigger one made for a big reply may take.
_RECV_SIZE = 64 * 1024
_RECV_MAX = 4 * 1024 * 1024

# The most idle blocking connections a client keeps for its next takes
# (more may be open while more takes wait at once; the extra ones are
# closed when their take is over).
_POOL_IDLE = 4

# How long ending the wait of an abandoned take (CLIENT UNBLOCK over the
# main connection, then its reply on its own) may take, besides the
# client's timeout, before its connection is closed.
_UNBLOCK_WAIT = 5.0


class _Lost(Exception):
    """The connection broke before the reply of a command safe to repeat
    came: the caller sends it again, once, on a new connection."""


class _Protocol(asyncio.BufferedProtocol):
    """One connection: writes requests, matches replies to the pending
    futures in order (a reply whose future is already done, because its
    caller was cancelled or timed out, is dropped, or undone for a pop).

    A buffered protocol: the transport receives into a buffer of ours,
    made once, rather than into a new bytes object of its max_size
    (256 KiB) for every read, which glibc may serve with mmap() and
    munmap() each time: that alone could halve a single task's rate."""

    def __init__(self, client: "AsyncTinyCache",
                 loop: asyncio.AbstractEventLoop,
                 sock: socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        self.display = client._display
        self.timeout = client._timeout
        self.transport: Optional[asyncio.Transport] = None
        self.reader = _ReplyReader(ReplyError)
        self.pending: Deque[_Pending] = collections.deque()
        # Requests written while others are in flight wait here for one
        # send at the end of this turn of the loop.
        self.wbuf: List[bytes] = []
        # Where the next read goes: rbuf_small, or while a reply bigger
        # than it is coming in, a buffer the size of what it still needs.
        self.rbuf_small = memoryview(bytearray(_RECV_SIZE))
        self.rbuf = self.rbuf_small
        self.last_read = _monotonic()               # for _IDLE_SECONDS
        self.gone: Optional[BaseException] = None   # why it closed
        self.closed = loop.create_future()          # set when it closed
        self.client = weakref.ref(client)
        # A blocking connection's: its CLIENT ID, and whether aclose()
        # ended its wait.
        self.client_id: Optional[int] = None
        self.closing = False

    # ---- asyncio.BufferedProtocol ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the transport reads into."""
        return self.rbuf

    def buffer_updated(self, nbytes: int) -> None:
        """Feed the codec the nbytes read and hand out every complete
        reply."""
        reader = self.reader
        rbuf = self.rbuf
        reader.feed(rbuf, nbytes)
        self.last_read = _monotonic()
        pending = self.pending
        while pending:
            fut, decode, once, undo, timer = pending[0]
            try:
                reply = reader.gets(decode)
            except _NativeProtocolError as e:
                self.abort(ProtocolError(f"{self.display}: {e}"))
                return
            if reply is False:
                # A part of a reply: the next read into a buffer of what
                # it still needs (up to _RECV_MAX), made once per reply.
                need = reader.need
                if need <= _RECV_SIZE:
                    self.rbuf = self.rbuf_small
                elif len(rbuf) < need and len(rbuf) < _RECV_MAX:
                    self.rbuf = memoryview(bytearray(min(need, _RECV_MAX)))
                return
            pending.popleft()
            if timer is not None:
                timer.cancel()
            if fut.done():
                # Cancelled or timed out: the reply is nobody's.
                if undo is not None and reply.__class__ is bytes:
                    self.undo(undo, reply)
                continue
            if reply.__class__ is ReplyError:
                fut.set_exception(self.reply_error(reply))
            else:
                fut.set_result(reply)
        if rbuf is not self.rbuf_small:
            self.rbuf = self.rbuf_small
        if reader.pending:
            self.abort(ProtocolError(
                f"{self.display}: a reply that no command asked for"))

    def connection_lost(self, exc: Optional[Exception]) -> None:
        """Fail every pending call: a command safe to repeat with _Lost
        (its caller sends it again), the others with
        TinyCacheConnectionError; a cancelled pop whose reply never came
        is logged, as its value may be lost."""
        if self.gone is None:
            self.gone = TinyCacheConnectionError(
                f"connection to {self.display} lost"
                + (f": {exc}" if exc is not None else ""))
        client = self.client()
        if client is not None and client._proto is self:
            client._proto = None
        self.fail_pending(self.gone, True)
        if not self.closed.done():
            self.closed.set_result(None)

    # ---- Requests ----

    def send(self, data: bytes, decode: bool = False,
             once: Optional[str] = None,
             undo: Optional[Tuple[str, str]] = None) -> "asyncio.Future[Any]":
        """Write one request and return the future of its reply. The
        first request while none is in flight is written at once; those
        that follow it in the same turn of the loop go out together."""
        loop = self.loop
        fut = loop.create_future()
        timer = None
        if self.timeout is not None:
            timer = loop.call_later(self.timeout, self.expire, fut, once,
                                    undo)
        pending = self.pending
        pending.append((fut, decode, once, undo, timer))
        if self.wbuf:
            self.wbuf.append(data)
        elif len(pending) == 1:
            cast(asyncio.Transport, self.transport).write(data)
        else:
            self.wbuf.append(data)
            loop.call_soon(self.flush)
        return fut

    def flush(self) -> None:
        """Send the requests gathered in this turn of the loop."""
        buf = self.wbuf
        if buf and self.gone is None:
            data = b"".join(buf) if len(buf) > 1 else buf[0]
            buf.clear()
            cast(asyncio.Transport, self.transport).write(data)

    def expire(self, fut: "asyncio.Future[Any]", once: Optional[str],
               undo: Optional[Tuple[str, str]]) -> None:
        """The client's timeout ran out on a call: raise it there. The
        request stays pending, so its reply is still matched (and
        dropped, or undone for a pop) when it comes."""
        if fut.done():
            return
        ran = ""
        if once is not None:
            ran = (f" to {once}, which is not retried: it may have run on "
                   "the server")
            if undo is not None:
                ran += ("; if it did, the value is put back (SET NX) when "
                        "the late reply comes")
        fut.set_exception(TinyCacheTimeoutError(
            f"no reply from {self.display} within {self.timeout} s{ran}"))

    def undo(self, undo: Tuple[str, str], value: bytes) -> None:
        """Put back what a pop nobody awaits took: ("pop", key) sets key
        to value again unless it exists (SET key value NX); ("lpop",
        name) pushes value back at the head of the list (LPUSH). Logs a
        WARNING on logger "tiny_mp_cache" when the value is dropped."""
        kind, key = undo
        if self.gone is not None or self.transport is None:
            _log.warning(
                "a cancelled %s of %r on %s took a value "
                "(%d bytes) that could not be put back (connection "
                "closed): the value was dropped", kind, key, self.display,
                len(value))
            return
        if kind == "pop":
            data = _pack(b"SET", key, value, b"NX")
        else:
            data = _pack(b"LPUSH", key, value)
        fut = self.send(data, False, "restore")
        fut.add_done_callback(
            lambda f: _undone(f, kind, key, len(value), self.display))

    def reply_error(self, reply: ReplyError) -> ReplyError:
        """The exception an error reply raises (as TinyCache's)."""
        text = str(reply)
        if text.startswith("NOAUTH"):
            client = self.client()
            hint = "AsyncTinyCache" if client is not None and \
                client._auth is None else None
            return _noauth(text, self.display, hint)
        return reply

    # ---- Ending ----

    def fail_pending(self, error: BaseException, broke: bool) -> None:
        """Fail every pending call: with error itself, or when the
        connection broke (broke), as connection_lost says. A cancelled
        pop whose reply never came is logged: its value may be lost."""
        pending = self.pending
        while pending:
            fut, decode, once, undo, timer = pending.popleft()
            if timer is not None:
                timer.cancel()
            if fut.done():
                if undo is not None:
                    _log.warning(
                        "the connection to %s closed before the reply of a "
                        "cancelled %s of %r: if the server ran it, the "
                        "value it took is lost", self.display, undo[0],
                        undo[1])
                continue
            if not broke or once == "restore":
                fut.set_exception(error)
            elif once is None:
                fut.set_exception(_Lost(str(error)))
            else:
                fut.set_exception(TinyCacheConnectionError(
                    f"connection to {self.display} broke during {once}, "
                    "which is not retried (it may or may not have run): "
                    f"{error}"))
        self.wbuf.clear()

    def abort(self, error: BaseException) -> None:
        """Close the connection at once, failing the pending calls with
        error itself (a protocol error, or the client closing)."""
        if self.gone is None:
            self.gone = error
        client = self.client()
        if client is not None and client._proto is self:
            client._proto = None
        self.fail_pending(error, False)
        if self.transport is not None:
            self.transport.abort()


def _undone(fut: "asyncio.Future[Any]", kind: str, key: str, size: int,
            display: str) -> None:
    """Log how putting back a cancelled pop's value went."""
    if fut.cancelled():
        return
    error = fut.exception()
    if error is None and fut.result() is not None:
        _log.debug("put back the value of a cancelled %s "
                    "of %r", kind, key)
        return
    why = (f"{error}" if error is not None else
           "the key was set again meanwhile (SET NX refused)")
    _log.warning(
        "a cancelled %s of %r on %s took a value (%d bytes) "
        "that could not be put back: %s; the value was dropped", kind, key,
        display, size, why)


# Clients of this process, to forget their connections in a forked child.
_CLIENTS: "weakref.WeakSet[AsyncTinyCache]" = weakref.WeakSet()

# Connections of a loop not running here (see _forget), their
# descriptors closed: kept from finalization, which would warn.
_INHERITED: List[Any] = []


def _after_fork_in_child() -> None:
    """Forget every connection inherited through fork()."""
    for client in list(_CLIENTS):
        proto, client._proto = client._proto, None
        client._connecting = None
        if proto is not None:
            _forget(proto)
        blockers = list(client._blockers)
        client._blockers.clear()
        client._idle.clear()
        for proto in blockers:
            _forget(proto)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class AsyncTinyCache:
    """TinyCache for asyncio: the same methods, as coroutines.

    ``AsyncTinyCache(addr="127.0.0.1:5002", *, connect_timeout=2.0,
    timeout=None, password=None, username=None, serializer=None)`` takes
    what :class:`~tiny_mp_cache.TinyCache` takes (``"host:port"``, a Unix
    socket path, ``redis://``, ``tcp://`` and ``unix://`` URLs; see
    :meth:`from_url`), checked the same way, and its methods behave as
    TinyCache's, with the same errors (:class:`ReplyError` with the
    server's text, :class:`TinyCacheConnectionError`,
    :class:`TinyCacheTimeoutError`, :class:`AuthenticationError`)::

        async with AsyncTinyCache(srv.address) as cache:
            await cache.set("k", b"v", ttl=60)
            await cache.get("k")
            async for key in cache:         # SCAN
                ...

    One connection per client, opened on the first call (retrying for up
    to ``connect_timeout`` seconds while the server is starting, as
    TinyCache does) and bound to the event loop that opened it (used
    from another loop, it is replaced). Calls from many tasks at once are
    pipelined on it: each writes its request at once and the replies are
    handed out in order, so 100 tasks do not wait for each other's round
    trips. Use one client per event loop; it is not thread-safe.

    ``timeout`` bounds each call's wait for its reply
    (:class:`TinyCacheTimeoutError`); unlike TinyCache, the connection is
    kept: the late reply is matched to its call and dropped.

    Cancellation (``task.cancel()``, ``asyncio.wait_for``,
    ``asyncio.timeout``) is safe at any point: a call cancelled before
    its request was written sends nothing; one cancelled after it has its
    reply dropped when it comes, never handed to another call. A
    cancelled :meth:`pop` may have run on the server: see there; a
    cancelled :meth:`take` or :meth:`take_many`: see :meth:`take`.

    Blocking takes: :meth:`take` and :meth:`take_many` wait on the server
    (BLPOP, BLMOVE, BLMPOP) each over a connection of its own, taken from
    a small pool of the client (opened when needed, authenticated as the
    main one, back in the pool when the take is over, at most
    ``_POOL_IDLE`` kept idle, closed by :meth:`aclose`), so a waiting
    take holds up no other call.

    Broken connections: pending calls of the commands TinyCache retries
    (get, set, delete, exists, keys, len, clear, get_many, set_many,
    expire, ttl, touch, llen, peek, lrange, ping, each SCAN) are sent
    again once on a new connection; the others (pop, pop_many, add,
    persist, incr, decr, push, take_nowait, execute) raise
    :class:`TinyCacheConnectionError` and the next call reconnects (one
    of them sent on a connection the server closed while idle reconnects
    first, as in TinyCache); take and take_many raise it too, saying what
    the server may have taken.

    Not here: ``len(cache)``, ``key in cache``, ``cache[key]`` (and its
    assignment and ``del``) cannot be awaited: use :meth:`len`,
    :meth:`exists`, :meth:`get`, :meth:`set` and :meth:`delete`.
    ``async for key in cache`` is a SCAN (:meth:`scan_iter`).
    ``lock``/``memoize`` (synchronous recipes) are TinyCache's only.

    Pickling: as TinyCache, the address and options, never the
    connection. After ``fork()`` the child forgets the parent's
    connections (their descriptors stay open, unused) and opens its own.
    """

    def __init__(self, addr: Address = "127.0.0.1:5002", *,
                 connect_timeout: float = 2.0,
                 timeout: Optional[float] = None,
                 password: Optional[Union[str, bytes]] = None,
                 username: Optional[str] = None,
                 serializer: Union[None, str, Serializer] = None) -> None:
        # TinyCache checks the address and options (one place for the
        # rules) and holds what they stand for; it never connects here.
        sync = TinyCache(addr, connect_timeout=connect_timeout,
                         timeout=timeout, password=password,
                         username=username, serializer=serializer)
        self._addr = addr
        self._options = sync._options
        self._family, self._sockaddr = sync._family, sync._sockaddr
        self._display = sync._display
        self._auth = sync._auth
        self._username = sync._username
        self._serializer, self._dump, self._load = \
            sync._serializer, sync._dump, sync._load
        self._connect_timeout = sync._connect_timeout
        self._timeout = timeout
        self._proto: Optional[_Protocol] = None
        self._connecting: Optional["asyncio.Future[_Protocol]"] = None
        # The blocking connections (see _blocker): every open one, and
        # those waiting for a take.
        self._blockers: Set[_Protocol] = set()
        self._idle: List[_Protocol] = []
        _CLIENTS.add(self)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> "AsyncTinyCache":
        """An AsyncTinyCache for a URL: ``redis://[[username]:password@]
        host[:port][/0]``, ``tcp://host:port[/0]`` or ``unix://[[username]
        :password@]/path[?db=0]``, checked as
        :meth:`TinyCache.from_url <tiny_mp_cache.TinyCache.from_url>`
        does; ``options`` are the constructor's keywords."""
        make = cast(Any, TinyCache.from_url).__func__
        return cast(AsyncTinyCache, make(cls, url, **options))

    # ---- Strings ----

    async def set(self, key: str, value: Any,
                  ttl: Optional[float] = None) -> None:
        """Store value under key (SET), replacing any old value and its
        ttl; ``ttl`` in seconds as in :meth:`TinyCache.set` (``SET key
        value PX ms``). Sent again once after a broken connection."""
        if not isinstance(key, str):
            _bad_key(key)
        if self._dump is not None:
            value = self._dump(value)
        elif not isinstance(value, (bytes, bytearray, memoryview)):
            _bad_value(value)
        if ttl is None:
            data = _pack(b"SET", key, value)
        else:
            data = _pack(b"SET", key, value, b"PX", _ttl_ms(ttl))
        # _call inlined (one coroutine a call, awaiting the future).
        proto = self._proto
        if proto is None or proto.loop is not _get_running_loop():
            await self._call(data)
            return
        try:
            await proto.send(data)
        except _Lost:
            await self._again(data)

    async def get(self, key: str, default: Any = None) -> Any:
        """The value stored under key (GET), or ``default`` (None)."""
        if not isinstance(key, str):
            _bad_key(key)
        data = _pack(b"GET", key)
        # _call inlined (one coroutine a call, awaiting the future).
        proto = self._proto
        if proto is None or proto.loop is not _get_running_loop():
            reply = await self._call(data)
        else:
            try:
                reply = await proto.send(data)
            except _Lost:
                reply = await self._again(data)
        if reply is None:
            return default
        if self._load is None:
            return reply
        return self._load(reply)

    async def pop(self, key: str, default: Any = None) -> Any:
        """Atomically get and delete key (GETDEL); ``default`` (None) if
        it is absent. Of several callers popping one key, exactly one
        gets the value. Never sent twice.

        Cancelled or timed out after its request was written, the GETDEL
        may still run on the server. The value is never lost silently:
        when its reply comes with a value nobody awaits any more, the
        value is put back with ``SET key value NX`` (the key exists again,
        as if the pop had not run); if the key was set again meanwhile,
        NX refuses and a WARNING on logger ``"tiny_mp_cache"`` names the
        key and says the value was dropped (as it does if the connection
        closes before that reply came). The value is back once that reply
        is in: a call sent on this client before it came (or by another
        client meanwhile) may find the key absent.
        """
        if not isinstance(key, str):
            _bad_key(key)
        reply = await self._call(_pack(b"GETDEL", key), False, "GETDEL",
                                 ("pop", key))
        if reply is None:
            return default
        if self._load is None:
            return reply
        return self._load(reply)

    async def delete(self, *keys: str, key: Optional[str] = None) -> int:
        """Delete the keys (DEL) and return how many existed; no keys:
        0, nothing sent."""
        if key is not None:
            keys += (key,)
        return await self._count(b"DEL", keys)

    async def exists(self, *keys: str) -> int:
        """Count the given keys that exist (EXISTS; a key given twice
        counts twice); no keys: 0, nothing sent."""
        return await self._count(b"EXISTS", keys)

    async def touch(self, *keys: str) -> int:
        """Count the given keys that exist and mark them as just used
        (TOUCH); no keys: 0, nothing sent."""
        return await self._count(b"TOUCH", keys)

    async def _count(self, command: bytes, keys: Tuple[Any, ...]) -> int:
        """command over keys (all str) and its count; no keys: 0."""
        args = _count_command(command, keys)
        if args is None:
            return 0
        reply: int = await self._call(_pack(*args))
        return reply

    async def keys(self, pattern: str = "*") -> List[str]:
        """The keys matching a Redis glob pattern (KEYS), as
        :meth:`TinyCache.keys`; prefer :meth:`scan_iter` on big
        keyspaces."""
        _check_pattern(pattern)
        reply: List[str] = await self._call(_pack(b"KEYS", pattern), True)
        return reply

    async def len(self) -> int:
        """The number of keys (DBSIZE). ``len(cache)`` cannot be awaited:
        there is no ``__len__``."""
        reply: int = await self._call(_pack(b"DBSIZE"))
        return reply

    async def clear(self) -> None:
        """Delete every key of the server (FLUSHDB), written by any
        client."""
        await self._call(_pack(b"FLUSHDB"))

    def scan_iter(self, pattern: str = "*",
                  count: int = SCAN_COUNT) -> AsyncIterator[str]:
        """``async for key in cache.scan_iter(pattern)``: the keys
        matching pattern, a batch at a time (SCAN ... MATCH ... COUNT),
        not a snapshot (see :meth:`TinyCache.scan_iter`). The arguments
        are checked at once."""
        _check_pattern(pattern)
        _check_count(count)
        return self._scan(pattern, count)

    async def _scan(self, pattern: str, count: int) -> AsyncIterator[str]:
        """scan_iter()'s generator: SCAN until the cursor is back at 0."""
        cursor = "0"
        while True:
            cursor, keys = await self._call(
                _pack(b"SCAN", cursor, b"MATCH", pattern, b"COUNT", count),
                True)
            for key in keys:
                yield key
            if cursor == "0":
                return

    def __aiter__(self) -> AsyncIterator[str]:
        """``async for key in cache``: every key, by SCAN."""
        return self.scan_iter()

    # ---- Batches ----

    async def get_many(self, keys: Iterable[str]) -> List[Any]:
        """The values of keys (MGET), None where a key is absent."""
        names = _key_list(keys)
        if not names:
            return []
        reply: List[Any] = await self._call(_pack(b"MGET", *names))
        return _loaded_many(reply, self._load)

    async def set_many(self, items: Union[Mapping[str, Any],
                                          Iterable[Tuple[str, Any]]]) -> None:
        """Store many keys at once (MSET) from a mapping or pairs."""
        args = _mset_command(items, self._dump)
        if args is not None:
            await self._call(_pack(*args))

    async def pop_many(self, keys: Iterable[str]) -> List[Any]:
        """Atomically get and delete each key (pipelined GETDEL, one
        round trip): the value where this call won the key, None where it
        was absent. Never sent twice. A cancelled call puts back every
        value it took, as :meth:`pop` does; so does one that fails on an
        error reply (e.g. WRONGTYPE for one of the keys) before raising
        the first error."""
        names = _key_list(keys)
        if not names:
            return []
        proto = self._proto
        if proto is None or proto.loop is not _get_running_loop() or \
                (not proto.pending and
                 _monotonic() - proto.last_read >= _IDLE_SECONDS):
            proto = await self._ready(True)
        futs = []
        for key in names:
            futs.append(proto.send(_pack(b"GETDEL", key), False, "GETDEL",
                                   ("pop", key)))
        replies: List[Any] = []
        error: Optional[BaseException] = None
        try:
            for fut in futs:
                try:
                    replies.append(await fut)
                except (ReplyError, TinyCacheConnectionError,
                        TinyCacheTimeoutError) as e:
                    replies.append(None)
                    if error is None:
                        error = e
        except _CancelledError:
            for fut, key in zip(futs, names):
                if not fut.done():
                    fut.cancel()        # the protocol puts it back
                else:
                    _restore_reply(proto, fut, key)
            raise
        if error is not None:
            for value, key in zip(replies, names):
                if value is not None:
                    proto.undo(("pop", key), value)
            raise error
        return _loaded_many(replies, self._load)

    # ---- Expiry and counters ----

    async def add(self, key: str, value: Any,
                  ttl: Optional[float] = None) -> bool:
        """Store value under key only if the key does not exist (SET NX):
        True if stored. Never sent twice."""
        data = _pack(*_add_command(key, value, ttl, self._dump))
        return await self._call(data, False, "SET NX") is not None

    async def expire(self, key: str, ttl: float) -> bool:
        """Make key expire ttl seconds from now (PEXPIRE); True if the
        key exists."""
        reply: int = await self._call(
            _pack(b"PEXPIRE", _key_arg(key), _ttl_ms(ttl)))
        return reply == 1

    async def persist(self, key: str) -> bool:
        """Remove key's ttl (PERSIST); True if it had one. Never sent
        twice."""
        reply: int = await self._call(_pack(b"PERSIST", _key_arg(key)),
                                      False, "PERSIST")
        return reply == 1

    async def ttl(self, key: str) -> Optional[float]:
        """Seconds key has left (PTTL / 1000): ``math.inf`` without a
        ttl, None for a missing key (as :meth:`TinyCache.ttl`)."""
        return _ttl_seconds(
            await self._call(_pack(b"PTTL", _key_arg(key))))

    async def incr(self, key: str, amount: int = 1) -> int:
        """Add amount to the integer at key and return it (INCRBY).
        Never sent twice."""
        reply: int = await self._call(
            _pack(b"INCRBY", _key_arg(key), _int_arg(amount)), False, "INCRBY")
        return reply

    async def decr(self, key: str, amount: int = 1) -> int:
        """Subtract amount from the integer at key and return it
        (DECRBY). Never sent twice."""
        reply: int = await self._call(
            _pack(b"DECRBY", _key_arg(key), _int_arg(amount)), False, "DECRBY")
        return reply

    # ---- Lists (the blocking takes wait on connections of their own) ----

    async def push(self, name: str, *values: Any) -> int:
        """Append values to the list at name (RPUSH); its new length.
        Never sent twice."""
        reply: int = await self._call(
            _pack(*_push_command(name, values, self._dump)), False, "RPUSH")
        return reply

    async def take(self, name: str, timeout: Optional[float] = None, *,
                   into: Optional[str] = None) -> Any:
        """Remove and return the item at the head of the list at name,
        waiting for one while the list is empty or missing (BLPOP; with
        ``into``, BLMOVE name into LEFT RIGHT), as :meth:`TinyCache.take`:
        ``timeout`` None waits as long as it takes, a number > 0 that many
        seconds (then None), 0 not at all (:meth:`take_nowait`). The wait
        runs on a blocking connection of its own (see the class), so it
        holds up no other call of this client. Never sent twice.

        The client's ``timeout=`` bounds the reply to the wait, a second
        of grace and itself; past that the wait is ended as for a
        cancelled take and :class:`TinyCacheTimeoutError` is raised.

        Cancelled (``task.cancel()``, ``asyncio.wait_for``) while it
        waits, the take is never lost silently: ``CLIENT UNBLOCK`` ends the
        server's wait (sent over the main connection) and its reply is
        read before the cancellation goes on. Nothing taken: the list is
        as it was. An item served just before: it is put back at the head
        of the list (LPUSH), or with ``into`` taken out of ``into``
        again (LREM into -1 item) and put back at the head of name; a
        WARNING on logger ``"tiny_mp_cache"`` says when that fails, or
        when the wait could not be ended or its connection broke (an item
        may then have been taken, and lost, or with ``into``, left in
        ``into``). A connection that breaks while a take waits raises
        :class:`TinyCacheConnectionError` saying the same.
        """
        nowait = _take_nowait_command(name, into)  # checks name and into
        wait = _wait_seconds(timeout)
        if wait == 0:
            return await self.take_nowait(name, into=into)
        if into is None:
            args: Tuple[Any, ...] = (b"BLPOP", name, _wait_arg(wait))
        else:
            args = (b"BLMOVE",) + nowait[1:] + (_wait_arg(wait),)
        values = await self._blocking(wait, name, into, args)
        return _loaded(values[0], self._load) if values else None

    async def take_many(self, name: str, count: int,
                        timeout: Optional[float] = None) -> List[Any]:
        """Remove and return up to count items from the head of the list
        at name, in order, waiting while it is empty (BLMPOP ... COUNT),
        as :meth:`TinyCache.take_many`: all there are up to ``count`` once
        there is one; ``timeout`` as in :meth:`take` (0: LPOP name count);
        an empty list when nothing came. Runs on a blocking connection
        (even with 0), and a cancelled call puts back every item it was
        served (one LPUSH, in order), as :meth:`take` says."""
        if not isinstance(name, str):
            _bad_key(name)
        _check_count(count)
        wait = _wait_seconds(timeout)
        if wait == 0:
            args: Tuple[Any, ...] = (b"LPOP", name, _int64(count))
        else:
            args = (b"BLMPOP", _wait_arg(wait), 1, name, b"LEFT", b"COUNT",
                    _int64(count))
        values = await self._blocking(wait, name, None, args)
        return _loaded_many(values, self._load)

    async def take_nowait(self, name: str, *,
                          into: Optional[str] = None) -> Any:
        """Remove and return the head of the list at name, or None
        (LPOP; with ``into``, LMOVE name into LEFT RIGHT). Never sent
        twice. A cancelled LPOP's item is pushed back at the head of the
        list (LPUSH) when its reply comes; an LMOVE's item is in
        ``into``."""
        data = _pack(*_take_nowait_command(name, into))
        if into is None:
            reply = await self._call(data, False, "LPOP", ("lpop", name))
        else:
            reply = await self._call(data, False, "LMOVE")
        return _loaded(reply, self._load)

    async def llen(self, name: str) -> int:
        """The length of the list at name (LLEN); 0 if missing."""
        reply: int = await self._call(_pack(b"LLEN", _key_arg(name)))
        return reply

    async def peek(self, name: str, index: int = 0) -> Any:
        """The item at index of the list at name (LINDEX), or None."""
        reply = await self._call(
            _pack(b"LINDEX", _key_arg(name), _index_arg(index)))
        return _loaded(reply, self._load)

    async def lrange(self, name: str, start: int = 0,
                     stop: int = -1) -> List[Any]:
        """The items of the list at name from start to stop, both
        included (LRANGE)."""
        reply: List[Any] = await self._call(
            _pack(b"LRANGE", _key_arg(name), _index_arg(start),
                  _index_arg(stop)))
        return _loaded_many(reply, self._load)

    # ---- Extras ----

    async def ping(self) -> bool:
        """Round-trip a PING; True when the server answers."""
        reply: object = await self._call(_pack(b"PING"))
        return reply == "PONG"

    async def execute(self, *args: Union[str, bytes, int]) -> Any:
        """Send one raw command and return its reply (never sent
        twice), as :meth:`TinyCache.execute`."""
        if not args:
            raise TypeError("execute() needs at least a command name")
        name = args[0].decode(errors="replace") if isinstance(
            args[0], bytes) else str(args[0])
        return await self._call(_pack(*args), False, name)

    async def aclose(self) -> None:
        """Close the connection; calls still pending fail with
        :class:`TinyCacheConnectionError`. A later call opens a new
        one. The blocking connections are closed too: the wait of a take
        still waiting is ended first (CLIENT UNBLOCK), so that it returns
        an item it was served just before, or else raises
        :class:`TinyCacheConnectionError` (nothing taken)."""
        await self._close_blocking()
        proto, self._proto = self._proto, None
        self._connecting = None
        if proto is None or proto.transport is None:
            return
        if proto.loop is not _get_running_loop():
            _forget(proto)
            return
        proto.flush()
        proto.abort(TinyCacheConnectionError(
            f"connection to {self._display} closed by aclose()"))
        try:
            await asyncio.wait_for(asyncio.shield(proto.closed), _CLOSE_WAIT)
        except (asyncio.TimeoutError, TimeoutError):
            pass

    async def __aenter__(self) -> "AsyncTinyCache":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "connected" if self._proto is not None else "idle"
        return f"<AsyncTinyCache {self._display} {state}>"

    @property
    def address(self) -> str:
        """The server address, normalized (``host:port`` or
        ``unix://path``)."""
        return self._display

    @property
    def serializer(self) -> Optional[Any]:
        """The serializer values go through, or None for raw bytes."""
        return self._serializer

    def __reduce__(self) -> Tuple[Any, ...]:
        """Pickle as the address and options, never the connection."""
        return (_unpickle_client, (type(self), self._addr, self._options))

    # ---- Internals ----

    async def _call(self, data: bytes, decode: bool = False,
                    once: Optional[str] = None,
                    undo: Optional[Tuple[str, str]] = None) -> Any:
        """Send one request (data: packed) and return its reply.

        once: None for a command safe to repeat (sent again, once, on a
        new connection if the connection breaks before its reply), else
        its name: never sent twice. undo: see _Protocol.undo."""
        proto = self._proto
        if proto is None or proto.loop is not _get_running_loop() or \
                (once is not None and not proto.pending and
                 _monotonic() - proto.last_read >= _IDLE_SECONDS):
            proto = await self._ready(once is not None)
        fut = proto.send(data, decode, once, undo)
        try:
            return await fut
        except _Lost:
            pass
        except _CancelledError:
            if undo is not None:
                _restore_reply(proto, fut, undo[1], undo[0])
            raise
        return await self._again(data, decode)

    async def _again(self, data: bytes, decode: bool = False) -> Any:
        """The connection broke before the reply of a command that is safe
        to repeat (data, packed): send it once more on a new connection
        and return its reply."""
        proto = await self._ready(False)
        try:
            return await proto.send(data, decode)
        except _Lost as e:
            raise TinyCacheConnectionError(
                f"connection to {self._display} broke twice: {e}") from None

    async def _ready(self, once: bool) -> _Protocol:
        """An open connection of the running loop: this one, or a new one
        (connected and authenticated by one task, which every caller
        awaits; a caller cancelled meanwhile sends nothing). once: check
        first that the server did not close the connection while idle."""
        loop = _get_running_loop()
        proto = self._proto
        if proto is not None:
            if proto.loop is not loop:
                # Opened by another (closed or other) loop: leave it.
                self._proto = None
                _forget(proto)
                proto = None
            elif once and not proto.pending:
                if _closed_while_idle(proto.sock):
                    proto.abort(TinyCacheConnectionError(
                        f"connection to {self._display} closed by the server"))
                    proto = None
        if proto is not None:
            return proto
        connecting = self._connecting
        if connecting is None or connecting.done() or \
                connecting.get_loop() is not loop:
            connecting = loop.create_task(self._connect(loop))
            # Its failure is every waiter's: never "not retrieved".
            connecting.add_done_callback(_retrieve)
            self._connecting = connecting
        return await asyncio.shield(connecting)

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        """Open the main connection (see _dial)."""
        proto = await self._dial(loop)
        self._proto = proto
        self._connecting = None
        return proto

    async def _dial(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        """Open a connection, waiting up to connect_timeout for a server
        that is still starting, and authenticate it."""
        deadline = loop.time() + self._connect_timeout
        delay = _RETRY_DELAY_MIN
        while True:
            left = max(deadline - loop.time(), 0.05)
            try:
                _, proto = await asyncio.wait_for(self._open(loop), left)
                break
            except (ConnectionRefusedError, FileNotFoundError) as e:
                if loop.time() + delay > deadline:
                    raise _not_listening(e, self._display,
                                         self._connect_timeout) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_DELAY_MAX)
            except (asyncio.TimeoutError, OSError) as e:
                raise TinyCacheConnectionError(
                    f"cannot connect to {self._display}: {str(e) or 'timed out'}"
                ) from None
        if self._auth is not None:
            try:
                await proto.send(_pack(*self._auth), False, "AUTH")
            except ReplyError as e:
                proto.abort(TinyCacheConnectionError("AUTH refused"))
                raise _auth_refused(e, self._username,
                                    self._display) from None
            except BaseException:
                proto.abort(TinyCacheConnectionError("AUTH failed"))
                raise
        if proto.gone is not None:
            raise proto.gone
        return proto

    # ---- Blocking takes ----

    async def _blocker(self) -> _Protocol:
        """A blocking connection of the running loop for one take: an
        idle one of the pool the server did not close, or a new one
        (authenticated, its CLIENT ID read, no per-call timeout)."""
        loop = _get_running_loop()
        idle = self._idle
        while idle:
            proto = idle.pop()
            if proto.loop is not loop:
                self._drop_blocker(proto)
            elif proto.gone is None and not _closed_while_idle(proto.sock):
                return proto
            else:
                self._drop_blocker(proto)
        proto = await self._dial(loop)
        try:
            proto.client_id = await proto.send(_pack(b"CLIENT", b"ID"), False,
                                               "CLIENT ID")
        except BaseException:
            proto.abort(TinyCacheConnectionError("CLIENT ID failed"))
            raise
        proto.timeout = None
        self._blockers.add(proto)
        return proto

    def _release(self, proto: _Protocol) -> None:
        """A take is over on a blocking connection: back to the pool if it
        is sound, idle and of the running loop, else closed."""
        if proto.gone is None and not proto.pending and \
                proto.loop is _get_running_loop() and \
                proto in self._blockers and len(self._idle) < _POOL_IDLE:
            self._idle.append(proto)
        else:
            self._drop_blocker(proto)

    def _drop_blocker(self, proto: _Protocol) -> None:
        """Close a blocking connection (forget it if another loop's)."""
        self._blockers.discard(proto)
        if proto in self._idle:
            self._idle.remove(proto)
        if proto.loop is not _get_running_loop():
            _forget(proto)
        elif proto.gone is None:
            proto.abort(TinyCacheConnectionError(
                f"blocking connection to {self._display} closed"))

    async def _blocking(self, wait: Optional[float], name: str,
                        into: Optional[str], args: Tuple[Any, ...]
                        ) -> List[bytes]:
        """Run the take args (BLPOP, BLMOVE, BLMPOP; LPOP name count) on a
        blocking connection and return the items it took. A cancelled
        call, or one whose reply does not come within the wait,
        _WAIT_GRACE and the client's timeout, has its wait ended and
        what it was served put back first (see _abandon)."""
        timeout = self._timeout
        limit = None if wait is None or timeout is None else \
            wait + _WAIT_GRACE + timeout
        proto = await self._blocker()
        fut = proto.send(_pack(*args), False, args[0].decode())
        try:
            await asyncio.wait((fut,), timeout=limit)
        except _CancelledError:
            await self._abandon_shielded(proto, fut, name, into, args)
            raise
        what, _ = _take_effect(args)
        if not fut.done():
            outcome = await self._abandon_shielded(proto, fut, name, into,
                                                   args)
            raise TinyCacheTimeoutError(
                f"no reply from {self._display} within {limit:g} s (the "
                f"wait, {_WAIT_GRACE:g} s of grace and the client's "
                f"timeout) to {what}; ending its wait (CLIENT UNBLOCK): "
                f"{outcome}")
        self._release(proto)
        error = fut.exception()
        if error is not None:
            if isinstance(error, TinyCacheConnectionError):
                raise TinyCacheConnectionError(
                    f"connection to {self._display} broke during {what}, "
                    f"which is never retried: {_take_effect(args)[1]} "
                    f"({error})") from None
            raise error
        values = _taken(args, fut.result())
        if not values and proto.closing:
            raise TinyCacheConnectionError(
                f"connection to {self._display} closed by aclose() during "
                f"{what}: nothing was taken")
        return values

    async def _abandon_shielded(self, proto: _Protocol,
                                fut: "asyncio.Future[Any]", name: str,
                                into: Optional[str],
                                args: Tuple[Any, ...]) -> str:
        """Run _abandon in a task of its own and await it: cancelling
        the caller again cannot stop it halfway."""
        task = _get_running_loop().create_task(
            self._abandon(proto, fut, name, into, args))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
        return await asyncio.shield(task)

    async def _abandon(self, proto: _Protocol, fut: "asyncio.Future[Any]",
                       name: str, into: Optional[str],
                       args: Tuple[Any, ...]) -> str:
        """The take args on proto (its reply fut) was cancelled or timed
        out: end its wait and read its reply (_unblock), put back what it
        took (_put_back), and say what became of it. Logs a WARNING when
        an item may be lost or could not be put back."""
        what, lost = _take_effect(args)
        if not fut.done():
            await self._unblock(proto, fut)
        error = fut.exception() if not fut.cancelled() else \
            TinyCacheConnectionError("cancelled")
        if error is not None and not isinstance(error, ReplyError):
            self._drop_blocker(proto)
            _log.warning(
                "%s on %s was cancelled or timed out, then its connection "
                "broke before its reply (%s): %s", what, self._display,
                error, lost)
            return f"its connection is closed: {lost}"
        self._release(proto)
        values = [] if error is not None else _taken(args, fut.result())
        if not values:
            return "nothing was taken"
        return await self._put_back(name, into, values, what)

    async def _unblock(self, proto: _Protocol,
                       fut: "asyncio.Future[Any]") -> None:
        """End the wait of the take whose reply fut is on proto: CLIENT
        UNBLOCK over the main connection, then await the reply (nil if
        nothing was taken). While the server says the connection is not
        blocked (its request not read yet, or its reply on the way), ask
        again until the reply is in; past _UNBLOCK_WAIT (and the client's
        timeout), or if the unblock fails, close the connection (fut then
        fails)."""
        loop = proto.loop
        deadline = loop.time() + _UNBLOCK_WAIT + (self._timeout or 0)
        data = _pack(b"CLIENT", b"UNBLOCK", cast(int, proto.client_id))
        delay = 0.001
        why = f"no reply within {deadline - loop.time():g} s"
        while not fut.done() and loop.time() < deadline:
            try:
                unblocked = await asyncio.wait_for(
                    self._call(data), deadline - loop.time())
            except (ReplyError, TinyCacheConnectionError,
                    TinyCacheTimeoutError, asyncio.TimeoutError) as e:
                why = f"CLIENT UNBLOCK failed: {e or 'timed out'}"
                break
            left = max(deadline - loop.time(), 0)
            await asyncio.wait((fut,),
                               timeout=left if unblocked else min(delay, left))
            delay = min(delay * 2, 0.1)
        if not fut.done():
            proto.abort(TinyCacheConnectionError(
                f"the wait could not be ended ({why}): closed"))

    async def _put_back(self, name: str, into: Optional[str],
                        values: List[bytes], what: str) -> str:
        """Put the items an abandoned take was served back at the head of
        name, in order (one LPUSH); with into, the item leaves into first
        (LREM into -1 item: the last copy, wherever other takes into the
        same list put theirs after it; if it is gone, someone else has it
        and it is left alone). Says how it went; a WARNING if it failed."""
        size = sum(len(v) for v in values)
        removed = False
        try:
            if into is not None:
                if not await self._call(
                        _pack(b"LREM", into, b"-1", values[0]), False, "LREM"):
                    return (f"the item it moved had left {into!r} meanwhile: "
                            "left alone")
                removed = True
            await self._call(_pack(b"LPUSH", name, *values[::-1]), False,
                             "LPUSH")
        except (ReplyError, TinyCacheConnectionError,
                TinyCacheTimeoutError) as e:
            where = "it was dropped" if into is None or removed else \
                f"it is left in {into!r}"
            _log.warning(
                "%s on %s was cancelled or timed out after the server served "
                "it %d item(s) (%d bytes), which could not be put back at "
                "the head of %r (%s): %s", what, self._display, len(values),
                size, name, e, where)
            return f"the item(s) it was served could not be put back: {where}"
        _log.debug("put back the %d item(s) of an abandoned %s", len(values),
                   what)
        return f"the {len(values)} item(s) it was served are back in {name!r}"

    async def _close_blocking(self) -> None:
        """aclose()'s part: end the wait of every take still waiting (so
        that it gets what it was served, or raises, nothing taken), then
        close every blocking connection."""
        loop = _get_running_loop()
        blockers = list(self._blockers)
        waiting = [p for p in blockers
                   if p.loop is loop and p.gone is None and p.pending]
        if waiting:
            for proto in waiting:
                proto.closing = True
            unblocks = [self._call(_pack(b"CLIENT", b"UNBLOCK",
                                         cast(int, proto.client_id)))
                        for proto in waiting]
            try:
                await asyncio.wait_for(asyncio.gather(*unblocks),
                                       _CLOSE_WAIT)
            except (ReplyError, TinyCacheConnectionError,
                    TinyCacheTimeoutError, asyncio.TimeoutError):
                pass
            futs = [p.pending[0][0] for p in waiting if p.pending]
            if futs:
                await asyncio.wait(futs, timeout=_CLOSE_WAIT)
        for proto in blockers:
            self._drop_blocker(proto)

    async def _open(self, loop: asyncio.AbstractEventLoop
                    ) -> Tuple[asyncio.BaseTransport, _Protocol]:
        """A new _Protocol, connected over a socket of our own (so that
        _forget can close it without the loop that owns it)."""
        if self._family == socket.AF_UNIX:
            targets = [(socket.AF_UNIX, self._sockaddr)]
        else:
            host, port = self._sockaddr
            try:
                infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM,
                                           0, socket.AI_NUMERICHOST)
            except socket.gaierror:
                infos = await loop.getaddrinfo(host, port,
                                               type=socket.SOCK_STREAM)
            targets = [(info[0], info[4]) for info in infos]
        error: Optional[OSError] = None
        for family, sockaddr in targets:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, sockaddr)
                return await loop.create_connection(
                    lambda: _Protocol(self, loop, sock), sock=sock)
            except OSError as e:
                sock.close()
                error = e
            except BaseException:
                sock.close()
                raise
        raise cast(OSError, error)


def _forget(proto: _Protocol) -> None:
    """Close a connection whose event loop is not running here (another
    loop's, or the parent's after fork()) without touching that loop:
    close this process's descriptor (no shutdown, so a parent's
    connection lives on) and keep the transport from ever being
    finalized."""
    sock = proto.sock
    if sock.fileno() >= 0:
        try:
            os.close(sock.detach())
        except OSError:
            pass
    _INHERITED.append(proto)


# Tasks ending an abandoned take (see _abandon_shielded), kept from being
# collected while they run.
_TASKS: "Set[asyncio.Task[Any]]" = set()


def _take_effect(args: Tuple[Any, ...]) -> Tuple[str, str]:
    """What the take args is, for messages, and what the server may have
    done for it if its reply is never read (see _blocking_effect)."""
    if args[0] == b"LPOP":
        return (f"a take of up to {args[2]} items from {args[1]!r} (LPOP)",
                f"the server may have taken up to {args[2]} items for it, "
                "which are lost")
    return _blocking_effect(args)


def _taken(args: Tuple[Any, ...], reply: Any) -> List[bytes]:
    """The items the take args took, in order, from its reply: BLPOP's
    [name, item], BLMOVE's item, BLMPOP's [name, [items]], LPOP's
    [items]; nil (nothing) for each."""
    if reply is None:
        return []
    command = args[0]
    if command == b"BLMOVE":
        return [reply]
    if command == b"BLPOP":
        return [reply[1]]
    if command == b"BLMPOP":
        return list(reply[1])
    return list(reply)


def _retrieve(task: "asyncio.Future[Any]") -> None:
    """Mark a connecting task's exception as seen (its waiters got it)."""
    if not task.cancelled():
        task.exception()


def _restore_reply(proto: _Protocol, fut: "asyncio.Future[Any]", key: str,
                   kind: str = "pop") -> None:
    """A pop's caller was cancelled after its reply came (the future
    holds it): put the value back, as the protocol does for a reply that
    comes after the cancellation."""
    if fut.done() and not fut.cancelled() and fut.exception() is None:
        value = fut.result()
        if value.__class__ is bytes:
            proto.undo((kind, key), value)


