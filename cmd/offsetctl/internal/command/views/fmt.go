package views

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// Fmt is the view of offsetctl fmt.
type Fmt struct{ *View }

// NewFmt returns the view of offsetctl fmt.
func NewFmt(streams *iostreams.Streams) *Fmt {
	return &Fmt{NewView(streams, false)}
}

// Formatted writes the configuration formatted from stdin, on stdout.
func (v *Fmt) Formatted(src []byte) error {
	_, err := v.streams.Out.Write(src)
	return err
}

// Changed names a file that is (or, with -check, would be) rewritten.
func (v *Fmt) Changed(name string) error {
	_, err := fmt.Fprintln(v.streams.Out, name)
	return err
}

// Diff writes a unified diff from src to formatted, the file's name
// being name.
func (v *Fmt) Diff(name string, src, formatted []byte) error {
	_, err := io.WriteString(v.streams.Out, unifiedDiff(name, src, formatted))
	return err
}

// diffContext is the number of unchanged lines around each change.
const diffContext = 3

// unifiedDiff returns the changes from a to b in unified diff format
// (--- a/NAME, +++ b/NAME, @@ hunks), or "" when they are equal.
func unifiedDiff(name string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	type line struct {
		op   byte // ' ', '-', '+'
		text string
	}
	dmp := diffmatchpatch.New()
	ca, cb, table := dmp.DiffLinesToChars(string(a), string(b))
	var lines []line
	for _, d := range dmp.DiffCharsToLines(dmp.DiffMain(ca, cb, false), table) {
		op := byte(' ')
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			op = '-'
		case diffmatchpatch.DiffInsert:
			op = '+'
		}
		for _, l := range strings.SplitAfter(d.Text, "\n") {
			if l != "" {
				lines = append(lines, line{op, l})
			}
		}
	}
	// aBefore[i], bBefore[i]: lines of a and b before lines[i].
	aBefore, bBefore := make([]int, len(lines)+1), make([]int, len(lines)+1)
	for i, l := range lines {
		aBefore[i+1], bBefore[i+1] = aBefore[i], bBefore[i]
		if l.op != '+' {
			aBefore[i+1]++
		}
		if l.op != '-' {
			bBefore[i+1]++
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- a/%s\n+++ b/%s\n", name, name)
	n := len(lines)
	for k := 0; k < n; {
		for k < n && lines[k].op == ' ' {
			k++
		}
		if k == n {
			break
		}
		start, end := max(0, k-diffContext), k
		for {
			for end < n && lines[end].op != ' ' {
				end++
			}
			e := end
			for e < n && lines[e].op == ' ' {
				e++
			}
			if e < n && e-end <= 2*diffContext {
				end = e
				continue
			}
			end = min(n, end+diffContext)
			break
		}
		aStart, aLen := aBefore[start]+1, aBefore[end]-aBefore[start]
		bStart, bLen := bBefore[start]+1, bBefore[end]-bBefore[start]
		if aLen == 0 {
			aStart--
		}
		if bLen == 0 {
			bStart--
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", aStart, aLen, bStart, bLen)
		for _, l := range lines[start:end] {
			sb.WriteByte(l.op)
			sb.WriteString(l.text)
			if !strings.HasSuffix(l.text, "\n") {
				sb.WriteString("\n\\ No newline at end of file\n")
			}
		}
		k = end
	}
	return sb.String()
}
