# SPDX-License-Identifier: MIT
"""SCAN's guarantee on our server, under concurrent change.

Redis promises that a full SCAN iteration (from cursor 0 back to 0)
returns every key that was present for the whole iteration at least
once, whatever happens in between: keys added (the table grows and
rehashes), deleted (it shrinks), or given and relieved of a TTL (here
they move between the keyspace's two tables). Keys added or deleted
meanwhile may or may not be returned, and a key may come more than once.

Each phase runs full iterations on one connection while another changes
the keyspace between the calls (deterministic interleaving, so a failure
can be reproduced), or from a thread at the same time. Every phase is
bounded in calls and in time.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Any, Iterator, List, Optional, Sequence, Set, Tuple, Union

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tmc_testlib  # noqa: E402
from tmc_testlib import RespError, encode_command  # noqa: E402


STABLE = [b"stable:%d" % i for i in range(2000)]
MAX_CALLS = 20000        # SCAN calls in one iteration, at most
PHASE_SECONDS = 60.0     # one iteration, at most

Arg = Union[str, bytes, int]


class Conn:
    """A connection that sends pipelines and reads all their replies."""

    def __init__(self, path: str) -> None:
        self.sock: socket.socket = tmc_testlib.connect(path, timeout=30.0)

    def run(self, cmds: Sequence[Sequence[Arg]]) -> List[Any]:
        """Send the commands at once; their replies (none an error)."""
        if not cmds:
            return []
        self.sock.sendall(b"".join(encode_command(*c) for c in cmds))
        values, _ = tmc_testlib.read_replies(self.sock, len(cmds), timeout=30.0)
        for v in values:
            assert not isinstance(v, RespError), v
        return values

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def conns(server: tmc_testlib.Server) -> Iterator[Tuple[Conn, Conn]]:
    """Two connections to our server: one scans, one changes things."""
    assert server.unixsocket
    scanner, writer = Conn(server.unixsocket), Conn(server.unixsocket)
    try:
        writer.run([("SET", k, "v") for k in STABLE])
        yield scanner, writer
    finally:
        scanner.close()
        writer.close()


def scan_through(scanner: Conn, between: Any, *opts: Arg) -> Tuple[Set[bytes], int]:
    """One full SCAN iteration, calling between(call_number) after each
    call that does not end it. Returns (keys returned, calls made)."""
    seen: Set[bytes] = set()
    cursor = b"0"
    calls = 0
    deadline = time.monotonic() + PHASE_SECONDS
    while True:
        (reply,) = scanner.run([("SCAN", cursor) + tuple(opts)])
        calls += 1
        cursor, keys = reply
        seen.update(keys)
        if cursor == b"0":
            return seen, calls
        assert calls < MAX_CALLS, "SCAN did not end in %d calls" % calls
        assert time.monotonic() < deadline, "SCAN took over %.0f s" % (
            PHASE_SECONDS)
        between(calls)


def check_stable(seen: Set[bytes], known: Optional[Set[bytes]] = None) -> None:
    """Every stable key came back; nothing came that never existed."""
    missing = [k for k in STABLE if k not in seen]
    assert not missing, "%d stable keys missed, e.g. %r" % (
        len(missing), missing[:5])
    if known is not None:
        stray = seen - known
        assert not stray, "keys that never existed: %r" % sorted(stray)[:5]


def test_scan_while_growing(conns: Tuple[Conn, Conn]) -> None:
    """Keys pour in between the calls: the tables grow several times
    (with and without TTLs), rehashing while the cursor moves."""
    scanner, writer = conns
    added: List[bytes] = []

    def grow(call: int) -> None:
        if len(added) >= 30000:
            return
        batch = [b"grow:%d" % (len(added) + i) for i in range(150)]
        added.extend(batch)
        writer.run([("SET", k, "v", "EX", "1000") if i % 4 == 0 else
                    ("SET", k, "v") for i, k in enumerate(batch)])

    seen, calls = scan_through(scanner, grow, "COUNT", "10")
    check_stable(seen, set(STABLE) | set(added))
    assert len(added) >= 3000, "the keyspace barely grew (%d calls)" % calls


def test_scan_while_shrinking(conns: Tuple[Conn, Conn]) -> None:
    """Keys go away between the calls: the tables shrink under the
    cursor."""
    scanner, writer = conns
    extra = [b"extra:%d" % i for i in range(30000)]
    writer.run([("SET", k, "v", "EX", "1000") if i % 3 == 0 else
                ("SET", k, "v") for i, k in enumerate(extra)])
    left = list(extra)

    def shrink(call: int) -> None:
        batch = [left.pop() for _ in range(min(400, len(left)))]
        if batch:
            writer.run([("DEL",) + tuple(batch)])
        # Idle time lets the server finish rehashing and resize.
        if call % 20 == 0:
            writer.run([("PING",)])

    seen, _ = scan_through(scanner, shrink, "COUNT", "20")
    check_stable(seen, set(STABLE) | set(extra))
    assert not left or len(left) < len(extra) // 2
    writer.run([("DEL",) + tuple(left)] if left else [])
    # A quiet keyspace of the stable keys alone: a full iteration returns
    # each once, however the tables were left.
    seen, _ = scan_through(scanner, lambda call: None, "COUNT", "100")
    assert seen == set(STABLE)


def test_scan_while_ttls_move_keys(conns: Tuple[Conn, Conn]) -> None:
    """Stable keys gain and lose TTLs between the calls, moving between
    the table without expire times and the one with them, both growing
    and shrinking."""
    scanner, writer = conns
    step = [0]

    def toggle(call: int) -> None:
        n = len(STABLE)
        base = (step[0] * 97) % n
        step[0] += 1
        cmds: List[Sequence[Arg]] = []
        for i in range(150):
            k = STABLE[(base + i * 13) % n]
            if (step[0] + i) % 2:
                cmds.append(("EXPIRE", k, "1000"))
            else:
                cmds.append(("PERSIST", k))
        # Now and then nearly everything moves one way at once.
        if call % 25 == 0:
            cmds.extend(("EXPIRE", k, "1000") for k in STABLE[::2])
        elif call % 25 == 12:
            cmds.extend(("PERSIST", k) for k in STABLE)
        writer.run(cmds)

    for opts in (("COUNT", "10"), ("COUNT", "1"), ("COUNT", "50")):
        seen, _ = scan_through(scanner, toggle, *opts)
        check_stable(seen, set(STABLE))
    ttls = writer.run([("TTL", k) for k in STABLE])
    assert all(t == -1 or 0 < t <= 1000 for t in ttls)


def test_scan_with_concurrent_writer(conns: Tuple[Conn, Conn],
                                     server: tmc_testlib.Server) -> None:
    """A thread adds, deletes, expires and persists keys as fast as it
    can while full iterations run, with and without MATCH."""
    scanner, _ = conns
    assert server.unixsocket
    stop = threading.Event()
    errors: List[BaseException] = []
    ever: Set[bytes] = set(STABLE)
    lock = threading.Lock()

    def writer_thread() -> None:
        conn = Conn(str(server.unixsocket))
        try:
            n = 0
            while not stop.is_set() and n < 400:
                batch = [b"churn:%d" % ((n * 50 + i) % 20000)
                         for i in range(50)]
                with lock:
                    ever.update(batch)
                cmds: List[Sequence[Arg]] = []
                for i, k in enumerate(batch):
                    cmds.append(("SET", k, "v", "PX", "50") if i % 5 == 0
                                else ("SET", k, "v"))
                if n % 3 == 2:
                    cmds.append(("DEL",) + tuple(batch[::2]))
                s = STABLE[(n * 37) % len(STABLE)]
                cmds.append(("EXPIRE", s, "1000") if n % 2 else
                            ("PERSIST", s))
                conn.run(cmds)
                n += 1
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        finally:
            conn.close()

    t = threading.Thread(target=writer_thread, daemon=True)
    t.start()
    try:
        for opts in ((), ("COUNT", "3"), ("MATCH", "stable:*", "COUNT", "25"),
                     ("TYPE", "string", "COUNT", "7")):
            seen, _ = scan_through(scanner, lambda call: None, *opts)
            with lock:
                known = set(ever)
            check_stable(seen, known)
            if opts and opts[0] == "MATCH":
                assert all(k.startswith(b"stable:") for k in seen)
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive()
    assert not errors, errors


def test_scan_call_is_bounded(conns: Tuple[Conn, Conn]) -> None:
    """One SCAN call does about COUNT keys' work, whatever the mix of
    keys with and without TTLs (Redis visits about COUNT keys a call)."""
    scanner, writer = conns
    writer.run([("SET", b"bulk:%d" % i, "v") for i in range(30000)] +
               [("SET", "volatile", "v", "EX", "1000")])
    cursor, keys = scanner.run([("SCAN", "0")])[0]
    assert cursor != b"0"
    assert len(keys) <= 100, "one SCAN call returned %d keys" % len(keys)
