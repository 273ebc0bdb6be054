package views

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/numfmt"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

// DiffReport is what a diff report says besides its results: the flags
// that shape it.
type DiffReport struct {
	Mode             string        // counts, checksum, rows
	Where            string        // the filter both sides ran
	By               string        // the partitioning of a checksum report
	Settle           time.Duration // how long rows were given to settle
	ShowValues       bool          // rows: the differing values too
	Markdown         bool          // a Markdown report (a pull-request comment)
	OffsetctlVersion string
}

// Diff is the view of offsetctl diff: a progress bar on a terminal's
// stderr, then the report as text, Markdown or JSON (streamed) on stdout.
type Diff struct {
	*View
	report DiffReport
}

// NewDiff returns the view of offsetctl diff.
func NewDiff(streams *iostreams.Streams, asJSON bool, report DiffReport) *Diff {
	return &Diff{View: NewView(streams, asJSON), report: report}
}

// Report writes the results, compared in elapsed.
//
// failed are the tables that could not be compared (a run of many tables
// goes on after one fails): listed after the others.
func (v *Diff) Report(results []*reconcile.Result, failed []DiffFailure, elapsed time.Duration) error {
	out := v.streams.Out
	switch {
	case v.json:
		return writeDiffJSON(out, &v.report, results, failed)
	case v.report.Markdown:
		if err := writeDiffMarkdown(out, &v.report, results); err != nil || len(failed) == 0 {
			return err
		}
		fmt.Fprintf(out, "\n#### Not compared\n\n| table | reason |\n|---|---|\n")
		for _, f := range failed {
			fmt.Fprintf(out, "| %s | %s |\n", diffMdEscape(f.Table), diffMdEscape(f.Error))
		}
		return nil
	}
	if err := writeDiffText(out, &v.report, results, elapsed); err != nil || len(failed) == 0 {
		return err
	}
	fmt.Fprintf(out, "\nNot compared:\n")
	for _, f := range failed {
		fmt.Fprintf(out, "  %s: %s\n", f.Table, f.Error)
	}
	return nil
}

// DiffFailure is a table that could not be compared.
type DiffFailure struct {
	Table string `json:"table"`
	Error string `json:"error"`
}

// diffProgress draws a progress bar on stderr when it is a terminal.
type DiffProgress struct {
	bar *progressbar.ProgressBar
	max int64
}

