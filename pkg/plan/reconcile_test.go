package plan_test

import (
	"bytes"
	"context"
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
	return p
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
