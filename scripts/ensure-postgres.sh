#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) are
# installed, and with --redis also redis-server (and redis-cli). Missing
# packages are installed with apt-get when running as root; otherwise the
# script fails with a message saying what to install.
#
# Usage: scripts/ensure-postgres.sh [--redis] [--print-bindir]
#   --redis          also require redis-server
#   --print-bindir   print the PostgreSQL bin directory on stdout
#
# Installing never starts the system's own PostgreSQL/Redis services: while
# apt-get runs, a temporary /usr/sbin/policy-rc.d (exit 101) forbids it, if
# there is none already.
set -euo pipefail

want_redis=0
print_bindir=0
for arg in "$@"; do
	case $arg in
	--redis) want_redis=1 ;;
	--print-bindir) print_bindir=1 ;;
	-h | --help)
		sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "ensure-postgres: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

# has_pg_binaries DIR: DIR holds initdb, pg_ctl and postgres.
has_pg_binaries() {
	[[ -x $1/initdb && -x $1/pg_ctl && -x $1/postgres ]]
}

# pg_bindir prints the PostgreSQL bin dir: first from PATH (resolving
# symlinks), then the highest /usr/lib/postgresql/<version>/bin.
pg_bindir() {
	local p d
	if p=$(command -v initdb 2>/dev/null) && [[ $p == /* ]]; then
		d=$(dirname "$(readlink -f "$p")")
		if has_pg_binaries "$d"; then
			echo "$d"
			return 0
		fi
		d=$(dirname "$p")
		if has_pg_binaries "$d"; then
			echo "$d"
			return 0
		fi
	fi
	local dirs=()
	shopt -s nullglob
	dirs=(/usr/lib/postgresql/*/bin)
	shopt -u nullglob
	if ((${#dirs[@]})); then
		while IFS= read -r d; do
			if has_pg_binaries "$d"; then
				echo "$d"
				return 0
			fi
		done < <(printf '%s\n' "${dirs[@]}" | sort -V -r)
	fi
	return 1
}

have_redis() {
	command -v redis-server >/dev/null 2>&1 || [[ -x /usr/bin/redis-server ]]
}

missing=()
pg_bindir >/dev/null || missing+=(postgresql)
if ((want_redis)) && ! have_redis; then
	missing+=(redis-server)
fi

if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		{
			echo "ensure-postgres: error: missing ${missing[*]} (PostgreSQL server binaries: initdb, pg_ctl, postgres)."
			echo "  Install with:  sudo apt-get install --no-install-recommends ${missing[*]}"
			echo "  (or put initdb/pg_ctl/postgres on PATH), then run this again."
		} >&2
		exit 1
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "ensure-postgres: error: missing ${missing[*]} and apt-get is not available; install them with your package manager" >&2
		exit 1
	fi
	echo "ensure-postgres: installing ${missing[*]} with apt-get ..." >&2
	policy=/usr/sbin/policy-rc.d
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# temporary, from coditect scripts/ensure-postgres.sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

if ! bindir=$(pg_bindir); then
	echo "ensure-postgres: error: PostgreSQL server binaries (initdb, pg_ctl, postgres) still not found" >&2
	exit 1
fi
if ((want_redis)) && ! have_redis; then
	echo "ensure-postgres: error: redis-server still not found" >&2
	exit 1
fi
if ((print_bindir)); then
	echo "$bindir"
fi
