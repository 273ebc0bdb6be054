package command

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/atomicfile"
)

// checkRegistry builds a fresh registry holding one check run's metrics. A
// mismatch carries its table and counts, never row values.
func checkRegistry(r *views.CheckResult) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "offsetctl", Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	healthy := gauge("check_healthy", "1 when the last check found no drift, no crossed threshold and no error.")
	last := gauge("check_last_run_timestamp_seconds", "When the last check started, in seconds since the epoch.")
	runDur := gauge("check_run_duration_seconds", "How long the last check run took.")
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	healthy.WithLabelValues().Set(b2f(r.Verdict == checkHealthy || r.Verdict == checkInFlight))
	last.WithLabelValues().Set(float64(r.StartedAt.UnixNano()) / 1e9)
	runDur.WithLabelValues().Set(r.DurationSeconds)

	tl := []string{"block", "table"}
	result := gauge("check_table_result", "1 for the table's verdict (healthy, drift, in_flight, error), 0 for the others.", append(tl, "verdict")...)
	diff := gauge("check_rows_different", "Rows that differ between source and sink, by kind (missing, extra, mismatched) and in all (total).", append(tl, "kind")...)
	rows := gauge("check_rows", "Rows counted on each side.", append(tl, "side")...)
	read := gauge("check_rows_read", "Rows the comparison read, both sides together.", tl...)
	dur := gauge("check_table_duration_seconds", "How long the table's comparison took.", tl...)
	thr := gauge("check_rows_different_threshold", "max_rows_different of the reconcile block's check.", tl...)
	for _, t := range r.Tables {
		for _, v := range []string{checkHealthy, checkDrift, checkInFlight, checkError} {
			result.WithLabelValues(t.Block, t.Table, v).Set(b2f(t.Verdict == v))
		}
		if t.Error != "" {
			continue
		}
		diff.WithLabelValues(t.Block, t.Table, "missing").Set(float64(t.Missing))
		diff.WithLabelValues(t.Block, t.Table, "extra").Set(float64(t.Extra))
		diff.WithLabelValues(t.Block, t.Table, "mismatched").Set(float64(t.Mismatched))
		diff.WithLabelValues(t.Block, t.Table, "total").Set(float64(t.RowsDifferent))
		rows.WithLabelValues(t.Block, t.Table, "source").Set(float64(t.SourceRows))
		rows.WithLabelValues(t.Block, t.Table, "sink").Set(float64(t.SinkRows))
		read.WithLabelValues(t.Block, t.Table).Set(float64(t.RowsRead))
		dur.WithLabelValues(t.Block, t.Table).Set(t.DurationSeconds)
		thr.WithLabelValues(t.Block, t.Table).Set(float64(t.MaxRowsDiff))
	}

	cl := []string{"connector"}
	up := gauge("connector_running", "1 when the connector is RUNNING.", cl...)
	failed := gauge("connector_failed_tasks", "FAILED tasks of the connector (a FAILED connector counts as one).", cl...)
	tasks := gauge("connector_tasks", "Tasks of the connector.", cl...)
	sinkLag := gauge("connector_sink_lag_records", "A sink connector's consumer group lag: log end minus committed offset.", "connector", "topic", "partition")
	srcBytes := gauge("connector_source_lag_bytes", "How far a PostgreSQL source's stored LSN is behind pg_current_wal_lsn(), in bytes.", cl...)
	srcSecs := gauge("connector_source_lag_seconds", "Seconds since the event at a source's stored position, while the source database has written past it.", cl...)
	cerr := gauge("connector_check_error", "1 when the connector could not be checked.", cl...)
	seen := map[string]bool{}
	for _, c := range r.Connectors {
		if seen[c.Connector] {
			continue
		}
		seen[c.Connector] = true
		cerr.WithLabelValues(c.Connector).Set(b2f(c.Error != ""))
		if c.Error != "" {
			continue
		}
		up.WithLabelValues(c.Connector).Set(b2f(c.State == "RUNNING"))
		failed.WithLabelValues(c.Connector).Set(float64(c.FailedTasks))
		tasks.WithLabelValues(c.Connector).Set(float64(c.Tasks))
		for _, l := range c.SinkLag {
			sinkLag.WithLabelValues(c.Connector, l.Topic, strconv.Itoa(int(l.Partition))).Set(float64(l.Lag))
		}
		if c.SourceLag != nil {
			srcBytes.WithLabelValues(c.Connector).Set(float64(c.SourceLag.Bytes))
			srcSecs.WithLabelValues(c.Connector).Set(c.SourceLag.Seconds)
		}
	}
	if r.Backup != nil {
		age := gauge("offsets_backup_age_seconds", "Age of the newest offsets backup in the backup directory (+Inf when there is none).", "dir")
		v := r.Backup.AgeSeconds
		if r.Backup.Newest == "" {
			v = posInf
		}
		age.WithLabelValues(r.Backup.Dir).Set(v)
	}
	return reg, nil
}

var posInf = func() float64 { f, _ := strconv.ParseFloat("+Inf", 64); return f }()

// writeMetricsFile writes the families in the text exposition format to
// path atomically, as node_exporter's textfile collector wants (*.prom).
func writeMetricsFile(path string, g prometheus.Gatherer) error {
	mfs, err := g.Gather()
	if err != nil {
		return fmt.Errorf("gathering the check's metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("encoding the check's metrics: %w", err)
		}
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the metrics file %s: %w", path, err)
	}
	return nil
}

// latestGatherer serves the metrics of the last finished check run, so a
// scrape never waits for a check nor triggers one.
type latestGatherer struct {
	mu  sync.Mutex
	reg prometheus.Gatherer
}

func (l *latestGatherer) set(g prometheus.Gatherer) {
	l.mu.Lock()
	l.reg = g
	l.mu.Unlock()
}

func (l *latestGatherer) Gather() ([]*dto.MetricFamily, error) {
	l.mu.Lock()
	g := l.reg
	l.mu.Unlock()
	if g == nil {
		return nil, nil
	}
	return g.Gather()
}
