# SPDX-License-Identifier: MIT
# The package as pip users get it: an sdist made from the repository's
# python/ carries the C sources, the version and the licence, and builds
# a wheel on its own (no ../src next to it); the wheel installs into a
# fresh venv, whose tiny-mp-cache-server and python -m tiny_mp_cache start
# a server that answers. Also the in-tree build (pip install ./python)
# and the clear error of a bare copy of python/. Offline: Debian's pip,
# setuptools, wheel, build and venv, with --no-build-isolation.

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from typing import Dict, Iterator, List, Optional

import pytest

from tmcpy import IN_CI

TOP = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BUILD_TIMEOUT = 600              # one build: ~10-60 s on the 2-core machine
RUN_TIMEOUT = 60

# Debian package of each module the builds need.
NEEDED = {"pip": "python3-pip", "setuptools": "python3-setuptools",
          "wheel": "python3-wheel", "build": "python3-build"}

# The C files that are programs, not library (python/setup.py's PROGRAMS).
PROGRAMS = {"main.c", "check_aof.c"}


def _need_modules() -> None:
    """Fail (CI) or skip (elsewhere) when a build tool is missing."""
    missing = sorted({pkg for mod, pkg in NEEDED.items()
                      if importlib.util.find_spec(mod) is None})
    if missing:
        msg = ("packaging tests need " + ", ".join(missing) +
               ": apt-get install -y " + " ".join(missing))
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def _env() -> Dict[str, str]:
    """The environment of the builds and of the venv's programs: nothing
    that points at the package under test in the build tree (PYTHONPATH)
    or preloads the sanitizers' runtime."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LD_PRELOAD", "ASAN_OPTIONS",
                        "PYTHONHOME") and not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(args: List[str], cwd: str, timeout: float = BUILD_TIMEOUT,
         check: bool = True) -> subprocess.CompletedProcess:
    """Run args; on failure (when check) fail with its output."""
    proc = subprocess.run(args, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited with {proc.returncode}:\n"
                    + proc.stdout[-4000:])
    return proc


def _version() -> str:
    """The version in configure.ac's AC_INIT (the one source of it)."""
    with open(os.path.join(TOP, "configure.ac"), encoding="utf-8") as f:
        m = re.search(r"AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]", f.read())
    assert m, "no version in configure.ac"
    return m.group(1)


def _copy_repository(dst: str) -> str:
    """Copy what python/ builds from (python/, src/, configure.ac,
    LICENSE) to dst, as a checkout would have them, so that the builds
    leave the source tree alone (read-only under make distcheck)."""
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__",
                                    "*.so", "*.o", ".libs", ".deps")
    shutil.copytree(os.path.join(TOP, "python"), os.path.join(dst, "python"),
                    ignore=ignore)
    shutil.copytree(os.path.join(TOP, "src"), os.path.join(dst, "src"),
                    ignore=ignore)
    for name in ("configure.ac", "LICENSE"):
        shutil.copy(os.path.join(TOP, name), dst)
    for root, dirs, files in os.walk(dst):      # dist trees are read-only
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    return os.path.join(dst, "python")


class Built:
    """What the module's builds made (see the `built` fixture)."""
    sdist: str                   # the .tar.gz made from the repository
    wheel: str                   # the wheel built from the sdist alone
    venv: str                    # a venv with that wheel installed
    tmp: str

    @property
    def python(self) -> str:
        return os.path.join(self.venv, "bin", "python")

    @property
    def script(self) -> str:
        return os.path.join(self.venv, "bin", "tiny-mp-cache-server")


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    """sdist from a copy of the repository; the sdist unpacked alone
    (nothing beside it) builds the wheel; a fresh venv (with the system's
    site-packages, for pytest and redis) gets the wheel."""
    _need_modules()
    b = Built()
    b.tmp = tempfile.mkdtemp(prefix="tmc-pkg-")
    try:
        python_dir = _copy_repository(os.path.join(b.tmp, "repo"))
        dist = os.path.join(b.tmp, "dist")
        _run([sys.executable, "-m", "build", "--sdist", "--no-isolation",
              "--outdir", dist, python_dir], cwd=b.tmp)
        (b.sdist,) = [os.path.join(dist, n) for n in os.listdir(dist)]
        alone = os.path.join(b.tmp, "alone")
        os.mkdir(alone)
        with tarfile.open(b.sdist) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(alone, filter="data")
            else:
                tar.extractall(alone)
        (tree,) = [os.path.join(alone, n) for n in os.listdir(alone)]
        wheels = os.path.join(b.tmp, "wheels")
        _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation",
              "--no-deps", "-w", wheels, tree], cwd=alone)
        (b.wheel,) = [os.path.join(wheels, n) for n in os.listdir(wheels)]
        b.venv = os.path.join(b.tmp, "venv")
        _run([sys.executable, "-m", "venv", "--system-site-packages",
              "--without-pip", b.venv], cwd=b.tmp, timeout=RUN_TIMEOUT)
        # The system's pip (visible through --system-site-packages)
        # installs into the venv it runs in.
        _run([b.python, "-m", "pip", "install", "--no-deps", b.wheel],
             cwd=b.tmp, timeout=RUN_TIMEOUT)
        yield b
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)


