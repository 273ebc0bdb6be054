package schemahistory

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/config"
)

func record(server, file string, pos int64, snapshot bool, ddl string) string {
	snap := ""
	if snapshot {
		snap = `,"snapshot":true`
	}
	return fmt.Sprintf(`{"source":{"server":%q},"position":{"ts_sec":1700000000,"file":%q,"pos":%d%s},"ts_ms":1700000000000,"databaseName":"shop","ddl":%q,"tableChanges":[]}`,
		server, file, pos, snap, ddl)
}

// history starts a Kafka (franz-go's kfake, over the real protocol) with a
// schema history topic as Debezium writes it: a schema snapshot, then DDLs.
func history(t *testing.T, values ...string) *kgo.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "schemahistory.shop"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "schemahistory.shop", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return cl
}

func pos(t *testing.T, file string, p int64) Position {
	t.Helper()
	x, err := ParsePosition(file, p)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestReadAndJudge(t *testing.T) {
	cl := history(t,
		record("shop", "mysql-bin.000003", 100, true, "CREATE TABLE customers (id INT PRIMARY KEY)"),
		record("other", "mysql-bin.000001", 5, false, "CREATE TABLE x (id INT)"),
		record("shop", "mysql-bin.000003", 900, false, "ALTER TABLE customers ADD COLUMN email VARCHAR(255)"),
		record("shop", "mysql-bin.000004", 200, false, "ALTER TABLE customers ADD COLUMN phone VARCHAR(32)"),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := Read(ctx, cl, "schemahistory.shop", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Offset != 0 || recs[2].Offset != 3 || !recs[0].Snapshot || recs[2].File != "mysql-bin.000004" {
		t.Fatalf("read %+v", recs)
	}
	tests := []struct {
		name           string
		stored, target Position
		ack            []string
		want           string // codes with severities, in order
	}{
		{"rewind within the history", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000003", 500), nil, "error:ddl_after_target"},
		{"rewind within the history, acknowledged", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000003", 500), []string{config.AckRewindBeforeDDL}, "warning:ddl_after_target"},
		{"rewind within the history, the other acknowledgement", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000003", 500), []string{config.AckSchemaHistory}, "error:ddl_after_target"},
		{"rewind past every DDL", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000004", 300), nil, ""},
		{"rewind before the history", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000002", 4), nil, "error:before_schema_history"},
		{"before the history, acknowledged", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000002", 4), []string{config.AckSchemaHistory}, "warning:before_schema_history"},
		{"jump forward", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000009", 4), nil, "warning:ddl_skipped_forward"},
		{"no target", pos(t, "mysql-bin.000004", 500), nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := judged(t, recs, tc.stored, tc.target, tc.ack, tc.want)
			// The summary a plan keeps gives the same findings.
			if sum := Judge(Summary(recs), tc.stored, tc.target, tc.ack); fmt.Sprint(sum) != fmt.Sprint(fs) {
				t.Errorf("on the summary %+v\nfindings %+v\nwant      %+v", Summary(recs), sum, fs)
			}
			for _, f := range fs {
				if f.Code == "ddl_after_target" && !strings.Contains(f.Message, "mysql-bin.000004:200 (schema history offset 3): ALTER TABLE customers ADD COLUMN phone") {
					t.Errorf("ddl_after_target does not name the latest DDL: %s", f.Message)
				}
				if f.Code == "ddl_after_target" && tc.ack == nil && !strings.Contains(f.Message, `acknowledge = ["rewind_before_ddl"] once the consumers can take them`) {
					t.Errorf("ddl_after_target does not say how to acknowledge it: %s", f.Message)
				}
				if f.Code == "before_schema_history" && !strings.Contains(f.Message, "mysql-bin.000003:100, offset 0, written by a schema snapshot") {
					t.Errorf("before_schema_history does not name the first record: %s", f.Message)
				}
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, bad := range []string{`not json`, `{"ddl":"x"}`, `[]`} {
		if _, err := Decode(7, []byte(bad)); err == nil || !strings.Contains(err.Error(), "offset 7") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
	if _, err := ParsePosition("binlog", 4); err == nil {
		t.Error("a file without a sequence number ordered")
	}
	cl := history(t, `{"oops":1}`)
	if _, err := Read(context.Background(), cl, "schemahistory.shop", "shop"); err == nil || !strings.Contains(err.Error(), "not a Debezium schema history record") {
		t.Fatalf("a foreign topic: %v", err)
	}
	empty := history(t)
	recs, err := Read(context.Background(), empty, "schemahistory.shop", "shop")
	if err != nil || recs != nil {
		t.Fatalf("an empty topic: %v %v", recs, err)
	}
	if fs := Judge(nil, nil, pos(t, "mysql-bin.000001", 4), nil); len(fs) != 1 || fs[0].Code != "schema_history_empty" {
		t.Fatalf("no history: %+v", fs)
	}
}

// sqlserverRecord is a history record as Debezium's SQL Server connector
// writes it: source {server, database}, position with commit_lsn,
// change_lsn (null or "NULL" in a snapshot), event_serial_no, no DDL text
// ("N/A" while streaming) and the table changes.
func sqlserverRecord(database, position, ddl, change string) string {
	return fmt.Sprintf(`{"source":{"server":"shop","database":%q},"position":%s,"ts_ms":1700000000000,"databaseName":%q,"schemaName":"dbo","ddl":%s,"tableChanges":[{"type":%q,"id":"\"%s\".\"dbo\".\"customers\"","table":{"defaultCharsetName":null,"primaryKeyColumnNames":["id"],"columns":[]}}]}`,
		database, position, database, ddl, change, database)
}

func lsnPos(t *testing.T, change, commit string) Position {
	t.Helper()
	p, err := ParseLSNPosition(change, commit, 1)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSQLServerOrder(t *testing.T) {
	// Debezium's order: change_lsn alone, NULL below every LSN, byte-wise
	// (upper-case hexadecimal reads the same).
	tests := []struct {
		a, b   Position
		before bool
	}{
		{lsnPos(t, "00000027:00000758:0003", "00000027:00000758:0005"), lsnPos(t, "00000027:00000758:0004", "00000027:00000758:0005"), true},
		{lsnPos(t, "00000027:00000758:0004", "00000027:00000758:0005"), lsnPos(t, "00000027:00000758:0003", "00000027:00000758:0005"), false},
		{lsnPos(t, "00000027:00000758:0003", "00000027:00000800:0001"), lsnPos(t, "00000027:00000758:0003", "00000027:00000758:0003"), false}, // commit_lsn plays no part
		{lsnPos(t, "NULL", "00000030:00000000:0001"), lsnPos(t, "00000001:00000000:0001", "00000001:00000000:0001"), true},
		{lsnPos(t, "", "00000030:00000000:0001"), lsnPos(t, "NULL", "00000001:00000000:0001"), false},
		{lsnPos(t, "0000000A:000000FF:0001", "0000000a:000000ff:0001"), lsnPos(t, "0000000a:00000100:0001", "0000000a:00000100:0001"), true},
		{lsnPos(t, "ff000000:00000000:0000", ""), lsnPos(t, "0f000000:00000000:0000", ""), false}, // unsigned bytes
		{lsnPos(t, "00000001:00000000:0001", ""), pos(t, "mysql-bin.000001", 4), false},           // kinds are not ordered
	}
	for i, tc := range tests {
		if got := tc.a.Before(tc.b); got != tc.before {
			t.Errorf("%d: %s before %s = %v, want %v", i, tc.a, tc.b, got, tc.before)
		}
	}
	if _, err := ParseLSNPosition("27:758:3", "", 0); err == nil {
		t.Error("a short LSN parsed")
	}
}

func TestSQLServerJudge(t *testing.T) {
	cl := history(t,
		// The initial snapshot at commit_lsn 25:100:1, change_lsn NULL
		// (written as null by one version, "NULL" by another).
		sqlserverRecord("testDB", `{"commit_lsn":"00000025:00000100:0001","change_lsn":null,"snapshot":true,"snapshot_completed":false}`, `null`, "CREATE"),
		sqlserverRecord("testDB", `{"commit_lsn":"00000025:00000100:0001","change_lsn":"NULL","snapshot":true,"snapshot_completed":false}`, `null`, "CREATE"),
		// Another database of the same connector, streamed later.
		sqlserverRecord("otherDB", `{"commit_lsn":"00000029:00000010:0002","change_lsn":"00000029:00000010:0001","event_serial_no":1}`, `"N/A"`, "ALTER"),
		// Two schema changes read while streaming.
		sqlserverRecord("testDB", `{"commit_lsn":"00000027:00000758:0005","change_lsn":"00000027:00000758:0003","event_serial_no":2}`, `"N/A"`, "ALTER"),
		sqlserverRecord("testDB", `{"commit_lsn":"00000028:00000200:0004","change_lsn":"00000028:00000200:0002","event_serial_no":1}`, `"N/A"`, "ALTER"),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	all, err := Read(ctx, cl, "schemahistory.shop", "shop")
	if err != nil {
		t.Fatal(err)
	}
	recs := OfDatabase(all, "testDB")
	if len(all) != 5 || len(recs) != 4 || recs[0].ChangeLSN != "NULL" || recs[1].ChangeLSN != "NULL" || !recs[0].Snapshot ||
		recs[2].ChangeLSN != "00000027:00000758:0003" || recs[2].CommitLSN != "00000027:00000758:0005" || recs[2].EventSerialNo != 2 ||
		recs[3].DDL != `ALTER "testDB"."dbo"."customers"` {
		t.Fatalf("read %+v", recs)
	}
	stored := lsnPos(t, "00000030:00000010:0002", "00000030:00000010:0003")
	tests := []struct {
		name           string
		stored, target Position
		ack            []string
		want           string
	}{
		{"rewind within the history", stored, lsnPos(t, "00000027:00000758:0004", "00000027:00000758:0005"), nil, "error:ddl_after_target"},
		{"rewind within the history, acknowledged", stored, lsnPos(t, "00000027:00000758:0004", "00000027:00000758:0005"), []string{config.AckRewindBeforeDDL}, "warning:ddl_after_target"},
		// At or before: the record at change_lsn 27:758:3 is applied.
		{"rewind onto a schema change", stored, lsnPos(t, "00000027:00000758:0003", "00000027:00000758:0005"), nil, "error:ddl_after_target"},
		{"rewind past every schema change", stored, lsnPos(t, "00000028:00000200:0002", "00000028:00000200:0004"), nil, ""},
		// The history starts with the snapshot's NULL change_lsn: no
		// change_lsn is before it, so only a NULL change_lsn reaches it.
		{"rewind to the snapshot, no change_lsn", stored, lsnPos(t, "NULL", "00000025:00000100:0001"), []string{config.AckRewindBeforeDDL}, "warning:ddl_after_target"},
		// No change_lsn, commit_lsn after the first streamed change: it is
		// skipped on recovery and never read again.
		{"no change_lsn past a schema change", stored, lsnPos(t, "", "00000027:00000900:0001"), nil, "error:schema_history_null_change_lsn"},
		{"no change_lsn past a schema change, acknowledged", stored, lsnPos(t, "NULL", "00000029:00000000:0001"), []string{config.AckSchemaHistory}, "warning:schema_history_null_change_lsn"},
		{"jump forward", stored, lsnPos(t, "00000031:00000000:0001", "00000031:00000000:0002"), nil, "warning:ddl_skipped_forward"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := judged(t, recs, tc.stored, tc.target, tc.ack, tc.want)
			if sum := Judge(OfDatabase(Summary(all), "testDB"), tc.stored, tc.target, tc.ack); fmt.Sprint(sum) != fmt.Sprint(fs) {
				t.Errorf("on the summary findings %+v\nwant %+v", sum, fs)
			}
			for _, f := range fs {
				if f.Code == "schema_history_null_change_lsn" && tc.ack == nil && !strings.Contains(f.Message, `the latest at change_lsn 00000027:00000758:0003 (commit_lsn 00000027:00000758:0005) (schema history offset 3): ALTER "testDB"."dbo"."customers"; it never reads them again, so it would decode later events with older schemas; set change_lsn`) {
					t.Errorf("does not name the skipped change: %s", f.Message)
				}
				if f.Code == "ddl_after_target" && !strings.Contains(f.Message, "as long as SQL Server's CDC still holds them") {
					t.Errorf("ddl_after_target speaks of another log: %s", f.Message)
				}
			}
		})
	}
	// A history that starts while streaming: a target before it.
	late := OfDatabase(all, "otherDB")
	fs := Judge(late, stored, lsnPos(t, "00000028:00000000:0001", "00000028:00000000:0001"), nil)
	if len(fs) != 1 || fs[0].Code != "before_schema_history" || fs[0].Severity != SeverityError {
		t.Fatalf("before the history: %+v", fs)
	}
}

// judged is Judge's findings, which must have the severities and codes of
// want ("warning:ddl_after_target,...").
func judged(t *testing.T, recs []Record, stored, target Position, ack []string, want string) []Finding {
	t.Helper()
	fs := Judge(recs, stored, target, ack)
	var got []string
	for _, f := range fs {
		got = append(got, string(f.Severity)+":"+f.Code)
	}
	if strings.Join(got, ",") != want {
		t.Fatalf("findings %v, want %s: %+v", got, want, fs)
	}
	return fs
}
