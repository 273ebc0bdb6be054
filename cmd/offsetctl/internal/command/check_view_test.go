package command

import (
	"bytes"
	"context"
	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// sampleCheckResult is a check run with one of everything: a drifted table,
// a table in flight, one that failed, a lagging sink with a failed task, a
// source behind its database, and a backup.
func sampleCheckResult() *views.CheckResult {
	lag, maxLag, maxSecs := int64(1500), int64(1000), int64(900)
	r := &views.CheckResult{FormatVersion: views.CheckFormat, OffsetctlVersion: "test", StartedAt: time.Date(2026, 11, 20, 3, 17, 0, 0, time.UTC), DurationSeconds: 12.5,
		Tables: []views.CheckTable{
			{Block: "reconcile.customers", Table: "public.customers", SinkTable: "public.customers", Mode: "rows", Verdict: checkDrift, SourceRows: 1000, SinkRows: 998, Missing: 2, Mismatched: 1, RowsDifferent: 3, RowsRead: 2000, Queries: 8, DurationSeconds: 1.25},
			{Block: "reconcile.orders", Table: "public.orders", SinkTable: "public.orders", Mode: "checksum", Verdict: checkInFlight, SourceRows: 50, SinkRows: 49, RowsDifferent: 1, ChecksumDiffers: true, RowsRead: 99, Queries: 2, DurationSeconds: 0.5, Settled: true,
				SnapshotLSN: "0/1A2B3C8", Pipeline: "the source connector orders-source has stored 0/1A2B000, before the source's snapshot 0/1A2B3C8: its changes up to the snapshot may not have reached the sink (an idle source moves its stored position only with heartbeat.interval.ms)"},
			{Block: "reconcile.ghost", Table: "public.ghost", SinkTable: "public.ghost", Mode: "counts", Verdict: checkError, Error: `comparing public.ghost with public.ghost: table "public.ghost" does not exist in the source`},
		},
		Connectors: []views.CheckConn{
			{Block: "reconcile.customers", Connector: "customers-sink", Type: "sink", State: "RUNNING", Tasks: 2, FailedTasks: 1, Verdict: checkLag,
				SinkLag: []views.CheckSinkLag{{Topic: "shop.public.customers", Partition: 0, Committed: 10, LogEnd: 1510, Lag: 1500}}, SinkLagRecords: &lag, MaxLagRecords: &maxLag,
				Problems: []string{"1 failed tasks (max_failed_tasks 0)", "group lag 1500 records (max_lag_records 1000)"}},
			{Block: "reconcile.customers", Connector: "customers-source", Type: "source", State: "RUNNING", Tasks: 1, Verdict: checkHealthy,
				SourceLag: &views.CheckSourceLag{StoredLSN: 100, CurrentLSN: 4196, Bytes: 4096, Seconds: 3.5}, MaxLagSeconds: &maxSecs},
		},
		Backup: &views.CheckBackupAge{Dir: "/var/lib/offsetctl/backups", Newest: "/var/lib/offsetctl/backups/offsets-20261120T020500Z.json", TakenAt: time.Date(2026, 11, 20, 2, 5, 0, 0, time.UTC), AgeSeconds: 4320},
	}
	summarizeCheck(r)
	return r
}

func TestCheckViews(t *testing.T) {
	r := sampleCheckResult()
	if r.Verdict != checkError || checkExit(r) != ExitError {
		t.Fatalf("verdict %s exit %d, want error/1", r.Verdict, checkExit(r))
	}
	render := func(asJSON, markdown bool) *bytes.Buffer {
		streams, _, out, _ := iostreams.Test()
		if err := views.NewCheck(streams, asJSON, markdown).Result(r); err != nil {
			t.Fatal(err)
		}
		return out
	}
	text, md, js := render(false, false), render(false, true), render(true, false)
	goldens.Assert(t, "text", text.Bytes())
	goldens.Assert(t, "markdown", md.Bytes())
	goldens.Assert(t, "json", js.Bytes())

	reg, err := checkRegistry(r)
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var prom bytes.Buffer
	enc := expfmt.NewEncoder(&prom, expfmt.NewFormat(expfmt.TypeTextPlain))
	var names []string
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
		names = append(names, mf.GetName())
	}
	sort.Strings(names)
	goldens.Assert(t, "metrics", prom.Bytes())
	// examples/monitoring's test holds its alert rules to these names.
	goldens.Assert(t, "metric_names", []byte(strings.Join(names, "\n")+"\n"))
}

// TestCheckPush: --push-url sends the run's metrics to a Pushgateway (PUT
// /metrics/job/offsetctl_check), decodable as Prometheus' exposition.
func TestCheckPush(t *testing.T) {
	type got struct {
		method, path string
		names        []string
	}
	ch := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := got{method: r.Method, path: r.URL.Path}
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				break
			}
			g.names = append(g.names, mf.GetName())
		}
		ch <- g
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	o := &checkOptions{pushURL: srv.URL}
	if err := checkPublish(context.Background(), o, sampleCheckResult()); err != nil {
		t.Fatal(err)
	}
	g := <-ch
	if g.method != http.MethodPut || g.path != "/metrics/job/offsetctl_check" || !slices.Contains(g.names, "offsetctl_check_rows_different") {
		t.Errorf("push: %s %s %v", g.method, g.path, g.names)
	}
}
