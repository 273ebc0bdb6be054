package sourcedb

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJudgePostgresTable: each verdict from an observation, without a
// server (the observations a plan records are judged again the same way).
func TestJudgePostgresTable(t *testing.T) {
	base := func() *PostgresObservation {
		return &PostgresObservation{ServerVersion: 150000, CurrentLSN: 5000,
			Slot:        PostgresSlot{Name: "debezium", Exists: true, Plugin: "pgoutput", RestartLSN: 1000, ConfirmedFlushLSN: 2000, WALStatus: "reserved"},
			Publication: Publication{Name: DefaultPublication, Exists: true, AllTables: true}}
	}
	tests := []struct {
		name   string
		obs    func(o *PostgresObservation)
		edit   PostgresEdit
		errors string
		warns  string
	}{
		{"above confirmed", nil, PostgresEdit{Target: 2500, HasTarget: true, ConnectorState: "STOPPED"}, "", ""},
		{"at confirmed", nil, PostgresEdit{Target: 2000, HasTarget: true, ConnectorState: "STOPPED"}, "", ""},
		{"below confirmed", nil, PostgresEdit{Target: 1500, HasTarget: true, ConnectorState: "STOPPED"}, "no_replay_below_slot", ""},
		{"below confirmed, acknowledged", nil, PostgresEdit{Target: 1500, HasTarget: true, ConnectorState: "STOPPED", Acknowledged: []string{"no_replay_below_slot"}}, "", "no_replay_below_slot"},
		{"below restart", nil, PostgresEdit{Target: 999, HasTarget: true, ConnectorState: "STOPPED"}, "below_restart_lsn", ""},
		{"beyond the server", nil, PostgresEdit{Target: 5001, HasTarget: true, ConnectorState: "STOPPED"}, "beyond_current_wal", ""},
		{"no target (resnapshot)", nil, PostgresEdit{ConnectorState: "STOPPED"}, "", ""},
		{"wal lost", func(o *PostgresObservation) { o.Slot.WALStatus = "lost" }, PostgresEdit{Target: 2500, HasTarget: true}, "slot_wal_lost", ""},
		{"wal unreserved", func(o *PostgresObservation) { o.Slot.WALStatus = "unreserved" }, PostgresEdit{Target: 2500, HasTarget: true}, "", "slot_wal_unreserved"},
		{"held while stopped", func(o *PostgresObservation) { o.Slot.Active, o.Slot.ActivePID = true, 42 }, PostgresEdit{Target: 2500, HasTarget: true, ConnectorState: "STOPPED"}, "slot_held_by_other", ""},
		{"held while running", func(o *PostgresObservation) { o.Slot.Active, o.Slot.ActivePID = true, 42 }, PostgresEdit{Target: 2500, HasTarget: true, ConnectorState: "RUNNING"}, "", ""},
		{"no slot", func(o *PostgresObservation) { o.Slot = PostgresSlot{Name: "debezium"} }, PostgresEdit{Target: 2500, HasTarget: true}, "slot_missing", ""},
		{"no publication", func(o *PostgresObservation) { o.Publication = Publication{Name: DefaultPublication} }, PostgresEdit{Target: 2500, HasTarget: true}, "", "publication_missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			if tc.obs != nil {
				tc.obs(o)
			}
			fs := JudgePostgres(o, tc.edit)
			if got := codes(fs, SeverityError); got != tc.errors {
				t.Errorf("errors %q, want %q: %+v", got, tc.errors, fs)
			}
			if got := codes(fs, SeverityWarning); got != tc.warns {
				t.Errorf("warnings %q, want %q: %+v", got, tc.warns, fs)
			}
		})
	}
}

// mysqlAnswers reads MySQL answers (testdata/mysql, see its README).
func mysqlAnswers(t *testing.T, name string) *BinlogAnswers {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "mysql", name))
	if err != nil {
		t.Fatal(err)
	}
	var a BinlogAnswers
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &a
}

// mysqlFixture reads MySQL answers (testdata/mysql, see its README) into
// an observation.
func mysqlFixture(t *testing.T, name string) *BinlogObservation {
	t.Helper()
	obs, err := mysqlAnswers(t, name).Observation()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return obs
}

