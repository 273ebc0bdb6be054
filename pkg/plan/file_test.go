package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/offsetctl/offsetctl/pkg/schemahistory"
	"github.com/offsetctl/offsetctl/pkg/sourcedb"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPlanFileRoundTrip(t *testing.T) {
	p := fixturePlan()
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read("plan.json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	again, err := Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Fatalf("round trip changed the file:\n%s\n---\n%s", data, again)
	}
	if !strings.Contains(string(data), `"lsn": 9223372036854775807`) && !strings.Contains(string(data), `"lsn":9223372036854775807`) {
		t.Fatalf("64-bit LSN not kept exactly:\n%s", data)
	}
	if !reflect.DeepEqual(back.Timestamps, p.Timestamps) {
		t.Fatalf("timestamp lookups: %v, want %v", back.Timestamps, p.Timestamps)
	}
	if got := back.Restores["backups/inventory.json"]; got == nil || got.Source["inventory-postgres-source"][0].Offset.String() != `{"lsn":36965000,"txId":640}` ||
		string(got.Source["inventory-postgres-source"][0].Key) != `["inventory-postgres-source",{"server":"dbserver1"}]` || got.Sink["orders-sink"][0].Committed != 5 {
		t.Fatalf("restore files: %+v", back.Restores)
	}
	if !reflect.DeepEqual(back.Operations[0].Changes[0].Source.After.String(), `{"lsn":36965936,"txId":649}`) {
		t.Fatalf("after = %s", back.Operations[0].Changes[0].Source.After)
	}
}

func TestPlanFileIsDeterministic(t *testing.T) {
	a, _ := Marshal(fixturePlan())
	b, _ := Marshal(fixturePlan())
	if !bytes.Equal(a, b) {
		t.Fatal("two marshals of the same plan differ")
	}
	if !bytes.HasSuffix(a, []byte("}\n")) {
		t.Fatal("no trailing newline")
	}
}

func TestPlanFileRefusals(t *testing.T) {
	good, err := Marshal(fixturePlan())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"tampered offset", strings.Replace(string(good), "36965936", "36965937", 1), "modified after it was written"},
		{"tampered reason", strings.Replace(string(good), `"INC-1"`, `"INC-2"`, 1), "modified after it was written"},
		{"future version", strings.Replace(string(good), `"format_version": 3`, `"format_version": 4`, 1), "format_version 4 (written by offsetctl 0.1.0-test)"},
		// Version 1 did not record the lookups apply needs to compute the
		// operations again.
		{"version 1", strings.Replace(string(good), `"format_version": 3`, `"format_version": 1`, 1), "has plan format_version 1 (written by offsetctl 0.1.0-test); this offsetctl reads format_version 3"},
		// Version 2 had no risk classes for policies to judge.
		{"version 2", strings.Replace(string(good), `"format_version": 3`, `"format_version": 2`, 1), "has plan format_version 2 (written by offsetctl 0.1.0-test); this offsetctl reads format_version 3"},
		{"no version", strings.Replace(string(good), `"format_version": 3,`, ``, 1), "has no format_version"},
		{"unknown field", strings.Replace(string(good), `"format_version": 3,`, `"format_version": 3, "surprise": true,`, 1), "unknown field"},
		{"unknown risk class", rehash(t, strings.Replace(string(good), `"class": "replay"`, `"class": "meh"`, 1)), `the risk class "meh", which this offsetctl does not know`},
		{"timestamp lookup twice", rehash(t, strings.Replace(string(good), `"timestamp_lookups": [`, `"timestamp_lookups": [{"topic": "orders", "partition": 0, "at_ms": 1763632800000, "offset": 31},`, 1)), "timestamp_lookups holds orders[0] at 1763632800000 twice"},
		{"truncated", string(good[:len(good)/2]), "not JSON"},
		{"empty", "", "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read("plan.json", strings.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	_, err = Read("p", strings.NewReader(strings.Replace(string(good), "36965936", "36965937", 1)))
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("tampering is not ErrHashMismatch: %v", err)
	}
}

func TestWriteFileIsAtomicAndReadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	if err := WriteFile(path, fixturePlan()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// rehash gives an edited plan file the hash of its new content, as someone
// editing it by hand would.
func rehash(t *testing.T, data string) string {
	t.Helper()
	var w planV1
	if err := json.Unmarshal([]byte(data), &w); err != nil {
		t.Fatal(err)
	}
	w.Hash = ""
	canon, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canon)
	return strings.Replace(data, hashOf(t, data), "sha256:"+hex.EncodeToString(sum[:]), 1)
}

