# SPDX-License-Identifier: MIT
"""The differential machinery: send the same bytes to redis-server and to
our server and compare the replies byte for byte.

A test module defines its cases and imports what it needs::

    from diffcase import C, Case, check_case
    CASES = [Case("get-missing", C("GET", "nokey")), ...]

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_same_bytes(ref, ours, case):
        check_case(ref, ours, case)

ref is a redis-server and ours our server (once per event backend),
each on a Unix socket, for the whole module (fixtures of conftest.py). Every case opens a fresh
connection to each, sends the same byte sequence (whole, or in pieces
with pauses), reads until the server closes or goes quiet, and requires
the same replies and the same closed/open state. The keyspace is flushed
on both before each case. Without redis-server the module is skipped,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any, Callable, Dict, List, NamedTuple, Sequence, Tuple, Union


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from tmc_testlib import RespError, encode_command, parse_reply  # noqa: E402


# ---- Cases ----

def C(*args: Union[bytes, str, int]) -> bytes:
    """One command as a multibulk request."""
    return encode_command(*args)


# The byte sequence a case ends with when its input leaves the parser
# between requests: the server echoes the token back, which marks the end
# of the replies without waiting for a quiet period.
SENTINEL_TOKEN = b"tmc-diff-sentinel-7c1e"
SENTINEL = C(b"ECHO", SENTINEL_TOKEN)
SENTINEL_REPLY = b"$%d\r\n%s\r\n" % (len(SENTINEL_TOKEN), SENTINEL_TOKEN)

QUIET = 0.25          # seconds of silence that end a reply without sentinel
CASE_TIMEOUT = 10.0   # upper bound for one exchange


class Case(NamedTuple):
    """One differential case.

    data: bytes sent at once, or a list of chunks sent with `delay`
    seconds between them. sentinel: False when the input ends inside a
    request (or the request's framing depends on what follows), so the
    exchange ends on silence instead. mode: "exact", "sorted" (array
    replies compared as sorted lists: KEYS) or "map" (array replies
    compared as field/value maps: CONFIG GET). setup: commands sent on
    another connection first (replies must not be errors).
    """
    id: str
    data: Union[bytes, List[bytes]]
    sentinel: bool = True
    mode: str = "exact"
    delay: float = 0.0
    setup: Tuple[bytes, ...] = ()


def bytewise(data: bytes) -> List[bytes]:
    """Split data into one-byte chunks."""
    return [data[i:i + 1] for i in range(len(data))]


# ---- Servers and exchanges ----

def exchange(path: str, data: Union[bytes, Sequence[bytes]], *,
             sentinel: bool, delay: float = 0.0) -> Tuple[bytes, bool]:
    """Send data (and the sentinel) on a fresh connection.

    Returns (reply bytes without the sentinel's reply, closed), where
    closed tells whether the server closed the connection. With the
    sentinel, reading stops at its reply; without, after QUIET seconds
    of silence.
    """
    chunks = [data] if isinstance(data, (bytes, bytearray)) else list(data)
    if sentinel:
        chunks = chunks + [SENTINEL]
    out = bytearray()
    closed = False
    deadline = time.monotonic() + CASE_TIMEOUT
    with tmc_testlib.connect(path, timeout=CASE_TIMEOUT) as s:
        for i, chunk in enumerate(chunks):
            if i and delay and not (sentinel and i == len(chunks) - 1):
                time.sleep(delay)
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break           # the server closed: collect what it said
        while True:
            if sentinel and out.endswith(SENTINEL_REPLY):
                del out[-len(SENTINEL_REPLY):]
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(left, QUIET) if not sentinel else left)
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    return bytes(out), closed


def command(path: str, *args: Union[bytes, str, int]) -> Any:
    """Send one command on a fresh connection and return its parsed reply."""
    with tmc_testlib.connect(path) as s:
        s.sendall(C(*args))
        values, _ = tmc_testlib.read_replies(s, 1)
    return values[0]


def prepare(path: str, setup: Sequence[bytes]) -> None:
    """Flush the keyspace and run a case's setup commands."""
    with tmc_testlib.connect(path) as s:
        s.sendall(C("FLUSHALL") + b"".join(setup))
        values, _ = tmc_testlib.read_replies(s, 1 + len(setup))
    for v in values:
        assert not isinstance(v, RespError), "setup failed: %r" % (v,)


def parse_all(buf: bytes) -> List[Any]:
    """Every complete reply in buf (the tail must not be partial)."""
    values, pos = [], 0
    while pos < len(buf):
        r = parse_reply(buf, pos)
        assert r is not None, "partial reply at %d: %r" % (pos, buf[pos:pos + 80])
        values.append(r[0])
        pos = r[1]
    return values


def normalise(buf: bytes, mode: str) -> Any:
    """The replies in buf, arrays sorted ("sorted") or as maps ("map")."""
    if mode == "exact":
        return buf
    out = []
    for v in parse_all(buf):
        if isinstance(v, list) and mode == "sorted":
            v = sorted(v)
        elif isinstance(v, list) and mode == "map":
            assert len(v) % 2 == 0
            d: Dict[Any, Any] = {}
            for k, val in zip(v[0::2], v[1::2]):
                assert k not in d, "field %r twice" % (k,)
                d[k] = val
            v = d
        out.append(v)
    return out


def describe_diff(want: bytes, got: bytes) -> str:
    """Where two replies first differ, with some context."""
    i = 0
    while i < min(len(want), len(got)) and want[i] == got[i]:
        i += 1
    lo = max(0, i - 80)
    return ("\nfirst difference at byte %d of %d (redis) / %d (ours)"
            "\n redis: %r\n ours:  %r" % (i, len(want), len(got),
                                          want[lo:i + 120], got[lo:i + 120]))


_redis_cache: Dict[str, Tuple[bytes, bool]] = {}


def run_case(path: str, case: Case) -> Tuple[bytes, bool]:
    prepare(path, case.setup)
    return exchange(path, case.data, sentinel=case.sentinel, delay=case.delay)



# Extra comparison modes a module may register: name -> function that
# turns the reply bytes into what is compared.
NORMALISERS: Dict[str, Callable[[bytes], Any]] = {}


def check_case(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
               case: Case) -> None:
    """Our server answers the case exactly as Redis does."""
    assert ours.unixsocket and ref.unixsocket
    key = "%s:%s" % (ref.unixsocket, case.id)
    if key not in _redis_cache:
        _redis_cache[key] = run_case(ref.unixsocket, case)
    want, want_closed = _redis_cache[key]
    got, got_closed = run_case(ours.unixsocket, case)
    if case.mode == "exact":
        assert got == want, "replies differ (%s backend)%s" % (
            ours.backend, describe_diff(want, got))
    elif case.mode in NORMALISERS:
        assert NORMALISERS[case.mode](got) == NORMALISERS[case.mode](want), (
            "replies differ (%s backend, %s)%s" % (
                ours.backend, case.mode, describe_diff(want, got)))
    else:
        assert normalise(got, case.mode) == normalise(want, case.mode)
    assert got_closed == want_closed, (
        "redis %s the connection, we %s it" % (
            "closed" if want_closed else "kept",
            "closed" if got_closed else "kept"))
    # The server must still answer a new connection after every case.
    assert command(ours.unixsocket, "PING") == "PONG"
