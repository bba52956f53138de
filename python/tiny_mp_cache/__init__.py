# SPDX-License-Identifier: MIT
"""tiny-mp-cache: a local cache and job store shared by Python processes.

    from tiny_mp_cache import serve, serve_unix, spawn, TinyCache, Queue

    serve(5002)                        # blocks: serves 127.0.0.1:5002 here
    with spawn() as srv:               # or: a server in a child process
        cache = TinyCache(srv.address) # "host:port", "unix:///path"
        cache.set("k", b"v"); cache.get("k"); cache.pop("k")
        cache.set("k", b"v", ttl=60)   # expires in 60 s; cache.ttl("k")
        cache["k"] = b"v"; "k" in cache; len(cache); del cache["k"]
        TinyCache(srv.address, serializer="json").set("cfg", {"n": 1})
        jobs = Queue(srv.address, "jobs")  # a queue.Queue shared by processes
        jobs.put(b"job"); jobs.get()   # get waits for an item (no polling)

    # A cache of at most 64 MB that drops the least recently used keys:
    spawn(maxmemory="64mb", maxmemory_policy="allkeys-lru")

The server is the same C code as the ``tiny-mp-cache-server`` program and
speaks the Redis protocol, so redis-cli and redis-py work against it, and
TinyCache works against a real Redis too.
"""

from ._native import SERVER_VERSION as __version__
from .client import (AuthenticationError, ProtocolError, ReplyError,
                     Serializer, TinyCache, TinyCacheConnectionError,
                     TinyCacheError, TinyCacheTimeoutError)
from .queue import Queue
from .recipes import (Lock, LockError, LockNotAcquiredError,
                      LockNotOwnedError, memoize)
from .server import Server, SpawnedServer, serve, serve_unix, spawn

__all__ = [
    "TinyCache",
    "Serializer",
    "Queue",
    "Lock",
    "LockError",
    "LockNotAcquiredError",
    "LockNotOwnedError",
    "memoize",
    "serve",
    "serve_unix",
    "spawn",
    "Server",
    "SpawnedServer",
    "TinyCacheError",
    "ReplyError",
    "AuthenticationError",
    "ProtocolError",
    "TinyCacheConnectionError",
    "TinyCacheTimeoutError",
    "__version__",
]
