# SPDX-License-Identifier: MIT
"""Server settings from Python: Server(), serve(), serve_unix() and spawn()
take every setting of _native.settings() as a typed keyword (checked
against the signatures, the stub and the README, so they cannot drift);
each reaches the server (CONFIG GET shows it); wrong types raise
TypeError and bad values ValueError with the server's reason; and a
memory limit evicts (allkeys-lru, volatile-lru) or refuses writes
(noeviction) as Redis does."""

import ast
import contextlib
import inspect
import os
import pathlib
import queue
import re
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from tiny_mp_cache import (ReplyError, Server, TinyCache, _native, serve,
                           serve_unix, spawn)
from tiny_mp_cache.server import SETTINGS

ROWS = _native.settings()
NAMES = [row[0] for row in ROWS]
KIND = {row[0]: row[1] for row in ROWS}
DEFAULT = {row[0]: row[2] for row in ROWS}

TOP_SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Settings whose keyword defaults to None in serve() and spawn(): the
# server's own default (none, or one a Python literal would spell badly).
NONE_IS_DEFAULT = {"unixsocket", "logfile", "event_backend", "requirepass",
                   "client_output_buffer_limit", "dir"}
# Settings whose keyword takes 0 for "the server's default" (compatibility).
ZERO_IS_DEFAULT = {"proto_max_bulk_len"}
# Settings that name files.
PATHS = {"unixsocket", "logfile", "dir"}

# The annotation of each kind of setting (Optional[...] stripped), by the
# alias names server.py and the stub use.
KIND_TYPES = {"bool": {"bool"}, "int": {"int"}, "octal": {"int"},
              "memory": {"MemorySize", "_Memory"},
              "buffer-limit": {"MemorySize", "_Memory"},
              "enum": {"str"}, "str": {"str"}}
PATH_TYPES = {"PathLike", "_Path"}


def python_default(name: str) -> Any:
    """The server's default of a setting as the Python value for it."""
    kind, text = KIND[name], DEFAULT[name]
    if kind == "bool":
        assert text in ("yes", "no")
        return text == "yes"
    if kind == "int":
        return int(text)
    if kind == "octal":
        return int(text, 8)
    if kind == "memory":
        return int(text)
    return text


def bare_type(annotation: str) -> Tuple[str, bool]:
    """(the type inside Optional[...], whether it was Optional)."""
    m = re.fullmatch(r"Optional\[(.*)\]", annotation)
    return (m.group(1), True) if m else (annotation, False)


def check_annotation(where: str, name: str, annotation: str) -> bool:
    """Assert the annotation fits the setting's kind; return whether it
    allows None."""
    bare, optional = bare_type(annotation)
    allowed = PATH_TYPES if name in PATHS else KIND_TYPES[KIND[name]]
    assert bare in allowed, f"{where}: {name}: {annotation} for a {KIND[name]}"
    return optional


# ---- The list, the signatures, the stub and the README stay in step ----

def test_settings_list_matches_the_server() -> None:
    assert sorted(SETTINGS) == sorted(NAMES)
    assert len(SETTINGS) == len(set(SETTINGS))
    for name, kind, default, mutable, help_text in ROWS:
        assert kind in KIND_TYPES, name
        assert isinstance(default, str) and isinstance(mutable, bool)
        assert help_text


