# SPDX-License-Identifier: MIT
"""Differential tests of the string family against redis-server 7.0.

Every case sends the same bytes to a reference redis-server and to our
server (once per event backend) and requires byte-identical replies (see
diffcase.py): SET's variants (SETNX, SETEX, PSETEX, GETSET, MSETNX),
GETEX, the INCR family, INCRBYFLOAT and its number formatting, APPEND,
STRLEN, GETRANGE/SUBSTR, SETRANGE; every error text, arity, limits,
encodings (OBJECT ENCODING) and which commands keep or drop a TTL (TTL in
seconds of a 100 s key, or the absolute EXPIRETIME, read at once, so that
both servers answer alike whenever the case runs).

DELEX is Redis 8.4's, unknown to redis-server 7.0: the tests at the end
check it against its documentation, on our server only.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Sequence, Tuple, Union

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from diffcase import C, Case, check_case, command, prepare  # noqa: E402

Arg = Union[bytes, str, int]

LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"
# 2100-01-01 in seconds: an absolute time both servers report alike.
FAR_S = "4102444800"
FAR_MS = FAR_S + "000"
MB = 1024 * 1024


def cmds(*commands: Sequence[Arg]) -> bytes:
    """Several commands, one after the other."""
    return b"".join(C(*a) for a in commands)


def each(prefix: Sequence[Arg], *variants: Sequence[Arg]) -> bytes:
    """The command prefix followed by each variant's arguments."""
    return b"".join(C(*prefix, *v) for v in variants)


# Times for SETEX and PSETEX at the edges: not positive, not integers,
# or near the largest expire time in ms (some pass as milliseconds only).
BAD_TIMES: List[Arg] = [
    "0", "-1", "abc", "1.5", "", " 1", "+1", "01", "1e3", LLONG_MAX, LLONG_MIN,
    "9223372036854775", "9223372036854776", "9223372036854775000",
    "9223372036854775808", b"5\x00",
]

# Values INCR refuses: not canonical 64-bit integers, as Redis's string2ll.
NOT_INTEGERS: List[Arg] = [
    "abc", "1.5", " 1", "1 ", "+1", "01", "-0", "", "0x10", "1e3", "- 1",
    "9223372036854775808", "-9223372036854775809", "99999999999999999999",
    b"1\x00", b"\x001", "\u0661",
]

# Increments for INCRBYFLOAT on a missing key (each on its own key): the
# reply shows Redis's "%.17Lf, trailing zeros cut" formatting, or its
# refusal.
FLOATS: List[Arg] = [
    "0", "-0", "0.0", "-0.0", "1", "-1", "5", "10.5", "0.1", "-0.1",
    "3.0e-5", "3e-5", "1e-17", "1e-18", "5e-18", "-1e-20", "1.5e10",
    "1e300", "-1e300", "1e308", "1e309", "1e4000", "1e4932",
    "1.18973149535723176502e+4932", "1.2e4932", "1e5000", "1e-300",
    "1e-4940", "1e-5000", "2.5e-310", "3.14159265358979323846",
    "2.718281828459045", "123456789012345678901234567890",
    "9223372036854775807", "9223372036854775808", "0.0000001",
    "100", "1E2", "1e+2", ".5", "5.", "+5", "-.5", "0x10", "0x1p-3",
    "0X1P3", "1.5e", "e5", "1e", ".", "-", "+", "", " 1", "1 ", "\t1",
    "1\n", "abc", "inf", "-inf", "+inf", "INF", "infinity", "-Infinity",
    "nan", "-nan", "NaN", "nan(1)", b"1\x00", b"1\x002", "1,5",
    "4.9406564584124654e-324", "1.7976931348623157e308",
    "0.30000000000000004", "1000000000000000000000",
    "0.1234567890123456789", "99999999999999999.5",
]

# (start, increment) pairs: the stored value is read as a float too.
FLOAT_PAIRS: List[Tuple[Arg, Arg]] = [
    ("0.1", "0.2"), ("10.5", "0.1"), ("1", "-1"), ("-1", "1"),
    ("5", "-5.0"), ("1e300", "1e300"), ("1e308", "1e308"),
    ("1.1", "2.2"), ("3.0", "1.0e-5"), ("1e17", "1"), ("1e18", "1"),
    ("0.000001", "-0.000001"), ("12345678", "0.87654321"),
    ("9223372036854775807", "1"), ("-9223372036854775808", "-1"),
    ("1e4932", "1e4932"), ("1e4932", "-1e4932"), ("inf", "0"),
    ("inf", "1"), ("-inf", "inf"), ("inf", "-inf"), ("abc", "1"),
    (" 1", "1"), ("1 ", "1"), ("1e5", "1"), ("0x10", "1"), ("", "1"),
    (b"5\x00", "1"), ("nan", "1"), ("1e-4940", "0"), ("5", "inf"),
    ("5", "nan"), ("5", "abc"), ("abc", "abc"),
]

