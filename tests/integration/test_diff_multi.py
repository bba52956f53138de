# SPDX-License-Identifier: MIT
"""Transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH) compared with
redis-server 7.0 byte for byte: single-connection cases through
diffcase.py, and scripted scenarios over two connections (one watches,
the other writes) run against both servers; plus redis-py's pipeline()
and transaction() helpers against our server.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any, Callable, List, Sequence, Tuple, Union

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from diffcase import C, Case, check_case  # noqa: E402

CASES: List[Case] = [
    Case("multi-basic", C("MULTI") + C("SET", "k", "v") + C("INCR", "n") +
         C("GET", "k") + C("EXEC") + C("GET", "n")),
    Case("multi-empty", C("MULTI") + C("EXEC")),
    Case("multi-nested", C("MULTI") + C("MULTI") + C("SET", "k", "v") +
         C("EXEC") + C("GET", "k")),
    Case("exec-discard-without-multi", C("EXEC") + C("DISCARD")),
    Case("discard", C("MULTI") + C("SET", "k", "v") + C("DISCARD") +
         C("GET", "k") + C("EXEC")),
    Case("queue-time-errors", C("MULTI") + C("SET", "k", "v") + C("GET") +
         C("NOSUCH", "x") + C("EXEC") + C("GET", "k")),
    Case("queue-time-unknown", C("MULTI") + C("nosuch") + C("EXEC")),
    Case("run-time-errors", C("SET", "s", "abc") + C("MULTI") +
         C("INCR", "s") + C("SET", "k", "1") + C("EXPIRE", "k", "x") +
         C("EXEC") + C("GET", "k")),
    Case("watch-inside-multi", C("MULTI") + C("WATCH", "x") + C("PING") +
         C("EXEC")),
    Case("watch-arity-inside-multi", C("MULTI") + C("WATCH") +
         C("UNWATCH") + C("EXEC")),
    Case("exec-arity", C("EXEC", "x") + C("MULTI") + C("SET", "k", "v") +
         C("EXEC", "x") + C("DISCARD") + C("GET", "k")),
    Case("other-arity", C("DISCARD", "x") + C("MULTI", "x") +
         C("UNWATCH", "x") + C("MULTI") + C("DISCARD", "x") + C("EXEC")),
    Case("not-allowed-inside", C("MULTI") + C("SHUTDOWN") + C("PING") +
         C("EXEC")),
    Case("unwatch-is-queued", C("SET", "w", "1") + C("WATCH", "w") +
         C("MULTI") + C("UNWATCH") + C("SET", "w", "2") + C("EXEC") +
         C("GET", "w")),
    Case("watch-own-write", C("SET", "q", "1") + C("WATCH", "q") +
         C("SET", "q", "2") + C("MULTI") + C("GET", "q") + C("EXEC")),
    Case("watch-then-unwatch", C("SET", "q", "1") + C("WATCH", "q") +
         C("SET", "q", "2") + C("UNWATCH") + C("MULTI") + C("GET", "q") +
         C("EXEC")),
    Case("watch-missing-key", C("WATCH", "nokey", "nokey2") + C("MULTI") +
         C("SET", "z", "1") + C("EXEC")),
    Case("watch-expires", [C("SET", "e", "1", "PX", "50") + C("WATCH", "e") +
                           C("MULTI") + C("GET", "e"), C("EXEC")],
         delay=0.2),
    Case("watch-already-expired", [C("SET", "e", "1", "PX", "20"),
                                   C("WATCH", "e") + C("MULTI") +
                                   C("GET", "e") + C("EXEC")], delay=0.2),
    Case("exec-ttl-and-types", C("MULTI") + C("SET", "k", "1", "EX", "100") +
         C("TTL", "k") + C("TYPE", "k") + C("GETDEL", "k") + C("EXISTS", "k") +
         C("EXEC")),
    Case("multi-pipelined-after", C("MULTI") + C("SET", "a", "1") + C("EXEC") +
         C("GET", "a") + C("MULTI") + C("DEL", "a") + C("DISCARD") +
         C("EXISTS", "a")),
    Case("multi-quit", C("MULTI") + C("SET", "k", "1") + C("QUIT"),
         sentinel=False),
    # Over maxmemory, nothing is queued (not even a read), as in Redis;
    # a nested MULTI and a WATCH get the OOM error too.
    Case("multi-over-maxmemory", C("SET", "k", "1") +
         C("CONFIG", "SET", "maxmemory", "1") + C("MULTI") + C("GET", "k") +
         C("PING") + C("EXEC") + C("MULTI") + C("DISCARD") +
         C("MULTI") + C("MULTI") + C("WATCH", "k") + C("EXEC") +
         C("CONFIG", "SET", "maxmemory", "0") + C("GET", "k")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_bytes(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                    case: Case) -> None:
    """Each case answers exactly as Redis's does."""
    check_case(ref, ours, case)


