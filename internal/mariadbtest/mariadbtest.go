// Package mariadbtest gives tests a real MariaDB: a database of their own,
// created for the test and dropped when it ends; and, opt-in, a database on
// a real MySQL (NewMySQLDB, when OFFSETCTL_MYSQL_URL names a server).
//
// Which server: the one OFFSETCTL_MARIADB_URL names (a mysql:// URL without
// a database) when it is set; otherwise a throwaway server started from
// Debian's mariadb-server package (internal/mariadbcluster) the first time a
// test of the binary asks for a database, and stopped when the binary
// exits. One server per test binary, and none for a binary whose selected
// tests never ask.
//
// A package that uses mariadbtest calls Main from its TestMain (it may
// combine it with pgtest's; see Run):
//
//	func TestMain(m *testing.M) { mariadbtest.Main(m) }
//
// Nothing is skipped silently: when no server can be had, the tests fail with
// the command that fixes it.
package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/offsetctl/offsetctl/internal/mariadbcluster"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
)

// server is this test binary's one server, started on first use. It is the
// one piece of package state: a test binary has exactly one server.
var (
	once     sync.Once
	admin    string // mysql:// URL without a database
	setupErr error
	cluster  *mariadbcluster.Cluster
	mainRan  atomic.Bool
	counter  atomic.Int64
)

// Main runs the tests and stops the server if one was started.
func Main(m *testing.M) { os.Exit(Run(m.Run)) }

// Run runs run (a TestMain's m.Run, or pgtest's wrapped one) and stops the
// server afterwards; it returns run's exit code.
func Run(run func() int) int {
	mainRan.Store(true)
	code := run()
	if cluster != nil {
		cluster.Stop()
	}
	return code
}

// ServerURL returns the admin URL (mysql://, no database) of the server.
func ServerURL(t testing.TB) string {
	t.Helper()
	if !mainRan.Load() {
		t.Fatal("mariadbtest: call mariadbtest.Main(m) (or Run) from this package's TestMain")
	}
	once.Do(func() {
		if u := os.Getenv("OFFSETCTL_MARIADB_URL"); u != "" {
			admin = u
			if db, err := mysqlurl.Open(context.Background(), u, mysqlurl.Options{}); err != nil {
				setupErr = fmt.Errorf("the MariaDB named by OFFSETCTL_MARIADB_URL does not answer: %w (unset it to let the tests start a throwaway server)", err)
			} else {
				db.Close()
			}
			return
		}
		cluster, setupErr = mariadbcluster.Start(context.Background(), mariadbcluster.Options{})
		if setupErr != nil {
			setupErr = fmt.Errorf("%w (make test installs the %s package when it runs as root: scripts/ensure-mariadb.sh)", setupErr, mariadbcluster.DebianPackage)
			return
		}
		admin = cluster.URL("")
	})
	if setupErr != nil {
		t.Fatalf("mariadbtest: no MariaDB for the tests: %v", setupErr)
	}
	return admin
}

var binlogName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDB creates an empty database (utf8mb4) for the test and returns its
// mysql:// URL. The database is dropped when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	return NewNamedDB(t, dbName(t))
}

// dbName is a database name of the test's own: its name, the process and
// a counter.
func dbName(t testing.TB) string {
	name := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t_%s_%d_%d", name, os.Getpid(), counter.Add(1))
}

// NewNamedDB is NewDB with a name of the caller's choosing, for output that
// shows it (goldens). It fails when the database exists: tests that use one
// name must not run in parallel.
func NewNamedDB(t testing.TB, name string) string {
	t.Helper()
	return newDBOn(t, ServerURL(t), name, " COLLATE utf8mb4_unicode_ci")
}

// MySQLEnv names the environment variable of the opt-in MySQL tests: the
// root URL (mysql://, no database) of a throwaway MySQL server they may
// create databases and users on. No test tier runs MySQL
// (internal/tools/recordmysql/mysqld-sid.sh starts one from Debian's
// packages); tests that need it are skipped when it is not set.
const MySQLEnv = "OFFSETCTL_MYSQL_URL"

// NewMySQLDB is NewDB on the MySQL server MySQLEnv names, in the server's
// default utf8mb4 collation (utf8mb4_0900_ai_ci on MySQL 8+); the test is
// skipped when MySQLEnv is not set.
func NewMySQLDB(t testing.TB) string {
	t.Helper()
	return NewNamedMySQLDB(t, dbName(t))
}

// NewNamedMySQLDB is NewNamedDB on the MySQL server MySQLEnv names; the
// test is skipped when MySQLEnv is not set.
func NewNamedMySQLDB(t testing.TB, name string) string {
	t.Helper()
	return newDBOn(t, MySQLServerURL(t), name, "")
}

// MySQLServerURL is the root URL of the opt-in MySQL server MySQLEnv
// names; the test is skipped when MySQLEnv is not set.
func MySQLServerURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(MySQLEnv)
	if base == "" {
		t.Skip(MySQLEnv + " is not set (a throwaway MySQL server's root URL; internal/tools/recordmysql/mysqld-sid.sh starts one)")
	}
	return base
}

