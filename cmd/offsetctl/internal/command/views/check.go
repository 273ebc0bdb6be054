package views

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// Check is the view of offsetctl check: a run's tables, connectors and
// backup as text, Markdown or JSON (CheckResult, format_version
// CheckFormat), and the log lines of check --listen on stderr.
type Check struct {
	*View
	markdown bool
}

// NewCheck returns the view of check; markdown is --markdown.
func NewCheck(streams *iostreams.Streams, asJSON, markdown bool) *Check {
	return &Check{View: NewView(streams, asJSON), markdown: markdown}
}

// Result writes one run on stdout.
func (v *Check) Result(r *CheckResult) error {
	out := v.streams.Out
	switch {
	case v.json:
		return encodeJSON(out, r, false)
	case v.markdown:
		return writeCheckMarkdown(out, r)
	}
	return writeCheckText(out, r)
}

// Serving says check --listen serves /metrics at addr and checks tables
// tables every interval (stderr).
func (v *Check) Serving(addr string, tables int, interval time.Duration) {
	fmt.Fprintf(v.streams.Err, "serving /metrics on %s; checking %d tables every %s\n", addr, tables, interval)
}

// Checked logs one run of check --listen (stderr).
func (v *Check) Checked(r *CheckResult) {
	fmt.Fprintf(v.streams.Err, "%s check: %s in %s\n", r.StartedAt.Format(time.RFC3339), r.Verdict, FmtSeconds(r.DurationSeconds))
}

// CheckResult is one run of `offsetctl check`: what `-json` prints, what the
// text and Markdown render and what the metrics are built from. It
// holds table names, counts and keys' numbers only, never row values.
type CheckResult struct {
	FormatVersion    int             `json:"format_version"`
	OffsetctlVersion string          `json:"offsetctl_version"`
	StartedAt        time.Time       `json:"started_at"`
	DurationSeconds  float64         `json:"duration_seconds"`
	Verdict          string          `json:"verdict"`
	Tables           []CheckTable    `json:"tables"`
	Connectors       []CheckConn     `json:"connectors,omitempty"`
	Backup           *CheckBackupAge `json:"backup,omitempty"`
	// Duration is DurationSeconds as a time.Duration (not in the JSON).
	Duration time.Duration `json:"-"`
}

// CheckTable is one reconcile block's table in a check run.
type CheckTable struct {
	Block           string  `json:"block"`
	Table           string  `json:"table"`
	SinkTable       string  `json:"sink_table"`
	Mode            string  `json:"mode"`
	Verdict         string  `json:"verdict"`
	Error           string  `json:"error,omitempty"`
	SourceRows      int64   `json:"source_rows"`
	SinkRows        int64   `json:"sink_rows"`
	Missing         int64   `json:"missing"`
	Extra           int64   `json:"extra"`
	Mismatched      int64   `json:"mismatched"`
	ChecksumDiffers bool    `json:"checksum_differs,omitempty"`
	RowsDifferent   int64   `json:"rows_different"`
	MaxRowsDiff     int64   `json:"max_rows_different"`
	RowsRead        int64   `json:"rows_read"`
	Queries         int     `json:"queries"`
	DurationSeconds float64 `json:"duration_seconds"`
	Settled         bool    `json:"settled,omitempty"`
	// SnapshotLSN (a PostgreSQL source: its WAL position) or
	// SnapshotBinlog (a MariaDB/MySQL source: file:pos of its binlog, with
	// the GTID position) is where the source stood at the snapshot of the
	// last comparison, Pipeline whether the block's connectors had
	// delivered every change up to it before the sink was read, in words.
	SnapshotLSN    string `json:"snapshot_lsn,omitempty"`
	SnapshotBinlog string `json:"snapshot_binlog,omitempty"`
	Pipeline       string `json:"pipeline,omitempty"`
	// ChangedSince counts the differing rows (rows mode) whose source row
	// changed after the snapshot: in flight, not in the counts above.
	ChangedSince int64 `json:"changed_since,omitempty"`
}

// CheckConn is one connector a reconcile block names.
type CheckConn struct {
	Block          string          `json:"block"`
	Connector      string          `json:"connector"`
	Type           string          `json:"type"`
	State          string          `json:"state"`
	Tasks          int             `json:"tasks"`
	FailedTasks    int             `json:"failed_tasks"`
	MaxFailedTasks int64           `json:"max_failed_tasks"`
	SinkLag        []CheckSinkLag  `json:"sink_lag,omitempty"`
	SinkLagRecords *int64          `json:"sink_lag_records,omitempty"`
	MaxLagRecords  *int64          `json:"max_lag_records,omitempty"`
	SourceLag      *CheckSourceLag `json:"source_lag,omitempty"`
	MaxLagSeconds  *int64          `json:"max_lag_seconds,omitempty"`
	Verdict        string          `json:"verdict"`
	Problems       []string        `json:"problems,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// CheckSinkLag is a sink connector's group lag on one partition.
type CheckSinkLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogEnd    int64  `json:"log_end"`
	Lag       int64  `json:"lag"`
}

// CheckSourceLag is how far a source connector's stored position is behind
// its source database.
type CheckSourceLag struct {
	StoredLSN  uint64  `json:"stored_lsn"`
	CurrentLSN uint64  `json:"current_lsn"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
}

