package command

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// helpCommand is one command of the tree with the words that invoke it.
type helpCommand struct {
	path []string // words after "offsetctl"; empty for the root
	cmd  *cobra.Command
}

// helpCommands walks the cobra tree of offsetctl from the root, depth first
// in the order --help lists the commands.
func helpCommands() []helpCommand {
	s, _, _, _ := iostreams.Test()
	root, _ := newRootCmd(&Deps{Streams: s, Getenv: func(string) string { return "" }, Now: time.Now})
	var out []helpCommand
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		out = append(out, helpCommand{path: path, cmd: c})
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(root, nil)
	return out
}

// runHelp runs offsetctl with args and an empty environment.
func runHelp(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: time.Now}
	code := run(context.Background(), deps, args)
	return code, out.String(), errOut.String()
}

// helpKnownGaps are commands that still lack both a Long description and an
// Example, with the file that owns them. The test fails when one of them gets
// one, so that this list only shrinks.
var helpKnownGaps = map[string]string{
	"sandbox":    "sandbox.go",
	"state_list": "state.go",
}

// TestHelpEveryCommand pins the --help text of every command and subcommand
// (one golden each), checks that each one says what it is for (Short) and
// how to use it (Long or Example), and that -h, --help and `help CMD` print
// the same text with exit code 0 and nothing on stderr.
func TestHelpEveryCommand(t *testing.T) {
	cmds := helpCommands()
	if len(cmds) < 10 {
		t.Fatalf("walked only %d commands: is the tree built?", len(cmds))
	}
	for _, hc := range cmds {
		name := "offsetctl"
		if len(hc.path) > 0 {
			name = strings.Join(hc.path, "_")
		}
		t.Run(name, func(t *testing.T) {
			c := hc.cmd
			if strings.TrimSpace(c.Short) == "" {
				t.Errorf("%q has no Short description", c.CommandPath())
			}
			if strings.TrimSpace(c.Long) == "" && strings.TrimSpace(c.Example) == "" {
				if helpKnownGaps[name] == "" {
					t.Errorf("%q has neither a Long description nor an Example", c.CommandPath())
				}
			} else if helpKnownGaps[name] != "" {
				t.Errorf("%q now has a Long or an Example: remove it from helpKnownGaps", c.CommandPath())
			}
			if strings.HasSuffix(strings.TrimSpace(c.Short), ".") {
				t.Errorf("%q: Short ends with a period; cobra lists it in a table", c.CommandPath())
			}
			code, out, errOut := runHelp(t, append(append([]string{}, hc.path...), "--help")...)
			if code != ExitOK || errOut != "" {
				t.Fatalf("--help: exit %d, stderr:\n%s", code, errOut)
			}
			// cobra shows Long when there is one, else Short.
			about := c.Long
			if about == "" {
				about = c.Short
			}
			for _, want := range []string{"Usage:", strings.TrimSpace(about), c.Example} {
				if !strings.Contains(out, want) {
					t.Errorf("--help lacks %q:\n%s", want, out)
				}
			}
			goldens.Assert(t, "help", []byte(out))

			for _, variant := range [][]string{
				append(append([]string{}, hc.path...), "-h"),
				append(append([]string{}, hc.path...), "-help"),
				append([]string{"help"}, hc.path...),
			} {
				code, got, errOut := runHelp(t, variant...)
				if code != ExitOK || errOut != "" {
					t.Errorf("offsetctl %s: exit %d, stderr:\n%s", strings.Join(variant, " "), code, errOut)
				}
				if got != out {
					t.Errorf("offsetctl %s prints other help than --help:\n%s", strings.Join(variant, " "), got)
				}
			}
		})
	}
}

// TestHelpUnknownCommand: a mistyped command is a usage error (exit 1) that
// names the command and suggests the closest one, never a silent help page.
func TestHelpUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"conectors"}, []string{`unknown command "conectors" for "offsetctl"`, "Did you mean this?", "connectors"}},
		{[]string{"offsets", "shwo", "x"}, []string{`unknown command "shwo" for "offsetctl offsets"`, "show"}},
		{[]string{"help", "nosuchcommand"}, []string{`unknown help topic "nosuchcommand"`, "offsetctl --help lists the commands"}},
		{[]string{"help", "offsets", "shwo"}, []string{`unknown help topic "offsets shwo"`}},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, out, errOut := runHelp(t, tc.args...)
			if code != ExitError {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitError, out, errOut)
			}
			for _, want := range tc.want {
				if !strings.Contains(out+errOut, want) {
					t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", want, out, errOut)
				}
			}
		})
	}
}

// TestHelpCobraCommands: the help and completion commands cobra adds (not
// pinned by goldens: their text is cobra's) answer --help with exit 0.
func TestHelpCobraCommands(t *testing.T) {
	for _, args := range [][]string{{"help", "--help"}, {"help"}, {"completion", "--help"}, {"completion", "bash", "--help"}} {
		code, out, errOut := runHelp(t, args...)
		if code != ExitOK || errOut != "" || !strings.Contains(out, "Usage:") {
			t.Errorf("offsetctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}
