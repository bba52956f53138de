# SPDX-License-Identifier: MIT
# The package's server command (python -m tiny_mp_cache, the
# tiny-mp-cache-server console script) against the C program: the same
# options, read by the same C code, with the same output, messages and
# exit status (the program's name aside); what they start answers.

import os
import signal
import subprocess
import sys
import tempfile
from typing import List, Tuple

import pytest

from tiny_mp_cache import TinyCache
from tmcpy import need_tool, python_env, wait_for

RUN_TIMEOUT = 30
PY_PROG = f"{os.path.basename(sys.executable)} -m tiny_mp_cache"
C_PROG = "tiny-mp-cache-server"

# Command lines that end at once (none may start a server: it would
# listen on the default port): help, version, and every kind of bad
# option (usage error, bad value, missing value, a fixed setting's other
# value, an unknown backend), then a server that cannot start (status 1:
# a data directory that is missing, its name not UTF-8).
EXITING = [
    ["--help"], ["-h"], ["--version"], ["-v"], ["--hz=20", "--version"],
    ["-p", "5"], ["port"], ["--bogus", "1"], ["--hz"], ["--hz", "0x10"],
    ["--maxmemory", "1x"], ["--port", "65536"],
    ["--appendfsync", "sometimes"], ["--save", "900 1"],
    ["--daemonize", "yes"], ["--event-backend", "kqueue"],
    ["--maxmemory-policy=lru"], ["--list-max-ziplist-size", "zero"],
    ["--unixsocketperm", "9"], ["--MAXMEMORY", "1y"],
    ["--port", "-1", "--unixsocket", "/nonexistent/tmc/s",
     os.fsdecode(b"--dir=/nonexistent/\xff\xfe")],
]


def _server() -> str:
    return need_tool("tiny-mp-cache-server", "TMC_SERVER")


def _run(args: List[str]) -> Tuple[int, str, str]:
    """The C program's and the module's (status, stdout, stderr) for args,
    the module's name written as the C program's."""
    outs = []
    for cmd, prog in (([_server()], C_PROG),
                      ([sys.executable, "-m", "tiny_mp_cache"], PY_PROG)):
        proc = subprocess.run(cmd + args, env=python_env(),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=RUN_TIMEOUT)
        outs.append((proc.returncode,
                     os.fsdecode(proc.stdout).replace(prog, C_PROG),
                     os.fsdecode(proc.stderr).replace(prog, C_PROG)))
    assert outs[0] == outs[1]
    return outs[0]


@pytest.mark.parametrize("args", EXITING, ids=[" ".join(a) for a in EXITING])
def test_same_as_the_c_program(args: List[str]) -> None:
    status, out, err = _run(args)
    if any(a in ("-h", "--help", "-v", "--version") for a in args):
        assert status == 0 and err == "" and out
    else:
        assert status == (1 if "--dir" in args[-1] else 2)
        assert out == "" and err.startswith(C_PROG + ": ")


def test_version_names_the_server() -> None:
    _status, out, _err = _run(["--version"])
    from tiny_mp_cache import _native
    assert out == f"tiny-mp-cache-server {_native.SERVER_VERSION}\n"


# Options the C program takes beyond the settings Server() has keywords
# for: an older name, and the one value of settings Redis tools pass.
STARTING = [["--list-max-ziplist-size", "-3"], ["--save", ""],
            ["--daemonize", "no"], ["--MaxMemory=10mb", "--hz", "20"]]


@pytest.mark.parametrize("args", STARTING, ids=[" ".join(a) for a in STARTING])
@pytest.mark.parametrize("how", ["c", "module"])
def test_starts_and_stops(args: List[str], how: str) -> None:
    """Both start with these options on a Unix socket, answer, and stop
    cleanly on SIGTERM."""
    cmd = [_server()] if how == "c" else [sys.executable, "-m",
                                          "tiny_mp_cache"]
    with tempfile.TemporaryDirectory(prefix="tmc-cli-") as tmp:
        sock = os.path.join(tmp, "s")
        proc = subprocess.Popen(
            cmd + args + ["--port", "-1", "--unixsocket", sock],
            env=python_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: os.path.exists(sock) or proc.poll() is not None,
                     RUN_TIMEOUT, "the socket")
            assert proc.poll() is None, proc.communicate()
            with TinyCache(f"unix://{sock}", connect_timeout=10) as c:
                c.set("k", b"v")
                assert c.get("k") == b"v"
                if args[0] == "--list-max-ziplist-size":
                    reply = c.execute("CONFIG", "GET",
                                      "list-max-listpack-size")
                    assert reply == [b"list-max-listpack-size", b"-3"]
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=RUN_TIMEOUT)
            assert proc.returncode == 0, err
            assert b"Ready to accept connections" in out + err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
