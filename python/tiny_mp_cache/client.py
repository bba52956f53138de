# SPDX-License-Identifier: MIT
"""TinyCache: the client, one persistent connection over the bundled RESP codec.

It speaks plain RESP2, so it works against tiny-mp-cache and against a real
Redis or Valkey server alike.
"""

from __future__ import annotations

import functools
import json
import math
import pickle
import re
import select
import socket
import struct
import time
from decimal import Decimal
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator,
                    List, Mapping, NoReturn, Optional, Protocol, Tuple,
                    TypeVar, Union, cast, runtime_checkable)
from urllib.parse import parse_qsl, unquote

from ._commands import (_add_command, _bad_key, _bad_value, _check_count,
                        _check_pattern, _count_command, _index_arg, _int64,
                        _int_arg, _key_arg, _key_list, _loaded, _loaded_many,
                        _mset_command, _push_command, _take_nowait_command,
                        _ttl_ms, _ttl_seconds)
from ._native import CMD_DECODE as _DECODE
from ._native import CMD_IDLE_CHECK as _IDLE_CHECK
from ._native import CMD_LOCKED as _LOCKED
from ._native import CMD_MANY as _MANY
from ._native import Connection as _Connection
from ._native import ConnectionForked as _Forked
from ._native import ConnectionStale as _Stale
from ._native import ProtocolError as _NativeProtocolError

if TYPE_CHECKING:
    from .recipes import Lock

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "TinyCache",
    "Serializer",
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

_RETRY_DELAY_MIN = 0.005        # first pause while a server is starting
_RETRY_DELAY_MAX = 0.1          # longest pause between connect attempts

# Keys scan_iter() asks the server to look at per SCAN (its COUNT): a
# thousand keys are some tens of microseconds of the server's time, so
# other clients barely wait, and a big keyspace takes few round trips.
SCAN_COUNT = 1000

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


def _not_listening(e: OSError, display: str,
                   waited: float) -> TinyCacheConnectionError:
    """The error of a server that still refused connections (or whose
    Unix socket did not exist yet) after connect_timeout (waited); e:
    the last attempt's error."""
    return TinyCacheConnectionError(
        e.errno, f"cannot connect to {display}: "
        f"{e.strerror or e} (waited {waited:g} s)")


def _auth_refused(e: ReplyError, username: str, display: str) -> ReplyError:
    """What an error reply e to AUTH raises: an AuthenticationError that
    names the user and the server when it means "not let in", else e."""
    text = str(e)
    if text.startswith(_AUTH_ERRORS):
        return AuthenticationError(
            f"{text} (AUTH as user '{username}' on {display})")
    return e


def _noauth(text: str, display: str,
            client: Optional[str]) -> AuthenticationError:
    """The AuthenticationError of a NOAUTH error reply (text); client:
    the class of a client given no password, which the message then
    says to pass, else None."""
    if client is not None:
        text += (f" ({display} requires a password: pass "
                 f"{client}(..., password=...))")
    return AuthenticationError(text)


# Flags of Connection.command besides its own (which it ignores): the
# command must never be sent twice (pop, incr, add ...): no retry after a
# broken connection. Such commands also ask for the idle-close check
# (_NO_RETRY), so a connection the server closed while idle is replaced
# before they are sent rather than reported as an error.
_ONCE = 0x100
_NO_RETRY = _ONCE | _IDLE_CHECK


def parse_address(addr: Address) -> Tuple[int, Any, str]:
    """Split an address into (socket family, sockaddr, display form).

    Accepted: ``"host:port"``, ``"[::1]:port"``, a path starting with
    ``/``, a ``(host, port)`` tuple, and the URLs redis-py takes:
    ``"redis://[[username]:password@]host[:port][/0]"`` (the port
    defaults to Redis's 6379, the host to localhost),
    ``"tcp://host:port[/0]"``, ``"unix://[[username]:password@]/path?db=0"``
    (credentials and the database are checked, not returned here: see
    :meth:`TinyCache.from_url`). Raises :class:`ValueError` for anything
    else (e.g. ``rediss://``, which is TLS, or a database other than 0)
    and :class:`TypeError` for a non-str, non-tuple address.
    """
    family, sockaddr, display, _ = _parse_address(addr)
    return family, sockaddr, display


# A URL's scheme, as RFC 3986 spells one.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")

# The port of a redis:// URL that gives none (the Redis URL scheme's).
_REDIS_URL_PORT = 6379

# What a URL's query may set (as redis-py's URLs do).
_URL_OPTIONS = ("db", "password", "username")


def _parse_address(addr: Address) -> Tuple[int, Any, str, Dict[str, str]]:
    """parse_address(), and the username and password a URL gives (keys
    "username", "password"; absent when it gives none)."""
    no_auth: Dict[str, str] = {}
    if isinstance(addr, tuple):
        if len(addr) != 2:
            raise ValueError(f"address tuple must be (host, port), not {addr!r}")
        return _tcp(str(addr[0]), addr[1], addr) + (no_auth,)
    if not isinstance(addr, str):
        raise TypeError(
            f"address must be a str like '127.0.0.1:5002', not {type(addr).__name__}")
    m = _SCHEME.match(addr)
    if m is None:
        if addr.startswith("/"):
            return socket.AF_UNIX, addr, f"unix://{addr}", no_auth
        return _host_port(addr, addr, None) + (no_auth,)
    scheme = m.group(1).lower()
    if scheme not in ("unix", "redis", "tcp"):
        shown = _redacted(addr)
        if scheme in ("rediss", "valkeys"):
            raise ValueError(
                f"{scheme}:// (Redis over TLS) in address {shown!r} is not "
                "supported: TinyCache connects over plain TCP (redis://, "
                "tcp://) or a Unix socket (unix://)")
        raise ValueError(
            f"unsupported scheme {scheme}:// in address {shown!r}: use "
            "redis://host:port, tcp://host:port or unix:///path")
    return _parse_url(addr, scheme, addr[m.end():])


def _parse_url(addr: str, scheme: str,
               rest: str) -> Tuple[int, Any, str, Dict[str, str]]:
    """A redis://, tcp:// or unix:// URL (rest: what follows "scheme://"),
    checked: database 0 only, no options but db, username and password."""
    shown = _redacted(addr)
    rest, _, fragment = rest.partition("#")
    if fragment:
        raise ValueError(f"unexpected '#{fragment}' in address {shown!r}")
    rest, has_query, query = rest.partition("?")
    options: Dict[str, str] = {}
    if has_query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name not in _URL_OPTIONS:
                raise ValueError(
                    f"unsupported option {name!r} in address {shown!r}: a "
                    "URL may give only db, username and password; pass "
                    "the others to TinyCache as keywords (timeout=, "
                    "connect_timeout=)")
            if name in options:
                raise ValueError(f"{name} given twice in address {shown!r}")
            options[name] = value
    # Credentials: "user:password@" or ":password@" before the host (for
    # unix://, before the path: "unix://:password@/path").
    slash = rest.find("/")
    netloc, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    userinfo, at, where = netloc.rpartition("@")
    auth: Dict[str, str] = {}
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            auth["username"] = unquote(user)
        if colon:
            auth["password"] = unquote(password)
    for name in ("username", "password"):
        if name in options:
            if name in auth:
                raise ValueError(f"{name} given twice in address {shown!r}")
            auth[name] = options.pop(name)
    if scheme == "unix":
        _check_db(options.get("db"), shown)
        where += path
        if not where:
            raise ValueError(f"no socket path in address {shown!r}")
        return socket.AF_UNIX, where, f"unix://{where}", auth
    _check_db(options.get("db"), shown)
    if path not in ("", "/"):
        _check_db(path[1:], shown)
    if scheme == "tcp":
        return _host_port(where, shown, None) + (auth,)
    return _host_port(where or "localhost", shown, _REDIS_URL_PORT) + (auth,)


