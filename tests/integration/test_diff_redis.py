# SPDX-License-Identifier: MIT
"""Differential test: the same bytes to redis-server and to our server.

A reference redis-server ($REDIS_SERVER, default /usr/bin/redis-server)
and our server ($TMC_SERVER, once per event backend in $TMC_BACKENDS)
run for the whole module, each on a Unix socket (no port collisions).
Every case opens a fresh connection to each, sends the same byte
sequence (whole, or in small pieces with pauses), reads until the server
closes or goes quiet, and requires byte-identical replies and the same
closed/open state. The keyspace is flushed on both before each case.

Where Redis defines the same thing but not the same order, replies are
compared after normalising: KEYS (hash order) as sorted lists, CONFIG GET
with several parameters (hash order in Redis) as maps. Where the content
legitimately differs (INFO, COMMAND, HELLO's id, CLIENT LIST) the tests
at the end check structure instead, against Redis's own replies where
they can.

Without redis-server the module is skipped, except under CI=true, where
that is a failure.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from diffcase import (C, Case, bytewise, check_case, command,  # noqa: E402
                      exchange, prepare)


# ---- Cases ----

KEYSET = (
    C("SET", "alpha", "1"), C("SET", "beta", "2"), C("SET", "abc", "3"),
    C("SET", "axc", "4"), C("SET", "hello", "5"), C("SET", "hallo", "6"),
    C("SET", "h*llo", "7"), C("SET", "bx", "8"), C("SET", "cx", "9"),
    C("SET", b"bin\x00\xffkey", "10"), C("SET", "", "11"),
    C("SET", "job:1", "a"), C("SET", "job:22", "b"), C("SET", "JOB:3", "c"),
)

LONG = "x" * 200
CASES: List[Case] = [
    # -- GET / SET / GETDEL --
    Case("get-missing", C("GET", "nokey")),
    Case("set-then-get", C("SET", "k", "v") + C("GET", "k")),
    Case("get-arity-0", C("GET")),
    Case("get-arity-2", C("GET", "a", "b")),
    Case("set-arity-1", C("SET", "k")),
    Case("set-arity-0", C("SET")),
    Case("set-overwrite", C("SET", "k", "a") + C("SET", "k", "bbbb") +
         C("GET", "k")),
    Case("set-nx-xx", C("SET", "k", "1", "NX") + C("SET", "k", "2", "NX") +
         C("SET", "k", "3", "XX") + C("SET", "other", "4", "XX") +
         C("GET", "k") + C("GET", "other")),
    Case("set-get-option", C("SET", "k", "1", "GET") +
         C("SET", "k", "2", "GET") + C("GET", "k")),
    Case("set-nx-get", C("SET", "k", "1", "NX", "GET") +
         C("SET", "k", "2", "NX", "GET") + C("GET", "k")),
    Case("set-nx-and-xx", C("SET", "k", "1", "NX", "XX")),
    Case("set-bad-option", C("SET", "k", "1", "BOGUS") + C("GET", "k")),
    Case("set-expiry-options", b"".join(C("SET", "k", "v", *a) for a in (
        ("EX", "0"), ("EX", "-1"), ("EX", "abc"), ("EX", "9223372036854775807"),
        ("PX", "9223372036854775807"), ("EXAT", "9223372036854775807"),
        ("PXAT", "9223372036854775807"), ("EX", "10", "PX", "10"),
        ("EX", "10", "EX", "20"), ("KEEPTTL", "EX", "1"), ("EX",),
        ("EX", "9223372036854775"), ("PX", "9223372036854775000"),
        ("EXAT", "1.5"), ("KEEPTTL", "KEEPTTL"), ("PERSIST",),
        ("ex", "100", "get"), ("KEEPTTL",), (b"NX\x00x",), ("PXAT", "1"))) +
         C("GET", "k") + C("EXISTS", "k")),
    Case("set-option-case", C("SET", "k", "1", "nx") +
         C("set", "k", "2", "gEt")),
    Case("getdel-twice", C("SET", "k", "v") + C("GETDEL", "k") +
         C("GETDEL", "k") + C("GET", "k")),
    Case("getdel-arity", C("GETDEL") + C("GETDEL", "a", "b")),
    Case("mset-mget", C("MSET", "a", "1", "b", "", "a", "3") +
         C("MGET", "a", "b", "nosuch", "a") + C("DBSIZE")),
    Case("mset-mget-arity", C("MSET") + C("MSET", "a") +
         C("MSET", "a", "1", "b") + C("MGET") + C("GET", "a")),
    Case("mset-binary", C("MSET", b"k\x00\r\n", b"v\x00\xff") +
         C("MGET", b"k\x00\r\n")),
    Case("case-variants", C("set", "k", "v") + C("GeT", "k") +
         C("gEt", "k") + C("GETdel", "k") + C("pInG")),
    Case("binary-key-value", C("SET", b"k\x00\xff\r\n", b"v\x00\r\n\xfe") +
         C("GET", b"k\x00\xff\r\n") + C("EXISTS", b"k\x00\xff\r\n")),
    Case("empty-value", C("SET", "k", "") + C("GET", "k") +
         C("GETDEL", "k")),
    Case("empty-key", C("SET", "", "v") + C("GET", "") + C("DEL", "") +
         C("EXISTS", "")),
    Case("large-value", C("SET", "big", b"z" * 200000) + C("GET", "big")),
    # -- DEL / EXISTS / DBSIZE --
    Case("del-multiple-duplicates", C("SET", "a", "1") + C("SET", "b", "2") +
         C("DEL", "a", "b", "a", "c") + C("EXISTS", "a", "b")),
    Case("del-arity", C("DEL")),
    Case("exists-duplicates", C("SET", "a", "1") +
         C("EXISTS", "a", "a", "a", "b")),
    Case("exists-arity", C("EXISTS")),
    Case("dbsize", C("DBSIZE") + C("SET", "a", "1") + C("SET", "b", "1") +
         C("DBSIZE") + C("DEL", "a") + C("DBSIZE")),
    Case("dbsize-arity", C("DBSIZE", "x")),
    # -- KEYS (hash order: compared as sorted lists) --
    Case("keys-all", C("KEYS", "*"), mode="sorted", setup=KEYSET),
    Case("keys-prefix", C("KEYS", "a*") + C("KEYS", "job:*"),
         mode="sorted", setup=KEYSET),
    Case("keys-suffix", C("KEYS", "*x") + C("KEYS", "*llo"),
         mode="sorted", setup=KEYSET),
    Case("keys-question", C("KEYS", "a?c") + C("KEYS", "h?llo"),
         mode="sorted", setup=KEYSET),
    Case("keys-classes", C("KEYS", "[ab]*") + C("KEYS", "[^a]x") +
         C("KEYS", "[a-c]x") + C("KEYS", "h[ae]llo"),
         mode="sorted", setup=KEYSET),
    Case("keys-escape", C("KEYS", "h\\*llo") + C("KEYS", "h\\*") +
         C("KEYS", "\\a*"), mode="sorted", setup=KEYSET),
    Case("keys-empty-pattern", C("KEYS", "") + C("KEYS", "nomatch*"),
         mode="sorted", setup=KEYSET),
    Case("keys-binary", C("KEYS", b"bin\x00*") + C("KEYS", b"*\xff*"),
         mode="sorted", setup=KEYSET),
    Case("keys-case-sensitive", C("KEYS", "JOB*") + C("KEYS", "job*"),
         mode="sorted", setup=KEYSET),
    Case("keys-arity", C("KEYS") + C("KEYS", "a", "b")),
    # -- PING / ECHO --
    Case("ping", C("PING")),
    Case("ping-message", C("PING", "hello") + C("PING", "")),
    Case("ping-2-args", C("PING", "a", "b")),
    Case("echo", C("ECHO", "hi") + C("ECHO", "") + C("ECHO", b"\x00\xff")),
    Case("echo-arity", C("ECHO") + C("ECHO", "a", "b")),
    # -- SELECT --
    Case("select-0", C("SELECT", "0")),
    Case("select-out-of-range", C("SELECT", "1") + C("SELECT", "16") +
         C("SELECT", "-1")),
    Case("select-not-integer", C("SELECT", "abc") + C("SELECT", "") +
         C("SELECT", "01") + C("SELECT", "99999999999999999999")),
    Case("select-arity", C("SELECT") + C("SELECT", "0", "0")),
    # -- FLUSHDB / FLUSHALL --
    Case("flushdb", C("SET", "a", "1") + C("FLUSHDB") + C("DBSIZE")),
    Case("flushdb-async-sync", C("SET", "a", "1") + C("FLUSHDB", "ASYNC") +
         C("SET", "a", "1") + C("FLUSHDB", "sync") + C("DBSIZE")),
    Case("flushdb-bad-args", C("FLUSHDB", "bogus") +
         C("FLUSHDB", "ASYNC", "SYNC")),
    Case("flushall", C("SET", "a", "1") + C("FLUSHALL") + C("DBSIZE")),
    Case("flushall-async-sync", C("FLUSHALL", "ASYNC") +
         C("FLUSHALL", "SYNC")),
    Case("flushall-bad-args", C("FLUSHALL", "bogus") +
         C("FLUSHALL", "async", "x")),
    # -- QUIT --
    Case("quit", C("QUIT")),
    Case("quit-then-more", C("QUIT") + C("PING") + C("SET", "a", "1")),
    Case("quit-inline-then-more", b"QUIT\r\nPING\r\n"),
    Case("quit-with-args", C("QUIT", "now") + C("PING")),
    Case("pipeline-then-quit", C("SET", "a", "1") + C("GET", "a") +
         C("QUIT") + C("GET", "a")),
    # -- SHUTDOWN (only forms that do not stop either server) --
    Case("shutdown-abort", C("SHUTDOWN", "ABORT")),
    Case("shutdown-bad-args", C("SHUTDOWN", "bogus") +
         C("SHUTDOWN", "NOSAVE", "SAVE") + C("SHUTDOWN", "ABORT", "NOW")),
    # -- Unknown commands and error text truncation --
    Case("unknown", C("FOO")),
    Case("unknown-args", C("FOO", "a", "bb", "")),
    Case("unknown-long-name", C("F" * 300, "x")),
    Case("unknown-long-args", C("FOO", LONG, LONG)),
    Case("unknown-many-args", C("FOO", *["arg%d" % i for i in range(60)])),
    Case("unknown-crlf-args", C("FOO\r\nBAR", "a\r\nb", "c\nd\re")),
    Case("unknown-nul", C(b"FO\x00O", b"a\x00b")),
    Case("unknown-empty-name", C("", "x")),
    Case("unknown-inline", b"FOO bar baz\r\n"),
    Case("unknown-subcommands", C("CONFIG", "FOO") + C("CLIENT", "foo", "x") +
         C("COMMAND", "bogus") + C("config", "x" * 200)),
    Case("container-arity", C("CONFIG") + C("CLIENT")),
    Case("subcommand-arity", C("CONFIG", "GET") + C("CONFIG", "SET", "a") +
         C("CONFIG", "RESETSTAT", "x") + C("CLIENT", "ID", "x") +
         C("CLIENT", "SETNAME") + C("CLIENT", "GETNAME", "x") +
         C("CLIENT", "INFO", "x") + C("COMMAND", "COUNT", "x") +
         C("COMMAND", "HELP", "x") + C("CONFIG", "HELP", "x") +
         C("CLIENT", "HELP", "x")),
    # -- Inline commands --
    Case("inline-ping", b"PING\r\n"),
    Case("inline-lf-only", b"PING\nECHO hi\n"),
    Case("inline-spaces", b"   PING    \r\n  ECHO    a   \r\n"),
    Case("inline-tabs", b"ECHO\ta\tb\r\n"),
    Case("inline-quotes", b'SET k "hello world"\r\nGET k\r\n'
         b"ECHO 'single quoted'\r\n"),
    Case("inline-escapes", b'ECHO "a\\x41\\n\\t\\r\\b\\a\\\\\\"z"\r\n'
         b"ECHO 'it\\'s'\r\n"),
    Case("inline-bad-hex", b'ECHO "\\x4g"\r\nECHO "\\xZZ"\r\n'),
    Case("inline-unbalanced-double", b'ECHO "unterminated\r\nPING\r\n'),
    Case("inline-unbalanced-single", b"ECHO 'unterminated\r\nPING\r\n"),
    Case("inline-quote-then-char", b'ECHO "a"b\r\nPING\r\n'),
    Case("inline-quoted-nul", b'ECHO "a\\x00b"\r\n'),
    Case("inline-mixed-case", b"pInG\r\nEcHo Hi\r\n"),
    Case("inline-empty-quotes", b'ECHO ""\r\nECHO \'\'\r\n'),
    Case("inline-empty-lines", b"\r\n\r\n\n  \r\nPING\r\n"),
    Case("inline-non-utf8", b"ECHO \xff\xfe\x80\r\n"),
    Case("inline-arity-error", b"GET\r\nGET a b\r\n"),
    Case("inline-cr-only", b"PING\rPING\r\n"),
    # -- Pipelines --
    Case("pipeline-mixed", b"".join([
        C("SET", "a", "1"), b"GET a\r\n", C("SET", "b", ""), b"EXISTS a b c\r\n",
        C("DEL", "a"), b"PING\r\n", C("GETDEL", "b"), b"DBSIZE\r\n",
        C("ECHO", "x" * 1000), b"KEYS nomatch\r\n", C("NOPE"), b"GET a\r\n",
    ])),
    Case("pipeline-many", b"".join(C("SET", "k%d" % i, "v%d" % i) + C("GET", "k%d" % i)
                                   for i in range(300)) + C("DBSIZE")),
    Case("pipeline-inline-pings", b"PING\r\n" * 1000),
    Case("many-args", C("DEL", *["k%d" % i for i in range(3000)]) +
         C("EXISTS", *(["a"] * 2000)) + C("FOO", *(["y"] * 1500))),
    Case("pipeline-errors-continue", C("GET") + C("FOO") + C("SELECT", "9") +
         C("PING")),
    # -- Malformed protocol (Redis replies an error and closes) --
    Case("proto-mbulk-not-number", b"*abc\r\n" + C("PING")),
    Case("proto-mbulk-negative", b"*-1\r\n" + C("PING")),
    Case("proto-mbulk-minus-5", b"*-5\r\n" + C("PING")),
    Case("proto-mbulk-zero", b"*0\r\n" + C("PING")),
    Case("proto-mbulk-plus", b"*+1\r\n$4\r\nPING\r\n"),
    Case("proto-mbulk-leading-zero", b"*01\r\n$4\r\nPING\r\n"),
    Case("proto-mbulk-space", b"*1 \r\n$4\r\nPING\r\n"),
    Case("proto-mbulk-empty", b"*\r\n" + C("PING")),
    Case("proto-mbulk-huge", b"*3000000000\r\n" + C("PING")),
    Case("proto-mbulk-int-max-plus-1", b"*2147483648\r\n" + C("PING")),
    Case("proto-mbulk-llong-overflow", b"*99999999999999999999\r\n"),
    Case("proto-expected-dollar", b"*1\r\n:5\r\n"),
    Case("proto-expected-dollar-array", b"*1\r\n*1\r\n$4\r\nPING\r\n"),
    Case("proto-expected-dollar-2nd", b"*2\r\n$4\r\nECHO\r\n+hi\r\n"),
    Case("proto-empty-command-name", b"*1\r\n$0\r\n\r\n"),
    Case("proto-dollar-missing", b"*1\r\nPING\r\n"),
    Case("proto-bulk-not-number", b"*1\r\n$abc\r\nPING\r\n"),
    Case("proto-bulk-negative", b"*1\r\n$-1\r\n"),
    Case("proto-bulk-minus-5", b"*1\r\n$-5\r\nPING\r\n"),
    Case("proto-bulk-empty-len", b"*1\r\n$\r\n\r\n"),
    Case("proto-bulk-too-big", b"*1\r\n$999999999999\r\n"),
    Case("proto-bulk-over-max", b"*2\r\n$4\r\nECHO\r\n$536870913\r\n"),
    Case("proto-bulk-leading-zero", b"*1\r\n$04\r\nPING\r\n"),
    Case("proto-bulk-no-crlf", b"*1\r\n$4\r\nPINGxx\r\n" + C("PING")),
    Case("proto-error-after-good", C("SET", "a", "1") + b"*1\r\n$x\r\n" +
         C("GET", "a")),
    Case("proto-inline-too-big", b"a" * (64 * 1024 + 100), sentinel=False),
    Case("proto-mbulk-count-too-big", b"*" + b"1" * (64 * 1024 + 100),
         sentinel=False),
    Case("proto-bulk-count-too-big", b"*1\r\n$" + b"1" * (64 * 1024 + 100),
         sentinel=False),
    # -- Incomplete input: no reply, connection stays open --
    Case("partial-mbulk-header", b"*2\r\n$3\r\nGET\r\n", sentinel=False),
    Case("partial-bulk-body", b"*1\r\n$4\r\nPI", sentinel=False),
    Case("partial-inline", b"PING", sentinel=False),
    Case("partial-big-count", b"*1024\r\n", sentinel=False),
    Case("partial-after-complete", C("PING") + b"*1\r\n$4\r\nPI",
         sentinel=False),
    Case("mbulk-lf-only-waits", b"*1\n$4\nPING\n", sentinel=False),
    Case("nul-in-inline-waits", b"PI\x00NG\r\n", sentinel=False),
    Case("nul-in-header-waits", b"*1\x00\r\n$4\r\nPING\r\n", sentinel=False),
    Case("nul-in-bulk-header-waits", b"*1\r\n$4\x00\r\nPING\r\n",
         sentinel=False),
    Case("nul-in-bulk-body", C("SET", "k", b"a\x00b") + C("GET", "k")),
    # -- Requests in tiny writes --
    Case("bytewise-multibulk", bytewise(C("SET", "k", "hello") + C("GET", "k")),
         delay=0.001),
    Case("bytewise-inline", bytewise(b"ECHO 'a b'\r\nPING\r\n"), delay=0.001),
    Case("split-crlf", [b"PING\r", b"\nPING\r", b"\n"], delay=0.02),
    Case("split-bulk-crlf", [b"*1\r\n$4\r\nPING", b"\r", b"\n"], delay=0.02),
    Case("split-protocol-error", [b"*1\r\n$4\r\nPING\r\n*", b"x\r\n"],
         delay=0.02),
    Case("bytewise-quit", bytewise(b"QUIT\r\nPING\r\n"), delay=0.001),
    # -- CONFIG (errors and values both servers share) --
    Case("config-get-save", C("CONFIG", "GET", "save")),
    Case("config-get-appendonly", C("CONFIG", "GET", "appendonly")),
    # (maxclients differs: both lower it to fit the open-files limit, and
    # the select backend to fit FD_SETSIZE.)
    Case("config-get-shared", b"".join(C("CONFIG", "GET", p) for p in (
        "maxmemory", "maxmemory-policy", "timeout", "daemonize",
        "proto-max-bulk-len", "loglevel", "tcp-backlog", "databases"))),
    Case("config-get-as-given", C("CONFIG", "GET", "MAXMEMORY") +
         C("config", "get", "Timeout")),
    Case("config-get-globs", C("CONFIG", "GET", "appendonl?") +
         C("CONFIG", "GET", "sav[e]") + C("CONFIG", "GET", "MAXMEMORY-POLIC*")),
    Case("config-get-unknown", C("CONFIG", "GET", "nosuch") +
         C("CONFIG", "GET", "maxmemory\\") + C("CONFIG", "GET", "nosuch*")),
    Case("config-get-duplicates", C("CONFIG", "GET", "maxmemory",
                                    "MAXMEMORY", "maxmemor?")),
    Case("config-get-multi", C("CONFIG", "GET", "save", "appendonly") +
         C("CONFIG", "GET", "maxmemory", "maxmemory-policy", "save"),
         mode="map"),
    Case("config-set-errors", b"".join(C("CONFIG", "SET", *a) for a in (
        ("nosuch", "1"), ("maxclients", "10", "nosuch"),
        ("maxclients", "abc"), ("MAXCLIENTS", "abc"), ("daemonize", "yes"),
        ("DAEMONIZE", "yes"), ("loglevel", "bogus"),
        ("proto-max-bulk-len", "1"), ("proto-max-bulk-len", "1kb"),
        ("proto-max-bulk-len", "abc"), ("proto-max-bulk-len", "-5"),
        ("proto-max-bulk-len", ""), ("proto-max-bulk-len", "1.5mb"),
        ("maxclients", "-1"), ("maxclients", "0"),
        ("maxclients", "4294967296"), ("maxclients", "1e3"),
        ("maxclients", "010"), ("maxclients", "+10"),
        ("loglevel", "bogus", "maxclients", "abc"),
        ("maxclients", "abc", "loglevel", "bogus"),
        ("nosuch", "1", "loglevel", "debug"),
        ("loglevel", "debug", "loglevel", "notice"),
        ("loglevel", "debug", "LOGLEVEL", "notice"),
        ("maxclients", "10000", "maxclients", "10000"),
        (b"no\x00such", "1"), ("unixsocket", "/tmp/x"),
        ("unixsocketperm", "700"), ("databases", "1"),
        ("tcp-backlog", "1")))),
    Case("config-set-defaults", C("CONFIG", "SET", "loglevel", "notice") +
         C("CONFIG", "SET", "save", "") + C("CONFIG", "SET", "appendonly", "no") +
         C("CONFIG", "SET", "proto-max-bulk-len", "536870912") +
         C("CONFIG", "SET", "loglevel", "NOTICE", "save", "") +
         C("CONFIG", "GET", "loglevel")),
    Case("config-resetstat", C("CONFIG", "RESETSTAT")),
    # -- COMMAND (what both servers define the same way) --
    Case("command-info-shared", C("COMMAND", "INFO", "get", "getdel", "del",
                                  "exists", "keys", "dbsize", "ping", "echo",
                                  "quit", "select", "flushdb", "flushall",
                                  "shutdown", "info", "hello", "set",
                                  "mget", "mset", "auth")),
    Case("command-info-subcommands", C("COMMAND", "INFO", "config|get",
                                       "CONFIG|SET", "config|resetstat",
                                       "config|help", "client|setname",
                                       "client|getname", "client|id",
                                       "client|info", "client|list",
                                       "client|help", "command|count",
                                       "command|docs", "command|info",
                                       "command|list", "command|help")),
    Case("command-info-unknown", C("COMMAND", "INFO", "nosuch", "get|x",
                                   "config|", "config|get|x", "|get", "")),
    Case("command-docs-shared", C("COMMAND", "DOCS", "get", "getdel", "del",
                                  "exists", "keys", "dbsize", "ping", "echo",
                                  "quit", "select", "flushdb", "flushall",
                                  "shutdown", "info", "hello", "mget",
                                  "mset", "auth")),
    Case("command-docs-subcommands", C("COMMAND", "DOCS", "config|get",
                                       "config|set", "config|resetstat",
                                       "config|help", "client|setname",
                                       "client|getname", "client|id",
                                       "client|info", "client|list",
                                       "client|help", "command|count",
                                       "command|docs", "command|info",
                                       "command|list", "command|help")),
    Case("command-docs-unknown", C("COMMAND", "DOCS", "nosuch") +
         C("COMMAND", "DOCS", "nosuch", "GET", "nosuch2")),
    Case("command-list-errors", C("COMMAND", "LIST", "x") +
         C("COMMAND", "LIST", "FILTERBY") +
         C("COMMAND", "LIST", "FILTERBY", "bogus", "x") +
         C("COMMAND", "LIST", "FILTERBY", "MODULE", "x") +
         C("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch") +
         C("COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuch*")),
    # -- CLIENT --
    Case("client-setname-getname", C("CLIENT", "GETNAME") +
         C("CLIENT", "SETNAME", "worker-1") + C("CLIENT", "GETNAME") +
         C("CLIENT", "SETNAME", "") + C("CLIENT", "GETNAME")),
    Case("client-setname-invalid", b"".join(C("CLIENT", "SETNAME", n) for n in (
        "a b", "a\nb", b"a\x01b", b"a\x7fb", b"a\x80b", b"\x00", "~!"))
         + C("CLIENT", "GETNAME")),
    Case("client-setname-long", C("CLIENT", "SETNAME", "n" * 1000) +
         C("CLIENT", "GETNAME")),
    Case("client-setname-case", C("client", "SetName", "abc") +
         C("CLIENT", "getname")),
    Case("client-setname-arity", C("CLIENT", "SETNAME", "a", "b")),
    Case("client-list-errors", C("CLIENT", "LIST", "x") +
         C("CLIENT", "LIST", "TYPE", "bogus") +
         C("CLIENT", "LIST", "ID", "abc") + C("CLIENT", "LIST", "ID") +
         C("CLIENT", "LIST", "ID", "1", "x") +
         C("CLIENT", "LIST", "TYPE", "normal", "x")),
    Case("client-list-empty", C("CLIENT", "LIST", "TYPE", "pubsub") +
         C("CLIENT", "LIST", "type", "MASTER") +
         C("CLIENT", "LIST", "TYPE", "replica") +
         C("CLIENT", "LIST", "ID", "999999999")),
    # -- HELLO (errors; the full reply is checked below) --
    Case("hello-errors", b"".join(C("HELLO", *a) for a in (
        ("1",), ("4",), ("-1",), ("abc",), ("02",), ("2.0",), ("",),
        ("99999999999999999999",), ("2", "setname"), ("2", "setname", "a", "b"),
        ("2", "auth", "x"), ("2", "auth", "default"), ("2", "bogus"),
        ("2", "setname", "a b"), ("2", "auth", "nobody", "x"),
        ("1", "bogus")))),
    # -- INFO (where both are fixed) --
    Case("info-unknown-section", C("INFO", "nosuch") + C("INFO", "cpux")),
    Case("info-keyspace", C("INFO", "keyspace") + C("SET", "a", "1") +
         C("SET", "b", "2") + C("INFO", "KEYSPACE") +
         C("INFO", "keyspace", "nosuch")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_bytes(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server,
                    case: Case) -> None:
    """Our server answers the case exactly as Redis does."""
    check_case(ref, ours, case)


# ---- Structure where the content legitimately differs ----

INFO_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats",
                 "Replication", "CPU", "Cluster", "Keyspace"]
INFO_FIELDS = {
    "Server": ["redis_version", "tiny_mp_cache_version", "redis_mode", "os",
               "arch_bits", "multiplexing_api", "process_id", "run_id",
               "tcp_port", "uptime_in_seconds", "uptime_in_days", "hz"],
    "Clients": ["connected_clients", "maxclients", "blocked_clients"],
    "Memory": ["used_memory", "used_memory_human", "used_memory_rss",
               "used_memory_peak", "maxmemory", "maxmemory_policy",
               "mem_allocator"],
    "Stats": ["total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "total_net_input_bytes",
              "total_net_output_bytes", "rejected_connections",
              "keyspace_hits", "keyspace_misses", "expired_keys",
              "evicted_keys"],
    "Replication": ["role"],
    "Cluster": ["cluster_enabled"],
}


def parse_info(text: bytes) -> List[Tuple[str, Dict[str, str]]]:
    """INFO text as [(section, {field: value})], checking the framing."""
    assert text.endswith(b"\r\n") or text == b""
    sections: List[Tuple[str, Dict[str, str]]] = []
    for block in text.decode().split("\r\n\r\n"):
        lines = block.split("\r\n")
        if lines and lines[-1] == "":
            lines.pop()
        assert lines and lines[0].startswith("# "), block
        fields: Dict[str, str] = {}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            assert sep and key and key not in fields, line
            fields[key] = value
        sections.append((lines[0][2:], fields))
    return sections


def test_info_structure(ref: tmc_testlib.RedisServer,
                        ours: tmc_testlib.Server) -> None:
    """INFO: Redis's layout, our sections and the fields tools read."""
    path = ours.unixsocket
    assert path
    prepare(path, [C("SET", "a", "1"), C("GET", "a"), C("GET", "nokey")])
    info = parse_info(command(path, "INFO"))
    assert [name for name, _ in info] == INFO_SECTIONS
    fields = dict(info)
    for section, names in INFO_FIELDS.items():
        for name in names:
            assert name in fields[section], "%s: %s missing" % (section, name)
    server = fields["Server"]
    assert server["redis_version"] == "7.0.15"
    assert server["redis_mode"] == "standalone"
    assert server["multiplexing_api"] == ours.backend
    assert server["process_id"] == str(ours.proc.pid if ours.proc else 0)
    assert len(server["run_id"]) == 40
    assert int(server["uptime_in_seconds"]) >= 0
    assert int(fields["Clients"]["connected_clients"]) >= 1
    assert int(fields["Memory"]["used_memory"]) > 0
    assert fields["Memory"]["maxmemory_policy"] == "noeviction"
    stats = fields["Stats"]
    assert int(stats["keyspace_hits"]) >= 1
    assert int(stats["keyspace_misses"]) >= 1
    assert int(stats["total_commands_processed"]) >= 3
    assert fields["Replication"]["role"] == "master"
    assert fields["Keyspace"] == {"db0": "keys=1,expires=0,avg_ttl=0"}

    # The same shape as Redis's own INFO: each of our sections exists
    # there, in the same relative order.
    ref_names = [n for n, _ in parse_info(command(ref.unixsocket, "INFO"))]
    assert [n for n in ref_names if n in INFO_SECTIONS] == INFO_SECTIONS

    # Section selection: any case, several, repeated, default/all.
    one = parse_info(command(path, "INFO", "SERVER"))
    assert [n for n, _ in one] == ["Server"]
    two = parse_info(command(path, "info", "keyspace", "Server", "server"))
    assert [n for n, _ in two] == ["Server", "Keyspace"]
    assert [n for n, _ in parse_info(command(path, "INFO", "default"))] == \
        INFO_SECTIONS
    # "all" adds the statistics sections, in Redis's order.
    every = INFO_SECTIONS[:7] + ["Commandstats", "Errorstats"] + \
        INFO_SECTIONS[7:]
    for word in ("ALL", "everything"):
        assert [n for n, _ in parse_info(command(path, "INFO", word))] == \
            every
    ref_all = [n for n, _ in parse_info(command(ref.unixsocket, "INFO",
                                                "all"))]
    assert [n for n in ref_all if n in every] == every
    assert command(path, "INFO", "nosuch") == b""