def test_sdist_carries_sources_version_and_licence(built: Built) -> None:
    with tarfile.open(built.sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        top = tar.getnames()[0].split("/")[0]
        version = tar.extractfile(f"{top}/VERSION").read().decode().strip()
        licence = tar.extractfile(f"{top}/LICENSE").read().decode()
    src = os.path.join(TOP, "src")
    want = {f"csrc/{n}" for n in os.listdir(src)
            if (n.endswith(".c") and n not in PROGRAMS) or n.endswith(".h")}
    # The extension's own sources: python/native/*.c and native.h.
    native = os.path.join(TOP, "python", "native")
    want |= {f"native/{n}" for n in os.listdir(native)
             if n.endswith((".c", ".h"))}
    assert "native/native.h" in want
    assert want <= names, sorted(want - names)
    assert not {f"csrc/{n}" for n in PROGRAMS} & names
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md",
                 "tiny_mp_cache/cli.py",
                 "tiny_mp_cache/__main__.py", "tiny_mp_cache/py.typed"):
        assert name in names
    assert not [n for n in names if n.startswith("..") or "/../" in n]
    assert version == _version()
    assert top == f"tiny-mp-cache-{version}"
    assert "MIT License" in licence


def test_wheel_metadata_and_licence(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as whl:
        names = whl.namelist()
        info = f"tiny_mp_cache-{_version()}.dist-info"
        assert f"{info}/LICENSE" in names
        meta = whl.read(f"{info}/METADATA").decode()
        entry = whl.read(f"{info}/entry_points.txt").decode()
    assert not [n for n in names if n.endswith(".c")]
    assert [n for n in names if re.match(r"tiny_mp_cache/_native\..*\.so$", n)]
    assert f"Version: {_version()}" in meta
    assert "Author: the tiny-mp-cache developers" in meta
    assert "License: MIT" in meta
    assert "Requires-Python: >=" in meta
    assert "Classifier: License :: OSI Approved :: MIT License" in meta
    assert "# tiny-mp-cache" in meta               # the long description
    assert "tiny-mp-cache-server = tiny_mp_cache.cli:main" in entry


def test_import_from_venv_is_the_installed_copy(built: Built) -> None:
    proc = _run([built.python, "-c",
                 "import sys, tiny_mp_cache, tiny_mp_cache._native as n; "
                 "print(tiny_mp_cache.__file__); print(n.__file__); "
                 "print(tiny_mp_cache.__version__); print(sys.prefix)"],
                cwd=built.tmp, timeout=RUN_TIMEOUT)
    pkg, native, version, prefix = proc.stdout.split()
    site = os.path.realpath(built.venv)
    assert os.path.realpath(pkg).startswith(site + os.sep), pkg
    assert os.path.realpath(native).startswith(site + os.sep), native
    assert version == _version()
    assert os.path.realpath(prefix) == site


def test_console_script_version_and_bad_option(built: Built) -> None:
    proc = _run([built.script, "--version"], cwd=built.tmp,
                timeout=RUN_TIMEOUT)
    assert proc.stdout == f"tiny-mp-cache-server {_version()}\n"
    proc = _run([built.script, "--hz", "abc"], cwd=built.tmp,
                timeout=RUN_TIMEOUT, check=False)
    assert proc.returncode == 2
    assert proc.stdout == (
        "tiny-mp-cache-server: invalid --hz 'abc': argument couldn't be "
        "parsed into an integer\n"
        "Try 'tiny-mp-cache-server --help' for more information.\n")
    proc = _run([built.script, "--no-such-option", "1"], cwd=built.tmp,
                timeout=RUN_TIMEOUT, check=False)
    assert proc.returncode == 2
    assert proc.stdout.startswith(
        "tiny-mp-cache-server: unknown option '--no-such-option'\nUsage: ")


def test_python_m_help(built: Built) -> None:
    proc = _run([built.python, "-m", "tiny_mp_cache", "--help"],
                cwd=built.tmp, timeout=RUN_TIMEOUT)
    assert proc.stdout.startswith("Usage: python -m tiny_mp_cache [OPTION]")
    for option in ("--port N", "--bind", "--unixsocket PATH", "--maxmemory",
                   "--appendonly yes|no", "-h, --help", "-v, --version"):
        assert option in proc.stdout
    proc = _run([built.python, "-m", "tiny_mp_cache", "--maxmemory=1zz"],
                cwd=built.tmp, timeout=RUN_TIMEOUT, check=False)
    assert proc.returncode == 2
    assert proc.stdout == (
        "python -m tiny_mp_cache: invalid --maxmemory '1zz': argument must "
        "be a memory value\n"
        "Try 'python -m tiny_mp_cache --help' for more information.\n")


def _ping(family: int, address: object) -> bytes:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(address)
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return s.recv(64)


class _Lines:
    """Collect a pipe's lines in a thread (so the child never blocks)."""

    def __init__(self, pipe) -> None:
        self.lines: List[str] = []
        self.thread = threading.Thread(target=self._read, args=(pipe,),
                                       daemon=True)
        self.thread.start()

    def _read(self, pipe) -> None:
        for line in pipe:
            self.lines.append(line)

    def find(self, pattern: str) -> Optional[re.Match]:
        for line in list(self.lines):
            m = re.search(pattern, line)
            if m:
                return m
        return None


@pytest.mark.parametrize("how", ["script", "python -m"])
def test_installed_server_answers_and_stops(built: Built, how: str) -> None:
    sock_dir = tempfile.mkdtemp(prefix="tmc-pkg-")
    path = os.path.join(sock_dir, "s.sock")
    cmd = ([built.script] if how == "script" else
           [built.python, "-m", "tiny_mp_cache"])
    proc = subprocess.Popen(
        cmd + ["--port", "0", "--unixsocket", path, "--loglevel", "notice"],
        cwd=built.tmp, env=_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        err = _Lines(proc.stderr)
        deadline = time.monotonic() + RUN_TIMEOUT
        while (m := err.find(r"Ready to accept connections: tcp "
                             r"127\.0\.0\.1:(\d+)")) is None:
            assert proc.poll() is None, "".join(err.lines)
            assert time.monotonic() < deadline, "".join(err.lines)
            time.sleep(0.02)
        # The C program's log line: "pid:M date time.ms # text".
        assert err.find(r"^\d+:M \d\d \w+ \d{4} [\d:.]+ # Ready to accept")
        assert _ping(socket.AF_UNIX, path) == b"+PONG\r\n"
        assert _ping(socket.AF_INET, ("127.0.0.1", int(m.group(1)))) == \
            b"+PONG\r\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(RUN_TIMEOUT) == 0          # stopped cleanly
        err.thread.join(RUN_TIMEOUT)
        assert err.find("Shutting down"), "".join(err.lines)
        assert not os.path.exists(path)             # socket file removed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(RUN_TIMEOUT)
        proc.stderr.close()
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_in_tree_build_and_bare_copy(built: Built, tmp_path) -> None:
    """pip wheel ./python in a checkout (from the top level) compiles
    ../src; a copy of python/ with no src/ beside it and no csrc/ in it
    says what to do instead of a traceback."""
    top = tmp_path / "repo"
    python_dir = _copy_repository(str(top))
    _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation",
          "--no-deps", "-w", str(tmp_path / "w"), "./python"], cwd=str(top))
    (wheel,) = os.listdir(tmp_path / "w")
    with zipfile.ZipFile(tmp_path / "w" / wheel) as whl:
        assert f"tiny_mp_cache-{_version()}.dist-info/LICENSE" in whl.namelist()
    bare = tmp_path / "bare" / "python"
    shutil.copytree(python_dir, bare)
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation",
                 "--no-deps", "-w", str(tmp_path / "w2"), str(bare)],
                cwd=str(tmp_path), check=False)
    assert proc.returncode != 0
    assert "the C sources are missing" in proc.stdout
    assert "FileNotFoundError" not in proc.stdout