def _check_db(db: Optional[str], shown: str) -> None:
    """Raise ValueError unless a URL's database (None: not given) is 0,
    the only one tiny-mp-cache has."""
    if db is None or db == "0":
        return
    try:
        number = int(db)
    except ValueError:
        raise ValueError(f"bad database {db!r} in address {shown!r}: "
                         "expected 0") from None
    if number != 0:
        raise ValueError(
            f"database {db} in address {shown!r} is not supported: "
            "tiny-mp-cache has only database 0 (give 0, or leave it out)")


def _redacted(addr: str) -> str:
    """A URL as an error message may show it: its password as ***."""
    return re.sub(r"(://[^/@]*?:)[^/@]*@", r"\1***@",
                  re.sub(r"([?&]password=)[^&#]*", r"\1***", addr))


def _host_port(hostport: str, addr: object,
               default_port: Optional[int]) -> Tuple[int, Any, str]:
    """"host:port" or "[ipv6]:port" (just "host" when default_port is
    given) as parse_address() returns it."""
    if hostport.startswith("["):
        host, sep, portstr = hostport[1:].partition("]")
        if sep and not portstr and default_port is not None:
            return _tcp(host, default_port, addr)
        if not sep or not portstr.startswith(":"):
            raise ValueError(f"bad address {addr!r}: expected '[ipv6]:port'")
        portstr = portstr[1:]
    else:
        host, sep, portstr = hostport.rpartition(":")
        if not sep and default_port is not None and hostport:
            return _tcp(hostport, default_port, addr)
        if not sep or not host:
            raise ValueError(
                f"bad address {addr!r}: expected 'host:port', 'tcp://host:port', "
                "'redis://host:port' or 'unix:///path'")
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


# ---- Serializers: values beyond bytes ----

@runtime_checkable
class Serializer(Protocol):
    """What ``TinyCache(serializer=...)`` takes besides a built-in's name:
    any object with these two methods (a class or an instance).

    ``dumps(obj)`` turns a value into the bytes stored on the server
    (``bytes``, ``bytearray`` or ``memoryview``; anything else is a
    :class:`TypeError`), ``loads(data)`` turns the bytes read back into
    a value. ``loads(dumps(obj))`` should equal ``obj``. Either may raise
    for a value it cannot handle; the exception reaches the caller as it
    is. A TinyCache pickles its serializer with itself (to pass it to
    other processes): give an object that pickles (a module-level class
    or instance, not a lambda).
    """

    def dumps(self, obj: Any) -> bytes:
        """The bytes to store for obj."""
        ...

    def loads(self, data: bytes) -> Any:
        """The value the stored bytes data stand for."""
        ...


class _Builtin:
    """A built-in serializer: named, and pickled as its name."""

    name = ""
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_builtin_serializer, (self.name,))

    def __repr__(self) -> str:
        return f"<tiny_mp_cache serializer {self.name!r}>"


def _str_dumps(obj: object) -> bytes:
    """serializer="str": a str as UTF-8."""
    if not isinstance(obj, str):
        raise TypeError(
            f"serializer='str' stores str values, not {type(obj).__name__}: "
            "pass serializer='json' or 'pickle' to TinyCache for other types")
    return obj.encode()


def _json_dumps(obj: object) -> bytes:
    """serializer="json": compact JSON, as UTF-8."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


_JSON_DECODER = json.JSONDecoder()


def _json_loads(data: bytes) -> Any:
    """serializer="json": a value from UTF-8 JSON (half the time of
    json.loads(data), which first guesses the bytes' encoding)."""
    return _JSON_DECODER.decode(data.decode())


class _PickleSerializer(_Builtin):
    """pickle, protocol 5 (every Python from 3.8 reads it)."""

    name = "pickle"
    dumps = functools.partial(pickle.dumps, protocol=5)
    loads = staticmethod(pickle.loads)


class _JsonSerializer(_Builtin):
    """JSON as UTF-8: what json.dumps takes (tuples come back as lists,
    dict keys as str)."""

    name = "json"
    dumps = staticmethod(_json_dumps)
    loads = staticmethod(_json_loads)


class _StrSerializer(_Builtin):
    """str values as UTF-8; values read back are decoded strictly."""

    name = "str"
    dumps = staticmethod(_str_dumps)
    loads = staticmethod(bytes.decode)


_BUILTINS: Dict[str, _Builtin] = {
    s.name: s for s in (_PickleSerializer(), _JsonSerializer(), _StrSerializer())}


def _builtin_serializer(name: str) -> _Builtin:
    """The built-in serializer called name (how one unpickles)."""
    return _BUILTINS[name]


_Codec = Tuple[Optional[Any], Optional[Callable[[Any], Value]],
               Optional[Callable[[bytes], Any]]]


def _codec(serializer: object) -> _Codec:
    """What ``serializer=`` stands for: (the serializer object, its dumps
    (a custom one's checked to return bytes), its loads); three Nones for
    None (raw bytes). ValueError for an unknown name, TypeError for an
    object without callable dumps and loads."""
    if serializer is None:
        return None, None, None
    if isinstance(serializer, str):
        try:
            builtin = _BUILTINS[serializer]
        except KeyError:
            raise ValueError(
                f"unknown serializer {serializer!r}: use 'pickle', 'json', "
                "'str', None (raw bytes) or an object with dumps() and "
                "loads()") from None
        return builtin, builtin.dumps, builtin.loads
    if isinstance(serializer, _Builtin):
        return serializer, serializer.dumps, serializer.loads
    dumps = getattr(serializer, "dumps", None)
    loads = getattr(serializer, "loads", None)
    if not (callable(dumps) and callable(loads)):
        raise TypeError(
            "serializer must be 'pickle', 'json', 'str', None or an object "
            "with dumps(obj) -> bytes and loads(bytes) -> obj methods, not "
            f"{type(serializer).__name__}")

    def dump(obj: Any) -> Value:
        data = cast(Callable[[Any], Any], dumps)(obj)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                "the serializer's dumps() must return bytes, bytearray or "
                f"memoryview, not {type(data).__name__}")
        return data
    return serializer, dump, loads


