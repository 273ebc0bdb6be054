package plan_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
)

// hazardCase is one verdict of the hazard catalogue, planned on the
// sandbox: the operation's status and a check with its code, severity and
// a part of its message.
type hazardCase struct {
	name, body string
	status     plan.OperationStatus
	sev        plan.Severity
	code       string
	msg        string
	// code may be empty: no check is looked for. absent is a check code
	// the plan must not hold.
	absent string
	// golden pins the text, Markdown and JSON renderings.
	golden bool
	// risk is a risk of the operation as "class:records" ("" none looked
	// for).
	risk string
}

// runHazards plans each case, checks its verdict, and checks that the plan
// as saved computes to the same verdicts (what apply's Verify does).
func runHazards(t *testing.T, w *planWorld, cases []hazardCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg, pl := w.planWith(t, tc.body)
			if len(p.Operations) == 0 || p.Operations[0].Status != tc.status {
				t.Fatalf("status of %+v, want %s; checks %+v", p.Operations, tc.status, p.Checks)
			}
			if tc.risk != "" {
				var risks []string
				for _, r := range p.Operations[0].Risks {
					risks = append(risks, fmt.Sprintf("%s:%d", r.Class, r.Records))
				}
				if !strings.Contains(" "+strings.Join(risks, " ")+" ", " "+tc.risk+" ") {
					t.Errorf("risks %v, want %s among them", risks, tc.risk)
				}
			}
			found := false
			for _, c := range p.Checks {
				found = found || (c.Code == tc.code && c.Severity == tc.sev && strings.Contains(c.Message, tc.msg))
				if tc.absent != "" && c.Code == tc.absent {
					t.Errorf("the plan holds the check %s (%s), which it must not", c.Code, c.Message)
				}
			}
			if !found && tc.code != "" {
				t.Errorf("no %s check %s containing %q in %+v", tc.sev, tc.code, tc.msg, p.Checks)
			}
			data, err := plan.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			back, err := plan.Read("plan.json", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := pl.Verify(cfg, back, nil); err != nil {
				t.Fatalf("Verify of the plan as saved: %v", err)
			}
			if tc.golden {
				var txt, md, js strings.Builder
				if err := render.Text(&txt, p, render.Options{}); err != nil {
					t.Fatal(err)
				}
				if err := render.Markdown(&md, p, 0); err != nil {
					t.Fatal(err)
				}
				goldens.Assert(t, "text", []byte(w.normalize(txt.String())))
				if err := render.JSON(&js, p); err != nil {
					t.Fatal(err)
				}
				goldens.Assert(t, "markdown", []byte(w.normalize(md.String())))
				goldens.Assert(t, "json", []byte(w.normalize(js.String()))) // TestPlanSchema validates it
			}
		})
	}
}

// TestHazardSinkRetention: a rewind below what retention kept is refused
// per partition, naming when the oldest retained record was written (read
// from Kafka: the record at the log start).
func TestHazardSinkRetention(t *testing.T) {
	w := newPlanWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del := kadm.Offsets{}
	del.AddOffset("orders", 2, 30, -1)
	if _, err := kadm.NewClient(w.kc).DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}
	runHazards(t, w, []hazardCase{
		{name: "below the log start", body: `
offsets "rewind" {
  connector = connector.orders_sink
  reason    = "test"
  sink_partition {
    topic      = "orders"
    partitions = [0, 2]
    to_offset  = 10
  }
}
`, status: plan.StatusBlocked, sev: plan.SeverityError, code: "below_log_start",
			msg: "orders[2]: target 10 is below the log start offset 30: records 10..29 were deleted by retention (the oldest retained record, offset 30, was written at 2026-11-20T10:30:00.000Z), and the sink would silently resume at 30", golden: true},
		{name: "within the log", body: `
offsets "rewind" {
  connector = connector.orders_sink
  reason    = "test"
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 10
  }
}
`, status: plan.StatusChange, absent: "below_log_start"},
	})
}

