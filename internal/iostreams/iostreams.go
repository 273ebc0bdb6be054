// Package iostreams carries the standard streams of one offsetctl invocation:
// where the artifact goes (Out), where diagnostics, prompts and progress go
// (Err), what the operator types (In), and whether each is a terminal.
//
// Commands never touch os.Stdout or os.Stderr directly; they receive a
// *Streams. System builds one from the process, Test builds one whose output
// is captured in buffers so command tests can assert on it.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// Streams is the set of streams a command reads from and writes to.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	// InTTY, OutTTY and ErrTTY say whether each stream is an interactive
	// terminal. Progress bars are drawn only when ErrTTY is true; prompts are
	// only offered when InTTY is true.
	InTTY, OutTTY, ErrTTY bool

	// Color says whether ANSI colour may be written to Out. It is false when
	// Out is not a terminal, when NO_COLOR is set, or after -no-color.
	Color bool
}

// System returns the streams of the running process.
func System() *Streams {
	s := &Streams{
		In:     os.Stdin,
		Out:    os.Stdout,
		Err:    os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	_, noColor := os.LookupEnv("NO_COLOR")
	s.Color = s.OutTTY && !noColor && os.Getenv("TERM") != "dumb"
	return s
}

// Test returns streams backed by buffers: in is what the command will read,
// out and errOut capture what it writes. Nothing is a terminal and colour is off.
func Test() (s *Streams, in *bytes.Buffer, out *bytes.Buffer, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &Streams{In: in, Out: out, Err: errOut}, in, out, errOut
}
