package command

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// checkHCL is the world's blocks plus a reconcile block tied to the
// pipeline's connectors, with a check block, and extra reconcile blocks.
func (w *world) checkHCL(mode string, extra string) string {
	return fmt.Sprintf(`connect "sandbox" {
  url = %q
}

kafka "sandbox" {
  brokers = [%q]
}

connector "sink" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = %q
}

database "source" {
  url = %q
}

database "sink" {
  url = %q
}

connector "pg_source" {
  connect         = connect.sandbox
  kafka           = kafka.sandbox
  name            = %q
  source_database = database.source
}

reconcile "customers" {
  source     = database.source
  sink       = database.sink
  table      = "public.customers"
  connectors = [connector.pg_source, connector.sink]

  check {
    mode             = %q
    max_failed_tasks = 0
    max_lag_records  = 1000
  }
}
`, w.sb.ConnectURL(), w.sb.BootstrapServers()[0], w.pipe.SinkConnector(), w.pipe.SourceDB(), w.pipe.SinkDB(), w.pipe.SourceConnector(), mode) + extra
}

// startCheckWorld is a sandbox world whose source sends heartbeats, as a
// Debezium source should for check to see it has caught up when idle.
func startCheckWorld(t *testing.T, rows int) *world {
	t.Helper()
	return startWorldWith(t, "3.8", rows, sandbox.PipelineOptions{Heartbeat: 100 * time.Millisecond})
}

// parseMetrics parses the text exposition format as Prometheus does.
func parseMetrics(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("the metrics do not parse as the Prometheus text format: %v", err)
	}
	return mfs
}

// metricValue returns the value of the sample of name whose labels include
// want, and whether there is one.
func metricValue(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// TestCheckListenOnTheSandbox: check --listen serves /metrics, re-checks on
// its interval, and the metrics follow injected drift and a failed task.
func TestCheckListenOnTheSandbox(t *testing.T) {
	w := startCheckWorld(t, 20)
	dir := writeConfig(t, w.checkHCL("rows", ""))
	s, _, _, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: time.Now}
	o := &checkOptions{deps: deps, g: &globalOptions{Timeout: 10 * time.Second}, cfg: configOptions{chdir: dir},
		listen: "127.0.0.1:0", interval: 50 * time.Millisecond, jitter: 0.2, maxConcurrent: 1, stmtTimeout: time.Minute, settle: 20 * time.Second}
	addr := make(chan string, 1)
	runs := make(chan *views.CheckResult, 100)
	o.listening = func(a string) { addr <- a }
	o.checked = func(r *views.CheckResult) {
		select {
		case runs <- r:
		default:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- checkRun(ctx, nil, o) }()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/metrics"
	case err := <-done:
		t.Fatalf("check --listen ended: %v\n%s", err, errOut)
	}
	scrape := func() map[string]*dto.MetricFamily {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return parseMetrics(t, resp.Body)
	}
	// waitFor scrapes until ok holds for the metrics of a finished run.
	waitFor := func(what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
		t.Helper()
		for {
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v\n%s", what, ctx.Err(), errOut)
			case <-runs:
			}
			if mfs := scrape(); ok(mfs) {
				return mfs
			}
		}
	}
	tbl := map[string]string{"table": "public.customers"}
	// The source's offset is flushed every 200ms: wait for it as well.
	mfs := waitFor("a healthy check", func(m map[string]*dto.MetricFamily) bool {
		v, ok := metricValue(m, "offsetctl_check_healthy", nil)
		_, lag := metricValue(m, "offsetctl_connector_source_lag_bytes", map[string]string{"connector": w.pipe.SourceConnector()})
		return ok && v == 1 && lag
	})
	if v, _ := metricValue(mfs, "offsetctl_check_rows", map[string]string{"table": "public.customers", "side": "sink"}); v != 20 {
		t.Errorf("sink rows = %v, want 20", v)
	}
	if v, ok := metricValue(mfs, "offsetctl_connector_running", map[string]string{"connector": w.pipe.SinkConnector()}); !ok || v != 1 {
		t.Errorf("sink connector running = %v (%v)", v, ok)
	}
	if _, ok := metricValue(mfs, "offsetctl_connector_sink_lag_records", map[string]string{"connector": w.pipe.SinkConnector(), "partition": "0"}); !ok {
		t.Errorf("no sink lag per partition")
	}
	if _, ok := metricValue(mfs, "offsetctl_connector_source_lag_bytes", map[string]string{"connector": w.pipe.SourceConnector()}); !ok {
		var b strings.Builder
		for _, n := range []string{"offsetctl_connector_check_error", "offsetctl_connector_running"} {
			if mf := mfs[n]; mf != nil {
				fmt.Fprintln(&b, mf.String())
			}
		}
		t.Errorf("no source lag:\n%s", b.String())
	}
	if _, ok := metricValue(mfs, "offsetctl_check_table_duration_seconds", tbl); !ok {
		t.Errorf("no duration")
	}

	// Drift: two rows deleted from the sink behind the pipeline's back.
	if err := w.pipe.SinkDelete(ctx, 3, 4); err != nil {
		t.Fatal(err)
	}
	mfs = waitFor("the drift", func(m map[string]*dto.MetricFamily) bool {
		v, _ := metricValue(m, "offsetctl_check_rows_different", map[string]string{"table": "public.customers", "kind": "missing"})
		return v == 2
	})
	if v, _ := metricValue(mfs, "offsetctl_check_healthy", nil); v != 0 {
		t.Errorf("healthy = %v after drift", v)
	}
	if v, _ := metricValue(mfs, "offsetctl_check_table_result", map[string]string{"table": "public.customers", "verdict": "drift"}); v != 1 {
		t.Errorf("table verdict drift = %v", v)
	}

	// A failed task.
	if err := w.sb.Faults().FailTask(w.pipe.SinkConnector(), 0, "boom"); err != nil {
		t.Fatal(err)
	}
	waitFor("the failed task", func(m map[string]*dto.MetricFamily) bool {
		v, _ := metricValue(m, "offsetctl_connector_failed_tasks", map[string]string{"connector": w.pipe.SinkConnector()})
		return v == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("check --listen: %v", err)
	}
}

