# SPDX-License-Identifier: MIT
# TinyCache as Python developers expect it (issue 12): dict habits
# (len(cache), in, [], del, iter, get/pop defaults, delete/exists of many
# keys, clear), values beyond bytes (serializer="pickle"/"json"/"str" and
# custom ones), clients that pickle (Pool and spawn children) and
# redis-py's URLs (redis://, unix://?db=0, tcp://).

import copy
import json
import multiprocessing as mp
import os
import pickle
import sys
import threading

import pytest

import tmcpy
from tmcpy import FakeServer, Tagged, free_port
from tiny_mp_cache import (ReplyError, Serializer, TinyCache,
                           TinyCacheConnectionError, TinyCacheTimeoutError,
                           spawn)
from tiny_mp_cache.client import parse_address

PW = "s3cret-pw"


def nowhere(**kw):
    """A client of a port nothing listens on: a call that returns or
    raises a TypeError without a connection error sent nothing."""
    return TinyCache(f"127.0.0.1:{free_port()}", connect_timeout=0, **kw)


def raw(cache):
    """A raw-bytes client of the same server as cache."""
    return TinyCache(cache.address, connect_timeout=5, timeout=30)


# ---- Dict habits ----

def test_len_function_and_method(cache):
    assert len(cache) == 0 and cache.len() == 0
    cache.set_many({f"k{i}": b"v" for i in range(5)})
    cache.push("list", b"a")
    assert len(cache) == 6
    assert cache.len() == 6


def test_contains(cache):
    assert "k" not in cache
    cache["k"] = b""                                # an empty value exists
    assert "k" in cache
    cache.push("l", b"x")
    assert "l" in cache                             # any type
    with pytest.raises(TypeError, match="key must be str"):
        b"k" in cache                               # noqa: B015


def test_getitem_setitem_delitem(cache):
    cache["k"] = b"v"
    assert cache["k"] == b"v"
    cache["k"] = bytearray(b"w")
    assert cache["k"] == b"w"
    del cache["k"]
    assert cache.get("k") is None
    with pytest.raises(KeyError) as ei:
        cache["k"]
    assert ei.value.args == ("k",)
    with pytest.raises(KeyError) as ei:
        del cache["k"]
    assert ei.value.args == ("k",)
    cache["e"] = b""
    assert cache["e"] == b""                        # empty is not missing
    with pytest.raises(TypeError, match="key must be str"):
        cache[1]
    with pytest.raises(TypeError, match="key must be str"):
        del cache[b"e"]


def test_iter_is_a_scan_of_every_key(cache):
    assert list(cache) == []
    keys = {f"k:{i}" for i in range(2500)}           # several SCANs
    cache.set_many((k, b"v") for k in keys)
    seen = list(iter(cache))
    assert set(seen) == keys
    assert set(cache) == keys


