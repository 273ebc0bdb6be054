package examples_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// alignWithRestoredSink is scenario (c): the sink table is restored from a
// backup while the sink's offsets say every change was applied. Moving the
// offsets back to the backup's time replays everything written since, so
// the rows inserted, updated and deleted after the backup are right again.
func alignWithRestoredSink(w *world) {
	t := w.t
	w.note("A healthy pipeline: customers 1-20 streamed to the sink (offsets 0-19).")
	w.insert(1, 20)
	w.caughtUp()

	// The backup is taken at a whole second, after every record so far was
	// written: the README's time is the operator's, to the second.
	next := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(next))
	backupTime := next.UTC().Format(time.RFC3339)
	w.note("%s: the hourly backup of the sink table.", backupTime)
	backup := "customers-backup.csv"
	w.psqlCopy(`\copy customers TO '`+backup+`' CSV`, func(ctx context.Context, c *pgx.Conn) (string, error) {
		f, err := os.Create(filepath.Join(w.dir, backup))
		if err != nil {
			return "", err
		}
		defer f.Close()
		tag, err := c.PgConn().CopyTo(ctx, f, `COPY public.customers TO STDOUT (FORMAT csv)`)
		return tag.String(), err
	})

	w.note("After the backup: customers 21-30 sign up, customer 5 becomes vip, customer 7 is deleted.")
	w.insert(21, 30)
	if err := w.pipe.Update(w.ctx, 5, "vip"); err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.Delete(w.ctx, 7); err != nil {
		t.Fatal(err)
	}
	w.caughtUp()
	w.inSync()

	w.note("A migration meant for staging empties the sink's customers table. The DBA stops the sink and restores the backup.")
	w.sqlExec("TRUNCATE public.customers")
	w.curl(204, "PUT", "/connectors/customers-sink/stop", "")
	w.psqlCopy(`\copy customers FROM '`+backup+`' CSV`, func(ctx context.Context, c *pgx.Conn) (string, error) {
		f, err := os.Open(filepath.Join(w.dir, backup))
		if err != nil {
			return "", err
		}
		defer f.Close()
		tag, err := c.PgConn().CopyFrom(ctx, f, `COPY public.customers FROM STDIN (FORMAT csv)`)
		return tag.String(), err
	})
	if got := ids(w.sinkRows()); len(got) != 20 {
		t.Fatalf("the restored sink table holds %d customers, want the backup's 20", len(got))
	}

	r := w.must(0, "offsets", "show", sinkConnector)
	w.contains("offsets show", r.out, "shop.public.customers  0          33         0          33       0")
	r = w.must(2, "diff", "--table", "customers")
	w.contains("diff", r.out, "10 missing, 1 extra, 1 different.")

	w.must(0, "validate")
	w.must(0, "fmt", "-check")
	w.export("OFFSETCTL_VAR_backup_time", "", backupTime)
	r = w.must(0, "plan", "-out", "align.plan")
	w.contains("plan", r.out, "33 → 20  (replays 13 records)", "Plan: 1 operation to apply")
	r = w.must(0, "apply", "align.plan")
	w.contains("apply", r.out, "Apply complete! 1 operation applied, 1 partition changed and verified.")
	if st := w.status(sinkConnector); st.Connector.State != "STOPPED" {
		t.Fatalf("after apply the sink is %s, want STOPPED as the DBA left it", st.Connector.State)
	}
	w.curl(202, "PUT", "/connectors/customers-sink/resume", "")
	w.waitTask(sinkConnector, "RUNNING")
	w.caughtUp()

	// The effect on the data: the ten sign-ups are back, customer 5 is vip
	// again and customer 7 is gone again: the sink table is the source's.
	w.inSync()
	rows := w.sinkRows()
	if got := ids(rows); slices.Contains(got, 7) || len(got) != 29 {
		t.Fatalf("sink customers after the replay: %v, want 1-30 without 7", got)
	}
	for _, c := range rows {
		if c.ID == 5 && c.Status != "vip" {
			t.Fatalf("customer 5 is %q in the sink after the replay, want vip", c.Status)
		}
	}
	w.must(0, "diff", "--table", "customers")
	r = w.must(0, "state", "show", "1")
	w.contains("state show", r.out, "align_with_restored_sink")
}

// psqlCopy runs what the README runs with psql "$SINK_DATABASE_URL" -c
// "\copy ...", with pgx's COPY, and records psql's answer.
func (w *world) psqlCopy(meta string, do func(ctx context.Context, c *pgx.Conn) (string, error)) {
	w.t.Helper()
	c, err := pgx.Connect(w.ctx, w.pipe.SinkDB())
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close(context.Background())
	tag, err := do(w.ctx, c)
	if err != nil {
		w.t.Fatalf("%s: %v", meta, err)
	}
	w.record(fmt.Sprintf(`psql "$SINK_DATABASE_URL" -c "%s"`, meta), tag, 0)
}

// sqlExec runs a statement in the sink database, unrecorded: what broke it.
func (w *world) sqlExec(sql string) {
	w.t.Helper()
	c, err := pgx.Connect(w.ctx, w.pipe.SinkDB())
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(w.ctx, sql); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}
