#!/usr/bin/env bash
# bench/reconcile-mariadb.sh — how fast `offsetctl diff` compares a MariaDB
# source table with its PostgreSQL sink, against each side's floor measured
# in the same run, on one throwaway MariaDB server and one throwaway
# PostgreSQL cluster (both on this machine, sharing its cores).
#
# For each size (default 1,000,000 and 10,000,000 rows; SIZES="1000000" to
# choose), it builds customers(id, name, email, balance, updated_at, meta)
# in PostgreSQL (database same: the sink with no difference; database dst:
# the sink with 0.1 % of the rows missing, 0.1 % extra, 0.1 % changed,
# recorded in dst.injected) and loads the same rows into MariaDB (database
# src). Then, per run:
#   - the floor: the cheapest whole-table hash aggregate of each engine,
#     MariaDB SUM(CRC32(CONCAT_WS(...))) and PostgreSQL
#     sum(hashtextextended(t::text, 0)), each alone and both at once;
#   - offsetctl diff --source mysql://.../src --sink .../dst (drift, every
#     key listed) and --sink .../same (no difference): wall seconds and
#     client peak RSS;
#   - pg_comparator in its MySQL-to-PostgreSQL mode, when its MariaDB
#     functions are installed (PGCMP_MYSQL_PLUGIN_DIR names a directory
#     holding pg_comparator's mysql_casts.so and mysql_checksum.so, built
#     from its sources); otherwise one line says it was not run.
# It checks offsetctl's keys against the injected ones. Ratios are to the
# slower side's floor of the same run.
#
# Environment: SIZES, RUNS (default 3; 1 above 2M rows), KEEP=1, OFFSETCTL.
# Run it through `make bench` or as
#   go run ./internal/tools/withmariadb --setting innodb_buffer_pool_size=3G -- bash bench/reconcile-mariadb.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
SIZES=${SIZES:-"1000000 10000000"}
RUNS=${RUNS:-3}
OFFSETCTL=${OFFSETCTL:-}

log() { printf '%s\n' "$*" >&2; }
die() { log "reconcile-mariadb.sh: $*"; exit 1; }

if [[ -z "${MARIADB_PORT:-}" ]]; then
	exec go run "$root/internal/tools/withmariadb" --setting innodb_buffer_pool_size=3G --setting max_allowed_packet=256M -- bash "$0" "$@"
fi
bindir=${OFFSETCTL_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x "$bindir/initdb" ]] || die "no PostgreSQL server binaries: apt-get install -y postgresql (as root)"
command -v /usr/bin/time >/dev/null || die "/usr/bin/time is missing: apt-get install -y time"
if [[ -z "$OFFSETCTL" ]]; then
	log "building offsetctl"
	(cd "$root" && go build -o bin/offsetctl ./cmd/offsetctl) || die "cannot build offsetctl"
	OFFSETCTL=$root/bin/offsetctl
fi
my() { mariadb --no-defaults -uroot -h127.0.0.1 -P"$MARIADB_PORT" "$@"; }

# --- PostgreSQL cluster --------------------------------------------------------
port=${PORT:-25540}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || ss -tan | awk '{print $4}' | grep -q ":$port\$"; do port=$((port + 1)); done
dir=$(mktemp -d /tmp/offsetctl-bench-XXXXXX)
chmod 755 "$dir"
asuser=()
if [[ $(id -u) -eq 0 ]]; then
	chown postgres: "$dir"
	asuser=(runuser -u postgres --)