def test_iter_sends_scan_never_keys():
    def handler(fake, conn, index):
        while True:
            args = fake.read(conn)
            if args is None:
                return
            if args[0] == b"SCAN" and args[1] == b"0":
                conn.sendall(b"*2\r\n$2\r\n17\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")
            elif args[0] == b"SCAN" and args[1] == b"17":
                conn.sendall(b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nc\r\n")
            elif args[0] == b"DBSIZE":
                conn.sendall(b":3\r\n")
            else:
                conn.sendall(b"-ERR unexpected\r\n")

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        assert [k for k in c] == ["a", "b", "c"]
        assert [a[0] for a in fake.commands] == [b"SCAN", b"SCAN"]
        assert fake.commands[0][2:] == [b"MATCH", b"*", b"COUNT", b"1000"]
        # list() asks len() (DBSIZE) for a size hint first, as of any
        # object with __len__.
        assert list(c) == ["a", "b", "c"]
        assert [a[0] for a in fake.commands[2:]] == [b"DBSIZE", b"SCAN",
                                                     b"SCAN"]
        c.close()


def test_bool_asks_nothing():
    c = nowhere()
    assert bool(c) is True                          # no DBSIZE, no error
    assert (c or None) is c
    assert c._sock is None


def test_get_and_pop_defaults(cache):
    marker = object()
    assert cache.get("k") is None
    assert cache.get("k", marker) is marker
    assert cache.get("k", default=b"d") == b"d"
    assert cache.pop("k", marker) is marker
    assert cache.pop("k", default=0) == 0
    cache.set("k", b"")
    assert cache.get("k", marker) == b""
    assert cache.pop("k", marker) == b""
    assert cache.pop("k", marker) is marker


def test_pop_default_exactly_once(cache, server):
    # Eight threads, each with its own connection, pop the same keys with
    # a default: each value goes to exactly one of them.
    keys = [f"job:{i}" for i in range(200)]
    cache.set_many((k, k.encode()) for k in keys)
    got = []
    lock = threading.Lock()

    def worker():
        with TinyCache(server.address, connect_timeout=5) as c:
            mine = [v for v in (c.pop(k, b"") for k in keys) if v]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(got) == sorted(k.encode() for k in keys)


def test_delete_many(cache):
    cache.set_many({"a": b"1", "b": b"2", "c": b"3"})
    assert cache.delete("a") == 1                   # the original form
    assert cache.delete("a") == 0
    assert cache.delete("b", "c", "nope", "b") == 2
    assert cache.len() == 0
    assert cache.delete() == 0
    cache.set("k", b"v")
    assert cache.delete(key="k") == 1               # the original keyword
    assert cache.delete(key="k") == 0


def test_exists_many(cache):
    cache.set_many({"a": b"1", "b": b"2"})
    assert cache.exists("a") == 1
    assert cache.exists("a", "b", "nope") == 2
    assert cache.exists("a", "a") == 2              # as Redis counts
    assert cache.exists() == 0


def test_no_keys_sends_nothing_and_bad_keys_raise():
    c = nowhere()
    assert c.delete() == 0 and c.exists() == 0
    for method in (c.delete, c.exists):
        with pytest.raises(TypeError, match="key must be str"):
            method("a", b"b")
    assert c._sock is None


def test_clear(cache, server):
    cache.set_many({f"k{i}": b"v" for i in range(100)})
    cache.push("jobs", b"j")
    other = TinyCache(server.address, connect_timeout=5)
    other.set("theirs", b"v", ttl=100)
    assert cache.clear() is None
    assert len(cache) == 0
    assert other.get("theirs") is None and cache.llen("jobs") == 0
    cache["k"] = b"v"                               # usable afterwards
    assert len(other) == 1
    other.close()


def test_new_commands_retry_or_not():
    # exists, clear, `in`, [] and len() retry once after a broken
    # connection; del cache[key] never does (its answer would be wrong).
    handler = tmcpy.first_copy_dropped({
        b"EXISTS": b":1\r\n", b"FLUSHDB": b"+OK\r\n", b"GET": b"$1\r\nv\r\n",
        b"DBSIZE": b":3\r\n"})

    with FakeServer(handler) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        assert c.exists("k") == 1
        assert c.clear() is None
        assert c["k"] == b"v"
        assert len(c) == 3
        assert "k" in c
        names = [a[0] for a in fake.commands]
        assert names == [b"EXISTS", b"EXISTS", b"FLUSHDB", b"FLUSHDB",
                         b"GET", b"GET", b"DBSIZE", b"DBSIZE", b"EXISTS"]
        c.close()

    def drop_del(fake, conn, index):
        if fake.read(conn) is not None:
            return                          # DEL dropped unanswered

    with FakeServer(drop_del) as fake:
        c = TinyCache(fake.address, connect_timeout=5)
        with pytest.raises(TinyCacheConnectionError, match="not retried"):
            del c["k"]
        assert [a[0] for a in fake.commands] == [b"DEL"]
        c.close()


def test_pop_timeout_says_it_may_have_run():
    # A pop whose reply does not come in time: the error says the pop is
    # not retried and may have taken the value; a GET's does not.
    stop = threading.Event()

    def silent(fake, conn, index):
        while fake.read(conn) is not None:
            stop.wait(5)                    # never answers

    with FakeServer(silent) as fake:
        c = TinyCache(fake.address, connect_timeout=5, timeout=0.2)
        with pytest.raises(TinyCacheTimeoutError) as ei:
            c.pop("job:1")
        assert "GETDEL, which is not retried: it may have run" in str(ei.value)
        with pytest.raises(TinyCacheTimeoutError) as ei:
            c.get("k")
        assert "may have run" not in str(ei.value)
        c.close()
        stop.set()


def test_default_path_makes_no_extra_python_call(cache):
    # Without a serializer, get, set, pop and cache[key] run as one Python
    # frame around the C call: no helper on the hot path.
    cache.set("k", b"v")
    cache.get("k")                                  # connected
    for call in (lambda: cache.get("k"), lambda: cache.set("k", b"v"),
                 lambda: cache["k"], lambda: cache.get("nope"),
                 lambda: cache.pop("nope")):
        frames = []

        def profile(frame, event, arg):
            if event == "call":
                frames.append(frame.f_code.co_name)

        sys.setprofile(profile)
        try:
            call()
        finally:
            sys.setprofile(None)
        assert len(frames) == 2, frames             # the lambda, the method
        assert frames[0] == "<lambda>"


# ---- Values beyond bytes ----

VALUES = {
    "pickle": [{"a": (1, 2.5), "b": {3}}, None, b"raw", [1, "x"], 0],
    "json": [{"a": [1, 2.5], "b": "\u00e9t\u00e9"}, None, 1, "s", [True]],
    "str": ["text", "\u00e9t\u00e9 \U0001f600", "", "0"],
}


@pytest.mark.parametrize("name", ["pickle", "json", "str"])
def test_builtin_serializers_every_method(server, name):
    values = VALUES[name]
    v0, v1 = values[0], values[1]
    with TinyCache(server.address, connect_timeout=5, timeout=30,
                   serializer=name) as c:
        assert c.serializer.name == name and isinstance(c.serializer,
                                                        Serializer)
        c.set("a", v0)
        assert c.get("a") == v0 and c["a"] == v0
        c.set("t", v1, ttl=100)
        assert c.get("t") == v1 and 0 < c.ttl("t") <= 100
        c["b"] = v1
        assert c.pop("b") == v1 and c.pop("b", "gone") == "gone"
        c.set_many({f"m{i}": v for i, v in enumerate(values)})
        assert c.get_many([f"m{i}" for i in range(len(values))] + ["x"]) \
            == values + [None]
        assert c.pop_many(["m0", "m1", "x"]) == [v0, v1, None]
        assert c.add("n", v0) is True and c.add("n", v1) is False
        assert c.add("n2", v1, ttl=50) is True and c["n2"] == v1
        assert c.push("l", *values) == len(values)
        assert c.peek("l") == v0 and c.peek("l", -1) == values[-1]
        assert c.peek("l", 99) is None
        assert c.lrange("l") == values
        assert c.take("l") == v0
        assert c.take_nowait("l") == v1
        assert c.take("l", 5, into="l2") == values[2]
        assert c.take_nowait("l2") == values[2]
        assert c.take_many("l", 99, timeout=0) == values[3:]
        c.push("l", v0, v1)
        assert c.take_many("l", 99, timeout=5) == [v0, v1]
        assert c.take("l", 0.01) is None and c.take_many("l", 2, 0) == []
        assert c.get("absent", v0) == v0


def test_stored_bytes_of_builtins(cache, server):
    addr = server.address
    TinyCache(addr, serializer="json").set("j", {"a": [1, "\u00e9"]})
    assert cache.get("j") == '{"a":[1,"\u00e9"]}'.encode()
    TinyCache(addr, serializer="str").set("s", "\u00e9")
    assert cache.get("s") == "\u00e9".encode()
    TinyCache(addr, serializer="pickle").set("p", {"x": 1})
    stored = cache.get("p")
    assert stored[:2] == b"\x80\x05"                # protocol 5
    assert pickle.loads(stored) == {"x": 1}
    cache.set("raw", b'{"written": "by another"}')
    assert TinyCache(addr, serializer="json").get("raw") == {"written": "by another"}


def test_counters_and_execute_stay_raw(cache, server):
    j = TinyCache(server.address, serializer="json")
    assert j.incr("n", 42) == 42 and j.get("n") == 42
    assert j.execute("GET", "n") == b"42"
    s = TinyCache(server.address, serializer="str")
    assert s.decr("n") == 41 and s.get("n") == "41"


def test_json_null_is_a_value(cache, server):
    j = TinyCache(server.address, serializer="json")
    j["k"] = None
    assert "k" in j
    assert j["k"] is None                           # no KeyError
    assert j.get("k", "default") is None            # stored, not absent
    assert j.pop("k", "default") is None
    assert j.pop("k", "default") == "default"


class Rot13:
    """A custom serializer: str values, rot13-encoded on the server."""

    @staticmethod
    def dumps(obj):
        import codecs
        return codecs.encode(obj, "rot13").encode()

    @staticmethod
    def loads(data):
        import codecs
        return codecs.decode(data.decode(), "rot13")


def test_custom_serializers(cache, server):
    c = TinyCache(server.address, serializer=Rot13)
    c["k"] = "hello"
    assert cache.get("k") == b"uryyb" and c["k"] == "hello"
    assert isinstance(Rot13, Serializer)
    t = TinyCache(server.address, serializer=Tagged(b"v1:"))
    t.set("t", [1, 2])
    assert cache.get("t") == b"v1:[1, 2]" and t.get("t") == [1, 2]
    assert t.lrange("nothing") == []


def test_serializer_errors():
    with pytest.raises(ValueError, match="unknown serializer 'yaml'"):
        nowhere(serializer="yaml")
    with pytest.raises(TypeError, match="dumps"):
        nowhere(serializer=object())
    with pytest.raises(TypeError, match="dumps"):
        nowhere(serializer=3)

    class StrOut:
        dumps = staticmethod(json.dumps)            # returns str
        loads = staticmethod(json.loads)

    c = nowhere(serializer=StrOut)
    with pytest.raises(TypeError, match=r"dumps\(\) must return bytes.*not str"):
        c.set("k", 1)
    s = nowhere(serializer="str")
    with pytest.raises(TypeError, match="serializer='str' stores str.*'json'"):
        s.set("k", 1)
    with pytest.raises(TypeError, match="not JSON serializable"):
        nowhere(serializer="json").set("k", object())
    assert c._sock is None and s._sock is None      # nothing was sent


def test_loads_errors_reach_the_caller(cache, server):
    cache.set("bad", b"\xff not utf-8")
    with pytest.raises(UnicodeDecodeError):
        TinyCache(server.address, serializer="str").get("bad")
    with pytest.raises(ValueError):
        TinyCache(server.address, serializer="json").get("bad")
    with pytest.raises(pickle.UnpicklingError):
        TinyCache(server.address, serializer="pickle").get("bad")


@pytest.mark.parametrize("call", [
    lambda c, v: c.set("k", v), lambda c, v: c.set("k", v, ttl=5),
    lambda c, v: c.add("k", v), lambda c, v: c.set_many({"k": v}),
    lambda c, v: c.push("l", b"ok", v), lambda c, v: c.__setitem__("k", v),
], ids=["set", "set-ttl", "add", "set_many", "push", "setitem"])
def test_raw_value_type_error_says_what_to_do(call):
    c = nowhere()
    with pytest.raises(TypeError) as ei:
        call(c, "text")
    msg = str(ei.value)
    assert msg.startswith("value must be bytes, bytearray or memoryview, not str")
    assert "value.encode()" in msg and "serializer='str'" in msg
    with pytest.raises(TypeError) as ei:
        call(c, {"a": 1})
    msg = str(ei.value)
    assert "not dict" in msg and "serializer='json'" in msg
    assert ".encode()" in msg
    assert c._sock is None


def test_docs_warn_about_pickle():
    for doc in (TinyCache.__doc__, Serializer.__doc__):
        assert doc is not None
    assert "unpickling runs whatever code" in " ".join(TinyCache.__doc__.split())
    assert "only when every writer is trusted" in " ".join(TinyCache.__doc__.split())


# ---- Pickled clients: Pool tasks and spawn children ----

def _pool_task(args):
    """Pool task: store and read back through the pickled client."""
    c, i = args
    c[f"pool:{i}"] = {"pid": os.getpid(), "i": i}
    name = c.serializer.name if c.serializer is not None else None
    return name, c[f"pool:{i}"]["i"], c.address


def _spawn_child(c, key):
    """spawn child: write through the pickled client (and its serializer)."""
    c.set(key, {"from": "child", "pid": os.getpid()})
    c.close()


def test_pickle_keeps_address_and_options(cache, server):
    c = TinyCache(server.address, connect_timeout=4, timeout=7,
                  serializer="json")
    c["k"] = [1]                                    # the connection is open
    data = pickle.dumps(c)
    assert b"socket" not in data and b"Connection" not in data
    assert b"_JsonSerializer" not in data and b"json" in data
    d = pickle.loads(data)
    assert d is not c and d.address == c.address
    assert d._options == {"connect_timeout": 4, "timeout": 7,
                          "password": None, "username": None,
                          "serializer": "json"}
    assert d._sock is None and d["k"] == [1]
    assert repr(d).endswith("connected>")
    e = copy.copy(c)
    assert e["k"] == [1] and e._conn is not c._conn
    for x in (c, d, e):
        x.close()
    raw_copy = pickle.loads(pickle.dumps(cache))
    assert raw_copy.serializer is None and raw_copy.get("k") == b"[1]"
    # A built-in serializer object pickles as its name too, and may be
    # given as serializer= itself.
    assert pickle.loads(pickle.dumps(c.serializer)) is c.serializer
    assert TinyCache(server.address,
                     serializer=c.serializer).serializer is c.serializer
    # A custom one pickles as itself.
    t = pickle.loads(pickle.dumps(TinyCache(server.address,
                                            serializer=Tagged(b"x:"))))
    assert isinstance(t.serializer, Tagged) and t.serializer.tag == b"x:"


def test_pickle_keeps_password():
    with spawn(port=0, loglevel="warning", requirepass=PW) as srv:
        c = TinyCache(srv.address, password=PW, connect_timeout=5)
        c["k"] = b"v"
        d = pickle.loads(pickle.dumps(c))
        assert d["k"] == b"v"
        u = pickle.loads(pickle.dumps(TinyCache(
            f"redis://default:{PW}@{srv.address}/0")))
        assert u["k"] == b"v"
        for x in (c, d, u):
            x.close()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_pool_map_with_a_client(server, method):
    c = TinyCache(server.address, serializer="json", connect_timeout=5)
    c["warm"] = 1                                   # a live connection
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        out = pool.map(_pool_task, [(c, i) for i in range(6)])
    assert out == [("json", i, server.address) for i in range(6)]
    stored = c.get_many([f"pool:{i}" for i in range(6)])
    assert [v["i"] for v in stored] == list(range(6))
    assert all(v["pid"] != os.getpid() for v in stored)
    c.close()


def test_spawn_child_gets_a_client(server):
    c = TinyCache(server.address, serializer=Tagged(b"t:"), connect_timeout=5)
    c["parent"] = 1
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_spawn_child, args=(c, "from-child"))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    got = c["from-child"]
    assert got["from"] == "child" and got["pid"] == p.pid
    assert raw(c).get("from-child").startswith(b"t:")
    c.close()


