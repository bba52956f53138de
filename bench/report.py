# SPDX-License-Identifier: MIT
"""The outputs of the benchmark harness: the printed table, the targets of
issues 5, 9 and 10, results.csv, results.json and throughput.png."""

from __future__ import annotations

import csv
import json
import statistics
from typing import Dict, List, Optional, Tuple

import workloads
import workloads_lists as wl
from benchlib import OURS, REDIS, Results, Row


def fmt(v: Optional[float]) -> str:
    """A value for the table: thousands separators, 3+ significant digits."""
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ratio(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _spread(r: Row) -> str:
    if r.no_ratio:
        return "-"
    s = [x for x in (r.spread(OURS), r.spread(REDIS)) if x is not None]
    return f"{100 * max(s):.0f}%" if s else "-"


def table(res: Results) -> str:
    """The table of medians: one section per workload."""
    lines: List[str] = []
    cur = None
    w_name = max([len(r.name) for r in res.rows.values()] + [20])
    for r in res.rows.values():
        if r.workload != cur:
            cur = r.workload
            lines.append("")
            lines.append(f"== {cur}")
            lines.append(f"{'row':<{w_name}}  {'unit':<7} {'ours':>14} {'other':>14} "
                         f"{'ours/other':>10}  {'better':<6} {'spread':>6}")
        lines.append(f"{r.name:<{w_name}}  {r.unit:<7} {fmt(r.median(OURS)):>14} "
                     f"{fmt(r.median(REDIS)):>14} {fmt_ratio(r.ratio()):>10}  "
                     f"{r.better:<6} {_spread(r):>6}")
    return "\n".join(lines)


TABLE_LEGEND = """\
ours = tiny-mp-cache, other = redis-server unless the row says otherwise.
Values are medians over the rounds; ours/other is the median of the per-round
ratios (each round measures ours, then the other, back to back). spread =
(max - min) / median over the rounds, the larger of the two sides: a rough
noise figure."""




def _meds(r: Optional[Row], fmt_one: str = "{:.0f}", ours: str = OURS,
          other: str = REDIS) -> str:
    """" (A vs B)" from the medians of two sides of r, or ""."""
    if r is None or r.median(ours) is None or r.median(other) is None:
        return ""
    return f" ({fmt_one.format(r.median(ours))} vs {fmt_one.format(r.median(other))})"


def _ratio_of(a: Optional[Row], a_side: str, b: Optional[Row],
              b_side: str) -> Optional[float]:
    if a is None or b is None:
        return None
    rs = [x / y for x, y in zip(getattr(a, a_side), getattr(b, b_side))
          if x is not None and y]
    return statistics.median(rs) if rs else None


def targets(res: Results, rp_label: str) -> List[Dict[str, str]]:
    """The targets of issues 5, 9 and 10 with the measured ratio and met /
    missed."""
    out: List[Dict[str, str]] = []

    def add(what: str, value: Optional[float], goal: float, higher: bool,
            extra: str = "", unit: str = "x", digits: int = 2,
            strict: bool = False) -> None:
        if value is None:
            verdict, shown = "not measured", "-"
        else:
            ok = value >= goal if higher else value <= goal
            if strict:
                ok = ok and value != goal
            verdict = "met" if ok else "MISSED"
            shown = (f"{value:.0f}{unit}" if unit == "%"
                     else f"{value:.{digits}f}{unit}")
        out.append({"target": what, "measured": shown + extra, "verdict": verdict})

    for pipe, goal in ((16, 1.5), (1, 1.1)):
        cpu = res.find_numbered("1", f"redis-benchmark CPU, -P {pipe}, TCP")
        extra = ""
        if cpu and cpu.median(OURS) is not None and cpu.median(REDIS) is not None:
            extra = (f" (redis-benchmark busy {cpu.median(OURS):.0f}% / "
                     f"{cpu.median(REDIS):.0f}% of a core)")
        for test in ("SET", "GET"):
            r = res.find_numbered("1", f"{test} -P {pipe}, TCP")
            add(f"redis-benchmark {test} -c 50 -P {pipe} TCP: ours >= {goal}x redis",
                r.ratio() if r else None, goal, True, extra)
    for test in ("SET", "GET"):
        r = res.find_numbered("3", f"instructions per {test}")
        add(f"instructions per pipelined {test}: ours <= 0.5x redis",
            r.ratio() if r else None, 0.5, False)
    for name, goal in (("RSS per key (over empty)", 0.6),
                       ("RSS per key with a TTL (over empty)", 0.5)):
        r = res.find_numbered("2", name)
        extra = ""
        if r and r.median(OURS) is not None and r.median(REDIS) is not None:
            extra = f" ({r.median(OURS):.0f} vs {r.median(REDIS):.0f} bytes/key)"
        what = "RSS per key" if "TTL" not in name else "RSS per key, every key with a TTL"
        add(f"memory: {what} <= {goal}x redis", r.ratio() if r else None, goal, False,
            extra)
    for how in ("DEL", "FLUSHALL"):
        r = res.find_numbered("2", f"share of the growth returned after {how}")
        add(f"memory: RSS falls back after {how} of all keys (>= 75% of the growth "
            "returned, ours)", r.median(OURS) if r else None, 75.0, True, unit="%")
    for place in ("same CPU", "different CPUs"):
        quoted = " [quoted]" if place == "same CPU" else " [for reference]"
        r = res.find_numbered("4b", f"GET, {place}: TinyCache vs {rp_label}")
        add(f"TinyCache.get >= 1.5x {rp_label}, same server, {place}{quoted}",
            r.ratio() if r else None, 1.5, True)
        r = res.find_numbered("4b", f"GET, {place}: TinyCache vs raw socket floor")
        add(f"TinyCache.get >= 0.8x the raw-socket floor, {place}{quoted}",
            r.ratio() if r else None, 0.8, True)
        r = res.find_numbered("4b", f"GET, {place}: TinyCache vs new connection per op")
        add(f"TinyCache.get >= 5x a connection per operation, {place}{quoted}",
            r.ratio() if r else None, 5.0, True)
    _targets_issue9(res, add)
    r = res.find_numbered("5", workloads.JOB_ROW)
    add("job queue: TinyCache -> ours >= 2x redis-py -> redis-server jobs/s",
        r.ratio() if r else None, 2.0, True)
    b = next((x for x in res.rows.values()
              if x.workload.startswith("5") and x.name.startswith("batched")), None)
    q = res.find_numbered("5", workloads.MPQ_ROW)
    add("job queue batched (pop_many) >= 0.5x multiprocessing.Queue jobs/s",
        _ratio_of(b, OURS, q, OURS), 0.5, True)
    _targets_issue10(res, add, rp_label)
    return out


def _targets_issue9(res: Results, add) -> None:
    """The targets of issue 9: expiry and eviction."""
    r = res.find_numbered("1", "SET key:__rand_int__ v EX 100 (-r 1000000), -P 1, TCP")
    add("redis-benchmark SET key:__rand_int__ v EX 100 -r 1000000 -c 50 -P 1: "
        "ours >= 1.1x redis", r.ratio() if r else None, 1.1, True)
    r = res.find_numbered("3", "instructions per SET EX")
    add("instructions per pipelined SET EX: ours <= 0.5x redis",
        r.ratio() if r else None, 0.5, False)
    for test in ("GET", "SET"):
        r = res.find_numbered("3", f"instructions per {test}")
        add(f"instructions per pipelined {test}: ours <= 0.35x redis (no regression)",
            r.ratio() if r else None, 0.35, False)
    for policy, variant in workloads.EVICT_RUNS:
        label = f"{policy}, {variant}" if variant else policy
        r = res.find_numbered("6", f"hit ratio, {label}")
        extra = ""
        if r and r.median(OURS) is not None and r.median(REDIS) is not None:
            extra = f" ({r.median(OURS):.2f}% vs {r.median(REDIS):.2f}%)"
        add(f"eviction, Zipf 0.99, maxmemory 10% of the keys: hit ratio {label} "
            ">= redis", r.ratio() if r else None, 1.0, True, extra, digits=3)
    r = res.find_numbered("7", "server CPU from the expire time to the last key gone")
    extra = ""
    if r and r.median(OURS) is not None and r.median(REDIS) is not None:
        extra = f" ({r.median(OURS):.0f} vs {r.median(REDIS):.0f} ms)"
    add("active expiry: server CPU to reclaim the keys <= redis",
        r.ratio() if r else None, 1.0, False, extra)
    r = res.find_numbered("7", "seconds from the expire time to 99% gone")
    add("active expiry: 99% of the keys gone within 5 s of their time (ours)",
        r.median(OURS) if r else None, 5.0, False, unit=" s")


def _targets_issue10(res: Results, add, rp_label: str) -> None:
    """The targets of issue 10: lists, blocking pops, the Python Queue."""
    r = res.find_numbered("8b", f"Queue.get -> ours vs {rp_label} BLPOP -> redis-server")
    add(f"job queue: Queue.get -> ours >= 1.5x {rp_label} BLPOP -> redis-server jobs/s",
        r.ratio() if r else None, 1.5, True, _meds(r, "{:,.0f}"))
    r = res.find_numbered("8b", "both -> ours: Queue.get vs keys + pop")
    add("job queue: Queue.get >= 5x keys + pop, both -> ours",
        r.ratio() if r else None, 5.0, True, _meds(r, "{:,.0f}"))
    r = res.find_numbered("8b", f"Queue.get_many({wl.Q_BATCH}) -> ours vs multiprocessing.Queue")
    add(f"job queue: Queue.get_many({wl.Q_BATCH}) -> ours >= 2x multiprocessing.Queue",
        r.ratio() if r else None, 2.0, True, _meds(r, "{:,.0f}"))
    for p in (50, 99):
        r = res.find_numbered("9b", f"p{p}: Queue -> ours vs multiprocessing.Queue")
        add(f"hand-off latency p{p}: Queue -> ours <= multiprocessing.Queue",
            r.ratio() if r else None, 1.0, False, _meds(r, "{:.0f} us"))
    refs = [(t, res.find_numbered("10", f"{t} (reference)")) for t in wl.REF_TESTS]
    ref = ", ".join(f"{t} {r.ratio():.2f}x" for t, r in refs
                    if r is not None and r.ratio() is not None)
    for test in wl.LIST_TESTS:
        r = res.find_numbered("10", test)
        add(f"redis-benchmark {test} -c 50 -P 1 TCP: ours >= 1.1x redis",
            r.ratio() if r else None, 1.1, True,
            _meds(r, "{:,.0f}") + (f"; the same run's {ref}" if ref else ""))
    for test in ("LPUSH", "RPOP"):
        r = res.find_numbered("10b", f"instructions per {test}")
        add(f"instructions per pipelined {test}: ours <= 0.5x redis",
            r.ratio() if r else None, 0.5, False, _meds(r, "{:,.0f} Ir"))
    for r in res.rows.values():
        if r.workload.startswith("11 ") and r.name.startswith("RSS per element, "):
            extra = _meds(r, "{:.1f} bytes")
            if r.median(REDIS) is not None:
                extra += (f"; 0.8x redis = {0.8 * r.median(REDIS):.1f} bytes an element, "
                          f"the payload is {wl.LIST_PAYLOAD}")
            add(f"memory: {r.name[len('RSS per element, '):]} elements of "
                f"{wl.LIST_PAYLOAD} bytes: RSS per element <= 0.8x redis", r.ratio(), 0.8,
                False, extra)
    r = next((x for x in res.rows.values() if x.workload.startswith("12 ")
              and x.name.startswith("server CPU while idle")), None)
    n = res.params.get("idle_clients", wl.IDLE_CLIENTS)
    add(f"{n:,} idle clients blocked in BLPOP: server CPU < 1% of a core (ours)",
        r.median(OURS) if r else None, 1.0, False,
        f" (redis-server {r.median(REDIS):.2f}%)" if r and r.median(REDIS) is not None
        else "", unit="% of a core", digits=2, strict=True)
    push = res.find_numbered("12", "push served, p99")
    get = res.find_numbered("12", "GET round trip, p99")
    p50 = res.find_numbered("12", "push served (RPUSH -> blocked client has it), p50")
    extra = ""
    if push and get and push.median(OURS) is not None and get.median(OURS) is not None:
        extra = (f" (push p99 {push.median(OURS):.0f} us vs GET p99 "
                 f"{get.median(OURS):.0f} us; push p50 "
                 f"{p50.median(OURS) if p50 else float('nan'):.0f} us")
        theirs = _ratio_of(push, REDIS, get, REDIS)
        extra += (f"; redis-server's push p99 / GET p99: {theirs:.2f}x)"
                  if theirs is not None else ")")
    add(f"{n:,} blocked clients: a push served within a GET's p99 round trip "
        "(push p99 / GET p99, ours)", _ratio_of(push, OURS, get, OURS), 1.0, False, extra)


def targets_text(ts: List[Dict[str, str]]) -> str:
    """One line per target: what, the verdict, the measured value."""
    w = max(len(t["target"]) for t in ts)
    return "\n".join(f"{t['target']:<{w}}  {t['verdict']:<12}  {t['measured']}"
                      for t in ts)


def write_csv(res: Results, path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["workload", "row", "unit", "better", "ours_label", "other_label",
                    "ours_median", "other_median", "ratio_median", "ours_rounds",
                    "other_rounds"])
        for r in res.rows.values():
            w.writerow([r.workload, r.name, r.unit, r.better, r.ours_label,
                        r.redis_label, _num(r.median(OURS)), _num(r.median(REDIS)),
                        _num(r.ratio()),
                        ";".join(_num(v) for v in r.ours),
                        ";".join(_num(v) for v in r.redis)])


def _num(v: Optional[float]) -> str:
    return "" if v is None else f"{v:.6g}"


def write_json(res: Results, path: str, facts: Dict[str, str], ts: List[Dict[str, str]],
               meta: Dict[str, object]) -> None:
    rows = []
    for r in res.rows.values():
        rows.append({"workload": r.workload, "row": r.name, "unit": r.unit,
                     "better": r.better, "ours_label": r.ours_label,
                     "other_label": r.redis_label, "ours": r.ours, "other": r.redis,
                     "ours_median": r.median(OURS), "other_median": r.median(REDIS),
                     "ratio_median": r.ratio()})
    doc = {"machine": facts, "run": meta, "params": res.params, "rows": rows,
           "targets": ts, "exactly_once": res.checks, "notes": res.notes,
           "failures": res.failures, "commands": res.commands}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def plot(res: Results, path: str, title: str) -> Tuple[bool, str]:
    """A PNG with one bar panel per workload (ours vs other per row);
    (False, why) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return False, (f"matplotlib is not importable ({e}; Debian: "
                       "apt-get install python3-matplotlib)")
    panels: Dict[str, List[Row]] = {}
    for r in res.rows.values():
        if r.workload.split(" ", 1)[0] in ("4b", "8b", "9b"):
            continue            # numbers of other rows, paired anew
        if r.unit in ("req/s", "ops/s", "jobs/s", "Ir") or \
                (r.unit == "bytes" and ("per key" in r.name or "per element" in r.name)):
            panels.setdefault(r.workload, []).append(r)
    if not panels:
        return False, "nothing to plot"
    heights = [max(1.6, 0.42 * len(rs) + 1.0) for rs in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, sum(heights) + 1),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (wname, rs) in zip(axes[:, 0], panels.items()):
        names = [r.name for r in rs]
        ours = [r.median(OURS) or 0 for r in rs]
        other = [r.median(REDIS) or 0 for r in rs]
        ys = list(range(len(rs)))
        ax.barh([y - 0.2 for y in ys], ours, height=0.4, label="ours (tiny-mp-cache / "
                "TinyCache)", color="tab:blue")
        ax.barh([y + 0.2 for y in ys], other, height=0.4, label="other (redis-server "
                "/ as named)", color="tab:red")
        for y, r, a, b in zip(ys, rs, ours, other):
            rt = r.ratio()
            if rt is not None:
                ax.text(max(a, b), y, f"  {rt:.2f}x", va="center", fontsize=8)
        ax.set_yticks(ys)
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        units = sorted({r.unit for r in rs})
        better = sorted({r.better for r in rs})
        ax.set_title(wname, fontsize=10, loc="left")
        ax.set_xlabel(f"{', '.join(units)} ({'/'.join(better)} is better; "
                      "ratio = ours/other)", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.margins(x=0.15)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True, path
