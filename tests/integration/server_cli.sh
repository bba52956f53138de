# SPDX-License-Identifier: MIT
# The tiny-mp-cache-server command line: --help, --version, bad options and
# values, a taken port, the Unix socket's mode and removal, SIGTERM/SIGINT/
# SHUTDOWN exit status, the ready line, the backend INFO reports, IPv6.

. "$(dirname "$0")/lib.sh"

RCLI=$(need_tool "${REDIS_CLI:-redis-cli}" redis-cli)

# Run the server with the arguments, expecting a prompt exit with status 0;
# the output is left in $OUT.
run_ok() {
	OUT=$TMPD/out
	_rc=0
	with_timeout 10 "$TMC_SERVER" "$@" >"$OUT" 2>&1 || _rc=$?
	[ "$_rc" -eq 0 ] || fail "'$*' exited with $_rc: $(cat "$OUT")"
}

# Run the server with bad arguments $3...: it must exit promptly with a
# non-zero status and print a message matching the extended regex $2
# (case-insensitive). $1 describes the case.
run_bad() {
	_what=$1
	_re=$2
	shift 2
	OUT=$TMPD/out
	_rc=0
	with_timeout 5 "$TMC_SERVER" "$@" </dev/null >"$OUT" 2>&1 || _rc=$?
	case $_rc in
	0) fail "$_what: '$*' exited with status 0: $(cat "$OUT")" ;;
	124|137) fail "$_what: '$*' did not exit (it started serving?)" ;;
	esac
	[ "$_rc" -lt 128 ] || fail "$_what: '$*' died from signal $((_rc - 128))"
	grep -q -i -E -e "$_re" "$OUT" ||
	    fail "$_what: '$*' (status $_rc): message does not match /$_re/: $(cat "$OUT")"
	note "ok: $_what -> status $_rc: $(head -n 1 "$OUT")"
}

# Print the permission bits of file $1 in octal (GNU or BSD stat).
file_mode() {
	stat -c %a "$1" 2>/dev/null || stat -f %Lp "$1"
}

# Run redis-cli against the current server's TCP port.
rcli() {
	with_timeout 10 "$RCLI" -h 127.0.0.1 -p "$PORT" "$@"
}

# Return 0 if ::1 can be bound.
have_ipv6_loopback() {
	if [ -n "${PYTHON:-}" ] && command -v "$PYTHON" >/dev/null 2>&1; then
		"$PYTHON" -c 'import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))' 2>/dev/null
		return
	fi
	[ -r /proc/net/if_inet6 ] &&
	    grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6
}

# ---- Options that exit at once (backend-independent) ----

run_ok --help
for opt in --port --bind --unixsocket --unixsocketperm --maxclients \
    --loglevel --logfile --event-backend --proto-max-bulk-len --help \
    --client-output-buffer-limit --requirepass --busy-poll-us --version; do
	grep -q -e "$opt" "$OUT" || fail "--help does not list $opt: $(cat "$OUT")"
done
note "ok: --help lists every option"

run_ok --version
first=$(head -n 1 "$OUT")
case $first in
"tiny-mp-cache-server 0.1.0"*) note "ok: --version: $first" ;;
*) fail "--version printed '$first'" ;;
esac

run_bad "unknown option" "no-such-option|unrecognized|unknown" --no-such-option
run_bad "stray argument" "stray|unexpected|argument|usage" stray-word
run_bad "missing value" "port|requires|argument" --port
run_bad "port out of range" "port|70000" --port 70000
run_bad "negative port" "port|-5" --port -5
run_bad "port not a number" "port|abc" --port abc
run_bad "maxclients 0" "maxclients" --port 0 --maxclients 0
run_bad "maxclients not a number" "maxclients" --port 0 --maxclients many
run_bad "unknown backend" "backend|nope" --port 0 --event-backend nope
run_bad "busy-poll-us negative" "busy-poll-us.*-1" --port 0 --busy-poll-us -1
run_bad "busy-poll-us too big" "busy-poll-us.*100001" --port 0 \
    --busy-poll-us 100001