def test_info_resetstat(ours: tmc_testlib.Server) -> None:
    """CONFIG RESETSTAT zeroes the counters INFO shows."""
    path = ours.unixsocket
    assert path
    prepare(path, [C("GET", "nokey")])
    assert command(path, "CONFIG", "RESETSTAT") == "OK"
    stats = dict(parse_info(command(path, "INFO", "stats")))["Stats"]
    assert stats["keyspace_misses"] == "0"
    assert stats["keyspace_hits"] == "0"
    # The INFO command itself may count; nothing from before does.
    assert int(stats["total_commands_processed"]) <= 2


def _strip_subcommands(entry: List[Any]) -> List[Any]:
    return entry[:9]


def test_command_info_matches_redis(ref: tmc_testlib.RedisServer,
                                    ours: tmc_testlib.Server) -> None:
    """Every command we have is described as Redis 7.0.15 describes it.

    COMMAND (all), COMMAND COUNT and COMMAND LIST agree with each other;
    each entry (subcommands also on their own) equals Redis's in all ten
    fields (arity, flags, key positions, ACL categories from the command
    table; tips and key specs from the documentation rows), except that
    containers list only our subcommands, and CLIENT SETINFO (Redis 7.2)
    and DELEX (Redis 8.4), unknown to Redis 7.0, are only well formed.
    Every difference is listed, not just the first.
    """
    newer = {b"client|setinfo", b"delex"}
    fields = ("name", "arity", "flags", "first key", "last key", "key step",
              "ACL categories", "tips", "key specs", "subcommands")
    path = ours.unixsocket
    assert path and ref.unixsocket
    everything = command(path, "COMMAND")
    count = command(path, "COMMAND", "COUNT")
    names = command(path, "COMMAND", "LIST")
    assert count == len(everything)
    assert len(command(path, "COMMAND", "INFO")) == count
    top = [e[0] for e in everything]
    assert len(set(top)) == len(top)
    expected = []
    for e in everything:
        expected.append(e[0])
        expected.extend(s[0] for s in e[9])
    assert sorted(names) == sorted(expected)
    for must in (b"get", b"set", b"getdel", b"del", b"keys", b"dbsize",
                 b"ping", b"command", b"config", b"client", b"info",
                 b"hello", b"config|get", b"client|setname"):
        assert must in names

    def flat_map(value: Any, keys: Tuple[str, ...]) -> Dict[bytes, Any]:
        assert isinstance(value, list) and value[0::2] == [k.encode() for k in keys], value
        return dict(zip(value[0::2], value[1::2]))

    def well_formed_spec(spec: List[Any]) -> None:
        keys = ("notes",) * (spec[0] == b"notes") + ("flags", "begin_search", "find_keys")
        m = flat_map(spec, keys)
        assert isinstance(m.get(b"notes", b""), bytes)
        assert m[b"flags"] and all(isinstance(f, str) for f in m[b"flags"])
        begin = flat_map(m[b"begin_search"], ("type", "spec"))
        find = flat_map(m[b"find_keys"], ("type", "spec"))
        begin_keys = {b"index": ("index",), b"keyword": ("keyword", "startfrom"),
                      b"unknown": ()}[begin[b"type"]]
        find_keys = {b"range": ("lastkey", "keystep", "limit"),
                     b"keynum": ("keynumidx", "firstkey", "keystep"),
                     b"unknown": ()}[find[b"type"]]
        flat_map(begin[b"spec"], begin_keys)
        flat_map(find[b"spec"], find_keys)

    problems: List[str] = []
    for name in names:
        mine: Optional[List[Any]] = command(path, "COMMAND", "INFO", name)[0]
        theirs: Optional[List[Any]] = command(ref.unixsocket, "COMMAND", "INFO", name)[0]
        assert mine is not None and len(mine) == 10 and mine[0] == name, mine
        if name in newer:
            assert theirs is None, name
            assert isinstance(mine[1], int) and mine[1] != 0
            assert all(isinstance(v, str) for v in mine[2] + mine[6]), mine
            assert all(isinstance(v, int) for v in mine[3:6]), mine
            assert all(isinstance(v, bytes) for v in mine[7]), mine
            for spec in mine[8]:
                well_formed_spec(spec)
            continue
        assert theirs is not None, name
        for field, a, b in zip(fields, _strip_subcommands(mine), _strip_subcommands(theirs)):
            if a != b:
                problems.append("%s: %s: ours %r, Redis %r" % (name.decode(), field, a, b))
        theirs_subs = {s[0] for s in theirs[9]}
        for sub in mine[9]:
            if sub[0] not in theirs_subs and sub[0] not in newer:
                problems.append("%s: Redis has no subcommand %r" % (name.decode(), sub[0]))
    assert not problems, "COMMAND INFO differs from Redis 7.0:\n" + "\n".join(problems)


