# SPDX-License-Identifier: MIT
"""Queue: a FIFO queue in a server list, shared by any number of processes,
with the interface of :class:`queue.Queue` and
:class:`multiprocessing.Queue`.

    q = Queue("127.0.0.1:5002", "jobs")
    q.put(b"job 1")                    # RPUSH jobs "job 1"
    item = q.get()                     # BLPOP jobs 0: waits, no polling
    q.get(timeout=1.5)                 # raises queue.Empty after 1.5 s

    jobs = Queue("127.0.0.1:5002", "jobs", serializer="json")
    jobs.put({"id": 1})                # RPUSH jobs '{"id":1}'
    jobs.get()                         # {'id': 1}

Every command it sends is one Redis 7 has, so the same code runs against a
redis-server. The keys it uses: the list ``name``; in reliable mode also,
for each consumer process, ``name:processing:<id>`` (the items it holds)
and ``name:alive:<id>`` (its heartbeat, a key with a ttl); with a
serializer, ``name:undecodable`` (the items a plain get could not decode).
"""

from __future__ import annotations

import os
import queue as _queue
import re
import secrets
import socket
import threading
import weakref
from collections import deque
from typing import (Any, Callable, Deque, Dict, Iterable, List, NoReturn,
                    Optional, Tuple, Union, cast)

from ._commands import _bad_value
from .client import (Address, ReplyError, Serializer, TinyCache,
                     TinyCacheError, Value, _codec)

__all__ = ["Queue"]

_PROCESSING = ":processing:"
_ALIVE = ":alive:"
_UNDECODABLE = ":undecodable"

# The value of a held item (reliable mode) its serializer could not decode.
_UNDECODED = object()

# A held item (reliable mode): its bytes as stored, what get returned for
# it (_UNDECODED if its loads raised), and the processing list it is in.
_Held = Tuple[bytes, Any, str]

# A consumer id: "<pid>-<12 hex digits>". recover() acts only on keys whose
# suffix has this form, so a queue whose name starts with another queue's
# "name:processing:" is never mistaken for one of its consumers.
_CONSUMER_ID = re.compile(r"[0-9]+-[0-9a-f]{12}")

# The errors of a command that did nothing on the server: a bad argument
# (found before sending) or an error reply. Any other failure of a reliable
# get or ack may have left an item in the processing list unknown to us.
_NOT_SENT = (ReplyError, TypeError, ValueError)

# put_many() sends at most this many items, or about this many bytes, per
# RPUSH (each RPUSH is atomic; the whole batch is not).
_PUT_CHUNK_ITEMS = 1000
_PUT_CHUNK_BYTES = 1 << 20

