package command

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// TestPlanChecksTheBinlog: a Debezium MariaDB connector (STOPPED, with a
// stored offset) whose source_database is a real MariaDB. After PURGE
// BINARY LOGS TO past an old position, a plan that sets the offset back to
// it is refused with the purged file named; a GTID the server never wrote
// is refused; a target in a file near the end of the server's retention is
// a warning with the hours left; without source_database the plan says the
// binlog was not checked.
func TestPlanChecksTheBinlog(t *testing.T) {
	sb, c := startBareSandbox(t, "3.8")
	u := mariadbtest.NewDB(t)
	mariadbtest.Exec(t, u, "CREATE TABLE customers (id int PRIMARY KEY, email varchar(100)); INSERT INTO customers VALUES (1, 'a@example.com')")
	oldFile, oldPos, _ := mariadbtest.BinlogPosition(t, u)
	for i := range 2 {
		mariadbtest.Exec(t, u, fmt.Sprintf("FLUSH BINARY LOGS; INSERT INTO customers VALUES (%d, 'b@example.com')", i+2))
	}
	keptFile, keptPos, keptGTIDs := mariadbtest.BinlogPosition(t, u)
	mariadbtest.PurgeBinaryLogsTo(t, u, keptFile)
	// The kept file is no longer the newest, so that retention applies to it.
	mariadbtest.Exec(t, u, "FLUSH BINARY LOGS; INSERT INTO customers VALUES (9, 'c@example.com')")

	createConnector(t, c, "inventory", connect.StateStopped, map[string]string{"connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
		"topic.prefix": "shop", "table.include.list": "shop.customers"})
	patchOffsets(t, sb.ConnectURL(), "inventory", fmt.Sprintf(`{"offsets":[{"partition":{"server":"shop"},"offset":{"file":%q,"pos":%d,"gtids":%q,"ts_sec":%d}}]}`,
		keptFile, keptPos, keptGTIDs, time.Now().Unix()))

	dbURL := u
	config := func(sourceDatabase, offset string) string {
		return binlogRewindConfig(sb, "mariadb", dbURL, sourceDatabase, offset)
	}
	plan := func(name, body string) (int, string) {
		t.Helper()
		code, out, errOut := runCLI(t, writeConfig(t, body), "plan", "-no-color")
		t.Logf("%s: exit %d\n%s\n%s", name, code, out, errOut)
		return code, out
	}
	now := time.Now().Unix()

	code, out := plan("purged file", config("source_database = database.mariadb", fmt.Sprintf(`{ file = %q, pos = %d, ts_sec = %d }`, oldFile, oldPos, now)))
	if code != ExitError || !strings.Contains(out, "error: offsets.rewind: the binlog file "+oldFile+" has been purged from the source server (its oldest is "+keptFile+")") ||
		!strings.Contains(out, "mariadb 10.") {
		t.Fatalf("a rewind into a purged binlog file was not refused with the file named: exit %d", code)
	}
	code, out = plan("gtid not on the server", config("source_database = database.mariadb", fmt.Sprintf(`{ file = %q, pos = %d, gtids = "0-1-999999", ts_sec = %d }`, keptFile, keptPos, now)))
	if code != ExitError || !strings.Contains(out, "error: offsets.rewind: the GTID 0-1-999999 is not in the source server's binlog state") {
		t.Fatalf("a GTID the server never wrote was not refused: exit %d", code)
	}
	code, out = plan("a position still there", config("source_database = database.mariadb", fmt.Sprintf(`{ file = %q, pos = %d, gtids = %q, ts_sec = %d }`, keptFile, keptPos, keptGTIDs, now)))
	if code != 0 || strings.Contains(out, "error:") || strings.Contains(out, "binlog_retention") {
		t.Fatalf("a position still on the server: exit %d", code)
	}
	db := mariadbtest.DB(t, mariadbtest.ServerURL(t))
	if _, err := db.Exec("SET GLOBAL expire_logs_days = 1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec("SET GLOBAL expire_logs_days = 0") })
	code, out = plan("retention", config("source_database = database.mariadb", fmt.Sprintf(`{ file = %q, pos = %d, gtids = %q, ts_sec = %d }`, keptFile, keptPos, keptGTIDs, now-19*3600-1800)))
	if code != 0 || !strings.Contains(out, "warning: offsets.rewind: the binlog file "+keptFile+" holds events 19 hours old and the server keeps binlogs 24 hours (expire_logs_days = 1): 4 hours left") {
		t.Fatalf("a target near the end of retention: exit %d", code)
	}
	dbURL = "postgres://postgres@127.0.0.1:1/shop"
	code, out = plan("a PostgreSQL source_database", config("source_database = database.mariadb", fmt.Sprintf(`{ file = %q, pos = %d, ts_sec = %d }`, oldFile, oldPos, now)))
	if code != 0 || !strings.Contains(out, `warning: offsets.rewind: the binlog of connector "inventory" was not checked: database.mariadb could not be read (database.mariadb is not a MariaDB/MySQL database`) {
		t.Fatalf("a source_database that is not MariaDB/MySQL: exit %d", code)
	}
	code, out = plan("no source_database", config("", fmt.Sprintf(`{ file = %q, pos = %d, ts_sec = %d }`, oldFile, oldPos, now)))
	if code != 0 || !strings.Contains(out, "add source_database = database.NAME (its MariaDB/MySQL server) to connector.source") {
		t.Fatalf("without source_database: exit %d", code)
	}
	// A stored position in a purged file, moved to one the server holds:
	// the changes in between are lost, and the edit would hide it.
	dbURL = u
	patchOffsets(t, sb.ConnectURL(), "inventory", fmt.Sprintf(`{"offsets":[{"partition":{"server":"shop"},"offset":{"file":%q,"pos":%d,"ts_sec":%d}}]}`, oldFile, oldPos, now))
	code, out = plan("off a purged position", config("source_database = database.mariadb", fmt.Sprintf(`{ file = %q, pos = %d, gtids = %q, ts_sec = %d }`, keptFile, keptPos, keptGTIDs, now)))
	if code != ExitError || !strings.Contains(out, fmt.Sprintf("error: offsets.rewind: partition {\"server\":\"shop\"}: the source no longer holds the log at the stored position %s:%d (binlog_purged)", oldFile, oldPos)) {
		t.Fatalf("moving off a purged position was not refused as hiding the loss: exit %d", code)
	}
}

// binlogRewindConfig is the configuration of the binlog tests: connector
// "inventory" of the sandbox (with sourceDatabase, such as
// "source_database = database.NAME", among its attributes), a database
// block NAME at dbURL, and an offsets block moving the partition of
// server "shop" to offset.
func binlogRewindConfig(sb *sandbox.Sandbox, name, dbURL, sourceDatabase, offset string) string {
	return fmt.Sprintf(`connect "sandbox" {
  url = %q
}

kafka "sandbox" {
  brokers = [%q]
}

database %q {
  url = %q
}

connector "source" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "inventory"
  %s
}

offsets "rewind" {
  connector = connector.source
  reason    = "INC-7: replay the customers of yesterday"

  source_partition {
    partition = { server = "shop" }
    offset    = %s
  }
}
`, sb.ConnectURL(), sb.BootstrapServers()[0], name, dbURL, sourceDatabase, offset)
}
