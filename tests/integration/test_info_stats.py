# SPDX-License-Identifier: MIT
"""INFO commandstats and errorstats count as Redis 7.0 counts.

The same requests go to redis-server and to our server (after CONFIG
RESETSTAT on both); then, for every command both report, calls,
rejected_calls and failed_calls must be equal (usec may differ), and so
must every errorstat_* count and INFO stats total_error_replies.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, List

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from diffcase import C, command, exchange  # noqa: E402

REQUESTS: List[bytes] = [
    C("SET", "k", "v"), C("GET", "k"), C("GET", "nokey"), C("GET"),
    C("GET", "a", "b"), C("SET", "k", "v", "BOGUS"), C("SET", "k", "v", "EX", "0"),
    C("MSET", "a"), C("DEL", "k"), C("NOSUCH", "x"), C("nosuch"),
    C("CONFIG", "GET", "hz"), C("CONFIG", "BOGUS"), C("CONFIG", "SET", "hz", "x"),
    C("CONFIG"), C("PING"), C("PING", "a", "b"), C("ECHO", "x"),
    C("SELECT", "1"), C("AUTH", "x"), C("HELLO", "9"), C("CLIENT", "ID"),
    C("CLIENT", "NOSUCH"), C("COMMAND", "COUNT"), C("DBSIZE"),
    C("KEYS", "*"), C("EXISTS", "a", "b"), C("GETDEL", "a"),
    C("FLUSHDB", "bogus"), C("SET", "n", "1", "NX"), C("SET", "n", "1", "NX"),
]


def _section(path: str, name: str) -> Dict[str, Dict[str, str]]:
    """INFO <name> as {field: {key: value}} (the value split on ',')."""
    text = command(path, "INFO", name).decode()
    out: Dict[str, Dict[str, str]] = {}
    for line in text.split("\r\n")[1:]:
        if not line:
            continue
        field, _, value = line.partition(":")
        out[field] = dict(kv.split("=", 1) for kv in value.split(",")) \
            if "=" in value else {"": value}
    return out


def test_commandstats_and_errorstats(ref: tmc_testlib.RedisServer,
                                     ours: tmc_testlib.Server) -> None:
    """The same requests give the same counts on both servers."""
    assert ref.unixsocket and ours.unixsocket
    for path in (ref.unixsocket, ours.unixsocket):
        assert command(path, "CONFIG", "RESETSTAT") == "OK"
        assert command(path, "FLUSHALL") == "OK"
        exchange(path, b"".join(REQUESTS), sentinel=False)
    theirs = _section(ref.unixsocket, "commandstats")
    mine = _section(ours.unixsocket, "commandstats")
    # Our own requests (INFO, CONFIG RESETSTAT, FLUSHALL) count alike.
    assert set(mine) <= set(theirs), set(mine) - set(theirs)
    for name, stats in theirs.items():
        if name.startswith("cmdstat_info"):
            continue
        assert name in mine, name
        for key in ("calls", "rejected_calls", "failed_calls"):
            assert mine[name][key] == stats[key], (name, key, mine[name],
                                                   stats)
        assert float(mine[name]["usec_per_call"]) >= 0
    assert _section(ours.unixsocket, "errorstats") == \
        _section(ref.unixsocket, "errorstats")
    errors = [_section(p, "stats")["total_error_replies"]
              for p in (ref.unixsocket, ours.unixsocket)]
    assert errors[0] == errors[1]


def test_resetstat_and_sections(ours: tmc_testlib.Server) -> None:
    """CONFIG RESETSTAT empties both sections; INFO without arguments
    leaves them out, INFO all includes them."""
    path = ours.unixsocket
    assert path
    exchange(path, C("GET", "x") + C("NOSUCH"), sentinel=False)
    assert command(path, "CONFIG", "RESETSTAT") == "OK"
    assert _section(path, "errorstats") == {}
    stats = _section(path, "commandstats")
    assert list(stats) == ["cmdstat_config|resetstat"] or \
        set(stats) <= {"cmdstat_config|resetstat", "cmdstat_info"}
    default = command(path, "INFO").decode()
    assert "# Commandstats" not in default and "# Errorstats" not in default
    everything = command(path, "INFO", "all").decode()
    assert "# Commandstats" in everything and "# Errorstats" in everything


@pytest.mark.parametrize("prefix", ["WRONGPASS", "NOPROTO"])
def test_error_prefixes(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                        prefix: str) -> None:
    """An error's first word is its errorstat, as in Redis."""
    req = {"WRONGPASS": C("AUTH", "user", "pass"),
           "NOPROTO": C("HELLO", "4")}[prefix]
    for path in (ref.unixsocket, ours.unixsocket):
        assert path
        command(path, "CONFIG", "RESETSTAT")
        exchange(path, req, sentinel=False)
        assert "errorstat_" + prefix in _section(path, "errorstats")
