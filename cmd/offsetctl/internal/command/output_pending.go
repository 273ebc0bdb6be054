package command

import (
	"encoding/json"
	"io"
)

// writeJSON writes v as indented JSON: the documents of the commands whose
// output has not moved into the views package yet (check, drill,
// readiness, offsets verify).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
