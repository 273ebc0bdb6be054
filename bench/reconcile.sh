#!/usr/bin/env bash
# bench/reconcile.sh — how fast `offsetctl diff` finds drift, against the floor
# and against pg_comparator, in one run on one throwaway PostgreSQL cluster.
#
# For each size (default 1,000,000 and 10,000,000 rows; override with
# SIZES="1000000"), it builds customers(id, name, email, balance, updated_at,
# meta) in database src, copies it to dst and perturbs 0.1 % of the rows each
# way (missing in the sink, extra in the sink, changed), and copies src once
# more to same (no difference). Then it prints, per size:
#   - the floor: count(*) and sum(hashtextextended(t::text, 0)) over each
#     side, both sides at once (two psql sessions);
#   - offsetctl diff on src/dst (0.1 % drift spread over the table; listing
#     every key, and listing at most the default 1000 per kind) and on
#     src/same (no difference): wall time and peak RSS of the client;
#   - pg_comparator (Debian's postgresql-comparator, installed when missing
#     and when running as root) in its default and in its fastest
#     configuration (--use-key --cf=fnv), same pair, same measurements;
#   - whether offsetctl's keys match the injected ones and pg_comparator's.
#
# offsetctl runs as it does by default, one backend per database, and once
# more with --parallel 2 (two parallel workers per side, like the floor's
# queries).
#
# Every measurement runs RUNS times (default 5; 1 for sizes above 2M rows),
# each run measuring the floor and then each tool, and the median is printed, as wall seconds and as CPU seconds (server processes
# plus client): on a shared machine the wall times are noisy, the CPU seconds
# much less so. Ratios are to the floor measured in the same run. The 10M size takes about 10 minutes on 2 cores.
#
# Environment: SIZES, RUNS, PORT (default: a free port from 25440, below the
# ephemeral range, whose ports a client socket may still hold), KEEP=1 to
# leave the cluster and its directory for inspection, OFFSETCTL (the binary;
# default: built into bin/offsetctl).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
SIZES=${SIZES:-"1000000 10000000"}
RUNS=${RUNS:-5}
OFFSETCTL=${OFFSETCTL:-}

log() { printf '%s\n' "$*" >&2; }
die() { log "reconcile.sh: $*"; exit 1; }

# --- prerequisites -----------------------------------------------------------
bindir=${OFFSETCTL_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x "$bindir/initdb" ]] || die "no PostgreSQL server binaries: apt-get install -y postgresql (as root)"
command -v /usr/bin/time >/dev/null || die "/usr/bin/time is missing: apt-get install -y time"
if ! command -v pg_comparator >/dev/null; then
	if [[ $(id -u) -eq 0 ]]; then
		log "installing postgresql-comparator"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-comparator >/dev/null
	else
		die "pg_comparator is missing: apt-get install -y postgresql-comparator (as root)"
	fi
fi
if [[ -z "$OFFSETCTL" ]]; then
	log "building offsetctl"
	(cd "$root" && go build -o bin/offsetctl ./cmd/offsetctl) || die "cannot build offsetctl"
	OFFSETCTL=$root/bin/offsetctl
fi

# --- cluster -----------------------------------------------------------------
port=${PORT:-25440}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || ss -tan | awk '{print $4}' | grep -q ":$port\$"; do port=$((port + 1)); done
dir=$(mktemp -d /tmp/offsetctl-bench-XXXXXX)
asuser=()
if [[ $(id -u) -eq 0 ]]; then
	chown postgres: "$dir"
	asuser=(runuser -u postgres --)
fi
cleanup() {
	if [[ -z "${KEEP:-}" ]]; then
		"${asuser[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$dir"
	else
		log "kept the cluster: port $port, directory $dir"
	fi
}
trap cleanup EXIT
log "starting PostgreSQL ($bindir) on 127.0.0.1:$port in $dir"
"${asuser[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${asuser[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=2GB -c work_mem=256MB -c max_parallel_workers_per_gather=2 -c max_wal_size=8GB -c checkpoint_timeout=30min" start >/dev/null

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
unset PGDATABASE PGPASSWORD PGSERVICE
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
url() { echo "postgres://postgres@127.0.0.1:$port/$1?sslmode=disable"; }

