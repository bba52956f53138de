# SPDX-License-Identifier: MIT
"""Locks and memoize on a TinyCache, for processes that share one server.

    from tiny_mp_cache.recipes import Lock, memoize

    with Lock(cache, "report", ttl=30):   # one process at a time, any host
        build_report()

    @memoize(cache, ttl=3600)             # 8 processes ask: it runs once
    def price(item: str) -> float: ...

Both use commands that Redis has too, and no Lua: ``SET ... NX PX`` to
take a lease, ``DELEX key IFEQ token`` (Redis 8.4, and tiny-mp-cache) to
give it back only while it is still ours (a WATCH transaction on an older
Redis), and ``WATCH``/``MULTI``/``EXEC`` to extend a lease only while it
is still ours.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import math
import pickle
import random
import secrets
import threading
import time
from decimal import Decimal
from typing import (Any, Callable, Dict, List, Optional, Tuple, TypeVar,
                    Union, cast)

from .client import ReplyError, Serializer, TinyCache, TinyCacheError

__all__ = [
    "Lock",
    "LockError",
    "LockNotAcquiredError",
    "LockNotOwnedError",
    "memoize",
]

F = TypeVar("F", bound=Callable[..., Any])

# Waiting for a lease (a lock, or the process computing a memoized value)
# polls with exponential back-off and jitter between these pauses: a
# waiter notices a release at most MAX_SLEEP late, and once it has waited
# a while asks the server about 1.3 / MAX_SLEEP times a second (each pause
# is drawn between MAX_SLEEP / 2 and MAX_SLEEP).
MIN_SLEEP = 0.001
MAX_SLEEP = 0.05

# Compare-and-set attempts under WATCH before giving up: each retry means
# that the key changed meanwhile, which in practice happens once at most
# (after that its value is no longer our token).
_CAS_TRIES = 8


class LockError(TinyCacheError):
    """A lock or lease could not be taken, given back or extended."""


class LockNotAcquiredError(LockError):
    """``with lock:`` could not take the lock within its ``timeout`` (or at
    once, with ``blocking=False``)."""


class LockNotOwnedError(LockError):
    """``release()`` or ``extend()`` of a lock this :class:`Lock` does not
    hold: never acquired, already released, or expired (its ``ttl`` ran
    out) and maybe taken by another owner since, whose lock was left
    alone. Whatever the lock protected may have been used by someone else
    meanwhile."""


def _ms(seconds: object, what: str) -> int:
    """A duration in seconds (an int or float, finite and > 0) as whole
    milliseconds, rounded up (a float taken as the decimal it prints as,
    as TinyCache does: 1.1 is 1100 ms); TypeError or ValueError naming
    ``what``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} must be an int or float (seconds), not "
                        f"{type(seconds).__name__}")
    if not 0 < seconds < math.inf:
        raise ValueError(f"{what} must be a finite number of seconds > 0, "
                         f"not {seconds!r}")
    if isinstance(seconds, int):
        return seconds * 1000
    return max(1, math.ceil(Decimal(float.__repr__(seconds)) * 1000))


def _check_sleeps(min_sleep: float, max_sleep: float) -> None:
    """ValueError unless 0 < min_sleep <= max_sleep (finite)."""
    if not 0 < min_sleep <= max_sleep < math.inf:
        raise ValueError("need 0 < min_sleep <= max_sleep, not "
                         f"{min_sleep!r} and {max_sleep!r}")


class _Backoff:
    """Pauses between polls: exponential from min_sleep up to max_sleep,
    each drawn at random in its upper half, so waiters that started
    together do not ask the server in step."""

    def __init__(self, min_sleep: float, max_sleep: float) -> None:
        self._next = min_sleep
        self._max = max_sleep

    def sleep(self, deadline: Optional[float] = None) -> bool:
        """Sleep the next pause, cut to the deadline (time.monotonic());
        False, without sleeping, once the deadline has passed."""
        pause = random.uniform(self._next / 2, self._next)
        self._next = min(self._next * 2, self._max)
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            pause = min(pause, left)
        time.sleep(pause)
        return True