class TinyCache:
    """A client of a tiny-mp-cache (or Redis) server.

    ``TinyCache("127.0.0.1:5002")``; also ``"tcp://host:port"``,
    ``"unix:///path"`` and redis-py's URLs, ``"redis://host:port/0"`` and
    ``"unix:///path?db=0"`` (see :meth:`from_url`). Keys are ``str``
    (sent as UTF-8), values ``bytes`` (``bytearray`` and ``memoryview``
    are accepted too), unless a ``serializer`` is given.

    Values beyond bytes: ``serializer="json"``, ``"str"`` (UTF-8 text),
    ``"pickle"`` or any object with ``dumps(obj) -> bytes`` and
    ``loads(bytes) -> obj`` (see :class:`Serializer`) makes every method
    that stores or returns values (``set``, ``get``, ``pop``, ``add``,
    the ``*_many`` batches, ``push``, ``take*``, ``peek``, ``lrange``,
    ``cache[key]``) pass them through it; keys, ``incr``/``decr`` and
    ``execute`` stay raw. None (the default) stores bytes as they are.
    *Warning:* unpickling runs whatever code the pickled bytes ask for.
    With ``serializer="pickle"``, anyone who can write to the server (any
    process on the machine that reaches its port, unless it has a
    password) can make every reader run code of their choice: use pickle
    only when every writer is trusted, and prefer ``"json"`` otherwise.

    Dict habits: ``cache[key]`` (KeyError when absent), ``cache[key] =
    value``, ``del cache[key]`` (KeyError when absent), ``key in cache``,
    ``len(cache)`` (DBSIZE) and ``iter(cache)`` (SCAN, see
    :meth:`scan_iter`) work as on a dict, on all the server's keys (not
    only this client's). ``bool(cache)`` is always True: it asks the
    server nothing. A TinyCache is not a full
    :class:`~collections.abc.MutableMapping`: ``keys()`` is the original
    ``KEYS pattern`` method, and there is no ``items()`` or ``update()``
    (``set_many`` does that in one round trip).

    Pickling: a TinyCache pickles as its address and options (the
    serializer too: a built-in by its name, another object as itself,
    and the password), never its connection: pass it to
    ``multiprocessing`` children (fork or spawn) and ``Pool`` tasks, and
    each copy opens its own connection.

    Connection: one persistent connection, opened on the first command
    (so creating a TinyCache never fails because the server is not up
    yet). Opening it retries for up to ``connect_timeout`` seconds while
    the server refuses connections or its Unix socket does not exist yet,
    then raises :class:`TinyCacheConnectionError` naming the address.
    ``timeout`` bounds each command's wait for its reply (``None``: wait
    as long as it takes); on expiry :class:`TinyCacheTimeoutError` is
    raised and the connection is dropped, so a late reply is never read
    as the answer to a later command.

    Broken connections: ``get``, ``set``, ``delete``, ``keys``, ``len``,
    ``exists``, ``clear``, ``get_many``, ``set_many``, ``expire``,
    ``ttl``, ``touch``, ``llen``, ``peek``, ``lrange``, ``cache[key]``,
    ``cache[key] = value``, ``key in cache``, ``len(cache)`` and each
    SCAN of ``scan_iter`` (and ``iter(cache)``) are safe to repeat, so
    if the connection turns out to be broken they reconnect and retry
    once. ``pop``, ``pop_many``, ``add``, ``persist``, ``incr``,
    ``decr``, ``push``, ``take``, ``take_nowait``, ``take_many``,
    ``del cache[key]`` and ``execute`` never retry after sending (a
    repeated GETDEL or LPOP could lose a job or hand it out twice, a
    repeated INCRBY or RPUSH would count or add twice, a repeated SET NX,
    PERSIST or DEL would give the wrong answer): they raise
    :class:`TinyCacheConnectionError` and the next call reconnects. A
    connection the server closed while idle (e.g. it restarted) is
    noticed before those send anything, so that case just reconnects;
    "idle" means no reply for a clock tick or more (a few milliseconds),
    and a server that closes the connection sooner than that after its
    last reply makes them raise instead (a job is never lost and never
    handed out twice).

    Lists (job queues): ``push`` appends to a list, ``take`` removes
    from its head, waiting on the server for an item (BLPOP) without
    polling; ``take_many``, ``take_nowait``, ``llen``, ``peek`` and
    ``lrange`` complete them. A blocking ``take`` is never cut short by
    ``timeout``: its reply is awaited for its own wait, plus a second
    (Redis notices a wait is over up to 1/hz s late), plus ``timeout``.
    :class:`tiny_mp_cache.Queue` wraps them as a ``queue.Queue``.

    Expiry: ``set(key, value, ttl=seconds)``, ``add``, ``expire``,
    ``persist`` and ``ttl``; an expired key is gone for every command at
    once (its memory is reclaimed by the server's expiry cycle).

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
                 username: Optional[str] = None,
                 serializer: Union[None, str, Serializer] = None) -> None:
        # What pickling keeps (the connection is not).
        self._options: Dict[str, Any] = {
            "connect_timeout": connect_timeout, "timeout": timeout,
            "password": password, "username": username,
            "serializer": serializer}
        self._family, self._sockaddr, self._display, url_auth = \
            _parse_address(addr)
        if url_auth:
            if password is not None and "password" in url_auth or \
                    username is not None and "username" in url_auth:
                raise ValueError("the address gives a username or password "
                                 "that is given as a keyword too")
            password = url_auth.get("password", password)
            username = url_auth.get("username", username)
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
        self._auth: Optional[Tuple[Union[str, bytes], ...]] = None
        if password is not None:
            self._auth = ((b"AUTH", password) if username is None
                          else (b"AUTH", username, password))
        self._username = "default" if username is None else username
        self._addr = addr
        # The serializer's two functions, None for raw bytes: the methods
        # test `self._dump is not None` (no call when there is none).
        self._serializer, self._dump, self._load = _codec(serializer)
        self._connect_timeout = float(connect_timeout)
        self._timeout = timeout
        self._sock: Optional[socket.socket] = None
        # The connection, not open until the first command. Its command()
        # is the whole fast path of a command, in C (fork check, lock,
        # encoding, send, receive, reply); what is not (connecting, AUTH,
        # retries, errors) is _recover, under the same lock.
        self._conn = _Connection(ReplyError)
        self._lock = self._conn.lock

    @classmethod
    def from_url(cls, url: str, **options: Any) -> "TinyCache":
        """A TinyCache for a URL, as redis-py's ``Redis.from_url``:

        - ``redis://[[username]:password@]host[:port][/0]``: TCP; the
          port defaults to 6379 (Redis's; tiny-mp-cache's is 5002), the
          host to localhost; ``[::1]`` for IPv6;
        - ``tcp://host:port[/0]``: TCP, the port required;
        - ``unix://[[username]:password@]/path/to.sock[?db=0]``.

        The query may give ``db``, ``username`` and ``password``;
        credentials are percent-decoded. ``options`` are TinyCache's
        keywords (``timeout=``, ``serializer=``...); one the URL gives
        too is a :class:`ValueError`, and so is a scheme other than these
        (``rediss://``: TLS is not supported), a database other than 0
        (tiny-mp-cache has only one) or another query option.
        ``TinyCache(url)`` is the same; this spelling requires a scheme.
        """
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        if _SCHEME.match(url) is None:
            raise ValueError(
                f"{_redacted(url)!r} is not a URL: expected redis://host:port, "
                "tcp://host:port or unix:///path")
        return cls(url, **options)

    # ---- The API of the original tiny-mp-cache ----
    #
    # get, set and pop make their one C call themselves (an extra Python
    # call per command is measurable next to a loopback round trip); the
    # others go through _call. Any exception, however rare, goes to
    # _recover with the same arguments. Without a serializer, a value
    # costs one `self._dump is not None` or `self._load is None` test.

    def set(self, key: str, value: Any, ttl: Optional[float] = None) -> None:
        """Store value under key (SET), replacing any old value and its ttl.

        ``value``: bytes (or a bytearray or memoryview); with a
        ``serializer``, anything it takes. ``ttl``: the key expires after
        this many seconds (an int or a float > 0; a fraction of a
        millisecond rounds up, so 0.0001 is 1 ms), sent as ``SET key value
        PX ms``, which Redis understands too. None (the default): the key
        never expires. A ttl that is 0, negative, NaN or infinite raises
        :class:`ValueError`, one that is not an int or float (a bool
        included) :class:`TypeError`, before anything is sent.

        Retried once after a broken connection (a repeated SET stores the
        same value; its ttl then counts from the retry).
        """
        if not isinstance(key, str):
            _bad_key(key)
        if self._dump is not None:
            value = self._dump(value)
        elif not isinstance(value, (bytes, bytearray, memoryview)):
            _bad_value(value)
        if ttl is not None:
            self._call(0, b"SET", key, value, b"PX", _ttl_ms(ttl))
            return
        try:
            self._conn.command(0, b"SET", key, value)
        except BaseException as e:
            self._recover(e, 0, (b"SET", key, value))

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under key (GET), or ``default`` (None)
        if there is none. With a serializer, the value as its ``loads``
        returns it (so a stored JSON ``null`` is None too: ``key in
        cache`` or ``cache[key]`` tells it from an absent key)."""
        if not isinstance(key, str):
            _bad_key(key)
        try:
            reply = self._conn.command(0, b"GET", key)
        except BaseException as e:
            reply = self._recover(e, 0, (b"GET", key))
        if reply is None:
            return default
        if self._load is None:
            return reply
        return self._load(reply)

    def pop(self, key: str, default: Any = None) -> Any:
        """Atomically get and delete key (GETDEL); ``default`` (None) if
        it is absent.

        When several processes pop the same key at once, exactly one of
        them gets the value. Never retried after a broken connection.
        """
        if not isinstance(key, str):
            _bad_key(key)
        try:
            reply = self._conn.command(_NO_RETRY, b"GETDEL", key)
        except BaseException as e:
            reply = self._recover(e, _NO_RETRY, (b"GETDEL", key))
        if reply is None:
            return default
        if self._load is None:
            return reply
        return self._load(reply)

    def delete(self, *keys: str, key: Optional[str] = None) -> int:
        """Delete the keys (DEL) and return how many existed: 1 or 0 for
        one key (``delete("k")``; ``delete(key="k")``, the original's
        form, still works); a key given twice counts once; no keys: 0,
        nothing sent. Retried once after a broken connection (a repeat
        deletes the same keys, but counts only those still there)."""
        if key is not None:
            keys += (key,)
        return self._count(b"DEL", keys)

    def _count(self, command: bytes, keys: Tuple[Any, ...]) -> int:
        """Run command over keys (all str, else TypeError) and return its
        count; no keys: 0, nothing sent. Retried once."""
        args = _count_command(command, keys)
        if args is None:
            return 0
        reply: int = self._call(0, *args)
        return reply

    def keys(self, pattern: str = "*") -> List[str]:
        """Return the keys matching a Redis glob pattern, e.g. ``"job:*"``.

        ``*``, ``?``, ``[abc]``, ``[^a-z]`` and ``\\`` escapes work as in
        Redis. Keys that are not UTF-8 come back with surrogate escapes
        and can be passed back to get()/pop() as they are.
        """
        _check_pattern(pattern)
        reply: List[str] = self._call(_DECODE, b"KEYS", pattern)
        return reply

    def len(self) -> int:
        """Return the number of keys (DBSIZE); ``len(cache)`` too."""
        reply: int = self._call(0, b"DBSIZE")
        return reply

    # ---- Dict habits ----

    def exists(self, *keys: str) -> int:
        """Count the given keys that exist (EXISTS); a key given twice
        counts twice; no keys: 0, nothing sent. Retried once after a
        broken connection."""
        return self._count(b"EXISTS", keys)

    def clear(self) -> None:
        """Delete every key of the server (FLUSHDB), as ``dict.clear()``,
        redis-py's ``flushdb()`` and diskcache's ``clear()`` do: all of
        them, written by any client (Queue lists included), not only this
        client's. Keys written while it runs may survive it or not.
        Retried once after a broken connection."""
        self._call(0, b"FLUSHDB")

    def __len__(self) -> int:
        """``len(cache)``: the number of keys (DBSIZE)."""
        reply: int = self._call(0, b"DBSIZE")
        return reply

    def __bool__(self) -> bool:
        """Always True (a client, empty server or not): ``if cache:``
        asks the server nothing. ``len(cache) == 0`` tells emptiness."""
        return True

    def __contains__(self, key: str) -> bool:
        """``key in cache``: whether key exists (EXISTS). TypeError for a
        key that is not a str."""
        if not isinstance(key, str):
            _bad_key(key)
        reply: int = self._call(0, b"EXISTS", key)
        return reply == 1

    def __getitem__(self, key: str) -> Any:
        """``cache[key]``: the value, as :meth:`get`; KeyError if absent
        (a stored value that loads as None is returned as None)."""
        if not isinstance(key, str):
            _bad_key(key)
        try:
            reply = self._conn.command(0, b"GET", key)
        except BaseException as e:
            reply = self._recover(e, 0, (b"GET", key))
        if reply is None:
            raise KeyError(key)
        if self._load is None:
            return reply
        return self._load(reply)

    def __setitem__(self, key: str, value: Any) -> None:
        """``cache[key] = value``: :meth:`set` without a ttl."""
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        """``del cache[key]`` (DEL); KeyError if the key did not exist.
        Never retried after sending (a repeat would answer "did not
        exist" for the key the first one deleted): a broken connection
        raises :class:`TinyCacheConnectionError`."""
        if not isinstance(key, str):
            _bad_key(key)
        if self._call(_NO_RETRY, b"DEL", key) == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        """``iter(cache)``, ``for key in cache``: every key, a batch at a
        time (``scan_iter()``: SCAN, never KEYS): not a snapshot, a key
        may come twice, and changing the keys meanwhile is allowed."""
        return self.scan_iter()

    # ---- Batches: one round trip for many keys ----

    def get_many(self, keys: Iterable[str]) -> List[Any]:
        """Return the values of keys (MGET), None where a key is absent.

        One command, one round trip; the values are read at one instant
        (no other command runs in between).
        """
        names = _key_list(keys)
        if not names:
            return []
        reply: List[Any] = self._call(0, b"MGET", *names)
        return _loaded_many(reply, self._load)

    def set_many(self, items: Union[Mapping[str, Any],
                                    Iterable[Tuple[str, Any]]]) -> None:
        """Store many keys at once (MSET) from a mapping or (key, value)
        pairs; all are set before any other command runs. Every value is
        checked (serialized) before anything is sent."""
        args = _mset_command(items, self._dump)
        if args is not None:
            self._call(0, *args)

    def pop_many(self, keys: Iterable[str]) -> List[Any]:
        """Atomically get and delete each key (pipelined GETDEL).

        One round trip for all keys. Each key is handed out exactly once
        across all callers, as with pop(): the result has the value where
        this caller won the key and None where it was absent or another
        caller took it first. Never retried after a broken connection.
        """
        names = _key_list(keys)
        if not names:
            return []
        reply: List[Any] = self._call(_NO_RETRY | _MANY, b"GETDEL", names)
        return _loaded_many(reply, self._load)

    # ---- Expiry and counters ----

    def add(self, key: str, value: Any, ttl: Optional[float] = None) -> bool:
        """Store value under key only if the key does not exist (SET NX).

        Returns True if it was stored, False if the key already existed
        (its value and ttl are then left alone). ``ttl`` as in
        :meth:`set` (``SET key value NX PX ms``). Of several processes
        adding the same key at once, exactly one gets True.

        Never retried after sending: a repeat of a SET NX that did run
        would answer False for the value this call stored. On a broken
        connection it raises :class:`TinyCacheConnectionError` (whether
        the value was stored is unknown: get() tells).
        """
        args = _add_command(key, value, ttl, self._dump)
        return self._call(_NO_RETRY, *args) is not None

    def expire(self, key: str, ttl: float) -> bool:
        """Make key expire ``ttl`` seconds from now (PEXPIRE).

        ``ttl`` as in :meth:`set`: an int or float > 0, a fraction of a
        millisecond rounding up (delete() drops a key at once). Replaces
        any earlier ttl. Returns True if the key exists, False if not.

        Retried once after a broken connection (a repeat sets the same
        ttl, counted from the retry).
        """
        reply: int = self._call(0, b"PEXPIRE", _key_arg(key),
                                _ttl_ms(ttl))
        return reply == 1

    def persist(self, key: str) -> bool:
        """Remove key's ttl, so it never expires (PERSIST).

        Returns True if the key had a ttl, False if it has none or does
        not exist. Never retried after sending (a repeat would answer
        False): a broken connection raises
        :class:`TinyCacheConnectionError`.
        """
        reply: int = self._call(_NO_RETRY, b"PERSIST", _key_arg(key))
        return reply == 1

    def ttl(self, key: str) -> Optional[float]:
        """Return the seconds key has left to live (PTTL / 1000).

        - a float > 0 (millisecond precision) for a key with a ttl;
        - ``math.inf`` for a key that never expires;
        - ``None`` for a key that does not exist (or has just expired).

        So ``ttl(k) is None`` asks whether k is gone, and ``ttl(k) <
        60`` whether k expires within a minute (never true for a key
        without a ttl; a TypeError for a missing key, rather than a
        silently wrong answer). Retried once after a broken connection.
        """
        return _ttl_seconds(self._call(0, b"PTTL", _key_arg(key)))

    def touch(self, *keys: str) -> int:
        """Count the given keys that exist, and mark them as just used
        (TOUCH), which keeps them from eviction by an LRU or LFU
        ``maxmemory_policy`` a little longer. It does not change their ttl.

        A key given twice counts twice; no keys: 0, nothing sent.
        Retried once after a broken connection (TOUCH changes no data).
        """
        return self._count(b"TOUCH", keys)

    def incr(self, key: str, amount: int = 1) -> int:
        """Add amount to the integer stored at key and return the result
        (INCRBY). A missing key counts as 0 (and is created without a
        ttl); an existing key keeps its ttl.

        The value is stored as its decimal digits (``get()`` returns
        ``b"42"``). ``amount`` is an int (not a bool); it may be negative.
        A value that is not a 64-bit integer, a result past the 64-bit
        range, or an amount outside it raises :class:`ReplyError` with
        the server's message (``ERR value is not an integer or out of
        range``, ``ERR increment or decrement would overflow``).

        Never retried after sending (a repeat would add twice): a broken
        connection raises :class:`TinyCacheConnectionError`.
        """
        reply: int = self._call(_NO_RETRY, b"INCRBY", _key_arg(key),
                                _int_arg(amount))
        return reply

    def decr(self, key: str, amount: int = 1) -> int:
        """Subtract amount from the integer stored at key and return the
        result (DECRBY); everything else as :meth:`incr`. Never retried
        after sending."""
        reply: int = self._call(_NO_RETRY, b"DECRBY", _key_arg(key),
                                _int_arg(amount))
        return reply

    # ---- Locks and memoize (tiny_mp_cache.recipes) ----

    def lock(self, name: str, ttl: float = 10.0, *, blocking: bool = True,
             timeout: Optional[float] = None) -> "Lock":
        """A lock named name shared by every process using this server: a
        lease of ttl seconds with an owner token, usable as a context
        manager (:class:`tiny_mp_cache.recipes.Lock`)."""
        from .recipes import Lock
        return Lock(self, name, ttl, blocking=blocking, timeout=timeout)

    def memoize(self, ttl: Optional[float] = None,
                key: Optional[Callable[..., str]] = None, *,
                lease: float = 30.0,
                serializer: Union[None, str, "Serializer"] = None
                ) -> Callable[[_F], _F]:
        """Decorate a function to keep its results on this server, with
        stampede protection (:func:`tiny_mp_cache.recipes.memoize`)."""
        from .recipes import memoize
        return memoize(self, ttl, key, lease=lease, serializer=serializer)

    def scan_iter(self, pattern: str = "*",
                  count: int = SCAN_COUNT) -> Iterator[str]:
        """Iterate over the keys matching a glob pattern, a batch at a
        time (SCAN with MATCH and COUNT, until the cursor is 0).

        Unlike :meth:`keys`, which walks the whole keyspace in one
        command while every other client waits, each SCAN looks at about
        ``count`` keys, so a big keyspace never stalls the server; the
        price is that the keys are not a snapshot:

        - a key that exists for the whole iteration is returned, but may
          be returned more than once (when the server's table grows or
          shrinks meanwhile): keep a set if duplicates matter;
        - a key added or deleted during the iteration may or may not be.

        ``pattern`` as in :meth:`keys`; keys that are not UTF-8 come back
        with surrogate escapes, as there. ``count`` (an int > 0) is a
        hint of the work per round trip, not the batch size: a SCAN may
        return fewer keys (none, with a pattern few keys match) or more.
        The arguments are checked at once; the commands are sent as the
        iterator advances, each retried once after a broken connection
        (a SCAN cursor stays valid on a new connection).
        """
        _check_pattern(pattern)
        _check_count(count)
        return self._scan(pattern, count)

    def _scan(self, pattern: str, count: int) -> Iterator[str]:
        """scan_iter()'s generator: SCAN until the cursor is back at 0."""
        cursor = "0"
        while True:
            cursor, keys = self._call(_DECODE, b"SCAN", cursor, b"MATCH",
                                      pattern, b"COUNT", count)
            yield from keys
            if cursor == "0":
                return

    # ---- Lists: job queues without polling ----
    #
    # A list is a key holding a sequence of values (Redis's list type):
    # push appends at the tail, take removes from the head, so a list is a
    # FIFO queue that any number of processes share. take waits on the
    # server (BLPOP): a waiting client is woken by the push itself, with no
    # polling. tiny_mp_cache.Queue builds on these.

    def push(self, name: str, *values: Any) -> int:
        """Append values to the tail of the list at name (RPUSH) and
        return the list's new length.

        A missing list is created. The values go in together and in order
        (no other command runs in between); at least one is needed
        (TypeError otherwise, before anything is sent). A waiting
        :meth:`take` gets the first at once. A key holding a string
        raises :class:`ReplyError` (``WRONGTYPE ...``).

        Never retried after sending (a repeat would add the values twice):
        a broken connection raises :class:`TinyCacheConnectionError`, and
        whether they were added is unknown.
        """
        reply: int = self._call(_NO_RETRY,
                                *_push_command(name, values, self._dump))
        return reply

    def take(self, name: str, timeout: Optional[float] = None, *,
             into: Optional[str] = None) -> Any:
        """Remove and return the item at the head of the list at name,
        waiting for one while the list is empty or missing (BLPOP).

        ``timeout``: None (the default) waits as long as it takes; a
        number > 0 waits up to that many seconds (rounded up to the
        millisecond) and then returns None; 0 does not wait (LPOP).
        Negative or NaN: :class:`ValueError`. Several clients waiting on
        one list are served first come, first served, and each item goes
        to exactly one of them. The client's own ``timeout=`` does not cut
        the wait short: the reply is awaited for this ``timeout``, plus a
        second of grace (Redis notices that a wait is over in its cron,
        up to 1/hz s late), plus the client's ``timeout``.

        ``into``: also move the item, atomically, to the tail of the list
        ``into`` (BLMOVE name into LEFT RIGHT; LMOVE when not waiting), so
        that it is never only in flight: a consumer that dies or loses its
        connection leaves it there (see :class:`tiny_mp_cache.Queue`'s
        reliable mode).

        Never retried. A connection that breaks (or a reply that does not
        come within the wait, the grace and the client's ``timeout``)
        while waiting raises :class:`TinyCacheConnectionError` (or
        :class:`TinyCacheTimeoutError`): the server may have taken an item
        for this call, which is then lost (with ``into``: moved to
        ``into``, not lost). An exception from a signal handler (Ctrl-C)
        during the wait has the same effect. The connection is dropped
        and the next call opens a new one.
        """
        nowait = _take_nowait_command(name, into)  # checks name and into
        wait = _wait_seconds(timeout)
        if wait == 0:
            reply = self._call(_NO_RETRY, *nowait)
        elif into is None:
            reply = self._blocking(wait, b"BLPOP", name, _wait_arg(wait))
            if reply is not None:
                reply = reply[1]
        else:
            reply = self._blocking(wait, b"BLMOVE", name, into, b"LEFT",
                                   b"RIGHT", _wait_arg(wait))
        return _loaded(reply, self._load)

    def take_nowait(self, name: str, *, into: Optional[str] = None) -> Any:
        """Remove and return the item at the head of the list at name, or
        None if it is empty or missing, without waiting (LPOP; with
        ``into``, LMOVE): ``take(name, 0, into=into)``."""
        return self.take(name, 0, into=into)

    def take_many(self, name: str, count: int,
                  timeout: Optional[float] = None) -> List[Any]:
        """Remove and return up to count items from the head of the list
        at name, in order, waiting while it is empty (BLMPOP ... COUNT).

        Returns as soon as there is at least one item: all there are, up
        to ``count`` (an int > 0), taken at one instant. ``timeout`` as in
        :meth:`take`: None waits as long as it takes, a number > 0 that
        many seconds, 0 not at all (LPOP name count); an empty list when
        nothing came. Never retried, as :meth:`take`: a connection that
        breaks while waiting may lose up to ``count`` items.
        """
        if not isinstance(name, str):
            _bad_key(name)
        _check_count(count)
        wait = _wait_seconds(timeout)
        if wait == 0:
            reply = self._call(_NO_RETRY, b"LPOP", name, _int64(count))
        else:
            reply = self._blocking(wait, b"BLMPOP", _wait_arg(wait), 1, name,
                                   b"LEFT", b"COUNT", _int64(count))
            if reply is not None:
                reply = reply[1]
        return [] if reply is None else _loaded_many(reply, self._load)

    def llen(self, name: str) -> int:
        """Return the length of the list at name (LLEN); 0 if it does
        not exist. Retried once after a broken connection."""
        reply: int = self._call(0, b"LLEN", _key_arg(name))
        return reply

    def peek(self, name: str, index: int = 0) -> Any:
        """Return the item at index of the list at name without removing
        it (LINDEX): 0 is the head (the next :meth:`take`), -1 the tail;
        None past either end or when the list does not exist. Retried
        once after a broken connection."""
        reply = self._call(0, b"LINDEX", _key_arg(name), _index_arg(index))
        return _loaded(reply, self._load)

    def lrange(self, name: str, start: int = 0,
               stop: int = -1) -> List[Any]:
        """Return the items of the list at name from start to stop, both
        included, without removing them (LRANGE, with Redis's indexes:
        0 is the head, -1 the tail; the default is the whole list). An
        empty list when the list does not exist or the range is empty.
        Retried once after a broken connection."""
        reply: List[Any] = self._call(0, b"LRANGE", _key_arg(name),
                                      _index_arg(start), _index_arg(stop))
        return _loaded_many(reply, self._load)

    # ---- Extras ----

    def ping(self) -> bool:
        """Round-trip a PING; True when the server answers."""
        reply: object = self._call(0, b"PING")
        return reply == "PONG"

    def execute(self, *args: Union[str, bytes, int]) -> Any:
        """Send one raw command and return its reply (never retried).

        Replies: bulk -> bytes, status -> str, integer -> int, nil -> None,
        array -> list; an error reply raises :class:`ReplyError`.
        """
        if not args:
            raise TypeError("execute() needs at least a command name")
        return self._call(_NO_RETRY, *args)

    def close(self) -> None:
        """Close the connection. A later command opens a new one."""
        if self._conn.forked:
            self._after_fork()
            return
        with self._lock:
            self._drop()

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

    @property
    def serializer(self) -> Optional[Any]:
        """The serializer values go through (an object with ``dumps`` and
        ``loads``; a built-in's ``name`` is ``"pickle"``, ``"json"`` or
        ``"str"``), or None for raw bytes."""
        return self._serializer

    def __reduce__(self) -> Tuple[Any, ...]:
        """Pickle as the address and options, never the connection: the
        copy opens its own on its first command."""
        return (_unpickle_client, (type(self), self._addr, self._options))

    # ---- Internals ----

    def _call(self, flags: int, *args: Any) -> Any:
        """Run one command (with _MANY: one per key) and return its reply;
        an error reply is raised. flags: _ONCE and the CMD_* of
        Connection.command."""
        try:
            return self._conn.command(flags, *args)
        except BaseException as e:
            return self._recover(e, flags, args)

    def _recover(self, e: BaseException, flags: int,
                 args: Tuple[Any, ...]) -> Any:
        """The slow path of a command whose fast path raised e.

        An error reply is raised (after what it asks for). Trouble with
        the connection is repaired under the lock (_retry). Anything else
        is raised as it is: a bad argument (found before anything was
        sent) or an exception that does not come from the connection (a
        signal handler's, MemoryError), after dropping a connection it
        broke mid-command (unless another thread holds the lock: then the
        next command drops it).
        """
        if e.__class__ is not ReplyError:
            if not isinstance(e, (_Stale, _Forked, OSError,
                                  _NativeProtocolError)):
                if not self._conn.forked and self._lock.acquire(False):
                    try:
                        if self._conn.fd < 0:
                            self._drop()
                    finally:
                        self._lock.release()
                raise e
            if isinstance(e, _Forked):
                self._after_fork()
                e = _Stale(str(e))
            with self._lock:
                try:
                    return self._retry(e, flags, args)
                except ReplyError as e2:
                    if e2.__class__ is not ReplyError:
                        raise       # AuthenticationError from AUTH
                    e = e2
        # Outside the lock (it may close the connection).
        self._reply_error(cast(ReplyError, e))

    def _retry(self, e: BaseException, flags: int,
               args: Tuple[Any, ...]) -> Any:
        """Connect when there is no usable connection (nothing was sent),
        retry a repeatable command once on a new connection after a broken
        one, raise everything else as our errors. Caller holds the lock.

        Another thread may have reconnected since the fast path failed
        (Connection.fd >= 0 again): then the command just runs on that
        connection."""
        retried = False
        while True:
            if isinstance(e, _Stale):
                pass        # nothing was sent
            elif isinstance(e, ConnectionError):
                if self._conn.fd < 0:
                    self._drop()
                if flags & _ONCE:
                    raise TinyCacheConnectionError(
                        f"connection to {self._display} broke during a "
                        "command that is not retried (it may or may not "
                        f"have run): {e}") from None
                if retried:
                    raise TinyCacheConnectionError(
                        f"connection to {self._display} broke twice: {e}"
                    ) from None
                retried = True
            else:
                self._fail(e, args if flags & _ONCE else None)
            if self._conn.fd < 0:
                self._drop()
                self._connect()
            try:
                # A new connection needs no idle-close check (so this loop
                # always ends: a Stale cannot come back).
                return self._conn.command(
                    (flags & ~_IDLE_CHECK) | _LOCKED, *args)
            except ReplyError:
                raise
            except BaseException as e2:
                e = e2

    def _blocking(self, wait: Optional[float], *args: Any) -> Any:
        """Run a blocking command of take or take_many (BLPOP, BLMOVE,
        BLMPOP) that waits on the server up to ``wait`` seconds (None: as
        long as it takes) and return its reply. Never retried.

        The reply is awaited for the wait, _WAIT_GRACE and the client's
        timeout: the connection's limit is raised for this one command,
        under the lock, and set back after it. A failure after sending is
        raised saying what the server may have done for the call, and the
        connection is dropped.
        """
        timeout = self._timeout
        if timeout is None:
            # No limit to raise: the fast path of a command that is never
            # sent twice.
            try:
                return self._conn.command(_NO_RETRY, *args)
            except BaseException as e:
                if e.__class__ is ReplyError:
                    self._reply_error(cast(ReplyError, e))
                if not isinstance(e, (_Stale, _Forked)):
                    self._blocking_failed(e, None, args)
                # Not connected, or the connection is the parent's:
                # nothing was sent; the slow path connects.
        limit = None if wait is None or timeout is None else \
            wait + _WAIT_GRACE + timeout
        if self._conn.forked:
            self._after_fork()
        failure: Optional[BaseException] = None
        reply: Any = None
        with self._lock:
            if self._conn.fd < 0 or _closed_while_idle(
                    cast(socket.socket, self._sock)):
                self._drop()
                self._connect()         # raises with nothing sent
            if limit != timeout:
                self._set_limit(limit)
            try:
                reply = self._conn.command(_ONCE | _LOCKED, *args)
            except BaseException as e:
                failure = e
            if self._conn.fd < 0:
                self._drop()
            elif limit != timeout:
                self._set_limit(timeout)
        if failure is None:
            return reply
        if failure.__class__ is ReplyError:
            self._reply_error(cast(ReplyError, failure))
        self._blocking_failed(failure, limit, args)

    def _set_limit(self, limit: Optional[float]) -> None:
        """Set the open connection's limit on each wait (None: none) by
        attaching its socket again. Caller holds the lock; no reply is
        pending. A failure drops the connection (nothing was sent)."""
        sock = cast(socket.socket, self._sock)
        try:
            if limit is None:
                # attach() leaves the socket's limits alone for None.
                off = bytes(struct.calcsize("ll"))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, off)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, off)
            self._conn.attach(sock, limit)
        except OSError as e:
            self._drop()
            raise TinyCacheConnectionError(
                f"connection to {self._display} failed: {e}") from None

    def _blocking_failed(self, e: BaseException, limit: Optional[float],
                         args: Tuple[Any, ...]) -> NoReturn:
        """Raise the failure e of the blocking command args after it was
        sent, as ours, saying what the server may have done; the
        connection is broken and is dropped (unless another thread holds
        the lock: then the next command drops it)."""
        if self._sock is not None and not self._conn.forked and \
                self._lock.acquire(False):
            try:
                if self._conn.fd < 0:
                    self._drop()
            finally:
                self._lock.release()
        what, lost = _blocking_effect(args)
        if isinstance(e, TimeoutError):
            raise TinyCacheTimeoutError(
                f"no reply from {self._display} within {limit} s (the "
                f"wait, {_WAIT_GRACE:g} s of grace and the client's "
                f"timeout) to {what}: {lost}; the connection is dropped"
            ) from None
        if isinstance(e, _NativeProtocolError):
            raise ProtocolError(f"{self._display}: {e}") from None
        if isinstance(e, OSError):
            raise TinyCacheConnectionError(
                f"connection to {self._display} broke during {what}, "
                f"which is never retried: {lost} ({e})") from None
        raise e

    def _reply_error(self, reply: ReplyError) -> NoReturn:
        """Raise an error reply, after what it asks for."""
        text = str(reply)
        if text.startswith("ERR Protocol error"):
            # The server closes the connection after this one.
            self.close()
        elif text.startswith("NOAUTH"):
            hint = "TinyCache" if self._auth is None else None
            raise _noauth(text, self._display, hint) from None
        raise reply

    def _fail(self, e: BaseException,
              once: Optional[Tuple[Any, ...]] = None) -> NoReturn:
        """Drop a broken connection (its state is unknown) and raise e as
        ours; once: the arguments of a command that is never retried,
        whose timeout says it may have run. Caller holds the lock."""
        if self._conn.fd < 0:
            self._drop()
        if isinstance(e, (socket.timeout, TimeoutError)):
            ran = ""
            if once:
                name = once[0].decode() if isinstance(once[0], bytes) \
                    else str(once[0])
                ran = (f" to {name}, which is not retried: it may have run "
                       "on the server (a pop may have taken the value, "
                       "which is then lost)")
            raise TinyCacheTimeoutError(
                f"no reply from {self._display} within {self._timeout} s"
                f"{ran}") from None
        if isinstance(e, _NativeProtocolError):
            raise ProtocolError(f"{self._display}: {e}") from None
        if isinstance(e, (_Stale, _Forked)):
            raise TinyCacheConnectionError(
                f"connection to {self._display} failed: {e}") from None
        if isinstance(e, OSError) and not isinstance(e, TinyCacheError):
            raise TinyCacheConnectionError(
                f"connection to {self._display} failed: {e}") from e
        raise e

    def _connect(self) -> None:
        """Open the connection, waiting up to connect_timeout for a server
        that is still starting, and authenticate it. Caller holds the
        lock."""
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
                    raise _not_listening(e, self._display,
                                         self._connect_timeout) from None
                time.sleep(delay)
                delay = min(delay * 2, _RETRY_DELAY_MAX)
            except (socket.timeout, OSError) as e:
                raise TinyCacheConnectionError(
                    f"cannot connect to {self._display}: {e}") from None
        self._sock = sock
        try:
            self._conn.attach(sock, self._timeout)
        except BaseException as e:
            self._drop()
            if isinstance(e, OSError):
                raise TinyCacheConnectionError(
                    f"cannot connect to {self._display}: {e}") from None
            raise
        if self._auth is not None:
            self._authenticate(self._auth)

    def _authenticate(self, args: Tuple[Union[str, bytes], ...]) -> None:
        """Send AUTH on a new connection, before anything else. Caller
        holds the lock. On any failure the connection is dropped and the
        error raised: AuthenticationError when the server refused."""
        try:
            self._conn.command(_LOCKED, *args)
        except ReplyError as e:
            self._drop()
            raise _auth_refused(e, self._username, self._display) from None
        except ConnectionError as e:
            self._drop()
            raise TinyCacheConnectionError(
                f"connection to {self._display} broke during AUTH: {e}") from None
        except BaseException as e:
            self._drop()
            self._fail(e)

    def _open(self, timeout: float) -> socket.socket:
        """A connected socket in blocking mode (the command timeout is
        set on it by Connection.attach)."""
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
        sock.settimeout(None)
        return sock

    def _drop(self) -> None:
        """Close our connection (this process owns it). Caller holds the
        lock."""
        sock, self._sock = self._sock, None
        self._conn.detach()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _after_fork(self) -> None:
        """Forget a connection inherited through fork(): close only this
        process's copy of the descriptor (no shutdown(), so the parent's
        connection is untouched) and never read from it."""
        if not self._conn.forked:
            return          # another thread of this child did it
        # Only the forking thread exists in the child; the lock may have
        # been held by another thread at fork time and would never be
        # released: a new Connection comes with a new lock.
        conn = _Connection(ReplyError)
        self._conn, self._lock = conn, conn.lock
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def _unpickle_client(cls: Any, addr: Address,
                     options: Dict[str, Any]) -> TinyCache:
    """A TinyCache from its pickle (see TinyCache.__reduce__)."""
    return cast(TinyCache, cls(addr, **options))


