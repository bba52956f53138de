#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Where a server's time goes under redis-benchmark (default: -P 1, -c 50).

For our server and redis-server in turn, under the same load, it measures:
  - requests/s, and server CPU per request (from /proc/PID/stat: user and
    system time), context switches per request (/proc/PID/status);
  - system calls per request, by name (strace -c, in a separate phase:
    strace slows the server, but not the count per request);
  - where the CPU time goes (perf record -e cpu-clock -g): the share in
    sending, receiving, waiting (epoll_wait), yielding, the rest of the
    kernel, and the server's own code.

Run from a build directory:  bench/where_time_goes.py [--pipeline 16]
Needs redis-benchmark; strace and perf are optional (that phase is skipped
with a message if one is missing or not permitted).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import LABEL, OURS, REDIS, Server  # noqa: E402

# System-call paths (kernel symbols) grouped by what they do. Our server
# uses send/recv, Redis write/read. Each inner tuple names one system call
# by the symbols its path may show (an inlined entry point hides one), so
# the largest of them counts, and a group adds up its system calls.
GROUPS: List[Tuple[str, Tuple[Tuple[str, ...], ...]]] = [
    ("send replies", (("__x64_sys_sendto", "__sys_sendto"),
                      ("__x64_sys_write", "ksys_write"),
                      ("__x64_sys_writev", "do_writev"),
                      ("__x64_sys_sendmsg", "__sys_sendmsg"))),
    ("receive requests", (("__x64_sys_recvfrom", "__sys_recvfrom"),
                          ("__x64_sys_read", "ksys_read"),
                          ("__x64_sys_recvmsg", "__sys_recvmsg"))),
    ("wait (epoll_wait)", (("__x64_sys_epoll_wait", "do_epoll_wait"),
                           ("__x64_sys_epoll_pwait",),
                           ("__x64_sys_select", "core_sys_select"),
                           ("__x64_sys_pselect6",))),
    ("yield (busy poll)", (("__x64_sys_sched_yield", "do_sched_yield"),)),
]


