package reconcile

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
)

func openMySQL(t *testing.T, u string) *sql.DB {
	t.Helper()
	db, err := mysqlurl.Open(context.Background(), u, mysqlurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A MariaDB side reads one consistent snapshot, cannot write, and runs in
// UTC with a statement timeout.
func TestMySQLSessionIsAReadOnlySnapshot(t *testing.T) { testSessionIsAReadOnlySnapshot(t, onMariaDB) }

// TestMySQLSessionIsAReadOnlySnapshotOnMySQL: the same on MySQL, whose
// session differs (no TIME_ROUND_FRACTIONAL, max_execution_time in
// milliseconds); a user without REPLICATION CLIENT gets a comparison
// whose position is unknown, and says why.
func TestMySQLSessionIsAReadOnlySnapshotOnMySQL(t *testing.T) {
	testSessionIsAReadOnlySnapshot(t, onMySQL)
}

func testSessionIsAReadOnlySnapshot(t *testing.T, src xsource) {
	ctx := context.Background()
	u := src.newDB(t)
	mariadbtest.Exec(t, u, "CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1)")
	db := openMySQL(t, u)
	x, err := beginMySQL(ctx, db, "source", &Spec{StatementTimeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer x.end(ctx)
	if x.mariadb == src.mysql {
		t.Errorf("version %q not recognised as %s", x.version, src.name)
	}
	// A row committed after the snapshot began is not seen.
	mariadbtest.Exec(t, u, "INSERT INTO t VALUES (2)")
	var n int
	if err := x.conn.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the snapshot sees %d rows, want 1 (the row inserted after it began must be invisible)", n)
	}
	var tz, timeout string
	q, want := "SELECT @@session.time_zone, @@session.max_statement_time", "90"
	if src.mysql {
		q, want = "SELECT @@session.time_zone, CONCAT(@@session.max_execution_time, ' ', @@session.information_schema_stats_expiry)", "90000 0"
	}
	if err := x.conn.QueryRowContext(ctx, q).Scan(&tz, &timeout); err != nil {
		t.Fatal(err)
	}
	if tz != "+00:00" || !strings.HasPrefix(timeout, want) {
		t.Errorf("%s: %s, %s; want +00:00, %s", q, tz, timeout, want)
	}
	if !x.pos.Known() || x.pos.Unknown != "" {
		t.Errorf("as root, the position %+v is not known", x.pos)
	}
	if _, err := x.conn.ExecContext(ctx, "INSERT INTO t VALUES (3)"); err == nil || !strings.Contains(err.Error(), "READ ONLY") {
		t.Errorf("a write in the comparison's transaction: %v, want it refused as READ ONLY", err)
	}
	if !src.mysql {
		return
	}
	// MySQL says where its binlog stands only to REPLICATION CLIENT.
	user := fmt.Sprintf("offsetctl_norc_%d", time.Now().UnixNano()%1e9)
	mariadbtest.Exec(t, u, "CREATE USER "+user+"@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO "+user+"@'%'")
	t.Cleanup(func() { mariadbtest.Exec(t, u, "DROP USER "+user+"@'%'") })
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pu.User = url.UserPassword(user, "pw")
	y, err := beginMySQL(ctx, openMySQL(t, pu.String()), "source", &Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer y.end(ctx)
	if y.pos.Known() || !strings.Contains(y.pos.Unknown, "REPLICATION CLIENT") {
		t.Errorf("without REPLICATION CLIENT: position %+v; want it unknown, saying REPLICATION CLIENT", y.pos)
	}
}