class _Owned:
    """Changes to a key made only while its value is a given token.

    Deleting: ``DELEX key IFEQ token``, one atomic command (Redis 8.4 and
    tiny-mp-cache). A server without DELEX (Redis before 8.4) answers
    "unknown command" once; from then on a deletion is a transaction, as
    is every expiry change (Redis 8.4's ``SET key token IFEQ token PX
    ms`` would make one a single command, but tiny-mp-cache and Redis 7
    have no SET IFEQ): WATCH key, GET key, and only if it is the token,
    MULTI, the command, EXEC. EXEC runs nothing if the key was written
    or expired after WATCH, so the command runs only while the token is
    there.

    A transaction needs a connection no other thread or caller sends on
    between WATCH and EXEC, and the TinyCache is shared (a reconnect
    between two of its commands would also lose the WATCH): it runs on a
    private connection to the same server, opened on first use, one
    transaction at a time.
    """

    def __init__(self, cache: TinyCache) -> None:
        self._cache = cache
        self._delex = True
        self._private: Optional[TinyCache] = None
        self._mutex = threading.Lock()

    def delete(self, key: str, token: bytes) -> bool:
        """Delete key if its value is token; True if it was deleted."""
        if self._delex:
            try:
                return bool(self._cache.execute(b"DELEX", key, b"IFEQ", token))
            except ReplyError as e:
                if not e.message.startswith("ERR unknown command"):
                    raise
                self._delex = False
        return self.transaction(key, token, lambda _c: (b"DEL", key))

    def transaction(self, key: str, token: bytes,
                    command: Callable[[TinyCache], Tuple[Any, ...]]) -> bool:
        """Run the command ``command(client)`` returns (it may read with
        client, under the WATCH) if and only if key's value is token, in
        one transaction; True if it ran and answered 1."""
        with self._mutex:
            client = self._private
            if client is None:
                client = self._private = _private_client(self._cache)
            try:
                for _ in range(_CAS_TRIES):
                    client.execute(b"WATCH", key)
                    if client.execute(b"GET", key) != token:
                        client.execute(b"UNWATCH")
                        return False
                    args = command(client)
                    client.execute(b"MULTI")
                    client.execute(*args)
                    reply = client.execute(b"EXEC")
                    if reply is not None:
                        return bool(reply[0] == 1)
                return False
            except BaseException:
                # Its WATCH or MULTI state is unknown: a new connection.
                client.close()
                raise

    def close(self) -> None:
        """Close the private connection, if one was opened."""
        with self._mutex:
            if self._private is not None:
                self._private.close()
                self._private = None


def _private_client(cache: TinyCache) -> TinyCache:
    """A new TinyCache to cache's server, with its options (password,
    timeouts) and a connection of its own: a copy, made as a TinyCache
    pickles, from its address and options (never its connection)."""
    return copy.copy(cache)


