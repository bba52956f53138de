#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write src/command_docs.c from what a running redis-server says about its commands.

Usage: tools/gen_command_docs.py [-o FILE] [--only] [--check] SERVER [NAME ...]

SERVER is a TCP port on 127.0.0.1 or the path of a Unix socket of a
redis-server 7.0 (the reference: /usr/bin/redis-server 7.0.15). NAMEs are
full command names, any case: "lpush", "config|get". The rows FILE
already holds are regenerated too, so adding a command is one run:

    redis-server --port 0 --unixsocket /tmp/ref.sock --save '' &
    tools/gen_command_docs.py /tmp/ref.sock lpush rpush

Each row is transcribed from the server's COMMAND DOCS and COMMAND INFO
replies (summary, since, group, complexity, doc flags, history, arguments;
tips and key specs), nothing else: the command table (commands.h) holds
arity, flags, key positions and ACL categories. Naming a subcommand adds
its container's row as well. Rows for commands the server does not have
(newer Redis versions) are written by hand, under a comment that starts
"/* Hand-written", and are kept as they are. Rows come out sorted by name,
as command_doc_find's binary search needs.

--only writes only the NAMEs (and the hand-written rows), to try the
generator on a scratch file; --check writes nothing and exits 1 if FILE
is not what the server says.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import socket
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

WIDTH = 80                      # the project's line length (tabs are 8)
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "src", "command_docs.c")
ARRAY_OPEN = "const struct command_doc command_docs[] = {"
HAND_WRITTEN = "/* Hand-written"

# The fields and flags Redis 7.0 reports, in the order it reports them;
# cmd_command.c writes them in this order. Anything else is an error: the
# data model (command_docs.h) would have to grow first.
DOC_FIELDS = ("summary", "since", "group", "complexity", "doc_flags",
              "deprecated_since", "replaced_by", "history", "arguments", "subcommands")
ARG_FIELDS = ("name", "type", "key_spec_index", "token", "since", "deprecated_since",
              "flags", "arguments")
SPEC_FIELDS = ("notes", "flags", "begin_search", "find_keys")
DOC_FLAGS = {"deprecated": "DOC_DEPRECATED", "syscmd": "DOC_SYSCMD"}
ARG_FLAGS = {"optional": "DOC_ARG_OPTIONAL", "multiple": "DOC_ARG_MULTIPLE",
             "multiple_token": "DOC_ARG_MULTIPLE_TOKEN"}
KEY_FLAGS = {"RO": "DOC_KEY_RO", "RW": "DOC_KEY_RW", "OW": "DOC_KEY_OW",
             "RM": "DOC_KEY_RM", "access": "DOC_KEY_ACCESS", "update": "DOC_KEY_UPDATE",
             "insert": "DOC_KEY_INSERT", "delete": "DOC_KEY_DELETE",
             "not_key": "DOC_KEY_NOT_KEY", "incomplete": "DOC_KEY_INCOMPLETE",
             "variable_flags": "DOC_KEY_VARIABLE_FLAGS"}


class GenError(Exception):
    """The server said something the data model cannot hold, or misuse."""


# ---- Talking to the server (RESP2) ----

class RespError(Exception):
    """An error reply."""


class Server:
    """One connection to the reference server."""

    def __init__(self, address: str) -> None:
        if address.isdigit():
            self.sock = socket.create_connection(("127.0.0.1", int(address)), timeout=10)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(address)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        """Close the connection."""
        self.file.close()
        self.sock.close()

    def call(self, *args: str) -> Any:
        """Send one command; return its reply (status: str, bulk: bytes)."""
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            data = a.encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))
        return self.read()

    def read(self) -> Any:
        """Read one reply."""
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise GenError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise GenError("not a RESP2 reply: %r" % line)


# ---- What the server says, as plain data ----

@dataclass
class KeySpec:
    """One COMMAND INFO key spec."""
    notes: Optional[str]
    flags: List[str]
    begin: Tuple[Any, ...]         # ("index", i), ("keyword", word, from), ("unknown",)
    find: Tuple[Any, ...]          # ("range", last, step, limit), ("keynum", idx, first,
    #                                step), ("unknown",)