def test_command_list_filters(ref: tmc_testlib.RedisServer,
                              ours: tmc_testlib.Server) -> None:
    """COMMAND LIST FILTERBY picks what Redis picks, among our commands."""
    assert ours.unixsocket and ref.unixsocket
    everything = set(command(ours.unixsocket, "COMMAND", "LIST"))
    for kind, value in (("ACLCAT", "connection"), ("aclcat", "READ"),
                        ("ACLCAT", "dangerous"), ("PATTERN", "c*"),
                        ("pattern", "*|*"), ("PATTERN", "GET*"),
                        ("PATTERN", "[cd]?[ln]*"), ("MODULE", "x")):
        mine = command(ours.unixsocket, "COMMAND", "LIST", "FILTERBY",
                       kind, value)
        theirs = command(ref.unixsocket, "COMMAND", "LIST", "FILTERBY",
                         kind, value)
        assert len(set(mine)) == len(mine)
        expected = (set(theirs) & everything) | (
            {b"client|setinfo", b"delex"} & set(mine))
        assert set(mine) == expected, (kind, value)


def test_command_docs_matches_redis(ref: tmc_testlib.RedisServer,
                                    ours: tmc_testlib.Server) -> None:
    """COMMAND DOCS: Redis 7.0.15's documentation for what we implement.

    COMMAND DOCS lists every command once, with its subcommands nested.
    Every command and subcommand has documentation; each equals Redis's,
    field for field (all arguments, nested ones too), except that
    containers list only our subcommands, and CLIENT SETINFO (Redis 7.2)
    and DELEX (Redis 8.4), unknown to Redis 7.0, are only well formed:
    fields in Redis's order, argument types and flags Redis knows, each
    key_spec_index naming one of the command's key specs. (That every
    documentation row names a command of the table is the unit test
    test_command_docs's.)
    """
    newer = {b"client|setinfo", b"delex"}
    doc_keys = ("summary", "since", "group", "complexity", "doc_flags",
                "deprecated_since", "replaced_by", "history", "arguments",
                "subcommands")
    arg_keys = ("name", "type", "key_spec_index", "token", "since",
                "deprecated_since", "flags", "arguments")
    arg_types = {b"string", b"integer", b"double", b"key", b"pattern",
                 b"unix-time", b"pure-token", b"oneof", b"block"}
    path = ours.unixsocket
    assert path and ref.unixsocket
    docs = command(path, "COMMAND", "DOCS")
    assert len(docs) == 2 * command(path, "COMMAND", "COUNT")
    names = command(path, "COMMAND", "LIST")
    top = dict(zip(docs[0::2], docs[1::2]))
    assert len(top) == len(docs) // 2
    assert set(top) == {n for n in names if b"|" not in n}

    def as_map(flat: List[Any], allowed: Tuple[str, ...]) -> Dict[bytes, Any]:
        keys = [k.decode() for k in flat[0::2]]
        assert keys == [k for k in allowed if k in keys], keys
        return dict(zip(flat[0::2], flat[1::2]))

    def well_formed_args(args: List[Any], nspecs: int) -> None:
        for arg in args:
            a = as_map(arg, arg_keys)
            assert isinstance(a[b"name"], bytes) and a[b"type"] in arg_types, a
            assert 0 <= a.get(b"key_spec_index", 0) < max(nspecs, 1), a
            assert a[b"type"] != b"key" or b"key_spec_index" in a, a
            assert set(a.get(b"flags", [])) <= {"optional", "multiple",
                                                "multiple_token"}, a
            assert (b"arguments" in a) == (a[b"type"] in (b"oneof", b"block")), a
            if b"arguments" in a:
                assert a[b"arguments"], a
                well_formed_args(a[b"arguments"], nspecs)

    problems: List[str] = []
    for name in names:
        mine = command(path, "COMMAND", "DOCS", name)
        theirs = command(ref.unixsocket, "COMMAND", "DOCS", name)
        assert len(mine) == 2 and mine[0] == name, (name, mine)
        d = as_map(mine[1], doc_keys)
        if b"|" not in name:
            assert mine[1] == top[name], name
        if not all(isinstance(d.get(f), bytes) for f in (b"summary", b"since", b"group")):
            problems.append("%s: no documentation (%r)" % (name.decode(), mine[1]))
            continue
        if name in newer:
            assert isinstance(d.get(b"complexity"), bytes), name
            assert theirs == [], name
            info = command(path, "COMMAND", "INFO", name)[0]
            well_formed_args(d.get(b"arguments", []), len(info[8]))
            continue
        assert len(theirs) == 2, name
        r = as_map(theirs[1], doc_keys)
        if b"subcommands" in d:
            subs = d.pop(b"subcommands")
            ref_subs = r.pop(b"subcommands")[0::2]
            for sub, sub_doc in zip(subs[0::2], subs[1::2]):
                assert [sub, sub_doc] == command(path, "COMMAND", "DOCS", sub), sub
                if sub not in ref_subs and sub not in newer:
                    problems.append("%s: Redis has no subcommand %r" % (name.decode(), sub))
        if list(d) != list(r):
            problems.append("%s: fields %r, Redis %r" % (name.decode(), list(d), list(r)))
        for key in d:
            if key in r and d[key] != r[key]:
                problems.append("%s: %s: ours %r, Redis %r"
                                % (name.decode(), key.decode(), d[key], r[key]))
    assert not problems, "COMMAND DOCS differs from Redis 7.0:\n" + "\n".join(problems)


