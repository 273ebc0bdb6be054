package sourcedb

import "testing"

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
