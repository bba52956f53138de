# SPDX-License-Identifier: MIT
# redis-cli against our server, for every event backend: one-shot commands
# and their exact output, binary values through -x, a Unix socket, and
# sessions fed through stdin (one connection, many commands).

. "$(dirname "$0")/lib.sh"

RCLI=$(need_tool "${REDIS_CLI:-redis-cli}" redis-cli)

# redis-cli on the server's TCP port, bounded in time.
r() {
	with_timeout 10 "$RCLI" -h 127.0.0.1 -p "$PORT" "$@"
}

# Check that "r $2..." prints exactly $1 (trailing newlines stripped).
expect() {
	_want=$1
	shift
	_got=$(r "$@" 2>&1) || fail "redis-cli $* exited with status $?: $_got"
	[ "$_got" = "$_want" ] ||
	    fail "redis-cli $*: expected '$_want', got '$_got'"
}

# Print stdin as one line of hex bytes.
hex() {
	od -An -v -tx1 | tr -d ' \n'
}

# The deterministic session and what redis-cli --no-raw prints for it
# (checked against redis-server 7.0.15; SELECT 16 fails there too).
cat >"$TMPD/session1.in" <<'EOF'
PING
PING "hello world"
ECHO "bin\x00ary\r\n"
SET job:1 x
GET job:1
GETDEL job:1
GETDEL job:1
GET job:1
SET job:2 "two words"
SET job:3 ""
GET job:3
SET "caf\xc3\xa9" "\xff\xfe"
GET "caf\xc3\xa9"
SET other 1
EXISTS job:2 job:3 other nope job:2
KEYS job:2
KEYS nomatch*
KEYS caf?
KEYS caf??
DBSIZE
DEL job:2 job:3 nope
DBSIZE
SELECT 0
SELECT 16
CLIENT SETNAME sess
CLIENT GETNAME
GET
SET a
GET job:1 extra
FOO bar baz
get other
Set other 2
gEtDeL other
FLUSHDB
DBSIZE
SET k v
FLUSHALL
KEYS *
DBSIZE
EOF
cat >"$TMPD/session1.expected" <<'EOF'
PONG
"hello world"
"bin\x00ary\r\n"
OK
"x"
"x"
(nil)
(nil)
OK
OK
""
OK
"\xff\xfe"
OK
(integer) 4
1) "job:2"
(empty array)
(empty array)
1) "caf\xc3\xa9"
(integer) 4
(integer) 2
(integer) 2
OK
(error) ERR DB index is out of range
OK
"sess"
(error) ERR wrong number of arguments for 'get' command
(error) ERR wrong number of arguments for 'set' command
(error) ERR wrong number of arguments for 'get' command
(error) ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' 
"1"
OK
"2"
OK
(integer) 0
OK
OK
(empty array)
(integer) 0
EOF

# Introspection commands whose output varies: none may be an error.
cat >"$TMPD/session2.in" <<'EOF'
SET k v
INFO
INFO keyspace
INFO server
INFO default
COMMAND COUNT
COMMAND INFO get set getdel
COMMAND DOCS get
COMMAND LIST
COMMAND
CONFIG GET save
CONFIG GET appendonly
CONFIG GET *max*
CONFIG RESETSTAT
CLIENT ID
CLIENT INFO
CLIENT LIST
CLIENT SETNAME n2
CLIENT GETNAME
HELLO 2
HELLO 2 SETNAME n3
CLIENT GETNAME
PING
QUIT
EOF

for BACKEND in $TMC_BACKENDS; do
	note "==== backend $BACKEND ===="
	sock=$TMPD/tmc-$BACKEND.sock
	start_server --unixsocket "$sock"

	# ---- One-shot commands ----
	expect PONG PING
	expect "hello" PING hello
	expect "hello world" ECHO "hello world"
	expect OK SET job:1 x
	expect x GETDEL job:1
	# A nil bulk prints as an empty line when stdout is not a tty.
	got=$(r GETDEL job:1 | hex)
	check_eq "$got" 0a "raw output of GETDEL on a missing key"
	expect "" GET job:1
	expect OK SET job:1 x
	expect OK SET job:2 y
	expect OK SET other z
	got=$(r KEYS 'job:*' | sort)
	check_eq "$got" "job:1
job:2" "KEYS job:*"
	got=$(r KEYS '*' | sort)
	check_eq "$got" "job:1