func hashOf(t *testing.T, data string) string {
	t.Helper()
	var h struct {
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal([]byte(data), &h); err != nil {
		t.Fatal(err)
	}
	return h.Hash
}

// Risks and the policy result survive the round trip exactly.
func TestPlanFileKeepsRisksAndPolicy(t *testing.T) {
	p := fixturePlan()
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read("plan.json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Operations {
		if d := diffRisks(p.Operations[i].Risks, back.Operations[i].Risks); d != "" {
			t.Errorf("%s: %s", p.Operations[i].Address, d)
		}
	}
	if d := diffPolicy(p.Policy, back.Policy); d != "" {
		t.Error(d)
	}
	if back.HighestRisk() != RiskSkip || !strings.Contains(string(data), `"highest_risk": "skip"`) {
		t.Errorf("highest risk %q in\n%s", back.HighestRisk(), data)
	}
}

// TestPlanFileKeepsTheSourceDatabase: what planning read from a source
// database (the slot, the publication, or the error that kept them from
// being read) survives the file, is valid against the published schema, and
// a file that holds neither or both is refused.
func TestPlanFileKeepsTheSourceDatabase(t *testing.T) {
	size := int64(1 << 30)
	read := &SourceDBObservation{Database: "database.source", FlushMode: "manual", Tables: []string{"public.customers"},
		Postgres: &sourcedb.PostgresObservation{ObservedAt: time.Date(2026, 11, 20, 14, 30, 0, 123000000, time.UTC), ServerVersion: 150018, CurrentLSN: 5000,
			Slot:        sourcedb.PostgresSlot{Name: "debezium", Exists: true, Plugin: "pgoutput", Database: "shop", Active: true, ActivePID: 42, RestartLSN: 1000, ConfirmedFlushLSN: 2000, WALStatus: "reserved", SafeWALSize: &size},
			Publication: sourcedb.Publication{Name: "dbz_publication", Exists: true, Tables: []string{"public.customers"}}}}
	failed := &SourceDBObservation{Database: "database.source", Error: "connecting to the source database: connection refused"}
	mariadb := &SourceDBObservation{Database: "database.mariadb", Tables: []string{"shop.customers"},
		Binlog: &sourcedb.BinlogObservation{ObservedAt: time.Date(2026, 11, 20, 14, 30, 0, 123000000, time.UTC), Flavor: sourcedb.FlavorMariaDB, Version: "10.11.19-MariaDB-log",
			LogBin: true, BinlogFormat: "ROW", BinlogRowImage: "FULL", Files: []sourcedb.BinlogFile{{Name: "binlog.000003", Size: 684}},
			GTIDBinlogState: "0-1-5", GTIDStart: "0-1-4", RetentionSeconds: 86400}}
	mysql := &SourceDBObservation{Database: "database.mysql",
		Binlog: &sourcedb.BinlogObservation{ObservedAt: time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC), Flavor: sourcedb.FlavorMySQL, Version: "8.0.36",
			LogBin: true, BinlogFormat: "ROW", BinlogRowImage: "FULL",
			GTIDMode: "ON", GTIDExecuted: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-120", GTIDPurged: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-40"}}
	s := compileSchema(t)
	for _, sd := range []*SourceDBObservation{read, failed, mariadb, mysql} {
		p := fixturePlan()
		p.Connectors[0].SourceDB = sd
		data, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(decodeJSON(t, data)); err != nil {
			t.Fatalf("schema: %v", err)
		}
		back, err := Read("plan.json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(sd, back.Connectors[0].SourceDB, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip (-want +got):\n%s", d)
		}
	}
	p := fixturePlan()
	p.Connectors[0].SourceDB = &SourceDBObservation{Database: "database.source"}
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read("plan.json", bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), "source_database holds either") {
		t.Fatalf("a source_database with neither what was read nor an error: %v", err)
	}
	both := *read
	both.Binlog = mariadb.Binlog
	p.Connectors[0].SourceDB = &both
	if data, err = Marshal(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Read("plan.json", bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), "source_database holds either") {
		t.Fatalf("a source_database with a slot and a binlog: %v", err)
	}
}

