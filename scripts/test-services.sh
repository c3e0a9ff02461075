#!/usr/bin/env bash
# Starts/stops a private PostgreSQL and Redis for the test suite (make test).
#
# Usage:
#   scripts/test-services.sh start <statedir>
#   scripts/test-services.sh stop  <statedir>
#
# start installs missing packages (apt-get, as root), initialises a throw-away
# PostgreSQL cluster in <statedir>/pg (trust auth, superuser "postgres",
# listening on 127.0.0.1 only, fsync off: TEST DATA ONLY) and starts
# redis-server on 127.0.0.1 without persistence, each on a free port. It then
# writes <statedir>/env, to be sourced:
#   CODITECT_TEST_PG_URL     postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   CODITECT_TEST_REDIS_URL  redis://127.0.0.1:PORT/0
#   CODITECT_TEST_PG_BINDIR  directory holding initdb, pg_ctl, postgres
#   CODITECT_TEST_STRIPE_MOCK_URL  http://127.0.0.1:PORT (stripe-mock, for billing)
# stripe-mock (github.com/stripe/stripe-mock, pinned to $STRIPE_MOCK_VERSION) is
# built with `go install` into bin/ the first time and runs on 127.0.0.1 only.
# When run as root, PostgreSQL runs as the "postgres" user (else "nobody").
#
# stop stops only the servers recorded in <statedir> (by their pid files).
#
# STRIPE_MOCK_VERSION is the pinned stripe-mock release.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STRIPE_MOCK_VERSION=v0.203.0

usage() {
	echo "usage: $0 start|stop <statedir>" >&2
	exit 2
}

log() { echo "test-services: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $# -eq 2 ]] || usage
action=$1
statedir=$2
[[ -n $statedir ]] || usage

# Variables that would redirect the PostgreSQL tools elsewhere.
unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGOPTIONS PGSERVICE PGSERVICEFILE

# run_as USER CMD...: run CMD as USER (when we are root and USER is another
# account), from / so that an unreadable cwd does not matter.
run_as() {
	local u=$1
	shift
	if [[ $(id -u) -ne 0 || $u == "$(id -un)" ]]; then
		(cd / && "$@")
	elif command -v runuser >/dev/null 2>&1; then
		(cd / && runuser -u "$u" -- "$@")
	elif command -v setpriv >/dev/null 2>&1; then
		(cd / && setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups -- "$@")
	else
		(cd / && su -s /bin/sh "$u" -c "$(printf '%q ' "$@")")
	fi
}

# pg_user: the account PostgreSQL runs as.
pg_user() {
	if [[ $(id -u) -ne 0 ]]; then
		id -un
	elif id -u postgres >/dev/null 2>&1; then
		echo postgres
	elif id -u nobody >/dev/null 2>&1; then
		echo nobody
	else
		die "running as root, but there is neither a postgres nor a nobody user to run PostgreSQL as"
	fi
}

# free_port prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
	local p
	if command -v python3 >/dev/null 2>&1 &&
		p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null) &&
		[[ $p =~ ^[0-9]+$ ]]; then
		echo "$p"
		return 0
	fi
	local _
	for _ in $(seq 1 100); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		# Connection refused means nothing listens there.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "could not find a free TCP port on 127.0.0.1"
}

# tcp_open PORT: something accepts connections on 127.0.0.1:PORT.
tcp_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

redis_ping() {
	local port=$1 reply
	if command -v redis-cli >/dev/null 2>&1; then
		reply=$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) || return 1
		[[ $reply == PONG ]]
		return
	fi
	reply=$(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		printf 'PING\r\n' >&3
		IFS= read -r -t 5 line <&3 && printf '%s' "$line"
	) 2>/dev/null || return 1
	[[ $reply == +PONG* ]]
}

# pid_alive PID PATTERN: PID is a live process whose command line contains PATTERN.
pid_alive() {
	local pid=$1 pattern=$2
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/cmdline ]]; then
		local cmdline
		cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
		[[ $cmdline == *"$pattern"* ]]
	fi
}

# wait_gone PID SECONDS: wait until PID has exited.
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null
}

