#!/bin/sh
# Install what tiny-mp-cache needs to build and test (Debian/Ubuntu, with
# sudo when not root), then configure and build it in this directory.
#   ./setup.sh              install, configure, make
#   ./setup.sh --deps-only  only install the packages
# Extra arguments after -- go to ./configure.
set -eu
cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool pkg-config libhiredis-dev
python3 python3-dev python3-pytest python3-redis python3-hiredis
python3-pip python3-setuptools python3-wheel python3-build python3-venv
redis-server redis-tools valgrind"

deps_only=no
if [ "${1:-}" = "--deps-only" ]; then
	deps_only=yes
	shift
fi
[ "${1:-}" = "--" ] && shift

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		sudo=""
	elif command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "setup.sh: missing packages:$missing" >&2
		echo "setup.sh: run this script as root or install sudo" >&2
		exit 1
	fi
	echo "setup.sh: installing$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing </dev/null
fi
[ "$deps_only" = yes ] && exit 0

echo "setup.sh: autoreconf -fi"
autoreconf -fi
echo "setup.sh: ./configure $*"
./configure "$@"
echo "setup.sh: make"
make -j"$(nproc 2>/dev/null || echo 2)"
echo "setup.sh: built src/tiny-mp-cache-server; run the tests with: make check"