// TestJudgeBinlogTable: each binlog verdict, for MariaDB (an observation
// as TestObserveMariaDBPurged reads one); TestJudgeBinlogMySQLRecorded has
// them for MySQL.
func TestJudgeBinlogTable(t *testing.T) {
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	hoursAgo := func(h int) int64 { return at.Add(-time.Duration(h) * time.Hour).Unix() }
	mariadb := func() *BinlogObservation {
		return &BinlogObservation{ObservedAt: at, Flavor: FlavorMariaDB, Version: "10.11.19-MariaDB", LogBin: true, BinlogFormat: "ROW", BinlogRowImage: "FULL",
			Files:           []BinlogFile{{"binlog.000003", 5000}, {"binlog.000004", 8000}, {"binlog.000005", 400}},
			GTIDBinlogState: "0-1-90,0-2-95,1-1-7", GTIDStart: "0-1-40,1-1-2", RetentionSeconds: 2 * 86400}
	}
	tests := []struct {
		name   string
		change func(o *BinlogObservation)
		edit   BinlogEdit
		errors string
		warns  string
		text   string // in the message of the first error or warning
	}{
		{name: "mariadb: a file still there", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300}},
		{name: "mariadb: the newest file, at its end", edit: BinlogEdit{HasTarget: true, File: "binlog.000005", Pos: 400}},
		{name: "mariadb: no target (resnapshot)", edit: BinlogEdit{}},
		{name: "mariadb: purged file", edit: BinlogEdit{HasTarget: true, File: "binlog.000002", Pos: 300}, errors: "binlog_purged", text: "binlog.000002 has been purged"},
		{name: "mariadb: a file not written yet", edit: BinlogEdit{HasTarget: true, File: "binlog.000006", Pos: 4}, errors: "beyond_current_binlog"},
		{name: "mariadb: beyond the end of a file", edit: BinlogEdit{HasTarget: true, File: "binlog.000005", Pos: 401}, errors: "beyond_current_binlog"},
		{name: "mariadb: another server's file", edit: BinlogEdit{HasTarget: true, File: "mysql-bin.000004", Pos: 4}, errors: "binlog_unknown_file"},
		{name: "mariadb: gtids in the state", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, GTIDs: "0-1-60,1-1-7"}},
		{name: "mariadb: gtid at the start of the oldest file", edit: BinlogEdit{HasTarget: true, File: "binlog.000003", Pos: 300, GTIDs: "0-1-40"}},
		{name: "mariadb: gtid ahead of the state", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, GTIDs: "0-1-91"}, errors: "gtid_not_in_server_state", text: "0-1-91"},
		{name: "mariadb: gtid of a domain never written", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, GTIDs: "5-1-3"}, errors: "gtid_not_in_server_state"},
		{name: "mariadb: gtid of a server never written", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, GTIDs: "0-9-3"}, errors: "gtid_not_in_server_state"},
		{name: "mariadb: gtid applied as a replica only", change: func(o *BinlogObservation) { o.GTIDSlavePos = "3-7-12" },
			edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, GTIDs: "3-7-12"}, errors: "gtid_not_in_server_state", text: "gtid_slave_pos"},
		{name: "mariadb: gtid purged", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, GTIDs: "0-1-39"}, errors: "gtid_purged", text: "binlog.000003"},
		{name: "mariadb: not a gtid", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, GTIDs: "0-1"}, errors: "gtid_not_in_server_state"},
		{name: "mariadb: retention: 47 hours old of 48", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, TsSec: hoursAgo(47)}, warns: "binlog_retention", text: "1 hours left"},
		{name: "mariadb: retention: past it", edit: BinlogEdit{HasTarget: true, File: "binlog.000003", Pos: 300, TsSec: hoursAgo(50)}, warns: "binlog_retention", text: "0 hours left"},
		{name: "mariadb: retention: 10 hours old of 48", edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, TsSec: hoursAgo(10)}},
		{name: "mariadb: retention: the newest file is not expired", edit: BinlogEdit{HasTarget: true, File: "binlog.000005", Pos: 300, TsSec: hoursAgo(47)}},
		{name: "mariadb: retention: kept forever", change: func(o *BinlogObservation) { o.RetentionSeconds = 0 }, edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300, TsSec: hoursAgo(470)}},
		{name: "mariadb: statement binlog", change: func(o *BinlogObservation) { o.BinlogFormat = "MIXED" }, edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300}, errors: "binlog_format_not_row"},
		{name: "mariadb: minimal row image", change: func(o *BinlogObservation) { o.BinlogRowImage = "MINIMAL" }, edit: BinlogEdit{}, errors: "binlog_row_image_not_full"},
		{name: "mariadb: no binlog", change: func(o *BinlogObservation) { o.LogBin, o.Files = false, nil }, edit: BinlogEdit{HasTarget: true, File: "binlog.000004", Pos: 300}, errors: "binlog_disabled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mariadb()
			if tc.change != nil {
				tc.change(o)
			}
			checkBinlogVerdicts(t, JudgeBinlog(o, tc.edit), tc.errors, tc.warns, tc.text)
		})
	}
}

// checkBinlogVerdicts: the error and warning codes are errors and warns
// (comma-separated), the summary is there and text is in the first
// finding's message.
func checkBinlogVerdicts(t *testing.T, fs []Finding, errors, warns, text string) {
	t.Helper()
	if got := codes(fs, SeverityError); got != errors {
		t.Errorf("errors %q, want %q: %+v", got, errors, fs)
	}
	if got := codes(fs, SeverityWarning); got != warns {
		t.Errorf("warnings %q, want %q: %+v", got, warns, fs)
	}
	if codes(fs, SeverityOK) != "source_binlog" && !slices.Contains(strings.Split(errors, ","), "binlog_disabled") {
		t.Errorf("no source_binlog summary: %+v", fs)
	}
	if text != "" && !strings.Contains(fs[0].Message, text) {
		t.Errorf("%q not in %q", text, fs[0].Message)
	}
}

// TestLogGone: the verdicts that say the source no longer holds a
// position's log, by the codes judges give them.
func TestLogGone(t *testing.T) {
	for code, want := range map[string]bool{
		"below_restart_lsn": true, "slot_wal_lost": true, "slot_missing": true, "binlog_purged": true, "gtid_purged": true, "source_log_gone": true,
		"no_replay_below_slot": false, "beyond_current_wal": false, "slot_held_by_other": false, "slot_wal_unreserved": false, "source_slot": false,
	} {
		if got := LogGone(code); got != want {
			t.Errorf("LogGone(%q) = %v, want %v", code, got, want)
		}
	}
}
