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
#   - pg_comparator (Debian's postgresql-comparator, 2.3.2) in its
#     MySQL-to-PostgreSQL mode, when PGCMP_SRC names pg_comparator's
#     sources of the same version (git clone https://github.com/zx80/pg_comparator,
#     commit 01cd47b, v2.3.2): its MariaDB functions (mysql_casts.c, mysql_checksum.c;
#     Debian ships none) are compiled here against libmariadb-dev and
#     loaded from a plugin_dir the throwaway MariaDB is started with. The
#     sink side is read through a view whose updated_at is MariaDB's text
#     of a TIMESTAMP(6) (pg_comparator compares column texts, and
#     timestamptz::text carries "+00"). Otherwise one line says it was not run.
#   - the servers' CPU seconds spent on each of these (mariadbd, and the
#     PostgreSQL cluster's processes with their reaped parallel workers):
#     on a loaded machine a steadier measure than wall time.
# It checks offsetctl's and pg_comparator's keys against the injected ones.
# Ratios are to the slower side's floor of the same run.
#
# Environment: SIZES, RUNS (default 3; 1 above 2M rows), KEEP=1, OFFSETCTL,
# PGCMP_SRC.
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
	plugin=()
	if [[ -n "${PGCMP_SRC:-}" ]]; then
		# pg_comparator's MariaDB functions, built for the throwaway server.
		command -v mariadb_config >/dev/null || die "PGCMP_SRC: mariadb_config is missing: apt-get install -y libmariadb-dev (as root)"
		command -v pg_comparator >/dev/null || die "PGCMP_SRC: pg_comparator is missing: apt-get install -y postgresql-comparator (as root)"
		PGCMP_PLUGIN_DIR=$(mktemp -d /tmp/offsetctl-bench-pgcmp-XXXXXX)
		chmod 755 "$PGCMP_PLUGIN_DIR"
		for f in mysql_casts mysql_checksum; do
			# The client headers lack the server's longlong and ulonglong.
			gcc -O2 -fPIC -shared -include stdint.h -D'longlong=long long' -D'ulonglong=unsigned long long' \
				$(mariadb_config --cflags) -o "$PGCMP_PLUGIN_DIR/$f.so" "$PGCMP_SRC/$f.c" || die "PGCMP_SRC: cannot compile $PGCMP_SRC/$f.c"
			chmod 644 "$PGCMP_PLUGIN_DIR/$f.so"
		done
		export PGCMP_PLUGIN_DIR
		plugin=(--setting "plugin_dir=$PGCMP_PLUGIN_DIR")
	fi
	exec go run "$root/internal/tools/withmariadb" --setting innodb_buffer_pool_size=3G --setting max_allowed_packet=256M "${plugin[@]}" -- bash "$0" "$@"
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
		[[ -z "${PGCMP_PLUGIN_DIR:-}" ]] || rm -rf "$PGCMP_PLUGIN_DIR"
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