def test_command_help_subset(ref: tmc_testlib.RedisServer,
                             ours: tmc_testlib.Server) -> None:
    """HELP texts are Redis's lines for the subcommands we have."""
    assert ours.unixsocket and ref.unixsocket
    setinfo = ["SETINFO <option> <value>", "    Set client meta attr. Options are:",
               "    * LIB-NAME: the client lib name.",
               "    * LIB-VER: the client lib version."]
    for container in ("COMMAND", "CONFIG", "CLIENT"):
        mine = command(ours.unixsocket, container, "HELP")
        theirs = command(ref.unixsocket, container, "HELP")
        assert mine[0] == theirs[0] and mine[-2:] == theirs[-2:]
        lines = [m for m in mine if m not in setinfo]
        it = iter(theirs)
        assert all(any(line == t for t in it) for line in lines), container


def test_hello(ref: tmc_testlib.RedisServer, ours: tmc_testlib.Server) -> None:
    """HELLO [2] replies as Redis does (but for the id); HELLO 3 is refused."""
    assert ours.unixsocket and ref.unixsocket
    for args in ((), ("2",), ("2", "SETNAME", "w1"),
                 ("2", "AUTH", "default", "secret"),
                 ("2", "auth", "default", "x", "setname", "w2")):
        mine = command(ours.unixsocket, "HELLO", *args)
        theirs = command(ref.unixsocket, "HELLO", *args)
        assert isinstance(mine, list) and len(mine) == 14
        i = mine.index(b"id")
        assert isinstance(mine[i + 1], int) and mine[i + 1] > 0
        mine[i + 1] = theirs[i + 1]
        assert mine == theirs, args
    assert command(ours.unixsocket, "HELLO", "3") == \
        "NOPROTO unsupported protocol version"
    # SETNAME applies to the connection HELLO came on.
    with tmc_testlib.connect(ours.unixsocket) as s:
        s.sendall(C("HELLO", "2", "SETNAME", "named") + C("CLIENT", "GETNAME") +
                  C("CLIENT", "ID"))
        values, _ = tmc_testlib.read_replies(s, 3)
    assert values[1] == b"named"
    assert values[0][values[0].index(b"id") + 1] == values[2]