@dataclass
class Arg:
    """One COMMAND DOCS argument."""
    name: str
    type: str
    key_spec: Optional[int] = None
    token: Optional[str] = None
    since: Optional[str] = None
    deprecated_since: Optional[str] = None
    flags: List[str] = field(default_factory=list)
    sub: Optional[List["Arg"]] = None


@dataclass
class Doc:
    """One row: a command's COMMAND DOCS entry, tips and key specs."""
    name: str
    group: str
    summary: Optional[str] = None
    since: Optional[str] = None
    complexity: Optional[str] = None
    doc_flags: List[str] = field(default_factory=list)
    deprecated_since: Optional[str] = None
    replaced_by: Optional[str] = None
    history: List[Tuple[str, str]] = field(default_factory=list)
    args: Optional[List[Arg]] = None
    tips: List[str] = field(default_factory=list)
    key_specs: List[KeySpec] = field(default_factory=list)


def as_map(flat: Any, allowed: Sequence[str], what: str) -> Dict[str, Any]:
    """A RESP2 map (flat array) as a dict, its keys checked against allowed (in order)."""
    if not isinstance(flat, list) or len(flat) % 2:
        raise GenError("%s: not a map: %r" % (what, flat))
    keys = [k.decode() if isinstance(k, bytes) else k for k in flat[0::2]]
    order = [k for k in allowed if k in keys]
    if sorted(keys) != sorted(order) or keys != order:
        raise GenError("%s: fields %s, the model knows %s (in that order)"
                       % (what, keys, list(allowed)))
    return dict(zip(keys, flat[1::2]))


def text(value: Any, what: str) -> str:
    """A bulk string as text."""
    if not isinstance(value, bytes):
        raise GenError("%s: not a bulk string: %r" % (what, value))
    return value.decode()


