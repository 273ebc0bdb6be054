package command

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// TestPlanChecksTheReplicationSlot: with source_database, plan reads the
// Debezium PostgreSQL connector's replication slot from the source database
// and refuses a rewind below what the slot confirmed (nothing below it is
// replayed), accepts it when acknowledged, refuses one below restart_lsn
// (the WAL is gone) even then, and without source_database says the slot
// was not checked.
func TestPlanChecksTheReplicationSlot(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := w.pipe.SourceDB()
	conn := pgtest.Conn(t, src)
	exec, lsnOf := sourceSlot(ctx, t, src)
	lsn := func() uint64 {
		t.Helper()
		return lsnOf("SELECT pg_current_wal_lsn()::text")
	}
	// An open transaction that wrote before the target keeps the slot's
	// restart_lsn at or below it while the slot advances (logical decoding
	// restarts no later than the oldest transaction it has seen running):
	// without it a checkpoint of another test on the shared server could
	// let restart_lsn pass the target before the first plans.
	exec("CREATE TABLE offsetctl_hold (x int)")
	hold, err := pgtest.Conn(t, src).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(context.Background()) //nolint:errcheck // released below; a second rollback is a no-op
	if _, err := hold.Exec(ctx, "INSERT INTO offsetctl_hold VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	target := lsn()
	if _, err := w.pipe.InsertN(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	advance := func() {
		t.Helper()
		exec("SELECT pg_switch_wal()")
		exec("SELECT pg_replication_slot_advance('offsetctl_sandbox', pg_current_wal_flush_lsn())")
	}
	advance()
	var confirmed string
	if err := conn.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'offsetctl_sandbox'").Scan(&confirmed); err != nil {
		t.Fatal(err)
	}
	if c, err := offsets.ParseLSN(confirmed); err != nil || c <= target {
		t.Fatalf("the slot left no room below confirmed_flush_lsn %s for a rewind to %s (%v)", confirmed, offsets.FormatLSN(target), err)
	}
	config := func(sourceDatabase, acknowledge string, at uint64) string {
		db := ""
		if sourceDatabase != "" {
			db = fmt.Sprintf("database \"source\" {\n  url = %q\n}\n", src)
		}
		return fmt.Sprintf(`connect "sandbox" {
  url = %q
}

kafka "sandbox" {
  brokers = [%q]
}

%s
connector "source" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = %q
  %s
}

offsets "rewind" {
  connector = connector.source
  reason    = "INC-1: replay the customers of the last hour"
  %s

  source_partition {
    partition = { server = %q }
    offset    = { lsn = %d, lsn_proc = %d, lsn_commit = %d, ts_usec = 1764000000000000 }
    merge     = true
  }
}
`, w.sb.ConnectURL(), w.sb.BootstrapServers()[0], db, w.pipe.SourceConnector(), sourceDatabase, acknowledge, w.pipe.TopicPrefix(), at, at, at)
	}
	plan := func(name, body string) (int, string, string) {
		t.Helper()
		code, out, errOut := runCLI(t, writeConfig(t, body), "plan", "-no-color")
		t.Logf("%s: exit %d\n%s\n%s", name, code, out, errOut)
		return code, out, errOut
	}
	if err := w.pipe.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	before := w.snapshot(t)

	code, out, _ := plan("below confirmed_flush_lsn", config("source_database = database.source", "", target))
	if code != ExitError || !strings.Contains(out, "error: offsets.rewind: nothing between the new position "+offsets.FormatLSN(target)) ||
		!strings.Contains(out, `acknowledge = ["no_replay_below_slot"]`) || !strings.Contains(out, `slot "offsetctl_sandbox" (pgoutput, inactive): confirmed_flush_lsn`) {
		t.Fatalf("a rewind below the slot was not refused with the slot shown: exit %d", code)
	}
	code, out, _ = plan("acknowledged", config("source_database = database.source", `acknowledge = ["no_replay_below_slot"]`, target))
	if code != 0 || !strings.Contains(out, "warning: offsets.rewind: nothing between") || strings.Contains(out, "error:") {
		t.Fatalf("an acknowledged rewind below the slot: exit %d", code)
	}
	code, out, _ = plan("no source_database", config("", "", target))
	if code != 0 || !strings.Contains(out, "add source_database = database.NAME to connector.source") {
		t.Fatalf("without source_database: exit %d", code)
	}
	// The slot moves past the target and a checkpoint lets the WAL go
	// (once no older transaction runs: other tests share the server).
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		exec("CHECKPOINT")
		advance()
		var restart string
		if err := conn.QueryRow(ctx, "SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = 'offsetctl_sandbox'").Scan(&restart); err != nil {
			t.Fatal(err)
		}
		if r, err := offsets.ParseLSN(restart); err == nil && r > target {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, out, _ = plan("WAL gone", config("source_database = database.source", `acknowledge = ["no_replay_below_slot"]`, target))
	if code != ExitError || !strings.Contains(out, "error: offsets.rewind: the new position "+offsets.FormatLSN(target)) || !strings.Contains(out, "restart_lsn") || !strings.Contains(out, "incremental snapshot") {
		t.Fatalf("a rewind below restart_lsn: exit %d", code)
	}
	// Planning only reads: the connectors' states and configurations are
	// as they were (their offsets move with the pipeline, which keeps
	// flowing), and so is the slot, which only this test advanced.
	after := w.snapshot(t)
	if fmt.Sprint(after.Status, after.Config) != fmt.Sprint(before.Status, before.Config) {
		t.Fatalf("planning changed connectors: %v -> %v", before.Status, after.Status)
	}
	var active bool
	if err := conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = 'offsetctl_sandbox'").Scan(&active); err != nil || active {
		t.Fatalf("the slot after planning: active %v, %v", active, err)
	}
}
