# SPDX-License-Identifier: MIT
"""Differential tests of the keyspace (generic) family against redis-server.

EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX, XX, GT, LT), TTL, PTTL,
EXPIRETIME, PEXPIRETIME, PERSIST, TYPE, TOUCH, UNLINK, RANDOMKEY, RENAME,
RENAMENX, SCAN, OBJECT and MEMORY: the same bytes go to redis-server
7.0 and to our server (diffcase.py), and the replies must be identical.

Where a reply depends on the instant it was computed (PTTL, PEXPIRETIME
of a relative expiry), the cases compare it through a normaliser that
checks a range instead of bytes. SCAN cursors differ between the two
servers (different tables): SCAN is compared as the set of keys a full
iteration returns, byte for byte only where both finish in one call.
MEMORY USAGE counts our own bytes, so it is compared by structure.

Without redis-server the module is skipped, except under CI=true, where
that is a failure.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, List, Sequence, Set, Tuple, Union

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import diffcase  # noqa: E402
import tmc_testlib  # noqa: E402
from diffcase import C, Case, check_case, command, prepare  # noqa: E402
from tmc_testlib import RespError  # noqa: E402


# ---- Normalisers ----

def _sort_key_lists(v: Any) -> Any:
    """v with every array of bulk strings sorted, recursively."""
    if isinstance(v, list):
        items = [_sort_key_lists(x) for x in v]
        if all(isinstance(x, bytes) for x in items):
            return sorted(items)
        return items
    return v


def keysets(buf: bytes) -> List[Any]:
    """Replies with KEYS results and SCAN's key arrays as sorted lists."""
    return [_sort_key_lists(v) for v in diffcase.parse_all(buf)]


# How far a reply cached from redis-server may lag behind the comparison
# (the module runs every case for one backend before the next).
CLOCK_SLACK_S = 900


def ttl_ranges(buf: bytes) -> List[Any]:
    """Replies with the times of a key given 100 s to live mapped to tokens.

    A PTTL must lie in 99000-100000 ms; a PEXPIRETIME or EXPIRETIME must
    be now + 100 s (in ms or s) within CLOCK_SLACK_S; anything else is
    kept as it is, so a reply in the wrong unit still differs.
    """
    now = time.time()
    out: List[Any] = []
    for v in diffcase.parse_all(buf):
        if isinstance(v, int) and not isinstance(v, bool):
            if 99000 <= v <= 100000:
                v = "pttl-100s"
            elif abs(v - (now + 100) * 1000) <= CLOCK_SLACK_S * 1000:
                v = "pexpiretime-now+100s"
            elif abs(v - (now + 100)) <= CLOCK_SLACK_S:
                v = "expiretime-now+100s"
        out.append(v)
    return out


diffcase.NORMALISERS["keysets"] = keysets
diffcase.NORMALISERS["ttl-range"] = ttl_ranges


# ---- Cases ----

EXPIRE_COMMANDS = ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT")
FUTURE_S = 4102444800            # 2100-01-01, for deterministic *AT times
FUTURE_MS = FUTURE_S * 1000
LONG = "x" * 200


def each(cmd: str, arglists: Sequence[Sequence[Union[str, bytes, int]]]) -> bytes:
    """The command once with each argument list."""
    return b"".join(C(cmd, *a) for a in arglists)


def expire_matrix(opts: Sequence[str]) -> bytes:
    """EXPIRE key t opts on keys without and with a 100 s TTL, for times
    clearly below and above, then the TTL each leaves."""
    out = b""
    for setup in ((), ("EX", "100")):
        for t in ("50", "200", "-1", "0"):
            out += (C("SET", "k", "v", *setup) + C("EXPIRE", "k", t, *opts) +
                    C("TTL", "k"))
    return out


def expireat_matrix(opts: Sequence[str]) -> bytes:
    """EXPIREAT / PEXPIREAT against an absolute TTL: equal, earlier and
    later times, exactly (no clock involved)."""
    out = b""
    for t in (FUTURE_S - 1, FUTURE_S, FUTURE_S + 1):
        out += (C("SET", "k", "v") + C("EXPIREAT", "k", FUTURE_S) +
                C("EXPIREAT", "k", t, *opts) + C("EXPIRETIME", "k"))
    for t in (FUTURE_MS - 1, FUTURE_MS, FUTURE_MS + 1):
        out += (C("SET", "k", "v") + C("PEXPIREAT", "k", FUTURE_MS) +
                C("PEXPIREAT", "k", t, *opts) + C("PEXPIRETIME", "k"))
    return out


OPTION_SETS = (("NX",), ("XX",), ("GT",), ("LT",), ("nx",), ("Gt",),
               ("XX", "GT"), ("XX", "LT"), ("GT", "XX"), ("lt", "xx"),
               ("NX", "NX"), ("GT", "GT"), ("XX", "XX", "LT"))

