# SPDX-License-Identifier: MIT
"""The ``tiny-mp-cache-server`` command of a pip install (also
``python -m tiny_mp_cache``): the C program's command line, running the
embedded server in this process.

The options are the C program's, read by the same C code (``cli.c``):
every server setting as ``--name VALUE`` or ``--name=VALUE``, its older
name too (``--list-max-ziplist-size``), and the settings Redis tools pass
that have one value here (``--save ''``, ``--daemonize no``);
``-h``/``--help``, ``-v``/``--version``. A bad option prints the C
program's message and exits with status 2, a server that cannot start (a
taken port) exits with 1. Log lines go to standard error in the C
program's format (through logging, logger ``tiny_mp_cache``, unless
``--logfile`` is given). SIGINT and SIGTERM stop the server cleanly
(status 0), as does the SHUTDOWN command.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import NoReturn, Optional, Sequence

from . import _native

__all__ = ["main", "usage"]

PROGRAM = "tiny-mp-cache-server"
EXIT_USAGE = 2


def usage(prog: str = PROGRAM) -> str:
    """The --help text, the C program's, naming the program prog."""
    status, text = _native.parse_command_line(prog, ["--help"])
    assert status == 0
    return text


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


def _fail(prog: str, message: str, status: int) -> NoReturn:
    """Report message on standard error as program prog (a path in it as
    its bytes, as the C program writes it), and exit with status."""
    _write_err(f"{prog}: {message}\n")
    sys.exit(status)


def _write_err(text: str) -> None:
    """Write text to standard error, file names in it as their bytes."""
    sys.stderr.flush()
    try:
        sys.stderr.buffer.write(os.fsencode(text))
        sys.stderr.buffer.flush()
    except AttributeError:           # a text-only stream (replaced)
        sys.stderr.write(text)
        sys.stderr.flush()


def main(argv: Optional[Sequence[str]] = None, prog: str = PROGRAM) -> int:
    """Run the server as the C program would and return its exit status
    (argv: the options, default sys.argv[1:]; prog: the program's name
    in messages and the usage text). Exits at once with status 2 on a
    bad option, 1 when the server cannot start."""
    args = list(sys.argv[1:] if argv is None else argv)
    status, text = _native.parse_command_line(prog, args)
    if status == 0:                       # --help, --version
        sys.stdout.write(text)
        return 0
    if status == EXIT_USAGE:
        _write_err(text)
        sys.exit(EXIT_USAGE)
    _log_to_stderr()
    try:
        srv = _native.Server.from_command_line(args)
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
