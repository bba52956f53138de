# SPDX-License-Identifier: MIT
"""The batch calls: get_many (MGET), set_many (MSET), pop_many (pipelined
GETDEL) — their results, their errors, and exactly-once hand-out when
many processes pop the same keys in batches."""

import multiprocessing as mp
from typing import Dict, List, Optional

import pytest

from tiny_mp_cache import ReplyError, TinyCache


def test_set_many_then_get_many(cache: TinyCache) -> None:
    cache.set_many({"a": b"1", "b": b"", "c": b"\x00\r\n\xff"})
    assert cache.get_many(["a", "b", "nosuch", "c", "a"]) == [
        b"1", b"", None, b"\x00\r\n\xff", b"1"]
    assert cache.len() == 3


def test_set_many_takes_pairs_and_last_wins(cache: TinyCache) -> None:
    cache.set_many([("k", b"1"), ("k", bytearray(b"2")),
                    ("m", memoryview(b"3"))])
    assert cache.get_many(["k", "m"]) == [b"2", b"3"]


def test_empty_batches_send_nothing(cache: TinyCache) -> None:
    assert cache.get_many([]) == []
    assert cache.pop_many([]) == []
    cache.set_many({})
    assert cache.len() == 0


def test_pop_many(cache: TinyCache) -> None:
    cache.set_many({f"job:{i}": str(i).encode() for i in range(100)})
    got = cache.pop_many([f"job:{i}" for i in range(0, 100, 2)] + ["none"])
    assert got[:-1] == [str(i).encode() for i in range(0, 100, 2)]
    assert got[-1] is None
    assert cache.len() == 50
    assert cache.pop_many(["job:0", "job:1"]) == [None, b"1"]


def test_batch_type_errors_send_nothing(cache: TinyCache) -> None:
    with pytest.raises(TypeError):
        cache.get_many(["a", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        cache.pop_many([b"a"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        cache.set_many({"a": "text"})  # type: ignore[dict-item]
    assert cache.len() == 0
    assert cache.ping()


def test_big_batches_stay_in_step(cache: TinyCache) -> None:
    keys = [f"k{i}" for i in range(5000)]
    cache.set_many({k: b"v" for k in keys})
    assert cache.pop_many(keys) == [b"v"] * 5000
    assert cache.get("k0") is None
    with pytest.raises(ReplyError):
        cache.execute("MSET", "only-a-key")
    assert cache.ping()


def _batch_worker(addr: str, batch: int, out: "mp.Queue[List[int]]") -> None:
    c = TinyCache(addr, connect_timeout=10)
    got: List[int] = []
    while True:
        keys = c.keys("job:*")
        if not keys:
            break
        for i in range(0, len(keys), batch):
            for value in c.pop_many(keys[i:i + batch]):
                if value is not None:
                    got.append(int(value))
    out.put(got)


def test_pop_many_exactly_once(server) -> None:  # type: ignore[no-untyped-def]
    n_jobs, n_workers = 20000, 8
    with TinyCache(server.address) as c:
        jobs: Dict[str, bytes] = {f"job:{i}": str(i).encode()
                                  for i in range(n_jobs)}
        c.set_many(jobs)
        ctx = mp.get_context("fork")
        out: "mp.Queue[List[int]]" = ctx.Queue()
        procs = [ctx.Process(target=_batch_worker,
                             args=(server.address, 100, out))
                 for _ in range(n_workers)]
        for p in procs:
            p.start()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
        ids = [i for got in results for i in got]
        assert len(ids) == len(set(ids)), "a job was handed out twice"
        assert sorted(ids) == list(range(n_jobs)), "a job went missing"
        assert c.len() == 0


def test_get_many_value_types(cache: TinyCache) -> None:
    big = b"x" * (1 << 20)
    cache.set("big", big)
    values: List[Optional[bytes]] = cache.get_many(["big", "big"])
    assert values == [big, big]
