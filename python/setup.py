# SPDX-License-Identifier: MIT
# Build the tiny_mp_cache extension with pip/setuptools, from the same C
# sources Autotools builds (native/*.c, and src/*.c but the programs' own
# files).
#
# Two layouts, found by what sits next to this file:
# - the repository: python/ beside ../src and ../configure.ac (whose
#   AC_INIT holds the version, its one source); python/LICENSE is a
#   symbolic link to ../LICENSE;
# - an sdist, which is this directory alone: `setup.py sdist` (or
#   `python3 -m build`) packs copies of those C sources into csrc/, the
#   version into VERSION and the licence into LICENSE (see Sdist below),
#   so the sdist builds anywhere and carries the version it was made at.
#
# Autotools writes config.h with configure; here a small config.h is
# written from the same platform checks (keep them in step with
# configure.ac's "Platform" section).

import os
import re
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

# The programs' own files (each has a main()), not part of the library.
PROGRAMS = {"main.c", "check_aof.c"}

# The extension's own C sources (and native.h), next to this file in
# both layouts.
NATIVE_SRC = "native"

# The sdist's copies of the repository's files (relative to this file).
SDIST_SRC = "csrc"
SDIST_VERSION = "VERSION"
SDIST_LICENSE = "LICENSE"


def in_repository():
    """True when this directory is the repository's python/ (the C
    sources and configure.ac are next to it), False in an sdist."""
    return (os.path.isfile(os.path.join(TOP, "configure.ac")) and
            os.path.isdir(os.path.join(TOP, "src")))


def sdist_layout():
    """True when this directory is an unpacked sdist (csrc/, VERSION)."""
    return (os.path.isdir(os.path.join(HERE, SDIST_SRC)) and
            os.path.isfile(os.path.join(HERE, SDIST_VERSION)))


def layout():
    """'sdist' or 'repository' (an sdist's own copies win), or exit with
    what to do when neither is there."""
    if sdist_layout():
        return "sdist"
    if in_repository():
        return "repository"
    sys.exit("setup.py: the C sources are missing: build from the "
             "repository (pip install ./python, which compiles ../src) or "
             "from an sdist made there (python3 -m build --sdist python), "
             "which carries them; a copy of python/ alone has none.")


def c_source_dir():
    """The directory of the C sources, absolute."""
    if layout() == "sdist":
        return os.path.join(HERE, SDIST_SRC)
    return os.path.join(TOP, "src")


def repository_version():
    """The version in ../configure.ac's AC_INIT (the one source of it)."""
    with open(os.path.join(TOP, "configure.ac"), encoding="utf-8") as f:
        m = re.search(r"AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]", f.read())
    if not m:
        sys.exit("setup.py: no version in configure.ac's AC_INIT")
    return m.group(1)


def project_version():
    """The version: configure.ac's in the repository, VERSION's in an
    sdist (written there from configure.ac when the sdist was made)."""
    if layout() == "sdist":
        with open(os.path.join(HERE, SDIST_VERSION), encoding="utf-8") as f:
            return f.read().strip()
    return repository_version()


def library_c_files(src):
    """The names of the C files the extension compiles from src: all
    but the programs'."""
    return sorted(n for n in os.listdir(src)
                  if n.endswith(".c") and n not in PROGRAMS)


def native_sources():
    """The extension's own C files, relative to this directory."""
    return sorted(os.path.join(NATIVE_SRC, n)
                  for n in os.listdir(os.path.join(HERE, NATIVE_SRC))
                  if n.endswith(".c"))


def library_sources():
    """The library's C files, relative to this directory, as setuptools
    wants (event_epoll.c is dropped later where epoll does not build)."""
    src = c_source_dir()
    return [os.path.relpath(os.path.join(src, n), HERE)
            for n in library_c_files(src)]