@pytest.mark.parametrize("func, skip, rename, others", [
    (serve, set(), {}, {"ready"}),
    (serve_unix, {"unixsocket"}, {}, {"ready"}),
    (spawn, set(), {"timeout": "idle_timeout"},
     {"timeout", "python", "env"}),
], ids=["serve", "serve_unix", "spawn"])
def test_signature_lists_every_setting(func: Callable[..., Any], skip: set,
                                       rename: Dict[str, str],
                                       others: set) -> None:
    where = func.__name__
    params = inspect.signature(func).parameters
    keywords = {n: p for n, p in params.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    expected = {rename.get(n, n): n for n in NAMES if n not in skip}
    # Nothing missing, nothing unknown, no catch-all **kwargs.
    assert set(keywords) - {"host"} - others == set(expected), where
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD
                   for p in params.values()), where
    for keyword, name in expected.items():
        p = keywords[keyword]
        optional = check_annotation(where, name, str(p.annotation))
        if p.default is None:
            assert name in NONE_IS_DEFAULT, f"{where}: {name}=None"
            assert optional, f"{where}: {name}=None but not Optional"
        elif name in ZERO_IS_DEFAULT:
            assert p.default == 0, f"{where}: {name}"
        else:
            assert p.default == python_default(name), (
                f"{where}: {keyword}={p.default!r}, the server's default "
                f"is {DEFAULT[name]!r}")
            assert type(p.default) is type(python_default(name)), where


