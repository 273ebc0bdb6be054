package command

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/realstack"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// TestRealMariaDBPipelineReconcile (issue #21): on the real stack, rows
// captured by Debezium's MariaDB connector and written by Debezium's JDBC
// sink into PostgreSQL compare equal with offsetctl diff (MariaDB source
// URL, PostgreSQL sink). Drift injected in the sink is found key by key,
// repaired by a reconcile block (upsert), verified, and rolled back; then
// repaired again by snapshot_signal, through the connector's signalling
// table: Debezium re-reads the drifted keys and the JDBC sink writes them.
func TestRealMariaDBPipelineReconcile(t *testing.T) {
	st := realstack.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	const db, sinkTable = "rs_pipe", "public.maria_customers"
	// Debezium writes its incremental snapshot watermarks into the
	// signalling table with its own account.
	s := startMariaSource(ctx, t, st, mariaSourceOptions{db: db, prefix: "rspipe", serverID: 5402, rows: 20,
		setup: "CREATE TABLE debezium_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)); " +
			"GRANT INSERT, UPDATE, DELETE ON " + db + ".debezium_signal TO '" + realstack.MariaDBUser + "'@'127.0.0.1'",
		tables: []string{"debezium_signal"},
		config: map[string]string{"signal.data.collection": db + ".debezium_signal", "incremental.snapshot.chunk.size": "100"}})
	sinkCfg := st.SinkConnectorConfig()
	sinkCfg["name"] = "jdbc-maria"
	sinkCfg["topics"] = "rspipe." + db + ".customers"
	sinkCfg["collection.name.format"] = strings.TrimPrefix(sinkTable, "public.")
	if _, err := s.c.Create(ctx, connect.CreateRequest{Name: "jdbc-maria", Config: sinkCfg}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.c.Delete(context.Background(), "jdbc-maria") })
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	dump := func() string {
		t.Helper()
		var out string
		if err := sink.QueryRow(ctx, "SELECT coalesce(string_agg(c::text, ',' ORDER BY id), '') FROM "+sinkTable+" c").Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// waitSink polls the sink table until check holds (the pipeline is
	// asynchronous; two minutes at most).
	waitSink := func(what string, check func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !check() {
			if time.Now().After(deadline) {
				st, _ := s.c.Status(ctx, "jdbc-maria")
				t.Fatalf("%s: not within 2 minutes; sink %s; sink status %+v", what, dump(), st)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	count := func() int {
		var n int
		if err := sink.QueryRow(ctx, "SELECT count(*) FROM "+sinkTable).Scan(&n); err != nil {
			return -1 // not created yet
		}
		return n
	}
	waitSink("the 20 snapshot rows in the sink", func() bool { return count() == 20 })
	s.insert(t, 21)
	waitSink("a streamed row in the sink", func() bool { return count() == 21 })

	source := s.m.AdminURL(db)
	diff := func(name string) (int, string) {
		t.Helper()
		code, out, errOut := runCLI(t, "", "diff", "--source", source, "--sink", st.SinkDB(), "--table", "customers", "--sink-table", sinkTable)
		t.Logf("diff %s: exit %d\n%s\n%s", name, code, out, errOut)
		return code, out
	}
	if code, _ := diff("captured"); code != 0 {
		t.Fatalf("the rows Debezium captured and the JDBC sink wrote do not compare equal: exit %d", code)
	}

	// Drift, found key by key.
	if _, err := sink.Exec(ctx, "DELETE FROM "+sinkTable+" WHERE id IN (3, 4); UPDATE "+sinkTable+" SET email = 'edited@example.com' WHERE id = 5; INSERT INTO "+sinkTable+" (id, email, status) VALUES (99, 'orphan@example.com', 'active')"); err != nil {
		t.Fatal(err)
	}
	drifted := dump()
	code, out := diff("drifted")
	if code != ExitChanges {
		t.Fatalf("drift not reported: exit %d", code)
	}
	for _, want := range []string{"3", "4", "5", "99"} {
		if !strings.Contains(out, want) {
			t.Errorf("the diff does not list key %s", want)
		}
	}

	// Repaired by upsert, verified, rolled back.
	sinkURL, err := url.Parse(st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	config := func(repair, extra string) string {
		return fmt.Sprintf(`database "source" {
  url = env("SOURCE_URL")
}

database "sink" {
  url = env("SINK_URL")
}

reconcile "customers" {
  source      = database.source
  sink        = database.sink
  table       = "%s.customers"
  sink_table  = %q
  repair      = %q
  max_changes = 10
  reason      = "INC-21: the JDBC sink lost and changed rows"
%s}
`, db, sinkTable, repair, extra)
	}
	env := map[string]string{"SOURCE_URL": source, "SINK_URL": sinkURL.String()}
	state := filepath.Join(t.TempDir(), "state.json")
	cli := func(name, dir string, args ...string) (int, string) {
		t.Helper()
		if dir != "" {
			args = append(args, "-chdir", dir)
		}
		code, out, errOut := runCLIEnv(t, env, args...)
		t.Logf("%s: exit %d\n%s\n%s", name, code, out, errOut)
		return code, out + errOut
	}
	dir := writeConfig(t, config("upsert", "  delete_extra = true\n"))
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if code, out := cli("plan upsert", dir, "plan", "-state", state, "-out", planFile); code != 0 || !strings.Contains(out, "2 rows to insert") || !strings.Contains(out, "1 to update") || !strings.Contains(out, "1 to delete") {
		t.Fatalf("plan upsert: exit %d", code)
	}
	if code, out := cli("apply upsert", dir, "apply", planFile, "-state", state); code != 0 || !strings.Contains(out, "checksums equal") {
		t.Fatalf("apply upsert: exit %d", code)
	}
	if code, _ := diff("repaired"); code != 0 {
		t.Fatalf("after the repair: exit %d", code)
	}
	if code, _ := cli("rollback", dir, "rollback", "-state", state, "-auto-approve"); code != 0 {
		t.Fatalf("rollback: exit %d", code)
	}
	if got := dump(); got != drifted {
		t.Fatalf("after rollback the sink is not the drifted table it was:\n%s\nwant\n%s", got, drifted)
	}

	// Repaired by snapshot_signal: Debezium re-reads keys 3, 4 and 5 and the
	// JDBC sink writes them; the extra row 99 stays (a signal cannot delete).
	dir = writeConfig(t, config("snapshot_signal", fmt.Sprintf("  signal_table = %q\n", db+".debezium_signal")))
	planFile = filepath.Join(t.TempDir(), "plan-signal.json")
	if code, _ := cli("plan snapshot_signal", dir, "plan", "-state", state, "-out", planFile); code != 0 {
		t.Fatalf("plan snapshot_signal: exit %d", code)
	}
	// apply waits for the re-sent rows and verifies them; the extra row
	// makes it incomplete (exit 4), as the plan said.
	if code, out := cli("apply snapshot_signal", dir, "apply", planFile, "-state", state); code != ExitIncomplete ||
		!strings.Contains(out, "execute-snapshot signal(s) for 3 keys inserted into "+db+".debezium_signal") || !strings.Contains(out, "3 repaired rows equal") || !strings.Contains(out, "1 extra (key 99)") {
		t.Fatalf("apply snapshot_signal: exit %d", code)
	}
	waitSink("keys 3, 4 and 5 re-sent by the incremental snapshot", func() bool {
		var n int
		err := sink.QueryRow(ctx, "SELECT count(*) FROM "+sinkTable+" WHERE id IN (3, 4) OR (id = 5 AND email = 'c5@example.com')").Scan(&n)
		return err == nil && n == 3
	})
	if _, err := sink.Exec(ctx, "DELETE FROM "+sinkTable+" WHERE id = 99"); err != nil {
		t.Fatal(err)
	}
	if code, _ := diff("after snapshot_signal"); code != 0 {
		t.Fatalf("after the snapshot signal and deleting the extra row: exit %d", code)
	}
}