// SourceDB is a new database of the test's own on MySQL (mysql: the
// opt-in server, NewMySQLDB) or MariaDB (NewDB), for the tests written
// once for both engines; name, when given, names it.
func SourceDB(t testing.TB, mysql bool, name ...string) string {
	t.Helper()
	n := dbName(t)
	if len(name) > 0 {
		n = name[0]
	}
	if mysql {
		return NewNamedMySQLDB(t, n)
	}
	return NewNamedDB(t, n)
}

// Seq is a FROM item holding the integers 1 to n in a column seq, for
// test data: MariaDB's sequence engine (seq_1_to_N); on MySQL, which has
// none, five digits crossed (n at most 100,000).
func Seq(mysql bool, n int) string {
	if !mysql {
		return fmt.Sprintf("seq_1_to_%d", n)
	}
	d := "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	return fmt.Sprintf("(SELECT d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 10000 * d5.d + 1 AS seq FROM %s d1, %s d2, %s d3, %s d4, %s d5 HAVING seq <= %d) AS seqs", d, d, d, d, d, n)
}

// newDBOn creates database name (utf8mb4, collation clause collate) on the
// server of the admin URL base, dropped when the test ends.
func newDBOn(t testing.TB, base, name, collate string) string {
	t.Helper()
	db := open(t, base)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"+collate); err != nil {
		t.Fatalf("mariadbtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Logf("mariadbtest: dropping %s: %v", name, err)
		}
	})
	return strings.TrimSuffix(base, "/") + "/" + name
}

func open(t testing.TB, u string) *sql.DB {
	t.Helper()
	cfg, err := mysqlurl.Parse(u, mysqlurl.Options{})
	if err != nil {
		t.Fatalf("mariadbtest: %v", err)
	}
	cfg.MultiStatements = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("mariadbtest: %v", err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

// DB opens a pool on a mysql:// URL (statements may be several, separated
// by ';'), closed when the test ends.
func DB(t testing.TB, u string) *sql.DB {
	t.Helper()
	return open(t, u)
}

// Exec runs SQL statements on u and fails the test on error.
func Exec(t testing.TB, u string, query string, args ...any) {
	t.Helper()
	if _, err := DB(t, u).ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("mariadbtest: %v\nSQL: %s", err, query)
	}
}

// PurgeBinaryLogsTo runs PURGE BINARY LOGS TO file on the server of u until
// file is the oldest binlog file left. MariaDB keeps a file the InnoDB
// binlog checkpoint still needs (it says nothing and purges less), and the
// checkpoint follows commits by up to a second, so the purge is repeated
// until it has happened (at most a minute).
func PurgeBinaryLogsTo(t testing.TB, u, file string) {
	t.Helper()
	db := DB(t, u)
	ctx := context.Background()
	if !binlogName.MatchString(file) {
		t.Fatalf("mariadbtest: %q is not a binlog file name", file)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		// PURGE takes no placeholder: the name is checked above.
		if _, err := db.ExecContext(ctx, "PURGE BINARY LOGS TO '"+file+"'"); err != nil {
			t.Fatalf("mariadbtest: PURGE BINARY LOGS TO %s: %v", file, err)
		}
		var first string
		var size int64
		rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
		if err != nil {
			t.Fatalf("mariadbtest: SHOW BINARY LOGS: %v", err)
		}
		if rows.Next() {
			err = rows.Scan(&first, &size)
		}
		rows.Close()
		if err != nil {
			t.Fatalf("mariadbtest: SHOW BINARY LOGS: %v", err)
		}
		if first == file {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbtest: PURGE BINARY LOGS TO %s left %s in place for a minute (the binlog checkpoint did not advance)", file, first)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BinlogPosition returns the server's current binlog file and position
// (SHOW MASTER STATUS) and its GTID position (@@gtid_binlog_pos), as a
// Debezium MariaDB offset would hold them there.
func BinlogPosition(t testing.TB, u string) (file string, pos int64, gtids string) {
	t.Helper()
	ctx := context.Background()
	db := DB(t, u)
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		t.Fatalf("mariadbtest: SHOW MASTER STATUS: %v", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		t.Fatalf("mariadbtest: SHOW MASTER STATUS: no binlog (%v)", err)
	}
	dst := []any{&file, &pos}
	for range cols[2:] {
		dst = append(dst, new(sql.RawBytes))
	}
	if err := rows.Scan(dst...); err != nil {
		t.Fatalf("mariadbtest: SHOW MASTER STATUS: %v", err)
	}
	rows.Close()
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&gtids); err != nil {
		t.Fatalf("mariadbtest: @@gtid_binlog_pos: %v", err)
	}
	return file, pos, gtids
}

// BinlogStatus returns the current binlog file and position of the server
// of u: SHOW MASTER STATUS on MariaDB, SHOW BINARY LOG STATUS on MySQL
// (8.2+; 8.4 and 9.x know no other).
func BinlogStatus(t testing.TB, u string, mysql bool) (file string, pos int64) {
	t.Helper()
	q := "SHOW MASTER STATUS"
	if mysql {
		q = "SHOW BINARY LOG STATUS"
	}
	rows, err := DB(t, u).QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("mariadbtest: %s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		t.Fatalf("mariadbtest: %s: no binlog (%v)", q, err)
	}
	dst := []any{&file, &pos}
	for range cols[2:] {
		dst = append(dst, new(sql.RawBytes))
	}
	if err := rows.Scan(dst...); err != nil {
		t.Fatalf("mariadbtest: %s: %v", q, err)
	}
	return file, pos
}
