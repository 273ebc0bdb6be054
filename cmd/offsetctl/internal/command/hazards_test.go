package command

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// TestPlanRefusesHidingDataLoss: a Debezium PostgreSQL connector whose
// stored offset is below its replication slot's restart_lsn (the WAL from
// there is gone) cannot resume; moving its offset to a position the slot
// still holds makes it run again and hides the loss of the changes in
// between. plan refuses that edit in one line that points the operator to
// the repairs that bring the data back, and accepts it once acknowledged.
func TestPlanRefusesHidingDataLoss(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := w.pipe.SourceDB()
	exec, lsn := sourceSlot(ctx, t, src)
	gone := lsn("SELECT pg_current_wal_lsn()::text")
	if _, err := w.pipe.InsertN(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	// The slot moves on and a checkpoint lets the WAL at gone go (once no
	// older transaction runs: other tests share the server).
	for i := 0; i < 50; i++ {
		exec("SELECT pg_switch_wal()")
		exec("SELECT pg_replication_slot_advance('offsetctl_sandbox', pg_current_wal_flush_lsn())")
		exec("CHECKPOINT")
		if lsn("SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = 'offsetctl_sandbox'") > gone {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The connector is stopped at a position whose WAL is gone, as after
	// downtime longer than the WAL was kept.
	c, err := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, w.pipe.SourceConnector()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AlterOffsets(ctx, w.pipe.SourceConnector(), connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: []byte(fmt.Sprintf(`{"server":%q}`, w.pipe.TopicPrefix())),
		Offset:    []byte(fmt.Sprintf(`{"lsn":%d,"lsn_proc":%d,"lsn_commit":%d,"ts_usec":1764000000000000}`, gone, gone, gone)),
	}}}); err != nil {
		t.Fatal(err)
	}
	now := lsn("SELECT pg_current_wal_lsn()::text")
	config := func(acknowledge string) string {
		return fmt.Sprintf(`connect "sandbox" {
  url = %q
}

kafka "sandbox" {
  brokers = [%q]
}

database "source" {
  url = %q
}

connector "source" {
  connect         = connect.sandbox
  kafka           = kafka.sandbox
  name            = %q
  source_database = database.source
}

offsets "resume" {
  connector = connector.source
  reason    = "INC-2: the connector fails with WAL no longer available"
  %s

  source_partition {
    partition = { server = %q }
    offset    = { lsn = %d, lsn_proc = %d, lsn_commit = %d }
    merge     = true
  }
}
`, w.sb.ConnectURL(), w.sb.BootstrapServers()[0], src, w.pipe.SourceConnector(), acknowledge, w.pipe.TopicPrefix(), now, now, now)
	}
	code, out, errOut := runCLI(t, writeConfig(t, config("")), "plan", "-no-color")
	t.Logf("exit %d\n%s\n%s", code, out, errOut)
	line := fmt.Sprintf("error: offsets.resume: partition {\"server\":%q}: the source no longer holds the log at the stored position %s (below_restart_lsn), so the changes from there to the new position %s are lost, and this edit only moves the connector past the gap, which hides the loss; repair the data instead with a reconcile block (repair = \"snapshot_signal\" for a Debezium incremental snapshot, or repair = \"upsert\"), or acknowledge = [\"source_log_gap\"] to accept the loss",
		w.pipe.TopicPrefix(), offsets.FormatLSN(gone), offsets.FormatLSN(now))
	if code != ExitError || !strings.Contains(out, line+"\n") {
		t.Fatalf("moving past the lost WAL: exit %d, want %d and the line\n%s", code, ExitError, line)
	}
	code, out, errOut = runCLI(t, writeConfig(t, config(`acknowledge = ["source_log_gap"]`)), "plan", "-no-color")
	t.Logf("acknowledged: exit %d\n%s\n%s", code, out, errOut)
	if code != 0 || !strings.Contains(out, "which hides the loss; acknowledged (source_log_gap)") || strings.Contains(out, "error:") {
		t.Fatalf("an acknowledged move past the lost WAL: exit %d", code)
	}
}

// sourceSlot makes, in the source database src, the replication slot and
// publication a Debezium PostgreSQL connector keeps (the sandbox's source
// names slot.name offsetctl_sandbox; the slot is dropped at the end), and
// returns, on a connection to it, a statement runner and a query for one
// LSN (as text), both failing t.
func sourceSlot(ctx context.Context, t *testing.T, src string) (exec func(sql string, args ...any), lsn func(query string) uint64) {
	t.Helper()
	conn := pgtest.Conn(t, src)
	exec = func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	lsn = func(query string) uint64 {
		t.Helper()
		var text string
		if err := conn.QueryRow(ctx, query).Scan(&text); err != nil {
			t.Fatal(err)
		}
		v, err := offsets.ParseLSN(text)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	exec("SELECT pg_create_logical_replication_slot('offsetctl_sandbox', 'pgoutput')")
	t.Cleanup(func() {
		_, _ = pgtest.Conn(t, src).Exec(context.Background(), "SELECT pg_drop_replication_slot('offsetctl_sandbox')")
	})
	exec("CREATE PUBLICATION dbz_publication FOR ALL TABLES")
	return exec, lsn
}
