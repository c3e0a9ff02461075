#!/usr/bin/env bash
# The load harness in one command (`make bench` runs it): builds coditect and the
# harness, starts a private PostgreSQL (fsync on) in a temporary directory, migrates,
# seeds SCALE tenants, starts `coditect serve` on 127.0.0.1 as the application role,
# drives the API with bench/cmd/load (the mix, then list-only and get-only), runs
# pgbench with the same SQL as the application role, prints everything and stops what
# it started. See bench/README.md.
#
# Knobs (environment variables):
#   SCALE=1000        tenants; SCALE=1000000 for the big run
#   MEMBERS, PROJECTS, TASKS   per-tenant shape (defaults: 3/5/20 below 100000 tenants, else 2/5/4)
#   KEYS=1000         sampled tenants with an API key (the load and pgbench use only these)
#   CONC=64           concurrent clients (load generator and pgbench)
#   DURATION=30       measured seconds per run;  WARMUP=5  unmeasured seconds before each API run
#   MIX=list=40,get=40,create=10,update=10   the mixed run's weights
#   PGBENCH_JOBS=2    pgbench threads
#   DB_CONNS=20       the API's pool size (DATABASE_MAX_CONNS; 20 is coditect's default)
#   SHARED_BUFFERS=2GB   PostgreSQL shared_buffers
#   LOG_LEVEL=info    coditect's log level (one JSON line per request at info, to a file)
#   CODITECT_BIN      use this coditect binary instead of building ./cmd/coditect (e.g. to
#                     measure two scales with the very same build)
#   BENCH_DIR         working directory (default: a new /tmp/coditect-bench.XXXXXX)
#   KEEP=0            1: keep BENCH_DIR (the database) afterwards
#   REPORT            where the report is copied (default /tmp/coditect-bench-SCALE-TIME.txt)
#   PRIORITY=0        as root, a negative niceness (e.g. -10) for everything the benchmark
#                     runs (PostgreSQL, coditect, the load generator, pgbench), so that other
#                     people's jobs on a shared machine take less of the measured cores
#   ROUNDS=1          repeat every measured run this many times (the summary gives the
#                     median and the best of the rounds: others' jobs only ever slow a run)
#   PGBENCH=1         0: skip pgbench
#   CONFIGS="cache nocache nolimit"   the server set-ups measured, each with its own
#                     private Redis-backed `coditect serve`:
#                       cache    REDIS_URL set, caches on, rate limits on (production)
#                       nocache  REDIS_URL set, CODITECT_CACHE=false, rate limits on
#                       nolimit  REDIS_URL set, CODITECT_CACHE=false, rate limits off
#                       noredis  no REDIS_URL: no caches, in-process rate limits
#                     (nocache − nolimit is the rate limiter's cost per request)
#   QUIET_WAIT=180    before each measured run, wait up to this many seconds for the rest of
#                     the machine to go quiet (under QUIET_CORES=0.3 cores busy); 0: don't wait
#
# The whole script is one function, read before it runs, and the line that calls it
# also exits: editing this file while a run is in progress cannot derail that run.
set -euo pipefail