def statuses(value: Any, names: Dict[str, str], what: str) -> List[str]:
    """A list of status replies (flags), each known, in the model's order."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GenError("%s: not a list of status replies: %r" % (what, value))
    order = [n for n in names if n in value]
    if value != order:
        raise GenError("%s: flags %s, the model knows %s (in that order)"
                       % (what, value, list(names)))
    return value


def parse_args(flat: Any, nspecs: int, what: str) -> List[Arg]:
    """COMMAND DOCS "arguments" as Args."""
    args = []
    for item in flat:
        m = as_map(item, ARG_FIELDS, what)
        name = text(m["name"], what)
        where = "%s %s" % (what, name)
        arg = Arg(name=name, type=text(m["type"], where))
        if "key_spec_index" in m:
            arg.key_spec = m["key_spec_index"]
            if not isinstance(arg.key_spec, int) or not 0 <= arg.key_spec < nspecs:
                raise GenError("%s: key_spec_index %r of %d key specs"
                               % (where, arg.key_spec, nspecs))
        for attr in ("token", "since", "deprecated_since"):
            if attr in m:
                setattr(arg, attr, text(m[attr], where))
        arg.flags = statuses(m.get("flags", []), ARG_FLAGS, where)
        if ("arguments" in m) != (arg.type in ("oneof", "block")):
            raise GenError("%s: members and type %s disagree" % (where, arg.type))
        if "arguments" in m:
            arg.sub = parse_args(m["arguments"], nspecs, where)
            if not arg.sub:
                raise GenError("%s: a %s without members" % (where, arg.type))
        args.append(arg)
    return args


def parse_key_spec(flat: Any, what: str) -> KeySpec:
    """One COMMAND INFO key spec."""
    m = as_map(flat, SPEC_FIELDS, what)
    notes = text(m["notes"], what) if "notes" in m else None
    flags = statuses(m["flags"], KEY_FLAGS, what)
    bs = as_map(m["begin_search"], ("type", "spec"), what)
    kind = text(bs["type"], what)
    begin: Tuple[Any, ...]
    if kind == "index":
        begin = ("index", as_map(bs["spec"], ("index",), what)["index"])
    elif kind == "keyword":
        s = as_map(bs["spec"], ("keyword", "startfrom"), what)
        begin = ("keyword", text(s["keyword"], what), s["startfrom"])
    elif kind == "unknown" and bs["spec"] == []:
        begin = ("unknown",)
    else:
        raise GenError("%s: begin_search %r" % (what, bs))
    fk = as_map(m["find_keys"], ("type", "spec"), what)
    kind = text(fk["type"], what)
    find: Tuple[Any, ...]
    if kind == "range":
        s = as_map(fk["spec"], ("lastkey", "keystep", "limit"), what)
        find = ("range", s["lastkey"], s["keystep"], s["limit"])
    elif kind == "keynum":
        s = as_map(fk["spec"], ("keynumidx", "firstkey", "keystep"), what)
        find = ("keynum", s["keynumidx"], s["firstkey"], s["keystep"])
    elif kind == "unknown" and fk["spec"] == []:
        find = ("unknown",)
    else:
        raise GenError("%s: find_keys %r" % (what, fk))
    if not all(isinstance(v, int) for v in begin[1:] + find[1:] if not isinstance(v, str)):
        raise GenError("%s: positions are not integers" % what)
    return KeySpec(notes=notes, flags=flags, begin=begin, find=find)


def fetch(server: Server, name: str) -> Doc:
    """Everything the server says about one command (full name) beyond its table row."""
    info = server.call("COMMAND", "INFO", name)
    docs = server.call("COMMAND", "DOCS", name)
    if not info or info[0] is None or len(docs) != 2:
        raise GenError("%s: unknown to the server; write its row by hand, under a "
                       "comment that starts \"%s\"" % (name, HAND_WRITTEN))
    entry = info[0]
    if len(entry) != 10 or entry[0] != name.encode():
        raise GenError("%s: unexpected COMMAND INFO entry %r" % (name, entry))
    specs = [parse_key_spec(s, "%s key spec %d" % (name, i)) for i, s in enumerate(entry[8])]
    m = as_map(docs[1], DOC_FIELDS, name)
    doc = Doc(name=name, group=text(m["group"], name), key_specs=specs,
              tips=[text(t, name) for t in entry[7]])
    for attr in ("summary", "since", "complexity", "deprecated_since", "replaced_by"):
        if attr in m:
            setattr(doc, attr, text(m[attr], name))
    doc.doc_flags = statuses(m.get("doc_flags", []), DOC_FLAGS, name)
    for pair in m.get("history", []):
        if len(pair) != 2:
            raise GenError("%s: history entry %r" % (name, pair))
        doc.history.append((text(pair[0], name), text(pair[1], name)))
    if m.get("arguments"):
        doc.args = parse_args(m["arguments"], len(specs), name)
    if any(" " in t or not t for t in doc.tips):
        raise GenError("%s: tips %r cannot be a space-separated list" % (name, doc.tips))
    return doc


# ---- C text ----

def c_literal(s: str) -> str:
    """s as a C string literal (bytes outside printable ASCII as octal escapes)."""
    out = ['"']
    for b in s.encode():
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7f:
            out.append(c)
        else:
            out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


def width(line: str) -> int:
    """Columns a line takes (tabs at 8)."""
    return len(line.expandtabs(8))


@dataclass
class Atom:
    """A field that stays on one line."""
    text: str


@dataclass
class Str:
    """A string field ("key = literal"), split at spaces into literals if too long."""
    key: Optional[str]
    value: str


@dataclass
class Flags:
    """A flags field ("key = A | B"), broken after a '|' if too long."""
    key: str
    names: List[str]


@dataclass
class Block:
    """A list field ("key = MACRO(" children ")") on lines of its own.

    Each child lays itself out given what closes it (its " }" then "," or,
    for the last, the list's ")" and what follows the list).
    """
    head: str
    children: List[Callable[[str], List[str]]]


class Break:
    """Makes the next item start a line."""


Item = Union[Atom, Str, Flags, Block, Break]


class Packer:
    """Packs the items of one brace initialiser into lines of at most WIDTH columns."""

    def __init__(self, first: str, cont: str) -> None:
        self.lines = [first]
        self.cont = cont
        self.fresh = True          # nothing after the prefix on the last line
        self.closed = False        # the last line ends a list: start a new one

    def room(self, piece: str, tail: str) -> bool:
        """Whether piece (then tail) fits on the last line."""
        sep = "" if self.fresh else " "
        return not self.closed and width(self.lines[-1] + sep + piece + tail) <= WIDTH

    def put(self, piece: str) -> None:
        """Append piece to the last line."""
        self.lines[-1] += piece if self.fresh else " " + piece
        self.fresh = self.closed = False

    def newline(self, prefix: Optional[str] = None) -> None:
        """Start a line at the continuation indent (or prefix)."""
        self.lines.append(self.cont if prefix is None else prefix)
        self.fresh, self.closed = True, False

    def place(self, piece: str, tail: str) -> None:
        """Put piece where it fits: this line or a new one."""
        if not self.fresh and not self.room(piece, tail):
            self.newline()
        self.put(piece)

    def fits_alone(self, piece: str, tail: str) -> bool:
        """Whether piece fits here or on a line of its own."""
        return self.room(piece, tail) or width(self.cont + piece + tail) <= WIDTH

    def add_str(self, item: Str, tail: str) -> None:
        """A string field; a long one goes to lines of its own, split at spaces."""
        key = "" if item.key is None else item.key + " = "
        whole = key + c_literal(item.value)
        if self.fits_alone(whole, tail):
            self.place(whole, tail)
            return
        if not self.fresh:
            self.newline()
        words = re.findall(r"\S+\s*|\s+", item.value)
        chunk, head = "", key
        for i, word in enumerate(words):
            end = tail if i == len(words) - 1 else ""
            if chunk and not self.room(head + c_literal(chunk + word), end):
                self.put(head + c_literal(chunk))
                self.newline(self.cont + "    ")
                chunk, head = "", ""
            chunk += word
        self.put(head + c_literal(chunk))
        self.closed = True

    def add_flags(self, item: Flags, tail: str) -> None:
        """A flags field, broken after a '|' when it does not fit."""
        whole = "%s = %s" % (item.key, " | ".join(item.names))
        if self.fits_alone(whole, tail):
            self.place(whole, tail)
            return
        if not self.fresh:
            self.newline()
        self.put("%s = %s" % (item.key, item.names[0]))
        for i, name in enumerate(item.names[1:], 2):
            end = tail if i == len(item.names) else ""
            if self.room("| " + name, end):
                self.lines[-1] += " | " + name
            else:
                self.lines[-1] += " |"
                self.newline(self.cont + "    ")
                self.put(name)
        self.closed = True

    def add_block(self, item: Block, tail: str) -> None:
        """A list: its head on a new line, its children on lines of their own."""
        if not self.fresh:
            self.newline()
        self.put(item.head)
        for i, child in enumerate(item.children):
            last = i == len(item.children) - 1
            self.lines.extend(child(" }" + (")" + tail if last else ",")))
        self.fresh, self.closed = False, True

    def finish(self, items: Sequence[Item], closing: str) -> List[str]:
        """Lay out items, the last followed by closing; return the lines."""
        fields = [item for item in items if not isinstance(item, Break)]
        for item in items:
            tail = closing if item is fields[-1] else ","
            if isinstance(item, Break):
                self.closed = not self.fresh
                continue
            if isinstance(item, Block):
                self.add_block(item, tail)
                continue
            if isinstance(item, Atom):
                self.place(item.text, tail)
            elif isinstance(item, Str):
                self.add_str(item, tail)
            elif isinstance(item, Flags):
                self.add_flags(item, tail)
            self.lines[-1] += tail
        return self.lines


def braces(items: Sequence[Item], depth: int, closing: str) -> List[str]:
    """Lines of "{ items" and closing ("},", "}),", ...), depth tabs in."""
    indent = "\t" * depth
    return Packer(indent + "{ ", indent + "  ").finish(items, closing)


def flag_names(flags: List[str], names: Dict[str, str]) -> List[str]:
    """C names of flags."""
    return [names[f] for f in flags]


def arg_lines(arg: Arg, depth: int, closing: str) -> List[str]:
    """The initialiser of one argument."""
    items: List[Item] = [Atom(".name = %s" % c_literal(arg.name)),
                         Atom(".type = %s" % c_literal(arg.type))]
    if arg.key_spec is not None:
        items.append(Atom(".key_spec = DOC_KEY_SPEC(%d)" % arg.key_spec))
    for attr in ("token", "since", "deprecated_since"):
        if getattr(arg, attr) is not None:
            items.append(Str("." + attr, getattr(arg, attr)))
    if arg.flags:
        items.append(Flags(".flags", flag_names(arg.flags, ARG_FLAGS)))
    if arg.sub is not None:
        items.append(Block(".sub = DOC_ARGS(", [
            functools.partial(arg_lines, a, depth + 1) for a in arg.sub]))
    return braces(items, depth, closing)


def key_spec_lines(spec: KeySpec, depth: int, closing: str) -> List[str]:
    """The initialiser of one key spec."""
    items: List[Item] = []
    if spec.notes is not None:
        items += [Str(".notes", spec.notes), Break()]
    items.append(Flags(".flags", flag_names(spec.flags, KEY_FLAGS) or ["0"]))
    if spec.begin[0] == "index":
        items.append(Atom("DOC_INDEX(%d)" % spec.begin[1]))
    elif spec.begin[0] == "keyword":
        items.append(Atom("DOC_KEYWORD(%s, %d)" % (c_literal(spec.begin[1]), spec.begin[2])))
    else:
        items.append(Atom(".begin = DOC_BEGIN_UNKNOWN"))
    if spec.find[0] == "range":
        items.append(Atom("DOC_RANGE(%d, %d, %d)" % spec.find[1:]))
    elif spec.find[0] == "keynum":
        items.append(Atom("DOC_KEYNUM(%d, %d, %d)" % spec.find[1:]))
    else:
        items.append(Atom(".find = DOC_FIND_UNKNOWN"))
    return braces(items, depth, closing)


def history_lines(entry: Tuple[str, str], closing: str) -> List[str]:
    """The initialiser of one history entry."""
    return braces([Atom(c_literal(entry[0])), Str(None, entry[1])], 2, closing)


def row_lines(doc: Doc) -> List[str]:
    """The initialiser of one row (one tab deep), each part on lines of its own."""
    items: List[Item] = [Atom(".name = %s" % c_literal(doc.name)), Break()]
    if doc.summary is not None:
        items += [Str(".summary", doc.summary), Break()]
    if doc.since is not None:
        items.append(Str(".since", doc.since))
    items += [Str(".group", doc.group), Break()]
    if doc.complexity is not None:
        items += [Str(".complexity", doc.complexity), Break()]
    if doc.doc_flags:
        items.append(Flags(".doc_flags", flag_names(doc.doc_flags, DOC_FLAGS)))
    for attr in ("deprecated_since", "replaced_by"):
        if getattr(doc, attr) is not None:
            items.append(Str("." + attr, getattr(doc, attr)))
    if doc.history:
        items.append(Block(".history = DOC_HISTORY(", [
            functools.partial(history_lines, h) for h in doc.history]))
    if doc.args is not None:
        items.append(Block(".args = DOC_ARGS(", [
            functools.partial(arg_lines, a, 2) for a in doc.args]))
    if doc.tips:
        items += [Break(), Str(".tips", " ".join(doc.tips))]
    if doc.key_specs:
        items.append(Block(".key_specs = DOC_KEY_SPECS(", [
            functools.partial(key_spec_lines, s, 2) for s in doc.key_specs]))
    return braces(items, 1, " },")


def header(version: str) -> str:
    """The top of the generated file."""
    return """/* SPDX-License-Identifier: MIT */
/*
 * Generated by tools/gen_command_docs.py from redis-server %s (its
 * COMMAND DOCS and COMMAND INFO replies): do not edit, run the generator
 * (see its --help). The rows under a "Hand-written" comment describe
 * commands that server lacks; the generator keeps them as they are. The
 * data model is in command_docs.h.
 */
#include "config.h"

#include "command_docs.h"

%s
""" % (version, ARRAY_OPEN)


FOOTER = """};

