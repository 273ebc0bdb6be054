package command

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/sergi/go-diff/diffmatchpatch"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/config"
)

type fmtOptions struct {
	deps   *Deps
	target string
	check  bool
	diff   bool
}

func newFmtCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &fmtOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "fmt [DIR | FILE | -]",
		Short: "Rewrite configuration files in the canonical layout",
		Long: `Rewrite the *.hcl files of DIR (default: the current directory), or one FILE, in HCL's
canonical layout: indentation, aligned equals signs, spacing. Only layout changes; the
meaning never does. The name of each file that changed is printed. With "-", the
configuration is read from stdin and written, formatted, to stdout.

A file that does not parse is left alone and its errors are printed.

  -check  change nothing; list the files that are not formatted
  -diff   print the changes as a unified diff

Exit status: 0 when every file was already formatted (or has been rewritten); 1 on an
error, such as a file that does not parse; 3 with -check when some file is not
formatted, as terraform fmt -check.`,
		Example: `  offsetctl fmt
  offsetctl fmt -check -diff ./offsets
  cat main.hcl | offsetctl fmt -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.target = "."
			if len(args) == 1 {
				o.target = args[0]
			}
			return fmtRun(o)
		},
	}
	cmd.Flags().BoolVar(&o.check, "check", false, "change nothing; exit 3 when some file is not formatted")
	cmd.Flags().BoolVar(&o.diff, "diff", false, "print the changes as a unified diff")
	return cmd
}

func fmtRun(o *fmtOptions) error {
	out := o.deps.Streams.Out
	if o.target == "-" {
		src, err := io.ReadAll(o.deps.Streams.In)
		if err != nil {
			return fmt.Errorf("reading the configuration from stdin: %w", err)
		}
		return o.formatOne("<stdin>", src, func(formatted []byte) error {
			if o.check || o.diff {
				return nil
			}
			_, err := out.Write(formatted)
			return err
		})
	}

	files, err := fmtFiles(o.target)
	if err != nil {
		return err
	}
	var diags hcl.Diagnostics
	parsed := map[string]*hcl.File{}
	changed := 0
	for _, name := range files {
		info, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("formatting %s: %w", name, err)
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("formatting %s: %w", name, err)
		}
		formatted, fd := config.Format(name, src)
		if fd.HasErrors() {
			diags = append(diags, fd...)
			parsed[name] = &hcl.File{Bytes: src}
			continue
		}
		if bytes.Equal(src, formatted) {
			continue
		}
		changed++
		if !o.check {
			if err := os.WriteFile(name, formatted, info.Mode().Perm()); err != nil {
				return fmt.Errorf("rewriting %s: %w", name, err)
			}
		}
		if _, err := fmt.Fprintln(out, name); err != nil {
			return err
		}
		if o.diff {
			if _, err := io.WriteString(out, unifiedDiff(filepath.ToSlash(name), src, formatted)); err != nil {
				return err
			}
		}
	}
	if len(diags) > 0 {
		if err := views.NewView(o.deps.Streams, false).Diagnostics(parsed, diags); err != nil {
			return err
		}
		return reported()
	}
	if o.check && changed > 0 {
		return unformatted()
	}
	return nil
}

// formatOne formats stdin, printing errors and the diff as fmtRun does.
func (o *fmtOptions) formatOne(name string, src []byte, write func([]byte) error) error {
	formatted, diags := config.Format(name, src)
	if diags.HasErrors() {
		if err := views.NewView(o.deps.Streams, false).Diagnostics(map[string]*hcl.File{name: {Bytes: src}}, diags); err != nil {
			return err
		}
		return reported()
	}
	if err := write(formatted); err != nil {
		return err
	}
	if bytes.Equal(src, formatted) {
		return nil
	}
	if o.diff {
		if _, err := io.WriteString(o.deps.Streams.Out, unifiedDiff(name, src, formatted)); err != nil {
			return err
		}
	}
	if o.check {
		return unformatted()
	}
	return nil
}

// fmtFiles lists the files fmt works on: target itself when it is a file,
// else the *.hcl files of the directory, sorted.
func fmtFiles(target string) ([]string, error) {
	info, err := os.Stat(target)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, withHint(fmt.Errorf("nothing to format: %s does not exist", target), "Give the configuration directory or one file, or run offsetctl fmt where the *.hcl files are.")
		}
		return nil, fmt.Errorf("formatting %s: %w", target, err)
	}
	if !info.IsDir() {
		return []string{target}, nil
	}
	entries, err := os.ReadDir(target)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", target, err)
	}
	var files []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".hcl") && !strings.HasPrefix(n, ".") {
			files = append(files, filepath.Join(target, n))
		}
	}
	sort.Strings(files)
	return files, nil
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