// TestCheckExitCodesAndTextfile: one-shot check exits 0 healthy, 2 on drift,
// 1 when a table cannot be checked (the others still are); the textfile
// parses as Prometheus' text format; no row value reaches any output.
func TestCheckExitCodesAndTextfile(t *testing.T) {
	w := startCheckWorld(t, 20)
	dir := writeConfig(t, w.checkHCL("checksum", ""))
	prom := filepath.Join(t.TempDir(), "offsetctl.prom")
	stateFile := filepath.Join(t.TempDir(), "state.json")
	code, out, errOut := runCLI(t, dir, "check", "--metrics-file", prom, "--record", "--state", stateFile)
	if code != 0 || !strings.Contains(out, "offsetctl check: healthy") {
		t.Fatalf("healthy check: exit %d\n%s\n%s", code, out, errOut)
	}
	if st, err := os.ReadFile(stateFile); err != nil || !strings.Contains(string(st), `"kind": "check"`) || !strings.Contains(string(st), "healthy: checksum, 0 rows different") {
		t.Errorf("--record: %v\n%s", err, st)
	}
	ctx := context.Background()
	if err := w.pipe.SinkSetEmail(ctx, 5, "secret-personal@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"checksum", "rows", "counts"} {
		code, out, errOut = runCLI(t, dir, "check", "--mode", mode, "--metrics-file", prom, "-json")
		want := 2
		if mode == "counts" {
			want = 0 // a changed value keeps the counts equal
		}
		if code != want {
			t.Errorf("%s check after a changed row: exit %d, want %d\n%s\n%s", mode, code, want, out, errOut)
		}
		var r views.CheckResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.FormatVersion != 1 || len(r.Tables) != 1 {
			t.Fatalf("-json: %v\n%s", err, out)
		}
		if mode == "rows" && r.Tables[0].Mismatched != 1 {
			t.Errorf("rows mode: mismatched = %d", r.Tables[0].Mismatched)
		}
		data, err := os.ReadFile(prom)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out+string(data), "secret-personal") {
			t.Fatalf("a row value reached the output or the metrics")
		}
		mfs := parseMetrics(t, strings.NewReader(string(data)))
		v, _ := metricValue(mfs, "offsetctl_check_healthy", nil)
		if (v == 1) != (want == 0) {
			t.Errorf("%s: textfile healthy = %v", mode, v)
		}
	}
	// A missing table and an excluded one: the missing one fails, the
	// customers block is still checked, the exit is 1.
	dir = writeConfig(t, w.checkHCL("counts", `
reconcile "ghost" {
  source = database.source
  sink   = database.sink
  table  = "public.ghost"
}

reconcile "other" {
  source = database.source
  sink   = database.sink
  table  = "audit.events"
}
`))
	code, out, errOut = runCLI(t, dir, "check", "--exclude", "audit.*", "--markdown")
	if code != 1 || !strings.Contains(out, "| `public.ghost` | checksum | | | | | | **error**") ||
		!strings.Contains(out, "| `public.customers` | counts | 20 | 20 | 0 | 0 | 0 | healthy |") || strings.Contains(out, "audit.events") {
		t.Errorf("a missing table: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, dir, "check", "--schema", "public", "--table", "public.cust*")
	if code != 1 || !strings.Contains(out, "public.customers") {
		t.Errorf("--schema/--table: exit %d\n%s", code, out)
	}
	_ = sandbox.ChangeTable
}

// stallConnector stops (StateStopped) or pauses (StatePaused) one of the
// world's connectors once it has stored offsets, and returns the Connect
// client to resume it with.
func stallConnector(t *testing.T, w *world, name string, to connect.State) *connect.Client {
	t.Helper()
	ctx := context.Background()
	c, err := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	for { // a source flushes its offsets every 200ms
		got, err := c.Offsets(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Offsets) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stall := c.Pause
	if to == connect.StateStopped {
		stall = c.Stop
	}
	if err := stall(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForState(ctx, name, to, connect.WaitOptions{Timeout: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCheckInFlight: rows the sink has not consumed yet (its connector is
// stopped, so its group lags behind the source's snapshot) are in flight,
// not drift: exit 0, the sink named; once the resumed sink has caught up
// within --settle, the table is compared again and is healthy.
func TestCheckInFlight(t *testing.T) {
	w := startCheckWorld(t, 10)
	dir := writeConfig(t, w.checkHCL("rows", ""))
	ctx := context.Background()
	c := stallConnector(t, w, w.pipe.SinkConnector(), connect.StateStopped)
	if _, err := w.pipe.InsertN(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, dir, "check", "--settle", "1s")
	if code != 0 || !strings.Contains(out, "in_flight") || !strings.Contains(out, "3 missing in the sink") ||
		!strings.Contains(out, "the sink connector "+w.pipe.SinkConnector()+" has 3 records to commit up to the source's snapshot") {
		t.Fatalf("paused sink: exit %d\n%s\n%s", code, out, errOut)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = c.Resume(context.Background(), w.pipe.SinkConnector())
	}()
	code, out, errOut = runCLI(t, dir, "check", "--settle", "30s", "-json")
	var r views.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-json: %v\n%s", err, out)
	}
	if code != 0 || r.Tables[0].Verdict != checkHealthy || !r.Tables[0].Settled || r.Tables[0].Missing != 0 || r.Tables[0].SnapshotLSN == "" {
		t.Errorf("after --settle: exit %d %+v\n%s", code, r.Tables[0], errOut)
	}
}

// TestCheckLagAwareAgainstTheSourceSnapshot: a differing row counts as drift
// only once the pipeline has delivered every change up to the source's
// snapshot. A stalled source connector (paused: its stored position stays
// before the snapshot) leaves rows missing in the sink in flight, naming the
// source; once it has caught up, a row deleted from the sink behind the
// pipeline's back is drift, with the evidence of the snapshot passed; and
// the rows the stalled source held back have arrived.
func TestCheckLagAwareAgainstTheSourceSnapshot(t *testing.T) {
	w := startCheckWorld(t, 10)
	dir := writeConfig(t, w.checkHCL("rows", ""))
	ctx := context.Background()
	c := stallConnector(t, w, w.pipe.SourceConnector(), connect.StatePaused)
	if _, err := w.pipe.InsertN(ctx, 2); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, dir, "check", "--settle", "1s", "-json")
	var r views.CheckResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-json: %v\n%s\n%s", err, out, errOut)
	}
	tb := r.Tables[0]
	if code != 0 || tb.Verdict != checkInFlight || tb.Missing != 2 || tb.SnapshotLSN == "" ||
		!strings.Contains(tb.Pipeline, "the source connector "+w.pipe.SourceConnector()+" has stored") ||
		!strings.Contains(tb.Pipeline, "before the source's snapshot "+tb.SnapshotLSN) {
		t.Fatalf("stalled source: exit %d %+v\n%s", code, tb, errOut)
	}

	// Caught up, and one row deleted from the sink: drift, exit 2.
	if err := c.Resume(ctx, w.pipe.SourceConnector()); err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.SinkDelete(ctx, 4); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, dir, "check", "--settle", "30s")
	if code != 2 || !strings.Contains(out, "drift") || !strings.Contains(out, "1 missing in the sink, 0 extra, 0 mismatched") ||
		!strings.Contains(out, "the pipeline delivered every change up to the source's snapshot") ||
		!strings.Contains(out, w.pipe.SourceConnector()+" stored") || !strings.Contains(out, w.pipe.SinkConnector()+" committed its topics' end offsets") {
		t.Errorf("caught up with a row deleted in the sink: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestCheckUnderChurn: with the source changing all the time (a trickle of
// inserts, updates and deletes), rows change after the source's snapshot and
// reach the sink before it is read; in the rows mode check reads them again
// on the source and counts them in flight, never drift.
func TestCheckUnderChurn(t *testing.T) {
	w := startCheckWorld(t, 50)
	dir := writeConfig(t, w.checkHCL("rows", ""))
	ctx, cancel := context.WithCancel(context.Background())
	trickled := make(chan error, 1)
	go func() { trickled <- w.pipe.Trickle(ctx, 50, 20) }()
	defer func() {
		cancel()
		if err := <-trickled; err != nil {
			t.Errorf("trickle: %v", err)
		}
	}()
	changed := int64(0)
	for i := range 3 {
		code, out, errOut := runCLI(t, dir, "check", "--settle", "20s", "-json")
		var r views.CheckResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("-json: %v\n%s\n%s", err, out, errOut)
		}
		tb := r.Tables[0]
		if code != 0 || tb.Verdict == checkDrift || tb.Verdict == checkError {
			t.Errorf("run %d under churn: exit %d %+v\n%s", i+1, code, tb, errOut)
		}
		changed += tb.ChangedSince
	}
	t.Logf("%d differing rows changed on the source after its snapshot over 3 runs", changed)
}