const size_t command_docs_count = sizeof(command_docs) /
    sizeof(command_docs[0]);
"""


# ---- The file ----

def read_rows(path: str) -> Tuple[List[str], Dict[str, str]]:
    """The generated rows' names and the hand-written rows (name -> text) of path."""
    if not os.path.exists(path):
        return [], {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    try:
        start = lines.index(ARRAY_OPEN) + 1
        end = lines.index("};", start)
    except ValueError as exc:
        raise GenError("%s: no \"%s ... };\" to read rows from" % (path, ARRAY_OPEN)) from exc
    chunks: List[List[str]] = [[]]
    in_row = False
    for line in lines[start:end]:
        if (line.startswith("\t/*") or line.startswith("\t{ ")) and in_row:
            chunks.append([])
            in_row = False
        chunks[-1].append(line)
        in_row = in_row or line.startswith("\t{ ")
    generated, kept = [], {}
    for chunk in chunks:
        if not chunk:
            continue
        rows = [m.group(1) for m in (re.match(r'\t\{ \.name = "([^"]+)"', x) for x in chunk)
                if m]
        if len(rows) != 1:
            raise GenError("%s: cannot read the row in %r" % (path, chunk[:3]))
        if chunk[0].lstrip().startswith(HAND_WRITTEN):
            kept[rows[0]] = "\n".join(chunk)
        else:
            generated.append(rows[0])
    return generated, kept


def generate(server: Server, names: List[str], kept: Dict[str, str]) -> str:
    """The whole file for the rows names (generated) and kept (as they are)."""
    info = server.call("INFO", "server")
    match = re.search(rb"^redis_version:(\S+)", info, re.M)
    if match is None:
        raise GenError("the server does not say its version")
    rows = {name: "\n".join(row_lines(fetch(server, name)))
            for name in names if name not in kept}
    for name, body in kept.items():
        rows[name] = body
    body = "\n".join(rows[name] for name in sorted(rows))
    for line in body.split("\n"):
        if width(line) > WIDTH:
            # Only closers nested six deep (BITFIELD's) come to this.
            print("gen_command_docs: warning: a line is longer than %d columns: %s"
                  % (WIDTH, line.strip()), file=sys.stderr)
    return header(match.group(1).decode()) + body + "\n" + FOOTER


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("server", help="TCP port on 127.0.0.1, or Unix socket path")
    parser.add_argument("names", nargs="*", help="full command names to add")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT,
                        help="the file to write (default: src/command_docs.c)")
    parser.add_argument("--only", action="store_true",
                        help="write only the names given (and the hand-written rows)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the file differs")
    opts = parser.parse_args(argv)
    try:
        generated, kept = read_rows(opts.output)
        names = [] if opts.only else generated
        for name in (n.lower() for n in opts.names):
            if "|" in name:
                names.append(name.split("|", 1)[0])
            names.append(name)
        names = sorted(set(names))
        server = Server(opts.server)
        try:
            text = generate(server, names, kept)
        finally:
            server.close()
    except (GenError, RespError, OSError) as exc:
        print("gen_command_docs: %s" % exc, file=sys.stderr)
        return 2
    if opts.check:
        same = os.path.exists(opts.output)
        if same:
            with open(opts.output, encoding="utf-8") as f:
                same = f.read() == text
        if not same:
            print("gen_command_docs: %s is not what the server says" % opts.output,
                  file=sys.stderr)
        return 0 if same else 1
    with open(opts.output, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