# ---- redis-py's URLs ----

def test_urls_against_our_server(server):
    port = server.port
    for url in (f"redis://127.0.0.1:{port}", f"redis://127.0.0.1:{port}/0",
                f"redis://127.0.0.1:{port}/", f"redis://127.0.0.1:{port}?db=0",
                f"tcp://127.0.0.1:{port}/0", f"REDIS://localhost:{port}/0"):
        for c in (TinyCache.from_url(url, connect_timeout=5),
                  TinyCache(url, connect_timeout=5)):
            c["k"] = url.encode()
            assert c["k"] == url.encode()
            c.close()
    c = TinyCache.from_url(f"redis://127.0.0.1:{port}/0", serializer="json",
                           timeout=9)
    assert c.serializer.name == "json" and c._timeout == 9
    assert c.address == f"127.0.0.1:{port}"


def test_unix_urls(unix_server):
    path = unix_server.unixsocket
    for url in (f"unix://{path}", f"unix://{path}?db=0"):
        with TinyCache.from_url(url, connect_timeout=5) as c:
            c["k"] = b"u"
            assert c["k"] == b"u" and c.address == f"unix://{path}"


def test_urls_with_passwords():
    with spawn(port=0, loglevel="warning", requirepass=PW) as srv:
        port = srv.port
        for url in (f"redis://:{PW}@127.0.0.1:{port}/0",
                    f"redis://default:{PW}@127.0.0.1:{port}",
                    f"redis://127.0.0.1:{port}/0?password={PW}",
                    f"tcp://:{PW}@127.0.0.1:{port}"):
            with TinyCache.from_url(url, connect_timeout=5) as c:
                c["k"] = b"v"
                assert c["k"] == b"v"
        enc = TinyCache("redis://:a%40b%3Ac@h:1/0")
        assert enc._auth == (b"AUTH", "a@b:c")
        user = TinyCache("redis://bob:pw@h:1")
        assert user._auth == (b"AUTH", "bob", "pw")
        unix = TinyCache("unix://:pw@/tmp/x.sock?db=0")
        assert unix._auth == (b"AUTH", "pw") and unix.address == "unix:///tmp/x.sock"


