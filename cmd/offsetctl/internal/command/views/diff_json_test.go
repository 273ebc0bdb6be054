package views

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

// The streamed JSON report is byte for byte what encoding/json writes for
// the whole document, for results with and without lists of rows.
func TestDiffJSONStreamedEqualsEncodingJSON(t *testing.T) {
	v := "a <b> & \"c\""
	full := &reconcile.Result{
		Mode: reconcile.ModeRows, KeyColumns: []string{"id"}, Columns: []string{"id", "email"},
		SourceRows: 10, SinkRows: 9, MissingCount: 2, ExtraCount: 1, MismatchedCount: 1, Truncated: true,
		Missing:    []reconcile.Diff{{Key: reconcile.Key{"1"}, SourceHash: "00000000000000ff"}, {Key: reconcile.Key{"2"}, SourceHash: "0000000000000001"}},
		Extra:      []reconcile.Diff{{Key: reconcile.Key{"9"}, SinkHash: "0000000000000002"}},
		Mismatched: []reconcile.Diff{{Key: reconcile.Key{"5"}, SourceHash: "1", SinkHash: "2", Columns: []string{"email"}, SourceValues: map[string]*string{"email": &v, "id": nil}}},
	}
	onlyExtra := &reconcile.Result{Mode: reconcile.ModeRows, KeyColumns: []string{"k"}, ExtraCount: 1,
		Extra: []reconcile.Diff{{Key: reconcile.Key{"x", "y"}, SinkHash: "3"}}}
	none := &reconcile.Result{Mode: reconcile.ModeCounts, SourceRows: 3, SinkRows: 3}
	for name, results := range map[string][]*reconcile.Result{
		"no tables":    nil,
		"no rows":      {none},
		"one table":    {full},
		"three tables": {full, none, onlyExtra},
	} {
		t.Run(name, func(t *testing.T) {
			o := &DiffReport{Mode: "rows", Where: "id > 0", OffsetctlVersion: "0.1.0-dev"}
			var want bytes.Buffer
			doc := diffJSON{FormatVersion: DiffFormat, OffsetctlVersion: o.OffsetctlVersion, Mode: o.Mode, Filter: o.Where, Tables: results}
			if doc.Tables == nil {
				doc.Tables = []*reconcile.Result{}
			}
			for _, r := range results {
				doc.Drift = doc.Drift || r.Drift()
			}
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(doc); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeDiffJSON(&got, o, results, nil); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("streamed JSON differs:\n%s\nwant:\n%s", got.String(), want.String())
			}
		})
	}
}
