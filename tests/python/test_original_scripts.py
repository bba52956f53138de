# SPDX-License-Identifier: MIT
# Run the original scripts, tests/cache_api_test.py and tests/full_test.py,
# as users do (python SCRIPT), on a free port instead of 5002.

import os
import subprocess
import sys

import pytest

from tmcpy import free_port, python_env

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(name, timeout, **env):
    path = os.path.join(TESTS_DIR, name)
    child_env = python_env()
    child_env["TMC_TEST_PORT"] = str(free_port())
    child_env.update(env)
    proc = subprocess.run([sys.executable, path], env=child_env,
                          capture_output=True, text=True, timeout=timeout)
    print(proc.stdout)
    print(proc.stderr, file=sys.stderr)
    return proc


def test_cache_api_test():
    proc = run_script("cache_api_test.py", 120)
    assert proc.returncode == 0
    assert "FAIL" not in proc.stdout
    assert "ALL DONE" in proc.stdout


def test_full_test():
    proc = run_script("full_test.py", 300)
    assert proc.returncode == 0
    assert "jobs       : 1000" in proc.stdout
    assert "workers    : 8" in proc.stdout
    assert "total=1000, unique=1000, duplicates=0" in proc.stdout
    assert "missing    : 0" in proc.stdout
    assert "OK: no duplicate processing detected" in proc.stdout
    assert proc.stdout.count("[WORKER ") == 8
    assert "ALL DONE" in proc.stdout


@pytest.mark.parametrize("jobs", ["0", "1"])
def test_full_test_edge_sizes(jobs):
    proc = run_script("full_test.py", 120, TMC_JOBS=jobs, TMC_WORKERS="3")
    assert proc.returncode == 0
    assert f"total={jobs}, unique={jobs}, duplicates=0" in proc.stdout
