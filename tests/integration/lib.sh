# SPDX-License-Identifier: MIT
# Sourced by the integration scripts: strict mode, a temp dir, start/stop
# of our server on a free port (--port 0) with trap cleanup, skips (77).
#
# Environment (set by make check): TMC_SERVER, TMC_BACKENDS, REDIS_CLI,
# REDIS_BENCHMARK, REDIS_SERVER, top_srcdir, top_builddir; optional
# TMC_VALGRIND=1 (run the server under valgrind; leaks fail stop_server)
# and CI=true (a missing tool is an error, exit 99, not a skip).
# POSIX sh: make check runs the scripts with $(SHELL), often dash.

set -eu
LC_ALL=C
export LC_ALL

TEST_NAME=$(basename "$0" .sh)
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${TMC_SERVER:=$top_builddir/src/tiny-mp-cache-server}"
: "${TMC_BACKENDS:=epoll select}"
: "${REDIS_CLI:=}"
: "${REDIS_BENCHMARK:=}"
: "${REDIS_SERVER:=}"
: "${TMC_VALGRIND:=}"
: "${CI:=}"

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/tmc-$TEST_NAME.XXXXXX")
BACKEND=""          # set by the caller's loop; passed as --event-backend
SERVER_PID=""       # the running server, or empty
SERVER_LOG=""       # its standard error (and the ready line)
SERVER_READY=""     # the ready line
PORT=""             # its TCP port, from the ready line
ALL_PIDS=""         # every process started, for cleanup
ALL_LOGS=""         # every server log, printed by fail()
SERVER_SEQ=0

if [ -n "$TMC_VALGRIND" ] && [ "$TMC_VALGRIND" != 0 ]; then
	READY_TIMEOUT=90
	STOP_TIMEOUT=60
else
	READY_TIMEOUT=10
	STOP_TIMEOUT=5
fi

# Print a progress line.
note() {
	echo "# $*"
}

# Print every server log, then fail the test.
fail() {
	echo "FAIL: $TEST_NAME${BACKEND:+ [$BACKEND]}: $*" >&2
	for f in $ALL_LOGS; do
		if [ -f "$f" ]; then
			echo "---- $f ----" >&2
			tail -n 100 "$f" >&2
		fi
	done
	exit 1
}

# Return 0 if process $1 exists and is not a zombie (an exited child not
# yet waited for). Uses /proc where it exists, else ps(1).
proc_alive() {
	if [ -d /proc/self ]; then
		[ -r "/proc/$1/stat" ] || return 1
		_st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) ||
		    return 1
	else
		_st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	fi
	case $_st in
	Z*|X*|"") return 1 ;;
	esac
	return 0
}

# Wait up to $2 seconds for process $1 to end (it may be a zombie).
# Returns 0 if it ended, 1 on timeout.
wait_gone() {
	_n=$(( $2 * 20 ))
	while [ "$_n" -gt 0 ]; do
		proc_alive "$1" || return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	return 1
}

# Forget pid $1 in ALL_PIDS.
forget_pid() {
	_keep=""
	for _p in $ALL_PIDS; do
		[ "$_p" = "$1" ] || _keep="$_keep $_p"
	done
	ALL_PIDS=$_keep
}

# Stop every process still running and remove the temp dir (kept, with
# its logs, when the test failed after starting a server).
cleanup() {
	_rc=$?
	set +e
	for _p in $ALL_PIDS; do
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in $ALL_PIDS; do
		wait_gone "$_p" "$STOP_TIMEOUT" || kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	ALL_PIDS=""
	if [ "$_rc" -eq 0 ] || [ "$_rc" -eq 77 ] || [ -z "$ALL_LOGS" ]; then
		rm -rf "$TMPD"
	else
		echo "# temp dir kept: $TMPD" >&2
	fi
	exit "$_rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Skip the test (exit 77) if program $1 (a name or path) is missing; under
# CI that is a hard error (exit 99). Prints the full path on success.
need_tool() {
	_path=""
	if [ -n "$1" ]; then
		_path=$(command -v "$1" 2>/dev/null) || _path=""
	fi
	if [ -z "$_path" ] || [ ! -x "$_path" ]; then
		case $CI in
		[Tt]rue|TRUE|1|[Yy]es)
			echo "ERROR: $TEST_NAME: required tool '${2:-$1}' not found" \
			    "(CI=true, so this is not a skip)" >&2
			exit 99 ;;
		esac
		echo "SKIP: $TEST_NAME: required tool '${2:-$1}' not found" >&2
		exit 77
	fi
	echo "$_path"
}

# Run a command with a time limit of $1 seconds (if timeout(1) exists).
with_timeout() {
	_secs=$1
	shift
	if command -v timeout >/dev/null 2>&1; then
		timeout "$_secs" "$@"
	else
		"$@"
	fi
}

# Fail unless "$1" (actual) equals "$2" (expected); $3 says what.
check_eq() {
	if [ "$1" != "$2" ]; then
		fail "${3:-value}: expected '$2', got '$1'"
	fi
}