# (start, end) for GETRANGE over a few values.
RANGES: List[Tuple[Arg, Arg]] = [
    (0, 3), (0, -1), (-3, -1), (5, 3), (-1, -5), (0, 100), (100, 200),
    (-100, -50), (-100, 2), (3, -100), (-1, -1), (0, 0), (10, 10),
    (11, 11), (-11, -11), (-12, -12), (-12, 0), (2, -2), (-2, 2),
    (LLONG_MIN, LLONG_MAX), (LLONG_MAX, LLONG_MIN), (LLONG_MIN, -1),
    (0, LLONG_MAX), (LLONG_MAX, LLONG_MAX), (LLONG_MIN, LLONG_MIN),
    (-5, -5), (4, 4), (-6, -1),
]

RANGE_ERRORS: List[Tuple[Arg, Arg]] = [
    ("a", 1), (1, "b"), ("1.5", 2), ("", 1), (1, ""),
    ("9223372036854775808", 1), (1, "-9223372036854775809"), (" 1", 2),
    ("a", "b"),
]


def getrange_case(name: str, value: Arg) -> Case:
    """Every range of RANGES, with GETRANGE and SUBSTR, over value."""
    data = C("SET", "s", value)
    for a, b in RANGES:
        data += C("GETRANGE", "s", a, b) + C("SUBSTR", "s", a, b)
    return Case(name, data)


def ttl_case(name: str, *commands: Sequence[Arg], key: str = "k") -> Case:
    """A 100 s key k, the commands, then TTL k (kept: 100; dropped: -1)."""
    return Case(name, C("SET", key, "5", "EX", "100") + cmds(*commands) +
                C("TTL", key) + C("GET", key))


def limit_case(name: str, data: bytes) -> Case:
    """A case run with proto-max-bulk-len at 1 MB (the smallest Redis
    accepts); test_same_bytes puts it back to 512 MB afterwards."""
    return Case(name, data,
                setup=(C("CONFIG", "SET", "proto-max-bulk-len", "1mb"),))