# Redis 7.0's CLIENT LIST fields, in order; we add 7.2's lib-name/lib-ver.
CLIENT_FIELDS_70 = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags",
                    "db", "sub", "psub", "ssub", "multi", "qbuf", "qbuf-free",
                    "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem",
                    "tot-mem", "events", "cmd", "user", "redir", "resp"]


def parse_client_line(line: str) -> List[Tuple[str, str]]:
    pairs = []
    for item in line.split(" "):
        key, sep, value = item.partition("=")
        assert sep, item
        pairs.append((key, value))
    return pairs


def test_client_list_structure(ref: tmc_testlib.RedisServer,
                               ours: tmc_testlib.Server) -> None:
    """CLIENT LIST / INFO / ID: Redis's line format, one line per client."""
    assert ours.unixsocket and ref.unixsocket
    ref_line = command(ref.unixsocket, "CLIENT", "INFO").decode()
    assert [k for k, _ in parse_client_line(ref_line.rstrip("\n"))] == \
        CLIENT_FIELDS_70
    others = [tmc_testlib.connect(ours.unixsocket) for _ in range(3)]
    try:
        with tmc_testlib.connect(ours.unixsocket) as s:
            s.sendall(C("CLIENT", "SETNAME", "lister") +
                      C("CLIENT", "SETINFO", "LIB-NAME", "tmc-test") +
                      C("CLIENT", "SETINFO", "lib-ver", "1.2.3") +
                      C("CLIENT", "ID") + C("CLIENT", "INFO") +
                      C("CLIENT", "LIST") + C("CLIENT", "LIST", "TYPE", "normal"))
            values, _ = tmc_testlib.read_replies(s, 7)
    finally:
        for o in others:
            o.close()
    assert values[:3] == ["OK", "OK", "OK"]
    my_id = values[3]
    info = values[4].decode()
    assert info.endswith("\n") and info.count("\n") == 1
    fields = parse_client_line(info.rstrip("\n"))
    assert [k for k, _ in fields] == CLIENT_FIELDS_70 + ["lib-name", "lib-ver"]
    f = dict(fields)
    assert f["id"] == str(my_id)
    assert f["name"] == "lister"
    assert f["addr"] == ours.unixsocket + ":0"
    assert f["flags"] == "U"
    assert f["db"] == "0"
    assert f["cmd"] == "client|info"
    assert f["user"] == "default" and f["resp"] == "2"
    assert f["lib-name"] == "tmc-test" and f["lib-ver"] == "1.2.3"
    for listing in (values[5].decode(), values[6].decode()):
        lines = listing.rstrip("\n").split("\n")
        assert listing.endswith("\n") and len(lines) >= 4
        ids = [int(dict(parse_client_line(l))["id"]) for l in lines]
        assert ids == sorted(ids), "oldest first"
        assert my_id in ids