main() {
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	root=$(cd "$here/.." && pwd)

	SCALE=${SCALE:-1000}
	if ((SCALE >= 100000)); then
		MEMBERS=${MEMBERS:-2} PROJECTS=${PROJECTS:-5} TASKS=${TASKS:-4}
	else
		MEMBERS=${MEMBERS:-3} PROJECTS=${PROJECTS:-5} TASKS=${TASKS:-20}
	fi
	KEYS=${KEYS:-1000}
	CONC=${CONC:-64}
	DURATION=${DURATION:-30}
	WARMUP=${WARMUP:-5}
	MIX=${MIX:-list=40,get=40,create=10,update=10}
	PGBENCH_JOBS=${PGBENCH_JOBS:-2}
	DB_CONNS=${DB_CONNS:-20}
	SHARED_BUFFERS=${SHARED_BUFFERS:-2GB}
	LOG_LEVEL=${LOG_LEVEL:-info}
	KEEP=${KEEP:-0}
	PRIORITY=${PRIORITY:-0}
	QUIET_WAIT=${QUIET_WAIT:-180}
	QUIET_CORES=${QUIET_CORES:-0.3}
	ROUNDS=${ROUNDS:-1}
	PGBENCH=${PGBENCH:-1}
	CONFIGS=${CONFIGS:-cache nocache nolimit}
	# One secret for every server started: the signing keys in the database are sealed with it.
	secret_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
	((KEYS <= SCALE)) || KEYS=$SCALE
	((DURATION >= 5)) || die "DURATION must be at least 5 (seconds)"

	unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGOPTIONS PGSERVICE PGSERVICEFILE PGPASSWORD

	if [[ -z ${BENCH_DIR:-} ]]; then
		BENCH_DIR=$(mktemp -d /tmp/coditect-bench.XXXXXX)
	fi
	mkdir -p "$BENCH_DIR"
	BENCH_DIR=$(cd "$BENCH_DIR" && pwd -P)
	REPORT=${REPORT:-/tmp/coditect-bench-$SCALE-$(date +%Y%m%d-%H%M%S).txt}
	pgdata=$BENCH_DIR/pg
	bin=$BENCH_DIR/bin
	report=$BENCH_DIR/report.txt
	keys=$BENCH_DIR/keys.json
	: >"$report"
	# Everything printed from here on also goes to the report.
	exec > >(tee -a "$report") 2>&1

	serve_pid=
	redis_pid=
	pg_started=
	pg_pid=
	pg_user=$(id -un)
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	hz=$(getconf CLK_TCK)
	ncpu=$(nproc)
	if [[ $PRIORITY != 0 ]]; then
		# Everything started from here on (PostgreSQL, coditect, the clients, this
		# script's own accounting) inherits the niceness.
		[[ $(id -u) -eq 0 || $PRIORITY -gt 0 ]] || die "PRIORITY=$PRIORITY needs root"
		renice -n "$PRIORITY" -p $$ >/dev/null
	fi

	echo "== coditect load harness: SCALE=$SCALE KEYS=$KEYS CONC=$CONC DURATION=${DURATION}s WARMUP=${WARMUP}s DB_CONNS=$DB_CONNS PRIORITY=$PRIORITY ROUNDS=$ROUNDS"
	echo "   $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -sr), $ncpu CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, $(go version | awk '{print $3}')"

	build
	start_postgres
	seed
	start_redis

	local r conf
	for conf in $CONFIGS; do
		start_serve "$conf"
		for ((r = 1; r <= ROUNDS; r++)); do
			echo
			echo "== API [$conf], mixed: $MIX$(round_label "$r")"
			api_load "$BENCH_DIR/load-$conf-mix.$r.txt" -mix "$MIX"
			echo
			echo "== API [$conf], list projects only$(round_label "$r")"
			api_load "$BENCH_DIR/load-$conf-list.$r.txt" -mix list=1
			echo
			echo "== API [$conf], get task only$(round_label "$r")"
			api_load "$BENCH_DIR/load-$conf-get.$r.txt" -mix get=1
		done
		log "stopping coditect serve [$conf] (pid $serve_pid)"
		kill -TERM "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
		serve_pid=
	done
	stop_redis

	if [[ $PGBENCH == 1 ]]; then
		local pgb=$here/pgbench
		for ((r = 1; r <= ROUNDS; r++)); do
			pgbench_run list-simple simple "$pgb/list_projects.sql" "$r"
			pgbench_run get-simple simple "$pgb/get_task.sql" "$r"
			pgbench_run list-pipelined prepared "$pgb/list_projects_pipelined.sql" "$r"
			pgbench_run get-pipelined prepared "$pgb/get_task_pipelined.sql" "$r"
		done
	fi

	summary
}

log() { echo "bench: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# run_as USER CMD...: run CMD as USER (PostgreSQL refuses to run as root).
run_as() {
	local u=$1
	shift
	if [[ $(id -u) -ne 0 || $u == "$(id -un)" ]]; then
		(cd / && "$@")
	else
		(cd / && runuser -u "$u" -- "$@")
	fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $serve_pid ]] && kill -0 "$serve_pid" 2>/dev/null; then
		log "stopping coditect serve (pid $serve_pid)"
		kill -TERM "$serve_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$serve_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$serve_pid" 2>/dev/null; then kill -KILL "$serve_pid" 2>/dev/null || true; fi
	fi
	stop_redis
	if [[ -n $pg_started && -f $pgdata/postmaster.pid ]]; then
		local pid
		pid=$(head -n1 "$pgdata/postmaster.pid")
		log "stopping PostgreSQL (pid $pid)"
		if ! run_as "$pg_user" "$pg_bindir/pg_ctl" -D "$pgdata" -m fast -w -t 120 -s stop; then
			kill -INT "$pid" 2>/dev/null || true
		fi
	fi
	if [[ -s ${report:-} ]]; then
		cp "$report" "$REPORT" 2>/dev/null && log "report: $REPORT"
	fi
	if [[ ${KEEP:-0} == 1 ]]; then
		log "kept $BENCH_DIR"
	elif [[ -n ${BENCH_DIR:-} && -d $BENCH_DIR ]]; then
		rm -rf "$BENCH_DIR"
	fi
	exit "$rc"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