# servercpu: CPU seconds used so far by mariadbd and by the PostgreSQL
# cluster (the postmaster's live children, and the reaped ones, parallel
# workers among them, through the postmaster's cutime).
servercpu() {
	local mpid ppid
	mpid=$(cat "$MARIADB_DIR"/*.pid 2>/dev/null | head -1)
	[[ -n "$mpid" ]] || mpid=$(pgrep -f "mariadbd.*$MARIADB_DIR" | head -1)
	ppid=$(head -1 "$dir/data/postmaster.pid")
	{
		awk '{print "my", $14 + $15}' "/proc/$mpid/stat"
		awk '{print "pg", $14 + $15 + $16 + $17}' "/proc/$ppid/stat"
		for c in $(pgrep -P "$ppid"); do awk '{print "pg", $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
	} | awk -v hz="$(getconf CLK_TCK)" '{t[$1] += $2} END {printf "%.2f %.2f\n", t["my"] / hz, t["pg"] / hz}'
}
cpudelta() { echo "$1 $2" | awk '{printf "%.2f %.2f", $3 - $1, $4 - $2}'; }

# timed OUT CMD...: wall seconds, client max RSS (KiB) and the servers' CPU
# seconds (MariaDB, PostgreSQL) appended to OUT; stdout to OUT.stdout.
# offsetctl diff exits 2 on drift: success here.
timed() {
	local out=$1 c0
	shift
	c0=$(servercpu)
	/usr/bin/time -f '%e %M' -o "$out.time" "$@" >"$out.stdout" 2>"$out.stderr" || {
		local rc=$?
		[[ $rc -eq 2 && "$1" == "$OFFSETCTL" ]] || { cat "$out.stderr" >&2; return $rc; }
	}
	echo "$(tail -1 "$out.time") $(cpudelta "$c0" "$(servercpu)")" >>"$out"
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
floors() { # prints: mariadb-alone pg-alone both-at-once mariadb-cpu pg-cpu
	local a b t0 t1 c0 c1 c2
	c0=$(servercpu)
	a=$(wall my src -Ne "$myfloor")
	c1=$(servercpu)
	b=$(wall psql -d dst -Atc "$pgfloor")
	c2=$(servercpu)
	t0=$(date +%s.%N)
	my src -Ne "$myfloor" >/dev/null &
	local p1=$!
	psql -d dst -Atc "$pgfloor" >/dev/null &
	local p2=$!
	wait $p1
	wait $p2
	t1=$(date +%s.%N)
	echo "$a $b $t0 $t1 $(cpudelta "$c0" "$c1") $(cpudelta "$c1" "$c2")" | awk '{printf "%s %s %.3f %s %s\n", $1, $2, $4 - $3, $5, $8}'
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
	if [[ -n "${PGCMP_PLUGIN_DIR:-}" ]]; then
		my src <"$PGCMP_SRC/mysql_casts.sql" >/dev/null
		my src <"$PGCMP_SRC/mysql_checksum.sql" >/dev/null
		for db in dst same; do
			psql -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pgcmp" \
				-c "CREATE VIEW customers_v AS SELECT id, name, email, balance, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS updated_at, meta FROM customers"
		done
	fi
	log "size $n: dataset built in $((SECONDS - t0)) s"
	floors >/dev/null # warm-up

	for name in floor drift equal pgc_drift pgc_equal; do : >"$work/$name"; done
	local cols="id:name,email,balance,updated_at,meta"
	for _ in $(seq "$runs"); do
		floors >>"$work/floor"
		timed "$work/drift" "$OFFSETCTL" diff --source "$myurl" --sink "$(pgurl dst)" --table customers -json --max-keys 1000000
		timed "$work/equal" "$OFFSETCTL" diff --source "$myurl" --sink "$(pgurl same)" --table customers -json
		if [[ -n "${PGCMP_PLUGIN_DIR:-}" ]]; then
			timed "$work/pgc_drift" pg_comparator "mysql://root@127.0.0.1:$MARIADB_PORT/src/customers?$cols" "pgsql://postgres@127.0.0.1:$port/dst/customers_v?$cols"
			timed "$work/pgc_equal" pg_comparator "mysql://root@127.0.0.1:$MARIADB_PORT/src/customers?$cols" "pgsql://postgres@127.0.0.1:$port/same/customers_v?$cols"
		fi
	done
	psql -d dst -Atc "SELECT kind || ' ' || id FROM injected" | LC_ALL=C sort >"$work/keys.injected"
	python3 "$here/reconcile/keys.py" offsetctl <"$work/drift.stdout" | LC_ALL=C sort >"$work/keys.offsetctl"
	local same_inj equal_found strategy
	same_inj=$(cmp -s "$work/keys.offsetctl" "$work/keys.injected" && echo yes || echo NO)
	equal_found=$(python3 -c 'import json,sys; r=json.load(sys.stdin)["tables"][0]; print(r["missing_count"]+r["extra_count"]+r["mismatched_count"])' <"$work/equal.stdout")
	strategy=$(python3 -c 'import json,sys; s=json.load(sys.stdin)["tables"][0]["stats"]; print("%s, %d cells, %d differing, %d rows streamed, %d queries" % (s["strategy"], s.get("cells",0), s.get("diff_cells",0), s["rows_streamed"], s["queries"]))' <"$work/drift.stdout")
	local fa fb fboth slow cpua cpub
	fa=$(median "$work/floor" 1)
	fb=$(median "$work/floor" 2)
	fboth=$(median "$work/floor" 3)
	cpua=$(median "$work/floor" 4)
	cpub=$(median "$work/floor" 5)
	slow=$(echo "$fa $fb" | awk '{print ($1 > $2) ? $1 : $2}')
	row() {
		local med mn mem ca cb
		med=$(median "$2" 1)
		mn=$(minimum "$2" 1)
		mem=$(median "$2" 2)
		ca=$(median "$2" 3)
		cb=$(median "$2" 4)
		printf '| %s | %s | %s / %s (%s) | %.2f× | %.2f× | %d MiB | %s / %s (%.2f× / %.2f×) | %s |\n' "$1" "$n" "$mn" "$med" "$(wc -l <"$2")" \
			"$(echo "$med $slow" | awk '{print $1/$2}')" "$(echo "$med $fboth" | awk '{print $1/$2}')" "$((mem / 1024))" \
			"$ca" "$cb" "$(echo "$ca $cpua" | awk '{print $1/$2}')" "$(echo "$cb $cpub" | awk '{print $1/$2}')" "$3"
	}
	{
		echo
		echo "### $n rows per side ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(my -Ne 'SELECT @@version'), $("$bindir/postgres" --version))"
		echo
		echo "| what | rows/side | wall seconds min / median (runs) | × slower side's floor | × both floors at once | client max RSS | server CPU s MariaDB / PostgreSQL (× its floor's) | notes |"
		echo "|---|---|---|---|---|---|---|---|"
		printf '| floor, MariaDB alone: COUNT(*) + SUM(CRC32(CONCAT_WS(...))) | %s | %s / %s (%s) | | | - | %s / - | one thread (MariaDB has no parallel query) |\n' "$n" "$(minimum "$work/floor" 1)" "$fa" "$(wc -l <"$work/floor")" "$cpua"
		printf '| floor, PostgreSQL alone: count(*) + sum(hashtextextended(t::text,0)) | %s | %s / %s (%s) | | | - | - / %s | 2 parallel workers |\n' "$n" "$(minimum "$work/floor" 2)" "$fb" "$(wc -l <"$work/floor")" "$cpub"
		printf '| floor, both at once | %s | %s / %s (%s) | %.2f× | 1.00× | - | | |\n' "$n" "$(minimum "$work/floor" 3)" "$fboth" "$(wc -l <"$work/floor")" "$(echo "$fboth $slow" | awk '{print $1/$2}')"
		row "offsetctl diff, 0.1 % missing + extra + changed" "$work/drift" "$strategy; keys = injected: $same_inj"
		row "offsetctl diff, no difference" "$work/equal" "differences found: $equal_found"
		if [[ -n "${PGCMP_PLUGIN_DIR:-}" ]]; then
			python3 "$here/reconcile/keys.py" pg_comparator <"$work/pgc_drift.stdout" | LC_ALL=C sort >"$work/keys.pgc"
			local pgc_inj pgc_equal
			pgc_inj=$(cmp -s "$work/keys.pgc" "$work/keys.injected" && echo yes || echo NO)
			pgc_equal=$(python3 "$here/reconcile/keys.py" pg_comparator <"$work/pgc_equal.stdout" | wc -l)
			row "pg_comparator 2.3.2 (MySQL to PostgreSQL, defaults: ck checksums, sum), 0.1 % drift" "$work/pgc_drift" "keys = injected: $pgc_inj"
			row "pg_comparator 2.3.2, no difference" "$work/pgc_equal" "differences found: $pgc_equal"
		else
			echo "| pg_comparator (MySQL to PostgreSQL) | $n | not run | | | | | needs its MariaDB functions (mysql_casts.c, mysql_checksum.c; Debian ships none): set PGCMP_SRC to its v2.3.2 sources |"
		fi
	} 
}

echo "## offsetctl diff, MariaDB source against its PostgreSQL sink"
for n in $SIZES; do bench_size "$n"; done
