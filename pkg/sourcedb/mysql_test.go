package sourcedb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
)

// TestObserveMariaDBPurged: a real MariaDB (binlog on, ROW). A position
// whose file PURGE BINARY LOGS TO removed is refused with the file named; a
// GTID the server never wrote is refused; a position still there passes,
// and its GTIDs too.
func TestObserveMariaDBPurged(t *testing.T) {
	u := mariadbtest.NewDB(t)
	db := mariadbtest.DB(t, u)
	ctx := context.Background()
	mariadbtest.Exec(t, u, "CREATE TABLE customers (id int PRIMARY KEY, email varchar(100)); INSERT INTO customers VALUES (1, 'a@example.com')")
	oldFile, oldPos, oldGTIDs := mariadbtest.BinlogPosition(t, u)
	for range 2 {
		mariadbtest.Exec(t, u, "FLUSH BINARY LOGS; INSERT INTO customers VALUES (FLOOR(RAND()*1000000)+2, 'b@example.com')")
	}
	keptFile, keptPos, keptGTIDs := mariadbtest.BinlogPosition(t, u)
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
