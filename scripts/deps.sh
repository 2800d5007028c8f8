#!/bin/sh
# deps.sh build|check — make sure what `make demo` (build) or `make check`
# (check) needs is installed.  As root on Debian, installs the missing
# packages with apt-get; otherwise prints the exact command and fails.
set -u
what=${1:-build}

# pkg-config module -> Debian package
mods_build="libcurl:libcurl4-openssl-dev libpq:libpq-dev libconfig:libconfig-dev
libsystemd:libsystemd-dev jansson:libjansson-dev libcrypto:libssl-dev"
mods_check="cmocka:libcmocka-dev"
# command -> Debian package
tools_build="cc:build-essential make:make pkg-config:pkg-config ar:binutils"
tools_check="/usr/bin/python3:python3 valgrind:valgrind clang:clang strace:strace"

missing=""
add() { case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac; }

check_mods() {
	for pair in $1; do
		mod=${pair%%:*}; pkg=${pair#*:}
		if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$mod" 2>/dev/null; then
			add "$pkg"
		fi
	done
}
check_tools() {
	for pair in $1; do
		tool=${pair%%:*}; pkg=${pair#*:}
		command -v "$tool" >/dev/null 2>&1 || add "$pkg"
	done
}

check_tools "$tools_build"
check_mods "$mods_build"
if [ "$what" = check ]; then
	check_tools "$tools_check"
	check_mods "$mods_check"
	# a throwaway PostgreSQL cluster for the tests: the server binaries
	bindir=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
	[ -x "$bindir/initdb" ] || add postgresql
	# the SMTP server of the tests (Debian's python, not a pyenv one in PATH)
	[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 ||
		add python3-aiosmtpd
	# libFuzzer's runtime is a separate package from clang on Debian
	if command -v clang >/dev/null 2>&1; then
		rt=$(clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a
		[ -f "$rt" ] || add libclang-rt-14-dev
	else
		add libclang-rt-14-dev
	fi
fi

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	# an out-of-date package list is the usual reason an install fails on a fresh machine
	if ! apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
		apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null || {
			echo "deps: '$cmd' failed; run it by hand to see why" >&2
			exit 1
		}
	fi
	exit 0
fi
echo "deps: missing packages:$missing" >&2
echo "deps: install them with:" >&2
echo "  sudo apt-get update && sudo $cmd" >&2
exit 1