job:2
other" "KEYS *"
	got=$(r KEYS 'nothing*' | hex)
	check_eq "$got" 0a "raw output of KEYS on no match"
	expect 3 DBSIZE
	expect 2 EXISTS job:1 job:1 nope
	expect 0 EXISTS nope
	expect 2 DEL job:2 other nope
	expect 0 DEL job:2
	expect 1 DBSIZE
	expect OK SELECT 0
	expect "ERR DB index is out of range" SELECT 1
	expect "ERR DB index is out of range" SELECT -1
	expect "ERR value is not an integer or out of range" SELECT x

	got=$(r CONFIG GET save)
	case $got in
	save*) ;;
	*) fail "CONFIG GET save printed '$got'" ;;
	esac
	got=$(r INFO keyspace | tr -d '\r')
	check_contains "$got" "# Keyspace" "INFO keyspace"
	check_contains "$got" "db0:keys=1,expires=0,avg_ttl=0" "INFO keyspace"
	got=$(r INFO server | tr -d '\r')
	check_contains "$got" "multiplexing_api:$BACKEND" "INFO server"
	check_contains "$got" "tcp_port:$PORT" "INFO server"
	n=$(r COMMAND COUNT)
	case $n in
	''|*[!0-9]*) fail "COMMAND COUNT printed '$n'" ;;
	esac
	[ "$n" -ge 14 ] || fail "COMMAND COUNT is only $n"
	expect OK CLIENT SETNAME worker-1
	expect "" CLIENT GETNAME                   # a new connection
	expect "ERR Client names cannot contain spaces, newlines or special characters." \
	    CLIENT SETNAME "a b"
	got=$(r HELLO 2)
	case $got in
	server*) ;;
	*) fail "HELLO 2 printed '$got'" ;;
	esac
	check_contains "$got" "proto
2" "HELLO 2"
	expect "ERR unknown command 'FOO', with args beginning with: 'bar' " FOO bar
	expect "ERR unknown command 'NOPE', with args beginning with: " NOPE
	expect "ERR wrong number of arguments for 'get' command" GET
	expect "ERR wrong number of arguments for 'getdel' command" GETDEL a b
	expect "ERR wrong number of arguments for 'del' command" DEL
	expect "ERR syntax error" SET a b c
	expect OK FLUSHALL
	expect 0 DBSIZE
	note "ok: one-shot commands"

	# ---- Binary values through -x (stdin is the last argument) ----
	printf 'a\000b\r\nc' | r -x SET bin >"$TMPD/out" ||
	    fail "SET -x failed"
	check_eq "$(cat "$TMPD/out")" OK "SET -x"
	got=$(r GET bin | hex)
	check_eq "$got" "6100620d0a630a" "GET of a value with NUL and CRLF"
	: | r -x SET empty >/dev/null
	check_eq "$(r GET empty | hex)" 0a "GET of an empty value"
	check_eq "$(r EXISTS empty)" 1 "EXISTS of an empty value"
	head -c 300000 /dev/urandom >"$TMPD/big"
	r -x SET big <"$TMPD/big" >"$TMPD/out"
	check_eq "$(cat "$TMPD/out")" OK "SET -x of 300000 random bytes"
	r GET big | head -c 300000 >"$TMPD/big.back"
	cmp -s "$TMPD/big" "$TMPD/big.back" ||
	    fail "300000 random bytes came back different"
	r GETDEL big | head -c 300000 >"$TMPD/big.back"
	cmp -s "$TMPD/big" "$TMPD/big.back" ||
	    fail "GETDEL of 300000 random bytes came back different"
	expect 0 EXISTS big
	note "ok: binary values"

	# ---- The Unix socket serves the same keyspace ----
	got=$(with_timeout 10 "$RCLI" -s "$sock" SET via unix)
	check_eq "$got" OK "SET over the Unix socket"
	expect unix GET via
	got=$(with_timeout 10 "$RCLI" -s "$sock" GETDEL bin | hex)
	check_eq "$got" "6100620d0a630a" "GETDEL over the Unix socket"
	got=$(with_timeout 10 "$RCLI" -s "$sock" DBSIZE)
	check_eq "$got" 2 "DBSIZE over the Unix socket"
	expect OK FLUSHALL
	note "ok: Unix socket"

	# ---- Sessions through stdin: one connection, many commands ----
	with_timeout 20 "$RCLI" --no-raw -h 127.0.0.1 -p "$PORT" \
	    <"$TMPD/session1.in" >"$TMPD/session1.out" 2>&1 ||
	    fail "session 1 exited with status $?"
	if ! cmp -s "$TMPD/session1.expected" "$TMPD/session1.out"; then
		diff -u "$TMPD/session1.expected" "$TMPD/session1.out" >&2 || true
		fail "session 1 output differs (see the diff above)"
	fi
	note "ok: session 1 (exact transcript)"

	with_timeout 20 "$RCLI" --no-raw -s "$sock" \
	    <"$TMPD/session2.in" >"$TMPD/session2.out" 2>&1 ||
	    fail "session 2 exited with status $?"
	if grep -n '(error)' "$TMPD/session2.out" >&2; then
		fail "session 2 has error replies (above)"
	fi
	out=$(tr -d '\r' <"$TMPD/session2.out")
	check_contains "$out" "db0:keys=1,expires=0,avg_ttl=0" "session 2 INFO"
	check_contains "$out" "multiplexing_api:$BACKEND" "session 2 INFO"
	check_contains "$out" '"n2"' "session 2 CLIENT GETNAME"
	check_contains "$out" '"n3"' "session 2 HELLO SETNAME"
	# redis-cli prints nothing for QUIT; it just closes the connection.
	last=$(tail -n 2 "$TMPD/session2.out" | tr '\n' ' ')
	check_eq "$last" '"n3" PONG ' "session 2 end"
	note "ok: session 2 ($(wc -l <"$TMPD/session2.out") lines, no errors)"

	check_eq "$(r PING)" PONG "PING after the sessions"
	stop_server TERM
	check_log_clean
done

note "all redis_cli checks passed"
exit 0
