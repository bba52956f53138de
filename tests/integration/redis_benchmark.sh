# SPDX-License-Identifier: MIT
# redis-benchmark against our server, for every event backend: SET/GET
# plain and pipelined (-P 16), many clients, big values, over TCP and the
# Unix socket. Each run must exit 0 within its time limit, report a
# non-zero rate for SET and GET, and leave the server log free of errors.

. "$(dirname "$0")/lib.sh"

RBENCH=$(need_tool "${REDIS_BENCHMARK:-redis-benchmark}" redis-benchmark)
RCLI=$(need_tool "${REDIS_CLI:-redis-cli}" redis-cli)

# Run redis-benchmark with the arguments (at most 120 s); check its
# status, its SET and GET rows and that it printed no error.
bench() {
	note "redis-benchmark $*"
	_rc=0
	with_timeout 120 "$RBENCH" "$@" -t set,get -q </dev/null \
	    >"$TMPD/bench.raw" 2>&1 || _rc=$?
	# -q rewrites its progress line with CRs; keep the final rows.
	tr '\r' '\n' <"$TMPD/bench.raw" >"$TMPD/bench.out"
	[ "$_rc" -eq 0 ] ||
	    fail "redis-benchmark $* exited with $_rc: $(cat "$TMPD/bench.out")"
	if grep -i -E 'error|refused|reset|closed' "$TMPD/bench.out" >&2; then
		fail "redis-benchmark $* reported errors (above)"
	fi
	for _t in SET GET; do
		_row=$(grep -E "^$_t: [0-9.]+ requests per second" \
		    "$TMPD/bench.out" | tail -n 1) ||
		    fail "no $_t row from redis-benchmark $*: $(cat "$TMPD/bench.out")"
		_rps=$(echo "$_row" | sed 's/^[A-Z]*: \([0-9.]*\) .*/\1/')
		case $_rps in
		0|0.0|0.00|"") fail "$_t rate is zero: $_row" ;;
		esac
		note "  $_row"
	done
}

# redis-cli on the server's TCP port.
r() {
	with_timeout 10 "$RCLI" -h 127.0.0.1 -p "$PORT" "$@"
}

for BACKEND in $TMC_BACKENDS; do
	note "==== backend $BACKEND ===="
	sock=$TMPD/tmc-$BACKEND.sock
	start_server --unixsocket "$sock"

	bench -h 127.0.0.1 -p "$PORT" -n 20000 -c 20
	# Without -r every request uses the one key "key:__rand_int__" and
	# a 3-byte value (-d 3), printed with a newline.
	check_eq "$(r DBSIZE)" 1 "DBSIZE after the plain run"
	check_eq "$(r GET key:__rand_int__ | wc -c | tr -d ' ')" 4 \
	    "length of the benchmark's value"

	bench -h 127.0.0.1 -p "$PORT" -n 20000 -c 20 -P 16
	bench -s "$sock" -n 20000 -c 20
	bench -s "$sock" -n 20000 -c 20 -P 16

	# Random keys, many clients, then big values.
	r FLUSHALL >/dev/null
	bench -h 127.0.0.1 -p "$PORT" -n 20000 -c 200 -r 1000 -P 4
	n=$(r DBSIZE)
	[ "$n" -gt 100 ] && [ "$n" -le 1000 ] ||
	    fail "DBSIZE after -r 1000 is $n, expected 101..1000"
	bench -s "$sock" -n 1000 -c 10 -d 100000 -r 50

	check_eq "$(r PING)" PONG "PING after the benchmarks"
	# Every benchmark connection is gone (the server may still be
	# handling the last closes, so allow it a moment).
	tries=40
	while :; do
		n=$(r INFO clients | tr -d '\r' | sed -n 's/^connected_clients://p')
		[ "$n" != 1 ] || break
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || fail "connected_clients is $n, expected 1"
		sleep 0.05
	done
	stop_server TERM
	check_log_clean
done

note "all redis_benchmark checks passed"
exit 0