# --- helpers -----------------------------------------------------------------
# The machine may be shared, so wall times are noisy; CPU seconds are not.
# servercpu prints the CPU seconds used so far by the cluster: the postmaster
# and every child it has reaped (backends and parallel workers that ended).
pmpid=$(head -1 "$dir/data/postmaster.pid")
tck=$(getconf CLK_TCK)
servercpu() { awk -v t="$tck" '{printf "%.2f\n", ($14 + $15 + $16 + $17) / t}' "/proc/$pmpid/stat"; }

# timed OUT CMD...: runs CMD under /usr/bin/time; appends "seconds maxrss_kb"
# to OUT; the command's stdout goes to OUT.stdout.
timed() {
	local out=$1 c0
	shift
	c0=$(servercpu)
	/usr/bin/time -f '%e %M %U %S' -o "$out.time" "$@" >"$out.stdout" 2>"$out.stderr" || {
		local rc=$?
		# offsetctl diff exits 2 when it finds drift: that is success here.
		[[ $rc -eq 2 && "$1" == "$OFFSETCTL" ]] || { cat "$out.stderr" >&2; return $rc; }
	}
	sleep 0.2 # let the postmaster reap the backends
	echo "$(tail -1 "$out.time") $c0 $(servercpu)" | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4 + $6 - $5}' >>"$out"
}

# median FILE COLUMN: the median of a column of numbers.
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
minimum() { awk -v c="$2" '{print $c}' "$1" | sort -g | head -1; }

# both SQL: runs SQL on src and dst at once; prints the wall seconds, 0 (no
# client RSS measured) and the CPU seconds of client and server together.
both() {
	local sql=$1 t0 t1 c0
	c0=$(servercpu)
	t0=$(date +%s.%N)
	psql -d src -Atc "$sql" >/dev/null &
	local a=$!
	psql -d dst -Atc "$sql" >/dev/null &
	local b=$!
	wait $a
	wait $b
	t1=$(date +%s.%N)
	sleep 0.2
	echo "$t0 $t1 $c0 $(servercpu)" | awk '{printf "%.3f 0 %.2f\n", $2 - $1, $4 - $3}'
}

runs_for() { if (($1 > 2000000)); then echo 1; else echo "$RUNS"; fi; }