run_bad "unknown loglevel" "loglevel|loud" --port 0 --loglevel loud
run_bad "bad proto-max-bulk-len" "proto-max-bulk-len|bulk" --port 0 \
    --proto-max-bulk-len -1
run_bad "bad unixsocketperm" "unixsocketperm|999" --port 0 \
    --unixsocketperm 999
run_bad "no listener at all" "listen|unix|tcp" --port -1
run_bad "unwritable log file" "$TMPD/missing/log|log" --port 0 \
    --logfile "$TMPD/missing/log"
run_bad "unix socket in a missing directory" "$TMPD/missing/s.sock|No such" \
    --port 0 --unixsocket "$TMPD/missing/s.sock"
run_bad "bind to a foreign address" "192.0.2.1|assign|bind|listen" \
    --port 0 --bind 192.0.2.1

# Every setting is an option, checked as CONFIG SET checks it, with
# Redis's reason in the message.
run_bad "bad enum" "invalid --maxmemory-policy 'lru': argument\\(s\\) must be one of the following: volatile-lru" \
    --port 0 --maxmemory-policy lru
run_bad "bad memory value" "invalid --maxmemory '1.5gb': argument must be a memory value" \
    --port 0 --maxmemory 1.5gb
run_bad "out of range" "invalid --active-expire-effort '0': argument must be between 1 and 10 inclusive" \
    --port 0 --active-expire-effort 0
run_bad "bad bool" "invalid --protected-mode 'maybe': argument must be 'yes' or 'no'" \
    --port 0 --protected-mode maybe
run_bad "fixed setting" "invalid --databases '16'" --port 0 \
    --databases 16
run_bad "option=value, bad" "invalid --hz 'x'" --port 0 --hz=x
run_ok --help
for opt in --maxmemory --maxmemory-policy --maxmemory-samples --hz \
    --active-expire-effort --lfu-log-factor --lfu-decay-time --timeout \
    --tcp-keepalive --protected-mode --maxmemory-eviction-tenacity; do
	grep -q -e "$opt " "$OUT" || fail "--help does not list $opt"
done
note "ok: --help lists the expiry and memory settings"

# ---- Per backend ----

