# SPDX-License-Identifier: MIT
"""The append-only file (issue 11), against redis-server 7.0.

- The settings read and refuse as Redis 7.0's (CONFIG GET / SET).
- A fresh start makes the files redis-server 7.0 makes (names, the
  manifest's bytes, an empty base), and the same commands write the same
  incremental file, byte for byte (relative TTLs as PXAT/PEXPIREAT,
  blocking pops as plain pops, INCRBYFLOAT as SET, expired keys as DEL,
  MULTI/EXEC around a transaction).
- A restart brings every key, value and TTL back; popped items stay
  popped. redis-server loads a directory we wrote, and we load one it
  wrote (aof-use-rdb-preamble no).
- Damaged files: a torn tail cut at every byte offset of the last record
  loads without it (and the file is cut); with aof-load-truncated no, or
  a record broken in the middle, the start is refused with the file and
  the offset; a missing or garbled manifest, and an RDB base, are refused
  with a message that says what to do.
- Group commit: with appendfsync always, SIGKILL right after acknowledged
  writes loses none of them; a write error (a file-size limit) refuses
  writes with Redis's MISCONF text while reads go on, holds the reply of
  the write that hit it, and recovers by itself once the disk takes data.
- tiny-mp-cache-check-aof finds a torn tail and a broken record, and cuts
  the tail with --fix.
- BGREWRITEAOF (with appendonly yes or no), CONFIG SET appendonly yes at
  run time and the automatic rewrite: a new base from a forked child, a
  new incremental file, the manifest swapped and the old files removed;
  the data survives a restart, redis-server and redis-check-aof accept
  the directory, and it works inside a Python process.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from diffcase import C, Case, check_case  # noqa: E402
from tmc_testlib import RedisServer, Server, ServerError  # noqa: E402

tmc_testlib.require_module("redis")
import redis  # noqa: E402

VALGRIND = tmc_testlib.valgrind_enabled()
DIRNAME = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"
BASE = "appendonly.aof.1.base.aof"
INCR = "appendonly.aof.1.incr.aof"
FAR = 4102444800000          # 2100-01-01 in ms: an absolute time to come

# (key type, value, pttl) for each key; pttl -1 without a TTL.
Dump = Dict[bytes, Tuple[str, object, int]]


# ---- Helpers ----

def aof_args(data_dir: str, *more: str) -> List[str]:
    """Our server's arguments for appendonly yes in data_dir."""
    return ["--appendonly", "yes", "--dir", data_dir] + list(more)


def redis_aof_args(data_dir: str) -> List[str]:
    """redis-server's arguments for an AOF it and we both read."""
    return ["--appendonly", "yes", "--aof-use-rdb-preamble", "no",
            "--dir", data_dir]


def client(srv: tmc_testlib._Process) -> "redis.Redis":
    """A redis-py client on the server's Unix socket."""
    assert srv.unixsocket
    return redis.Redis(unix_socket_path=srv.unixsocket, socket_timeout=30)


def dump(r: "redis.Redis") -> Dump:
    """Every key with its type, value and PTTL."""
    out: Dump = {}
    for key in r.keys("*"):
        kind = r.type(key).decode()
        if kind == "string":
            value: object = r.get(key)
        elif kind == "list":
            value = r.lrange(key, 0, -1)
        else:
            raise AssertionError("unexpected type %s" % kind)
        out[key] = (kind, value, r.pttl(key))
    return out


def same_data(a: Dump, b: Dump, slack_ms: int = 10000) -> None:
    """Assert a and b hold the same keys and values, and TTLs within
    slack_ms of each other (they were read at different times)."""
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key][:2] == b[key][:2], key
        ta, tb = a[key][2], b[key][2]
        assert (ta == -1) == (tb == -1), (key, ta, tb)
        assert abs(ta - tb) <= slack_ms, (key, ta, tb)


def fill(r: "redis.Redis") -> None:
    """A bit of everything the issue names: strings with and without
    TTLs, lists, pops, INCRBYFLOAT, a transaction, a deleted key."""
    r.set("plain", "v1")
    r.set("ttl-ex", "v2", ex=1000)
    r.set("ttl-px", b"\x00bin\r\n", px=2000000)
    r.set("gone", "x")
    r.delete("gone")
    r.set("counter", 10)
    r.incr("counter")
    r.incrbyfloat("float", "1.5")
    r.incrbyfloat("float", "0.25")
    r.rpush("list", "a", "b", "c", "d", "e")
    r.lpop("list")
    r.rpop("list", 2)
    r.expire("list", 5000)
    pipe = r.pipeline(transaction=True)
    pipe.set("tx1", "1")
    pipe.lpush("tx-list", "x", "y")
    pipe.execute()
    r.set("short", "s", px=1)
    time.sleep(0.01)
    assert r.get("short") is None           # expired: logged as DEL


def start_ours(data_dir: str, *more: str,
               backend: Optional[str] = None) -> Server:
    """Our server with appendonly yes in data_dir, on a Unix socket."""
    return Server(backend=backend, unixsocket=True,
                  args=aof_args(data_dir, *more))