# --- one size ----------------------------------------------------------------
bench_size() {
	local n=$1 runs k=$(( $1 / 1000 )) work="$dir/n$1"
	runs=$(runs_for "$n")
	mkdir -p "$work"
	log "size $n: building the dataset"
	local t0=$SECONDS
	psql -d postgres -c "DROP DATABASE IF EXISTS src" -c "DROP DATABASE IF EXISTS dst" -c "DROP DATABASE IF EXISTS same" -c "CREATE DATABASE src"
	psql -d src -f "$here/reconcile/dataset.sql" -v n="$n" >/dev/null
	psql -d postgres -c "CREATE DATABASE dst TEMPLATE src" -c "CREATE DATABASE same TEMPLATE src"
	psql -d dst -f "$here/reconcile/perturb.sql" -v k="$k" >/dev/null
	for db in src dst same; do
		psql -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pgcmp" -c "VACUUM ANALYZE"
	done
	log "size $n: dataset built in $((SECONDS - t0)) s"

	# Warm up: every table read once.
	both "SELECT count(*) FROM customers t WHERE t::text <> ''" >/dev/null

	# Each run measures the floor and then every tool, so that the ratios
	# compare measurements taken close together on a machine whose speed
	# drifts.
	local floor="$work/floor" name
	for name in floor offsetctl_drift offsetctl_default offsetctl_equal offsetctl_parallel pgc_default pgc_fast; do : >"$work/$name"; done
	for _ in $(seq "$runs"); do
		both "SELECT count(*), sum(hashtextextended(t::text, 0)) FROM customers t" >>"$floor"
		timed "$work/offsetctl_drift" "$OFFSETCTL" diff --source "$(url src)" --sink "$(url dst)" --table customers -json --max-keys 1000000
		timed "$work/offsetctl_default" "$OFFSETCTL" diff --source "$(url src)" --sink "$(url dst)" --table customers -json
		timed "$work/offsetctl_equal" "$OFFSETCTL" diff --source "$(url src)" --sink "$(url same)" --table customers -json
		timed "$work/offsetctl_parallel" "$OFFSETCTL" diff --parallel 2 --source "$(url src)" --sink "$(url dst)" --table customers -json --max-keys 1000000
		timed "$work/pgc_default" pg_comparator "pgsql://postgres@127.0.0.1:$port/src/public.customers?id" "pgsql://postgres@127.0.0.1:$port/dst/public.customers?id"
		timed "$work/pgc_fast" pg_comparator --use-key --cf=fnv "pgsql://postgres@127.0.0.1:$port/src/public.customers?id" "pgsql://postgres@127.0.0.1:$port/dst/public.customers?id"
	done

	# Keys: offsetctl against the injected ones and against pg_comparator.
	psql -d dst -Atc "SELECT kind || ' ' || id FROM injected" | LC_ALL=C sort >"$work/keys.injected"
	python3 "$here/reconcile/keys.py" offsetctl <"$work/offsetctl_drift.stdout" | LC_ALL=C sort >"$work/keys.offsetctl"
	python3 "$here/reconcile/keys.py" pg_comparator <"$work/pgc_fast.stdout" | LC_ALL=C sort >"$work/keys.pgc_fast"
	python3 "$here/reconcile/keys.py" pg_comparator <"$work/pgc_default.stdout" | LC_ALL=C sort >"$work/keys.pgc_default"
	local same_inj same_pgc equal_found strategy
	same_inj=$(cmp -s "$work/keys.offsetctl" "$work/keys.injected" && echo yes || echo NO)
	same_pgc=$(cmp -s "$work/keys.offsetctl" "$work/keys.pgc_fast" && cmp -s "$work/keys.offsetctl" "$work/keys.pgc_default" && echo yes || echo NO)
	equal_found=$(python3 -c 'import json,sys; r=json.load(sys.stdin)["tables"][0]; print(r["missing_count"]+r["extra_count"]+r["mismatched_count"])' <"$work/offsetctl_equal.stdout")
	strategy=$(python3 -c 'import json,sys; s=json.load(sys.stdin)["tables"][0]["stats"]; print("%s, %d cells, %d differing, %d rows streamed, %d queries" % (s["strategy"], s.get("cells",0), s.get("diff_cells",0), s["rows_streamed"], s["queries"]))' <"$work/offsetctl_drift.stdout")

	local fl
	fl=$(median "$floor" 1)
	local flc
	flc=$(median "$floor" 3)
	row() { # label file note
		local med mn mem cpu
		med=$(median "$2" 1)
		mn=$(minimum "$2" 1)
		mem=$(median "$2" 2)
		cpu=$(median "$2" 3)
		printf '| %s | %s | %s / %s (%s) | %.2f× | %s | %.2f× | %d MiB | %s |\n' "$1" "$n" "$mn" "$med" "$(wc -l <"$2")" "$(echo "$med $fl" | awk '{print $1/$2}')" \
			"$cpu" "$(echo "$cpu $flc" | awk '{print $1/$2}')" "$((mem / 1024))" "$3"
	}
	{
		echo
		echo "### $n rows per side ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$bindir/postgres" --version))"
		echo
		echo "| what | rows/side | wall seconds min / median (runs) | × floor (wall) | CPU seconds, server + client (median) | × floor (CPU) | client max RSS | notes |"
		echo "|---|---|---|---|---|---|---|---|"
		printf '| floor: count(*) + sum(hashtextextended(t::text,0)), both sides at once | %s | %s / %s (%s) | 1.00× | %s | 1.00× | - | two psql sessions |\n' "$n" "$(minimum "$floor" 1)" "$fl" "$(wc -l <"$floor")" "$flc"
		row "offsetctl diff, 0.1 % missing + extra + changed" "$work/offsetctl_drift" "$strategy; keys = injected: $same_inj; keys = pg_comparator's: $same_pgc"
		row "offsetctl diff, same drift, keys listed as by default (--max-keys 1000 per kind)" "$work/offsetctl_default" "counts exact, 3 × 1000 keys listed at most"
		row "offsetctl diff, no difference" "$work/offsetctl_equal" "differences reported: $equal_found"
		row "offsetctl diff --parallel 2, 0.1 % drift" "$work/offsetctl_parallel" "2 parallel workers per side besides the backend"
		row "pg_comparator (default)" "$work/pgc_default" "$(wc -l <"$work/keys.pgc_default") keys"
		row "pg_comparator --use-key --cf=fnv" "$work/pgc_fast" "$(wc -l <"$work/keys.pgc_fast") keys"
	}
}

echo "## offsetctl diff vs floor vs pg_comparator"
echo
echo "Cluster: fsync=off, shared_buffers=2GB, work_mem=256MB, max_parallel_workers_per_gather=2; source and sink are two databases of one cluster on this machine, so \"both sides at once\" share its cores."
for n in $SIZES; do
	bench_size "$n"
done