for BACKEND in $TMC_BACKENDS; do
	note "==== backend $BACKEND ===="

	# TCP on a free port; the ready line names the address and backend.
	start_server
	[ -n "$PORT" ] && [ "$PORT" -gt 0 ] ||
	    fail "no port in the ready line: $SERVER_READY"
	check_contains "$SERVER_READY" "tcp 127.0.0.1:$PORT" "ready line"
	n=$(grep -c 'Ready to accept connections' "$SERVER_LOG")
	check_eq "$n" 1 "number of ready lines"
	check_eq "$(rcli PING)" PONG "PING"

	# INFO names the backend in use (Redis's multiplexing_api field).
	api=$(rcli INFO server | tr -d '\r' | sed -n 's/^multiplexing_api://p')
	check_eq "$api" "$BACKEND" "INFO multiplexing_api"

	# Another server on the same port fails and names the port.
	run_bad "port $PORT taken" "$PORT" --port "$PORT" --event-backend "$BACKEND"
	check_eq "$(rcli PING)" PONG "PING after the failed second start"
	stop_server TERM
	note "ok: SIGTERM -> status 0"

	# Settings given as --name value and --name=value show in CONFIG GET.
	start_server --maxmemory 64mb --maxmemory-policy=allkeys-lfu --hz=25 \
	    --save "" --appendonly no
	check_eq "$(rcli CONFIG GET maxmemory | tail -n 1)" 67108864 \
	    "CONFIG GET maxmemory"
	check_eq "$(rcli CONFIG GET maxmemory-policy | tail -n 1)" allkeys-lfu \
	    "CONFIG GET maxmemory-policy"
	check_eq "$(rcli CONFIG GET hz | tail -n 1)" 25 "CONFIG GET hz"
	stop_server TERM

	# SIGINT exits with status 0 too.
	start_server
	check_eq "$(rcli PING)" PONG "PING"
	stop_server INT
	note "ok: SIGINT -> status 0"

	# Unix socket: mode from --unixsocketperm, removed on exit.
	for perm in 700 770; do
		sock=$TMPD/tmc-$BACKEND-$perm.sock
		start_server --unixsocket "$sock" --unixsocketperm "$perm"
		check_contains "$SERVER_READY" "unix $sock" "ready line"
		check_contains "$SERVER_READY" "tcp 127.0.0.1:$PORT" "ready line"
		[ -S "$sock" ] || fail "$sock is not a socket"
		check_eq "$(file_mode "$sock")" "$perm" "mode of $sock"
		check_eq "$(with_timeout 10 "$RCLI" -s "$sock" PING)" PONG \
		    "PING over $sock"
		stop_server TERM
		[ ! -e "$sock" ] || fail "$sock still exists after SIGTERM"
		note "ok: unix socket mode $perm, removed on exit"
	done

	# The default mode is 700 (SERVER_UNIXPERM_DEFAULT).
	sock=$TMPD/tmc-$BACKEND-default.sock
	start_server --unixsocket "$sock"
	check_eq "$(file_mode "$sock")" 700 "default mode of $sock"

	# SHUTDOWN exits with status 0 and removes the socket too.
	with_timeout 10 "$RCLI" -s "$sock" SHUTDOWN >/dev/null 2>&1 || true
	reap_server
	[ ! -e "$sock" ] || fail "$sock still exists after SHUTDOWN"
	note "ok: SHUTDOWN -> status 0, socket removed"

	# A stale socket left by a killed server is replaced, as Redis does.
	sock=$TMPD/tmc-$BACKEND-stale.sock
	start_server --unixsocket "$sock"
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	forget_pid "$SERVER_PID"
	SERVER_PID=""
	[ -S "$sock" ] || fail "no stale socket left by SIGKILL (test setup)"
	start_server --unixsocket "$sock"
	check_eq "$(with_timeout 10 "$RCLI" -s "$sock" PING)" PONG \
	    "PING over a replaced stale socket"
	stop_server TERM
	note "ok: stale socket replaced"

	# A path that is not a socket is left alone, with an error naming it.
	: >"$sock"
	run_bad "unix socket path is a regular file" "$sock" --port 0 \
	    --event-backend "$BACKEND" --unixsocket "$sock"
	[ -f "$sock" ] || fail "the server removed the regular file $sock"
	rm -f "$sock"

	# --port -1: no TCP, only the Unix socket.
	sock=$TMPD/tmc-$BACKEND-notcp.sock
	start_server --port -1 --unixsocket "$sock"
	check_eq "$PORT" "" "TCP port with --port -1"
	case $SERVER_READY in
	*"tcp "*) fail "ready line names TCP with --port -1: $SERVER_READY" ;;
	esac
	check_contains "$SERVER_READY" "unix $sock" "ready line"
	check_eq "$(with_timeout 10 "$RCLI" -s "$sock" PING)" PONG \
	    "PING over $sock without TCP"
	stop_server TERM
	[ ! -e "$sock" ] || fail "$sock still exists after SIGTERM"

	# --logfile: the log goes to the file, nothing to standard error.
	logf=$TMPD/tmc-$BACKEND.log
	start_server --logfile "$logf"
	check_eq "$(rcli PING)" PONG "PING with --logfile"
	stop_server TERM
	if grep -q 'Ready to accept connections' "$SERVER_LOG"; then
		fail "the ready line went to stderr despite --logfile"
	fi

	# IPv6 loopback.
	if have_ipv6_loopback; then
		start_server --bind ::1
		check_contains "$SERVER_READY" "tcp [::1]:$PORT" "ready line"
		check_eq "$(with_timeout 10 "$RCLI" -h ::1 -p "$PORT" PING)" PONG \
		    "PING over ::1"
		stop_server TERM
		note "ok: --bind ::1"
	else
		note "IPv6 loopback not available: --bind ::1 not tested"
	fi
done

note "all server_cli checks passed"
exit 0