def test_stub_lists_every_setting() -> None:
    stub = os.path.join(os.path.dirname(_native.__file__), "_native.pyi")
    with open(stub) as f:
        tree = ast.parse(f.read())
    (server,) = [n for n in tree.body
                 if isinstance(n, ast.ClassDef) and n.name == "Server"]
    (init,) = [n for n in server.body
               if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    assert init.args.kwarg is None
    kwonly = {a.arg: a for a in init.args.kwonlyargs}
    assert set(kwonly) == {"host"} | set(NAMES)
    for name in NAMES:
        annotation = kwonly[name].annotation
        assert annotation is not None, name
        optional = check_annotation("_native.pyi", name,
                                    ast.unparse(annotation))
        assert optional, f"_native.pyi: {name}: Server() takes None"
    assert any(isinstance(n, ast.FunctionDef) and n.name == "settings"
               for n in tree.body)


def readme_python_section() -> str:
    with open(os.path.join(TOP_SRCDIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## Python\n")
    return text[start:text.index("\n## ", start + 1)]


def test_readme_documents_every_setting() -> None:
    lines = readme_python_section().splitlines()
    header = next(i for i, line in enumerate(lines)
                  if line.startswith("| setting |"))
    rows: Dict[str, str] = {}
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        m = re.fullmatch(r"`(\w+)`", cells[0])
        assert m, line
        rows[m.group(1)] = cells[2]
    assert sorted(rows) == sorted(NAMES)
    for name in NAMES:
        if name in NONE_IS_DEFAULT or name in ZERO_IS_DEFAULT:
            continue
        value = python_default(name)
        if KIND[name] == "octal":
            shown = oct(value)
        elif isinstance(value, str):
            shown = f'"{value}"'
        else:
            shown = repr(value)
        assert f"`{shown}`" in rows[name], f"README: {name}: {rows[name]}"


def test_serve_docstring_explains_every_setting() -> None:
    doc = serve.__doc__ or ""
    for name in NAMES:
        assert f"``{name}``" in doc, name


# ---- Starting servers four ways ----

HOWS = ["Server", "serve", "serve_unix", "spawn"]


@contextlib.contextmanager
def _in_thread(start: Callable[[Callable[[Server], None]], None],
               unix_path: Optional[str] = None) -> Iterator[str]:
    """Run start(ready) in a thread until the server it makes is ready;
    yield its address; stop it."""
    ready: "queue.Queue[Optional[Server]]" = queue.Queue()
    errors: List[BaseException] = []

    def run() -> None:
        try:
            start(ready.put)
        except BaseException as e:
            errors.append(e)
            ready.put(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    srv = ready.get(timeout=30)
    if srv is None:
        thread.join(30)
        raise errors[0]
    try:
        yield (f"127.0.0.1:{srv.port}" if unix_path is None
               else f"unix://{unix_path}")
    finally:
        srv.stop()
        thread.join(30)
        assert not thread.is_alive()


@contextlib.contextmanager
def started(how: str, tmp: str, **settings: Any) -> Iterator[str]:
    """Start a server `how` with these settings (spawn's idle_timeout is
    given as timeout here); yield its address."""
    settings.setdefault("loglevel", "warning")
    if how == "Server":
        srv = Server(0, **settings)

        def start(ready: Callable[[Server], None]) -> None:
            ready(srv)
            srv.run()
        try:
            with _in_thread(start) as address:
                yield address
        finally:
            srv.close()
    elif how == "serve":
        with _in_thread(lambda ready: serve(0, ready=ready, **settings)
                        ) as address:
            yield address
    elif how == "serve_unix":
        path = os.path.join(tmp, "s.sock")
        settings.pop("unixsocket", None)
        with _in_thread(lambda ready: serve_unix(path, ready=ready, **settings),
                        unix_path=path) as address:
            yield address
    else:
        if "timeout" in settings:
            settings["idle_timeout"] = settings.pop("timeout")
        with spawn(**settings) as child:
            yield child.address


def start_error(how: str, tmp: str, **settings: Any) -> BaseException:
    """The exception starting a server `how` with these settings raises."""
    with pytest.raises((TypeError, ValueError)) as ei:
        with started(how, tmp, **settings):
            pass
    return ei.value


def config(address: str) -> Dict[str, str]:
    """CONFIG GET * of the server at address, as str: str."""
    with TinyCache(address, connect_timeout=10, timeout=30) as c:
        reply = c.execute("CONFIG", "GET", "*")
    return {k.decode(): v.decode() for k, v in zip(reply[::2], reply[1::2])}


@pytest.mark.parametrize("how", HOWS)
def test_every_setting_with_its_default(how: str, short_tmp: str) -> None:
    # dir has no default ("" in settings()): the working directory.
    settings = {name: python_default(name) for name in NAMES
                if name != "dir"}
    with started(how, short_tmp, dir=None, **settings) as address:
        got = config(address)
        for name in NAMES:
            if how == "serve_unix" and name == "unixsocket":
                continue
            want = os.getcwd() if name == "dir" else DEFAULT[name]
            assert got[name.replace("_", "-")] == want, name


# Values other than the defaults, and how CONFIG GET shows them.
CHANGED: Dict[str, Tuple[Any, str]] = {
    "unixsocketperm": (0o750, "750"),
    "maxclients": (123, "123"),
    "loglevel": ("warning", "warning"),
    "proto_max_bulk_len": ("2mb", "2097152"),
    "tcp_backlog": (64, "64"),
    "client_output_buffer_limit": ("2gb", "normal 2147483648 0 0"),
    "busy_poll_us": (0, "0"),
    "maxmemory": ("100mb", "104857600"),
    "maxmemory_policy": ("allkeys-lru", "allkeys-lru"),
    "maxmemory_samples": (7, "7"),
    "maxmemory_eviction_tenacity": (20, "20"),
    "lfu_log_factor": (5, "5"),
    "lfu_decay_time": (2, "2"),
    "hz": (20, "20"),
    "active_expire_effort": (3, "3"),
    "protected_mode": (False, "no"),
    "timeout": (60, "60"),
    "tcp_keepalive": (100, "100"),
    "event_backend": ("select", "select"),
    "appendfsync": ("always", "always"),
    "appenddirname": ("aofdir", "aofdir"),
    "appendfilename": ("tmc.aof", "tmc.aof"),
    "auto_aof_rewrite_percentage": (50, "50"),
    "auto_aof_rewrite_min_size": ("1mb", "1048576"),
    "aof_load_truncated": (False, "no"),
}


@pytest.mark.parametrize("how", HOWS)
def test_config_get_shows_what_was_set(how: str, short_tmp: str) -> None:
    settings = {name: value for name, (value, _) in CHANGED.items()}
    with started(how, short_tmp, **settings) as address:
        got = config(address)
        for name, (_, shown) in CHANGED.items():
            value = got[name.replace("_", "-")]
            if name == "client_output_buffer_limit":
                value = " ".join(value.split()[:4])    # the normal class
            assert value == shown, name


def test_spawn_passes_paths(short_tmp: str) -> None:
    log = pathlib.Path(short_tmp) / "server.log"
    sock = pathlib.Path(short_tmp) / "s.sock"
    with spawn(port=-1, unixsocket=sock, logfile=log,
               loglevel="notice") as srv:
        assert srv.address == f"unix://{sock}"
        got = config(srv.address)
        assert got["logfile"] == str(log)
        assert got["unixsocket"] == str(sock)
    assert "Ready to accept connections" in log.read_text()


def test_spawn_idle_timeout(short_tmp: str) -> None:
    # spawn's own timeout= is the wait for the child to start.
    with spawn(idle_timeout=1, timeout=60, loglevel="warning") as srv:
        assert config(srv.address)["timeout"] == "1"
        with TinyCache(srv.address, connect_timeout=10) as c:
            assert c.ping()
            time.sleep(3.5)     # closed by the server meanwhile
            assert c.ping()     # noticed, reconnected
            n = int(c.execute("INFO", "stats").decode().split(
                "total_connections_received:")[1].split()[0])
            assert n >= 3       # config() + the first + the reconnect


@pytest.mark.parametrize("value", [object(), b"20", {"a": 1}.keys()], ids=repr)
def test_spawn_refuses_values_it_cannot_send(value: Any) -> None:
    with pytest.raises(TypeError, match="^hz cannot be"):
        spawn(hz=value)


# ---- Errors ----

TYPE_ERRORS = [
    ("hz", "10", "hz must be an int, not str"),
    ("hz", True, "hz must be an int, not bool"),
    ("maxmemory", 1.5, "maxmemory must be an int (bytes) or a str"),
    ("protected_mode", 1, "protected_mode must be a bool, not int"),
    ("maxmemory_policy", 1, "maxmemory_policy must be a str, not int"),
    ("maxmemory_samples", 5.0, "maxmemory_samples must be an int"),
]
VALUE_ERRORS = [
    ("maxmemory", "lots", "invalid maxmemory='lots': argument must be a "
     "memory value"),
    ("maxmemory", -1, "invalid maxmemory=-1"),
    ("maxmemory_policy", "lru", "invalid maxmemory_policy='lru': argument(s) "
     "must be one of the following: volatile-lru, volatile-lfu, "
     "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
     "allkeys-random, noeviction"),
    ("active_expire_effort", 11, "invalid active_expire_effort=11: argument "
     "must be between 1 and 10 inclusive"),
    ("maxmemory_samples", 0, "invalid maxmemory_samples=0: argument must be "
     "between 1 and"),
    ("loglevel", "loud", "invalid loglevel='loud'"),
]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("name, value, message", TYPE_ERRORS,
                         ids=[f"{n}={v!r}" for n, v, _ in TYPE_ERRORS])
def test_wrong_type(how: str, name: str, value: Any, message: str,
                    short_tmp: str) -> None:
    e = start_error(how, short_tmp, **{name: value})
    assert type(e) is TypeError
    assert str(e).startswith(message), str(e)


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("name, value, message", VALUE_ERRORS,
                         ids=[f"{n}={v!r}" for n, v, _ in VALUE_ERRORS])
def test_bad_value(how: str, name: str, value: Any, message: str,
                   short_tmp: str) -> None:
    e = start_error(how, short_tmp, **{name: value})
    assert type(e) is ValueError
    assert str(e).startswith(message), str(e)


@pytest.mark.parametrize("how", HOWS)
def test_unknown_setting(how: str, short_tmp: str) -> None:
    e = start_error(how, short_tmp, maxmemory_polcy="allkeys-lru")
    assert type(e) is TypeError
    assert "unexpected keyword argument 'maxmemory_polcy'" in str(e)


# ---- A memory limit ----

def info(c: TinyCache, section: str) -> Dict[str, str]:
    text = c.execute("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines()
                if ":" in line and not line.startswith("#"))


MB = 1024 * 1024
VALUE = b"x" * 1000


def fill(c: TinyCache, prefix: str, n: int, batch: int = 100) -> List[str]:
    """Write n keys of 1000 bytes, `batch` per MSET; return their names."""
    names = [f"{prefix}:{i}" for i in range(n)]
    for i in range(0, n, batch):
        c.set_many({k: VALUE for k in names[i:i + batch]})
    return names


def present(c: TinyCache, names: List[str]) -> int:
    """How many of names exist."""
    found = 0
    for i in range(0, len(names), 500):
        found += sum(v is not None for v in c.get_many(names[i:i + 500]))
    return found


def test_readme_example_lru_cache() -> None:
    with spawn(maxmemory="64mb", maxmemory_policy="allkeys-lru",
               loglevel="warning") as srv:
        with TinyCache(srv.address, connect_timeout=10, timeout=30) as c:
            assert c.execute("CONFIG", "GET", "maxmemory") == [
                b"maxmemory", str(64 * MB).encode()]
            fill(c, "k", 1000)
            assert c.len() == 1000


def test_allkeys_lru_evicts(backend: str) -> None:
    limit = 4 * MB
    with spawn(maxmemory=limit, maxmemory_policy="allkeys-lru",
               event_backend=backend, loglevel="warning") as srv:
        with TinyCache(srv.address, connect_timeout=10, timeout=30) as c:
            old = fill(c, "old", 2000)
            assert info(c, "stats")["evicted_keys"] == "0"
            # The LRU clock counts seconds: let the old keys age, then
            # use a few of them again.
            time.sleep(2.2)
            hot = old[:100]
            assert present(c, hot) == 100
            new = fill(c, "new", 2500)
            # Past the limit: keys went, the least recently used first,
            # and the data stays about within the limit (one MSET may
            # overshoot it by its own size).
            evicted = int(info(c, "stats")["evicted_keys"])
            assert evicted > 0
            used = int(info(c, "memory")["used_memory"])
            assert used <= limit * 1.1
            assert c.len() == 4500 - evicted
            assert present(c, old[100:]) < 1900
            assert present(c, hot) >= 95
            assert present(c, new) >= 0.95 * len(new)
            # Writing much more than the limit keeps it under the limit.
            fill(c, "more", 12_000)
            assert int(info(c, "memory")["used_memory"]) <= limit * 1.1
            assert int(info(c, "stats")["evicted_keys"]) > evicted


def test_volatile_lru_evicts_only_keys_with_ttl() -> None:
    with spawn(maxmemory="4mb", maxmemory_policy="volatile-lru",
               loglevel="warning") as srv:
        with TinyCache(srv.address, connect_timeout=10, timeout=30) as c:
            keep = fill(c, "keep", 1000)
            for i in range(3000):
                c.set(f"tmp:{i}", VALUE, ttl=3600)
            assert int(info(c, "stats")["evicted_keys"]) > 0
            assert present(c, keep) == 1000
            # With no key with a ttl left to evict, writes are refused.
            with pytest.raises(ReplyError, match="^OOM command not allowed"):
                fill(c, "more", 10_000)
            assert present(c, keep) == 1000
            assert c.keys("tmp:*") == []


def test_noeviction_refuses_writes() -> None:
    with spawn(maxmemory="2mb", loglevel="warning") as srv:
        with TinyCache(srv.address, connect_timeout=10, timeout=30) as c:
            assert c.execute("CONFIG", "GET", "maxmemory-policy") == [
                b"maxmemory-policy", b"noeviction"]
            with pytest.raises(ReplyError) as ei:
                for i in range(10_000):
                    c.set(f"k:{i}", VALUE)
            assert ei.value.message == (
                "OOM command not allowed when used memory > 'maxmemory'.")
            written = i
            assert written > 100
            assert info(c, "stats")["evicted_keys"] == "0"
            # Reads and deletes still work; a delete makes room again.
            assert c.get("k:0") == VALUE
            with pytest.raises(ReplyError, match="^OOM"):
                c.add("new", VALUE)
            with pytest.raises(ReplyError, match="^OOM"):
                c.incr("counter")
            for k in range(0, written // 2):
                c.delete(f"k:{k}")
            c.set("new", VALUE, ttl=60)
            assert c.get("new") == VALUE