# ---- Two connections: one watches, the other writes ----

Arg = Union[str, bytes, int]


def _talk(s: socket.socket, *cmds: Sequence[Arg]) -> List[Any]:
    s.sendall(b"".join(C(*c) for c in cmds))
    return tmc_testlib.read_replies(s, len(cmds))[0]


def _two_clients(srv: tmc_testlib._Process,
                 script: Callable[[socket.socket, socket.socket],
                                  List[Any]]) -> List[Any]:
    """Run script(a, b) with two connections to srv; its replies."""
    assert srv.unixsocket
    a = tmc_testlib.connect(srv.unixsocket)
    b = tmc_testlib.connect(srv.unixsocket)
    try:
        return script(a, b)
    finally:
        a.close()
        b.close()


# Each scenario: commands of the watcher before, of the other client in
# between, and the watcher's transaction after.
SCENARIOS: List[Tuple[str, List[Sequence[Arg]], List[Sequence[Arg]]]] = [
    ("other-sets", [("SET", "w", "1")], [("SET", "w", "2")]),
    ("other-sets-same-value", [("SET", "w", "1")], [("SET", "w", "1")]),
    ("other-deletes", [("SET", "w", "1")], [("DEL", "w")]),
    ("other-deletes-missing", [], [("DEL", "w")]),
    ("other-creates", [], [("SET", "w", "x")]),
    ("other-expires", [("SET", "w", "1")], [("EXPIRE", "w", "100")]),
    ("other-persists-no-ttl", [("SET", "w", "1")], [("PERSIST", "w")]),
    ("other-incr", [("SET", "w", "1")], [("INCR", "w")]),
    ("other-append", [("SET", "w", "1")], [("APPEND", "w", "x")]),
    ("other-rename-from", [("SET", "w", "1")], [("RENAME", "w", "v")]),
    ("other-rename-to", [("SET", "v", "1")], [("RENAME", "v", "w")]),
    ("other-flushall-existing", [("SET", "w", "1")], [("FLUSHALL",)]),
    ("other-flushall-missing", [("SET", "other", "1")], [("FLUSHALL",)]),
    ("other-flushdb", [("SET", "w", "1")], [("FLUSHDB",)]),
    ("other-touches-other-key", [("SET", "w", "1")], [("SET", "u", "1")]),
    ("other-reads", [("SET", "w", "1")], [("GET", "w"), ("TTL", "w")]),
    ("other-getdel", [("SET", "w", "1")], [("GETDEL", "w")]),
    ("other-setnx-fails", [("SET", "w", "1")], [("SETNX", "w", "2")]),
]