def test_url_defaults():
    assert TinyCache("redis://").address == "localhost:6379"
    assert TinyCache("redis://h").address == "h:6379"
    assert TinyCache("redis://[::1]").address == "[::1]:6379"
    assert TinyCache("redis://[::1]:7/0").address == "[::1]:7"
    assert parse_address("redis://h:5/0")[1:] == (("h", 5), "h:5")
    assert parse_address("unix:///tmp/s?db=0")[1:] == ("/tmp/s", "unix:///tmp/s")


@pytest.mark.parametrize("url, match", [
    ("rediss://h:6380/0", r"rediss:// \(Redis over TLS\).*not supported"),
    ("rediss://:hunter2@h:6380/0", r"rediss://:\*\*\*@h"),
    ("http://h:80", "unsupported scheme http://"),
    ("redis://h:1/1", "database 1 .*only database 0"),
    ("redis://h:1?db=3", "database 3 .*only database 0"),
    ("redis://h:1/0?db=2", "database 2 .*only database 0"),
    ("unix:///tmp/s.sock?db=1", "database 1 .*only database 0"),
    ("redis://h:1/x", "bad database 'x'"),
    ("redis://h:1?socket_timeout=3", "unsupported option 'socket_timeout'"),
    ("redis://:a@h:1?password=b", "password given twice"),
    ("redis://h:1#frag", "unexpected '#frag'"),
    ("tcp://h", "bad address"),
    ("tcp://h/0", "bad address"),
    ("redis://h:70000", "port out of range"),
    ("redis://h:x", "bad port"),
    ("unix://?db=0", "no socket path"),
])
def test_bad_urls(url, match):
    with pytest.raises(ValueError, match=match) as ei:
        TinyCache(url)
    assert "hunter2" not in str(ei.value)
    if "://" in url:
        with pytest.raises(ValueError, match=match):
            TinyCache.from_url(url)