# Longest wait a blocking command is sent with (over three years): a
# longer one waits as long as it takes, as Redis refuses a timeout whose
# deadline would overflow.
_WAIT_MAX = 1e8

# What a blocking command's reply may take beyond its wait, besides the
# client's timeout: Redis notices that a blocked client's wait is over in
# its cron, up to 1/hz s late (hz is at least 1).
_WAIT_GRACE = 1.0


def _wait_seconds(timeout: object) -> Optional[float]:
    """A blocking call's timeout, checked: None (wait as long as it
    takes) for None or a wait longer than _WAIT_MAX, else the seconds as
    a float >= 0 (0: do not wait). TypeError for anything but None, an
    int or a float (a bool is not a number here); ValueError when it is
    negative or NaN."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be None or a number of seconds, not "
                        f"{type(timeout).__name__}")
    try:
        seconds = float(timeout)
    except OverflowError:
        return None
    if not seconds >= 0:
        raise ValueError(f"timeout must be None or a number >= 0, not {timeout!r}")
    return None if seconds > _WAIT_MAX else seconds


def _wait_arg(wait: Optional[float]) -> bytes:
    """A blocking command's timeout argument: seconds with three decimals,
    rounded up to the millisecond and at least 1 ms (a float counts as
    the decimal it prints as); b"0" (wait as long as it takes) for None."""
    if wait is None:
        return b"0"
    ms = max(1, math.ceil(Decimal(float.__repr__(wait)) * 1000))
    return b"%d.%03d" % divmod(ms, 1000)


def _blocking_effect(args: Tuple[Any, ...]) -> Tuple[str, str]:
    """What a blocking command of take or take_many is, for an error
    message, and what the server may have done for it if its reply was
    never read."""
    if args[0] == b"BLMOVE":
        return (f"a take from {args[1]!r} into {args[2]!r} (BLMOVE)",
                f"an item may have been moved to {args[2]!r} for it "
                "(not lost)")
    if args[0] == b"BLMPOP":
        return (f"a take of up to {args[-1]} items from {args[3]!r} "
                "(BLMPOP)", f"the server may have taken up to {args[-1]} "
                "items for it, which are lost")
    return (f"a take from {args[1]!r} (BLPOP)",
            "the server may have taken an item for it, which is lost")


def _closed_while_idle(sock: socket.socket) -> bool:
    """Say whether the server closed (or wrote on) a connection that
    awaits no reply: it is readable."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
