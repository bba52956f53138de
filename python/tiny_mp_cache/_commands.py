# SPDX-License-Identifier: MIT
"""The commands of TinyCache and AsyncTinyCache without their I/O.

What the two clients share: checking a method's arguments and building
the command it sends (a tuple of arguments, which TinyCache's connection
encodes and AsyncTinyCache packs with ``pack_command``), and turning the
command's reply into the method's result. Each client's method is then
only its I/O: how it sends, retries and awaits. Nothing here touches a
connection, so a bad argument raises before anything is sent.

get, set and pop (and ``cache[key]``) check their arguments inline
instead: an extra Python call per command is measurable next to a
loopback round trip. They use _bad_key and _bad_value for the errors.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import (Any, Callable, Iterable, List, Mapping, NoReturn,
                    Optional, Tuple, Union)

# What a value is sent as: bytes-like.
_Bytes = Union[bytes, bytearray, memoryview]

# A serializer's dumps, None for raw bytes (see client._codec).
Dump = Optional[Callable[[Any], _Bytes]]

# A serializer's loads, None for raw bytes.
Load = Optional[Callable[[bytes], Any]]

# A command as the connection takes it: its name, then its arguments.
Command = Tuple[Any, ...]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


# ---- Arguments ----

def _bad_key(key: object) -> NoReturn:
    """Raise the TypeError of a key that is not a str."""
    raise TypeError(f"key must be str, not {type(key).__name__}")


def _bad_value(value: object, what: str = "value",
               owner: str = "TinyCache") -> NoReturn:
    """Raise the TypeError of a value that is not bytes-like, given to
    a TinyCache (owner: the class) without a serializer: what to do
    instead. what: the value's name in the message ("item" for Queue)."""
    kind = type(value).__name__
    if isinstance(value, str):
        hint = (f"encode it ({what}.encode()) or pass serializer='str' (or "
                f"'json', 'pickle') to {owner}")
    else:
        hint = (f"pass serializer='json' or 'pickle' to {owner}, or "
                f"encode it yourself (e.g. json.dumps({what}).encode())")
    raise TypeError(
        f"{what} must be bytes, bytearray or memoryview, not {kind}: {hint}")


def _ttl_ms(ttl: object) -> Union[int, bytes]:
    """A ttl in seconds as whole milliseconds, rounded up, as a command
    argument (see _int64); TypeError for anything but an int or a float
    (a bool is not a number here), ValueError unless it is finite and > 0.

    A float is taken as the decimal it prints as (``1.1`` is 1100 ms,
    not the 1101 its binary value's excess over 1.1 would round up to).
    """
    if isinstance(ttl, float):
        if not ttl > 0 or ttl == math.inf:
            raise ValueError(
                f"ttl must be a finite number of seconds > 0, not {ttl!r}")
        return _int64(math.ceil(Decimal(float.__repr__(ttl)) * 1000))
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise TypeError(
            f"ttl must be an int or float (seconds), not {type(ttl).__name__}")
    if ttl <= 0:
        raise ValueError(f"ttl must be > 0 seconds, not {ttl}")
    return _int64(int(ttl) * 1000)


