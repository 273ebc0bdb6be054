package command

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/realstack"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// mariaOffset is a Debezium MariaDB connector's stored offset, the fields
// the test uses.
type mariaOffset struct {
	File     string `json:"file"`
	Pos      int64  `json:"pos"`
	GTIDs    string `json:"gtids"`
	TsSec    int64  `json:"ts_sec"`
	ServerID int64  `json:"server_id"`
	Event    int64  `json:"event"`
}

// mariaSource is a Debezium MariaDB connector on the real stack capturing
// db.customers.
type mariaSource struct {
	st    *realstack.Stack
	m     *realstack.MariaDB
	c     *connect.Client
	name  string
	admin string // root's URL of the database
	db    string
}

// mariaSourceOptions shape a test's Debezium MariaDB source.
type mariaSourceOptions struct {
	db, prefix string
	serverID   int
	rows       int // customers rows before the snapshot
	// setup runs after the customers table is made (root, on db); tables
	// are the captured tables besides customers; config is added to the
	// connector's configuration.
	setup  string
	tables []string
	config map[string]string
}

// startMariaSource creates a database with a customers table on the
// stack's MariaDB, and a Debezium MariaDB connector capturing it, RUNNING.
func startMariaSource(ctx context.Context, t *testing.T, st *realstack.Stack, o mariaSourceOptions) *mariaSource {
	t.Helper()
	m, err := st.MariaDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &mariaSource{st: st, m: m, name: "mariadb-" + o.prefix, admin: m.AdminURL(o.db), db: o.db}
	mariadbtest.Exec(t, m.AdminURL(""), "CREATE DATABASE "+o.db+"; CREATE TABLE "+o.db+".customers (id int PRIMARY KEY, email varchar(100) NOT NULL, status varchar(20) NOT NULL DEFAULT 'active')")
	if o.setup != "" {
		mariadbtest.Exec(t, s.admin, o.setup)
	}
	for i := 1; i <= o.rows; i++ {
		s.insert(t, i)
	}
	if s.c, err = connect.New(connect.Config{URL: st.ConnectURL()}); err != nil {
		t.Fatal(err)
	}
	cfg := st.MariaDBConnectorConfig(m, o.db, o.prefix, o.serverID, append([]string{"customers"}, o.tables...)...)
	for k, v := range o.config {
		cfg[k] = v
	}
	cfg["name"] = s.name
	if _, err := s.c.Create(ctx, connect.CreateRequest{Name: s.name, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.c.Delete(context.Background(), s.name) })
	if _, err := s.c.WaitForState(ctx, s.name, connect.StateRunning, connect.WaitOptions{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	// The snapshot is done when the stored offset holds the server's GTID
	// position (nothing else writes): later rows are streamed.
	_, _, now := mariadbtest.BinlogPosition(t, s.admin)
	s.waitOffset(ctx, t, "the snapshot's offset (GTIDs "+now+")", func(o mariaOffset) bool { return o.GTIDs == now })
	return s
}

// waitOffset polls the connector's stored offset until done holds (two
// minutes at most).
func (s *mariaSource) waitOffset(ctx context.Context, t *testing.T, what string, done func(mariaOffset) bool) mariaOffset {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		o := s.offset(ctx, t)
		if done(o) {
			return o
		}
		if time.Now().After(deadline) {
			st, _ := s.c.Status(ctx, s.name)
			t.Fatalf("the connector %s did not commit %s within 2 minutes (stored %+v, status %+v)", s.name, what, o, st)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (s *mariaSource) insert(t *testing.T, id int) {
	t.Helper()
	mariadbtest.Exec(t, s.admin, "INSERT INTO customers (id, email) VALUES (?, ?)", id, fmt.Sprintf("c%d@example.com", id))
}

// offset reads the connector's stored offset (zero when none yet).
func (s *mariaSource) offset(ctx context.Context, t *testing.T) mariaOffset {
	t.Helper()
	offs, err := s.c.Offsets(ctx, s.name)
	if err != nil {
		t.Fatal(err)
	}
	var o mariaOffset
	for _, co := range offs.Offsets {
		if err := json.Unmarshal(co.Offset, &o); err != nil {
			t.Fatalf("offset %s: %v", co.Offset, err)
		}
	}
	return o
}

// insertCaptured inserts row id and waits until the connector has
// committed the offset of its change event. Debezium stores the position
// of the event's transaction: the binlog file and position where it
// starts, and the GTIDs completed before it (the server's GTID position
// before the insert).
func (s *mariaSource) insertCaptured(ctx context.Context, t *testing.T, id int) mariaOffset {
	t.Helper()
	file, pos, before := mariadbtest.BinlogPosition(t, s.admin)
	s.insert(t, id)
	return s.waitOffset(ctx, t, fmt.Sprintf("the change of id %d (transaction at %s:%d after GTIDs %s)", id, file, pos, before), func(o mariaOffset) bool {
		return o.GTIDs == before && o.File == file && o.Pos >= pos && o.Event > 0
	})
}

// TestRealMariaDBPurgedBinlog: on the real stack, a Debezium MariaDB
// connector captures a table across binlog rotations and is stopped; the
// binary logs before its stored position are purged (PURGE BINARY LOGS
// TO). offsetctl plan, reading the server through the connector's own
// account, refuses to set the offset back to an earlier position, naming
// the purged file, and refuses a GTID the server never wrote; the stored
// position itself passes.
func TestRealMariaDBPurgedBinlog(t *testing.T) {
	st := realstack.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := startMariaSource(ctx, t, st, mariaSourceOptions{db: "rs_purge", prefix: "rspurge", serverID: 5401, rows: 3})
	old := s.insertCaptured(ctx, t, 4)
	for id := 5; id <= 6; id++ {
		mariadbtest.Exec(t, s.admin, "FLUSH BINARY LOGS")
		s.insertCaptured(ctx, t, id)
	}
	if err := s.c.Stop(ctx, s.name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.WaitForState(ctx, s.name, connect.StateStopped, connect.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	stored := s.offset(ctx, t)
	t.Logf("offset at id 4: %+v; stored after the rotations: %+v", old, stored)
	if stored.File == old.File {
		t.Fatalf("precondition: the stored offset is still in %s", old.File)
	}
	mariadbtest.PurgeBinaryLogsTo(t, s.admin, stored.File)

	account := (&url.URL{Scheme: "mysql", User: url.UserPassword(realstack.MariaDBUser, realstack.MariaDBPassword),
		Host: fmt.Sprintf("127.0.0.1:%d", s.m.Port()), Path: "/" + s.db}).String()
	config := func(offset string) string {
		return fmt.Sprintf(`connect "real" {
  url = %q
}

kafka "real" {
  brokers = [%q]
}

database "mariadb" {
  url = env("MARIADB_URL")
}

connector "source" {
  connect         = connect.real
  kafka           = kafka.real
  name            = %q
  source_database = database.mariadb
}

offsets "rewind" {
  connector = connector.source
  reason    = "INC-9: replay the customers from id 5"

  source_partition {
    partition = { server = "rspurge" }
    offset    = %s
  }
}
`, st.ConnectURL(), st.BootstrapServers(), s.name, offset)
	}
	plan := func(name, offset string) (int, string) {
		t.Helper()
		code, out, errOut := runCLIEnv(t, map[string]string{"MARIADB_URL": account}, "plan", "-no-color", "-chdir", writeConfig(t, config(offset)))
		t.Logf("%s: exit %d\n%s\n%s", name, code, out, errOut)
		return code, out
	}
	at := func(o mariaOffset, gtids string) string {
		return fmt.Sprintf(`{ file = %q, pos = %d, gtids = %q, ts_sec = %d, server_id = %d }`, o.File, o.Pos, gtids, o.TsSec, o.ServerID)
	}
	code, out := plan("back to a purged file", at(old, old.GTIDs))
	if code != ExitError || !strings.Contains(out, "error: offsets.rewind: the binlog file "+old.File+" has been purged from the source server (its oldest is "+stored.File+")") {
		t.Fatalf("setting the offset back into the purged %s was not refused with the file named: exit %d", old.File, code)
	}
	if !strings.Contains(out, "error: offsets.rewind: the GTID "+old.GTIDs+" is older than the oldest binlog file") {
		t.Errorf("the GTIDs %s, purged too, were not refused", old.GTIDs)
	}
	code, out = plan("a GTID the server never wrote", at(stored, "0-1-999999"))
	if code != ExitError || !strings.Contains(out, "error: offsets.rewind: the GTID 0-1-999999 is not in the source server's binlog state") {
		t.Fatalf("a GTID not in gtid_binlog_state was not refused: exit %d", code)
	}
	code, out = plan("the stored position", at(stored, stored.GTIDs))
	if code != 0 || strings.Contains(out, "error:") {
		t.Fatalf("the stored position itself: exit %d", code)
	}

	// Ground truth for the refusal: written anyway (Connect's REST API,
	// past offsetctl), the old position fails Debezium's task when it starts
	// streaming: Debezium's own start-up check looks at MySQL's gtid_purged,
	// empty on MariaDB, and MariaDB refuses the purged GTID position.
	body, err := json.Marshal(map[string]any{"file": old.File, "pos": old.Pos, "gtids": old.GTIDs, "ts_sec": old.TsSec, "server_id": old.ServerID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.AlterOffsets(ctx, s.name, connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{Partition: json.RawMessage(`{"server":"rspurge"}`), Offset: body}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Resume(ctx, s.name); err != nil {
		t.Fatal(err)
	}
	// The connector stays RUNNING; its task fails.
	var trace string
	for deadline := time.Now().Add(2 * time.Minute); trace == ""; time.Sleep(300 * time.Millisecond) {
		st, err := s.c.Status(ctx, s.name)
		if err == nil {
			for _, task := range st.Tasks {
				if task.State == connect.StateFailed {
					trace = task.Trace
				}
			}
		}
		if trace == "" && time.Now().After(deadline) {
			t.Fatalf("resumed at the purged position, the task did not fail within 2 minutes: %+v %v", st, err)
		}
	}
	t.Logf("resumed at %s:%d: %s", old.File, old.Pos, firstLines(trace, 3))
	if !strings.Contains(trace, "Could not find GTID state requested by slave in any binlog files") {
		t.Errorf("the task failed for another reason than the purged binlog")
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
