package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/golden"
	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// goldens is the -update flag of this package's tests; every command test
// of the package uses it (golden.Flag may be called only once per binary).
var goldens = golden.Flag()

// runCmd runs offsetctl with args and the environment env, and returns the
// exit code, stdout and stderr.
func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	s, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	deps := &Deps{Streams: s, Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }}
	code := run(context.Background(), deps, append([]string{}, args...))
	return code, out.String(), errOut.String()
}

var configEnv = map[string]string{
	"SOURCE_DATABASE_URL":    "postgres://app:src-s3cret@source/shop",
	"SINK_DATABASE_URL":      "postgres://app:sink-s3cret@sink/shop",
	"OFFSETCTL_VAR_incident": "INC-42",
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		// wantErr, when set, is checked in stderr instead of goldens
		// (usage text belongs to every command).
		wantErr string
	}{
		{name: "valid", env: configEnv, args: []string{"validate", "testdata/config/valid"}},
		{name: "valid without secrets or variables", args: []string{"validate", "testdata/config/valid"}},
		{name: "invalid", args: []string{"validate", "testdata/config/invalid"}, wantCode: ExitError},
		{name: "invalid json", args: []string{"validate", "-json", "testdata/config/invalid"}, wantCode: ExitError},
		{name: "valid json", args: []string{"validate", "--json", "testdata/config/valid", "-var", "incident=INC-7"}},
		{name: "undeclared var", args: []string{"validate", "testdata/config/valid", "-var", "incidnet=INC-7"}, wantCode: ExitError},
		{name: "does not parse", args: []string{"validate", "testdata/config/broken"}, wantCode: ExitError},
		{name: "offset formats", args: []string{"validate", "testdata/config/badformat"}, wantCode: ExitError},
		{name: "no such directory", args: []string{"validate", "testdata/config/nope"}, wantCode: ExitError},
		{name: "too many arguments", args: []string{"validate", "a", "b"}, wantCode: ExitError, wantErr: "Error: accepts at most 1 arg(s), received 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.env, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if tt.wantErr != "" {
				if !strings.Contains(errOut, tt.wantErr) {
					t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
				}
			} else {
				goldens.Assert(t, "stdout", []byte(out))
				goldens.Assert(t, "stderr", []byte(errOut))
			}
			if strings.Contains(out+errOut, "s3cret") {
				t.Error("a secret shows in the output")
			}
		})
	}
}

func TestFmtCheck(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
	}{
		{name: "check", args: []string{"fmt", "-check", "testdata/config/unformatted"}, wantCode: ExitUnformatted},
		{name: "check diff", args: []string{"fmt", "-check", "-diff", "testdata/config/unformatted"}, wantCode: ExitUnformatted},
		{name: "check one formatted file", args: []string{"fmt", "-check", "testdata/config/unformatted/b.hcl"}},
		{name: "check formatted", args: []string{"fmt", "--check", "testdata/config/valid"}},
		{name: "does not parse", args: []string{"fmt", "-check", "testdata/config/broken"}, wantCode: ExitError},
		{name: "stdin", args: []string{"fmt", "-"}, stdin: "connect \"x\" {\nurl=\"http://c:8083\"\n}\n"},
		{name: "stdin check diff", args: []string{"fmt", "-check", "-diff", "-"}, stdin: "connect \"x\" {\nurl=\"http://c:8083\"\n}", wantCode: ExitUnformatted},
		{name: "stdin does not parse", args: []string{"fmt", "-"}, stdin: "connect \"x\" {\n", wantCode: ExitError},
		{name: "no such file", args: []string{"fmt", "testdata/config/nope"}, wantCode: ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, nil, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			goldens.Assert(t, "stdout", []byte(out))
			goldens.Assert(t, "stderr", []byte(errOut))
		})
	}
}

// TestFmtWrites formats a copy of the unformatted configuration in place:
// the changed files are listed and rewritten, then a second run and -check
// find nothing to do.
func TestFmtWrites(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.hcl", "b.hcl", "c.hcl"} {
		src, err := os.ReadFile(filepath.Join("testdata/config/unformatted", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x  =  1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, nil, "", "fmt", dir)
	want := filepath.Join(dir, "a.hcl") + "\n" + filepath.Join(dir, "c.hcl") + "\n"
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("fmt: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errOut)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.hcl"))
	if !strings.Contains(string(a), "  url = \"http://connect:8083\"\n") || !strings.Contains(string(a), "  name    = \"orders-jdbc-sink\"") {
		t.Errorf("a.hcl not formatted:\n%s", a)
	}
	if info, _ := os.Stat(filepath.Join(dir, "a.hcl")); info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600 kept", info.Mode().Perm())
	}
	if notes, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(notes) != "x  =  1\n" {
		t.Error("a file that is not *.hcl was touched")
	}
	for _, args := range [][]string{{"fmt", dir}, {"fmt", "-check", dir}} {
		if code, out, errOut := runCmd(t, nil, "", args...); code != 0 || out != "" || errOut != "" {
			t.Errorf("%v after formatting: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	// The formatted configuration still loads.
	if code, _, errOut := runCmd(t, nil, "", "validate", dir); code != 0 {
		t.Errorf("validate after fmt: exit %d\n%s", code, errOut)
	}
}

// TestConfigPasswordsNeverPrinted: a password written in a URL of the
// configuration is warned about (validate still passes) and never printed:
// not in the snippets of validate, validate -json, plan or apply, whatever
// the diagnostic on its line.
func TestConfigPasswordsNeverPrinted(t *testing.T) {
	const pwLine = `database "sink" { url = "postgres://app:hunter2-s3cret@db/shop" }`
	valid := writeConfig(t, pwLine+"\n")
	broken := writeConfig(t, pwLine+"}\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // in stdout+stderr
	}{
		{"validate warns", []string{"validate", valid}, ExitOK,
			[]string{"Warning: Password written in the configuration", `url = "postgres://app:**************@db/shop"`, `env("NAME")`, "PGPASSWORD", "The configuration is valid"}},
		{"validate -json warns", []string{"validate", "-json", valid}, ExitOK,
			[]string{`"severity": "warning"`, `"summary": "Password written in the configuration"`, `postgres://app:**************@db/shop`}},
		{"validate, error on the line", []string{"validate", broken}, ExitError,
			[]string{"Error: ", `postgres://app:**************@db/shop" }}`}},
		{"validate -json, error on the line", []string{"validate", "-json", broken}, ExitError,
			[]string{`"severity": "error"`, `postgres://app:**************@db/shop`}},
		{"plan, error on the line", []string{"plan", "-chdir", broken}, ExitError,
			[]string{`postgres://app:**************@db/shop" }}`}},
		{"apply, error on the line", []string{"apply", "-auto-approve", "-chdir", broken}, ExitError,
			[]string{`postgres://app:**************@db/shop" }}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, nil, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Errorf("the password is printed:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output does not contain %q:\nstdout:\n%s\nstderr:\n%s", w, out, errOut)
				}
			}
		})
	}
}