CASES: List[Case] = [
    # -- SETNX --
    Case("setnx", cmds(("SETNX", "k", "v"), ("SETNX", "k", "w"), ("GET", "k"),
                       ("SETNX", "", ""), ("GET", ""),
                       ("SETNX", b"b\x00\xff", b"v\x00\r\n"),
                       ("GET", b"b\x00\xff"))),
    Case("setnx-arity", cmds(("SETNX",), ("SETNX", "k"), ("SETNX", "k", "v", "x"),
                             ("setnx", "k", "v", "NX"))),
    Case("setnx-expired-key", cmds(("SET", "k", "v", "PXAT", "1"),
                                   ("SETNX", "k", "w"), ("GET", "k"))),
    # -- SETEX / PSETEX --
    Case("setex", cmds(("SETEX", "k", "100", "v"), ("GET", "k"), ("TTL", "k"),
                       ("PSETEX", "p", "100000", "w"), ("GET", "p"),
                       ("TTL", "p"), ("SETEX", "k", "200", "x"), ("TTL", "k"),
                       ("GET", "k"), ("setex", "b", "100", b"\x00\xff"),
                       ("GET", "b"))),
    Case("setex-times", b"".join(
        C("SETEX", "k", t, "v") + C("PSETEX", "k", t, "v") for t in BAD_TIMES)
         + C("EXISTS", "k")),
    Case("setex-arity", cmds(("SETEX",), ("SETEX", "k"), ("SETEX", "k", "10"),
                             ("SETEX", "k", "10", "v", "x"), ("PSETEX", "k", "10"),
                             ("PSETEX", "k", "10", "v", "x"))),
    Case("setex-replaces-ttl", cmds(("SET", "k", "v", "EX", "50"),
                                    ("SETEX", "k", "100", "w"), ("TTL", "k"),
                                    ("SET", "k", "x"), ("TTL", "k"),
                                    ("PSETEX", "k", "100000", "y"), ("TTL", "k"))),
    # -- GETSET --
    Case("getset", cmds(("GETSET", "k", "v"), ("GETSET", "k", "w"), ("GET", "k"),
                        ("GETSET", "k", ""), ("GET", "k"),
                        ("GETSET", "b", b"\x00\r\n"), ("GETSET", "b", "x"))),
    Case("getset-arity", cmds(("GETSET",), ("GETSET", "k"),
                              ("GETSET", "k", "v", "w"))),
    # -- GETEX --
    Case("getex", cmds(("GETEX", "nokey"), ("SET", "k", "v"), ("GETEX", "k"),
                       ("TTL", "k"), ("GETEX", "k", "EX", "100"), ("TTL", "k"),
                       ("GETEX", "k", "PX", "50000"), ("TTL", "k"),
                       ("GETEX", "k", "ex", "100", "EX", "100"), ("TTL", "k"),
                       ("GETEX", "k", "PERSIST"), ("TTL", "k"),
                       ("GETEX", "k", "persist", "PERSIST"), ("TTL", "k"))),
    Case("getex-absolute", cmds(("SET", "k", "v"), ("GETEX", "k", "EXAT", FAR_S),
                                ("EXPIRETIME", "k"),
                                ("GETEX", "k", "PXAT", FAR_MS + "1"),
                                ("PEXPIRETIME", "k"),
                                ("GETEX", "k", "PXAT", LLONG_MAX),
                                ("PEXPIRETIME", "k"), ("GETEX", "k"))),
    Case("getex-past", cmds(("SET", "k", "v"), ("GETEX", "k", "EXAT", "1"),
                            ("EXISTS", "k"), ("SET", "k", "w"),
                            ("GETEX", "k", "PXAT", "1000"), ("EXISTS", "k"),
                            ("GETEX", "k", "PXAT", "1"), ("DBSIZE",))),
    Case("getex-options", each(("GETEX", "k"), ("EX",), ("EX", "0"), ("EX", "-1"),
                               ("EX", "abc"), ("PX", "0"), ("PXAT", "0"),
                               ("EXAT", "-5"), ("EX", "10", "PX", "10"),
                               ("PERSIST", "EX", "10"), ("EX", "10", "PERSIST"),
                               ("KEEPTTL",), ("NX",), ("XX",), ("GET",),
                               ("BOGUS",), ("EX", "1.5"), ("EX", LLONG_MAX),
                               ("EXAT", LLONG_MAX), ("PX", LLONG_MAX),
                               ("EX", "9223372036854775"), (b"EX\x00x", "10"),
                               ("PERSIST", "PX"), ("EXAT", "10", "EXAT"),
                               ("PERSIST", "x"))),
    Case("getex-options-existing", C("SET", "k", "v") +
         each(("GETEX", "k"), ("EX",), ("EX", "0"), ("EX", "-1"), ("EX", "abc"),
              ("PX", "0"), ("PXAT", "0"), ("EXAT", "-5"), ("EX", "10", "PX", "10"),
              ("PERSIST", "EX", "10"), ("EX", "10", "PERSIST"), ("KEEPTTL",),
              ("NX",), ("BOGUS",), ("EX", "1.5"), ("EX", LLONG_MAX),
              ("EXAT", LLONG_MAX), ("PX", LLONG_MAX), ("EX", "9223372036854775"),
              (b"EX\x00x", "10"), ("PERSIST", "x")) + C("TTL", "k")),
    Case("getex-arity", C("GETEX")),
    # -- MSETNX --
    Case("msetnx", cmds(("MSETNX", "a", "1", "b", "2"), ("MGET", "a", "b"),
                        ("MSETNX", "a", "x", "c", "3"), ("MGET", "a", "c"),
                        ("MSETNX", "c", "3", "c", "4"), ("GET", "c"),
                        ("MSETNX", "d", b"\x00", "", "e"), ("MGET", "d", ""),
                        ("DBSIZE",))),
    Case("msetnx-arity", cmds(("MSETNX",), ("MSETNX", "a"),
                              ("MSETNX", "a", "1", "b"), ("msetnx", "a"),
                              ("EXISTS", "a"))),
    Case("msetnx-expired-key", cmds(("SET", "a", "v", "PXAT", "1"),
                                    ("MSETNX", "a", "1"), ("GET", "a"))),
    # -- INCR, DECR, INCRBY, DECRBY --
    Case("incr", cmds(("INCR", "n"), ("INCR", "n"), ("DECR", "n"),
                      ("INCRBY", "n", "10"), ("DECRBY", "n", "3"),
                      ("INCRBY", "n", "-5"), ("DECRBY", "n", "-5"),
                      ("INCRBY", "n", "0"), ("GET", "n"), ("DECR", "m"),
                      ("GET", "m"), ("DECRBY", "z", "0"), ("GET", "z"),
                      ("SET", "s", "-10"), ("INCR", "s"), ("INCRBY", "s", "20"),
                      ("SET", "e", "0"), ("DECR", "e"), ("incrby", "e", "1"))),
    Case("incr-not-integer", b"".join(
        C("SET", "k", v) + C("INCR", "k") + C("DECR", "k") +
        C("INCRBY", "k", "1") + C("DECRBY", "k", "1") + C("GET", "k")
        for v in NOT_INTEGERS)),
    Case("incr-bad-increment", b"".join(
        C("INCRBY", "k", v) + C("DECRBY", "k", v) for v in NOT_INTEGERS)
         + C("EXISTS", "k")),
    Case("incr-overflow", cmds(
        ("SET", "k", LLONG_MAX), ("INCR", "k"), ("INCRBY", "k", "0"),
        ("INCRBY", "k", "1"), ("DECRBY", "k", "-1"), ("DECR", "k"), ("GET", "k"),
        ("SET", "k", LLONG_MIN), ("DECR", "k"), ("INCRBY", "k", "-1"),
        ("DECRBY", "k", "1"), ("INCR", "k"), ("GET", "k"),
        ("SET", "k", "1"), ("INCRBY", "k", LLONG_MAX),
        ("SET", "k", "0"), ("INCRBY", "k", LLONG_MAX), ("INCR", "k"),
        ("SET", "k", "-1"), ("INCRBY", "k", LLONG_MIN), ("DECRBY", "k", LLONG_MAX),
        ("DECR", "k"), ("SET", "k", "0"), ("DECRBY", "k", LLONG_MIN),
        ("DECRBY", "k", LLONG_MAX), ("DECRBY", "k", "1"), ("DECRBY", "k", "1"),
        ("DECRBY", "nokey", LLONG_MIN), ("EXISTS", "nokey"),
        ("INCRBY", "nokey", LLONG_MIN), ("SET", "k", "9223372036854775806"),
        ("INCR", "k"), ("INCR", "k"), ("GET", "k"))),
    Case("incr-arity", cmds(("INCR",), ("INCR", "a", "b"), ("DECR",),
                            ("DECR", "a", "b"), ("INCRBY", "a"),
                            ("INCRBY", "a", "1", "2"), ("DECRBY",),
                            ("DECRBY", "a", "1", "2"), ("INCRBYFLOAT", "a"),
                            ("INCRBYFLOAT", "a", "1", "2"))),
    # -- INCRBYFLOAT --
    Case("incrbyfloat-formats", b"".join(
        C("INCRBYFLOAT", "f%d" % i, v) for i, v in enumerate(FLOATS)) +
         C("DBSIZE")),
    Case("incrbyfloat-pairs", b"".join(
        C("SET", "f", a) + C("INCRBYFLOAT", "f", b) + C("GET", "f")
        for a, b in FLOAT_PAIRS)),
    Case("incrbyfloat-running-sum",
         b"".join(C("INCRBYFLOAT", "f", "0.1") for _ in range(30)) +
         b"".join(C("INCRBYFLOAT", "g", "-1.7") for _ in range(20)) +
         b"".join(C("INCRBYFLOAT", "h", "1e-5") for _ in range(12)) +
         C("INCR", "f") + C("INCRBYFLOAT", "i", "5") + C("INCR", "i")),
    Case("incrbyfloat-long-numbers", b"".join(
        C("INCRBYFLOAT", "f", b"1." + b"0" * (n - 2)) for n in
        (5118, 5119, 5120, 5121)) + C("SET", "g", b"2." + b"0" * 5117) +
         C("INCRBYFLOAT", "g", "1") + C("SET", "g", b"2." + b"0" * 5118) +
         C("INCRBYFLOAT", "g", "1")),
    # -- APPEND --
    Case("append", cmds(("APPEND", "k", "abc"), ("APPEND", "k", "def"),
                        ("GET", "k"), ("APPEND", "k", ""), ("GET", "k"),
                        ("APPEND", "e", ""), ("EXISTS", "e"), ("GET", "e"),
                        ("APPEND", "b", b"\x00\r\n"), ("APPEND", "b", b"\xff\x00"),
                        ("GET", "b"), ("STRLEN", "b"), ("SET", "n", "12"),
                        ("APPEND", "n", "3"), ("INCR", "n"),
                        ("APPEND", "big", "x" * 100000),
                        ("APPEND", "big", "y" * 100000), ("STRLEN", "big"),
                        ("GETRANGE", "big", "99998", "100001"))),
    Case("append-arity", cmds(("APPEND",), ("APPEND", "k"),
                              ("APPEND", "k", "v", "w"))),
    # -- STRLEN --
    Case("strlen", cmds(("STRLEN", "nokey"), ("SET", "k", "hello"),
                        ("STRLEN", "k"), ("SET", "k", ""), ("STRLEN", "k"),
                        ("SET", "k", "12345"), ("STRLEN", "k"),
                        ("SET", "k", "-9223372036854775808"), ("STRLEN", "k"),
                        ("SET", "k", b"\x00\x00\xff"), ("STRLEN", "k"),
                        ("INCRBYFLOAT", "f", "1.5"), ("STRLEN", "f"))),
    Case("strlen-arity", cmds(("STRLEN",), ("STRLEN", "a", "b"))),
    # -- GETRANGE / SUBSTR --
    getrange_case("getrange-text", "Hello World"),
    getrange_case("getrange-int", "12345"),
    getrange_case("getrange-negative-int", "-9223372036854775808"),
    getrange_case("getrange-empty", ""),
    getrange_case("getrange-binary", b"\x00a\r\nb\xff"),
    Case("getrange-missing", cmds(("GETRANGE", "nokey", "0", "-1"),
                                  ("SUBSTR", "nokey", "0", "-1"),
                                  ("GETRANGE", "nokey", "5", "1"))),
    Case("getrange-errors", b"".join(
        C("GETRANGE", "nokey", a, b) + C("SUBSTR", "nokey", a, b) +
        C("SET", "s", "abc") + C("GETRANGE", "s", a, b)
        for a, b in RANGE_ERRORS)),
    Case("getrange-arity", cmds(("GETRANGE",), ("GETRANGE", "k"),
                                ("GETRANGE", "k", "0"),
                                ("GETRANGE", "k", "0", "1", "2"),
                                ("SUBSTR", "k", "0"), ("substr", "k"))),
    # -- SETRANGE --
    Case("setrange", cmds(("SET", "k", "Hello World"),
                          ("SETRANGE", "k", "6", "Redis"), ("GET", "k"),
                          ("SETRANGE", "k", "0", "J"), ("GET", "k"),
                          ("SETRANGE", "k", "20", "x"), ("GET", "k"),
                          ("SETRANGE", "k", "0", ""), ("STRLEN", "k"),
                          ("SETRANGE", "k", "100", ""), ("STRLEN", "k"),
                          ("SETRANGE", "k", "19", "abcdef"), ("GET", "k"),
                          ("SETRANGE", "m", "0", ""), ("EXISTS", "m"),
                          ("SETRANGE", "m", "3", "ab"), ("GET", "m"),
                          ("SETRANGE", "z", "0", "a"), ("GET", "z"),
                          ("SETRANGE", "b", "2", b"\x00\xff"), ("GET", "b"),
                          ("SET", "n", "12345"), ("SETRANGE", "n", "0", "9"),
                          ("INCR", "n"), ("SETRANGE", "n", "5", "x"),
                          ("INCR", "n"))),
    Case("setrange-errors", cmds(
        ("SETRANGE", "k", "-1", "x"), ("SETRANGE", "k", "-1", ""),
        ("SETRANGE", "k", "abc", "x"), ("SETRANGE", "k", "1.5", "x"),
        ("SETRANGE", "k", "", "x"), ("SETRANGE", "k", " 1", "x"),
        ("SETRANGE", "k", "9223372036854775808", "x"),
        ("SETRANGE", "k", LLONG_MIN, ""), ("SETRANGE", "k", LLONG_MAX, "x"),
        ("SETRANGE", "k", LLONG_MAX, ""), ("SETRANGE", "k", "536870912", "x"),
        ("SETRANGE", "k", "536870911", "xy"), ("SETRANGE", "k", "536870912", ""),
        ("EXISTS", "k"), ("SET", "k", "v"), ("SETRANGE", "k", "536870912", "x"),
        ("SETRANGE", "k", LLONG_MAX, "x"), ("SETRANGE", "k", "-1", "x"),
        ("SETRANGE", "k", "536870912", ""), ("GET", "k"))),
    Case("setrange-arity", cmds(("SETRANGE",), ("SETRANGE", "k"),
                                ("SETRANGE", "k", "0"),
                                ("SETRANGE", "k", "0", "a", "b"))),
    # -- proto-max-bulk-len bounds APPEND and SETRANGE --
    limit_case("limit-setrange", cmds(
        ("SETRANGE", "k", str(MB), "x"), ("EXISTS", "k"),
        ("SETRANGE", "k", str(MB - 1), "xy"), ("EXISTS", "k"),
        ("SETRANGE", "k", str(MB - 1), "x"), ("STRLEN", "k"),
        ("SETRANGE", "k", str(MB - 1), "y"), ("SETRANGE", "k", str(MB), "y"),
        ("SETRANGE", "k", str(MB - 2), "zz"), ("GETRANGE", "k", "-3", "-1"),
        ("SETRANGE", "k", str(MB - 1), "zz"), ("STRLEN", "k"))),
    limit_case("limit-append", cmds(
        ("SETRANGE", "k", str(MB - 3), "abc"), ("APPEND", "k", "d"),
        ("APPEND", "k", ""), ("STRLEN", "k"), ("SETRANGE", "k", "0", "x"),
        ("SET", "j", "x" * 1000), ("APPEND", "j", "y"),
        ("SETRANGE", "j", str(MB - 1000), "z" * 1000), ("APPEND", "j", "w"),
        ("STRLEN", "j"), ("GETRANGE", "j", "0", "3"))),
    # -- Encodings (OBJECT ENCODING), as Redis chooses them --
    Case("encodings", cmds(
        ("SET", "a", "123"), ("OBJECT", "ENCODING", "a"),
        ("SETNX", "b", "x" * 44), ("OBJECT", "ENCODING", "b"),
        ("SETNX", "c", "x" * 45), ("OBJECT", "ENCODING", "c"),
        ("SETEX", "d", "100", "-5"), ("OBJECT", "ENCODING", "d"),
        ("PSETEX", "e", "100000", "5x"), ("OBJECT", "ENCODING", "e"),
        ("GETSET", "f", "99"), ("OBJECT", "ENCODING", "f"),
        ("MSET", "g", "1", "h", "01"), ("OBJECT", "ENCODING", "g"),
        ("OBJECT", "ENCODING", "h"),
        ("MSETNX", "i", LLONG_MAX, "j", "9223372036854775808"),
        ("OBJECT", "ENCODING", "i"), ("OBJECT", "ENCODING", "j"),
        ("APPEND", "k", "12"), ("OBJECT", "ENCODING", "k"),
        ("APPEND", "k", "3"), ("OBJECT", "ENCODING", "k"),
        ("APPEND", "l", "ab"), ("OBJECT", "ENCODING", "l"),
        ("APPEND", "l", ""), ("OBJECT", "ENCODING", "l"),
        ("INCR", "k"), ("OBJECT", "ENCODING", "k"),
        ("INCR", "m"), ("OBJECT", "ENCODING", "m"),
        ("INCRBY", "m", "100000"), ("OBJECT", "ENCODING", "m"),
        ("DECRBY", "m", LLONG_MAX), ("OBJECT", "ENCODING", "m"),
        ("INCRBYFLOAT", "n", "5"), ("OBJECT", "ENCODING", "n"),
        ("INCRBYFLOAT", "n", "0.5"), ("OBJECT", "ENCODING", "n"),
        # Powers of two: exact at any precision (see NATIVE_FLOAT).
        ("INCRBYFLOAT", "o", str(2 ** 100)), ("OBJECT", "ENCODING", "o"),
        ("INCRBYFLOAT", "o2", str(2 ** 160)), ("OBJECT", "ENCODING", "o2"),
        ("SET", "p", "abc"), ("SETRANGE", "p", "0", "x"),
        ("OBJECT", "ENCODING", "p"), ("SETRANGE", "q", "2", "7"),
        ("OBJECT", "ENCODING", "q"), ("SET", "r", "42"),
        ("SETRANGE", "r", "0", ""), ("OBJECT", "ENCODING", "r"),
        ("SETRANGE", "r", "0", "4"), ("OBJECT", "ENCODING", "r"),
        ("SET", "s", "7"), ("GETEX", "s", "EX", "100"),
        ("OBJECT", "ENCODING", "s"), ("SET", "t", "x" * 50),
        ("INCRBYFLOAT", "t", "1"), ("OBJECT", "ENCODING", "t"))),
    # -- Which commands keep a TTL (TTL 100) and which drop it (-1) --
    ttl_case("ttl-set-drops", ("SET", "k", "6")),
    ttl_case("ttl-set-keepttl", ("SET", "k", "6", "KEEPTTL")),
    ttl_case("ttl-set-get", ("SET", "k", "6", "GET")),
    ttl_case("ttl-setnx-existing", ("SETNX", "k", "6")),
    ttl_case("ttl-getset-drops", ("GETSET", "k", "6")),
    ttl_case("ttl-mset-drops", ("MSET", "k", "6", "x", "1")),
    ttl_case("ttl-msetnx-refused", ("MSETNX", "k", "6", "x", "1")),
    ttl_case("ttl-append-keeps", ("APPEND", "k", "0")),
    ttl_case("ttl-setrange-keeps", ("SETRANGE", "k", "1", "0")),
    ttl_case("ttl-incr-keeps", ("INCR", "k"), ("DECR", "k"),
             ("INCRBY", "k", "10"), ("DECRBY", "k", "2")),
    ttl_case("ttl-incrbyfloat-keeps", ("INCRBYFLOAT", "k", "1.5")),
    ttl_case("ttl-getex-plain", ("GETEX", "k")),
    ttl_case("ttl-getex-persist", ("GETEX", "k", "PERSIST")),
    ttl_case("ttl-getex-ex", ("GETEX", "k", "EX", "200")),
    ttl_case("ttl-getex-bad", ("GETEX", "k", "EX", "0"), ("GETEX", "k", "NX")),
    ttl_case("ttl-reads-keep", ("GET", "k"), ("STRLEN", "k"),
             ("GETRANGE", "k", "0", "-1"), ("MGET", "k")),
    ttl_case("ttl-errors-keep", ("INCRBY", "k", "x"), ("SETRANGE", "k", "-1", "x"),
             ("INCRBYFLOAT", "k", "x"), ("SETRANGE", "k", "0", "")),
    ttl_case("ttl-setex-replaces", ("SETEX", "k", "200", "6")),
    ttl_case("ttl-getdel", ("GETDEL", "k")),
]