@pytest.mark.parametrize("name,before,between", SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
def test_watch_against_another_client(ref: tmc_testlib.RedisServer,
                                      ours: tmc_testlib.Server, name: str,
                                      before: List[Sequence[Arg]],
                                      between: List[Sequence[Arg]]) -> None:
    """WATCH, another client's commands, then MULTI ... EXEC: the same
    replies, and the same keyspace, on both servers."""
    def script(a: socket.socket, b: socket.socket) -> List[Any]:
        out = _talk(a, ("FLUSHALL",), *before, ("WATCH", "w"))
        out += _talk(b, *between)
        out += _talk(a, ("MULTI",), ("SET", "w", "mine"), ("EXEC",))
        return out + _talk(a, ("GET", "w"), ("GET", "v"), ("DBSIZE",))
    results = [_two_clients(srv, script) for srv in (ref, ours)]
    assert results[1] == results[0], name


@pytest.mark.parametrize("queued", [("SET", "k", "2"), ("GET", "k")],
                         ids=["write", "read"])
def test_exec_once_over_maxmemory(ref: tmc_testlib.RedisServer,
                                  ours: tmc_testlib.Server,
                                  queued: Sequence[Arg]) -> None:
    """Queued under the limit, then another client sets maxmemory below
    the memory in use: an EXEC whose queue may add memory is discarded
    with EXECABORT and the OOM reason; one of reads runs."""
    def script(a: socket.socket, b: socket.socket) -> List[Any]:
        out = _talk(a, ("FLUSHALL",), ("SET", "k", "1"), ("MULTI",), queued)
        out += _talk(b, ("CONFIG", "SET", "maxmemory", "1"))
        out += _talk(a, ("EXEC",), ("EXEC",))
        out += _talk(b, ("CONFIG", "SET", "maxmemory", "0"))
        return out + _talk(a, ("GET", "k"))
    results = [_two_clients(srv, script) for srv in (ref, ours)]
    assert results[1] == results[0]


def test_expired_by_another_client(ref: tmc_testlib.RedisServer,
                                   ours: tmc_testlib.Server) -> None:
    """A watched key that expires and is reclaimed by someone else's read
    aborts the transaction."""
    results = []
    for srv in (ref, ours):
        assert srv.unixsocket
        a = tmc_testlib.connect(srv.unixsocket)
        b = tmc_testlib.connect(srv.unixsocket)
        out = _talk(a, ("FLUSHALL",), ("SET", "r", "1", "PX", "50"),
                    ("WATCH", "r"))
        time.sleep(0.2)
        out += _talk(b, ("GET", "r"))
        out += _talk(a, ("MULTI",), ("SET", "x", "1"), ("EXEC",),
                     ("EXISTS", "x"))
        a.close()
        b.close()
        results.append(out)
    assert results[1] == results[0]
    assert results[0][-2] is None


def test_commandstats_count_inner_commands(ours: tmc_testlib.Server) -> None:
    """EXEC counts once, and each queued command once when it runs."""
    assert ours.unixsocket
    s = tmc_testlib.connect(ours.unixsocket)
    _talk(s, ("CONFIG", "RESETSTAT"))
    _talk(s, ("MULTI",), ("SET", "a", "1"), ("SET", "b", "2"), ("EXEC",))
    info = _talk(s, ("INFO", "commandstats"))[0].decode()
    s.close()
    assert "cmdstat_set:calls=2," in info
    assert "cmdstat_exec:calls=1," in info
    assert "cmdstat_multi:calls=1," in info


def test_redis_py_pipeline_and_transaction(ours: tmc_testlib.Server) -> None:
    """redis-py's default pipeline() (MULTI/EXEC) and its transaction()
    helper (WATCH, retry on a conflict) work against our server."""
    redis = pytest.importorskip("redis") if not tmc_testlib.in_ci() else \
        __import__("redis")
    r = redis.Redis(unix_socket_path=ours.unixsocket, socket_timeout=10)
    try:
        r.flushall()
        with r.pipeline() as p:
            p.set("a", 1).incr("a").get("a")
            assert p.execute() == [True, 2, b"2"]
        calls = []

        def bump(pipe: Any) -> None:
            value = int(pipe.get("counter") or 0)
            calls.append(value)
            if len(calls) == 1:
                # Someone else writes between WATCH and EXEC: retried.
                r.set("counter", 10)
            pipe.multi()
            pipe.set("counter", value + 1)

        r.set("counter", 0)
        r.transaction(bump, "counter")
        assert calls == [0, 10]
        assert r.get("counter") == b"11"
    finally:
        r.close()
