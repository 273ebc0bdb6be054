package command

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// checkFormatVersion is the format_version of `offsetctl check -json`.
const checkFormatVersion = 1

// Verdicts of a table or a whole check run.
const (
	checkHealthy  = "healthy"
	checkDrift    = "drift"     // rows differ beyond the threshold, the pipeline caught up
	checkInFlight = "in_flight" // rows differ, but the pipeline has not caught up yet
	checkLag      = "threshold" // a connector threshold (lag, failed tasks) is crossed
	checkError    = "error"     // the table or a connector could not be checked
)

// checkResult is one run of `offsetctl check`: what `-json` prints, what the
// text and Markdown views render and what the metrics are built from. It
// holds table names, counts and keys' numbers only, never row values.
type checkResult struct {
	FormatVersion    int             `json:"format_version"`
	OffsetctlVersion string          `json:"offsetctl_version"`
	StartedAt        time.Time       `json:"started_at"`
	DurationSeconds  float64         `json:"duration_seconds"`
	Verdict          string          `json:"verdict"`
	Tables           []checkTable    `json:"tables"`
	Connectors       []checkConn     `json:"connectors,omitempty"`
	Backup           *checkBackupAge `json:"backup,omitempty"`
	duration         time.Duration   `json:"-"`
}

// checkTable is one reconcile block's table in a check run.
type checkTable struct {
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
}

// checkConn is one connector a reconcile block names.
type checkConn struct {
	Block          string          `json:"block"`
	Connector      string          `json:"connector"`
	Type           string          `json:"type"`
	State          string          `json:"state"`
	Tasks          int             `json:"tasks"`
	FailedTasks    int             `json:"failed_tasks"`
	MaxFailedTasks int64           `json:"max_failed_tasks"`
	SinkLag        []checkSinkLag  `json:"sink_lag,omitempty"`
	SinkLagRecords *int64          `json:"sink_lag_records,omitempty"`
	MaxLagRecords  *int64          `json:"max_lag_records,omitempty"`
	SourceLag      *checkSourceLag `json:"source_lag,omitempty"`
	MaxLagSeconds  *int64          `json:"max_lag_seconds,omitempty"`
	Verdict        string          `json:"verdict"`
	Problems       []string        `json:"problems,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// checkSinkLag is a sink connector's group lag on one partition.
type checkSinkLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogEnd    int64  `json:"log_end"`
	Lag       int64  `json:"lag"`
}

// checkSourceLag is how far a source connector's stored position is behind
// its source database.
type checkSourceLag struct {
	StoredLSN  uint64  `json:"stored_lsn"`
	CurrentLSN uint64  `json:"current_lsn"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
}

// checkBackupAge is the newest offsets backup check found.
type checkBackupAge struct {
	Dir        string    `json:"dir"`
	Newest     string    `json:"newest,omitempty"`
	TakenAt    time.Time `json:"taken_at,omitempty"`
	AgeSeconds float64   `json:"age_seconds"`
}

// exitCode is the run's exit status: 1 when anything could not be checked,
// 2 for drift or a crossed threshold, 0 when healthy (in-flight rows
// included: they are not drift yet).
func (r *checkResult) exitCode() int {
	switch r.Verdict {
	case checkError:
		return ExitError
	case checkDrift, checkLag:
		return ExitChanges
	}
	return ExitOK
}

// summarize sets the run's verdict from its tables and connectors.
func (r *checkResult) summarize() {
	rank := map[string]int{checkHealthy: 0, checkInFlight: 1, checkLag: 2, checkDrift: 3, checkError: 4}
	v := checkHealthy
	worst := func(x string) {
		if rank[x] > rank[v] {
			v = x
		}
	}
	for _, t := range r.Tables {
		worst(t.Verdict)
	}
	for _, c := range r.Connectors {
		worst(c.Verdict)
	}
	r.Verdict = v
}

func writeCheckText(w io.Writer, r *checkResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "offsetctl check: %s (%d tables, %d connectors, %s)\n\n", r.Verdict, len(r.Tables), len(r.Connectors), fmtSeconds(r.DurationSeconds))
	if len(r.Tables) > 0 {
		fmt.Fprintf(&b, "%-24s %-9s %12s %12s %10s  %-9s %s\n", "TABLE", "MODE", "SOURCE", "SINK", "DIFFERENT", "STATUS", "READ")
		for _, t := range r.Tables {
			status := t.Verdict
			if t.Error != "" {
				fmt.Fprintf(&b, "%-24s %-9s %12s %12s %10s  %-9s %s\n", t.Table, t.Mode, "-", "-", "-", status, t.Error)
				continue
			}
			fmt.Fprintf(&b, "%-24s %-9s %12d %12d %10s  %-9s %d rows in %s\n", t.Table, t.Mode, t.SourceRows, t.SinkRows,
				fmt.Sprintf("%d/%d", t.RowsDifferent, t.MaxRowsDiff), status, t.RowsRead, fmtSeconds(t.DurationSeconds))
			if t.Missing+t.Extra+t.Mismatched > 0 {
				fmt.Fprintf(&b, "  %d missing in the sink, %d extra, %d mismatched\n", t.Missing, t.Extra, t.Mismatched)
			}
		}
		b.WriteString("\n")
	}
	if len(r.Connectors) > 0 {
		fmt.Fprintf(&b, "%-24s %-6s %-9s %-7s %-14s %s\n", "CONNECTOR", "TYPE", "STATE", "FAILED", "LAG", "STATUS")
		for _, c := range r.Connectors {
			fmt.Fprintf(&b, "%-24s %-6s %-9s %-7s %-14s %s\n", c.Connector, c.Type, c.State, fmt.Sprintf("%d/%d", c.FailedTasks, c.Tasks), c.lagText(), c.Verdict)
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
			fmt.Fprintf(&b, "newest offsets backup: %s (%s old)\n", r.Backup.Newest, fmtSeconds(r.Backup.AgeSeconds))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *checkConn) lagText() string {
	switch {
	case c.SinkLagRecords != nil:
		return fmt.Sprintf("%d records", *c.SinkLagRecords)
	case c.SourceLag != nil:
		return fmt.Sprintf("%s (%d B)", fmtSeconds(c.SourceLag.Seconds), c.SourceLag.Bytes)
	}
	return "-"
}

func writeCheckMarkdown(w io.Writer, r *checkResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### offsetctl check: %s\n\n", r.Verdict)
	fmt.Fprintf(&b, "%d tables, %d connectors, %s.\n\n", len(r.Tables), len(r.Connectors), fmtSeconds(r.DurationSeconds))
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
	}
	if len(r.Connectors) > 0 {
		b.WriteString("| connector | type | state | failed tasks | lag | status |\n|---|---|---|---:|---|---|\n")
		for _, c := range r.Connectors {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %d/%d | %s | %s |\n", c.Connector, c.Type, c.State, c.FailedTasks, c.Tasks, c.lagText(), c.Verdict)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }

func fmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