// TestPlanFileKeepsTheSchemaHistory: what planning read from a schema
// history topic, and an observation that could not be read, round trip
// through the plan file and its schema; the log start time of a trimmed
// partition and a sink's auto.offset.reset too. A schema history with both
// records and an error is refused.
func TestPlanFileKeepsTheSchemaHistory(t *testing.T) {
	read := &SchemaHistoryObservation{Topic: "schemahistory.shop", Server: "shop", Read: 40, Records: []schemahistory.Record{
		{Offset: 0, Server: "shop", File: "mysql-bin.000003", Pos: 100, Snapshot: true, Database: "shop", DDL: "CREATE TABLE customers (id INT PRIMARY KEY)"},
		{Offset: 39, Server: "shop", File: "mysql-bin.000004", Pos: 200, DDL: "ALTER TABLE customers ADD COLUMN phone VARCHAR(32)"},
	}}
	// A SQL Server connector's: LSN positions, the snapshot's change_lsn
	// NULL, a source database.
	lsn := &SchemaHistoryObservation{Topic: "schemahistory.mssql", Server: "shop", Read: 2, Records: []schemahistory.Record{
		{Offset: 0, Server: "shop", SourceDatabase: "testDB", ChangeLSN: "NULL", CommitLSN: "0000002a:00000010:0001", Snapshot: true, Database: "testDB", DDL: `CREATE "testDB"."dbo"."customers"`},
		{Offset: 1, Server: "shop", SourceDatabase: "testDB", ChangeLSN: "0000002a:00000150:0002", CommitLSN: "0000002a:00000150:0004", EventSerialNo: 3, Database: "testDB", DDL: `ALTER "testDB"."dbo"."customers"`},
	}}
	failed := &SchemaHistoryObservation{Topic: "schemahistory.shop", Server: "shop", Error: "reading the end of the schema history topic: UNKNOWN_TOPIC_OR_PARTITION"}
	s := compileSchema(t)
	for _, sh := range []*SchemaHistoryObservation{read, lsn, failed} {
		p := fixturePlan()
		p.Connectors[0].SchemaHistory = sh
		p.Connectors[0].AutoOffsetReset = "latest"
		p.Connectors[0].Sink = []SinkPartition{{Topic: "orders", Partition: 0, Committed: 50, LogStart: 30, LogEnd: 100, LogStartMillis: 1795170600000}}
		data, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(decodeJSON(t, data)); err != nil {
			t.Fatalf("schema: %v", err)
		}
		back, err := Read("plan.json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(p.Connectors[0], back.Connectors[0], cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip (-want +got):\n%s", d)
		}
	}
	p := fixturePlan()
	bad := *read
	bad.Error = "both"
	p.Connectors[0].SchemaHistory = &bad
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read("plan.json", bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), "schema_history holds either") {
		t.Fatalf("a schema history with records and an error: %v", err)
	}
	// A record with neither a binlog file nor an LSN cannot be ordered.
	p = fixturePlan()
	p.Connectors[0].SchemaHistory = &SchemaHistoryObservation{Topic: "t", Server: "shop", Records: []schemahistory.Record{{Offset: 4, DDL: "x"}}}
	if data, err = Marshal(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Read("plan.json", bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), "record at offset 4 has no position") {
		t.Fatalf("a record without a position: %v", err)
	}
}

// TestPlanFileKeepsTheEvidence: a connector's evidence from Connect's
// internal topics (optional) survives the round trip, validates against
// the schema, and a plan without it reads as before.
func TestPlanFileKeepsTheEvidence(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 12, 1, 10, m, 0, 123000000, time.UTC) }
	s := compileSchema(t)
	for _, ev := range []*Evidence{
		nil,
		{ExactlyOnce: "the config topic holds a task-count record", Created: at(1), NewestOffset: at(2), StoppedAt: at(3),
			LateWrites: []string{"connect-offsets[3]@17 at 2026-12-01T10:05:00Z"}, GroupMembers: []string{"c-0 (m-1) on /10.0.0.1"}},
		{ConfigTopicError: "topic \"connect-configs\" does not exist"},
	} {
		p := fixturePlan()
		p.Connectors[0].Evidence = ev
		data, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(decodeJSON(t, data)); err != nil {
			t.Fatalf("schema: %v", err)
		}
		if ev == nil && strings.Contains(string(data), `"evidence"`) {
			t.Fatal("a plan without evidence writes an evidence field")
		}
		back, err := Read("plan.json", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ev, back.Connectors[0].Evidence, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip (-want +got):\n%s", d)
		}
	}
}
