package views

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// Demo is the view of offsetctl demo: headings and commentary, and the
// commands it runs shown as typed, their output indented, on stdout. The
// demo's own directory is left out of what is shown, so files are named
// as the operator would name them.
type Demo struct {
	*View
	dir string
}

// NewDemo returns the view of offsetctl demo, whose files are in dir.
func NewDemo(streams *iostreams.Streams, dir string) *Demo {
	return &Demo{View: NewView(streams, false), dir: dir + string(filepath.Separator)}
}

// Heading starts a part of the tour.
func (v *Demo) Heading(s string) {
	line := "━━ " + s + " " + strings.Repeat("━", max(0, 78-len([]rune(s))-4))
	if v.streams.Color {
		line = "\x1b[1m" + line + "\x1b[0m"
	}
	fmt.Fprintf(v.streams.Out, "\n%s\n", line)
}

// Say writes a line of commentary.
func (v *Demo) Say(format string, args ...any) {
	fmt.Fprintf(v.streams.Out, format+"\n", args...)
}

// Command shows args as the operator would type them and returns the
// writer for the command's output (stdout and stderr alike); End closes
// the command's part.
func (v *Demo) Command(args []string) *DemoOutput {
	shown := make([]string, len(args))
	for i, a := range args {
		shown[i] = strings.ReplaceAll(a, v.dir, "")
	}
	prompt := "$ offsetctl " + strings.Join(shown, " ")
	if v.streams.Color {
		prompt = "\x1b[36m" + prompt + "\x1b[0m"
	}
	fmt.Fprintf(v.streams.Out, "\n%s\n", prompt)
	return &DemoOutput{w: v.streams.Out, strip: v.dir}
}

// DemoOutput writes every line with two leading spaces, so command output
// stands apart from the narration, and shows the demo's own files by name.
type DemoOutput struct {
	w      io.Writer
	strip  string
	midway bool
}

var _ io.Writer = (*DemoOutput)(nil)

func (o *DemoOutput) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, line := range strings.SplitAfter(strings.ReplaceAll(string(p), o.strip, ""), "\n") {
		if line == "" {
			continue
		}
		if !o.midway && line != "\n" {
			b.WriteString("  ")
		}
		b.WriteString(line)
		o.midway = !strings.HasSuffix(line, "\n")
	}
	if _, err := io.WriteString(o.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// End ends the command's output: its last line, and a blank line.
func (o *DemoOutput) End() {
	if o.midway {
		fmt.Fprintln(o.w)
	}
	fmt.Fprintln(o.w)
}