# Cases whose replies depend on 80-bit long double arithmetic, which
# valgrind emulates at double precision: they run natively only.
NATIVE_FLOAT = {"incrbyfloat-formats", "incrbyfloat-pairs",
                "incrbyfloat-running-sum"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_bytes(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                    case: Case) -> None:
    """Our server answers the case exactly as redis-server does."""
    if case.id in NATIVE_FLOAT and tmc_testlib.valgrind_enabled():
        pytest.skip("valgrind computes long doubles at double precision")
    try:
        check_case(ref, ours, case)
    finally:
        if case.setup:
            for path in (ref.unixsocket, ours.unixsocket):
                assert path
                assert command(path, "CONFIG", "SET", "proto-max-bulk-len",
                               "512mb") == "OK"


def info_stats(path: str) -> dict[str, str]:
    """INFO stats as a field -> value map."""
    text = command(path, "INFO", "stats").decode()
    return dict(line.split(":", 1) for line in text.splitlines()
                if ":" in line)


def test_keyspace_stats_match(ref: tmc_testlib.RedisServer,
                              ours: tmc_testlib.Server) -> None:
    """Reads count keyspace hits and misses, writes do not, as in Redis."""
    sequence = cmds(
        ("SET", "s", "abc"), ("SET", "n", "1"), ("GET", "s"), ("GET", "x"),
        ("STRLEN", "s"), ("STRLEN", "x"), ("GETRANGE", "s", "0", "1"),
        ("GETRANGE", "x", "0", "1"), ("SUBSTR", "s", "0", "1"),
        ("GETEX", "s"), ("GETEX", "x"), ("GETSET", "s", "abc"),
        ("GETSET", "y", "1"), ("MGET", "s", "x", "n"), ("INCR", "n"),
        ("INCR", "z"), ("INCRBYFLOAT", "n", "1"), ("APPEND", "s", "d"),
        ("APPEND", "w", "d"), ("SETRANGE", "s", "0", "x"),
        ("SETRANGE", "v", "0", "x"), ("SETNX", "s", "1"), ("SETNX", "u", "1"),
        ("MSETNX", "s", "1"), ("MSETNX", "t", "1"), ("SETEX", "s", "10", "v"),
        ("GETDEL", "s"), ("GETDEL", "s"), ("DECRBY", "n", "1"),
        ("SET", "n", "2", "GET"), ("SET", "q", "2", "NX"))
    results = []
    for path in (ref.unixsocket, ours.unixsocket):
        assert path
        prepare(path, [C("CONFIG", "RESETSTAT")])
        tmc_testlib.raw_exchange(path, sequence)
        stats = info_stats(path)
        results.append((stats["keyspace_hits"], stats["keyspace_misses"]))
    assert results[1] == results[0]


# ---- DELEX (Redis 8.4), on our server only ----

def run(path: str, *commands: Sequence[Arg]) -> List[Any]:
    """Send the commands on one connection and return their replies."""
    with tmc_testlib.connect(path) as s:
        s.sendall(cmds(*commands))
        values, _ = tmc_testlib.read_replies(s, len(commands))
    return values


def test_delex(ours: tmc_testlib.Server) -> None:
    """DELEX key [IFEQ value | IFNE value]: 1 if deleted, 0 if not."""
    path = ours.unixsocket
    assert path
    prepare(path, [C("SET", "k", "token"), C("SET", "b", b"a\x00b"),
                   C("SET", "t", "v", "EX", "100"), C("SET", "n", "10")])
    assert run(path,
               ("DELEX", "k", "IFEQ", "other"), ("EXISTS", "k"),
               ("DELEX", "k", "IFEQ", "toke"), ("DELEX", "k", "IFEQ", "tokens"),
               ("DELEX", "k", "IFNE", "token"), ("EXISTS", "k"),
               ("DELEX", "k", "IFEQ", "token"), ("EXISTS", "k"),
               ("DELEX", "k", "IFEQ", "token"), ("DELEX", "k", "IFNE", "x"),
               ("DELEX", "k"),
               ("DELEX", "b", "IFEQ", "a"), ("DELEX", "b", "ifeq", b"a\x00b"),
               ("DELEX", "t", "IfNe", "w"), ("EXISTS", "t"),
               ("DELEX", "n", "IFEQ", "010"), ("DELEX", "n", "IFEQ", "10"),
               ("SET", "e", ""), ("DELEX", "e", "IFNE", ""),
               ("DELEX", "e", "IFEQ", ""), ("DELEX", "e"),
               ("SET", "p", "v"), ("DELEX", "p"), ("DELEX", "p"),
               ("SET", "x", "1", "PXAT", "1"), ("DELEX", "x"),
               ("DELEX", "x", "IFNE", "2"), ("DBSIZE",)) == [
        0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0,
        0, 1, 1, 0, 0, 1, "OK", 0, 1, 0, "OK", 1, 0, "OK", 0, 0, 0]


def test_delex_errors(ours: tmc_testlib.Server) -> None:
    """DELEX's arity and syntax errors leave the key alone."""
    path = ours.unixsocket
    assert path
    prepare(path, [C("SET", "k", "v")])
    syntax = "ERR syntax error"
    assert run(path,
               ("DELEX",), ("DELEX", "k", "IFEQ"), ("DELEX", "k", "IFNE"),
               ("DELEX", "k", "IFEQ", "v", "x"), ("DELEX", "k", "BOGUS", "v"),
               ("DELEX", "k", "IFDEQ", "v"), ("DELEX", "k", "IFDNE", "0"),
               ("DELEX", "k", b"IFEQ\x00x", "x"), ("DELEX", "k", "IFEQ", "v", "IFNE", "v"),
               ("DELEX", "k", "v"), ("GET", "k")) == [
        "ERR wrong number of arguments for 'delex' command", syntax, syntax,
        syntax, syntax, syntax, syntax, 0, syntax, syntax, b"v"]


def test_delex_command_info(ours: tmc_testlib.Server) -> None:
    """COMMAND INFO describes DELEX with Redis 8.4's arity, flags and
    ACL categories."""
    path = ours.unixsocket
    assert path
    info = command(path, "COMMAND", "INFO", "delex")[0]
    assert info[:7] == [b"delex", -2, ["write", "fast"], 1, 1, 1,
                        ["@write", "@string", "@fast"]]


def test_delex_lock_release(ours: tmc_testlib.Server) -> None:
    """The lock pattern: only the holder's token releases the lock."""
    path = ours.unixsocket
    assert path
    prepare(path, [])
    assert run(path, ("SET", "lock", "owner-a", "NX", "PX", "100000"),
               ("SET", "lock", "owner-b", "NX", "PX", "100000"),
               ("DELEX", "lock", "IFEQ", "owner-b"),
               ("DELEX", "lock", "IFEQ", "owner-a"),
               ("SET", "lock", "owner-b", "NX", "PX", "100000"),
               ("GET", "lock")) == ["OK", None, 0, 1, "OK", b"owner-b"]