// Progress returns the progress bar of comparing table, on stderr when it
// is a terminal; nil (which does nothing) otherwise.
func (v *Diff) Progress(table string) *DiffProgress {
	if !v.streams.ErrTTY {
		return nil
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(v.streams.Err),
		progressbar.OptionSetDescription(table),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	return &DiffProgress{bar: bar, max: -1}
}

// Update shows how far a comparison got.
func (p *DiffProgress) Update(ev reconcile.Progress) {
	if ev.RowsTotal > 0 && ev.RowsTotal != p.max && ev.RowsHashed <= ev.RowsTotal {
		p.max = ev.RowsTotal
		p.bar.ChangeMax64(ev.RowsTotal)
	}
	desc := ev.Phase
	if ev.CellsLeft > 0 {
		desc = fmt.Sprintf("%s, %d cells left", ev.Phase, ev.CellsLeft)
	}
	p.bar.Describe(desc)
	_ = p.bar.Set64(ev.RowsHashed)
}

// Done clears the bar.
func (p *DiffProgress) Done() {
	if p != nil {
		_ = p.bar.Finish()
	}
}

// JSON output.

type diffJSON struct {
	FormatVersion    int                 `json:"format_version"`
	OffsetctlVersion string              `json:"offsetctl_version"`
	Mode             string              `json:"mode"`
	Drift            bool                `json:"drift"`
	Filter           string              `json:"filter,omitempty"`
	Failed           []DiffFailure       `json:"failed,omitempty"`
	Tables           []*reconcile.Result `json:"tables"`
}

// writeDiffJSON writes the report as encoding/json's indented encoding of
// diffJSON would, but streamed: one differing row at a time, so that listing
// a million keys does not hold their whole document in memory as well.
func writeDiffJSON(w io.Writer, o *DiffReport, results []*reconcile.Result, failed []DiffFailure) error {
	out := diffJSON{FormatVersion: DiffFormat, OffsetctlVersion: o.OffsetctlVersion, Mode: o.Mode, Filter: o.Where, Failed: failed, Tables: []*reconcile.Result{}}
	for _, r := range results {
		out.Drift = out.Drift || r.Drift()
	}
	env, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	const empty = `"tables": []`
	at := bytes.LastIndex(env, []byte(empty))
	if at < 0 || len(results) == 0 {
		_, err := w.Write(append(env, '\n'))
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(env[:at+len(empty)-1])
	for i, r := range results {
		bw.WriteString("\n    ")
		if err := writeResultJSON(bw, r); err != nil {
			return err
		}
		if i < len(results)-1 {
			bw.WriteByte(',')
		}
	}
	bw.WriteString("\n  ")
	bw.Write(env[at+len(empty)-1:])
	bw.WriteByte('\n')
	return bw.Flush()
}

// writeResultJSON writes one table's result, indented as an element of
// "tables", with its lists of differing rows written row by row.
func writeResultJSON(w *bufio.Writer, r *reconcile.Result) error {
	bare := *r
	bare.Missing, bare.Extra, bare.Mismatched = nil, nil, nil
	b, err := json.MarshalIndent(&bare, "    ", "  ")
	if err != nil {
		return err
	}
	// The lists come right before "missing_count", which every result has.
	const next = "\n      \"missing_count\":"
	at := bytes.Index(b, []byte(next))
	if at < 0 {
		return fmt.Errorf("internal error: no missing_count in a diff result")
	}
	w.Write(b[:at])
	for _, l := range []struct {
		name string
		rows []reconcile.Diff
	}{{"missing", r.Missing}, {"extra", r.Extra}, {"mismatched", r.Mismatched}} {
		if len(l.rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n      %q: [", l.name)
		for i := range l.rows {
			d, err := json.MarshalIndent(&l.rows[i], "        ", "  ")
			if err != nil {
				return err
			}
			w.WriteString("\n        ")
			w.Write(d)
			if i < len(l.rows)-1 {
				w.WriteByte(',')
			}
		}
		w.WriteString("\n      ],")
	}
	_, err = w.Write(b[at:])
	return err
}

// Text output.

func diffStatus(drift bool) string {
	if drift {
		return "MISMATCH"
	}
	return "OK"
}

func diffPairName(r *reconcile.Result) string {
	if r.Source == r.Sink {
		return r.Source.String()
	}
	return r.Source.String() + " → " + r.Sink.String()
}

// table renders rows as aligned columns; numeric columns (right) are
// right-aligned.
func diffTable(w io.Writer, indent string, head []string, right []bool, rows [][]string) {
	width := make([]int, len(head))
	for _, r := range append([][]string{head}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range append([][]string{head}, rows...) {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i > 0 {
				b.WriteString("  ")
			}
			if right[i] {
				b.WriteString(pad + c)
			} else if i < len(r)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func diffPlural(n int64, one, many string) string {
	if n == 1 {
		return numfmt.Thousands(n) + " " + one
	}
	return numfmt.Thousands(n) + " " + many
}

func writeDiffText(w io.Writer, o *DiffReport, results []*reconcile.Result, elapsed time.Duration) error {
	drifted := 0
	for _, r := range results {
		if r.Drift() {
			drifted++
		}
	}
	switch reconcile.Mode(o.Mode) {
	case reconcile.ModeCounts:
		var rows [][]string
		for _, r := range results {
			rows = append(rows, []string{diffPairName(r), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), numfmt.Signed(r.SinkRows - r.SourceRows), diffStatus(r.Drift())})
		}
		diffTable(w, "", []string{"TABLE", "SOURCE", "SINK", "DIFF", "STATUS"}, []bool{false, true, true, true, false}, rows)
	case reconcile.ModeChecksum:
		var rows [][]string
		for _, r := range results {
			rows = append(rows, []string{diffPairName(r), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), r.SourceChecksum.Hex(), r.SinkChecksum.Hex(), diffStatus(r.Drift())})
		}
		diffTable(w, "", []string{"TABLE", "SOURCE ROWS", "SINK ROWS", "SOURCE CHECKSUM", "SINK CHECKSUM", "STATUS"}, []bool{false, true, true, false, false, false}, rows)
		for _, r := range results {
			if len(r.Partitions) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n%s by %s:\n", diffPairName(r), diffPartitionTitle(o))
			var prow [][]string
			for i, p := range r.Partitions {
				prow = append(prow, []string{diffPartitionLabel(o, r, i), numfmt.Thousands(p.Source.Rows), numfmt.Thousands(p.Sink.Rows), p.Source.Hex(), p.Sink.Hex(), diffStatus(!p.Equal())})
			}
			diffTable(w, "  ", []string{"PARTITION", "SOURCE ROWS", "SINK ROWS", "SOURCE CHECKSUM", "SINK CHECKSUM", "STATUS"}, []bool{false, true, true, false, false, false}, prow)
		}
	default:
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(w)
			}
			diffWriteRowsText(w, o, r)
		}
	}
	fmt.Fprintln(w)
	took := ""
	if elapsed > 0 {
		took = " in " + elapsed.Round(10*time.Millisecond).String()
	}
	if drifted == 0 {
		fmt.Fprintf(w, "No drift: %s compared%s.\n", diffPlural(int64(len(results)), "table", "tables"), took)
		return nil
	}
	fmt.Fprintf(w, "Drift found in %d of %s%s.\n", drifted, diffPlural(int64(len(results)), "table", "tables"), took)
	return nil
}

func diffPartitionTitle(o *DiffReport) string {
	kind, arg, _ := strings.Cut(o.By, ":")
	if kind == "day" {
		return "day of " + arg + " (UTC)"
	}
	return arg + " key ranges"
}

// diffPartitionLabel names partition i: the day, or the key range from its
// lower bound to the next partition's.
func diffPartitionLabel(o *DiffReport, r *reconcile.Result, i int) string {
	p := r.Partitions[i].Partition
	if !strings.HasPrefix(o.By, "range:") || strings.HasPrefix(p, "<") {
		return p
	}
	if i+1 < len(r.Partitions) {
		return "[" + p + ", " + r.Partitions[i+1].Partition + ")"
	}
	return "[" + p + ", …)"
}

func diffKeyLabel(r *reconcile.Result) string {
	if len(r.KeyColumns) == 1 {
		return r.KeyColumns[0]
	}
	return "(" + strings.Join(r.KeyColumns, ", ") + ")"
}

func diffWriteRowsText(w io.Writer, o *DiffReport, r *reconcile.Result) {
	fmt.Fprintf(w, "%s\n", diffPairName(r))
	cols := numfmt.Thousands(int64(len(r.Columns))) + " compared"
	if len(r.Renamed) > 0 {
		var ren []string
		for _, c := range r.Columns {
			if d, ok := r.Renamed[c]; ok {
				ren = append(ren, c+" → "+d)
			}
		}
		cols += " (" + strings.Join(ren, ", ") + ")"
	}
	if len(r.Ignored) > 0 {
		cols += "; ignored: " + strings.Join(r.Ignored, ", ")
	}
	lines := [][2]string{{"key", diffKeyLabel(r)}, {"columns", cols}}
	if len(r.TimestampPrecision) > 0 {
		var ts []string
		for _, c := range r.Columns {
			if d, ok := r.TimestampPrecision[c]; ok {
				ts = append(ts, fmt.Sprintf("%s at %s", c, diffDigitsName(d)))
			}
		}
		lines = append(lines, [2]string{"timestamps", strings.Join(ts, ", ") + ", in UTC"})
	}
	if o.Where != "" {
		lines = append(lines, [2]string{"filter", o.Where})
	}
	lines = append(lines, [2]string{"rows", fmt.Sprintf("%s in the source, %s in the sink", numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows))})
	if r.SourceChecksum != nil {
		lines = append(lines, [2]string{"checksums", fmt.Sprintf("%s source, %s sink", r.SourceChecksum.Hex(), r.SinkChecksum.Hex())})
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-11s %s\n", l[0]+":", l[1])
	}
	section := func(title string, n int64, list []reconcile.Diff, withCols bool) {
		if n == 0 {
			return
		}
		fmt.Fprintf(w, "\n  %s (%s):\n", title, diffPlural(n, "row", "rows"))
		for _, d := range list {
			line := "    " + diffKeyLabel(r) + "=" + d.Key.String()
			if withCols && len(d.Columns) > 0 {
				line += "  differs in " + strings.Join(d.Columns, ", ")
			}
			fmt.Fprintln(w, line)
			if o.ShowValues {
				diffWriteValues(w, r, d)
			}
		}
		if int64(len(list)) < n {
			fmt.Fprintf(w, "    … and %s more (raise --max-keys to list them)\n", numfmt.Thousands(n-int64(len(list))))
		}
	}
	section("Missing in the sink", r.MissingCount, r.Missing, false)
	section("Extra in the sink", r.ExtraCount, r.Extra, false)
	section("Different", r.MismatchedCount, r.Mismatched, true)
	fmt.Fprintln(w)
	summary := fmt.Sprintf("  %s missing, %s extra, %s different", numfmt.Thousands(r.MissingCount), numfmt.Thousands(r.ExtraCount), numfmt.Thousands(r.MismatchedCount))
	if r.Settled > 0 {
		summary += fmt.Sprintf(" (%s settled when checked again after %s)", diffPlural(r.Settled, "row", "rows"), o.Settle)
	}
	fmt.Fprintln(w, summary+".")
}

func diffDigitsName(d int) string {
	switch d {
	case 0:
		return "seconds"
	case 3:
		return "milliseconds"
	case 6:
		return "microseconds"
	}
	return fmt.Sprintf("%d fractional digits", d)
}

func diffWriteValues(w io.Writer, r *reconcile.Result, d reconcile.Diff) {
	show := func(v *string) string {
		if v == nil {
			return "NULL"
		}
		return strconv.Quote(*v)
	}
	for _, c := range r.Columns {
		sv, inS := d.SourceValues[c]
		dv, inD := d.SinkValues[c]
		switch {
		case d.SourceValues != nil && d.SinkValues != nil:
			if !diffContains(d.Columns, c) {
				continue
			}
			fmt.Fprintf(w, "      %s: %s in the source, %s in the sink\n", c, show(sv), show(dv))
		case inS:
			fmt.Fprintf(w, "      %s: %s\n", c, show(sv))
		case inD:
			fmt.Fprintf(w, "      %s: %s\n", c, show(dv))
		}
	}
}

func diffContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Markdown output.

func diffMdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

func writeDiffMarkdown(w io.Writer, o *DiffReport, results []*reconcile.Result) error {
	drift := false
	for _, r := range results {
		drift = drift || r.Drift()
	}
	title := "no drift"
	if drift {
		title = "drift found"
	}
	fmt.Fprintf(w, "### offsetctl diff (%s): %s\n\n", o.Mode, title)
	if o.Where != "" {
		fmt.Fprintf(w, "Filter: `%s`\n\n", strings.ReplaceAll(o.Where, "`", "'"))
	}
	switch reconcile.Mode(o.Mode) {
	case reconcile.ModeCounts:
		fmt.Fprintln(w, "| table | source | sink | diff | status |")
		fmt.Fprintln(w, "|---|--:|--:|--:|---|")
		for _, r := range results {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", diffMdEscape(diffPairName(r)), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), numfmt.Signed(r.SinkRows-r.SourceRows), diffStatus(r.Drift()))
		}
	case reconcile.ModeChecksum:
		fmt.Fprintln(w, "| table | source rows | sink rows | source checksum | sink checksum | status |")
		fmt.Fprintln(w, "|---|--:|--:|---|---|---|")
		for _, r := range results {
			fmt.Fprintf(w, "| %s | %s | %s | `%s` | `%s` | %s |\n", diffMdEscape(diffPairName(r)), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), r.SourceChecksum.Hex(), r.SinkChecksum.Hex(), diffStatus(r.Drift()))
		}
		for _, r := range results {
			if len(r.Partitions) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n#### %s by %s\n\n", diffMdEscape(diffPairName(r)), diffMdEscape(diffPartitionTitle(o)))
			fmt.Fprintln(w, "| partition | source rows | sink rows | status |")
			fmt.Fprintln(w, "|---|--:|--:|---|")
			for i, p := range r.Partitions {
				fmt.Fprintf(w, "| %s | %s | %s | %s |\n", diffMdEscape(diffPartitionLabel(o, r, i)), numfmt.Thousands(p.Source.Rows), numfmt.Thousands(p.Sink.Rows), diffStatus(!p.Equal()))
			}
		}
	default:
		fmt.Fprintln(w, "| table | source rows | sink rows | missing | extra | different | status |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|---|")
		for _, r := range results {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", diffMdEscape(diffPairName(r)), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows),
				numfmt.Thousands(r.MissingCount), numfmt.Thousands(r.ExtraCount), numfmt.Thousands(r.MismatchedCount), diffStatus(r.Drift()))
		}
		for _, r := range results {
			if !r.Drift() {
				continue
			}
			fmt.Fprintf(w, "\n<details><summary>%s: keys of the differing rows</summary>\n\n", diffMdEscape(diffPairName(r)))
			fmt.Fprintf(w, "| kind | %s | differing columns |\n|---|---|---|\n", diffMdEscape(diffKeyLabel(r)))
			for _, l := range []struct {
				kind string
				list []reconcile.Diff
			}{{"missing", r.Missing}, {"extra", r.Extra}, {"different", r.Mismatched}} {
				for _, d := range l.list {
					fmt.Fprintf(w, "| %s | `%s` | %s |\n", l.kind, strings.ReplaceAll(d.Key.String(), "`", "'"), diffMdEscape(strings.Join(d.Columns, ", ")))
				}
			}
			if r.Truncated {
				fmt.Fprintln(w, "\nThe list is cut at --max-keys; the counts above are exact.")
			}
			fmt.Fprintln(w, "\n</details>")
		}
	}
	return nil
}