build() {
	mkdir -p "$bin"
	if [[ -n ${CODITECT_BIN:-} ]]; then
		log "building the harness into $bin; coditect is $CODITECT_BIN"
		cp "$CODITECT_BIN" "$bin/coditect"
		(cd "$root" && go build -o "$bin/" ./bench/cmd/seed ./bench/cmd/load)
	else
		log "building coditect and the harness into $bin"
		(cd "$root" && go build -o "$bin/" ./cmd/coditect ./bench/cmd/seed ./bench/cmd/load)
	fi
	local from
	from="built from $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' + uncommitted changes')"
	[[ -z ${CODITECT_BIN:-} ]] || from="from $CODITECT_BIN"
	echo "   coditect sha256 $(sha256sum "$bin/coditect" | cut -c1-12), $from"
	pg_bindir=$(bash "$root/scripts/ensure-postgres.sh" --print-bindir)
	[[ -x $pg_bindir/pgbench ]] || die "pgbench is missing from $pg_bindir"
	if [[ $(id -u) -eq 0 ]]; then
		pg_user=postgres
		id -u postgres >/dev/null 2>&1 || pg_user=nobody
		chmod 0755 "$BENCH_DIR"
	fi
}

start_postgres() {
	log "initdb $pgdata (PostgreSQL $("$pg_bindir/postgres" --version | awk '{print $3}'), running as $pg_user)"
	mkdir -p "$pgdata"
	chmod 0700 "$pgdata"
	[[ $(id -u) -ne 0 ]] || chown "$pg_user:" "$pgdata"
	run_as "$pg_user" "$pg_bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C >"$BENCH_DIR/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -n 20 "$BENCH_DIR/initdb.log")"
	pg_port=$(free_port)
	cat >>"$pgdata/postgresql.conf" <<-EOF

		# --- bench/run.sh: a durable server (fsync and synchronous_commit on, the defaults) ---
		listen_addresses = '127.0.0.1'
		port = $pg_port
		unix_socket_directories = ''
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		max_connections = 300
		shared_buffers = $SHARED_BUFFERS
		effective_cache_size = 12GB
		maintenance_work_mem = 512MB
		max_wal_size = 16GB
		checkpoint_timeout = 30min
	EOF
	log "starting PostgreSQL on 127.0.0.1:$pg_port"
	touch "$BENCH_DIR/postgres.log"
	[[ $(id -u) -ne 0 ]] || chown "$pg_user:" "$BENCH_DIR/postgres.log"
	local start=("$pg_bindir/pg_ctl" -D "$pgdata" -l "$BENCH_DIR/postgres.log" -w -t 120 -s start)
	[[ $(id -u) -ne 0 || $pg_user == root ]] || start=(runuser -u "$pg_user" -- "${start[@]}")
	pg_started=1
	(cd / && "${start[@]}") || die "PostgreSQL did not start: $(tail -n 20 "$BENCH_DIR/postgres.log")"
	pg_pid=$(head -n1 "$pgdata/postmaster.pid")

	super="postgres://postgres@127.0.0.1:$pg_port/coditect?sslmode=disable"
	owner="postgres://coditect_owner@127.0.0.1:$pg_port/coditect?sslmode=disable"
	app="postgres://coditect_app@127.0.0.1:$pg_port/coditect?sslmode=disable"
	psql=("$pg_bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres)
	"${psql[@]}" -d postgres <<-'EOF'
		CREATE ROLE coditect_owner LOGIN CREATEROLE;
		CREATE ROLE coditect_app LOGIN NOSUPERUSER NOBYPASSRLS;
		CREATE DATABASE coditect OWNER coditect_owner;
	EOF
	echo "   postgres: $("${psql[@]}" -d postgres -At -c "SELECT 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', full_page_writes=' || current_setting('full_page_writes') || ', shared_buffers=' || current_setting('shared_buffers')")"

	log "migrating"
	DATABASE_OWNER_URL=$owner DATABASE_URL=$app "$bin/coditect" migrate up >"$BENCH_DIR/migrate.log" 2>&1 ||
		die "migrate failed: $(tail -n 20 "$BENCH_DIR/migrate.log")"
}

