package mariadbtest

import (
	"context"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestNewDBIsEmptyOwnAndLogsRows: two databases are distinct, and the
// server writes a row-format binary log (what Debezium's connectors need).
func TestNewDBIsEmptyOwnAndLogsRows(t *testing.T) {
	a, b := NewDB(t), NewDB(t)
	if a == b {
		t.Fatalf("two databases share a URL: %s", a)
	}
	Exec(t, a, "CREATE TABLE x (id int primary key)")
	var n int
	if err := DB(t, b).QueryRowContext(context.Background(), "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s sees a table made in %s", b, a)
	}
	var logBin, format, serverID string
	if err := DB(t, a).QueryRowContext(context.Background(), "SELECT @@log_bin, @@binlog_format, @@server_id").Scan(&logBin, &format, &serverID); err != nil {
		t.Fatal(err)
	}
	if logBin != "1" || format != "ROW" || serverID != "1" {
		t.Fatalf("log_bin=%s binlog_format=%s server_id=%s, want 1, ROW, 1", logBin, format, serverID)
	}
}
