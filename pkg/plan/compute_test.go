package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

const computeHCL = `
connect "prod" { url = "http://connect:8083" }
kafka "prod" { brokers = ["kafka:9092"] }
connector "sink" {
  connect = connect.prod
  kafka   = kafka.prod
  name    = "orders-sink"
}
connector "src" {
  connect = connect.prod
  kafka   = kafka.prod
  name    = "inventory"
}
`

func loadConfig(t *testing.T, body string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(computeHCL+body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	return cfg
}

func observed() map[string]*ConnectorObservation {
	return map[string]*ConnectorObservation{
		"connector.sink": {Address: "connector.sink", Name: "orders-sink", Exists: true, Type: Sink, State: "RUNNING", WriteVia: MethodREST,
			Sink: []SinkPartition{
				{Topic: "orders", Partition: 0, Committed: 1500, LogStart: 100, LogEnd: 1600},
				{Topic: "orders", Partition: 1, Committed: -1, LogStart: 0, LogEnd: 40},
			}},
		"connector.src": {Address: "connector.src", Name: "inventory", Exists: true, Type: Source, State: "RUNNING", WriteVia: MethodREST,
			Source: []SourceOffset{{Key: []byte(`["inventory",{"server":"db1"}]`), Partition: mustMap(`{"server":"db1"}`), Offset: mustMap(`{"lsn":97500059720,"txId":812345}`)}}},
	}
}

func TestComputeSink(t *testing.T) {
	for _, tc := range []struct {
		name       string
		block      string
		wantStatus OperationStatus
		wantChange string // "before→after replays/skips" of partition 0
		wantCheck  string
		notCheck   string // no check may contain it
	}{
		{name: "rewind to offset", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_offset = 1200\n  }`,
			wantStatus: StatusChange, wantChange: "1500→1200 r300 s0"},
		{name: "shift back", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    shift_by = -500\n  }`,
			wantStatus: StatusChange, wantChange: "1500→1000 r500 s0"},
		{name: "below log start", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_offset = 50\n  }`,
			wantStatus: StatusBlocked, wantCheck: "below the log start offset 100"},
		{name: "beyond log end", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_offset = 1700\n  }
  allow_skip_records = 1000`,
			wantStatus: StatusBlocked, wantCheck: "beyond the log end offset 1600"},
		{name: "skip holds", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    skip = 1500\n  }`,
			wantStatus: StatusChange, wantChange: "1500→1501 r0 s1"},
		{name: "skip moved", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    skip = 1499\n  }`,
			wantStatus: StatusBlocked, wantCheck: "expects the committed offset of orders[0] to be 1499, but it is 1500"},
		{name: "to latest needs ack of the real number", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_latest = true\n  }
  allow_skip_records = 10`,
			wantStatus: StatusBlocked, wantCheck: "this change skips 100 records, more than allow_skip_records = 10 acknowledges (orders[0]: to_latest skips 100 records to the log end 1600): raise allow_skip_records to 100"},
		{name: "shift over acknowledged says what skips", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    shift_by = 5\n  }
  allow_skip_records = 3`,
			wantStatus: StatusBlocked, wantCheck: "this change skips 5 records, more than allow_skip_records = 3 acknowledges (orders[0]: shift_by = 5 skips 5 records): raise allow_skip_records to 5 if the sink may never receive them, or skip fewer",
			notCheck: "moved on"},
		{name: "to_offset over acknowledged", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_offset = 1510\n  }
  allow_skip_records = 3`,
			wantStatus: StatusBlocked, wantCheck: "(orders[0]: to_offset = 1510 skips 10 records after the committed offset 1500)", notCheck: "moved on"},
		{name: "timestamp in the future", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_timestamp = "2027-11-20T10:00:00Z"\n  }`,
			wantStatus: StatusBlocked, wantCheck: `orders[0]: to_timestamp = "2027-11-20T10:00:00Z" is in the future (the plan was made at 2026-11-20T14:30:00Z): it resolves to the log end 1600, which skips 100 records after the committed offset 1500; check the date and the time zone, or use to_latest`,
			notCheck: "allow_skip_records"},
		{name: "timestamp in the future acknowledged is still refused", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_timestamp = "2027-11-20T10:00:00Z"\n  }
  allow_skip_records = 100`,
			wantStatus: StatusBlocked, wantCheck: "is in the future", notCheck: "allow_skip_records"},
		{name: "timestamp in the past skipping names it", block: `sink_partition {\n    topic = "orders"\n    partitions = [1]\n    to_timestamp = "2026-11-20T10:00:00Z"\n  }`,
			wantStatus: StatusBlocked, wantCheck: `add allow_skip_records = 20`},
		{name: "to latest acknowledged", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_latest = true\n  }
  allow_skip_records = 100`,
			wantStatus: StatusChange, wantChange: "1500→1600 r0 s100"},
		{name: "no change", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_offset = 1500\n  }`,
			wantStatus: StatusNoChange, wantChange: "1500→1500 r0 s0"},
		{name: "missing partition", block: `sink_partition {\n    topic = "orders"\n    partitions = [7]\n    to_offset = 1\n  }`,
			wantStatus: StatusBlocked, wantCheck: "partition 7 of \"orders\" does not exist (the topic has 2 partitions)"},
		{name: "missing topic", block: `sink_partition {\n    topic = "nope"\n    to_earliest = true\n  }`,
			wantStatus: StatusBlocked, wantCheck: `topic "nope" does not exist`},
		{name: "timestamp", block: `sink_partition {\n    topic = "orders"\n    partitions = [0]\n    to_timestamp = "2026-11-20T10:00:00Z"\n  }`,
			wantStatus: StatusChange, wantChange: "1500→1234 r266 s0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, "offsets \"op\" {\n  connector = connector.sink\n  reason    = \"test\"\n  "+strings.ReplaceAll(tc.block, `\n`, "\n")+"\n}\n")
			ts := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixMilli()
			future := time.Date(2027, 11, 20, 10, 0, 0, 0, time.UTC).UnixMilli()
			ops, checks := Compute(cfg, Inputs{Connectors: observed(), Now: time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC),
				Timestamps: map[TimestampKey]int64{{"orders", 0, ts}: 1234, {"orders", 0, future}: 1600, {"orders", 1, ts}: 20}})
			if len(ops) != 1 {
				t.Fatalf("ops = %d", len(ops))
			}
			op := ops[0]
			if op.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s (checks %+v)", op.Status, tc.wantStatus, checks)
			}
			if tc.wantChange != "" {
				var got string
				for _, ch := range op.Changes {
					if ch.Sink != nil && ch.Sink.Partition == 0 {
						got = fmtSink(ch.Sink)
					}
				}
				if got != tc.wantChange {
					t.Errorf("change = %q, want %q", got, tc.wantChange)
				}
			}
			if tc.wantCheck != "" {
				found := false
				for _, c := range checks {
					found = found || strings.Contains(c.Message, tc.wantCheck)
				}
				if !found {
					t.Errorf("no check containing %q in %+v", tc.wantCheck, checks)
				}
			}
			for _, c := range checks {
				if tc.notCheck != "" && strings.Contains(c.Message, tc.notCheck) {
					t.Errorf("a check says %q: %s", tc.notCheck, c.Message)
				}
			}
		})
	}
}

func fmtSink(s *SinkChange) string {
	return fmt.Sprintf("%d→%d r%d s%d", s.Before, s.After, s.Replays, s.Skips)
}

func TestComputeSource(t *testing.T) {
	for _, tc := range []struct {
		name       string
		block      string
		wantStatus OperationStatus
		wantAfter  string
		wantKey    string
		wantCheck  string
	}{
		{name: "merge keeps other fields", block: `source_partition {
    partition = { server = "db1" }
    offset    = { lsn = 36965936 }
    merge     = true
  }`, wantStatus: StatusChange, wantAfter: `{"lsn":36965936,"txId":812345}`, wantKey: `["inventory",{"server":"db1"}]`},
		{name: "replace keeps field order", block: `source_partition {
    partition = { server = "db1" }
    offset    = { txId = 649, lsn = 36965936 }
  }`, wantStatus: StatusChange, wantAfter: `{"lsn":36965936,"txId":649}`},
		{name: "new partition gets Java key order", block: `source_partition {
    partition = { server = "db1", database = "testDB" }
    offset    = { lsn = 1 }
  }`, wantStatus: StatusChange, wantAfter: `{"lsn":1}`, wantKey: `["inventory",{"server":"db1","database":"testDB"}]`},
		{name: "same offset is no change", block: `source_partition {
    partition = { server = "db1" }
    offset    = { lsn = 97500059720, txId = 812345 }
  }`, wantStatus: StatusNoChange},
		{name: "codec refuses", block: `source_partition {
    partition = { server = "db1" }
    offset    = { lsn = "oops" }
  }`, wantStatus: StatusBlocked, wantCheck: "lsn must be an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, "offsets \"op\" {\n  connector = connector.src\n  reason    = \"test\"\n  "+tc.block+"\n}\n")
			validate := func(codec string, p, o offsets.Map, prev *offsets.Map) error {
				if v, ok := o.Get("lsn"); ok {
					if _, ok := v.Int64(); !ok {
						return fmt.Errorf("lsn must be an integer")
					}
				}
				return nil
			}
			ops, checks := Compute(cfg, Inputs{Connectors: observed(), Validate: validate})
			op := ops[0]
			if op.Status != tc.wantStatus {
				t.Fatalf("status = %s, want %s (checks %+v)", op.Status, tc.wantStatus, checks)
			}
			if tc.wantAfter != "" && op.Changes[0].Source.After.String() != tc.wantAfter {
				t.Errorf("after = %s, want %s", op.Changes[0].Source.After, tc.wantAfter)
			}
			if tc.wantKey != "" && string(op.Changes[0].Source.Key) != tc.wantKey {
				t.Errorf("key = %s, want %s", op.Changes[0].Source.Key, tc.wantKey)
			}
			if tc.wantCheck != "" {
				found := false
				for _, c := range checks {
					found = found || strings.Contains(c.Message, tc.wantCheck)
				}
				if !found {
					t.Errorf("no check containing %q in %+v", tc.wantCheck, checks)
				}
			}
		})
	}
}

func TestComputeAlreadyApplied(t *testing.T) {
	cfg := loadConfig(t, "offsets \"op\" {\n  connector = connector.sink\n  reason    = \"test\"\n  sink_partition {\n    topic = \"orders\"\n    partitions = [0]\n    to_offset = 1200\n  }\n}\n")
	hash := cfg.Offsets[0].Hash
	ops, _ := Compute(cfg, Inputs{Connectors: observed(), Applied: func(name string) (uint64, string, bool) { return 7, hash, name == "op" }})
	if ops[0].Status != StatusAlreadyApplied || ops[0].AppliedSerial != 7 {
		t.Fatalf("op = %+v", ops[0])
	}
	ops, checks := Compute(cfg, Inputs{Connectors: observed(), Applied: func(name string) (uint64, string, bool) { return 7, "sha256:other", true }})
	if ops[0].Status != StatusChange || len(checks) == 0 || checks[0].Code != "changed_after_apply" {
		t.Fatalf("changed block: op %+v checks %+v", ops[0], checks)
	}
}

// A to_offset one past the committed offset skips a record like skip does,
// but only a skip block acknowledges it by itself.
func TestComputeOnlySkipBlocksAcknowledgeThemselves(t *testing.T) {
	cfg := loadConfig(t, "offsets \"op\" {\n  connector = connector.sink\n  reason    = \"test\"\n  sink_partition {\n    topic = \"orders\"\n    partitions = [0]\n    to_offset = 1501\n  }\n}\n")
	ops, checks := Compute(cfg, Inputs{Connectors: observed()})
	if ops[0].Status != StatusBlocked || len(checks) == 0 || checks[0].Code != "skip_not_acknowledged" {
		t.Fatalf("to_offset committed+1 without allow_skip_records: %+v %+v", ops[0].Status, checks)
	}
}

// copy_from between source connectors whose offsets have different formats
// copies positions that mean nothing to the target: an error unless
// acknowledged, a warning then; the same format under another class is a
// warning.
func TestComputeCopyFromAcrossFormats(t *testing.T) {
	const body = `