def start_fails(data_dir: str, *more: str) -> str:
    """Start our server on data_dir expecting a refusal: its output."""
    with pytest.raises(ServerError) as info:
        Server(unixsocket=True, args=aof_args(data_dir, *more))
    return str(info.value)


def check_aof(*args: str) -> Tuple[str, int]:
    """Run tiny-mp-cache-check-aof (next to the server): its output and
    exit code."""
    tool = os.path.join(os.path.dirname(tmc_testlib.server_path()),
                        "tiny-mp-cache-check-aof")
    argv = [tool] + list(args)
    if VALGRIND:
        argv = tmc_testlib.VALGRIND_ARGS + argv
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return p.stdout.decode("utf-8", "replace"), p.returncode


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def resp(*args: str) -> bytes:
    """A command as it stands in the AOF."""
    return tmc_testlib.encode_command(*args)


@pytest.fixture
def data_dir(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return str(tmp_path)


# ---- Settings ----

SETTINGS = ["appendonly", "appendfsync", "appenddirname", "appendfilename",
            "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
            "aof-load-truncated"]

CASES = [
    Case("config-get-aof", C("CONFIG", "GET", *SETTINGS), mode="map"),
    Case("config-set-aof-bad", C("CONFIG", "SET", "appendfsync", "sometimes") +
         C("CONFIG", "SET", "appendfsync", "") +
         C("CONFIG", "SET", "appenddirname", "x") +
         C("CONFIG", "SET", "appendfilename", "y") +
         C("CONFIG", "SET", "auto-aof-rewrite-percentage", "-1") +
         C("CONFIG", "SET", "auto-aof-rewrite-percentage", "2147483648") +
         C("CONFIG", "SET", "auto-aof-rewrite-min-size", "-1") +
         C("CONFIG", "SET", "auto-aof-rewrite-min-size", "1x") +
         C("CONFIG", "SET", "aof-load-truncated", "maybe") +
         C("CONFIG", "SET", "appendonly", "maybe") +
         C("CONFIG", "SET", "dir", "/tmp")),
    Case("config-set-aof-good",
         C("CONFIG", "SET", "appendfsync", "ALWAYS") +
         C("CONFIG", "GET", "appendfsync") +
         C("CONFIG", "SET", "appendfsync", "no") +
         C("CONFIG", "GET", "appendfsync") +
         C("CONFIG", "SET", "appendfsync", "everysec") +
         C("CONFIG", "SET", "auto-aof-rewrite-percentage", "0") +
         C("CONFIG", "GET", "auto-aof-rewrite-percentage") +
         C("CONFIG", "SET", "auto-aof-rewrite-percentage", "100") +
         C("CONFIG", "SET", "auto-aof-rewrite-min-size", "1gb") +
         C("CONFIG", "GET", "auto-aof-rewrite-min-size") +
         C("CONFIG", "SET", "auto-aof-rewrite-min-size", "64mb") +
         C("CONFIG", "SET", "aof-load-truncated", "no") +
         C("CONFIG", "GET", "aof-load-truncated") +
         C("CONFIG", "SET", "aof-load-truncated", "yes") +
         C("CONFIG", "SET", "appendonly", "no")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_settings_same_bytes(ref, ours, case) -> None:  # type: ignore[no-untyped-def]
    check_case(ref, ours, case)


def test_bad_names_refused(data_dir: str) -> None:
    """appenddirname and appendfilename are names, not paths (Redis's
    words); a missing dir is refused as Redis refuses it."""
    out = start_fails(data_dir, "--appenddirname", "a/b")
    assert "appenddirname can't be a path, just a dirname" in out
    out = start_fails(data_dir, "--appendfilename", "../x")
    assert "appendfilename can't be a path, just a filename" in out
    out = start_fails(os.path.join(data_dir, "missing"))
    assert "Can't chdir to '%s'" % os.path.join(data_dir, "missing") in out


def info_fields(srv: tmc_testlib._Process) -> List[str]:
    """The field names of INFO persistence, in order."""
    assert srv.unixsocket
    out = tmc_testlib.raw_exchange(srv.unixsocket, resp("INFO", "persistence"))
    parsed = tmc_testlib.parse_reply(out)
    assert parsed is not None
    text = parsed[0].decode()
    return [line.split(":", 1)[0] for line in text.splitlines()
            if ":" in line]


def test_info_persistence_fields_like_redis(data_dir: str) -> None:
    """INFO persistence has Redis 7.0.15's fields in its order, with
    appendonly no and yes (which adds the aof_* sizes)."""
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    ref_dir = os.path.join(data_dir, "ref")
    os.mkdir(ref_dir)
    with RedisServer() as ref, Server(unixsocket=True) as srv:
        assert info_fields(srv) == info_fields(ref)
    with RedisServer(args=redis_aof_args(ref_dir)) as ref, \
            start_ours(data_dir) as srv:
        want = info_fields(ref)
        assert "aof_buffer_length" in want
        assert info_fields(srv) == want


# ---- Files, as redis-server writes them ----

def run_script(r: "redis.Redis", other: "redis.Redis", soon_at: int) -> None:
    """Commands whose records must match redis-server's byte for byte
    (absolute times only, so both log the same numbers; soon_at, in ms,
    is in the near future)."""
    r.set("a", "1")
    r.execute_command("SET", "b", "2", "PXAT", FAR)
    r.execute_command("SET", "c", "3", "EXAT", FAR // 1000)
    r.execute_command("EXPIREAT", "a", FAR // 1000)
    r.persist("a")
    r.rpush("l", "x", "y", "z")
    r.lpop("l")
    r.execute_command("BLPOP", "l", "0")          # served at once
    r.execute_command("BRPOPLPUSH", "l", "l2", "0")
    r.incrbyfloat("f", "2.5")
    r.incrbyfloat("f", "0.25")      # exact in binary (valgrind: no x87)
    r.execute_command("GETEX", "c", "PXAT", FAR + 1)
    r.delete("b")
    r.set("g", "job")
    assert r.getdel("g") == b"job"                 # logged as DEL
    assert r.getdel("g") is None                   # nothing logged
    r.mset({"m1": "1", "m2": "2"})
    pipe = r.pipeline(transaction=True)
    pipe.incr("n")
    pipe.get("a")
    pipe.rpush("l3", "q")
    pipe.execute()
    pipe = r.pipeline(transaction=True)
    pipe.get("a")
    pipe.execute()                                  # no write: no MULTI
    r.execute_command("SET", "old", "v", "PXAT", 1)  # in the past
    assert r.get("old") is None                     # DEL, at once
    if not VALGRIND:          # too slow there to be on time for it
        r.execute_command("SET", "soon", "v", "PXAT", soon_at)
        time.sleep(max(0.0, soon_at / 1000 - time.time()) + 0.01)
        assert r.get("soon") is None
    # A pop served to a client that was waiting (the push wakes it).
    waiter = other.connection_pool.get_connection("BLPOP")
    try:
        waiter.send_command("BLPOP", "wait", "0")
        time.sleep(0.2)
        r.rpush("wait", "job")
        assert waiter.read_response() == [b"wait", b"job"]
    finally:
        other.connection_pool.release(waiter)
    r.delete("a", "nosuch")
    r.flushall()
    r.set("after", "flush")


def test_files_match_redis(data_dir: str) -> None:
    """Fresh directories and the records of the same commands are the
    bytes redis-server 7.0 writes."""
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    ours_dir = os.path.join(data_dir, "ours")
    ref_dir = os.path.join(data_dir, "ref")
    os.mkdir(ours_dir)
    os.mkdir(ref_dir)
    soon_at = int(time.time() * 1000) + 1500
    with RedisServer(args=redis_aof_args(ref_dir)) as ref:
        rr = client(ref)
        run_script(rr, client(ref), soon_at)
        rr.close()
    with start_ours(ours_dir) as srv:
        r = client(srv)
        run_script(r, client(srv), soon_at)
        r.close()
    for d in (ours_dir, ref_dir):
        assert sorted(os.listdir(os.path.join(d, DIRNAME))) == \
            [BASE, INCR, MANIFEST]
    want = read(os.path.join(ref_dir, DIRNAME, MANIFEST))
    assert want == ("file %s seq 1 type b\nfile %s seq 1 type i\n"
                    % (BASE, INCR)).encode()
    assert read(os.path.join(ours_dir, DIRNAME, MANIFEST)) == want
    assert read(os.path.join(ours_dir, DIRNAME, BASE)) == b""
    assert read(os.path.join(ref_dir, DIRNAME, BASE)) == b""
    ours_incr = read(os.path.join(ours_dir, DIRNAME, INCR))
    ref_incr = read(os.path.join(ref_dir, DIRNAME, INCR))
    assert ours_incr.startswith(resp("SELECT", "0"))
    assert b"BLPOP" not in ours_incr.upper()
    assert b"INCRBYFLOAT" not in ours_incr.upper()
    assert ours_incr == ref_incr


# ---- Restart, and moving between servers ----

def test_restart_keeps_everything(data_dir: str, backend: str) -> None:
    with start_ours(data_dir, backend=backend) as srv:
        r = client(srv)
        fill(r)
        before = dump(r)
        r.close()
    assert b"list" in before and before[b"list"][1] == [b"b", b"c"]
    with start_ours(data_dir, backend=backend) as srv:
        r = client(srv)
        same_data(before, dump(r))
        # The second start appended after the first's records.
        r.set("second", "run")
        r.close()
    with start_ours(data_dir, backend=backend) as srv:
        r = client(srv)
        assert r.get("second") == b"run"
        same_data(before, {k: v for k, v in dump(r).items()
                           if k != b"second"})
        info = r.info("persistence")
        assert info["aof_enabled"] == 1 and info["loading"] == 0
        assert info["aof_last_write_status"] == "ok"
        assert info["aof_current_size"] == os.path.getsize(
            os.path.join(data_dir, DIRNAME, INCR))
        r.close()


def test_redis_loads_our_directory(data_dir: str) -> None:
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    with start_ours(data_dir) as srv:
        r = client(srv)
        fill(r)
        ours = dump(r)
        r.close()
    with RedisServer(args=redis_aof_args(data_dir)) as ref:
        rr = client(ref)
        same_data(ours, dump(rr))
        rr.close()


def test_we_load_a_redis_directory(data_dir: str) -> None:
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    with RedisServer(args=redis_aof_args(data_dir)) as ref:
        rr = client(ref)
        fill(rr)
        theirs = dump(rr)
        rr.close()
    with start_ours(data_dir) as srv:
        r = client(srv)
        same_data(theirs, dump(r))
        r.close()


# ---- Damaged files ----

def written_dir(data_dir: str, last: Sequence[str]) -> Tuple[str, int]:
    """A directory of ours whose incremental file ends with the record
    last; returns the file's path and where that record starts."""
    with start_ours(data_dir) as srv:
        r = client(srv)
        r.set("k1", "v1")
        r.rpush("k2", "a", "b")
        r.execute_command(*last)
        r.close()
    path = os.path.join(data_dir, DIRNAME, INCR)
    data = read(path)
    record = resp(*last)
    assert data.endswith(record)
    return path, len(data) - len(record)


def test_torn_tail_every_offset(data_dir: str) -> None:
    """The last record cut anywhere: it is dropped (and cut from the
    file), the rest loads."""
    path, start = written_dir(data_dir, ["SET", "last", "value"])
    whole = read(path)
    stride = 4 if VALGRIND else 1
    for cut in range(start, len(whole), stride):
        with open(path, "wb") as f:
            f.write(whole[:cut])
        with start_ours(data_dir) as srv:
            r = client(srv)
            assert r.get("k1") == b"v1", cut
            assert r.lrange("k2", 0, -1) == [b"a", b"b"], cut
            assert r.get("last") is None, cut
            r.close()
            if cut > start:
                assert "Truncating the AOF %s at offset %d" % (path, start) \
                    in srv.log, cut
        assert read(path) == whole[:start], cut


def test_torn_transaction_is_dropped(data_dir: str) -> None:
    """A MULTI whose EXEC never reached the file is cut off whole."""
    with start_ours(data_dir) as srv:
        r = client(srv)
        r.set("k1", "v1")
        pipe = r.pipeline(transaction=True)
        pipe.set("t1", "1")
        pipe.set("t2", "2")
        pipe.execute()
        r.close()
    path = os.path.join(data_dir, DIRNAME, INCR)
    whole = read(path)
    start = whole.index(resp("MULTI"))
    with open(path, "wb") as f:
        f.write(whole[:-len(resp("EXEC"))])
    with start_ours(data_dir) as srv:
        r = client(srv)
        assert r.get("k1") == b"v1"
        assert r.get("t1") is None and r.get("t2") is None
        r.close()
        assert "Revert incomplete MULTI/EXEC transaction" in srv.log
    assert read(path) == whole[:start]


def test_torn_tail_refused_without_aof_load_truncated(data_dir: str) -> None:
    path, start = written_dir(data_dir, ["SET", "last", "value"])
    whole = read(path)
    with open(path, "wb") as f:
        f.write(whole[:-3])
    out = start_fails(data_dir, "--aof-load-truncated", "no")
    assert "Unexpected end of file reading the append only file %s" % path \
        in out
    assert "offset %d" % start in out
    assert "tiny-mp-cache-check-aof --fix" in out
    assert "redis-check-aof --fix" in out
    assert read(path) == whole[:-3]
    # The checker finds it, and cuts it with --fix.
    manifest = os.path.join(data_dir, DIRNAME, MANIFEST)
    out, code = check_aof(manifest)
    assert code == 1 and "the last command (at offset %d) is incomplete" \
        % start in out
    out, code = check_aof("--fix", manifest)
    assert code == 0 and "Successfully truncated AOF %s to %d bytes" \
        % (path, start) in out
    assert read(path) == whole[:start]
    out, code = check_aof(manifest)
    assert code == 0 and "All AOF files and manifest are valid" in out
    with start_ours(data_dir, "--aof-load-truncated", "no") as srv:
        assert client(srv).get("k1") == b"v1"


def test_corruption_in_the_middle_refused(data_dir: str) -> None:
    path, start = written_dir(data_dir, ["SET", "last", "value"])
    whole = bytearray(read(path))
    second = whole.index(resp("SET", "k1", "v1"))
    bad = second + 4                 # the '$' of the first argument
    assert whole[bad:bad + 1] == b"$"
    whole[bad] = ord("!")
    with open(path, "wb") as f:
        f.write(whole)
    out = start_fails(data_dir)
    assert "Bad file format reading the append only file %s at offset %d" \
        % (path, bad) in out
    assert "tiny-mp-cache-check-aof --fix" in out
    out, code = check_aof(path)
    assert code == 1 and "bad format at offset %d" % bad in out


def test_manifest_missing_or_garbled(data_dir: str) -> None:
    written_dir(data_dir, ["SET", "last", "value"])
    manifest = os.path.join(data_dir, DIRNAME, MANIFEST)
    good = read(manifest)
    os.rename(manifest, manifest + ".away")
    out = start_fails(data_dir)
    assert "holds append-only files but no manifest" in out
    os.rename(manifest + ".away", manifest)
    for garbled, why in [
            (b"", "Found an empty AOF manifest"),
            (b"file x seq 1\n", "Invalid AOF manifest file format"),
            (good + b"file y seq 1 type i\n",
             "Found a non-monotonic sequence number"),
            (good.replace(b"type b", b"type z"), "Unknown AOF file type"),
            (b"file ../x seq 1 type b\n",
             "File can't be a path, just a filename")]:
        with open(manifest, "wb") as f:
            f.write(garbled)
        out = start_fails(data_dir)
        assert why in out and manifest in out, (garbled, out)
    with open(manifest, "wb") as f:
        f.write(good)
    with start_ours(data_dir) as srv:
        assert client(srv).get("last") == b"value"


def test_nothing_expires_while_loading(data_dir: str) -> None:
    """Times that passed while the server was down: the file replays as
    it was written (nothing expires during the load, as in Redis), then
    what expired is gone. A key given a TTL and later PERSISTed lives;
    one INCRed after its SET ... PXAT does not come back without a TTL.
    Both servers load the same files to the same data."""
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    past = "1000"
    records = [
        ("SELECT", "0"),
        ("SET", "c", "0", "PXAT", past), ("INCR", "c"),
        ("SET", "p", "v", "PXAT", past), ("PERSIST", "p"),
        ("RPUSH", "q", "a"), ("PEXPIREAT", "q", past), ("RPUSH", "q", "b"),
        ("SET", "g", "v"), ("GETEX", "g", "PXAT", past), ("APPEND", "g", "x"),
        ("SET", "e", "v"), ("EXPIREAT", "e", "1"), ("PERSIST", "e"),
        ("SET", "live", "1", "PXAT", str(FAR)),
    ]
    dumps = []
    for name, start in (("ref", None), ("ours", start_ours)):
        root = os.path.join(data_dir, name)
        d = os.path.join(root, DIRNAME)
        os.makedirs(d)
        open(os.path.join(d, BASE), "wb").close()
        with open(os.path.join(d, INCR), "wb") as f:
            f.write(b"".join(resp(*rec) for rec in records))
        with open(os.path.join(d, MANIFEST), "w") as f:
            f.write("file %s seq 1 type b\nfile %s seq 1 type i\n"
                    % (BASE, INCR))
        srv = RedisServer(args=redis_aof_args(root)) if start is None \
            else start(root)
        with srv:
            r = client(srv)
            dumps.append(dump(r))
            r.close()
    same_data(dumps[0], dumps[1])
    assert sorted(dumps[1]) == [b"e", b"live", b"p"]
    assert dumps[1][b"p"] == ("string", b"v", -1)


def test_history_files_removed_at_start(data_dir: str) -> None:
    """A crash between a rewrite's manifest swap and the removal of the
    files it replaced leaves them listed as history ("type h", as Redis
    writes it): the next start loads without them, deletes them and
    saves the manifest without them."""
    with start_ours(data_dir) as srv:
        r = client(srv)
        r.set("k", "v")
        r.close()
    d = os.path.join(data_dir, DIRNAME)
    old = "appendonly.aof.7.incr.aof"
    with open(os.path.join(d, old), "wb") as f:
        f.write(resp("SET", "k", "from history"))
    lines = read(os.path.join(d, MANIFEST)).decode().splitlines()
    lines.insert(1, "file %s seq 7 type h" % old)
    with open(os.path.join(d, MANIFEST), "w") as f:
        f.write("\n".join(lines) + "\n")
    with start_ours(data_dir) as srv:
        r = client(srv)
        assert r.get("k") == b"v"
        r.close()
    assert old not in os.listdir(d)
    assert read(os.path.join(d, MANIFEST)) == (
        "file %s seq 1 type b\nfile %s seq 1 type i\n" % (BASE, INCR)).encode()


def test_loading_answers_clients(data_dir: str) -> None:
    """While a large AOF loads, the socket already accepts: PING and GET
    get Redis's -LOADING error, INFO (allowed while loading, as in
    Redis) shows loading:1 and the progress, CONFIG SET appendonly is
    refused; then every key is there."""
    keys = 100_000 if VALGRIND else 1_000_000
    d = os.path.join(data_dir, DIRNAME)
    os.mkdir(d)
    with open(os.path.join(d, BASE), "wb") as f:
        f.write(b"".join(resp("SET", "key:%d" % i, "value-%d" % i)
                         for i in range(keys)))
    open(os.path.join(d, INCR), "wb").close()
    with open(os.path.join(d, MANIFEST), "w") as f:
        f.write("file %s seq 1 type b\nfile %s seq 1 type i\n" % (BASE, INCR))
    total = os.path.getsize(os.path.join(d, BASE))
    sock = os.path.join(data_dir, "s.sock")
    argv = [tmc_testlib.server_path(), "--port", "-1", "--unixsocket", sock,
            "--loglevel", "warning"] + aof_args(data_dir)
    if VALGRIND:
        argv = tmc_testlib.VALGRIND_ARGS + argv
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(sock), 120 if VALGRIND else 20)
        s = tmc_testlib.connect(sock)
        s.sendall(resp("PING") + resp("GET", "key:1") +
                  resp("INFO", "persistence") +
                  resp("CONFIG", "SET", "appendonly", "no"))
        replies = tmc_testlib.read_replies(s, 4)[0]
        assert replies[0] == replies[1] == tmc_testlib.RespError(
            "LOADING Redis is loading the dataset in memory"), replies
        assert isinstance(replies[0], tmc_testlib.RespError)
        info = dict(line.split(":", 1) for line in
                    replies[2].decode().splitlines() if ":" in line)
        assert info["loading"] == "1"
        assert int(info["loading_total_bytes"]) == total
        assert 0 <= int(info["loading_loaded_bytes"]) < total
        assert 0.0 <= float(info["loading_loaded_perc"]) < 100.0
        assert "loading_eta_seconds" in info
        assert str(replies[3]).startswith("ERR CONFIG SET failed (possibly "
                                          "related to argument 'appendonly')")
        r = redis.Redis(unix_socket_path=sock, socket_timeout=120)
        wait_for(lambda: r.info("persistence")["loading"] == 0,
                 300 if VALGRIND else 30)
        assert "loading_total_bytes" not in r.info("persistence")
        assert r.dbsize() == keys
        assert r.get("key:%d" % (keys - 1)) == b"value-%d" % (keys - 1)
        assert r.config_get("appendonly") == {"appendonly": "yes"}
        r.close()
        s.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0


def test_rdb_base_refused(data_dir: str) -> None:
    written_dir(data_dir, ["SET", "last", "value"])
    with open(os.path.join(data_dir, DIRNAME, BASE), "wb") as f:
        f.write(b"REDIS0010\xfa")
    out = start_fails(data_dir)
    assert "RDB format" in out and "aof-use-rdb-preamble no" in out
    assert "BGREWRITEAOF" in out


# ---- Group commit ----

def test_always_sigkill_loses_nothing(data_dir: str) -> None:
    """Writes and pops acknowledged with appendfsync always survive a
    SIGKILL sent right after the last acknowledgement, every other time
    while a rewrite runs."""
    rounds = 4 if VALGRIND else 20
    acked: Dict[bytes, bytes] = {}
    popped: List[bytes] = []
    pushed = 0
    for i in range(rounds):
        srv = start_ours(data_dir, "--appendfsync", "always")
        try:
            r = client(srv)
            for key, value in acked.items():
                assert r.get(key) == value, (i, key)
            left = r.lrange("jobs", 0, -1)
            assert [j for j in left if j in popped] == [], i
            assert len(left) + len(popped) == pushed, i
            if i % 2 == 1:
                r.bgrewriteaof()
            pipe = r.pipeline(transaction=False)
            for j in range(50):
                pipe.set("k%d-%d" % (i, j), "v%d" % j)
            pipe.rpush("jobs", *["job%d-%d" % (i, j) for j in range(10)])
            pipe.execute()
            pushed += 10
            for j in range(50):
                acked[("k%d-%d" % (i, j)).encode()] = ("v%d" % j).encode()
            for _ in range(5):
                job = r.lpop("jobs")
                assert job is not None
                popped.append(job)
        finally:
            srv.stop(check=False, sig=signal.SIGKILL)


def wait_for(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="no prlimit")
def test_write_error_misconf_and_recovery(data_dir: str) -> None:
    """The AOF cannot grow (RLIMIT_FSIZE, SIGXFSZ ignored: EFBIG): the
    write that hit it waits, other writes (and PING) get MISCONF, reads
    go on; once the limit is lifted the server recovers by itself and
    nothing acknowledged is lost."""
    limit = 4096
    sock = os.path.join(data_dir, "s.sock")
    log = os.path.join(data_dir, "log")

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (limit, resource.RLIM_INFINITY))

    argv = [tmc_testlib.server_path(), "--port", "-1", "--unixsocket", sock,
            "--logfile", log] + aof_args(data_dir)
    if VALGRIND:
        argv = tmc_testlib.VALGRIND_ARGS + argv
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=limited)
    try:
        wait_for(lambda: os.path.exists(log) and
                 "Ready to accept" in open(log).read(), 90 if VALGRIND else 10)
        r = redis.Redis(unix_socket_path=sock, socket_timeout=60)
        other = redis.Redis(unix_socket_path=sock, socket_timeout=60)
        big = "x" * 1000
        n = 0
        while os.path.getsize(os.path.join(data_dir, DIRNAME, INCR)) \
                + 1100 < limit:
            r.set("k%d" % n, big)
            n += 1
        # A transaction queued before the error...
        tx = other.connection_pool.get_connection("MULTI")
        tx.send_command("MULTI")
        assert tx.read_response() == b"OK"
        tx.send_command("SET", "tx", "1")
        assert tx.read_response() == b"QUEUED"
        # This one does not fit: its reply waits for the disk.
        conn = r.connection_pool.get_connection("SET")
        conn.send_command("SET", "held", big)
        wait_for(lambda: other.info("persistence")
                 ["aof_last_write_status"] == "err")
        with pytest.raises(redis.ResponseError) as err:
            other.set("refused", "1")
        assert str(err.value) == \
            "MISCONF Errors writing to the AOF file: File too large"
        with pytest.raises(redis.ResponseError):
            other.ping()
        # ...is refused at EXEC, as a write (Redis's EXECABORT).
        tx.send_command("EXEC")
        with pytest.raises(redis.exceptions.ExecAbortError) as abort:
            tx.read_response()
        assert str(abort.value) == "Transaction discarded because of: " \
            "MISCONF Errors writing to the AOF file: File too large"
        other.connection_pool.release(tx)
        assert other.get("k0") == big.encode()      # reads go on
        assert other.get("held") == big.encode()    # in memory, not acked
        assert not conn.can_read(timeout=0.3)       # its reply waits
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        assert conn.read_response() == b"OK"
        r.connection_pool.release(conn)
        wait_for(lambda: other.info("persistence")
                 ["aof_last_write_status"] == "ok")
        assert other.set("after", "1") is True
        assert "AOF write error looks solved" in open(log).read()
        r.close()
        other.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    with start_ours(data_dir) as srv:
        r = client(srv)
        assert r.get("held") == big.encode() and r.get("after") == b"1"
        assert r.get("refused") is None and r.get("tx") is None
        assert all(r.get("k%d" % i) == big.encode() for i in range(n))
        r.close()


def test_appendonly_off_at_run_time(data_dir: str) -> None:
    """CONFIG SET appendonly no stops the feed: nothing after it is
    logged."""
    with start_ours(data_dir) as srv:
        r = client(srv)
        r.set("before", "1")
        assert r.config_set("appendonly", "no") is True
        assert r.info("persistence")["aof_enabled"] == 0
        r.set("after", "1")
        r.close()
    data = read(os.path.join(data_dir, DIRNAME, INCR))
    assert resp("SET", "before", "1") in data
    assert b"after" not in data


def test_everysec_fsyncs_in_the_background(data_dir: str) -> None:
    """With everysec the records are written before the reply and the
    thread fsyncs them within about a second (nothing pending after)."""
    with start_ours(data_dir) as srv:
        r = client(srv)
        r.set("a", "1")
        path = os.path.join(data_dir, DIRNAME, INCR)
        assert read(path).endswith(resp("SET", "a", "1"))
        wait_for(lambda: r.info("persistence")["aof_pending_bio_fsync"] == 0
                 and r.info("persistence")["aof_buffer_length"] == 0)
        r.close()



# ---- Background rewrite ----

def wait_rewrite(r: "redis.Redis") -> Dict[str, object]:
    """Wait until no rewrite runs; INFO persistence then."""
    wait_for(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 0
             and r.info("persistence")["aof_rewrite_scheduled"] == 0,
             60 if VALGRIND else 20)
    return r.info("persistence")


def manifest_lines(data_dir: str) -> List[str]:
    return read(os.path.join(data_dir, DIRNAME, MANIFEST)).decode() \
        .splitlines()


def big_fill(r: "redis.Redis") -> None:
    """Lists longer than one RPUSH of a base (64 items), TTLs, binary."""
    fill(r)
    r.rpush("long", *[("item%d" % i) for i in range(200)])
    r.rpush("big-items", *[("x" * 5000 + str(i)) for i in range(10)])
    r.set("bin\r\n\x00key", b"\x00\xff" * 100, px=3000000)
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set("many:%d" % i, i)
    pipe.execute()


def test_bgrewriteaof(data_dir: str) -> None:
    """A new base from the child, a new incremental file for the writes
    meanwhile and after, the manifest swapped, the old files gone; the
    data survives a restart and redis-server reads the directory."""
    with start_ours(data_dir) as srv:
        r = client(srv)
        big_fill(r)
        assert r.bgrewriteaof() in (True, b"Background append only file "
                                    b"rewriting started")
        r.set("during", "1")
        info = wait_rewrite(r)
        assert info["aof_last_bgrewrite_status"] == "ok"
        assert info["aof_rewrites"] == 1
        r.set("after", "1")
        r.rpush("long", "tail")
        want = dump(r)
        info = r.info("persistence")
        r.close()
    names = sorted(os.listdir(os.path.join(data_dir, DIRNAME)))
    assert names == ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof",
                     MANIFEST]
    assert manifest_lines(data_dir) == [
        "file appendonly.aof.2.base.aof seq 2 type b",
        "file appendonly.aof.2.incr.aof seq 2 type i"]
    base = read(os.path.join(data_dir, DIRNAME, "appendonly.aof.2.base.aof"))
    incr = read(os.path.join(data_dir, DIRNAME, "appendonly.aof.2.incr.aof"))
    assert base.startswith(resp("SELECT", "0")) and b"PEXPIREAT" in base
    assert b"during" not in base or b"during" not in incr
    assert incr.startswith(resp("SELECT", "0"))
    assert info["aof_base_size"] == len(base)
    assert info["aof_current_size"] == len(base) + len(incr)
    manifest = os.path.join(data_dir, DIRNAME, MANIFEST)
    out, code = check_aof(manifest)
    assert code == 0 and "All AOF files and manifest are valid" in out, out
    redis_check = shutil.which("redis-check-aof")
    if redis_check:
        p = subprocess.run([redis_check, manifest], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, p.stdout
        assert b"All AOF files and manifest are valid" in p.stdout
    with start_ours(data_dir) as srv:
        r = client(srv)
        same_data(want, dump(r))
        r.close()
    tmc_testlib.require_tool(tmc_testlib.redis_server_path(), "redis-server")
    with RedisServer(args=redis_aof_args(data_dir)) as ref:
        rr = client(ref)
        same_data(want, dump(rr))
        rr.close()


def test_bgrewriteaof_with_appendonly_no(data_dir: str) -> None:
    """As in Redis 7.0: a base and a manifest naming only it; a start
    with appendonly yes loads it and adds an incremental file."""
    srv = Server(unixsocket=True, args=["--dir", data_dir])
    with srv:
        r = client(srv)
        fill(r)
        want = dump(r)
        r.bgrewriteaof()
        info = wait_rewrite(r)
        assert info["aof_last_bgrewrite_status"] == "ok"
        assert info["aof_enabled"] == 0
        r.close()
    assert manifest_lines(data_dir) == [
        "file appendonly.aof.1.base.aof seq 1 type b"]
    with start_ours(data_dir) as srv:
        r = client(srv)
        same_data(want, dump(r))
        r.set("more", "1")
        r.close()
    assert manifest_lines(data_dir) == [
        "file appendonly.aof.1.base.aof seq 1 type b",
        "file %s seq 1 type i" % INCR]


def test_appendonly_on_at_run_time(data_dir: str) -> None:
    """CONFIG SET appendonly yes writes a base of what is there (a
    rewrite), the writes from then on go to a new incremental file."""
    srv = Server(unixsocket=True, args=["--dir", data_dir])
    with srv:
        r = client(srv)
        big_fill(r)
        assert r.config_set("appendonly", "yes") is True
        r.set("right-after", "1")
        info = wait_rewrite(r)
        assert info["aof_enabled"] == 1
        assert info["aof_last_bgrewrite_status"] == "ok"
        r.set("later", "2")
        want = dump(r)
        r.close()
    assert len(manifest_lines(data_dir)) == 2
    with start_ours(data_dir) as srv:
        r = client(srv)
        same_data(want, dump(r))
        r.close()


def test_automatic_rewrite(data_dir: str) -> None:
    """auto-aof-rewrite-percentage and -min-size start a rewrite once the
    AOF has grown enough; overwritten keys then take less room."""
    with start_ours(data_dir, "--auto-aof-rewrite-min-size", "20kb",
                    "--auto-aof-rewrite-percentage", "100") as srv:
        r = client(srv)
        for i in range(400):
            r.set("k%d" % (i % 10), "v" * 100)
        wait_for(lambda: r.info("persistence")["aof_rewrites"] >= 1)
        info = wait_rewrite(r)
        assert info["aof_last_bgrewrite_status"] == "ok"
        assert "Starting automatic rewriting of AOF on" in srv.log
        # The new base holds the 10 keys once (the writes that came
        # while the child ran, many under valgrind, are in the incr).
        assert info["aof_base_size"] < 4 * 1024, info
        want = dump(r)
        r.close()
    with start_ours(data_dir) as srv:
        r = client(srv)
        same_data(want, dump(r))
        r.close()


def test_rewrite_inside_python(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The server embedded in a Python process (Server().run in a
    thread): the forked child writes the base with C alone and exits;
    the interpreter goes on (the child never runs Python)."""
    native = pytest.importorskip("tiny_mp_cache")
    monkeypatch.chdir(tmp_path)
    sock = str(tmp_path / "py.sock")
    server = native.Server(-1, unixsocket=sock, loglevel="warning")
    t = threading.Thread(target=server.run)
    t.start()
    try:
        r = redis.Redis(unix_socket_path=sock, socket_timeout=30)
        fill(r)
        r.bgrewriteaof()
        info = wait_rewrite(r)
        assert info["aof_last_bgrewrite_status"] == "ok"
        assert r.config_set("appendonly", "yes") is True
        wait_rewrite(r)
        r.set("after", "1")
        want = dump(r)
        r.close()
    finally:
        server.stop()
        t.join(30)
        server.close()
    assert not t.is_alive()
    assert sorted(os.listdir(tmp_path / DIRNAME)) == [
        "appendonly.aof.1.incr.aof", "appendonly.aof.2.base.aof", MANIFEST]
    with start_ours(str(tmp_path)) as srv:
        r = client(srv)
        same_data(want, dump(r))
        r.close()
