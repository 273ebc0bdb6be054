package plan_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// dbClients opens every database block at the same URL.
type dbClients struct {
	t   *testing.T
	url string
}

func (c *dbClients) Connect(b *config.Connect) (*connect.Client, error) {
	return connect.New(connect.Config{URL: b.URL})
}
func (c *dbClients) Kafka(*config.Kafka) (*kgo.Client, error) { return nil, nil }
func (c *dbClients) Database(ctx context.Context, d *config.Database) (*pgxpool.Pool, error) {
	return pgtest.Pool(c.t, d.URL.Value()), nil
}

const reconcileTables = `CREATE SCHEMA s; CREATE SCHEMA d;
CREATE TABLE s.customers (id bigint PRIMARY KEY, email text NOT NULL, status text, updated_at timestamptz NOT NULL);
INSERT INTO s.customers SELECT i, 'user' || i || '@example.com', 'active', timestamptz '2026-11-01 00:00:00.123456+00' + i * interval '1 minute' FROM generate_series(1, 50) i;
CREATE TABLE d.customers (id bigint PRIMARY KEY, email text NOT NULL, status text, updated_at timestamp(3) NOT NULL, __op text);
INSERT INTO d.customers SELECT id, email, status, updated_at AT TIME ZONE 'UTC', 'c' FROM s.customers;
DELETE FROM d.customers WHERE id IN (4, 5);
UPDATE d.customers SET email = 'secret-changed@example.com' WHERE id = 9;
UPDATE d.customers SET status = 'gone', updated_at = '2026-01-01' WHERE id = 10;
INSERT INTO d.customers VALUES (77, 'ghost@example.com', NULL, '2026-01-01', 'c');`

func planReconcile(t *testing.T, url, block string) *plan.Plan {
	t.Helper()
	p, _, _ := planReconcileWith(t, url, block)
	return p
}

// planReconcileWith plans block and returns the plan with the configuration
// and the planner that made it.
func planReconcileWith(t *testing.T, url, block string) (*plan.Plan, *config.Config, *plan.Planner) {
	t.Helper()
	dir := t.TempDir()
	hcl := `database "source" { url = env("SRC_URL") }
database "sink"   { url = env("SINK_URL") }
` + block
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{Getenv: func(string) string { return url }})
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	pl := &plan.Planner{Clients: &dbClients{t: t, url: url}, Version: "0.1.0-test",
		Now: func() time.Time { return time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC) }}
	p, err := pl.Plan(context.Background(), cfg, plan.Options{State: plan.StateRef{Lineage: "9b2e61c0", Serial: 3}})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p, cfg, pl
}

const customersBlock = `reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "s.customers"
  sink_table          = "d.customers"
  ignore_columns      = ["__op"]
  timestamp_precision = "ms"
  repair              = "upsert"
  delete_extra        = true
  max_changes         = %d
  reason              = "INC-4711: sink drifted"
}
`