# name -> C program that must compile and link for it to be defined.
PROBES = {
    "HAVE_EPOLL": "#include <sys/epoll.h>\n"
                  "int main(void) { return epoll_create1(0) < 0; }\n",
    "HAVE_ACCEPT4": "#include <sys/socket.h>\n"
                    "int main(void) { return accept4(0, 0, 0, 0); }\n",
    "HAVE_PIPE2": "#include <unistd.h>\n"
                  "int main(void) { int p[2]; return pipe2(p, 0); }\n",
    "HAVE_GETRANDOM": "#include <sys/random.h>\n"
                      "int main(void) { char b[1]; "
                      "return getrandom(b, 1, 0) != 1; }\n",
    "HAVE_MALLOC_H": "#include <malloc.h>\nint main(void) { return 0; }\n",
    "HAVE_MALLOC_TRIM": "#include <malloc.h>\n"
                        "int main(void) { return malloc_trim(0) < 0; }\n",
    "HAVE_MALLOC_USABLE_SIZE": "#include <malloc.h>\n"
                               "int main(void) { "
                               "return (int)malloc_usable_size(0); }\n",
}


class BuildExt(build_ext):
    """build_ext that writes config.h first and compiles the ~40 C files
    in parallel (one job per CPU) unless told otherwise (-j)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def probe(self, tmp, name, code):
        src = os.path.join(tmp, name.lower() + ".c")
        with open(src, "w") as f:
            f.write("#define _GNU_SOURCE 1\n" + code)
        try:
            objs = self.compiler.compile([src], output_dir=tmp)
            self.compiler.link_executable(objs, name.lower(), output_dir=tmp)
        except Exception:
            return False
        return True

    def write_config_h(self, path):
        version = self.distribution.get_version()
        lines = [
            "/* Written by python/setup.py (configure writes it otherwise). */",
            "#ifndef _GNU_SOURCE", "# define _GNU_SOURCE 1", "#endif",
            "#ifndef _DEFAULT_SOURCE", "# define _DEFAULT_SOURCE 1", "#endif",
            '#define PACKAGE "tiny-mp-cache"',
            f'#define PACKAGE_VERSION "{version}"',
            f'#define VERSION "{version}"',
        ]
        tmp = tempfile.mkdtemp(prefix="tmc-probe-")
        try:
            for name, code in PROBES.items():
                ok = self.probe(tmp, name, code)
                print(f"checking for {name}... {'yes' if ok else 'no'}")
                if ok:
                    lines.append(f"#define {name} 1")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return "HAVE_EPOLL 1" in "\n".join(lines)

    def build_extensions(self):
        inc = os.path.join(self.build_temp, "tmc-include")
        os.makedirs(inc, exist_ok=True)
        have_epoll = self.write_config_h(os.path.join(inc, "config.h"))
        for ext in self.extensions:
            ext.include_dirs.insert(0, inc)
            if not have_epoll:
                ext.sources = [s for s in ext.sources
                               if not s.endswith("event_epoll.c")]
        super().build_extensions()


class Sdist(sdist):
    """sdist that makes this directory stand alone: it packs the library's
    C sources and headers (csrc/) and the version (VERSION), which the
    build reads from ../ in the repository, and the licence (LICENSE),
    and never a path outside the tree."""

    def make_release_tree(self, base_dir, files):
        # setuptools lists the extension's ../src sources (in an sdist,
        # its csrc/ sources) and LICENSE: all go in as fresh copies
        # below, made after the tree's hard links.
        ours = (SDIST_SRC + os.sep, SDIST_VERSION, SDIST_LICENSE)
        files = [f for f in files
                 if not f.startswith(os.pardir + os.sep) and
                 not f.startswith(ours)]
        super().make_release_tree(base_dir, files)
        src = c_source_dir()
        dst = os.path.join(base_dir, SDIST_SRC)
        os.makedirs(dst, exist_ok=True)
        names = library_c_files(src) + sorted(
            n for n in os.listdir(src) if n.endswith(".h"))
        for name in names:
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
        # In the repository LICENSE is a symbolic link to ../LICENSE,
        # which the tree would keep as such: a copy of the file instead.
        shutil.copyfile(os.path.join(HERE, SDIST_LICENSE),
                        os.path.join(base_dir, SDIST_LICENSE))
        with open(os.path.join(base_dir, SDIST_VERSION), "w",
                  encoding="utf-8") as f:
            f.write(project_version() + "\n")


setup(
    version=project_version(),
    ext_modules=[Extension(
        "tiny_mp_cache._native",
        sources=native_sources() + library_sources(),
        include_dirs=[os.path.relpath(c_source_dir(), HERE)],
        extra_compile_args=["-std=c11"],
    )],
    cmdclass={"build_ext": BuildExt, "sdist": Sdist},
)
