package views

import (
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// SandboxEnv is what sandbox up prints: where the sandbox answers, and the
// environment that points offsetctl (and the examples) at it.
type SandboxEnv struct {
	FormatVersion    int               `json:"format_version"`
	ConnectURL       string            `json:"connect_url"`
	ConnectVersion   string            `json:"connect_version"`
	BootstrapServers []string          `json:"bootstrap_servers"`
	OffsetsTopic     string            `json:"offsets_topic"`
	SourceConnector  string            `json:"source_connector,omitempty"`
	SinkConnector    string            `json:"sink_connector,omitempty"`
	Topic            string            `json:"topic,omitempty"`
	Env              map[string]string `json:"env"`
	envOrder         []string
}

// Set adds the environment variable k; the text prints them in the order
// they were set.
func (e *SandboxEnv) Set(k, v string) {
	if e.Env == nil {
		e.Env = map[string]string{}
	}
	e.Env[k] = v
	e.envOrder = append(e.envOrder, k)
}

// Sandbox is the view of offsetctl sandbox up: what it does on stderr, the
// environment on stdout (export lines to source, or a JSON document).
type Sandbox struct{ *View }

// NewSandbox returns the view of offsetctl sandbox up.
func NewSandbox(streams *iostreams.Streams, asJSON bool) *Sandbox {
	return &Sandbox{NewView(streams, asJSON)}
}

// Logf writes a line about what the sandbox does, on stderr.
func (v *Sandbox) Logf(format string, args ...any) {
	fmt.Fprintf(v.streams.Err, format+"\n", args...)
}

// Env writes the sandbox's environment on stdout.
func (v *Sandbox) Env(env *SandboxEnv) error {
	if v.json {
		env.FormatVersion = SandboxFormat
		return encodeJSON(v.streams.Out, env, true)
	}
	for _, k := range env.envOrder {
		if _, err := fmt.Fprintf(v.streams.Out, "export %s=%s\n", k, shellQuote(env.Env[k])); err != nil {
			return err
		}
	}
	return nil
}

// shellQuote quotes v for a POSIX shell when it needs it.
func shellQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@,=+%", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