func TestPlanReconcileGoldens(t *testing.T) {
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, reconcileTables)
	cases := []struct {
		name  string
		block string
	}{
		{"upsert", strings.Replace(customersBlock, "%d", "100", 1)},
		{"max_changes_exceeded", strings.Replace(customersBlock, "%d", "3", 1)},
		{"by_day", strings.Replace(strings.Replace(customersBlock, "%d", "100", 1), "  reason", "  by                  = \"day:updated_at\"\n  reason", 1)},
		// delete_extra does nothing with snapshot_signal (a snapshot cannot
		// delete a row): the extra row is not counted as a change.
		{"snapshot_signal_delete_extra", strings.Replace(strings.Replace(customersBlock, "%d", "100", 1), `"upsert"`, "\"snapshot_signal\"\n  signal_table        = \"s.debezium_signal\"", 1)},
		{"report_only", `reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "s.customers"
  sink_table          = "d.customers"
  ignore_columns      = ["__op"]
  timestamp_precision = "ms"
}
`},
		{"no_drift", `reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "s.customers"
  sink_table          = "d.customers"
  ignore_columns      = ["__op"]
  timestamp_precision = "ms"
  where               = "id > 10 AND id < 50"
  repair              = "upsert"
  by                  = "hour:updated_at"
  reason              = "test"
}
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := planReconcile(t, url, tc.block)
			data, err := plan.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"@example.com", url, "active", "gone"} {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("the plan file holds %q (row values or a URL)", secret)
				}
			}
			back, err := plan.Read("plan.json", bytes.NewReader(data))
			if err != nil {
				t.Fatalf("reading the plan back: %v", err)
			}
			again, _ := plan.Marshal(back)
			if !bytes.Equal(again, data) {
				t.Errorf("the plan file does not round-trip")
			}
			var txt, md bytes.Buffer
			if err := render.Text(&txt, back, render.Options{}); err != nil {
				t.Fatal(err)
			}
			if err := render.Markdown(&md, back, 0); err != nil {
				t.Fatal(err)
			}
			goldens.Assert(t, "plan.json", hashRE.ReplaceAll(data, []byte("sha256:HASH")))
			goldens.Assert(t, "text", txt.Bytes())
			goldens.Assert(t, "markdown", hashRE.ReplaceAll(md.Bytes(), []byte("sha256:HASH")))
		})
	}
}

func TestPlanReconcileRefusesBadInput(t *testing.T) {
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, "CREATE TABLE a (x int, y text); CREATE TABLE b (x int, y text);")
	p := planReconcile(t, url, `reconcile "nokey" {
  source = database.source
  sink   = database.sink
  table  = "a"
  sink_table = "b"
  repair = "upsert"
  reason = "test"
}
`)
	if !p.HasErrors() || p.Operations[0].Status != plan.StatusBlocked || !strings.Contains(p.Checks[0].Message, "no primary key") {
		t.Fatalf("plan of a table without a key: %+v %+v", p.Operations, p.Checks)
	}
}

// TestVerifyReconcile: a reconcile operation's differences are observed
// data, but what the configuration decides of it (repair, delete_extra,
// max_changes, its status) is computed again, and an edit is refused.
func TestVerifyReconcile(t *testing.T) {
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, reconcileTables)
	upsert := strings.Replace(customersBlock, "%d", "100", 1)
	for _, tc := range []struct {
		name, block string
		edit        func(op *plan.Operation)
		want        string
	}{
		{"as planned", upsert, func(*plan.Operation) {}, ""},
		{"as planned, blocked", strings.Replace(customersBlock, "%d", "3", 1), func(*plan.Operation) {}, ""},
		{"delete_extra", upsert, func(op *plan.Operation) { op.Reconcile.DeleteExtra = false },
			"reconcile.customers: delete_extra is false in the plan, the configuration says true"},
		{"repair", upsert, func(op *plan.Operation) { op.Reconcile.Repair = plan.RepairSnapshotSignal },
			`reconcile.customers: repair is "snapshot_signal" in the plan, the configuration says "upsert"`},
		{"max_changes", upsert, func(op *plan.Operation) { op.Reconcile.MaxChanges = 5 },
			"reconcile.customers: max_changes is 5 in the plan, the configuration says 100"},
		{"block hash", upsert, func(op *plan.Operation) { op.BlockHash = "sha256:00" },
			`reconcile.customers: block_hash is "sha256:00" in the plan`},
		{"over max_changes made a change", strings.Replace(customersBlock, "%d", "3", 1), func(op *plan.Operation) { op.Status = plan.StatusChange },
			"reconcile.customers: status is change in the plan, the configuration says blocked"},
		{"no drift made a change", upsert, func(op *plan.Operation) {
			d := op.Reconcile
			d.Missing, d.Extra, d.Mismatched, d.SinkChecksum = nil, nil, nil, d.SourceChecksum
		}, "reconcile.customers: status is change in the plan, the configuration says no_change"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg, pl := planReconcileWith(t, url, tc.block)
			tc.edit(&p.Operations[0])
			data, err := plan.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			back, err := plan.Read("plan.json", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			err = pl.Verify(cfg, back, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Verify of the plan as made: %v", err)
			case tc.want == "":
			case err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, plan.ErrNotFromConfig):
				t.Fatalf("Verify = %v, want ErrNotFromConfig containing %q", err, tc.want)
			}
		})
	}
}

// TestPlanReconcileRefusesSameTable: two database blocks whose URLs reach
// one database (here: both the same URL) and a block that names one table on
// both sides — directly or through sink_table — plan no "no drift" but a
// blocked operation with an error check. Two tables of one database are
// planned as usual.
func TestPlanReconcileRefusesSameTable(t *testing.T) {
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, reconcileTables)
	tests := []struct {
		name, tables string
		wantBlocked  bool
	}{
		{"same table", `table = "s.customers"`, true},
		{"same table spelled twice", `table = "s.customers"
  sink_table = "\"s\".\"customers\""`, true},
		{"sink_table is the table", `table = "s.customers"
  sink_table = "s.customers"`, true},
		{"two tables", `table = "s.customers"
  sink_table = "d.customers"
  ignore_columns = ["__op"]
  timestamp_precision = "ms"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planReconcile(t, url, `reconcile "customers" {
  source = database.source
  sink   = database.sink
  `+tt.tables+`
  repair = "upsert"
  reason = "INC-4711: check the sink"
}
`)
			if !tt.wantBlocked {
				for _, c := range p.Checks {
					if c.Code == "same_table" {
						t.Fatalf("refused two tables: %+v", c)
					}
				}
				return
			}
			if !p.HasErrors() || p.Operations[0].Status != plan.StatusBlocked || len(p.Checks) == 0 || p.Checks[0].Code != "same_table" {
				t.Fatalf("want a blocked operation with a same_table check: %+v %+v", p.Operations, p.Checks)
			}
			for _, w := range []string{"database.source and database.sink reach the same database", "the same table s.customers", "Point database.sink's url at the sink database"} {
				if !strings.Contains(p.Checks[0].Message, w) {
					t.Errorf("check message does not contain %q: %s", w, p.Checks[0].Message)
				}
			}
		})
	}
}