start_postgres() {
	local pgdata=$statedir/pg sockdir=$statedir/sock logfile=$statedir/postgres.log
	local user
	user=$(pg_user)

	if [[ -f $pgdata/postmaster.pid ]] && pid_alive "$(head -n1 "$pgdata/postmaster.pid")" postgres; then
		die "PostgreSQL is already running in $pgdata; run '$0 stop $statedir' first"
	fi

	mkdir -p "$pgdata" "$sockdir"
	chmod 0700 "$pgdata" "$sockdir"
	touch "$logfile"
	if [[ $(id -u) -eq 0 ]]; then
		chown "$user:" "$pgdata" "$sockdir" "$logfile"
		if ! run_as "$user" test -w "$pgdata"; then
			die "user $user cannot reach $statedir (a parent directory is not traversable); use a state directory under /tmp"
		fi
	fi

	if [[ ! -f $pgdata/PG_VERSION ]]; then
		log "initdb $pgdata (as $user)"
		if ! run_as "$user" "$pg_bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$statedir/initdb.log" 2>&1; then
			# C.UTF-8 may not exist on this system: retry with plain C.
			find "$pgdata" -mindepth 1 -delete
			run_as "$user" "$pg_bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >>"$statedir/initdb.log" 2>&1 ||
				die "initdb failed: $(tail -n 20 "$statedir/initdb.log")"
		fi
		cat >>"$pgdata/postgresql.conf" <<-'EOF'

			# --- scripts/test-services.sh: throw-away test cluster ---
			listen_addresses = '127.0.0.1'
			# Test data only: durability is traded for speed.
			fsync = off
			synchronous_commit = off
			full_page_writes = off
			max_connections = 300
			shared_buffers = 128MB
			unix_socket_permissions = 0700
			include_if_exists = 'test-services.conf'
		EOF
	fi

	local attempt port
	for attempt in 1 2 3; do
		port=$(free_port)
		{
			echo "port = $port"
			# A unix socket path must stay short (the kernel limit is 108 bytes).
			if ((${#sockdir} + 16 < 100)); then
				echo "unix_socket_directories = '$sockdir'"
			else
				echo "unix_socket_directories = ''"
			fi
		} >"$pgdata/test-services.conf"
		[[ $(id -u) -ne 0 ]] || chown "$user:" "$pgdata/test-services.conf"

		log "starting PostgreSQL on 127.0.0.1:$port"
		if run_as "$user" "$pg_bindir/pg_ctl" -D "$pgdata" -l "$logfile" -w -t 60 -s start; then
			break
		fi
		if grep -q 'Address already in use' "$logfile" && ((attempt < 3)); then
			log "port $port was taken meanwhile; retrying"
			continue
		fi
		die "PostgreSQL failed to start; last lines of $logfile:
$(tail -n 20 "$logfile")"
	done

	local isready i
	isready=$pg_bindir/pg_isready
	[[ -x $isready ]] || isready=$(command -v pg_isready || true)
	for ((i = 0; i < 300; i++)); do
		if [[ -n $isready ]]; then
			"$isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres && break
		else
			tcp_open "$port" && break
		fi
		sleep 0.1
	done
	((i < 300)) || die "PostgreSQL on 127.0.0.1:$port does not accept connections"
	pg_port=$port
}

start_redis() {
	local attempt port pid i
	for attempt in 1 2 3; do
		port=$(free_port)
		rm -f "$statedir/redis.pid"
		log "starting Redis on 127.0.0.1:$port"
		"$redis_server" --bind 127.0.0.1 --port "$port" --protected-mode yes \
			--save '' --appendonly no --daemonize yes \
			--pidfile "$statedir/redis.pid" --dir "$statedir" --logfile "$statedir/redis.log" ||
			die "redis-server failed: $(tail -n 20 "$statedir/redis.log" 2>/dev/null)"
		for ((i = 0; i < 100; i++)); do
			if redis_ping "$port"; then
				redis_port=$port
				return 0
			fi
			pid=$(cat "$statedir/redis.pid" 2>/dev/null || true)
			# It exited (typically: the port was taken meanwhile).
			if ((i > 10)) && ! pid_alive "$pid" redis; then
				break
			fi
			sleep 0.1
		done
		pid=$(cat "$statedir/redis.pid" 2>/dev/null || true)
		if pid_alive "$pid" redis; then
			kill "$pid" 2>/dev/null || true
			wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
		fi
		log "Redis did not come up on port $port (attempt $attempt)"
	done
	die "Redis failed to start; last lines of $statedir/redis.log:
$(tail -n 20 "$statedir/redis.log" 2>/dev/null)"
}

# ensure_stripe_mock prints the path of a stripe-mock binary of the pinned version,
# building it into bin/ with `go install` when it is missing or another version.
ensure_stripe_mock() {
	local bindir=$here/../bin/stripe-mock-$STRIPE_MOCK_VERSION
	if [[ ! -x $bindir/stripe-mock ]]; then
		log "building stripe-mock $STRIPE_MOCK_VERSION into $bindir"
		mkdir -p "$bindir"
		GOBIN=$(cd "$bindir" && pwd) GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >&2 ||
			die "go install github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION failed"
	fi
	echo "$(cd "$bindir" && pwd)/stripe-mock"
}

start_stripe_mock() {
	local bin attempt port pid i
	bin=$(ensure_stripe_mock)
	for attempt in 1 2 3; do
		port=$(free_port)
		log "starting stripe-mock on 127.0.0.1:$port"
		# HTTPS on a port the system picks, on loopback: its default is :12112 on every
		# interface, which a second test run (or anything else) may hold.
		"$bin" -http-addr "127.0.0.1:$port" -https-addr "127.0.0.1:" >"$statedir/stripe-mock.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$statedir/stripe-mock.pid"
		for ((i = 0; i < 300; i++)); do
			if tcp_open "$port"; then
				stripe_mock_port=$port
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
		log "stripe-mock did not come up on port $port (attempt $attempt)"
	done
	die "stripe-mock failed to start; last lines of $statedir/stripe-mock.log:
$(tail -n 20 "$statedir/stripe-mock.log" 2>/dev/null)"
}

do_start() {
	mkdir -p "$statedir"
	statedir=$(cd "$statedir" && pwd -P)
	# The postgres user must be able to enter the state directory.
	[[ $(id -u) -ne 0 ]] || chmod 0755 "$statedir"

	pg_bindir=$(bash "$here/ensure-postgres.sh" --redis --print-bindir)
	redis_server=$(command -v redis-server || echo /usr/bin/redis-server)

	# If anything below fails, do not leave half the services running.
	trap 'rc=$?; if ((rc != 0)); then log "start failed; stopping what was started"; do_stop || true; fi' EXIT

	start_postgres
	start_redis
	start_stripe_mock

	local tmp=$statedir/env.tmp
	{
		echo "# written by scripts/test-services.sh; source it"
		echo "export CODITECT_TEST_PG_URL='postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable'"
		echo "export CODITECT_TEST_REDIS_URL='redis://127.0.0.1:$redis_port/0'"
		echo "export CODITECT_TEST_PG_BINDIR='$pg_bindir'"
		echo "export CODITECT_TEST_STRIPE_MOCK_URL='http://127.0.0.1:$stripe_mock_port'"
	} >"$tmp"
	mv "$tmp" "$statedir/env"
	log "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port, stripe-mock on 127.0.0.1:$stripe_mock_port; environment in $statedir/env"
}

do_stop() {
	[[ -d $statedir ]] || return 0
	statedir=$(cd "$statedir" && pwd -P)
	local rc=0 pgdata=$statedir/pg pid owner bindir

	if [[ -f $pgdata/postmaster.pid ]]; then
		pid=$(head -n1 "$pgdata/postmaster.pid")
		if pid_alive "$pid" postgres; then
			owner=$(id -nu "$(stat -c %u "$pgdata")" 2>/dev/null || stat -c %U "$pgdata")
			bindir=${pg_bindir:-}
			if [[ -z $bindir && -f $statedir/env ]]; then
				bindir=$(sed -n "s/^export CODITECT_TEST_PG_BINDIR='\(.*\)'$/\1/p" "$statedir/env")
			fi
			if [[ -z $bindir || ! -x $bindir/pg_ctl ]]; then
				bindir=$(bash "$here/ensure-postgres.sh" --print-bindir 2>/dev/null || true)
			fi
			log "stopping PostgreSQL (pid $pid)"
			if [[ -z $bindir ]] || ! run_as "$owner" "$bindir/pg_ctl" -D "$pgdata" -m fast -w -t 60 -s stop; then
				log "pg_ctl stop failed; sending SIGINT (fast shutdown) to $pid"
				kill -INT "$pid" 2>/dev/null || true
				if ! wait_gone "$pid" 30; then
					log "error: PostgreSQL (pid $pid) did not stop"
					rc=1
				fi
			fi
		fi
	fi

	if [[ -f $statedir/stripe-mock.pid ]]; then
		pid=$(cat "$statedir/stripe-mock.pid" 2>/dev/null || true)
		if pid_alive "$pid" stripe-mock; then
			log "stopping stripe-mock (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$statedir/stripe-mock.pid"
	fi

	if [[ -f $statedir/redis.pid ]]; then
		pid=$(cat "$statedir/redis.pid" 2>/dev/null || true)
		if pid_alive "$pid" redis; then
			log "stopping Redis (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
			if ! wait_gone "$pid" 10; then
				kill -KILL "$pid" 2>/dev/null || true
				wait_gone "$pid" 5 || {
					log "error: Redis (pid $pid) did not stop"
					rc=1
				}
			fi
		fi
		rm -f "$statedir/redis.pid"
	fi
	return "$rc"
}

case $action in
start) do_start ;;
stop) do_stop ;;
*) usage ;;
esac