def _int_arg(n: object) -> Union[int, bytes]:
    """An amount as a command argument (see _int64); TypeError for
    anything but an int (a bool is not one here)."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"amount must be an int, not {type(n).__name__}")
    return _int64(int(n))


def _int64(n: int) -> Union[int, bytes]:
    """n as the codec sends it: an int within 64 bits, else its decimal
    digits, for the server to refuse in its own words."""
    return n if _INT64_MIN <= n <= _INT64_MAX else str(n).encode()


def _index_arg(index: object) -> Union[int, bytes]:
    """A list index as a command argument (see _int64); TypeError for
    anything but an int (a bool is not one here)."""
    if not isinstance(index, int) or isinstance(index, bool):
        raise TypeError(f"index must be an int, not {type(index).__name__}")
    return _int64(int(index))


def _key_arg(key: object) -> str:
    """A key (or a list's name) as a command argument: TypeError unless
    it is a str."""
    if not isinstance(key, str):
        _bad_key(key)
    return key


def _value_arg(value: Any, dump: Dump) -> _Bytes:
    """A value as a command argument: through the serializer's dumps,
    or without one, checked to be bytes-like (TypeError otherwise)."""
    if dump is not None:
        return dump(value)
    if not isinstance(value, (bytes, bytearray, memoryview)):
        _bad_value(value)
    return value


def _check_pattern(pattern: object) -> None:
    """TypeError for a glob pattern (KEYS, SCAN) that is not a str."""
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be str, not {type(pattern).__name__}")


def _check_count(count: object) -> None:
    """TypeError for a count that is not an int (a bool is not one
    here), ValueError unless it is > 0."""
    if type(count) is not int:
        raise TypeError(f"count must be an int, not {type(count).__name__}")
    if count <= 0:
        raise ValueError(f"count must be > 0, not {count}")


# ---- Commands: the arguments checked, the command built ----

def _count_command(command: bytes, keys: Tuple[Any, ...]) -> Optional[Command]:
    """command over keys (DEL, EXISTS, TOUCH: a count), every key
    checked; None for no keys (the count is 0, nothing is sent)."""
    for key in keys:
        if not isinstance(key, str):
            _bad_key(key)
    if not keys:
        return None
    return (command,) + keys


def _key_list(keys: Iterable[str]) -> List[str]:
    """The keys of a batch (MGET, pipelined GETDEL) as a list, each
    checked."""
    names = list(keys)
    for key in names:
        if not isinstance(key, str):
            _bad_key(key)
    return names


def _mset_command(items: Union[Mapping[str, Any], Iterable[Tuple[str, Any]]],
                  dump: Dump) -> Optional[Command]:
    """MSET of a mapping or (key, value) pairs, every key checked and
    every value serialized; None for no pairs (nothing is sent)."""
    pairs = list(items.items() if isinstance(items, Mapping) else items)
    args: List[Any] = [b"MSET"]
    for key, value in pairs:
        if not isinstance(key, str):
            _bad_key(key)
        args.append(key)
        args.append(_value_arg(value, dump))
    return tuple(args) if pairs else None


def _add_command(key: object, value: Any, ttl: Optional[float],
                 dump: Dump) -> Command:
    """SET key value NX, with PX ms for a ttl (add)."""
    if not isinstance(key, str):
        _bad_key(key)
    value = _value_arg(value, dump)
    if ttl is None:
        return (b"SET", key, value, b"NX")
    return (b"SET", key, value, b"NX", b"PX", _ttl_ms(ttl))


def _push_command(name: object, values: Tuple[Any, ...],
                  dump: Dump) -> Command:
    """RPUSH name value... (push): at least one value (TypeError
    otherwise), each serialized."""
    if not isinstance(name, str):
        _bad_key(name)
    if not values:
        raise TypeError("push() needs at least one value")
    if dump is not None:
        values = tuple(dump(value) for value in values)
    else:
        for value in values:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                _bad_value(value)
    return (b"RPUSH", name) + values


def _take_nowait_command(name: object, into: Optional[str]) -> Command:
    """LPOP name, or with into, LMOVE name into LEFT RIGHT: a take that
    does not wait (name and into checked)."""
    if not isinstance(name, str):
        _bad_key(name)
    if into is None:
        return (b"LPOP", name)
    if not isinstance(into, str):
        _bad_key(into)
    return (b"LMOVE", name, into, b"LEFT", b"RIGHT")


# ---- Replies: the method's result ----

def _loaded(reply: Any, load: Load) -> Any:
    """A bulk reply through the serializer's loads, if any; None (no
    value) stays None."""
    if reply is None or load is None:
        return reply
    return load(reply)


def _loaded_many(values: List[Any], load: Load) -> List[Any]:
    """values (bulk replies, None where absent) through the
    serializer's loads, if any."""
    if load is None:
        return values
    return [None if v is None else load(v) for v in values]


def _ttl_seconds(reply: int) -> Optional[float]:
    """ttl()'s result from PTTL's reply: the seconds left, ``math.inf``
    for a key without a ttl (-1), None for a missing key (-2)."""
    if reply >= 0:
        return reply / 1000
    if reply == -1:
        return math.inf
    return None