# Fail unless "$1" contains "$2"; $3 says what.
check_contains() {
	case $1 in
	*"$2"*) ;;
	*) fail "${3:-output}: expected to contain '$2', got '$1'" ;;
	esac
}

# Start our server with --port 0 (unless given), --event-backend $BACKEND
# (if set) and the arguments; wait for the ready line. Sets SERVER_PID,
# SERVER_LOG, SERVER_READY and PORT (empty without TCP). With --logfile F
# the ready line is awaited in F.
start_server() {
	[ -z "$SERVER_PID" ] || fail "start_server: a server is already running"
	[ -x "$TMC_SERVER" ] || fail "server binary not built: $TMC_SERVER"
	SERVER_SEQ=$((SERVER_SEQ + 1))
	SERVER_LOG="$TMPD/server.$SERVER_SEQ.log"
	: >"$SERVER_LOG"
	ALL_LOGS="$ALL_LOGS $SERVER_LOG"
	_ready_file=$SERVER_LOG
	_has_port=no
	_prev=""
	for _a in "$@"; do
		case $_a in --port|--port=*) _has_port=yes ;; esac
		case $_prev in --logfile) _ready_file=$_a ;; esac
		_prev=$_a
	done
	if [ "$_ready_file" != "$SERVER_LOG" ]; then
		ALL_LOGS="$ALL_LOGS $_ready_file"
	fi
	set -- ${BACKEND:+--event-backend "$BACKEND"} "$@"
	[ "$_has_port" = yes ] || set -- --port 0 "$@"
	if [ -n "$TMC_VALGRIND" ] && [ "$TMC_VALGRIND" != 0 ]; then
		set -- valgrind -q --error-exitcode=99 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect "$TMC_SERVER" "$@"
	else
		set -- "$TMC_SERVER" "$@"
	fi
	note "starting: $*"
	"$@" </dev/null >>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	ALL_PIDS="$ALL_PIDS $SERVER_PID"
	_n=$((READY_TIMEOUT * 20))
	while :; do
		SERVER_READY=$(grep -m 1 'Ready to accept connections' \
		    "$_ready_file" 2>/dev/null) || SERVER_READY=""
		[ -z "$SERVER_READY" ] || break
		if ! proc_alive "$SERVER_PID"; then
			_rc=0
			wait "$SERVER_PID" || _rc=$?
			forget_pid "$SERVER_PID"
			SERVER_PID=""
			fail "server exited (status $_rc) before the ready line"
		fi
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || fail "no ready line within $READY_TIMEOUT s"
		sleep 0.05
	done
	PORT=$(echo "$SERVER_READY" | sed -n 's/.*tcp [^ ]*:\([0-9][0-9]*\).*/\1/p')
	note "ready: ${SERVER_READY#*connections: }"
	if [ -n "$BACKEND" ]; then
		check_contains "$SERVER_READY" "(event backend $BACKEND)" "ready line"
	fi
}

# Stop the server with signal $1 (default TERM) and check that it exits
# with status 0 within the time limit (under valgrind, 99 = leaks).
stop_server() {
	[ -n "$SERVER_PID" ] || fail "stop_server: no server running"
	_pid=$SERVER_PID
	SERVER_PID=""
	kill "-${1:-TERM}" "$_pid" 2>/dev/null || true
	if ! wait_gone "$_pid" "$STOP_TIMEOUT"; then
		kill -KILL "$_pid" 2>/dev/null || true
		wait "$_pid" 2>/dev/null || true
		forget_pid "$_pid"
		fail "server did not exit within $STOP_TIMEOUT s after SIG${1:-TERM}"
	fi
	_rc=0
	wait "$_pid" || _rc=$?
	forget_pid "$_pid"
	[ "$_rc" -eq 0 ] || fail "server exited with status $_rc after SIG${1:-TERM}"
}

# Wait for a server that is exiting by itself (e.g. after SHUTDOWN) and
# check its status 0.
reap_server() {
	[ -n "$SERVER_PID" ] || fail "reap_server: no server running"
	_pid=$SERVER_PID
	SERVER_PID=""
	if ! wait_gone "$_pid" "$STOP_TIMEOUT"; then
		kill -KILL "$_pid" 2>/dev/null || true
		wait "$_pid" 2>/dev/null || true
		forget_pid "$_pid"
		fail "server did not exit by itself within $STOP_TIMEOUT s"
	fi
	_rc=0
	wait "$_pid" || _rc=$?
	forget_pid "$_pid"
	[ "$_rc" -eq 0 ] || fail "server exited with status $_rc"
}

# Fail if the server log has error-looking lines (sanitizer reports,
# "error", "panic", valgrind's "==PID==" lines), excepting pattern $1.
check_log_clean() {
	_bad=$(grep -i -E 'error|panic|assert|sanitizer|leak|==[0-9]+==' \
	    "$SERVER_LOG" | grep -v -E "${1:-^\$}" || true)
	[ -z "$_bad" ] || fail "unexpected lines in the server log: $_bad"
}