def proc_times(pid: int) -> Tuple[float, float]:
    """User and system CPU seconds of pid, all threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def ctx_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of pid's threads."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches:",
                                    "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
    return total


def commands(srv: Server) -> int:
    """total_commands_processed of srv."""
    return int(srv.info("stats")["total_commands_processed"])


def find_tool(name: str, phase: str, package: str) -> Optional[str]:
    """Path of the tool name, or None after saying which phase is skipped."""
    path = shutil.which(name)
    if path is None:
        print(f"  {name} not found: {phase} skipped (apt-get install {package})",
              flush=True)
    return path


def strace_phase(pid: int, seconds: float, out: str) -> Optional[Dict[str, int]]:
    """System calls of pid over seconds, by name, or None."""
    strace = find_tool("strace", "system call counts", "strace")
    if strace is None:
        return None
    p = subprocess.Popen([strace, "-c", "-f", "-q", "-o", out, "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(seconds)
    p.terminate()
    _, err = p.communicate(timeout=30)
    counts: Dict[str, int] = {}
    try:
        with open(out) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$",
                             line)
                if m and m.group(2) != "total":
                    counts[m.group(2)] = int(m.group(1))
    except OSError:
        pass
    if not counts:
        print(f"  strace gave no counts: {err.decode(errors='replace').strip()}",
              flush=True)
        return None
    return counts


def perf_phase(pid: int, seconds: float, out: str) -> Optional[Dict[str, float]]:
    """Share (%) of pid's CPU samples per group, or None."""
    perf = find_tool("perf", "CPU profile", "linux-perf")
    if perf is None:
        return None
    r = subprocess.run([perf, "record", "-q", "-e", "cpu-clock", "-F", "4000",
                        "-g", "-p", str(pid), "-o", out, "--", "sleep",
                        str(seconds)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        print(f"  perf record failed: {r.stderr.decode(errors='replace').strip()}",
              flush=True)
        return None
    rep = subprocess.run([perf, "report", "-i", out, "--children", "--sort",
                          "sym", "--stdio", "-g", "none"],
                         capture_output=True, text=True)
    dso = subprocess.run([perf, "report", "-i", out, "--no-children", "--sort",
                          "dso", "--stdio", "-g", "none"],
                         capture_output=True, text=True)
    children: Dict[str, float] = {}
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+[\d.]+%\s+\[k\]\s+(\S+)", line)
        if m:
            children[m.group(2)] = children.get(m.group(2), 0.0) + float(m.group(1))
    kernel = 0.0
    for line in dso.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[kernel", line)
        if m:
            kernel += float(m.group(1))
    shares: Dict[str, float] = {}
    for name, calls in GROUPS:
        shares[name] = sum(max(children.get(sym, 0.0) for sym in aliases)
                           for aliases in calls)
    shares["rest of the kernel"] = max(0.0, kernel - sum(shares.values()))
    shares["the server's own code and libc"] = 100.0 - kernel
    return shares


def measure(cfg: benchlib.Config, kind: str, args: argparse.Namespace,
            bench: str) -> Dict[str, object]:
    """All three phases against one fresh server under load."""
    res: Dict[str, object] = {}
    with Server(cfg, kind) as srv:
        if kind == OURS and args.busy_poll_us is not None:
            with srv.conn() as c:
                c.call(b"CONFIG", b"SET", b"busy-poll-us",
                       str(args.busy_poll_us).encode())
        load = subprocess.Popen(
            [bench, "-h", benchlib.HOST, "-p", str(srv.port), "-t", "get",
             "-n", "100000000", "-c", str(args.clients), "-P",
             str(args.pipeline), "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)                         # warm up
            n0, (u0, s0), x0, t0 = (commands(srv), proc_times(srv.pid),
                                    ctx_switches(srv.pid), time.monotonic())
            b0 = sum(proc_times(load.pid))
            time.sleep(args.seconds)
            n1, (u1, s1), x1, t1 = (commands(srv), proc_times(srv.pid),
                                    ctx_switches(srv.pid), time.monotonic())
            res["server CPU % of one core"] = 100.0 * ((u1 - u0) + (s1 - s0)) / (t1 - t0)
            res["redis-benchmark CPU % of one core"] = (
                100.0 * (sum(proc_times(load.pid)) - b0) / (t1 - t0))
            reqs = max(1, n1 - n0 - 2)             # minus our two INFO calls
            res["requests/s"] = reqs / (t1 - t0)
            res["CPU us/request"] = 1e6 * ((u1 - u0) + (s1 - s0)) / reqs
            res["user share %"] = (100.0 * (u1 - u0) / max(1e-9, (u1 - u0) + (s1 - s0)))
            res["context switches/request"] = (x1 - x0) / reqs
            m0 = commands(srv)
            calls = strace_phase(srv.pid, args.seconds,
                                 os.path.join(cfg.workdir, f"strace-{kind}.txt"))
            m1 = commands(srv)
            if calls:
                per = max(1, m1 - m0 - 1)
                res["syscalls/request"] = {k: v / per for k, v in
                                           sorted(calls.items(), key=lambda kv: -kv[1])
                                           if v / per >= 0.001}
            shares = perf_phase(srv.pid, args.seconds,
                                os.path.join(cfg.workdir, f"perf-{kind}.data"))
            if shares:
                res["CPU share %"] = shares
        finally:
            load.terminate()
            load.wait()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builddir", default=".", help="build directory (default .)")
    ap.add_argument("--pipeline", type=int, default=1, help="redis-benchmark -P (default 1)")
    ap.add_argument("--clients", type=int, default=50, help="redis-benchmark -c (default 50)")
    ap.add_argument("--seconds", type=float, default=3.0,
                    help="length of each phase (default 3)")
    ap.add_argument("--busy-poll-us", type=int, default=None,
                    help="set our server's busy-poll-us first (default: its default)")
    args = ap.parse_args()

    server = os.path.join(args.builddir, "src", "tiny-mp-cache-server")
    redis_server = benchlib.which("redis-server", "/usr/bin/redis-server")
    bench = benchlib.which("redis-benchmark", "/usr/bin/redis-benchmark")
    if not os.access(server, os.X_OK) or redis_server is None or bench is None:
        print(f"need {server} (run make), redis-server and redis-benchmark "
              "(apt-get install redis-server redis-tools)", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="tmc-where-")
    cfg = benchlib.Config(server=server, redis_server=redis_server,
                          redis_benchmark=bench, valgrind=None,
                          callgrind_control=None, workdir=work, outdir=work,
                          quick=False, rounds=1)
    print(f"redis-benchmark -t get -c {args.clients} -P {args.pipeline}; "
          f"{args.seconds:g} s per phase; load average {benchlib.loadavg()}",
          flush=True)
    results = {}
    for kind in (OURS, REDIS):
        print(f"measuring {LABEL[kind]} ...", flush=True)
        results[kind] = measure(cfg, kind, args, bench)

    o, r = results[OURS], results[REDIS]
    print(f"\n{'':44}{LABEL[OURS]:>16}{LABEL[REDIS]:>16}")
    for key, fmt in (("requests/s", "{:,.0f}"),
                     ("server CPU % of one core", "{:.0f}"),
                     ("redis-benchmark CPU % of one core", "{:.0f}"),
                     ("CPU us/request", "{:.2f}"),
                     ("user share %", "{:.1f}"),
                     ("context switches/request", "{:.3f}")):
        print(f"{key:44}{fmt.format(o[key]):>16}{fmt.format(r[key]):>16}")
    if "syscalls/request" in o and "syscalls/request" in r:
        print("system calls per request (strace -c):")
        names = list(dict.fromkeys(list(o["syscalls/request"]) +
                                   list(r["syscalls/request"])))
        for n in names:
            a = o["syscalls/request"].get(n, 0.0)
            b = r["syscalls/request"].get(n, 0.0)
            print(f"  {n:42}{a:>16.3f}{b:>16.3f}")
        print(f"  {'total':42}{sum(o['syscalls/request'].values()):>16.3f}"
              f"{sum(r['syscalls/request'].values()):>16.3f}")
    if "CPU share %" in o and "CPU share %" in r:
        print("share of the server's CPU time (perf record -e cpu-clock):")
        for n in o["CPU share %"]:
            print(f"  {n:42}{o['CPU share %'][n]:>15.1f}%{r['CPU share %'][n]:>15.1f}%")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
