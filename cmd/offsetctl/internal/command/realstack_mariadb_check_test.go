package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/realstack"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// TestRealMariaDBCheck (issue #21): offsetctl check on the real stack with
// a MariaDB source captured by Debezium's MariaDB connector and written by
// Debezium's JDBC sink into PostgreSQL. Healthy: exit 0. Drift injected in
// the sink: the comparison is redone lag-aware, the connector's stored
// binlog position is past the source snapshot's and the sink group has
// committed its topic's end, so the rows are drift (exit 2). With the sink
// connector stopped and a new source row, the row is in flight (exit 0),
// with the connector behind named.
func TestRealMariaDBCheck(t *testing.T) {
	st := realstack.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const db, sinkName, sinkTable = "rs_check", "jdbc-maria-check", "public.maria_check_customers"
	s := startMariaSource(ctx, t, st, mariaSourceOptions{db: db, prefix: "rscheck", serverID: 5403, rows: 20,
		config: map[string]string{"heartbeat.interval.ms": "200"}})
	sinkCfg := st.SinkConnectorConfig()
	sinkCfg["name"] = sinkName
	sinkCfg["topics"] = "rscheck." + db + ".customers"
	sinkCfg["collection.name.format"] = strings.TrimPrefix(sinkTable, "public.")
	if _, err := s.c.Create(ctx, connect.CreateRequest{Name: sinkName, Config: sinkCfg}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.c.Delete(context.Background(), sinkName) })
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	count := func() int {
		var n int
		if err := sink.QueryRow(ctx, "SELECT count(*) FROM "+sinkTable).Scan(&n); err != nil {
			return -1 // not created yet
		}
		return n
	}
	for deadline := time.Now().Add(2 * time.Minute); count() != 20; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the 20 snapshot rows did not reach the sink within 2 minutes (%d)", count())
		}
	}
	dir := writeConfig(t, fmt.Sprintf(`connect "real" {
  url = %q
}

kafka "real" {
  brokers = [%q]
}

connector "source" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
}

connector "sink" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
}

database "source" {
  url = env("SOURCE_URL")
}

database "sink" {
  url = env("SINK_URL")
}

reconcile "customers" {
  source     = database.source
  sink       = database.sink
  table      = "%s.customers"
  sink_table = %q
  connectors = [connector.source, connector.sink]

  check {
    mode = "rows"
  }
}
`, st.ConnectURL(), st.BootstrapServers(), s.name, sinkName, db, sinkTable))
	env := map[string]string{"SOURCE_URL": s.admin, "SINK_URL": st.SinkDB()}
	check := func(name string, settle string) (int, views.CheckTable) {
		t.Helper()
		code, out, errOut := runCLIEnv(t, env, "check", "-chdir", dir, "--settle", settle, "-json")
		t.Logf("check %s: exit %d\n%s\n%s", name, code, out, errOut)
		var r views.CheckResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Tables) != 1 {
			t.Fatalf("check %s -json: %v", name, err)
		}
		return code, r.Tables[0]
	}
	if code, tb := check("healthy", "1m"); code != 0 || tb.Verdict != checkHealthy || tb.SourceRows != 20 {
		t.Fatalf("healthy: exit %d, %+v", code, tb)
	}
	if _, err := sink.Exec(ctx, "DELETE FROM "+sinkTable+" WHERE id = 3; UPDATE "+sinkTable+" SET email = 'edited@example.com' WHERE id = 5"); err != nil {
		t.Fatal(err)
	}
	code, tb := check("drift", "1m")
	if code != ExitChanges || tb.Verdict != checkDrift || !tb.Settled || tb.Missing != 1 || tb.Mismatched != 1 || tb.SnapshotBinlog == "" ||
		!strings.Contains(tb.Pipeline, "the pipeline delivered every change up to the source's snapshot "+tb.SnapshotBinlog) {
		t.Fatalf("drift: exit %d, %+v", code, tb)
	}
	// The sink stops; a new source row cannot reach it: in flight.
	if err := s.c.Stop(ctx, sinkName); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.WaitForState(ctx, sinkName, connect.StateStopped, connect.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	s.insert(t, 21)
	// Debezium's stored pos is the start of the last transaction it sent
	// until a later event (a heartbeat) moves it: the report names the
	// source connector while its stored pos is before the snapshot, the
	// sink connector once it is past.
	code, tb = check("in flight", "5s")
	if code != 0 || tb.Verdict != checkInFlight || tb.Missing != 2 ||
		!strings.Contains(tb.Pipeline, "the source connector "+s.name+" has stored binlog.") && !strings.Contains(tb.Pipeline, "the sink connector "+sinkName+" has") {
		t.Fatalf("in flight: exit %d, %+v", code, tb)
	}
}
