# SPDX-License-Identifier: MIT
"""The ``tiny-mp-cache-server`` command of a pip install (also
``python -m tiny_mp_cache``): the C program's command line, running the
embedded server in this process.

The options are the C program's: every server setting as ``--name VALUE``
or ``--name=VALUE`` (any case, ``_`` for ``-``), plus ``--port`` and
``--bind``; ``-h``/``--help``, ``-v``/``--version``. Values are checked by
the server's own settings code; a bad option prints the C program's
message and exits with status 2, a server that cannot start (a taken
port) exits with 1. SIGINT and SIGTERM stop the server cleanly (status 0),
as does the SHUTDOWN command.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import textwrap
import time
from typing import Any, Dict, NoReturn, Optional, Sequence, Tuple

from . import _native

__all__ = ["main", "parse_args", "UsageError"]

PROGRAM = "tiny-mp-cache-server"
EXIT_USAGE = 2
HELP_WIDTH = 78                  # as the C program's usage()
HELP_INDENT = 26

# The address options, which Server() takes as port= and host= rather
# than as settings rows (help as the C program's settings table has it).
PORT_HELP = ("TCP port to listen on (default 5002; 0 picks a free port, "
             "shown in the ready line; -1 disables TCP)")
BIND_HELP = ("addresses to listen on, space-separated (default 127.0.0.1; "
             "IPv6 works, e.g. ::1; * or 0.0.0.0 exposes the cache to the "
             "network; a leading - marks one that may be missing)")

# --help's placeholder for a value, by the setting's kind.
METAVARS = {"bool": "yes|no", "int": "N", "octal": "MODE", "memory": "BYTES",
            "enum": "NAME", "str": "VALUE", "buffer-limit": "LIMIT"}
PATH_SETTINGS = {"unixsocket", "logfile", "dir"}

# A setting row of _native.settings(): (keyword, kind, default, mutable,
# help).
Row = Tuple[str, str, str, bool, str]


class UsageError(Exception):
    """A bad command line; str() is the message (without the program
    name), ``show_usage`` says whether the usage text follows it (or
    else a hint to try --help)."""

    def __init__(self, message: str, show_usage: bool) -> None:
        super().__init__(message)
        self.show_usage = show_usage


def _rows() -> Dict[str, Row]:
    """The settings rows by option name (``maxmemory-policy``), with the
    address options added."""
    rows = {r[0].replace("_", "-"): r for r in _native.settings()}
    rows["port"] = ("port", "int", str(_native.DEFAULT_PORT), False,
                    PORT_HELP)
    rows["bind"] = ("host", "str", "127.0.0.1", False, BIND_HELP)
    return dict(sorted(rows.items()))


def usage(prog: str = PROGRAM) -> str:
    """The --help text, laid out as the C program's."""
    out = [f"Usage: {prog} [OPTION]...",
           "A small, fast cache server that speaks the Redis protocol (RESP2).",
           "Every option is also a CONFIG GET parameter of the same name; "
           "values are",
           "checked as CONFIG SET checks them.", ""]
    for name, (kw, kind, _default, _mutable, help_text) in _rows().items():
        metavar = "PATH" if kw in PATH_SETTINGS else METAVARS.get(kind, "VALUE")
        head = f"  --{name} {metavar}"
        if len(head) >= HELP_INDENT - 1:
            out.append(head)
            head = ""
        lines = textwrap.wrap(help_text, HELP_WIDTH - HELP_INDENT,
                              break_on_hyphens=False, break_long_words=False)
        out.append(head.ljust(HELP_INDENT) + lines[0])
        out.extend(" " * HELP_INDENT + line for line in lines[1:])
    out += ["  -h, --help              show this help and exit",
            "  -v, --version           show the version and exit", "",
            "The server stops cleanly on SIGINT, SIGTERM or the SHUTDOWN "
            "command."]
    return "\n".join(out) + "\n"


# Redis's string2ll: an optional '-', no '+', no spaces, no leading zero.
_LL = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")
_LL_MAX = 2 ** 63 - 1


def _value(kind: str, text: str) -> Any:
    """The Python value Server() takes for an option's text, or
    ValueError with the server's reason when the text is not of the
    setting's kind (the server checks ranges and names itself)."""
    if kind == "bool":
        if text.lower() in ("yes", "no"):
            return text.lower() == "yes"
        raise ValueError("argument must be 'yes' or 'no'")
    if kind == "int":
        if _LL.match(text) and -_LL_MAX - 1 <= int(text) <= _LL_MAX:
            return int(text)
        raise ValueError("argument couldn't be parsed into an integer")
    if kind == "octal":
        if re.match(r"[0-7]{1,20}\Z", text):
            return int(text, 8)
        raise ValueError("argument couldn't be parsed into an integer")
    return text