seed() {
	echo
	echo "== seed: $SCALE tenants × ($MEMBERS members, 1 workspace, $PROJECTS projects, $TASKS tasks per project), $KEYS API keys"
	local t0=$SECONDS
	"$bin/seed" -db "$super" -tenants "$SCALE" -members "$MEMBERS" -projects "$PROJECTS" -tasks "$TASKS" -keys "$KEYS" -keys-out "$keys"
	# Paying organizations: the business plan's rate limit (12,000 a minute), so the
	# load measures the API, not the free plan's budget.
	"${psql[@]}" -d coditect -c "INSERT INTO subscriptions (tenant_id, stripe_subscription_id, plan_id, status, quantity, state_at, state_rank)
		SELECT id, 'sub_bench_' || id, 'business', 'active', 1, now(), 0 FROM organizations ON CONFLICT DO NOTHING"
	"${psql[@]}" -d coditect -c "CHECKPOINT"
	echo "seed: done in $((SECONDS - t0)) s (with the checkpoint); disk: $(du -sh "$pgdata" | cut -f1) in $pgdata"
}

# start_redis starts a private redis-server (no persistence) for the caches and limits.
start_redis() {
	local port
	port=$(free_port)
	redis_url=redis://127.0.0.1:$port/0
	command -v redis-server >/dev/null || die "redis-server is missing (apt-get install redis-server)"
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$BENCH_DIR" >"$BENCH_DIR/redis.log" 2>&1 &
	redis_pid=$!
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "   redis: $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port"
			return 0
		fi
		sleep 0.05
	done
	die "redis-server did not start: $(tail -n 5 "$BENCH_DIR/redis.log")"
}

stop_redis() {
	if [[ -n ${redis_pid:-} ]] && kill -0 "$redis_pid" 2>/dev/null; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	redis_pid=
}

# start_serve CONF: starts coditect serve set up as CONF (see CONFIGS).
start_serve() {
	local api_port i conf=$1 env=()
	case $conf in
	cache) env=(REDIS_URL="$redis_url" CODITECT_CACHE=true) ;;
	nocache) env=(REDIS_URL="$redis_url" CODITECT_CACHE=false) ;;
	nolimit) env=(REDIS_URL="$redis_url" CODITECT_CACHE=false CODITECT_RATE_LIMIT_TENANT=0 CODITECT_RATE_LIMIT_PRINCIPAL=0 CODITECT_RATE_LIMIT_IP=0) ;;
	noredis) env=() ;;
	*) die "unknown CONFIGS entry $conf (cache, nocache, nolimit or noredis)" ;;
	esac
	api_port=$(free_port)
	base=http://127.0.0.1:$api_port
	log "starting coditect serve [$conf: ${env[*]:-no Redis}] on $base (DATABASE_MAX_CONNS=$DB_CONNS, no workers, log level $LOG_LEVEL → $BENCH_DIR/serve.log)"
	env "${env[@]}" DATABASE_URL=$app DATABASE_OWNER_URL=$owner DATABASE_MAX_CONNS=$DB_CONNS \
		CODITECT_ADDR=127.0.0.1:$api_port CODITECT_SECRET_KEY=$secret_key \
		CODITECT_WORKERS=false CODITECT_LOG_LEVEL=$LOG_LEVEL CODITECT_COOKIE_SECURE=false \
		"$bin/coditect" serve >"$BENCH_DIR/serve.out" 2>"$BENCH_DIR/serve.log" &
	serve_pid=$!
	for i in $(seq 1 200); do
		if curl -fsS "$base/readyz" >/dev/null 2>&1; then return 0; fi
		kill -0 "$serve_pid" 2>/dev/null || die "coditect serve exited: $(tail -n 20 "$BENCH_DIR/serve.log")"
		sleep 0.1
	done
	die "coditect serve is not ready: $(tail -n 20 "$BENCH_DIR/serve.log")"
}

# --- CPU accounting, in clock ticks: where the machine's cores went during a run ------