class Lock:
    """A lock shared by every process using the same server: a lease on
    the key ``name`` that expires after ``ttl`` seconds unless released
    or extended first, so a holder that dies cannot block the others
    for longer than that.

        lock = Lock(cache, "nightly-report", ttl=30)
        with lock:                      # waits for the lock (see timeout)
            ...
        if lock.acquire(blocking=False):
            try: ...
            finally: lock.release()

    Acquiring stores a new random token under ``name`` with ``SET name
    token NX PX ttl``: exactly one of several processes trying at once
    gets it. Releasing deletes the key only if it still holds our token
    (``DELEX name IFEQ token``, atomic on the server), so a lock that
    expired and was taken by someone else is never removed by its former
    holder: :meth:`release` then raises :class:`LockNotOwnedError`, and so
    does :meth:`extend`, which also changes the expiry only while the
    token is ours (a WATCH transaction; see :meth:`extend`). Keep ``ttl``
    longer than the work, or call :meth:`extend` as it goes.

    Waiting: a blocking :meth:`acquire` retries ``SET NX`` with
    exponential back-off and jitter, from ``min_sleep`` to ``max_sleep``
    seconds between tries (1 ms to 50 ms by default): no busy loop, no
    blocked connection (the TinyCache stays usable by other threads
    meanwhile), and a holder that died is noticed as soon as its lease
    expires. A release is noticed at most ``max_sleep`` late; waiters are
    not served in order.

    ``blocking`` and ``timeout`` (seconds, None: as long as it takes) are
    the defaults of :meth:`acquire` and what ``with`` uses; ``with``
    raises :class:`LockNotAcquiredError` when it could not take the lock.

    A Lock object is one owner: it is not reentrant (acquiring it again
    while it holds the lock raises :class:`LockError`), and threads (or
    processes) that must exclude each other each use their own Lock with
    the same name.

    Servers: tiny-mp-cache and Redis 8.4 have DELEX. Against an older
    Redis (7.0 has no DELEX) a release falls back to the same WATCH
    transaction as :meth:`extend`, which is just as safe and takes five
    round trips instead of one. Keys are a plain string, so any client
    can see a lock: ``GET name`` is its holder's token.
    """

    def __init__(self, cache: TinyCache, name: str, ttl: float = 10.0, *,
                 blocking: bool = True, timeout: Optional[float] = None,
                 min_sleep: float = MIN_SLEEP,
                 max_sleep: float = MAX_SLEEP) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be str, not {type(name).__name__}")
        self._ttl_ms = _ms(ttl, "ttl")
        if timeout is not None and not timeout >= 0:
            raise ValueError(f"timeout must be None or a number >= 0, not {timeout!r}")
        _check_sleeps(min_sleep, max_sleep)
        self._cache = cache
        self._name = name
        self._ttl = ttl
        self._blocking = blocking
        self._timeout = timeout
        self._min_sleep = min_sleep
        self._max_sleep = max_sleep
        self._token: Optional[bytes] = None
        self._owned = _Owned(cache)

    @property
    def name(self) -> str:
        """The key the lock lives under."""
        return self._name

    @property
    def ttl(self) -> float:
        """Seconds a lease lasts (from acquire(), or from extend())."""
        return self._ttl

    @property
    def token(self) -> Optional[bytes]:
        """This owner's token while it believes it holds the lock (the
        lease may have expired since: :meth:`owned` asks the server)."""
        return self._token

    def acquire(self, blocking: Optional[bool] = None,
                timeout: Optional[float] = None) -> bool:
        """Take the lock; True once taken, False if it was not.

        ``blocking`` (default: the Lock's): False tries once.
        ``timeout`` (default: the Lock's): waits at most that many
        seconds (0: one try), None as long as it takes. Raises
        :class:`LockError` if this Lock already holds it.
        """
        if self._token is not None:
            raise LockError(f"lock {self._name!r} is already held by this "
                            "Lock (it is not reentrant): release() it first")
        if blocking is None:
            blocking = self._blocking
        if timeout is None:
            timeout = self._timeout
        elif not timeout >= 0:
            raise ValueError(f"timeout must be None or a number >= 0, not {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        token = secrets.token_hex(16).encode()
        backoff = _Backoff(self._min_sleep, self._max_sleep)
        while True:
            if self._try(token):
                self._token = token
                return True
            if not blocking or not backoff.sleep(deadline):
                return False

    def _try(self, token: bytes) -> bool:
        """One ``SET name token NX PX ttl``; True if it stored token."""
        try:
            return self._cache.execute(b"SET", self._name, token, b"NX", b"PX",
                                       self._ttl_ms) is not None
        except ReplyError:
            raise
        except TinyCacheError:
            # Whether the SET ran is unknown: take back what may be ours.
            try:
                self._owned.delete(self._name, token)
            except TinyCacheError:
                pass            # the lease expires by itself
            raise

    def release(self) -> None:
        """Give the lock back: delete it if it still holds our token.

        Raises :class:`LockNotOwnedError` if it does not (the lease
        expired, and another owner may hold the lock now: it is left
        alone), or if this Lock was not acquired. Either way this Lock no
        longer holds it afterwards.
        """
        token, self._token = self._token, None
        if token is None:
            raise LockNotOwnedError(f"release() of lock {self._name!r}, "
                                    "which this Lock has not acquired")
        try:
            if not self._owned.delete(self._name, token):
                raise LockNotOwnedError(
                    f"lock {self._name!r} expired before release() (its "
                    f"ttl is {self._ttl:g} s) and may have been taken by "
                    "another owner since; that owner's lock is left alone")
        finally:
            self._owned.close()

    def extend(self, additional_time: Optional[float] = None, *,
               replace_ttl: bool = False) -> None:
        """Make the lease last longer, only while this Lock holds it.

        ``extend()``: the lease now ends ``ttl`` seconds from now, as if
        just acquired. ``extend(t)``: t seconds are added to the time
        it has left. ``extend(t, replace_ttl=True)``: it ends t seconds
        from now.

        Raises :class:`LockNotOwnedError` if the lock expired (or was
        never acquired): an expired lease is never revived, since another
        owner may have held it meanwhile; this Lock no longer holds it
        then (acquire() it again). Atomic without Lua: WATCH,
        GET (still our token?), then MULTI, PEXPIRE (or PEXPIREAT), EXEC,
        which runs nothing if the key changed or expired after WATCH, on
        a connection of this Lock's own (see :class:`Lock`).
        """
        token = self._token
        if token is None:
            raise LockNotOwnedError(f"extend() of lock {self._name!r}, "
                                    "which this Lock has not acquired")
        name = self._name
        if additional_time is None:
            ms = self._ttl_ms
            replace_ttl = True
        else:
            ms = _ms(additional_time, "additional_time")

        def pexpire(client: TinyCache) -> Tuple[Any, ...]:
            if replace_ttl:
                return (b"PEXPIRE", name, ms)
            at = client.execute(b"PEXPIRETIME", name)
            if at < 0:          # no expiry (someone PERSISTed it)
                return (b"PEXPIRE", name, ms)
            return (b"PEXPIREAT", name, at + ms)

        if not self._owned.transaction(name, token, pexpire):
            self._token = None
            self._owned.close()
            raise LockNotOwnedError(
                f"lock {self._name!r} expired before extend() and may have "
                "been taken by another owner since; acquire() it again")

    def locked(self) -> bool:
        """Whether anyone holds the lock now (EXISTS name)."""
        return bool(self._cache.execute(b"EXISTS", self._name))

    def owned(self) -> bool:
        """Whether this Lock holds the lock now: the key still has our
        token (its lease has not expired)."""
        return (self._token is not None and
                self._cache.execute(b"GET", self._name) == self._token)

    def __enter__(self) -> "Lock":
        if not self.acquire():
            within = (f" within {self._timeout:g} s" if self._blocking
                      else " at once (blocking=False)")
            raise LockNotAcquiredError(
                f"could not acquire lock {self._name!r}{within}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "acquired" if self._token is not None else "not acquired"
        return f"<Lock {self._name!r} ttl={self._ttl:g} {state}>"


# ---- memoize ----

class _ExactJSON:
    """memoize's default serializer: JSON that gives back exactly what was
    stored, for None, bool, int, float, str, bytes, list, tuple, dict
    (any of these as keys), set and frozenset; anything else (a subclass
    too, such as a namedtuple) is a TypeError. Loading it only ever makes
    those types, so data written by someone else cannot run code.

    Lists, numbers, strings and None are plain JSON; the other types are
    one-key JSON objects (JSON's own objects are never used otherwise):
    ``{"t": [...]}`` a tuple, ``{"d": [k, v, ...]}`` a dict, ``{"b":
    "base64"}`` bytes, ``{"s": [...]}`` a set, ``{"f": [...]}`` a
    frozenset.
    """

    def dumps(self, value: Any) -> bytes:
        return json.dumps(self._tag(value), separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data, object_hook=self._untag)

    def _tag(self, v: Any) -> Any:
        t = type(v)
        if v is None or t is str or t is int or t is float or t is bool:
            return v
        if t is list:
            return [self._tag(x) for x in v]
        if t is tuple:
            return {"t": [self._tag(x) for x in v]}
        if t is dict:
            flat: List[Any] = []
            for k, x in v.items():
                flat.append(self._tag(k))
                flat.append(self._tag(x))
            return {"d": flat}
        if t is bytes:
            return {"b": base64.b64encode(v).decode("ascii")}
        if t is set or t is frozenset:
            return {"s" if t is set else "f": [self._tag(x) for x in v]}
        raise TypeError(
            f"memoize's default serializer stores None, bool, int, float, "
            f"str, bytes, list, tuple, dict, set and frozenset values, not "
            f"{t.__module__}.{t.__qualname__}: pass memoize(serializer=...) "
            "('pickle' if only trusted processes can write to the server)")

    @staticmethod
    def _untag(obj: Dict[str, Any]) -> Any:
        if len(obj) == 1:
            tag, v = next(iter(obj.items()))
            if tag == "t":
                return tuple(v)
            if tag == "d":
                it = iter(v)
                return dict(zip(it, it))
            if tag == "b":
                return base64.b64decode(v)
            if tag == "s":
                return set(v)
            if tag == "f":
                return frozenset(v)
        raise ValueError(f"not memoize's data: {obj!r}")


class _Pickle:
    """pickle: any picklable value; loading runs code the data names."""

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class _JSON:
    """Plain JSON (UTF-8): tuples come back as lists, dict keys as str."""

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


_SERIALIZERS: Dict[str, Serializer] = {
    "exact": _ExactJSON(), "pickle": _Pickle(), "json": _JSON()}


def _serializer(s: Union[None, str, Serializer]) -> Serializer:
    """memoize's serializer= as an object with dumps and loads."""
    if s is None:
        return _SERIALIZERS["exact"]
    if isinstance(s, str):
        try:
            return _SERIALIZERS[s]
        except KeyError:
            raise ValueError(f"unknown serializer {s!r}: 'exact', 'pickle', "
                             "'json' or an object with dumps() and loads()"
                             ) from None
    if not callable(getattr(s, "dumps", None)) or \
            not callable(getattr(s, "loads", None)):
        raise TypeError("serializer must be 'exact', 'pickle', 'json' or an "
                        "object with dumps() and loads()")
    return s


_PLAIN = (str, int, float, bool, bytes, type(None))
_OBJECT_REPR: Any = object.__repr__


def _stable_repr(v: Any) -> str:
    """A text for an argument that is the same in every process for
    equal values of the same type: builtin scalars by their repr, lists,
    tuples and dicts item by item, dicts and sets in sorted order (their
    iteration order can differ between processes), other objects by
    their type's name and their own repr. An object whose repr is
    object's default, or names a memory address (" at 0x"), differs in
    each process: TypeError."""
    t = type(v)
    if t in _PLAIN:
        return repr(v)
    if t is tuple:
        return "(" + ",".join(map(_stable_repr, v)) + ",)"
    if t is list:
        return "[" + ",".join(map(_stable_repr, v)) + "]"
    if t is dict:
        return "{" + ",".join(sorted(_stable_repr(k) + ":" + _stable_repr(x)
                                     for k, x in v.items())) + "}"
    if t is set or t is frozenset:
        return t.__name__ + "{" + ",".join(sorted(map(_stable_repr, v))) + "}"
    text = repr(v)
    if t.__repr__ is _OBJECT_REPR or " at 0x" in text:
        raise TypeError(
            f"memoize cannot make a key of a {t.__module__}.{t.__qualname__} "
            "argument: its repr differs in each process (pass "
            "memoize(key=...), a function of the arguments that returns "
            "the key)")
    return f"{t.__module__}.{t.__qualname__}:{text}"


def _default_key(func: Callable[..., Any]) -> Callable[..., str]:
    """The key function memoize uses without key=: ``memoize:``, the
    function's module and qualified name, and a hash of its arguments'
    stable text (see _stable_repr)."""
    prefix = f"memoize:{func.__module__}.{func.__qualname__}:"

    def key(*args: Any, **kwargs: Any) -> str:
        text = _stable_repr(args)
        if kwargs:
            text += _stable_repr(kwargs)
        return prefix + hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                        digest_size=16).hexdigest()
    return key


def memoize(cache: TinyCache, ttl: Optional[float] = None,
            key: Optional[Callable[..., str]] = None, *,
            lease: float = 30.0,
            serializer: Union[None, str, Serializer] = None,
            min_sleep: float = MIN_SLEEP,
            max_sleep: float = MAX_SLEEP) -> Callable[[F], F]:
    """Decorate a function to keep its results in the cache, shared by
    every process using the server, with stampede protection: when many
    processes ask for the same missing result at once, one computes it
    while the others wait for it.

        @memoize(cache, ttl=600)
        def report(day: str) -> dict: ...

    ``ttl``: seconds a result is kept (None: until deleted or evicted).

    ``key``: a function called with the same arguments that returns the
    result's key (a str, used as is). Without it the key is
    ``memoize:<module>.<qualname>:<hash>``, the hash of a text of the
    arguments that is the same in every process: builtin values (str,
    int, float, bool, bytes, None, and tuples, lists, dicts, sets of
    them) and objects with a repr of their own (dataclasses, enums,
    datetimes, Decimals); an object with the default repr (which holds
    its address, e.g. ``self`` of a method) is a TypeError: pass
    ``key=``. ``f(1)`` and ``f(1.0)`` are different keys, as are
    ``f(1)`` and ``f(x=1)``.

    On a miss, the caller takes a lease (``SET <key>:lease token NX PX``,
    ``lease`` seconds), checks the cache again, runs the function, stores
    its result and gives the lease back (``DELEX ... IFEQ token``).
    Callers that find the lease taken poll for the result with
    exponential back-off (``min_sleep`` to ``max_sleep`` seconds, as
    :class:`Lock`), with no busy loop and no blocked connection, and take
    the lease over if it is given back without a result (the function
    raised: it is not cached, and the next caller runs it) or expires
    (the computing process died, or took longer than ``lease``: keep
    ``lease`` above the function's run time, or it may run twice).

    ``serializer``: how results are stored. ``"exact"`` (the default): a
    JSON that returns exactly the type stored, for None, bool, int,
    float, str, bytes and lists, tuples, dicts, sets and frozensets of
    them (anything else raises TypeError); loading it cannot run code,
    whoever wrote the data. ``"pickle"``: any picklable value, but
    loading a pickle runs code the data chooses, so anyone who can write
    to the server (any local process, if it has no password) can run
    code in yours: use it only when only trusted processes can reach the
    server. ``"json"``: plain JSON (tuples come back as lists). Or an
    object with ``dumps(value) -> bytes`` and ``loads(bytes)`` (a
    :class:`~tiny_mp_cache.Serializer`), such as ``cache.serializer``.
    The cache's own serializer is not the default: a memoized function
    must return the same value on a hit as on a miss, which ``"json"``
    does not for a tuple and ``"str"`` for anything but a str, and
    ``"pickle"`` should be chosen knowingly.

    The decorated function has ``cache_key(*args, **kwargs)`` (the key
    of a call's result) and ``forget(*args, **kwargs)`` (delete it; True
    if it was there), and ``__wrapped__``, the function itself.
    """
    ttl_ms = None if ttl is None else _ms(ttl, "ttl")
    lease_ms = _ms(lease, "lease")
    _check_sleeps(min_sleep, max_sleep)
    codec = _serializer(serializer)
    if key is not None and not callable(key):
        raise TypeError("key must be a function of the arguments that "
                        "returns the key (a str)")

    def decorate(func: F) -> F:
        make_key = key if key is not None else _default_key(func)
        owned = _Owned(cache)
        expiry: Tuple[Any, ...] = () if ttl_ms is None else (b"PX", ttl_ms)

        def cache_key(*args: Any, **kwargs: Any) -> str:
            k = make_key(*args, **kwargs)
            if not isinstance(k, str):
                raise TypeError(f"key= returned {type(k).__name__}, not str")
            return k

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            k = cache_key(*args, **kwargs)
            data = cache.execute(b"GET", k)
            if data is not None:
                return codec.loads(data)
            lease_key = k + ":lease"
            token = secrets.token_hex(16).encode()
            backoff = _Backoff(min_sleep, max_sleep)
            while True:
                if cache.execute(b"SET", lease_key, token, b"NX", b"PX",
                                 lease_ms) is not None:
                    break
                backoff.sleep()
                data = cache.execute(b"GET", k)
                if data is not None:
                    return codec.loads(data)
            try:
                # Stored between our GET and our lease?
                data = cache.execute(b"GET", k)
                if data is None:
                    result = func(*args, **kwargs)
                    cache.execute(b"SET", k, codec.dumps(result), *expiry)
                else:
                    result = codec.loads(data)
            except BaseException:
                give_back(lease_key, token)
                raise
            give_back(lease_key, token)
            return result

        def give_back(lease_key: str, token: bytes) -> None:
            # The lease goes back for the next caller; a failure to give
            # it back must not hide the result or the function's error
            # (the lease expires by itself, and waiters see the result).
            try:
                owned.delete(lease_key, token)
            except TinyCacheError:
                pass

        def forget(*args: Any, **kwargs: Any) -> bool:
            return bool(cache.execute(b"DEL", cache_key(*args, **kwargs)))

        wrapper.cache_key = cache_key      # type: ignore[attr-defined]
        wrapper.forget = forget            # type: ignore[attr-defined]
        return cast(F, wrapper)
    return decorate
