package views

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/config"
)

// View is what every command's view shares: the streams and the output
// mode, chosen once from -json.
type View struct {
	streams *iostreams.Streams
	json    bool
}

// NewView returns the view of streams; asJSON is -json.
func NewView(streams *iostreams.Streams, asJSON bool) *View {
	return &View{streams: streams, json: asJSON}
}

// JSON reports whether the output is JSON.
func (v *View) JSON() bool { return v.json }

// Cobra gives cobra the streams for the help and usage texts it renders
// itself (--help, help COMMAND; the goldens of TestHelpEveryCommand).
func (v *View) Cobra(root *cobra.Command) {
	root.SetIn(v.streams.In)
	root.SetOut(v.streams.Out)
	root.SetErr(v.streams.Err)
}

// Warn writes "Warning: msg" on stderr.
func (v *View) Warn(msg string) {
	fmt.Fprintf(v.streams.Err, "Warning: %s\n", msg)
}

// Error writes a line of an error report on stderr (exitcode.go's
// "Error: ..." and its hint).
func (v *View) Error(line string) {
	fmt.Fprintln(v.streams.Err, line)
}

// UsageError writes a usage mistake and the command's usage on stderr.
func (v *View) UsageError(msg, usage string) {
	fmt.Fprintf(v.streams.Err, "Error: %s\n\n%s", msg, usage)
}

// Diagnostics writes configuration diagnostics, warnings included, on
// stderr with their source snippets (wrapped and coloured on a terminal).
func (v *View) Diagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) error {
	var width uint
	if v.streams.ErrTTY {
		width = 100
	}
	if err := config.WriteDiagnostics(v.streams.Err, files, diags, width, v.streams.Color && v.streams.ErrTTY); err != nil {
		return fmt.Errorf("printing the diagnostics: %w", err)
	}
	return nil
}

// encodeJSON writes doc as indented JSON and a newline. escapeHTML keeps
// encoding/json's default escaping of <, > and & (the documents that had
// it keep it, byte for byte).
func encodeJSON(w io.Writer, doc any, escapeHTML bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(escapeHTML)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// Plural is "1 partition", "2 partitions".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// pluralWord is one or many, by n.
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