# Keys that expire after a short sleep, each looked up by one command.
GONE = ["gone%d" % i for i in range(16)]

CASES: List[Case] = [
    # -- EXPIRE family: normal use --
    Case("expire-basic", C("SET", "k", "v") + C("EXPIRE", "k", "100") +
         C("TTL", "k") + C("GET", "k") + C("EXPIRE", "nokey", "100") +
         C("TTL", "nokey") + C("EXISTS", "nokey")),
    Case("expire-each-command", C("SET", "k", "v") +
         C("PEXPIRE", "k", "100000") + C("TTL", "k") +
         C("EXPIREAT", "k", FUTURE_S) + C("EXPIRETIME", "k") +
         C("PEXPIRETIME", "k") + C("PEXPIREAT", "k", FUTURE_MS + 123) +
         C("PEXPIRETIME", "k") + C("EXPIRETIME", "k") +
         C("PEXPIREAT", "k", FUTURE_MS + 499) + C("EXPIRETIME", "k") +
         C("PEXPIREAT", "k", FUTURE_MS + 500) + C("EXPIRETIME", "k") +
         C("expire", "k", "100") + C("ttl", "k") + C("GET", "k")),
    Case("expire-replaces-ttl", C("SET", "k", "v", "EX", "50") +
         C("EXPIRE", "k", "300") + C("TTL", "k") + C("EXPIRE", "k", "20") +
         C("TTL", "k") + C("SET", "k", "w") + C("TTL", "k")),
    Case("expire-int-and-raw-values", C("SET", "i", "12345") +
         C("SET", "r", LONG) + C("EXPIRE", "i", "100") +
         C("EXPIRE", "r", "100") + C("TTL", "i") + C("TTL", "r") +
         C("OBJECT", "ENCODING", "i") + C("OBJECT", "ENCODING", "r") +
         C("GET", "i") + C("PERSIST", "i") + C("OBJECT", "ENCODING", "i")),
    Case("expire-binary-key", C("SET", b"a\x00b", "v") +
         C("EXPIRE", b"a\x00b", "100") + C("TTL", b"a\x00b") +
         C("TTL", "a") + C("PERSIST", b"a\x00b") + C("TTL", b"a\x00b")),
    # -- EXPIRE family: errors, in Redis's order --
    Case("expire-option-errors", b"".join(each(cmd, (
        ("k", "10", "NX", "XX"), ("k", "10", "nx", "gt"),
        ("k", "10", "LT", "nx"), ("k", "10", "GT", "LT"),
        ("k", "10", "gt", "lt", "nx"), ("k", "10", "xx", "nx", "lt", "gt"),
        ("k", "10", "FOO"), ("k", "abc", "FOO"), ("k", "10", "nx", "bogus"),
        ("k", "10", "NX", "XX", "bogus"), ("k", "10", ""),
        ("k", "10", b"NX\x00junk"), ("k", "10", b"bad\x00junk"),
        ("k", "10", "a\r\nb"), ("nokey", "10", "FOO"),
        ("nokey", "10", "NX", "XX"))) for cmd in EXPIRE_COMMANDS),
        setup=(C("SET", "k", "v"),)),
    Case("expire-time-errors", b"".join(each(cmd, (
        ("k", "abc"), ("k", "1.5"), ("k", ""), ("k", " 10"), ("k", "10 "),
        ("k", "+10"), ("k", "010"), ("k", "99999999999999999999"),
        ("k", "1e3"), ("nokey", "abc"))) for cmd in EXPIRE_COMMANDS) +
        C("TTL", "k"), setup=(C("SET", "k", "v"),)),
    Case("expire-overflow", b"".join(each(cmd, (
        ("k", "9223372036854775807"), ("k", "-9223372036854775808"),
        ("k", "9223372036854775"), ("k", "9223372036854776"),
        ("k", "-9223372036854776"), ("nokey", "9223372036854775807"))) +
        C("EXISTS", "k") + C("SET", "k", "v") for cmd in EXPIRE_COMMANDS),
        setup=(C("SET", "k", "v"),)),
    Case("expire-huge-times", C("SET", "k", "v") +
         C("PEXPIREAT", "k", "9223372036854775807") +
         C("PEXPIRETIME", "k") + C("EXPIRETIME", "k") +
         C("EXPIREAT", "k", "9223372036854775") + C("EXPIRETIME", "k") +
         C("PEXPIRETIME", "k") + C("EXPIRE", "k", "9223370000000") +
         C("TTL", "k") + C("PEXPIRE", "k", "9223370000000000") +
         C("TTL", "k") + C("PEXPIREAT", "k", "9223372036854775307") +
         C("EXPIRETIME", "k") + C("GET", "k")),
    # -- Times in the past delete the key (and reply 1) --
    Case("expire-past-deletes", b"".join(
        C("SET", "k", "v", *setup) + C(cmd, "k", t) + C("EXISTS", "k") +
        C("TTL", "k")
        for cmd, t, setup in (
            ("EXPIRE", "0", ()), ("EXPIRE", "-10", ()),
            ("PEXPIRE", "0", ("EX", "100")), ("PEXPIRE", "-1", ()),
            ("EXPIREAT", "1", ()), ("EXPIREAT", "0", ()),
            ("EXPIREAT", "1000000000", ("EX", "100")),
            ("EXPIREAT", "-5", ()), ("PEXPIREAT", "0", ()),
            ("PEXPIREAT", "-5", ()), ("PEXPIREAT", "1000000000000", ()),
            ("EXPIRE", "-9223372036854775", ()),
            ("PEXPIRE", "-9223372036854775808", ()))) +
        C("EXPIRE", "nokey", "0") + C("PEXPIREAT", "nokey", "-1") +
        C("DBSIZE")),
    Case("expire-past-with-options", b"".join(
        C("SET", "k", "v", *setup) + C("EXPIRE", "k", t, *opts) +
        C("EXISTS", "k") + C("TTL", "k")
        for setup, t, opts in (
            ((), "0", ("NX",)), ((), "0", ("XX",)), ((), "-1", ("GT",)),
            ((), "-1", ("LT",)), (("EX", "100"), "0", ("GT",)),
            (("EX", "100"), "0", ("LT",)), (("EX", "100"), "0", ("NX",)),
            (("EX", "100"), "-1", ("XX",)), (("EX", "100"), "0", ("XX", "LT")),
            (("EX", "100"), "0", ("XX", "GT"))))),
] + [
    # -- NX / XX / GT / LT on keys with and without a TTL --
    Case("expire-options-%s" % "-".join(o), expire_matrix(o))
    for o in OPTION_SETS
] + [
    Case("expireat-options-%s" % ("-".join(o) or "none"), expireat_matrix(o))
    for o in OPTION_SETS + ((),)
] + [
    # -- TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST --
    Case("ttl-seconds", C("SET", "a", "v", "EX", "100") + C("TTL", "a") +
         C("SET", "b", "v", "PX", "100499") + C("TTL", "b") +
         C("SET", "c", "v", "PX", "99700") + C("TTL", "c") +
         C("SET", "d", "v", "PX", "1400") + C("TTL", "d") +
         C("SET", "e", "v", "PX", "1700") + C("TTL", "e") +
         C("SET", "f", "v", "EXAT", FUTURE_S) + C("EXPIRETIME", "f") +
         C("PEXPIRETIME", "f") + C("SET", "g", "v", "PXAT", FUTURE_MS + 700) +
         C("EXPIRETIME", "g") + C("PEXPIRETIME", "g")),
    Case("ttl-missing-and-persistent", C("SET", "p", "v") + b"".join(
        C(cmd, k) for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME")
        for k in ("p", "nokey", ""))),
    Case("ttl-ms-range", C("SET", "k", "v", "EX", "100") + C("PTTL", "k") +
         C("PEXPIRETIME", "k") + C("EXPIRETIME", "k") + C("TTL", "k") +
         C("SET", "m", "v") + C("PEXPIRE", "m", "100000") + C("PTTL", "m") +
         C("PEXPIRETIME", "m") + C("TTL", "m"), mode="ttl-range"),
    Case("ttl-arity", C("TTL") + C("TTL", "a", "b") + C("PTTL") +
         C("PTTL", "a", "b") + C("EXPIRETIME") + C("EXPIRETIME", "a", "b") +
         C("PEXPIRETIME") + C("PEXPIRETIME", "a", "b") + C("PERSIST") +
         C("PERSIST", "a", "b")),
    Case("persist", C("SET", "k", "v", "EX", "100") + C("PERSIST", "k") +
         C("TTL", "k") + C("PERSIST", "k") + C("PERSIST", "nokey") +
         C("GET", "k") + C("EXPIRE", "k", "100", "XX") + C("TTL", "k")),
    Case("expire-arity", b"".join(C(cmd, *a) for cmd in EXPIRE_COMMANDS
                                  for a in ((), ("k",)))),
    # -- Expiry happens: every lookup sees an expired key as absent --
    Case("expired-keys-invisible", [
        b"".join(C("SET", k, "v", "PX", "1") for k in GONE) +
        C("SET", "kept", "w") + C("SET", "gone-e", "v") +
        C("PEXPIRE", "gone-e", "1"),
        C("KEYS", "*") + C("SCAN", "0", "COUNT", "100") +
        C("SCAN", "0", "MATCH", "gone*", "COUNT", "100") +
        C("EXISTS", "gone0") + C("TTL", "gone1") + C("PTTL", "gone2") +
        C("TYPE", "gone3") + C("RENAME", "gone4", "x") +
        C("RENAMENX", "gone5", "x") + C("PERSIST", "gone6") +
        C("EXPIRE", "gone7", "100") + C("OBJECT", "ENCODING", "gone8") +
        C("TOUCH", "gone9") + C("GET", "gone10") +
        C("EXPIRETIME", "gone11") + C("PEXPIRETIME", "gone12") +
        C("MEMORY", "USAGE", "gone13") + C("OBJECT", "FREQ", "gone14") +
        C("OBJECT", "IDLETIME", "gone15") + C("EXISTS", "gone-e") +
        C("RANDOMKEY") + C("DBSIZE") + C("EXISTS", "x")],
        delay=0.05, mode="keysets"),
    # -- TYPE --
    Case("type", C("SET", "i", "1") + C("SET", "e", "hello") +
         C("SET", "r", LONG) + C("SET", "", "empty") + C("TYPE", "i") +
         C("TYPE", "e") + C("TYPE", "r") + C("TYPE", "") +
         C("TYPE", "nokey") + C("type", "I")),
    Case("type-arity", C("TYPE") + C("TYPE", "a", "b")),
    # -- TOUCH, UNLINK --
    Case("touch", C("SET", "a", "1") + C("SET", "b", "2") +
         C("TOUCH", "a", "b", "nokey", "a") + C("TOUCH", "nokey") +
         C("TOUCH", "a") + C("GET", "a") + C("TOUCH")),
    Case("unlink", C("SET", "a", "1") + C("SET", "b", "2") +
         C("SET", "c", "3", "EX", "100") + C("UNLINK", "a", "nokey", "a") +
         C("UNLINK", "b", "c") + C("EXISTS", "a", "b", "c") +
         C("UNLINK", "nokey") + C("UNLINK") + C("DBSIZE")),
    # -- RANDOMKEY --
    Case("randomkey", C("RANDOMKEY") + C("SET", b"only\x00key", "v") +
         C("RANDOMKEY") + C("RANDOMKEY", "x") + C("DEL", b"only\x00key") +
         C("RANDOMKEY")),
    Case("randomkey-volatile", C("SET", "t", "v", "EX", "100") +
         C("RANDOMKEY")),
    # -- RENAME, RENAMENX --
    Case("rename-basic", C("SET", "a", "v") + C("RENAME", "a", "b") +
         C("GET", "a") + C("GET", "b") + C("EXISTS", "a") +
         C("RENAME", "nokey", "x") + C("RENAME", "nokey", "nokey") +
         C("RENAMENX", "nokey", "x") + C("RENAMENX", "nokey", "nokey") +
         C("DBSIZE")),
    Case("rename-same-key", C("SET", "a", "v", "EX", "100") +
         C("RENAME", "a", "a") + C("RENAMENX", "a", "a") + C("GET", "a") +
         C("TTL", "a") + C("DBSIZE")),
    Case("rename-ttl-moves", C("SET", "a", "v", "EX", "100") +
         C("SET", "b", "w") + C("RENAME", "a", "b") + C("TTL", "b") +
         C("TTL", "a") + C("GET", "b") + C("SET", "c", "x") +
         C("SET", "d", "y", "EX", "100") + C("RENAME", "c", "d") +
         C("TTL", "d") + C("GET", "d") + C("DBSIZE")),
    Case("rename-onto-volatile", C("SET", "a", "v", "EX", "50") +
         C("SET", "b", "w", "EX", "200") + C("RENAME", "a", "b") +
         C("TTL", "b") + C("EXISTS", "a")),
    Case("renamenx", C("SET", "a", "1") + C("SET", "b", "2") +
         C("RENAMENX", "a", "b") + C("GET", "a") + C("GET", "b") +
         C("RENAMENX", "a", "c") + C("GET", "c") + C("EXISTS", "a") +
         C("SET", "t", "v", "EX", "100") + C("RENAMENX", "t", "u") +
         C("TTL", "u")),
    Case("rename-keeps-encoding", C("SET", "i", "123") + C("SET", "r", LONG) +
         C("RENAME", "i", "i2") + C("RENAME", "r", "r2") +
         C("OBJECT", "ENCODING", "i2") + C("OBJECT", "ENCODING", "r2") +
         C("RENAME", b"i2", b"bin\x00\xff") + C("GET", b"bin\x00\xff")),
    Case("rename-arity", C("RENAME") + C("RENAME", "a") +
         C("RENAME", "a", "b", "c") + C("RENAMENX", "a") +
         C("RENAMENX", "a", "b", "c")),
    # -- SCAN: errors --
    Case("scan-cursor-errors", b"".join(C("SCAN", cur) for cur in (
        "abc", "1.5", " 1", "\t1", "1 ", "1x", "+", "-", "0x10", "1e3",
        "18446744073709551616", "99999999999999999999999",
        "-18446744073709551616")), setup=(C("SET", "a", "1"),)),
    Case("scan-cursor-accepted", b"".join(C("SCAN", cur) for cur in (
        "0", "00", "+0", "-0", "", b"0\x00junk", "000000000000000000000000")),
        setup=(C("SET", "a", "1"), C("SET", "b", "2")), mode="keysets"),
    Case("scan-option-errors", b"".join(C("SCAN", "0", *a) for a in (
        ("COUNT",), ("MATCH",), ("TYPE",), ("FOO",), ("FOO", "bar"),
        ("COUNT", "0"), ("COUNT", "-1"), ("COUNT", "abc"), ("COUNT", "1.5"),
        ("COUNT", "99999999999999999999"), ("COUNT", "1", "FOO"),
        ("COUNT", "1", "MATCH"), ("MATCH", "*", "COUNT", "0"),
        ("COUNT", "abc", "FOO"), ("FOO", "COUNT", "abc"),
        ("MATCH", "a", "TYPE"), ("count", "0"), (b"COUNT\x00x", "0"),
        ("COUNT", "", ), ("TYPE", "string", "bogus")))),
    Case("scan-arity", C("SCAN")),
    # -- SCAN: small keyspaces finish in one call on both servers --
    Case("scan-small", C("SCAN", "0") + C("SET", "a", "1") +
         C("SET", "b", LONG) + C("SET", b"c\x00d", "3") +
         C("SET", "t", "v", "EX", "100") + C("SCAN", "0") +
         C("SCAN", "0", "COUNT", "1000") + C("SCAN", "0", "MATCH", "*") +
         C("SCAN", "0", "MATCH", "[ab]") + C("SCAN", "0", "MATCH", "c*") +
         C("SCAN", "0", "MATCH", b"c\x00*") + C("SCAN", "0", "MATCH", "") +
         C("SCAN", "0", "MATCH", "nomatch*") +
         C("SCAN", "0", "match", "a", "match", "b") +
         C("SCAN", "0", "TYPE", "string") + C("SCAN", "0", "TYPE", "STRING") +
         C("SCAN", "0", "TYPE", "list") + C("SCAN", "0", "TYPE", "none") +
         C("SCAN", "0", "TYPE", "bogus") +
         C("SCAN", "0", "TYPE", b"string\x00x") +
         C("SCAN", "0", "MATCH", "a", "COUNT", "5", "TYPE", "string") +
         C("SCAN", "0", "TYPE", "list", "TYPE", "string") +
         C("SCAN", "0", "COUNT", "9223372036854775807") +
         C("scan", "0", "count", "100", "type", "string", "match", "*"),
         mode="keysets"),
    # -- OBJECT --
    Case("object-encoding", b"".join(C("SET", k, v) for k, v in (
        ("int", "12345"), ("neg", "-1"), ("zero", "0"), ("lead0", "01"),
        ("min", "-9223372036854775808"), ("over", "9223372036854775808"),
        ("plus", "+1"), ("space", " 1"), ("emb", "hello"),
        ("emb44", "e" * 44), ("raw45", "r" * 45), ("raw", LONG),
        ("empty", ""), ("float", "1.5"))) + b"".join(
        C("OBJECT", "ENCODING", k) for k in (
            "int", "neg", "zero", "lead0", "min", "over", "plus", "space",
            "emb", "emb44", "raw45", "raw", "empty", "float", "nokey")) +
        C("object", "encoding", "int") + C("OBJECT", "Encoding", "emb")),
    Case("object-refcount", b"".join(
        C("SET", "k", v) + C("OBJECT", "REFCOUNT", "k")
        for v in ("0", "5", "9999", "10000", "-1", "abc", LONG, "05", "")) +
        C("OBJECT", "REFCOUNT", "nokey")),
    Case("object-refcount-policies", b"".join(
        C("CONFIG", "SET", "maxmemory-policy", policy) +
        C("CONFIG", "SET", "maxmemory", mm) + C("SET", "k", "7") +
        C("OBJECT", "REFCOUNT", "k") + C("SET", "j", "77777") +
        C("OBJECT", "REFCOUNT", "j")
        for policy, mm in (("allkeys-lru", "0"), ("allkeys-lru", "1gb"),
                           ("volatile-lfu", "1gb"), ("allkeys-random", "1gb"),
                           ("volatile-ttl", "1gb"), ("noeviction", "1gb"),
                           ("noeviction", "0"))) +
        C("CONFIG", "SET", "maxmemory-policy", "noeviction")),
    Case("object-freq-idletime-lru", C("SET", "k", "v") +
         C("OBJECT", "FREQ", "k") + C("OBJECT", "IDLETIME", "k") +
         C("OBJECT", "FREQ", "nokey") + C("OBJECT", "IDLETIME", "nokey")),
    Case("object-freq-idletime-lfu", C("CONFIG", "SET", "maxmemory-policy",
                                       "allkeys-lfu") +
         C("SET", "k", "v") + C("OBJECT", "FREQ", "k") +
         C("OBJECT", "FREQ", "k") + C("TYPE", "k") + C("OBJECT", "FREQ", "k") +
         C("GET", "k") + C("OBJECT", "FREQ", "k") +
         C("OBJECT", "IDLETIME", "k") + C("OBJECT", "FREQ", "nokey") +
         C("OBJECT", "IDLETIME", "nokey") +
         C("CONFIG", "SET", "maxmemory-policy", "volatile-lfu") +
         C("OBJECT", "IDLETIME", "k") + C("OBJECT", "FREQ", "k") +
         C("CONFIG", "SET", "maxmemory-policy", "noeviction") +
         C("OBJECT", "FREQ", "k")),
    Case("object-help", C("OBJECT", "HELP") + C("object", "help")),
    Case("object-errors", C("OBJECT") + C("OBJECT", "FOO") +
         C("OBJECT", "FOO", "k") + C("OBJECT", "ENCODING") +
         C("OBJECT", "ENCODING", "a", "b") + C("OBJECT", "FREQ") +
         C("OBJECT", "IDLETIME", "a", "b") + C("OBJECT", "REFCOUNT") +
         C("OBJECT", "HELP", "x") + C("OBJECT", "")),
    # -- MEMORY (what both answer alike) --
    Case("memory-errors", C("MEMORY") + C("MEMORY", "FOO") +
         C("MEMORY", "USAGE") + C("MEMORY", "HELP", "x") +
         b"".join(C("MEMORY", "USAGE", *a) for a in (
             ("nokey",), ("nokey", "SAMPLES", "5"), ("nokey", "SAMPLES"),
             ("nokey", "SAMPLES", "-1"), ("nokey", "SAMPLES", "x"),
             ("nokey", "FOO"), ("nokey", "FOO", "1"), ("nokey", "SAMPLES", "0"),
             ("nokey", "samples", "5", "SAMPLES", "3"),
             ("nokey", "SAMPLES", "5", "FOO"), ("k", "SAMPLES"),
             ("k", "SAMPLES", "-5"), ("k", "bogus"),
             ("nokey", "SAMPLES", "99999999999999999999"))),
         setup=(C("SET", "k", "v"),)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_bytes(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                    case: Case) -> None:
    """Our server answers the case exactly as Redis does."""
    check_case(ref, ours, case)


def test_case_ids_unique() -> None:
    """Every case has its own id (the Redis replies are cached by id)."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# ---- SCAN: whole iterations compared as sets ----

def pipeline(path: str, cmds: Sequence[Sequence[Union[str, bytes, int]]]) -> List[Any]:
    """Send the commands at once on a fresh connection; their replies."""
    with tmc_testlib.connect(path) as s:
        s.sendall(b"".join(C(*c) for c in cmds))
        values, _ = tmc_testlib.read_replies(s, len(cmds), timeout=30.0)
    return values


def populate(path: str) -> None:
    """A keyspace of strings of every encoding, with and without TTLs."""
    cmds: List[Sequence[Union[str, bytes, int]]] = [("FLUSHALL",)]
    for i in range(300):
        key = "user:%d" % i if i % 3 else "job:%d" % i
        value: Union[str, bytes] = str(i) if i % 2 else "v" * (i % 60)
        cmds.append(("SET", key, value) if i % 5 else
                    ("SET", key, value, "EX", "1000"))
    cmds += [("SET", b"bin\x00\xff%d" % i, "b") for i in range(20)]
    cmds += [("SET", "", "empty"), ("SET", "*", "star")]
    for v in pipeline(path, cmds):
        assert not isinstance(v, RespError), v


def scan_all(path: str, *opts: Union[str, bytes, int],
             max_calls: int = 10000) -> Tuple[Set[bytes], int]:
    """Iterate SCAN from 0 back to 0 on one connection.

    Returns (the keys returned, the number of calls); checks each reply's
    shape (a decimal cursor as a bulk string, an array of bulk strings).
    """
    keys: Set[bytes] = set()
    calls = 0
    cursor = b"0"
    with tmc_testlib.connect(path) as s:
        while True:
            s.sendall(C("SCAN", cursor, *opts))
            (reply,), _ = tmc_testlib.read_replies(s, 1)
            calls += 1
            assert isinstance(reply, list) and len(reply) == 2, reply
            cursor, batch = reply
            assert isinstance(cursor, bytes) and cursor.isdigit(), reply
            assert isinstance(batch, list), reply
            assert all(isinstance(k, bytes) for k in batch), reply
            keys.update(batch)
            if cursor == b"0":
                return keys, calls
            assert calls < max_calls, "SCAN does not end"


SCAN_OPTIONS: List[Tuple[Union[str, bytes, int], ...]] = [
    (), ("COUNT", "1"), ("COUNT", "7"), ("COUNT", "1000"),
    ("MATCH", "user:*"), ("MATCH", "job:1*", "COUNT", "5"),
    ("MATCH", "*:2?"), ("MATCH", b"bin\x00*"), ("MATCH", "[!u]*"),
    ("MATCH", "\\*"), ("MATCH", ""), ("MATCH", "nomatch"),
    ("TYPE", "string"), ("TYPE", "String", "COUNT", "3"), ("TYPE", "list"),
    ("TYPE", "none"), ("TYPE", "hash"), ("TYPE", "bogus"),
    ("MATCH", "user:1*", "TYPE", "string", "COUNT", "2"),
]


def test_scan_same_keys(ref: tmc_testlib.RedisServer,
                        ours: tmc_testlib.Server) -> None:
    """A full SCAN returns the same key set on both, for each option set,
    and exactly the keys KEYS lists for the same pattern."""
    assert ref.unixsocket and ours.unixsocket
    populate(ref.unixsocket)
    populate(ours.unixsocket)
    for opts in SCAN_OPTIONS:
        theirs, _ = scan_all(ref.unixsocket, *opts)
        mine, calls = scan_all(ours.unixsocket, *opts)
        assert mine == theirs, (opts, sorted(mine ^ theirs)[:10])
        if "MATCH" in opts and "TYPE" not in opts:
            pat = opts[opts.index("MATCH") + 1]
            assert mine == set(command(ours.unixsocket, "KEYS", pat)), opts
        if "COUNT" not in opts:
            # COUNT 10 by default: about a tenth as many calls as keys.
            assert calls <= 322 // 10 + 20, calls
    everything, _ = scan_all(ours.unixsocket)
    assert len(everything) == 322
    assert command(ours.unixsocket, "DBSIZE") == 322


def test_scan_count_bounds_work(ours: tmc_testlib.Server) -> None:
    """COUNT sets how much one call does: the smaller it is, the more
    calls a full iteration takes; a huge COUNT returns everything at
    once; a MATCH that selects nothing still advances, without keys."""
    assert ours.unixsocket
    populate(ours.unixsocket)
    calls = {}
    for count in ("1", "10", "50"):
        keys, calls[count] = scan_all(ours.unixsocket, "COUNT", count)
        assert len(keys) == 322
    assert calls["1"] > calls["10"] > calls["50"] and calls["1"] >= 32, calls
    reply = command(ours.unixsocket, "SCAN", "0", "COUNT", "1")
    assert reply[0] != b"0" and len(reply[1]) < 50, reply
    reply = command(ours.unixsocket, "SCAN", "0", "COUNT",
                    "9223372036854775807")
    assert reply[0] == b"0" and len(reply[1]) == 322
    reply = command(ours.unixsocket, "SCAN", "0", "MATCH", "nomatch",
                    "COUNT", "5")
    assert reply[1] == [] and reply[0] != b"0"


# ---- RANDOMKEY with many keys ----

def test_randomkey_returns_members(ours: tmc_testlib.Server) -> None:
    """RANDOMKEY returns live keys, and over many calls not always the
    same one; volatile and persistent keys alike."""
    assert ours.unixsocket
    prepare(ours.unixsocket, [C("SET", "k%d" % i, "v") for i in range(20)] +
            [C("SET", "t%d" % i, "v", "EX", "100") for i in range(20)])
    seen = pipeline(ours.unixsocket, [("RANDOMKEY",)] * 400)
    names = {b"k%d" % i for i in range(20)} | {b"t%d" % i for i in range(20)}
    assert set(seen) <= names
    assert len(set(seen)) > 20
    assert any(k.startswith(b"t") for k in seen)
    assert any(k.startswith(b"k") for k in seen)


def test_randomkey_skips_expired(ours: tmc_testlib.Server) -> None:
    """Keys whose time passed are never picked, and are reclaimed."""
    assert ours.unixsocket
    prepare(ours.unixsocket, [C("SET", "t%d" % i, "v", "PX", "1")
                              for i in range(50)] + [C("SET", "live", "v")])
    time.sleep(0.05)
    seen = pipeline(ours.unixsocket, [("RANDOMKEY",)] * 20)
    assert set(seen) == {b"live"}


# ---- TOUCH and OBJECT IDLETIME over time ----

def test_idletime_and_touch(ref: tmc_testlib.RedisServer,
                            ours: tmc_testlib.Server) -> None:
    """IDLETIME grows while nobody uses a key; TYPE, EXISTS, TTL and
    OBJECT leave the access clock alone, TOUCH and GET reset it."""
    paths = [p for p in (ref.unixsocket, ours.unixsocket) if p]
    keys = ("a", "b", "c")
    for path in paths:
        prepare(path, [C("SET", k, "v") for k in keys])
    time.sleep(1.2)
    for path in paths:
        results = pipeline(path, [
            ("TYPE", "a"), ("EXISTS", "a"), ("TTL", "a"),
            ("OBJECT", "ENCODING", "a"), ("OBJECT", "IDLETIME", "a"),
            ("TOUCH", "b", "nokey"), ("OBJECT", "IDLETIME", "b"),
            ("GET", "c"), ("OBJECT", "IDLETIME", "c")])
        assert results[5] == 1
        assert 1 <= results[4] <= 3, (path, results)
        assert results[6] in (0, 1), (path, results)
        assert results[8] in (0, 1), (path, results)


# ---- MEMORY: our own byte counts, Redis's structure ----

def test_memory_usage_structure(ref: tmc_testlib.RedisServer,
                                ours: tmc_testlib.Server) -> None:
    """MEMORY USAGE: an integer that grows with the value, for any
    encoding, with or without a TTL or SAMPLES; nil for a missing key."""
    for path in (ref.unixsocket, ours.unixsocket):
        assert path
        prepare(path, [C("SET", "small", "v"), C("SET", "int", "12345"),
                       C("SET", "big", "x" * 10000),
                       C("SET", "vol", "x" * 10000, "EX", "100")])
        small, num, big, vol, samples, none = pipeline(path, [
            ("MEMORY", "USAGE", "small"), ("MEMORY", "USAGE", "int"),
            ("MEMORY", "USAGE", "big"), ("MEMORY", "usage", "vol"),
            ("MEMORY", "USAGE", "big", "SAMPLES", "0"),
            ("MEMORY", "USAGE", "nokey")])
        for v in (small, num, big, vol, samples):
            assert isinstance(v, int) and not isinstance(v, RespError), v
        assert 0 < small < 200 and 0 < num < 200
        assert 10000 <= big < 11000 and 10000 <= vol < 11000
        assert samples == big
        assert none is None


def test_memory_help_subset(ref: tmc_testlib.RedisServer,
                            ours: tmc_testlib.Server) -> None:
    """MEMORY HELP is Redis's text for the subcommands we have."""
    assert ours.unixsocket and ref.unixsocket
    mine = command(ours.unixsocket, "MEMORY", "HELP")
    theirs = command(ref.unixsocket, "MEMORY", "HELP")
    assert mine[0] == theirs[0] and mine[-2:] == theirs[-2:]
    assert "USAGE <key> [SAMPLES <count>]" in mine
    it = iter(theirs)
    assert all(any(line == t for t in it) for line in mine)


# ---- The rows of the command table ----

KEYSPACE_COMMANDS = (
    "del", "unlink", "exists", "touch", "type", "keys", "scan", "randomkey",
    "dbsize", "rename", "renamenx", "expire", "pexpire", "expireat",
    "pexpireat", "ttl", "pttl", "expiretime", "pexpiretime", "persist",
    "flushdb", "flushall", "object", "object|encoding", "object|freq",
    "object|idletime", "object|refcount", "object|help", "memory",
    "memory|usage", "memory|help")


def test_command_rows_match_redis(ref: tmc_testlib.RedisServer,
                                  ours: tmc_testlib.Server) -> None:
    """Name, arity, flags, key positions and ACL categories as Redis 7.0
    reports them (tips, key specs and docs come from command_docs.c and
    are checked in test_diff_redis.py)."""
    assert ours.unixsocket and ref.unixsocket
    for name in KEYSPACE_COMMANDS:
        mine = command(ours.unixsocket, "COMMAND", "INFO", name)[0]
        theirs = command(ref.unixsocket, "COMMAND", "INFO", name)[0]
        assert mine is not None, name
        assert mine[:7] == theirs[:7], name
        if "|" not in name and theirs[9]:
            subs = sorted(s[0] for s in mine[9])
            want = sorted(s[0] for s in theirs[9])
            assert set(subs) <= set(want), name
