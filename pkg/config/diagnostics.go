package config

import (
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags as HCL does: severity and summary, the file
// and line, a snippet of the source with the offending range underlined, and
// the detail. files are the parsed files by name (Config.Files); width wraps
// the detail (0: no wrapping); color adds terminal colours.
//
// Unlike HCL's writer used directly, it never prints the values of the
// variables an expression refers to ("var.password is ..."): a variable may
// hold a secret; and it masks the passwords of URLs in the snippets and
// messages (RedactSecrets).
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool) error {
	if len(diags) == 0 {
		return nil
	}
	files, diags = RedactSecrets(files, diags)
	safe := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Expression, c.EvalContext = nil, nil
		safe[i] = &c
	}
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(safe)
}
