package schemahistory

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

func pos(t *testing.T, file string, p int64) *Position {
	t.Helper()
	x, err := ParsePosition(file, p)
	if err != nil {
		t.Fatal(err)
	}
	return &x
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
		stored, target *Position
		ack            []string
		want           string // codes with severities, in order
	}{
		{"rewind within the history", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000003", 500), nil, "warning:ddl_after_target"},
		{"rewind past every DDL", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000004", 300), nil, ""},
		{"rewind before the history", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000002", 4), nil, "error:before_schema_history"},
		{"before the history, acknowledged", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000002", 4), []string{AckSchemaHistory}, "warning:before_schema_history"},
		{"jump forward", pos(t, "mysql-bin.000004", 500), pos(t, "mysql-bin.000009", 4), nil, "warning:ddl_skipped_forward"},
		{"no target", pos(t, "mysql-bin.000004", 500), nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			fs := Judge(recs, tc.stored, tc.target, tc.ack)
			for _, f := range fs {
				got = append(got, string(f.Severity)+":"+f.Code)
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("findings %v, want %s: %+v", got, tc.want, fs)
			}
			// The summary a plan keeps gives the same findings.
			if sum := Judge(Summary(recs), tc.stored, tc.target, tc.ack); fmt.Sprint(sum) != fmt.Sprint(fs) {
				t.Errorf("on the summary %+v\nfindings %+v\nwant      %+v", Summary(recs), sum, fs)
			}
			for _, f := range fs {
				if f.Code == "ddl_after_target" && !strings.Contains(f.Message, "mysql-bin.000004:200 (schema history offset 3): ALTER TABLE customers ADD COLUMN phone") {
					t.Errorf("ddl_after_target does not name the latest DDL: %s", f.Message)
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
