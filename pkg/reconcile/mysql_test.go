package reconcile

import (
	"context"
	"database/sql"
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
func TestMySQLSessionIsAReadOnlySnapshot(t *testing.T) {
	ctx := context.Background()
	u := mariadbtest.NewDB(t)
	mariadbtest.Exec(t, u, "CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1)")
	db := openMySQL(t, u)
	x, err := beginMySQL(ctx, db, "source", &Spec{StatementTimeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer x.end(ctx)
	if !x.mariadb {
		t.Errorf("version %q not recognised as MariaDB", x.version)
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
	if err := x.conn.QueryRowContext(ctx, "SELECT @@session.time_zone, @@session.max_statement_time").Scan(&tz, &timeout); err != nil {
		t.Fatal(err)
	}
	if tz != "+00:00" || !strings.HasPrefix(timeout, "90") {
		t.Errorf("time_zone %s, max_statement_time %s; want +00:00, 90", tz, timeout)
	}
	if _, err := x.conn.ExecContext(ctx, "INSERT INTO t VALUES (3)"); err == nil || !strings.Contains(err.Error(), "READ ONLY") {
		t.Errorf("a write in the comparison's transaction: %v, want it refused as READ ONLY", err)
	}
}