def test_client_setinfo(ours: tmc_testlib.Server) -> None:
    """CLIENT SETINFO (Redis 7.2's, absent from 7.0): checks and errors."""
    path = ours.unixsocket
    assert path
    assert command(path, "CLIENT", "SETINFO", "lib-name", "redis-py") == "OK"
    assert command(path, "CLIENT", "SETINFO", "bogus", "x") == \
        "ERR Unrecognized option 'bogus'"
    assert command(path, "CLIENT", "SETINFO", "LIB-VER", "1 0") == \
        "ERR LIB-VER cannot contain spaces, newlines or special characters."
    assert command(path, "CLIENT", "SETINFO", "lib-name") == \
        "ERR wrong number of arguments for 'client|setinfo' command"


def test_config_get_ours(ours: tmc_testlib.Server) -> None:
    """CONFIG GET: the values tools read, globs, and what CONFIG SET changes."""
    path = ours.unixsocket
    assert path
    got = command(path, "CONFIG", "GET", "*")
    conf = dict(zip(got[0::2], got[1::2]))
    assert len(conf) * 2 == len(got)
    assert conf[b"save"] == b"" and conf[b"appendonly"] == b"no"
    assert conf[b"unixsocket"] == path.encode()
    assert conf[b"databases"] == b"1"
    assert conf[b"maxmemory-policy"] == b"noeviction"
    for name in (b"port", b"bind", b"unixsocketperm", b"maxclients",
                 b"proto-max-bulk-len", b"loglevel", b"timeout",
                 b"tcp-keepalive", b"maxmemory"):
        assert name in conf
    old = conf[b"maxclients"]
    assert command(path, "CONFIG", "SET", "maxclients", "100",
                   "loglevel", "warning") == "OK"
    assert command(path, "CONFIG", "GET", "maxclients") == [b"maxclients", b"100"]
    assert command(path, "CONFIG", "GET", "loglevel") == [b"loglevel", b"warning"]
    assert command(path, "CONFIG", "SET", "maxclients", old,
                   "loglevel", "notice") == "OK"
    assert command(path, "CONFIG", "SET", "maxclients", "999999999") == (
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
        "The event loop API used by the server is not able to handle the "
        "specified number of clients")
    assert command(path, "CONFIG", "GET", "maxclients") == [b"maxclients", old]
    # A smaller proto-max-bulk-len applies to new requests at once.
    assert command(path, "CONFIG", "SET", "proto-max-bulk-len", "1mb") == "OK"
    try:
        out, closed = exchange(path, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n",
                               sentinel=False)
        assert out == b"-ERR Protocol error: invalid bulk length\r\n"
        assert closed
    finally:
        assert command(path, "CONFIG", "SET", "proto-max-bulk-len",
                       "512mb") == "OK"
