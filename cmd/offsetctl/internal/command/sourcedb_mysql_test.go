package command

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
)

// TestPlanChecksTheMySQLBinlog is TestPlanChecksTheBinlog for a Debezium
// MySQL connector whose source_database is a real MySQL server: a rewind
// into a purged binlog file is refused with the file named, GTIDs the
// server never executed are refused, so are offsets whose gtids lack
// transactions the server purged, and a position the server still holds
// plans cleanly. No test tier runs MySQL (Debian has no MySQL server
// package), so it runs only when OFFSETCTL_MYSQL_URL names a throwaway
// MySQL 8.2+ with gtid_mode = ON that it may write to and purge binary logs
// of, as internal/tools/recordmysql/mysqld-sid.sh starts one.
func TestPlanChecksTheMySQLBinlog(t *testing.T) {
	raw := mariadbtest.MySQLServerURL(t)
	ctx := context.Background()
	admin, err := mysqlurl.Open(ctx, raw, mysqlurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	admin.SetMaxOpenConns(1)
	exec := func(q string) {
		t.Helper()
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var uuid string
	if err := admin.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&uuid); err != nil {
		t.Fatal(err)
	}
	name := "offsetctl_plan_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	exec("CREATE DATABASE " + name)
	t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP DATABASE "+name) })
	exec("CREATE TABLE " + name + ".customers (id int PRIMARY KEY, email varchar(100))")
	exec("INSERT INTO " + name + ".customers VALUES (1, 'a@example.com')")
	oldFile, oldPos, _ := mysqlBinlogStatus(t, admin)
	for i := range 2 {
		exec("FLUSH BINARY LOGS")
		exec(fmt.Sprintf("INSERT INTO %s.customers VALUES (%d, 'b@example.com')", name, i+2))
	}
	keptFile, keptPos, keptGTIDs := mysqlBinlogStatus(t, admin)
	last := keptGTIDs[strings.LastIndex(keptGTIDs, "-")+1:] // uuid:1-N
	exec("PURGE BINARY LOGS TO '" + keptFile + "'")
	exec("FLUSH BINARY LOGS")
	exec("INSERT INTO " + name + ".customers VALUES (9, 'c@example.com')")
	newFile, newPos, newGTIDs := mysqlBinlogStatus(t, admin)

	sb, c := startBareSandbox(t, "3.8")
	createConnector(t, c, "inventory", connect.StateStopped, map[string]string{"connector.class": "io.debezium.connector.mysql.MySqlConnector",
		"topic.prefix": "shop", "table.include.list": name + ".customers"})
	now := time.Now().Unix()
	patchOffsets(t, sb.ConnectURL(), "inventory", fmt.Sprintf(`{"offsets":[{"partition":{"server":"shop"},"offset":{"file":%q,"pos":%d,"gtids":%q,"ts_sec":%d}}]}`,
		newFile, newPos, newGTIDs, now))
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	config := func(offset string) string {
		return binlogRewindConfig(sb, "mysql", u.String(), "source_database = database.mysql", offset)
	}
	tests := []struct {
		name   string
		offset string
		code   int
		want   string
	}{
		{"purged file", fmt.Sprintf(`{ file = %q, pos = %d, ts_sec = %d }`, oldFile, oldPos, now), ExitError,
			"error: offsets.rewind: the binlog file " + oldFile + " has been purged from the source server (its oldest is " + keptFile + ")"},
		{"gtids never executed", fmt.Sprintf(`{ file = %q, pos = %d, gtids = %q, ts_sec = %d }`, keptFile, keptPos, uuid+":1-999999", now), ExitError,
			"error: offsets.rewind: the new offset's gtids hold " + uuid + ":"},
		// Only the newest transaction: the older ones, purged, would be sent.
		{"gtids without the purged transactions", fmt.Sprintf(`{ file = %q, pos = %d, gtids = %q, ts_sec = %d }`, keptFile, keptPos, uuid+":"+last, now), ExitError,
			"error: offsets.rewind: the source server has purged " + uuid + ":1-"},
		{"a position still there", fmt.Sprintf(`{ file = %q, pos = %d, gtids = %q, ts_sec = %d }`, keptFile, keptPos, keptGTIDs, now), 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, writeConfig(t, config(tc.offset)), "plan", "-no-color")
			t.Logf("exit %d\n%s\n%s", code, out, errOut)
			if code != tc.code || (tc.want != "" && !strings.Contains(out, tc.want)) || (tc.code == 0 && strings.Contains(out, "error:")) {
				t.Fatalf("exit %d, want %d with %q", code, tc.code, tc.want)
			}
			if !strings.Contains(out, "✓ offsets.rewind: mysql ") || strings.Contains(out, `the binlog of connector "inventory" was not checked`) {
				t.Fatalf("the binlog was not checked")
			}
		})
	}
}

// mysqlBinlogStatus is MySQL's current binlog file, position and executed
// GTID set (SHOW BINARY LOG STATUS, 8.2+).
func mysqlBinlogStatus(t *testing.T, db *sql.DB) (file string, pos int64, gtids string) {
	t.Helper()
	var doDB, ignoreDB string
	if err := db.QueryRow("SHOW BINARY LOG STATUS").Scan(&file, &pos, &doDB, &ignoreDB, &gtids); err != nil {
		t.Fatalf("SHOW BINARY LOG STATUS: %v", err)
	}
	return file, pos, gtids
}
