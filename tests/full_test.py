# SPDX-License-Identifier: MIT
"""Producer + workers: TinyCache as a job queue between processes.

One of the original tiny-mp-cache test scripts (the README's example),
kept runnable as `python tests/full_test.py`. A producer queues N_JOBS
jobs, N_WORKERS workers take them with keys("job:*") + pop(); every job
must be processed exactly once. Exits 0 when there are no duplicates and
no missing jobs, 1 otherwise.

Environment (all optional): TMC_TEST_PORT (default 5002; make check picks
a free port), TMC_JOBS (1000), TMC_WORKERS (8), TMC_WORK_TIME (0.001 s).
"""

import json
import multiprocessing as mp
import os
import sys
import time

from tiny_mp_cache import TinyCache, serve

PORT = int(os.environ.get("TMC_TEST_PORT", "5002"))
ADDR = f"127.0.0.1:{PORT}"
N_JOBS = int(os.environ.get("TMC_JOBS", "1000"))
N_WORKERS = int(os.environ.get("TMC_WORKERS", "8"))
WORK_TIME = float(os.environ.get("TMC_WORK_TIME", "0.001"))  # 1 ms a job


def server():
    serve(PORT)


def make_job_key(i: int) -> str:
    return f"job:{i}"


def producer():
    cache = TinyCache(ADDR)
    for i in range(N_JOBS):
        job = {"id": i, "payload": f"data-{i}"}
        cache.set(make_job_key(i), json.dumps(job).encode("utf-8"))
    print(f"[PRODUCER] queued {N_JOBS} jobs")


def worker(worker_id: int, processed_ids):
    """
    processed_ids is a shared manager.list(), used only to check that no
    job was processed twice.
    """
    cache = TinyCache(ADDR)
    processed = 0
    while True:
        keys = cache.keys("job:*")
        if not keys:
            break
        for key in keys:
            raw = cache.pop(key)
            if raw is None:
                continue
            job = json.loads(raw.decode("utf-8"))
            processed_ids.append(job["id"])
            processed += 1
            if WORK_TIME:
                time.sleep(WORK_TIME)
    print(f"[WORKER {worker_id}] processed {processed} jobs")


def main():
    mp.set_start_method("fork", force=True)

    srv = mp.Process(target=server, daemon=True)
    srv.start()
    # No sleep(0.5) needed: TinyCache waits for a server that is starting.

    prod = mp.Process(target=producer)
    prod.start()
    prod.join()
    if prod.exitcode != 0:
        print(f"ERROR: the producer failed (exit code {prod.exitcode})")
        return 1

    t0 = time.monotonic()
    with mp.Manager() as manager:
        processed_ids = manager.list()

        workers = [
            mp.Process(target=worker, args=(wid, processed_ids))
            for wid in range(N_WORKERS)
        ]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
        failed_workers = [p.exitcode for p in workers if p.exitcode != 0]

        ids = list(processed_ids)
    elapsed = time.monotonic() - t0
    unique_ids = set(ids)
    duplicates = len(ids) - len(unique_ids)
    missing = set(range(N_JOBS)) - unique_ids

    print("\n=== STATS ===")
    print(f"jobs       : {N_JOBS}")
    print(f"workers    : {N_WORKERS}")
    print(f"processed  : total={len(ids)}, unique={len(unique_ids)}, "
          f"duplicates={duplicates}")
    print(f"missing    : {len(missing)}")
    print(f"time       : {elapsed:.2f} s")

    if missing:
        print(f"WARNING: missing {len(missing)} jobs, "
              f"e.g. {sorted(missing)[:10]}")
    if failed_workers:
        print(f"ERROR: workers failed with exit codes {failed_workers}")
    if duplicates:
        print("ERROR: some jobs were processed more than once!")
    else:
        print("OK: no duplicate processing detected")

    srv.terminate()
    srv.join(10)
    print("ALL DONE")
    return 1 if duplicates or missing or failed_workers else 0


if __name__ == "__main__":
    sys.exit(main())