fi
cleanup() {
	if [[ -z "${KEEP:-}" ]]; then
		"${asuser[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
log "starting PostgreSQL ($bindir) on 127.0.0.1:$port in $dir; MariaDB on 127.0.0.1:$MARIADB_PORT"
"${asuser[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${asuser[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=2GB -c work_mem=256MB -c max_parallel_workers_per_gather=2 -c max_wal_size=8GB -c checkpoint_timeout=30min" start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
unset PGDATABASE PGPASSWORD PGSERVICE
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
pgurl() { echo "postgres://postgres@127.0.0.1:$port/$1?sslmode=disable"; }
myurl="mysql://root@127.0.0.1:$MARIADB_PORT/src?ssl-mode=DISABLED"

# timed OUT CMD...: wall seconds and client max RSS (KiB) appended to OUT;
# stdout to OUT.stdout. offsetctl diff exits 2 on drift: success here.
timed() {
	local out=$1
	shift
	/usr/bin/time -f '%e %M' -o "$out.time" "$@" >"$out.stdout" 2>"$out.stderr" || {
		local rc=$?
		[[ $rc -eq 2 && "$1" == "$OFFSETCTL" ]] || { cat "$out.stderr" >&2; return $rc; }
	}
	tail -1 "$out.time" >>"$out"
}
wall() { # CMD...: prints the wall seconds of CMD
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
minimum() { awk -v c="$2" '{print $c}' "$1" | sort -g | head -1; }

myfloor="SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', id, name, email, balance, updated_at, meta))) FROM customers"
pgfloor="SELECT count(*), sum(hashtextextended(t::text, 0)) FROM customers t"
floors() { # prints: mariadb-alone pg-alone both-at-once
	local a b t0 t1
	a=$(wall my src -Ne "$myfloor")
	b=$(wall psql -d dst -Atc "$pgfloor")
	t0=$(date +%s.%N)
	my src -Ne "$myfloor" >/dev/null &
	local p1=$!
	psql -d dst -Atc "$pgfloor" >/dev/null &
	local p2=$!
	wait $p1
	wait $p2
	t1=$(date +%s.%N)
	echo "$a $b $t0 $t1" | awk '{printf "%s %s %.3f\n", $1, $2, $4 - $3}'
}

bench_size() {
	local n=$1 k=$(( $1 / 1000 )) work="$dir/n$1" runs=$RUNS
	(( n > 2000000 )) && runs=1
	mkdir -p "$work"
	chmod 777 "$work"
	log "size $n: building the dataset"
	local t0=$SECONDS
	psql -d postgres -c "DROP DATABASE IF EXISTS dst" -c "DROP DATABASE IF EXISTS same" -c "CREATE DATABASE same"
	psql -d same -f "$here/reconcile-mariadb/dataset.sql" -v n="$n" >/dev/null
	psql -d same -c "\\copy (SELECT id, name, email, balance, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), meta FROM customers ORDER BY id) TO '$work/customers.tsv'"
	chmod 644 "$work/customers.tsv"
	my -e "DROP DATABASE IF EXISTS src; CREATE DATABASE src CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	my src -e "SET time_zone = '+00:00'; CREATE TABLE customers (id bigint NOT NULL PRIMARY KEY, name varchar(100), email varchar(100), balance decimal(12,2), updated_at timestamp(6) NULL, meta json);
		LOAD DATA INFILE '$work/customers.tsv' INTO TABLE customers; ANALYZE TABLE customers" >/dev/null
	rm -f "$work/customers.tsv"
	psql -d postgres -c "CREATE DATABASE dst TEMPLATE same"
	psql -d dst -f "$here/reconcile/perturb.sql" -v k="$k" >/dev/null 2>&1 || psql -d dst -f "$here/reconcile/perturb.sql" -v k="$k"
	for db in dst same; do psql -d "$db" -c "VACUUM ANALYZE"; done
	log "size $n: dataset built in $((SECONDS - t0)) s"
	floors >/dev/null # warm-up

	for name in floor drift equal; do : >"$work/$name"; done
	for _ in $(seq "$runs"); do
		floors >>"$work/floor"
		timed "$work/drift" "$OFFSETCTL" diff --source "$myurl" --sink "$(pgurl dst)" --table customers -json --max-keys 1000000
		timed "$work/equal" "$OFFSETCTL" diff --source "$myurl" --sink "$(pgurl same)" --table customers -json
	done
	psql -d dst -Atc "SELECT kind || ' ' || id FROM injected" | LC_ALL=C sort >"$work/keys.injected"
	python3 "$here/reconcile/keys.py" offsetctl <"$work/drift.stdout" | LC_ALL=C sort >"$work/keys.offsetctl"
	local same_inj equal_found strategy
	same_inj=$(cmp -s "$work/keys.offsetctl" "$work/keys.injected" && echo yes || echo NO)
	equal_found=$(python3 -c 'import json,sys; r=json.load(sys.stdin)["tables"][0]; print(r["missing_count"]+r["extra_count"]+r["mismatched_count"])' <"$work/equal.stdout")
	strategy=$(python3 -c 'import json,sys; s=json.load(sys.stdin)["tables"][0]["stats"]; print("%s, %d cells, %d differing, %d rows streamed, %d queries" % (s["strategy"], s.get("cells",0), s.get("diff_cells",0), s["rows_streamed"], s["queries"]))' <"$work/drift.stdout")
	local fa fb fboth slow
	fa=$(median "$work/floor" 1)
	fb=$(median "$work/floor" 2)
	fboth=$(median "$work/floor" 3)
	slow=$(echo "$fa $fb" | awk '{print ($1 > $2) ? $1 : $2}')
	row() {
		local med mn mem
		med=$(median "$2" 1)
		mn=$(minimum "$2" 1)
		mem=$(median "$2" 2)
		printf '| %s | %s | %s / %s (%s) | %.2f× | %.2f× | %d MiB | %s |\n' "$1" "$n" "$mn" "$med" "$(wc -l <"$2")" \
			"$(echo "$med $slow" | awk '{print $1/$2}')" "$(echo "$med $fboth" | awk '{print $1/$2}')" "$((mem / 1024))" "$3"
	}
	{
		echo
		echo "### $n rows per side ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(my -Ne 'SELECT @@version'), $("$bindir/postgres" --version))"
		echo
		echo "| what | rows/side | wall seconds min / median (runs) | × slower side's floor | × both floors at once | client max RSS | notes |"
		echo "|---|---|---|---|---|---|---|"
		printf '| floor, MariaDB alone: COUNT(*) + SUM(CRC32(CONCAT_WS(...))) | %s | %s / %s (%s) | | | - | one thread (MariaDB has no parallel query) |\n' "$n" "$(minimum "$work/floor" 1)" "$fa" "$(wc -l <"$work/floor")"
		printf '| floor, PostgreSQL alone: count(*) + sum(hashtextextended(t::text,0)) | %s | %s / %s (%s) | | | - | 2 parallel workers |\n' "$n" "$(minimum "$work/floor" 2)" "$fb" "$(wc -l <"$work/floor")"
		printf '| floor, both at once | %s | %s / %s (%s) | %.2f× | 1.00× | - | |\n' "$n" "$(minimum "$work/floor" 3)" "$fboth" "$(wc -l <"$work/floor")" "$(echo "$fboth $slow" | awk '{print $1/$2}')"
		row "offsetctl diff, 0.1 % missing + extra + changed" "$work/drift" "$strategy; keys = injected: $same_inj"
		row "offsetctl diff, no difference" "$work/equal" "differences found: $equal_found"
		if [[ -n "${PGCMP_MYSQL_PLUGIN_DIR:-}" ]]; then
			echo "| pg_comparator (MySQL to PostgreSQL) | $n | not automated yet | | | | |"
		else
			echo "| pg_comparator (MySQL to PostgreSQL) | $n | not run | | | | needs its MariaDB functions (mysql_casts.so, mysql_checksum.so, built from its sources; Debian ships none): set PGCMP_MYSQL_PLUGIN_DIR |"
		fi
	} 
}

echo "## offsetctl diff, MariaDB source against its PostgreSQL sink"
for n in $SIZES; do bench_size "$n"; done
