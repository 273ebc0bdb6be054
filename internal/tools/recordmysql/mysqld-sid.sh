#!/bin/sh
# mysqld-sid.sh runs Debian sid's MySQL server (mysql-server-core) from a
# directory, without installing it: sid's binaries need a newer glibc than
# the machine may have, so they run under sid's own loader and libraries.
# It is how pkg/sourcedb/testdata/mysql was recorded (see its README).
#
#   mysqld-sid.sh fetch                 resolve mysql-server-core's Depends in sid's
#                                       Packages index, download the .debs, extract
#                                       them into $DIR/root
#   mysqld-sid.sh init NAME             a fresh data directory $DIR/data-NAME
#   mysqld-sid.sh start NAME PORT ARGS  start mysqld on it (127.0.0.1:PORT, socket
#                                       $DIR/NAME.sock, binlog on, server-id 1),
#                                       ARGS added; waits until it answers
#   mysqld-sid.sh stop NAME             shut it down
#
# DIR is $MYSQLD_SID_DIR, /tmp/mysqlsid by default; MIRROR is
# $DEBIAN_MIRROR, http://deb.debian.org/debian by default.
set -eu
DIR=${MYSQLD_SID_DIR:-/tmp/mysqlsid}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
R=$DIR/root
LIBS=$R/usr/lib/x86_64-linux-gnu

run() { nice "$LIBS/ld-linux-x86-64.so.2" --library-path "$LIBS" "$@"; }

common() {
	echo --no-defaults --user=root --datadir="$DIR/data-$1" --basedir="$R/usr" \
		--lc-messages-dir="$R/usr/share/mysql" --plugin-dir="$R/usr/lib/mysql/plugin"
}

# deps prints the Filename of each package the named ones need, recursively:
# the first alternative of each Depends/Pre-Depends, virtual packages through
# Provides; packages only maintainer scripts or the mysql client need are
# left out.
deps() {
	awk -v want="$*" '
	function flush() {
		if (pkg != "" && (arch == "amd64" || arch == "all") && !(pkg in file)) {
			file[pkg] = fn; dep[pkg] = d
			n = split(prov, ps, /, */)
			for (i = 1; i <= n; i++) { split(ps[i], w, " "); if (w[1] != "" && !(w[1] in provider)) provider[w[1]] = pkg }
		}
		pkg = ""; arch = ""; fn = ""; d = ""; prov = ""
	}
	/^$/ { flush(); next }
	/^Package: / { pkg = $2 }
	/^Architecture: / { arch = $2 }
	/^Filename: / { fn = $2 }
	/^Provides: / { prov = substr($0, 11) }
	/^(Pre-)?Depends: / { x = $0; sub(/^[^:]*: /, "", x); d = (d == "" ? x : d ", " x) }
	END {
		flush()
		skip["perl"]; skip["debconf"]; skip["debconf-2.0"]; skip["adduser"]; skip["passwd"]
		skip["init-system-helpers"]; skip["lsb-base"]; skip["mysql-common"]; skip["libc-bin"]
		top = split(want, todo, " ")
		while (top > 0) {
			p = todo[top--]; sub(/:.*/, "", p)
			if ((p in skip) || (p in seen)) continue
			seen[p]
			if (!(p in file)) { if (p in provider) { p = provider[p]; if (p in seen2) continue } else { print "missing: " p > "/dev/stderr"; continue } }
			if (p in seen2) continue
			seen2[p]; print file[p]
			n = split(dep[p], ds, /, */)
			for (i = 1; i <= n; i++) { split(ds[i], alt, /\|/); split(alt[1], w, " "); if (w[1] != "") todo[++top] = w[1] }
		}
	}'
}

case ${1:-} in
fetch)
	mkdir -p "$DIR/debs" "$R"
	cd "$DIR"
	[ -f Packages-sid ] || curl -fsSL "$MIRROR/dists/sid/main/binary-amd64/Packages.xz" | xz -d >Packages-sid
	deps mysql-server-core <Packages-sid >debs.txt
	cd debs
	while read -r f; do
		[ -f "$(basename "$f")" ] || nice curl -fsSLO "$MIRROR/$f"
		nice dpkg-deb -x "$(basename "$f")" "$R"
	done <../debs.txt
	run "$R/usr/sbin/mysqld" --version
	;;
init)
	rm -rf "$DIR/data-$2"
	# shellcheck disable=SC2046
	run "$R/usr/sbin/mysqld" $(common "$2") --initialize-insecure
	;;
start)
	name=$2 port=$3
	shift 3
	mkdir -p "$DIR/files"
	# shellcheck disable=SC2046
	setsid "$LIBS/ld-linux-x86-64.so.2" --library-path "$LIBS" "$R/usr/sbin/mysqld" $(common "$name") \
		--port="$port" --bind-address=127.0.0.1 --socket="$DIR/$name.sock" --mysqlx=OFF \
		--secure-file-priv="$DIR/files" --pid-file="$DIR/$name.pid" --log-error="$DIR/$name.err" \
		--innodb-buffer-pool-size=64M --server-id=1 --log-bin=binlog "$@" >/dev/null 2>&1 &
	for _ in $(seq 60); do
		[ -S "$DIR/$name.sock" ] && grep -q 'ready for connections' "$DIR/$name.err" && exit 0
		sleep 1
	done
	tail "$DIR/$name.err" >&2
	exit 1
	;;
stop)
	kill "$(cat "$DIR/$2.pid")"
	;;
*)
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
