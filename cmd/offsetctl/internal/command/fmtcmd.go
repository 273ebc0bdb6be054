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
	v := views.NewFmt(o.deps.Streams)
	if o.target == "-" {
		src, err := io.ReadAll(o.deps.Streams.In)
		if err != nil {
			return fmt.Errorf("reading the configuration from stdin: %w", err)
		}
		return o.formatOne(v, "<stdin>", src, func(formatted []byte) error {
			if o.check || o.diff {
				return nil
			}
			return v.Formatted(formatted)
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
		if err := v.Changed(name); err != nil {
			return err
		}
		if o.diff {
			if err := v.Diff(filepath.ToSlash(name), src, formatted); err != nil {
				return err
			}
		}
	}
	if len(diags) > 0 {
		if err := v.Diagnostics(parsed, diags); err != nil {
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
func (o *fmtOptions) formatOne(v *views.Fmt, name string, src []byte, write func([]byte) error) error {
	formatted, diags := config.Format(name, src)
	if diags.HasErrors() {
		if err := v.Diagnostics(map[string]*hcl.File{name: {Bytes: src}}, diags); err != nil {
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
		if err := v.Diff(name, src, formatted); err != nil {
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