# Guards each Queue's set of clients and the start of its consumer. A new
# lock in a child after fork(): another thread may have held it then.
_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def _glob_escape(text: str) -> str:
    """text as a SCAN MATCH pattern that matches only itself."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class _Consumer:
    """This process as a consumer of a reliable queue: its id, its
    processing list, and its heartbeat key, which a daemon thread renews
    every ``heartbeat / 3`` seconds with a ttl of ``heartbeat`` seconds.
    Only the process that made it can close it."""

    def __init__(self, addr: Address, options: Dict[str, Any], name: str,
                 heartbeat: float) -> None:
        self.pid = os.getpid()
        self.id = f"{self.pid}-{secrets.token_hex(6)}"
        self.name = name
        self.processing = name + _PROCESSING + self.id
        self.alive_key = name + _ALIVE + self.id
        self._ttl = heartbeat
        self._value = f"pid {self.pid} on {socket.gethostname()}".encode()
        self._client = TinyCache(addr, **options)
        self._stop = threading.Event()
        self._closed = False
        # The first beat before anything is taken: a processing list never
        # exists without a heartbeat while its consumer lives.
        self._beat()
        self._thread = threading.Thread(
            target=self._run, daemon=True,
            name=f"tiny_mp_cache heartbeat {self.alive_key}")
        self._thread.start()

    def _beat(self) -> None:
        """Set the heartbeat key with its ttl (SET ... PX)."""
        self._client.set(self.alive_key, self._value, ttl=self._ttl)

    def _run(self) -> None:
        """The heartbeat thread: renew until stopped. A failure (the
        server restarting) is retried at the next beat; the consumer's own
        commands report it."""
        while not self._stop.wait(self._ttl / 3):
            try:
                self._beat()
            except (TinyCacheError, OSError):
                pass

    def retire(self) -> None:
        """Stop the heartbeat and leave the key to expire, so that
        recover() hands back what the processing list holds then."""
        self._stop.set()

    def close(self, client: Optional[TinyCache] = None) -> None:
        """Stop the heartbeat, hand the items in the processing list back
        to the head of the queue in their order, and delete the heartbeat
        key; once. Best effort: with the server unreachable the items stay
        for recover(). Does nothing in another process (a forked child)."""
        if os.getpid() != self.pid or self._closed:
            return
        self._closed = True
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(self._ttl)
        c = client if client is not None else self._client
        try:
            while c.execute("LMOVE", self.processing, self.name, "RIGHT",
                            "LEFT") is not None:
                pass
            c.delete(self.alive_key)
        except (TinyCacheError, OSError):
            pass
        self._client.close()


class _Local(threading.local):
    """A thread's own connection and, in reliable mode, the items it got
    and has not acknowledged yet (oldest first; see _Held), for this
    process."""

    pid = -1
    client: TinyCache
    pending: Deque[_Held]


class Queue:
    """A FIFO queue of items in the list ``name`` on a tiny-mp-cache
    (or Redis 7) server, shared by any number of processes: the interface
    of :class:`queue.Queue` and :class:`multiprocessing.Queue`.

    ``Queue("127.0.0.1:5002", "jobs")``: ``addr`` as for
    :class:`~tiny_mp_cache.TinyCache`, whose options ``connect_timeout``,
    ``timeout``, ``password``, ``username`` and ``serializer`` it takes
    too. Creating it sends nothing. Items are bytes by default
    (``bytearray`` and ``memoryview`` are accepted by ``put``); ``get``
    returns ``bytes``.

    Values beyond bytes: ``serializer=`` takes what TinyCache's does,
    ``"str"``, ``"json"``, ``"pickle"`` or an object with ``dumps`` and
    ``loads`` (:class:`~tiny_mp_cache.Serializer`): ``put`` and
    ``put_many`` store each item as its ``dumps`` returns it (an item it
    cannot encode raises before anything is sent), ``get`` and
    ``get_many`` return each through its ``loads``, and ``ack`` takes
    what ``get`` returned. *Warning:* as with TinyCache, unpickling runs
    whatever code the pickled bytes ask for: with ``serializer="pickle"``,
    anyone who can write to the server can make every consumer run code
    of their choice; use it only when every writer is trusted. An item a
    get cannot decode (raw bytes another client put, say) raises the
    serializer's error (``UnicodeDecodeError``, ``json.JSONDecodeError``,
    ``pickle.UnpicklingError``...) and is not lost:

    - plain mode: ``get`` appends it to the list ``name:undecodable``
      (``Queue(addr, name + ":undecodable")`` reads it) before raising,
      so the queue goes on (a connection that breaks then loses it, as
      it may lose any item of a plain get);
    - reliable mode: it stays held in this process's processing list, as
      any item got: ``task_done()`` acknowledges it (it is the oldest
      item this thread holds unless others are not acknowledged yet),
      ``close()`` and ``recover()`` hand it back to the queue;
    - ``get_many`` raises only when the first item it takes cannot be
      decoded (then as ``get``, and the items taken with it go back to
      the head of the queue); an undecodable later item goes back to the
      head of the queue (with those taken after it), for the next get to
      raise, and the items before it are returned.

    - ``put(item)`` appends (RPUSH); the queue is unbounded, so it never
      blocks (``block`` and ``timeout`` are accepted and ignored).
    - ``get(block=True, timeout=None)`` removes the item at the head,
      waiting on the server while the queue is empty (BLPOP): a ``put``
      from any process wakes the longest-waiting ``get`` at once, with no
      polling. ``timeout`` in seconds (millisecond precision); when
      nothing came, :class:`queue.Empty` is raised. ``block=False`` or
      ``timeout=0`` does not wait (LPOP).
    - ``put_many``, ``get_many``, ``get_nowait``, ``put_nowait``,
      ``qsize``, ``empty``, ``full``, ``close`` (and ``join_thread``,
      ``cancel_join_thread``, which have nothing to do); a context
      manager. There is no ``join()``: ``task_done`` acknowledges items
      in reliable mode, and counts nothing.

    Hand-out is exactly once: each item put is returned by exactly one
    ``get`` (of any process), in FIFO order. What happens if a consumer
    dies depends on the mode:

    - Plain (the default): ``get`` removes the item from the server, so
      processing is at most once: an item is lost with a consumer that
      dies (or loses its connection during ``get``) before finishing it.
    - ``reliable=True``: ``get`` atomically moves the item into this
      process's processing list (BLMOVE) and it stays there until
      ``ack(item)`` or ``task_done()`` removes it (LREM). Each consumer
      process keeps a heartbeat key alive (a thread renews it, with a ttl
      of ``heartbeat`` seconds), and ``recover()``, from any process,
      moves the items of consumers whose heartbeat expired back to the
      head of the queue, so processing is at least once: an item whose
      consumer died unacknowledged is handed out again (and so is one
      whose consumer stalled for ``heartbeat`` seconds, or whose ``ack``
      was lost with its connection).

    Never retried after sending (a repeat could add or hand out an item
    twice): ``put``, ``put_many``, ``get``, ``get_many``, ``ack``. A
    connection that breaks during them raises
    :class:`~tiny_mp_cache.TinyCacheConnectionError`: a ``put`` may or
    may not have added the item; a plain ``get`` may have taken an item,
    which is lost; a reliable ``get`` may have moved one to this
    consumer's processing list (it is not lost): such a failure of a
    ``get``, ``get_many`` or ``ack`` retires this process's consumer id
    (its heartbeat stops, and ``recover()`` hands back what its list
    holds once the key has expired), and the next ``get`` starts a new
    one. The client's ``timeout`` never cuts a ``get`` short: its
    reply is awaited for the ``get``'s own timeout, plus a second of grace,
    plus the client's.

    Processes and threads: a Queue pickles as its address, name and
    options (never its connection), so it can be passed to
    ``multiprocessing`` children (fork or spawn) and Pool workers; after
    a fork it opens its own connections. Each thread uses its own
    connection (so a ``get`` waiting in one thread never holds up a
    ``put`` in another).
    """

    def __init__(self, addr: Address, name: str, *, reliable: bool = False,
                 heartbeat: float = 10.0, connect_timeout: float = 2.0,
                 timeout: Optional[float] = None,
                 password: Optional[Union[str, bytes]] = None,
                 username: Optional[str] = None,
                 serializer: Union[None, str, Serializer] = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be str, not {type(name).__name__}")
        if isinstance(heartbeat, bool) or \
                not isinstance(heartbeat, (int, float)):
            raise TypeError("heartbeat must be a number of seconds, not "
                            f"{type(heartbeat).__name__}")
        if not 0.003 <= heartbeat < 1e8:
            raise ValueError(
                f"heartbeat must be from 0.003 to 1e8 seconds, not {heartbeat!r}")
        self._addr = addr
        self._name = name
        self._reliable = bool(reliable)
        self._heartbeat = float(heartbeat)
        self._options: Dict[str, Any] = {
            "connect_timeout": connect_timeout, "timeout": timeout,
            "password": password, "username": username}
        # The clients stay raw: the Queue encodes and decodes itself, so
        # that it keeps each held item's bytes as stored (for LREM) and
        # can set aside one that does not decode. None for raw bytes.
        self._serializer_arg = serializer
        self._serializer, self._dump, self._load = _codec(serializer)
        # Checks the address and the options (TinyCache connects lazily).
        self._display = TinyCache(addr, **self._options).address
        self._local = _Local()
        self._clients: "weakref.WeakSet[TinyCache]" = weakref.WeakSet()
        self._consumer: Optional[_Consumer] = None
        self._retired: List[_Consumer] = []     # earlier ids, this process
        self._closed = False

    # ---- queue.Queue / multiprocessing.Queue ----

    def put(self, item: Any, block: bool = True,
            timeout: Optional[float] = None) -> None:
        """Append item to the tail of the queue (RPUSH). Never blocks:
        the queue is unbounded (``block`` and ``timeout`` are there for
        the interface). With a serializer, item is what its ``dumps``
        takes. Never retried after sending."""
        client = self._state().client
        client.push(self._name, self._encode(item))

    def put_nowait(self, item: Any) -> None:
        """The same as ``put(item)``."""
        self.put(item)

    def put_many(self, items: Iterable[Any]) -> None:
        """Append items in order, many per round trip (RPUSH with up to
        1000 items or about 1 MB each; each RPUSH is atomic, the whole
        batch is not: a get may see part of it). Every item is checked
        (encoded, with a serializer) before anything is sent. Never
        retried after sending."""
        client = self._state().client
        batch = [self._encode(item) for item in items]
        start = 0
        while start < len(batch):
            end, size = start, 0
            while end < len(batch) and end - start < _PUT_CHUNK_ITEMS and \
                    size < _PUT_CHUNK_BYTES:
                size += len(memoryview(batch[end]).cast("B"))
                end += 1
            client.push(self._name, *batch[start:end])
            start = end

    def get(self, block: bool = True, timeout: Optional[float] = None) -> Any:
        """Remove and return the item at the head of the queue.

        ``block=True`` (the default) waits while the queue is empty: for
        ever with ``timeout=None``, else up to ``timeout`` seconds, then
        raises :class:`queue.Empty`. ``block=False`` (or ``timeout=0``)
        raises it at once. A negative timeout raises ValueError. Waiting
        costs nothing: the server hands the item over as it is put.

        Reliable mode: the item is also moved, atomically, to this
        process's processing list; ``ack(item)`` or ``task_done()``
        removes it from there once done.

        With a serializer, the item as its ``loads`` returns it; one it
        cannot decode raises its error and is not lost: plain mode, it is
        appended to the list ``name:undecodable`` first; reliable mode, it
        stays held, for ``task_done()`` (see the class's documentation).
        """
        state = self._state()
        client = state.client
        wait = timeout if block else 0
        load = self._load
        if not self._reliable:
            raw = client.take(self._name, wait)
            if raw is None:
                raise _queue.Empty
            if load is None:
                return raw
            try:
                return load(raw)
            except Exception:
                client.push(self._name + _UNDECODABLE, raw)
                raise
        consumer = self._start_consumer()
        into = consumer.processing
        try:
            raw = client.take(self._name, wait, into=into)
        except _NOT_SENT:
            raise
        except BaseException:
            self._retire(consumer)
            raise
        if raw is None:
            raise _queue.Empty
        if load is None:
            state.pending.append((raw, raw, into))
            return raw
        try:
            value = load(raw)
        except Exception:
            state.pending.append((raw, _UNDECODED, into))
            raise
        except BaseException:
            self._retire(consumer)      # held, unknown to us: as a get's
            raise
        state.pending.append((raw, value, into))
        return value

    def get_nowait(self) -> Any:
        """``get(block=False)``: the head item, or :class:`queue.Empty`."""
        return self.get(False)

    def get_many(self, max_items: int,
                 timeout: Optional[float] = None) -> List[Any]:
        """Remove and return up to max_items items from the head, in
        order, waiting while the queue is empty as :meth:`get` does (for
        ever with ``timeout=None``; ``timeout=0`` does not wait).

        Returns as soon as there is at least one item, with all there
        are up to ``max_items``; raises :class:`queue.Empty` when none
        came. Plain mode: one round trip, one atomic BLMPOP. Reliable
        mode: each item is moved to the processing list on its own
        (BLMOVE, then LMOVE), one round trip each, and must be
        acknowledged on its own.

        With a serializer, each item as its ``loads`` returns it. Raises
        the serializer's error only when the first item cannot be decoded
        (which is then set aside or held as by :meth:`get`; the others
        taken go back to the head of the queue). An undecodable later
        item goes back to the head of the queue, with those taken after
        it (in reliable mode out of the processing list, atomically, by
        MULTI/EXEC), for the next get to raise; the items before it are
        returned.
        """
        if type(max_items) is not int:
            raise TypeError(
                f"max_items must be an int, not {type(max_items).__name__}")
        if max_items <= 0:
            raise ValueError(f"max_items must be > 0, not {max_items}")
        state = self._state()
        client = state.client
        values: List[Any]
        error: Optional[Exception]
        if not self._reliable:
            raws = client.take_many(self._name, max_items, timeout)
            if not raws:
                raise _queue.Empty
            if self._load is None:
                return raws
            values, error = self._decode(raws)
            if error is None:
                return values
            if values:
                self._put_back(client, raws[len(values):], None)
                return values
            self._put_back(client, raws[1:], None)
            client.push(self._name + _UNDECODABLE, raws[0])
            raise error
        consumer = self._start_consumer()
        into = consumer.processing
        try:
            first = client.take(self._name, timeout, into=into)
            raws = [] if first is None else [first]
            while raws and len(raws) < max_items:
                raw = client.take(self._name, 0, into=into)
                if raw is None:
                    break
                raws.append(raw)
        except _NOT_SENT:
            raise
        except BaseException:
            self._retire(consumer)
            raise
        if not raws:
            raise _queue.Empty
        values, error = raws, None
        if self._load is not None:
            # Until they are held (in state.pending), the items taken are
            # in the processing list unknown to us: any failure retires.
            try:
                values, error = self._decode(raws)
                if error is not None:
                    self._put_back(client, raws[max(len(values), 1):], into)
            except BaseException:
                self._retire(consumer)
                raise
        if error is not None and not values:
            state.pending.append((raws[0], _UNDECODED, into))
            raise error
        state.pending.extend(zip(raws, values, [into] * len(values)))
        return values

    def qsize(self) -> int:
        """The number of items in the queue now (LLEN); in reliable mode
        not counting those held by consumers."""
        return self._state().client.llen(self._name)

    def empty(self) -> bool:
        """Whether the queue is empty now (``qsize() == 0``)."""
        return self.qsize() == 0

    def full(self) -> bool:
        """Always False: the queue is unbounded."""
        return False

    def close(self) -> None:
        """Close this Queue in this process: in reliable mode, stop the
        heartbeat and hand this process's unacknowledged items back to
        the head of the queue (best effort: if the server cannot be
        reached, ``recover()`` does it once the heartbeat has expired);
        then close the connections. Later calls raise ValueError, as a
        closed :class:`multiprocessing.Queue`'s do. Other processes' Queue
        objects (pickled or forked copies) are not affected."""
        if self._closed:
            return
        self._closed = True
        client = self._local.client if self._local.pid == os.getpid() \
            else None
        for consumer in self._retired + [self._consumer]:
            if consumer is not None:
                consumer.close(client)
        with _lock:
            clients = list(self._clients)
        for c in clients:
            c.close()

    def join_thread(self) -> None:
        """Nothing to wait for: there is no feeder thread (``put`` has
        returned once the item is on the server). For code written for
        :class:`multiprocessing.Queue`."""

    def cancel_join_thread(self) -> None:
        """Nothing to cancel (see :meth:`join_thread`)."""

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- Reliable mode ----

    def ack(self, item: Any) -> bool:
        """Acknowledge an item this process got in reliable mode: remove
        it from this process's processing list (LREM ... 1 item).

        True if it was there; False if not: it was acknowledged already,
        or ``recover()`` handed it back to the queue because this
        consumer's heartbeat had expired (another consumer may be
        processing it). Plain mode: True, nothing is sent (the item left
        the server when ``get`` returned it). Never retried after sending.

        With a serializer, item is what ``get`` returned (the same object,
        or one equal to it): the bytes removed are those the item was
        stored as, kept when this thread got it (the held item that is
        item itself first, else the oldest held item equal to it; an
        item this thread does not hold is encoded with ``dumps`` and
        looked for as those bytes).
        """
        if self._dump is None and \
                not isinstance(item, (bytes, bytearray, memoryview)):
            _bad_item(item)
        state = self._state()
        if not self._reliable:
            return True
        index = self._held_index(state.pending, item)
        if index is not None:
            raw, _, key = state.pending[index]
            del state.pending[index]
            return self._remove(state, key, raw)
        consumer = self._consumer
        if consumer is None or consumer.pid != os.getpid():
            return False
        return self._remove(state, consumer.processing, self._encode(item))

    def task_done(self) -> None:
        """Acknowledge the oldest item this thread got and has not
        acknowledged (reliable mode; see :meth:`ack`), one whose get
        raised because it could not be decoded included. Raises
        ValueError when there is none. Does nothing in plain mode."""
        state = self._state()
        if not self._reliable:
            return
        if not state.pending:
            raise ValueError("task_done() called too many times")
        raw, _, key = state.pending.popleft()
        self._remove(state, key, raw)

    def recover(self) -> int:
        """Move the items of dead consumers back to the head of the queue
        and return how many were moved.

        A consumer counts as dead when its heartbeat key has expired
        (``heartbeat`` seconds after its process died or stopped renewing
        it) or was deleted (by ``close()``). Its processing list is
        emptied from the tail (LMOVE ... RIGHT LEFT), one item at a time,
        each moved atomically, so the items keep their order ahead of the
        others and no item is ever in neither list or in both. Safe to
        call from any process and concurrently; works from a plain Queue
        of the same name too. Finds the processing lists with SCAN (so
        its cost grows with the number of keys on the server).
        """
        state = self._state()
        client = state.client
        own = self._consumer.id if self._consumer is not None and \
            self._consumer.pid == os.getpid() else None
        prefix = self._name + _PROCESSING
        moved = 0
        for key in list(client.scan_iter(_glob_escape(prefix) + "*")):
            cid = key[len(prefix):]
            if not key.startswith(prefix) or cid == own or \
                    not _CONSUMER_ID.fullmatch(cid):
                continue
            if client.ttl(self._name + _ALIVE + cid) is not None:
                continue
            while client.execute("LMOVE", key, self._name, "RIGHT",
                                 "LEFT") is not None:
                moved += 1
        return moved

    # ---- Properties, pickling ----

    @property
    def name(self) -> str:
        """The key of the list holding the queue."""
        return self._name

    @property
    def address(self) -> str:
        """The server address, normalized (as TinyCache.address)."""
        return self._display

    @property
    def reliable(self) -> bool:
        """Whether this Queue is in reliable mode."""
        return self._reliable

    @property
    def serializer(self) -> Optional[Any]:
        """The serializer items go through (as
        :attr:`TinyCache.serializer <tiny_mp_cache.TinyCache.serializer>`),
        or None for raw bytes."""
        return self._serializer

    @property
    def consumer_id(self) -> Optional[str]:
        """This process's consumer id in reliable mode once it has got
        from the queue (its keys are ``name:processing:<id>`` and
        ``name:alive:<id>``); None before that, and in plain mode."""
        consumer = self._consumer
        if consumer is None or consumer.pid != os.getpid():
            return None
        return consumer.id

    def __getstate__(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {"addr": self._addr, "name": self._name,
                                 "reliable": self._reliable,
                                 "heartbeat": self._heartbeat,
                                 **self._options}
        # A built-in serializer pickles as its name, another as itself.
        if self._serializer_arg is not None:
            state["serializer"] = self._serializer_arg
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __repr__(self) -> str:
        mode = " reliable" if self._reliable else ""
        closed = " closed" if self._closed else ""
        return f"<Queue {self._name!r} at {self._display}{mode}{closed}>"

    # ---- Internals ----

    def _state(self) -> _Local:
        """This thread's state in this process: its own client (made on
        first use), and the items it has not acknowledged. ValueError once
        the Queue is closed."""
        if self._closed:
            raise ValueError(f"{self!r} is closed")
        state = self._local
        pid = os.getpid()
        if state.pid != pid:
            if state.pid < 0:
                client = TinyCache(self._addr, **self._options)
                with _lock:
                    self._clients.add(client)
                state.client = client
            # After a fork the client opens its own connection; the items
            # the parent got are the parent's to acknowledge.
            state.pending = deque()
            state.pid = pid
        return state

    def _encode(self, item: Any) -> Value:
        """item as the bytes to store: through the serializer's dumps, or
        checked to be bytes-like (TypeError saying what to do if not)."""
        dump = self._dump
        if dump is None:
            if not isinstance(item, (bytes, bytearray, memoryview)):
                _bad_item(item)
            return item
        return dump(item)

    def _decode(self, raws: List[bytes]
                ) -> Tuple[List[Any], Optional[Exception]]:
        """The items raws stand for, through the serializer's loads, up
        to the first it cannot decode, and the error it raised for that
        one (None if there was none)."""
        load = cast(Callable[[bytes], Any], self._load)
        values: List[Any] = []
        for raw in raws:
            try:
                values.append(load(raw))
            except Exception as e:
                return values, e
        return values, None

    def _put_back(self, client: TinyCache, raws: List[bytes],
                  into: Optional[str]) -> None:
        """Put items taken from the head of the queue back there, in
        their order: plain mode (into None) one LPUSH; reliable mode out
        of the processing list into at the same time, atomically (MULTI,
        LREM into -1 per item, LPUSH, EXEC: another thread of this
        process may have moved items there since)."""
        if not raws:
            return
        back = raws[::-1]
        if into is None:
            client.execute("LPUSH", self._name, *back)
            return
        client.execute("MULTI")
        try:
            for raw in back:
                client.execute("LREM", into, -1, raw)
            client.execute("LPUSH", self._name, *back)
        except BaseException:
            try:
                client.execute("DISCARD")
            except (TinyCacheError, OSError):
                pass
            raise
        client.execute("EXEC")

    def _held_index(self, pending: Deque[_Held], item: Any) -> Optional[int]:
        """The index in pending of the oldest held item that item is:
        the same bytes without a serializer; with one, the same object
        as a get returned, else an equal one."""
        if self._dump is None:
            value = bytes(item)
            for i, (raw, _, _) in enumerate(pending):
                if raw == value:
                    return i
            return None
        for i, (_, held, _) in enumerate(pending):
            if held is item:
                return i
        for i, (_, held, _) in enumerate(pending):
            if held is not _UNDECODED and _equal(held, item):
                return i
        return None

    def _remove(self, state: _Local, key: str, raw: Value) -> bool:
        """Remove one held item, as the bytes raw, from the processing
        list key (LREM key 1 raw); whether it was there. A failure once
        the command may have reached the server retires the consumer
        whose list that is (see _retire)."""
        consumer = self._consumer
        try:
            removed = state.client.execute("LREM", key, 1, raw)
        except _NOT_SENT:
            raise
        except BaseException:
            if consumer is not None and consumer.processing == key:
                self._retire(consumer)
            raise
        return bool(removed)

    def _start_consumer(self) -> _Consumer:
        """This process's consumer, started on first use (the heartbeat
        key is set before anything is taken)."""
        consumer = self._consumer
        pid = os.getpid()
        if consumer is not None and consumer.pid == pid:
            return consumer
        with _lock:
            consumer = self._consumer
            if consumer is None or consumer.pid != pid:
                self._retired = [c for c in self._retired if c.pid == pid]
                consumer = _Consumer(self._addr, self._options, self._name,
                                     self._heartbeat)
                # Closes it when the Queue is collected, or at exit
                # (handing back what was not acknowledged).
                weakref.finalize(self, consumer.close)
                self._consumer = consumer
        return consumer

    def _retire(self, consumer: _Consumer) -> None:
        """Give up this process's consumer id after a command of it
        failed once it may have reached the server: the item a get may
        have moved, or an ack may have left, is in its processing list,
        unknown to us. Its heartbeat stops, so recover() hands back what
        the list holds once the key has expired; acks of items got
        before still go to that list, and the next get starts a new id."""
        with _lock:
            if self._consumer is not consumer:
                return
            self._consumer = None
            self._retired.append(consumer)
        consumer.retire()


def _equal(a: Any, b: Any) -> bool:
    """a == b, as a bool; False when comparing them raises (an array's
    == gives no single truth value, say)."""
    try:
        return bool(a == b)
    except Exception:
        return False


def _bad_item(item: object) -> NoReturn:
    """Raise the TypeError of an item that is not bytes-like, given to a
    Queue without a serializer: what to do instead."""
    _bad_value(item, "item", "Queue")