// TestHazardIncrementalSnapshot: a set that drops the stored offset's
// incremental_snapshot_* keys cancels the snapshot in progress: refused
// unless merged (the keys stay) or acknowledged.
func TestHazardIncrementalSnapshot(t *testing.T) {
	w := newPlanWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.c.AlterOffsets(ctx, "inventory-v2", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: []byte(`{"server":"dbserver1"}`),
		Offset: []byte(`{"lsn":97500059720,"lsn_proc":97500059720,"lsn_commit":97500059720,"txId":812345,"ts_usec":1718000000123456,"messageType":"COMMIT",` +
			`"incremental_snapshot_collections":"[{\"incremental_snapshot_collections_id\":\"public.orders\"}]","incremental_snapshot_primary_key":"aced0005","incremental_snapshot_maximum_key":"aced0009"}`),
	}}}); err != nil {
		t.Fatal(err)
	}
	const block = `
offsets "rewind" {
  connector = connector.inventory_v2
  reason    = "test"
%s
  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("16/B3700000"), lsn_proc = lsn("16/B3700000"), lsn_commit = lsn("16/B3700000"), txId = 812000, ts_usec = 1717999000000000, messageType = "COMMIT" }
%s
  }
}
`
	body := func(ack, merge string) string {
		return strings.Replace(strings.Replace(block, "%s", ack, 1), "%s", merge, 1)
	}
	runHazards(t, w, []hazardCase{
		{name: "set drops the keys", body: body("", ""), status: plan.StatusBlocked, sev: plan.SeverityError, code: "incremental_snapshot_dropped",
			msg: `the stored offset has "incremental_snapshot_collections" (an incremental snapshot in progress) and the new one does not: the snapshot is silently cancelled; copy the incremental_snapshot_* keys verbatim to keep it; set merge = true in the source_partition block to keep the keys, or add acknowledge = ["cancel_incremental_snapshot"] if the snapshot is to stop`},
		{name: "acknowledged", body: body(`  acknowledge = ["cancel_incremental_snapshot"]`, ""), status: plan.StatusChange, sev: plan.SeverityWarning, code: "incremental_snapshot_dropped",
			msg: "(acknowledged: cancel_incremental_snapshot)"},
		{name: "merged keeps the keys", body: body("", "    merge = true"), status: plan.StatusChange, sev: plan.SeverityWarning, code: "source_unchecked",
			absent: "incremental_snapshot_dropped"},
	})
}

// historyRecord is a schema history record as Debezium writes it.
func historyRecord(file string, pos int64, snapshot bool, ddl string) string {
	snap := ""
	if snapshot {
		snap = `,"snapshot":true`
	}
	return fmt.Sprintf(`{"source":{"server":"shop"},"position":{"ts_sec":1700000000,"file":%q,"pos":%d%s},"ts_ms":1700000000000,"databaseName":"shop","ddl":%q,"tableChanges":[]}`,
		file, pos, snap, ddl)
}

// sqlserverHistoryRecord is a schema history record of a Debezium SQL
// Server connector capturing database "shop": source {server, database},
// position (commit_lsn, change_lsn, ...), no DDL text, the table change.
func sqlserverHistoryRecord(position, ddl, change string) string {
	return fmt.Sprintf(`{"source":{"server":"shop","database":"shop"},"position":%s,"ts_ms":1700000000000,"databaseName":"shop","schemaName":"dbo","ddl":%s,"tableChanges":[{"type":%q,"id":"\"shop\".\"dbo\".\"customers\"","table":{"primaryKeyColumnNames":["id"],"columns":[]}}]}`,
		position, ddl, change)
}