# proc_ticks PID: user + system ticks of a process (0 if it is gone).
proc_ticks() {
	local f
	if read -r -a f 2>/dev/null <"/proc/$1/stat"; then echo $((f[13] + f[14])); else echo 0; fi
}
# pg_stat: "pid ticks" of the postmaster and each of its children, in one pass (a
# saturated machine makes a fork per process slow).
pg_stat() {
	local pids
	pids=$(pgrep -P "$pg_pid" | sed 's|.*|/proc/&/stat|')
	# shellcheck disable=SC2086
	cat "/proc/$pg_pid/stat" $pids 2>/dev/null | awk '{ print $1, $14 + $15 }'
}
# machine_ticks: busy and total ticks of all CPUs since boot.
machine_ticks() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }

declare -A cpu0_pg=()
cpu_begin() {
	local pid t
	cpu0_pg=()
	while read -r pid t; do cpu0_pg[$pid]=$t; done < <(pg_stat)
	cpu0_serve=0
	[[ -z $serve_pid ]] || cpu0_serve=$(proc_ticks "$serve_pid")
	read -r cpu0_busy cpu0_total < <(machine_ticks)
}

# cpu_end: takes the second snapshot. Take it while the clients still run: connections
# that end with them (pgbench's; the API's, which pgx closes when a request is
# cancelled at the end of a run) would take their ticks along.
cpu_end() {
	local pid now b t
	read -r b t < <(machine_ticks)
	cpu_serve=0
	[[ -z $serve_pid ]] || cpu_serve=$(($(proc_ticks "$serve_pid") - cpu0_serve))
	cpu_pg=0
	while read -r pid now; do cpu_pg=$((cpu_pg + now - ${cpu0_pg[$pid]:-0})); done < <(pg_stat)
	cpu_busy=$((b - cpu0_busy)) cpu_total=$((t - cpu0_total))
}

# cpu_report CLIENT_NAME [CLIENT_CORES]: prints the cores used between cpu_begin and
# cpu_end by PostgreSQL (processes that exited meanwhile are left out), coditect, the
# client (if it measured itself) and everything else.
cpu_report() {
	awk -v s="$cpu_serve" -v p="$cpu_pg" -v b="$cpu_busy" -v t="$cpu_total" -v n="$ncpu" -v hz="$hz" \
		-v name="$1" -v c="${2:-}" -v serve="$serve_pid" 'BEGIN {
		secs = t / n; if (secs <= 0) exit
		line = sprintf("CPU (cores of %d, over %.0f s): postgres %.2f", n, secs / hz, p / secs)
		if (serve != "") line = line sprintf(", coditect %.2f", s / secs)
		other = (b - s - p) / secs
		if (c != "") { line = line sprintf(", %s %.2f", name, c); other -= c; name = "" }
		line = line sprintf(", everything else%s %.2f, idle %.2f", name == "" ? "" : " (" name " included)", other, (t - b) / secs)
		print line }'
}

# wait_quiet: on a shared machine, other people's builds and tests steal the cores the
# benchmark measures. Our own processes are idle between runs, so whatever the machine
# does now is someone else's: wait (up to QUIET_WAIT s) until it is under QUIET_CORES
# for 4 s.
wait_quiet() {
	local waited=0 b0 t0 b1 t1 busy
	while :; do
		read -r b0 t0 < <(machine_ticks)
		sleep 4
		read -r b1 t1 < <(machine_ticks)
		busy=$(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v n="$ncpu" 'BEGIN { printf "%.2f", (t > 0 ? b / t * n : 0) }')
		if awk -v x="$busy" -v q="$QUIET_CORES" 'BEGIN { exit !(x < q) }'; then
			((waited == 0)) || echo "(waited ${waited} s for other processes to go quiet)"
			return 0
		fi
		if ((waited >= QUIET_WAIT)); then
			echo "WARNING: other processes keep $busy cores busy; measuring anyway"
			return 0
		fi
		sleep 1
		waited=$((waited + 5))
	done
}

# api_load OUT ARGS...: one load generator run (ARGS go to bench/cmd/load), its output
# also in OUT.
api_load() {
	local out=$1 lp
	shift
	wait_quiet
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	"$bin/load" -url "$base" -keys "$keys" -c "$CONC" -d "${DURATION}s" -warmup "${WARMUP}s" "$@" >"$out" &
	lp=$!
	# The CPU accounting covers the measured part, but for its first and last second.
	sleep $((WARMUP + 1))
	cpu_begin
	sleep $((DURATION - 2))
	cpu_end
	wait "$lp" || {
		cat "$out"
		die "the load generator failed"
	}
	cat "$out"
	cpu_report "load generator" "$(awk '/^load generator CPU/ { print $(NF-1) }' "$out")"
}

round_label() { [[ $ROUNDS == 1 ]] || echo " (round $1 of $ROUNDS)"; }