// CheckBackupAge is the newest offsets backup check found.
type CheckBackupAge struct {
	Dir        string    `json:"dir"`
	Newest     string    `json:"newest,omitempty"`
	TakenAt    time.Time `json:"taken_at,omitempty"`
	AgeSeconds float64   `json:"age_seconds"`
}

func writeCheckText(w io.Writer, r *CheckResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "offsetctl check: %s (%d tables, %d connectors, %s)\n\n", r.Verdict, len(r.Tables), len(r.Connectors), FmtSeconds(r.DurationSeconds))
	if len(r.Tables) > 0 {
		fmt.Fprintf(&b, "%-24s %-9s %12s %12s %10s  %-9s %s\n", "TABLE", "MODE", "SOURCE", "SINK", "DIFFERENT", "STATUS", "READ")
		for _, t := range r.Tables {
			status := t.Verdict
			if t.Error != "" {
				fmt.Fprintf(&b, "%-24s %-9s %12s %12s %10s  %-9s %s\n", t.Table, t.Mode, "-", "-", "-", status, t.Error)
				continue
			}
			fmt.Fprintf(&b, "%-24s %-9s %12d %12d %10s  %-9s %d rows in %s\n", t.Table, t.Mode, t.SourceRows, t.SinkRows,
				fmt.Sprintf("%d/%d", t.RowsDifferent, t.MaxRowsDiff), status, t.RowsRead, FmtSeconds(t.DurationSeconds))
			if t.Missing+t.Extra+t.Mismatched > 0 {
				fmt.Fprintf(&b, "  %d missing in the sink, %d extra, %d mismatched\n", t.Missing, t.Extra, t.Mismatched)
			}
			if t.Pipeline != "" {
				fmt.Fprintf(&b, "  %s\n", t.Pipeline)
			}
		}
		b.WriteString("\n")
	}
	if len(r.Connectors) > 0 {
		fmt.Fprintf(&b, "%-24s %-6s %-9s %-7s %-14s %s\n", "CONNECTOR", "TYPE", "STATE", "FAILED", "LAG", "STATUS")
		for _, c := range r.Connectors {
			fmt.Fprintf(&b, "%-24s %-6s %-9s %-7s %-14s %s\n", c.Connector, c.Type, c.State, fmt.Sprintf("%d/%d", c.FailedTasks, c.Tasks), c.LagText(), c.Verdict)
			for _, p := range c.Problems {
				fmt.Fprintf(&b, "  %s\n", p)
			}
			if c.Error != "" {
				fmt.Fprintf(&b, "  %s\n", c.Error)
			}
		}
		b.WriteString("\n")
	}
	if r.Backup != nil {
		if r.Backup.Newest == "" {
			fmt.Fprintf(&b, "offsets backups in %s: none\n", r.Backup.Dir)
		} else {
			fmt.Fprintf(&b, "newest offsets backup: %s (%s old)\n", r.Backup.Newest, FmtSeconds(r.Backup.AgeSeconds))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// LagText is the connector's lag in words: records behind (a sink), time
// and bytes behind (a source), or "-".
func (c *CheckConn) LagText() string {
	switch {
	case c.SinkLagRecords != nil:
		return fmt.Sprintf("%d records", *c.SinkLagRecords)
	case c.SourceLag != nil:
		return fmt.Sprintf("%s (%d B)", FmtSeconds(c.SourceLag.Seconds), c.SourceLag.Bytes)
	}
	return "-"
}

func writeCheckMarkdown(w io.Writer, r *CheckResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### offsetctl check: %s\n\n", r.Verdict)
	fmt.Fprintf(&b, "%d tables, %d connectors, %s.\n\n", len(r.Tables), len(r.Connectors), FmtSeconds(r.DurationSeconds))
	if len(r.Tables) > 0 {
		b.WriteString("| table | mode | source | sink | missing | extra | mismatched | status |\n|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, t := range r.Tables {
			if t.Error != "" {
				fmt.Fprintf(&b, "| `%s` | %s | | | | | | **%s**: %s |\n", t.Table, t.Mode, t.Verdict, mdEscape(t.Error))
				continue
			}
			fmt.Fprintf(&b, "| `%s` | %s | %d | %d | %d | %d | %d | %s |\n", t.Table, t.Mode, t.SourceRows, t.SinkRows, t.Missing, t.Extra, t.Mismatched, t.Verdict)
		}
		b.WriteString("\n")
		listed := false
		for _, t := range r.Tables {
			if t.Pipeline != "" {
				fmt.Fprintf(&b, "- `%s` (%s): %s\n", t.Table, t.Verdict, mdEscape(t.Pipeline))
				listed = true
			}
		}
		if listed {
			b.WriteString("\n")
		}
	}
	if len(r.Connectors) > 0 {
		b.WriteString("| connector | type | state | failed tasks | lag | status |\n|---|---|---|---:|---|---|\n")
		for _, c := range r.Connectors {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %d/%d | %s | %s |\n", c.Connector, c.Type, c.State, c.FailedTasks, c.Tasks, c.LagText(), c.Verdict)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FmtSeconds is s seconds as a duration rounded to the millisecond.
func FmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