// TestHazardSchemaHistory: a Debezium MySQL connector's source changes are
// weighed against its schema history topic, read from Kafka at planning and
// kept in the plan: a position before the history's first record is refused
// unless acknowledged; a rewind before recorded DDLs is safe (Debezium
// rebuilds the schemas up to the offset and reads the DDLs again) and says
// so, naming the latest DDL and its position; a move forward warns. A SQL
// Server connector's is ordered by change_lsn as Debezium orders it, and a
// target without change_lsn that skips a streamed schema change is refused
// unless acknowledged.
func TestHazardSchemaHistory(t *testing.T) {
	w := newPlanWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(w.kc).CreateTopic(ctx, 1, 1, nil, "schemahistory.shop"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{
		historyRecord("mysql-bin.000003", 100, true, "CREATE TABLE customers (id INT PRIMARY KEY)"),
		historyRecord("mysql-bin.000003", 900, false, "ALTER TABLE customers ADD COLUMN email VARCHAR(255)"),
		historyRecord("mysql-bin.000004", 200, false, "ALTER TABLE  customers\n  ADD COLUMN phone VARCHAR(32)"),
	} {
		if err := w.kc.ProduceSync(ctx, &kgo.Record{Topic: "schemahistory.shop", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The SQL Server connector's history, as Debezium writes it: the
	// snapshot's record (change_lsn NULL), then a schema change streamed
	// (a new capture instance; no DDL text).
	if _, err := kadm.NewClient(w.kc).CreateTopic(ctx, 1, 1, nil, "schemahistory.sqlserver"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{
		sqlserverHistoryRecord(`{"commit_lsn":"0000002a:00000010:0001","change_lsn":"NULL","snapshot":true,"snapshot_completed":false}`, "null", "CREATE"),
		sqlserverHistoryRecord(`{"commit_lsn":"0000002a:00000150:0004","change_lsn":"0000002a:00000150:0002","event_serial_no":1}`, `"N/A"`, "ALTER"),
	} {
		if err := w.kc.ProduceSync(ctx, &kgo.Record{Topic: "schemahistory.sqlserver", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for name, history := range map[string]string{"shop-mysql": "schemahistory.shop", "shop-mysql-filehistory": ""} {
		cfg := map[string]string{"connector.class": "io.debezium.connector.mysql.MySqlConnector", "topic.prefix": "shop",
			"database.hostname": "db.invalid", "database.user": "debezium"}
		if history != "" {
			cfg["schema.history.internal.kafka.topic"] = history
		}
		if _, err := w.c.Create(ctx, connect.CreateRequest{Name: name, InitialState: connect.StateStopped, Config: cfg}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.c.AlterOffsets(ctx, name, connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
			Partition: []byte(`{"server":"shop"}`),
			Offset:    []byte(`{"ts_sec":1700000500,"file":"mysql-bin.000004","pos":500,"row":0,"server_id":1}`),
		}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.c.Create(ctx, connect.CreateRequest{Name: "shop-sqlserver", InitialState: connect.StateStopped, Config: map[string]string{
		"connector.class": "io.debezium.connector.sqlserver.SqlServerConnector", "topic.prefix": "shop", "database.names": "shop",
		"schema.history.internal.kafka.topic": "schemahistory.sqlserver"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.c.AlterOffsets(ctx, "shop-sqlserver", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: []byte(`{"server":"shop","database":"shop"}`),
		Offset:    []byte(`{"commit_lsn":"0000002a:00000190:0003","change_lsn":"0000002a:00000188:0002","event_serial_no":1}`),
	}}}); err != nil {
		t.Fatal(err)
	}
	const connectors = `
connector "sqlserver" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "shop-sqlserver"
}

connector "shop" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "shop-mysql"
}

connector "shop_filehistory" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "shop-mysql-filehistory"
}
`
	move := func(connector, file string, pos int, ack string) string {
		return connectors + fmt.Sprintf(`
offsets "move_shop" {
  connector = connector.%s
  reason    = "test"
%s
  source_partition {
    partition = { server = "shop" }
    offset    = { file = %q, pos = %d }
    merge     = true
  }
}
`, connector, ack, file, pos)
	}
	sqlserver := func(offset string, ack ...string) string {
		return connectors + fmt.Sprintf(`
offsets "move_shop" {
  connector = connector.sqlserver
  reason    = "test"
%s
  source_partition {
    partition = { server = "shop", database = "shop" }
    offset    = { %s }
  }
}
`, strings.Join(ack, ""), offset)
	}
	runHazards(t, w, []hazardCase{
		{name: "rewind before recorded DDLs", body: move("shop", "mysql-bin.000003", 500, ""), status: plan.StatusBlocked, sev: plan.SeverityError, code: "ddl_after_target",
			msg: "2 DDL(s) recorded after the new position mysql-bin.000003:500, the latest at mysql-bin.000004:200 (schema history offset 2): ALTER TABLE customers ADD COLUMN phone VARCHAR(32); the connector decodes the events in between with the schema of their time as long as the binlog still holds them", golden: true},
		{name: "rewind before recorded DDLs acknowledged", body: move("shop", "mysql-bin.000003", 500, `  acknowledge = ["rewind_before_ddl"]`), status: plan.StatusChange, sev: plan.SeverityWarning, code: "ddl_after_target",
			msg: "re-delivers change events of the older schema to consumers that have already seen the newer one: a sink that evolves its tables from the events (the JDBC sink's schema.evolution) may add a dropped column back, and one that does not may fail on them; acknowledged (rewind_before_ddl)"},
		{name: "the plan names the latest DDL", body: move("shop", "mysql-bin.000003", 500, `  acknowledge = ["rewind_before_ddl"]`), status: plan.StatusChange, sev: plan.SeverityOK, code: "schema_history",
			msg: `schema history topic "schemahistory.shop" (server "shop"): 3 records, the first at mysql-bin.000003:100 (offset 0); the latest schema change at mysql-bin.000004:200 (offset 2): ALTER TABLE customers ADD COLUMN phone VARCHAR(32)`},
		{name: "rewind before the history", body: move("shop", "mysql-bin.000002", 4, ""), status: plan.StatusBlocked, sev: plan.SeverityError, code: "before_schema_history",
			msg: `the new position mysql-bin.000002:4 is before the schema history's first record (mysql-bin.000003:100, offset 0, written by a schema snapshot)`, golden: true},
		{name: "rewind before the history acknowledged", body: move("shop", "mysql-bin.000002", 4, `  acknowledge = ["schema_history"]`), status: plan.StatusChange, sev: plan.SeverityWarning, code: "before_schema_history",
			msg: "acknowledged (schema_history)"},
		{name: "rewind after every DDL", body: move("shop", "mysql-bin.000004", 300, ""), status: plan.StatusChange, sev: plan.SeverityOK, code: "schema_history", absent: "ddl_after_target"},
		{name: "forward", body: move("shop", "mysql-bin.000005", 4, ""), status: plan.StatusChange, sev: plan.SeverityWarning, code: "ddl_skipped_forward",
			msg: "moving forward from mysql-bin.000004:500 to mysql-bin.000005:4"},
		{name: "SQL Server rewind before a schema change", body: sqlserver(`commit_lsn = "0000002a:00000100:0003", change_lsn = "0000002a:00000100:0002", event_serial_no = 1`),
			status: plan.StatusBlocked, sev: plan.SeverityError, code: "ddl_after_target",
			msg: `1 DDL(s) recorded after the new position change_lsn 0000002a:00000100:0002 (commit_lsn 0000002a:00000100:0003), the latest at change_lsn 0000002a:00000150:0002 (commit_lsn 0000002a:00000150:0004) (schema history offset 1): ALTER "shop"."dbo"."customers"; the connector decodes the events in between with the schema of their time as long as SQL Server's CDC still holds them`, golden: true},
		{name: "SQL Server the plan names the latest schema change", body: sqlserver(`commit_lsn = "0000002a:00000100:0003", change_lsn = "0000002a:00000100:0002", event_serial_no = 1`, `  acknowledge = ["rewind_before_ddl"]`),
			status: plan.StatusChange, sev: plan.SeverityOK, code: "schema_history",
			msg: `schema history topic "schemahistory.sqlserver" (server "shop"): 2 records, the first at change_lsn NULL (commit_lsn 0000002a:00000010:0001) (offset 0); the latest schema change at change_lsn 0000002a:00000150:0002 (commit_lsn 0000002a:00000150:0004) (offset 1): ALTER "shop"."dbo"."customers"`},
		{name: "SQL Server rewind after the schema change", body: sqlserver(`commit_lsn = "0000002a:00000160:0003", change_lsn = "0000002a:00000160:0002", event_serial_no = 1`),
			status: plan.StatusChange, sev: plan.SeverityOK, code: "schema_history", absent: "ddl_after_target"},
		// Without change_lsn Debezium applies only the snapshot's records
		// (NULL is below every LSN) and resumes after commit_lsn: the
		// schema change at 2a:150 is never applied nor read again.
		{name: "SQL Server without change_lsn", body: sqlserver(`commit_lsn = "0000002a:00000170:0003", event_serial_no = 0`),
			status: plan.StatusBlocked, sev: plan.SeverityError, code: "schema_history_null_change_lsn",
			msg: `the new position change_lsn NULL (commit_lsn 0000002a:00000170:0003) has no change_lsn: Debezium's SQL Server connector rebuilds its tables' schemas only from history records whose change_lsn is at or before the offset's`, golden: true},
		{name: "SQL Server without change_lsn acknowledged", body: sqlserver(`commit_lsn = "0000002a:00000170:0003", event_serial_no = 0`, `  acknowledge = ["schema_history"]`),
			status: plan.StatusChange, sev: plan.SeverityWarning, code: "schema_history_null_change_lsn", msg: "acknowledged (schema_history)"},
		{name: "SQL Server forward", body: sqlserver(`commit_lsn = "0000002b:00000010:0003", change_lsn = "0000002b:00000010:0002", event_serial_no = 1`),
			status: plan.StatusChange, sev: plan.SeverityWarning, code: "ddl_skipped_forward",
			msg: "moving forward from change_lsn 0000002a:00000188:0002 (commit_lsn 0000002a:00000190:0003) to change_lsn 0000002b:00000010:0002 (commit_lsn 0000002b:00000010:0003)"},
		{name: "history not in Kafka", body: move("shop_filehistory", "mysql-bin.000002", 4, ""), status: plan.StatusChange, sev: plan.SeverityWarning, code: "schema_history_unchecked",
			msg: `the schema history of connector "shop-mysql-filehistory" was not read`, absent: "before_schema_history"},
	})
}

// TestHazardSkips: every sink change that skips records shows the skip or
// jump_to_latest risk with the records counted, and is refused unless
// allow_skip_records acknowledges them all, naming what skips: to_latest,
// shift_by, offsets copied from another sink, and a reset of a sink whose
// consumer.override.auto.offset.reset is latest (it jumps to the log end).
func TestHazardSkips(t *testing.T) {
	w := newPlanWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, reset := range map[string]string{"orders-sink-ahead": "latest", "orders-sink-strict": "none"} {
		if _, err := w.c.Create(ctx, connect.CreateRequest{Name: name, InitialState: connect.StateStopped, Config: map[string]string{
			"connector.class": "org.example.InertSink", "topics": "orders", "consumer.override.auto.offset.reset": reset}}); err != nil {
			t.Fatal(err)
		}
		commit := kadm.Offsets{}
		commit.AddOffset("orders", 0, 95, -1)
		if _, err := kadm.NewClient(w.kc).CommitOffsets(ctx, "connect-"+name, commit); err != nil {
			t.Fatal(err)
		}
	}
	const sinks = `
connector "ahead" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "orders-sink-ahead"
}

connector "strict" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "orders-sink-strict"
}
`
	block := func(connector, allow, body string) string {
		return sinks + fmt.Sprintf("\noffsets \"op\" {\n  connector = connector.%s\n  reason    = \"test\"\n%s\n%s\n}\n", connector, allow, body)
	}
	latest0 := "  sink_partition {\n    topic      = \"orders\"\n    partitions = [0]\n    to_latest  = true\n  }"
	runHazards(t, w, []hazardCase{
		{name: "to_latest over the acknowledgement", body: block("orders_sink", "  allow_skip_records = 10", latest0), status: plan.StatusBlocked,
			sev: plan.SeverityError, code: "skip_over_acknowledged", risk: "jump_to_latest:20",
			msg: "this change skips 20 records, more than allow_skip_records = 10 acknowledges (orders[0]: to_latest skips 20 records to the log end 100)"},
		{name: "to_latest acknowledged", body: block("orders_sink", "  allow_skip_records = 20", latest0), status: plan.StatusChange, risk: "jump_to_latest:20", absent: "skip_over_acknowledged"},
		{name: "shift forward", body: block("orders_sink", "  allow_skip_records = 5", "  sink_partition {\n    topic      = \"orders\"\n    partitions = [0, 1]\n    shift_by   = 5\n  }"),
			status: plan.StatusBlocked, sev: plan.SeverityError, code: "skip_over_acknowledged", risk: "skip:10",
			msg: "(orders[0]: shift_by = 5 skips 5 records; orders[1]: shift_by = 5 skips 5 records)"},
		{name: "copied from a sink ahead", body: block("orders_sink", "", "  copy_from = connector.ahead"), status: plan.StatusBlocked,
			sev: plan.SeverityError, code: "skip_not_acknowledged", risk: "skip:15", msg: "this change skips 15 records that the sink will never receive: add allow_skip_records = 15"},
		{name: "copied from a sink ahead, over the acknowledgement", body: block("orders_sink", "  allow_skip_records = 5", "  copy_from = connector.ahead"), status: plan.StatusBlocked,
			sev: plan.SeverityError, code: "skip_over_acknowledged", risk: "skip:15",
			msg: `(orders[0]: the offset 95 from connector "orders-sink-ahead" skips 15 records after the committed offset 80)`},
		{name: "reset of a sink that resets to latest", body: block("ahead", "", "  reset = true\n  acknowledge_resnapshot = true"), status: plan.StatusBlocked,
			sev: plan.SeverityError, code: "skip_not_acknowledged", risk: "jump_to_latest:5", msg: "this change skips 5 records that the sink will never receive: add allow_skip_records = 5", golden: true},
		{name: "reset of a sink that resets to latest, acknowledged", body: block("ahead", "  allow_skip_records = 5", "  reset = true\n  acknowledge_resnapshot = true"), status: plan.StatusChange,
			sev: plan.SeverityWarning, code: "sink_reset", risk: "jump_to_latest:5", msg: "consumer.override.auto.offset.reset = latest: at the log end"},
		{name: "reset of a sink that never resets", body: block("strict", "", "  reset = true\n  acknowledge_resnapshot = true"), status: plan.StatusBlocked,
			sev: plan.SeverityError, code: "sink_reset_none", msg: "its tasks fail at start"},
		{name: "reset to earliest replays", body: block("orders_sink", "", "  reset = true\n  acknowledge_resnapshot = true"), status: plan.StatusChange,
			sev: plan.SeverityWarning, code: "sink_reset", risk: "sink_reset:170", absent: "skip_not_acknowledged"},
	})
}
