# SPDX-License-Identifier: MIT
"""make check-installed: the Python tests against the package as pip installs it.

Builds an sdist from a copy of the repository (the source tree is left
alone), a wheel from that sdist, installs the wheel into a fresh venv
(with the system's site-packages, for pytest and redis; Debian's pip,
setuptools, wheel and build, offline), then runs tests/python there with
no PYTHONPATH: conftest.py checks that every test imports the installed
copy (TMC_INSTALLED_VENV). test_packaging.py is left out: it makes its own
builds.

Usage: python3 tests/python/check_installed.py [pytest arguments]
(make check-installed sets top_srcdir, top_builddir and TMC_SERVER).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
STEP_TIMEOUT = 900                  # one build or the whole suite, at most

# What python/ builds from, as a checkout has it.
SOURCES = ("python", "src")
SOURCE_FILES = ("configure.ac", "LICENSE")
IGNORE = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__",
                                "*.so", "*.o", ".libs", ".deps")


def _env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """This environment without what points at the build tree's package
    (PYTHONPATH) or preloads the sanitizers' runtime; pip stays offline."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LD_PRELOAD", "ASAN_OPTIONS",
                        "PYTHONHOME") and not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
    env.update(extra or {})
    return env


def _step(what: str, args: List[str], cwd: str,
          env: Optional[Dict[str, str]] = None, show: bool = False) -> None:
    """Run one step, saying what it does and how long it took; exit with
    its status (and the end of what it printed, when not shown as it
    ran) if it fails."""
    print(f"check-installed: {what} ...", flush=True)
    start = time.monotonic()
    quiet = not show
    proc = subprocess.run(args, cwd=cwd, env=env or _env(),
                          stdin=subprocess.DEVNULL, timeout=STEP_TIMEOUT,
                          stdout=subprocess.PIPE if quiet else None,
                          stderr=subprocess.STDOUT if quiet else None,
                          text=True)
    if proc.returncode != 0:
        if quiet:
            print(proc.stdout[-6000:], end="")
        sys.exit(f"check-installed: {what} failed (exit {proc.returncode}): "
                 f"{' '.join(args)}")
    print(f"check-installed: {what}: done in "
          f"{time.monotonic() - start:.0f} s", flush=True)


def _one(pattern: str) -> str:
    """The one file a build made."""
    found = glob.glob(pattern)
    if len(found) != 1:
        sys.exit(f"check-installed: expected one {pattern}, found {found}")
    return found[0]


def main(pytest_args: List[str]) -> int:
    """Build, install and test; the status is pytest's."""
    for mod, pkg in (("pip", "python3-pip"), ("build", "python3-build"),
                     ("wheel", "python3-wheel"), ("venv", "python3-venv"),
                     ("setuptools", "python3-setuptools")):
        if importlib.util.find_spec(mod) is None:
            sys.exit(f"check-installed: {sys.executable} has no {mod}; "
                     f"install it: apt-get install -y {pkg}")
    tmp = tempfile.mkdtemp(prefix="tmc-installed-")
    try:
        repo = os.path.join(tmp, "repo")
        for name in SOURCES:
            shutil.copytree(os.path.join(TOP, name), os.path.join(repo, name),
                            ignore=IGNORE)
        for name in SOURCE_FILES:
            shutil.copy(os.path.join(TOP, name), repo)
        dist = os.path.join(tmp, "dist")
        _step("sdist", [sys.executable, "-m", "build", "--sdist",
                        "--no-isolation", "--outdir", dist,
                        os.path.join(repo, "python")], cwd=tmp)
        sdist = _one(os.path.join(dist, "*.tar.gz"))
        _step("wheel from the sdist", [
            sys.executable, "-m", "pip", "wheel", "--no-build-isolation",
            "--no-deps", "-w", dist, sdist], cwd=tmp)
        wheel = _one(os.path.join(dist, "*.whl"))
        venv = os.path.join(tmp, "venv")
        _step("fresh venv", [sys.executable, "-m", "venv",
                             "--system-site-packages", "--without-pip",
                             venv], cwd=tmp)
        python = os.path.join(venv, "bin", "python")
        _step("install " + os.path.basename(wheel), [
            python, "-m", "pip", "install", "--no-deps", wheel], cwd=tmp)
        tests = os.path.join(TOP, "tests", "python")
        _step("the Python tests against the installed package", [
            python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
            "--ignore", os.path.join(tests, "test_packaging.py"), tests,
            *pytest_args], cwd=tmp,
            env=_env({"TMC_INSTALLED_VENV": venv}), show=True)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
