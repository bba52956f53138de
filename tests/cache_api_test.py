# SPDX-License-Identifier: MIT
"""The basic TinyCache API in one process: set/get/pop/delete/keys/len.

One of the original tiny-mp-cache test scripts, kept runnable as
`python tests/cache_api_test.py`. The server listens on port 5002, or on
$TMC_TEST_PORT when that is set (make check picks a free port). Exits 0
when every check passes.
"""

import multiprocessing as mp
import os
import sys

from tiny_mp_cache import TinyCache, serve

PORT = int(os.environ.get("TMC_TEST_PORT", "5002"))
ADDR = f"127.0.0.1:{PORT}"


def server():
    serve(PORT)


def check(what, got, expected):
    ok = got == expected
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {got!r}"
          + ("" if ok else f" (expected {expected!r})"))
    return ok


def main():
    mp.set_start_method("fork", force=True)

    srv = mp.Process(target=server, daemon=True)
    srv.start()
    # No sleep(0.5) needed: TinyCache waits for a server that is starting.

    cache = TinyCache(ADDR)
    results = []

    results.append(check("get missing", cache.get("missing"), None))
    results.append(check("set", cache.set("foo", b"bar"), None))
    results.append(check("get", cache.get("foo"), b"bar"))
    results.append(check("set replaces", (cache.set("foo", b"baz"),
                                          cache.get("foo")), (None, b"baz")))
    results.append(check("len", cache.len(), 1))

    cache.set("user:1", b"payload")
    cache.set("job:1", b"one")
    cache.set("job:2", b"two")
    results.append(check("keys job:*", sorted(cache.keys("job:*")),
                         ["job:1", "job:2"]))
    results.append(check("len", cache.len(), 4))

    results.append(check("pop", cache.pop("job:1"), b"one"))
    results.append(check("pop again", cache.pop("job:1"), None))
    results.append(check("get popped", cache.get("job:1"), None))

    results.append(check("delete", cache.delete("user:1"), 1))
    results.append(check("delete missing", cache.delete("user:1"), 0))
    results.append(check("get deleted", cache.get("user:1"), None))

    value = cache.get("job:2")
    if value is not None:
        print("job:2 =", value.decode("utf-8"))
    results.append(check("keys after", sorted(cache.keys("*")),
                         ["foo", "job:2"]))
    results.append(check("len after", cache.len(), 2))

    cache.set("bin", b"\x00\xff\x00")
    results.append(check("binary value", cache.get("bin"), b"\x00\xff\x00"))

    srv.terminate()
    srv.join(10)

    failed = results.count(False)
    print(f"\n{len(results) - failed}/{len(results)} checks passed")
    print("ALL DONE" if not failed else "FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
