package sourcedb

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
)

// binlogPos is the server's current binlog file and position and its GTID
// state, as a Debezium MariaDB offset would hold them.
func binlogPos(t *testing.T, db *sql.DB) (file string, pos int64, gtids string) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatal("SHOW MASTER STATUS: no binlog")
	}
	dst := []any{&file, &pos}
	for range cols[2:] {
		dst = append(dst, new(sql.RawBytes))
	}
	if err := rows.Scan(dst...); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&gtids); err != nil {
		t.Fatal(err)
	}
	return file, pos, gtids
}

// TestObserveMariaDBPurged: a real MariaDB (binlog on, ROW). A position
// whose file PURGE BINARY LOGS TO removed is refused with the file named; a
// GTID the server never wrote is refused; a position still there passes,
// and its GTIDs too.
func TestObserveMariaDBPurged(t *testing.T) {
	u := mariadbtest.NewDB(t)
	db := mariadbtest.DB(t, u)
	ctx := context.Background()
	mariadbtest.Exec(t, u, "CREATE TABLE customers (id int PRIMARY KEY, email varchar(100)); INSERT INTO customers VALUES (1, 'a@example.com')")
	oldFile, oldPos, oldGTIDs := binlogPos(t, db)
	for range 2 {
		mariadbtest.Exec(t, u, "FLUSH BINARY LOGS; INSERT INTO customers VALUES (FLOOR(RAND()*1000000)+2, 'b@example.com')")
	}
	keptFile, keptPos, keptGTIDs := binlogPos(t, db)
	mariadbtest.PurgeBinaryLogsTo(t, u, keptFile)
	obs, err := ObserveMySQL(ctx, db, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if obs.Flavor != FlavorMariaDB || obs.BinlogFormat != "ROW" || obs.BinlogRowImage != "FULL" || !obs.LogBin || obs.Files[0].Name != keptFile || obs.GTIDBinlogState == "" {
		t.Fatalf("observation %+v", obs)
	}
	t.Logf("observed %+v", obs)

	fs := JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: oldFile, Pos: oldPos})
	if got := codes(fs, SeverityError); got != "binlog_purged" {
		t.Fatalf("errors %q, want binlog_purged: %+v", got, fs)
	}
	if msg := finding(t, fs, "binlog_purged").Message; !strings.Contains(msg, oldFile) || !strings.Contains(msg, keptFile) {
		t.Errorf("the message names neither %s nor %s: %s", oldFile, keptFile, msg)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: keptGTIDs})
	if got := codes(fs, SeverityError) + codes(fs, SeverityWarning); got != "" {
		t.Fatalf("a position still there: %q %+v", got, fs)
	}
	// The GTIDs of the purged position are older than the oldest file.
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: oldGTIDs})
	if got := codes(fs, SeverityError); got != "gtid_purged" {
		t.Errorf("GTIDs %s below %s (start of %s): errors %q, want gtid_purged: %+v", oldGTIDs, obs.GTIDStart, keptFile, got, fs)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: "0-1-999999999"})
	if got := codes(fs, SeverityError); got != "gtid_not_in_server_state" {
		t.Errorf("a GTID ahead of the server: errors %q: %+v", got, fs)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: "7-1-1"})
	if got := codes(fs, SeverityError); got != "gtid_not_in_server_state" {
		t.Errorf("a domain the server never wrote: errors %q: %+v", got, fs)
	}
}
