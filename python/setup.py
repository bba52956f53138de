# SPDX-License-Identifier: MIT
# Build the tiny_mp_cache extension with pip/setuptools, from the same C
# sources Autotools builds (../src, all but main.c). Autotools writes
# config.h with configure; here a small config.h is written from the same
# platform checks (keep them in step with configure.ac's "Platform"
# section).

import os
import re
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SRC = os.path.join(TOP, "src")


def project_version():
    """The version in configure.ac's AC_INIT (the one source of it)."""
    with open(os.path.join(TOP, "configure.ac"), encoding="utf-8") as f:
        m = re.search(r"AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]", f.read())
    if not m:
        sys.exit("setup.py: no version in configure.ac's AC_INIT")
    return m.group(1)


# The programs' own files (each has a main()), not part of the library.
PROGRAMS = {"main.c", "check_aof.c"}


def library_sources():
    """src/*.c except the programs' (and epoll only where it builds):
    relative to this directory, as setuptools wants."""
    names = sorted(n for n in os.listdir(SRC)
                   if n.endswith(".c") and n not in PROGRAMS)
    return [os.path.relpath(os.path.join(SRC, n), HERE) for n in names]


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
    """build_ext that writes config.h first."""

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


setup(
    version=project_version(),
    ext_modules=[Extension(
        "tiny_mp_cache._native",
        sources=["tiny_mp_cache/_native.c"] + library_sources(),
        include_dirs=[os.path.relpath(SRC, HERE)],
        extra_compile_args=["-std=c11"],
    )],
    cmdclass={"build_ext": BuildExt},
)