# pgbench_run NAME MODE SCRIPT ROUND: runs one script as the application role (RLS
# applies), logging every transaction, and prints tps and latency percentiles.
pgbench_run() {
	local name=$1 mode=$2 script=$3 logdir=$BENCH_DIR/pgbench-$1.$4 pp
	mkdir -p "$logdir"
	echo
	echo "== pgbench $name: -M $mode -c $CONC -j $PGBENCH_JOBS -T $DURATION, $(basename "$script")$(round_label "$4")"
	wait_quiet
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	"$pg_bindir/pgbench" -n -h 127.0.0.1 -p "$pg_port" -U coditect_app -M "$mode" \
		-c "$CONC" -j "$PGBENCH_JOBS" -T "$DURATION" -l --log-prefix="$logdir/tx" \
		-D ntenants="$SCALE" -D keys="$KEYS" -D projects="$PROJECTS" -D tasks="$TASKS" \
		-f "$script" coditect >"$logdir/out.txt" 2>&1 &
	pp=$!
	# pgbench's connections end with it: account for the middle of the run.
	sleep 2
	cpu_begin
	sleep $((DURATION - 4))
	cpu_end
	cpu_report pgbench
	wait "$pp" || {
		cat "$logdir/out.txt"
		die "pgbench $name failed"
	}
	grep -E '^(number of failed|latency average|tps)' "$logdir/out.txt" | sed 's/^/  /'
	# Per-transaction log: field 3 is the latency in µs.
	cat "$logdir"/tx.* | awk '{ print $3 }' | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) exit
			printf "  latency p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (%d transactions)\n",
				v[int(NR*0.50+0.5)]/1000, v[int(NR*0.95+0.5)]/1000, v[int(NR*0.99+0.5)]/1000, v[NR]/1000, NR }'
	awk '/^tps/ { print $3; exit }' "$logdir/out.txt" >"$logdir/tps"
	rm -f "$logdir"/tx.*
}

# median_best: the median (the lower middle for an even count) and the largest of the
# numbers on stdin.
median_best() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)], v[NR] }'; }

# api_stat OP FIELD: a field of the "all" row (4 req/s, 8 p99) of every round of OP.
# api_stat CONF OP FIELD: median and best of a load run's field over the rounds.
api_stat() { cat "$BENCH_DIR"/load-"$1"-"$2".*.txt | awk -v f="$3" '$1 == "all" { print $f }' | median_best; }

summary() {
	local op api apibest s sbest p pbest conf
	echo
	echo "== summary: $SCALE tenants, $CONC clients, ${DURATION} s per run$([[ $ROUNDS == 1 ]] || echo "; median of $ROUNDS rounds (best throughput, worst p99)")"
	for conf in $CONFIGS; do
		read -r api apibest < <(api_stat "$conf" mix 4)
		read -r p pbest < <(api_stat "$conf" mix 8)
		echo "  [$conf] mixed: $api ($apibest) req/s, p99 $p ($pbest) ms"
		for op in list get; do
			read -r api apibest < <(api_stat "$conf" "$op" 4)
			read -r p pbest < <(api_stat "$conf" "$op" 8)
			echo "  [$conf] $op only: $api ($apibest) req/s, p99 $p ($pbest) ms"
		done
	done
	[[ $PGBENCH == 1 ]] || return 0
	printf '  %-16s %18s %20s %20s %12s %12s\n' "" "API req/s" "pgbench simple" "pgbench pipelined" "API/simple" "API/pipel."
	for conf in $CONFIGS; do
		for op in list get; do
			read -r api apibest < <(api_stat "$conf" "$op" 4)
			read -r s sbest < <(cat "$BENCH_DIR"/pgbench-"$op"-simple.*/tps | median_best)
			read -r p pbest < <(cat "$BENCH_DIR"/pgbench-"$op"-pipelined.*/tps | median_best)
			printf '  %-16s %18s %20s %20s %12s %12s\n' "$op [$conf]" "$api ($apibest)" \
				"$(printf '%.0f (%.0f)' "$s" "$sbest")" "$(printf '%.0f (%.0f)' "$p" "$pbest")" \
				"$(awk -v a="$api" -v b="$s" 'BEGIN { printf "%.2f", a / b }')" "$(awk -v a="$api" -v b="$p" 'BEGIN { printf "%.2f", a / b }')"
		done
	done
	echo "  (ratios of the medians)"
}

main "$@"; exit
