package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in HCL's canonical layout (indentation, aligned equals
// signs, spacing), as offsetctl fmt writes it. A file that does not parse is
// refused with its diagnostics, so that formatting never rewrites a file it
// does not understand. Formatting does not decode: it does not check blocks
// or attributes.
func Format(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}
