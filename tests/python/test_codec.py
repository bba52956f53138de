# SPDX-License-Identifier: MIT
# The client's RESP codec in the extension: pack_command and ReplyReader,
# checked against hand-written RESP bytes (no server).

import pytest

from tiny_mp_cache import ReplyError
from tiny_mp_cache._native import ProtocolError, ReplyReader, pack_command


def test_pack_command_bytes():
    assert pack_command(b"GET", "k") == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    assert pack_command(b"DBSIZE") == b"*1\r\n$6\r\nDBSIZE\r\n"
    assert pack_command(b"SET", "key", b"") == \
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n"


def test_pack_command_argument_kinds():
    assert pack_command("ECHO", "é") == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"
    assert pack_command("X", 0, -12, 2**63 - 1) == (
        b"*4\r\n$1\r\nX\r\n$1\r\n0\r\n$3\r\n-12\r\n"
        b"$19\r\n9223372036854775807\r\n")
    assert pack_command("X", bytearray(b"ab"), memoryview(b"cde")) == \
        b"*3\r\n$1\r\nX\r\n$2\r\nab\r\n$3\r\ncde\r\n"
    assert pack_command("X", "\udcff") == b"*2\r\n$1\r\nX\r\n$1\r\n\xff\r\n"
    assert pack_command("X", b"\x00\r\n") == b"*2\r\n$1\r\nX\r\n$3\r\n\x00\r\n\r\n"


def test_pack_command_many_args():
    args = [b"DEL"] + [f"k{i}" for i in range(1000)]
    out = pack_command(*args)
    assert out.startswith(b"*1001\r\n$3\r\nDEL\r\n$2\r\nk0\r\n")
    assert out.endswith(b"$4\r\nk999\r\n")


def test_pack_command_large_value():
    value = b"v" * (3 * 1024 * 1024)
    out = pack_command(b"SET", "k", value)
    assert out == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3145728\r\n" + value + b"\r\n"
    # The buffer shrinks back; a small command after a big one is right.
    assert pack_command(b"PING") == b"*1\r\n$4\r\nPING\r\n"


@pytest.mark.parametrize("bad", [None, 1.5, True, ["x"], object()])
def test_pack_command_type_error(bad):
    with pytest.raises(TypeError):
        pack_command(b"SET", "k", bad)


def test_pack_command_needs_a_name():
    with pytest.raises(TypeError):
        pack_command()
    with pytest.raises(OverflowError):
        pack_command("X", 2**64)


def reader():
    return ReplyReader(ReplyError)


def test_reader_kinds():
    r = reader()
    r.feed(b"+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$3\r\nabc\r\n$0\r\n\r\n"
           b"$-1\r\n*-1\r\n*0\r\n*3\r\n$1\r\na\r\n:1\r\n*1\r\n+x\r\n")
    assert r.gets() == "OK"
    err = r.gets()
    assert type(err) is ReplyError and str(err) == "ERR bad thing"
    assert r.gets() == 42
    assert r.gets() == -7
    assert r.gets() == b"abc"
    assert r.gets() == b""
    assert r.gets() is None
    assert r.gets() is None
    assert r.gets() == []
    assert r.gets() == [b"a", 1, ["x"]]
    assert r.gets() is False
    assert r.pending == 0


def test_reader_decode():
    r = reader()
    r.feed(b"*2\r\n$4\r\n\xd0\xba\xd0\xb8\r\n$2\r\n\xff\xfe\r\n")
    assert r.gets(True) == ["\u043a\u0438", "\udcff\udcfe"]


def test_reader_byte_by_byte():
    data = (b"*4\r\n$5\r\nhello\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n"
            b"$12\r\nab\r\ncd\r\n\x00fgh\r\n")
    r = reader()
    for i, byte in enumerate(data):
        assert r.gets() is False, i
        r.feed(bytes([byte]))
    reply = r.gets()
    assert reply[0] == b"hello"
    assert reply[1] == [1, None]
    assert type(reply[2]) is ReplyError
    assert reply[3] == b"ab\r\ncd\r\n\x00fgh"


def test_reader_feed_length_and_need():
    r = reader()
    buf = bytearray(b"$10\r\n0123xxxxxxxxxxxx")
    r.feed(buf, 9)
    assert r.gets() is False
    assert r.need == 8                       # 6 body bytes + CRLF
    r.feed(b"456789\r\n")
    assert r.gets() == b"0123456789"


def test_reader_big_bulk_in_pieces():
    value = bytes(range(256)) * 40000        # ~10 MB
    data = b"$%d\r\n" % len(value) + value + b"\r\n"
    r = reader()
    for i in range(0, len(data), 65536):
        assert r.gets() is False
        r.feed(data[i:i + 65536])
    assert r.gets() == value


@pytest.mark.parametrize("data", [
    b"hello\r\n", b"$abc\r\n", b":1x\r\n", b"$3\r\nabcde\r\n", b"*-2\r\n",
    b"$-2\r\n", b"+no-cr\n",
])
def test_reader_invalid_is_sticky(data):
    r = reader()
    r.feed(data)
    with pytest.raises(ProtocolError):
        r.gets()
    r.feed(b"+OK\r\n")
    with pytest.raises(ProtocolError):
        r.gets()


def test_reader_deep_nesting_is_bounded():
    r = reader()
    r.feed(b"*1\r\n" * 10000 + b":1\r\n")
    with pytest.raises(ProtocolError):
        r.gets()


def test_reader_error_class_default():
    r = ReplyReader()
    r.feed(b"-ERR x\r\n")
    e = r.gets()
    assert type(e) is Exception and str(e) == "ERR x"
    with pytest.raises(TypeError):
        ReplyReader(42)


def test_reader_many_replies_in_one_feed():
    r = reader()
    r.feed(b":1\r\n" * 100000)
    assert [r.gets() for _ in range(100000)] == [1] * 100000
    assert r.gets() is False