def _check(kw: str, value: Any) -> Optional[str]:
    """The server's reason for refusing one setting, or None. Server()
    checks every setting before it binds anything, so with port -1 and no
    Unix socket it refuses to start without touching the network."""
    if kw == "port":
        if value == -1 or 0 <= value <= 65535:
            return None
        return "argument must be between 0 and 65535 inclusive"
    if kw == "unixsocket":
        return None                  # any path: the server opens it later
    try:
        srv = _native.Server(-1, **{kw: value})
    except ValueError as e:
        prefix = f"invalid {kw}={value!r}: "
        msg = str(e)
        return msg[len(prefix):] if msg.startswith(prefix) else None
    srv.close()
    return None


def parse_args(argv: Sequence[str], prog: str = PROGRAM
               ) -> Optional[Tuple[int, Dict[str, Any]]]:
    """Parse the options as the C program does: (port, keyword arguments
    of Server()), or None for --help/--version (printed here, the usage
    naming the program prog). Raises UsageError."""
    rows = _rows()
    port = _native.DEFAULT_PORT
    kwargs: Dict[str, Any] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-h", "--help"):
            sys.stdout.write(usage(prog))
            return None
        if arg in ("-v", "--version"):
            print(f"{PROGRAM} {_native.SERVER_VERSION}")
            return None
        if not arg.startswith("--"):
            raise UsageError(f"unexpected argument '{arg}'", True)
        name, eq, text = arg[2:].partition("=")
        row = rows.get(name.lower().replace("_", "-"))
        if row is None:
            raise UsageError(f"unknown option '{arg}'", True)
        opt = name
        if not eq:
            if i + 1 >= len(args):
                raise UsageError(f"option '--{opt}' needs a value", True)
            i += 1
            text = args[i]
        kw, kind = row[0], row[1]
        try:
            value = _value(kind, text)
        except ValueError as e:
            why: Optional[str] = str(e)
        else:
            why = _check(kw, value)
        if why is not None:
            raise UsageError(f"invalid --{opt} '{text}': {why}", False)
        if kw == "port":
            port = value
        else:
            kwargs[kw] = value
        i += 1
    return port, kwargs


class _LogFormatter(logging.Formatter):
    """The C program's log line: ``pid:M 05 Dec 2026 07:56:09.493 * text``
    (``.`` debug and verbose, ``*`` notice, ``#`` warning and the ready
    line, which the embedded server logs as INFO)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if text.startswith("Ready to accept connections"):
            mark = "#"
        else:
            mark = ("." if record.levelno < logging.INFO else
                    "*" if record.levelno < logging.WARNING else "#")
        when = time.strftime("%d %b %Y %H:%M:%S", time.localtime(record.created))
        return f"{record.process}:M {when}.{int(record.msecs):03d} {mark} {text}"


def _log_to_stderr() -> None:
    """Show the embedded server's log lines (logger ``tiny_mp_cache``,
    where they go without a logfile) on standard error as the C program
    does, unless the logger already has a handler."""
    logger = logging.getLogger("tiny_mp_cache")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_LogFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)    # the server filters by loglevel
        logger.propagate = False


def _os_error_text(e: OSError) -> str:
    """The server's message in an OSError (without "[Errno N]")."""
    return e.strerror if e.errno is not None and e.strerror else str(e)


def _fail(prog: str, message: str, status: int, after: str = "") -> NoReturn:
    """Report message (and then after) on standard error as program prog,
    and exit with status."""
    sys.stderr.write(f"{prog}: {message}\n{after}")
    sys.stderr.flush()
    sys.exit(status)


def main(argv: Optional[Sequence[str]] = None, prog: str = PROGRAM) -> int:
    """Run the server as the C program would and return its exit status
    (argv: the options, default sys.argv[1:]; prog: the program's name
    in messages and the usage text). Exits at once with status 2 on a
    bad option, 1 when the server cannot start."""
    try:
        parsed = parse_args(sys.argv[1:] if argv is None else argv, prog)
    except UsageError as e:
        _fail(prog, str(e), EXIT_USAGE, usage(prog) if e.show_usage else
              f"Try '{prog} --help' for more information.\n")
    if parsed is None:
        return 0
    port, kwargs = parsed
    if port == -1 and not kwargs.get("unixsocket"):
        _fail(prog, "nothing to listen on: TCP is off and no Unix socket "
              "is set", 1)
    _log_to_stderr()
    try:
        srv = _native.Server(port, **kwargs)
    except OSError as e:
        _fail(prog, _os_error_text(e), 1)

    def stop(signum: int, frame: object) -> None:
        srv.stop()

    previous = {sig: signal.signal(sig, stop)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with srv:
            srv.run()
    except OSError as e:
        _fail(prog, _os_error_text(e), 1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