def test_from_url_needs_a_url():
    with pytest.raises(ValueError, match="not a URL"):
        TinyCache.from_url("127.0.0.1:5002")
    with pytest.raises(TypeError, match="url must be a str"):
        TinyCache.from_url(("127.0.0.1", 5002))
    with pytest.raises(ValueError, match="keyword too"):
        TinyCache("redis://:pw@h:1", password="other")
    with pytest.raises(ValueError, match="keyword too"):
        TinyCache.from_url("redis://u:pw@h:1", username="v")
    assert TinyCache("redis://:pw@h:1", username="ann")._auth == \
        (b"AUTH", "ann", "pw")


def test_redacted_password_in_errors():
    with pytest.raises(ValueError) as ei:
        TinyCache("redis://user:hunter2@h:1/5")
    assert "hunter2" not in str(ei.value) and "user:***@h" in str(ei.value)
    with pytest.raises(ValueError) as ei:
        TinyCache("unix:///s?password=hunter2&db=5")
    assert "hunter2" not in str(ei.value)


# ---- The same habits against a real Redis ----

def test_against_redis_server():
    with tmcpy.redis_server() as r:
        url = f"redis://127.0.0.1:{r['port']}/0"
        with TinyCache.from_url(url, serializer="json", connect_timeout=5) as c:
            c.clear()
            c["k"] = {"a": [1, 2]}
            assert c["k"] == {"a": [1, 2]} and "k" in c and len(c) == 1
            assert c.exists("k", "k", "x") == 2
            c.push("l", {"job": 1})
            assert c.take("l", 1) == {"job": 1}
            assert list(c) == ["k"]
            del c["k"]
            with pytest.raises(KeyError):
                del c["k"]
            assert c.delete("a", "b") == 0 and len(c) == 0
        with TinyCache.from_url(r["unix"] + "?db=0", connect_timeout=5) as c:
            c["u"] = b"1"
            assert c.get("u") == b"1"
        with TinyCache(f"redis://127.0.0.1:{r['port']}/0") as c:
            with pytest.raises(ReplyError):
                c.execute("NOSUCHCOMMAND")