connector "mysql" {
  connect = connect.prod
  name    = "inventory-mysql"
}
offsets "move" {
  connector = connector.src
  reason    = "test"
  copy_from = connector.mysql
%s}
`
	for _, tc := range []struct {
		name, ack, fromClass, fromCodec string
		wantStatus                      OperationStatus
		wantSev                         Severity
		wantCode, wantMsg               string
	}{
		{name: "different formats refused", fromClass: "io.debezium.connector.mysql.MySqlConnector", fromCodec: "debezium-mysql",
			wantStatus: StatusBlocked, wantSev: SeverityError, wantCode: "copy_from_format",
			wantMsg: `"inventory-mysql" (io.debezium.connector.mysql.MySqlConnector) keeps debezium-mysql offsets but "inventory" (io.debezium.connector.postgresql.PostgresConnector) reads debezium-postgres offsets: copied, they cannot mean the same position; copy from a connector of the same kind, or, if the target really reads these offsets, add acknowledge_cross_format_copy = true to the block`},
		{name: "different formats acknowledged", ack: "  acknowledge_cross_format_copy = true\n", fromClass: "io.debezium.connector.mysql.MySqlConnector", fromCodec: "debezium-mysql",
			wantStatus: StatusChange, wantSev: SeverityWarning, wantCode: "copy_from_format", wantMsg: "(acknowledged with acknowledge_cross_format_copy = true)"},
		{name: "same format other class", fromClass: "com.example.PatchedPostgresConnector", fromCodec: "debezium-postgres",
			wantStatus: StatusChange, wantSev: SeverityWarning, wantCode: "copy_from_class", wantMsg: "check that the offsets mean the same to both"},
		{name: "generic is not a format to refuse", fromClass: "com.example.Unknown", fromCodec: "generic",
			wantStatus: StatusChange, wantSev: SeverityWarning, wantCode: "copy_from_class"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, fmt.Sprintf(body, tc.ack))
			obs := observed()
			obs["connector.src"].Class, obs["connector.src"].Codec = "io.debezium.connector.postgresql.PostgresConnector", "debezium-postgres"
			obs["connector.mysql"] = &ConnectorObservation{Address: "connector.mysql", Name: "inventory-mysql", Exists: true, Type: Source, State: "RUNNING",
				Class: tc.fromClass, Codec: tc.fromCodec, WriteVia: MethodREST,
				Source: []SourceOffset{{Key: []byte(`["inventory-mysql",{"server":"db1"}]`), Partition: mustMap(`{"server":"db1"}`), Offset: mustMap(`{"file":"binlog.000003","pos":154}`)}}}
			ops, checks := Compute(cfg, Inputs{Connectors: obs})
			if ops[0].Status != tc.wantStatus {
				t.Errorf("status %s, want %s (checks %+v)", ops[0].Status, tc.wantStatus, checks)
			}
			found := false
			for _, c := range checks {
				found = found || (c.Code == tc.wantCode && c.Severity == tc.wantSev && strings.Contains(c.Message, tc.wantMsg))
			}
			if !found {
				t.Errorf("no %s %s check containing %q in %+v", tc.wantSev, tc.wantCode, tc.wantMsg, checks)
			}
		})
	}
}
