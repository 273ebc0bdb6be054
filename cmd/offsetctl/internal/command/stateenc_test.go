package command

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestStateEncryptionThroughTheCLI: with an encryption block, a repair's
// before-images (row values) reach no file in the clear; reading without
// the key says so; rollback reads the encrypted state; a state in the clear
// is encrypted by rotate-key, and rotate-key moves it to a new key (from a
// key_command) with the old one as previous_key_file.
func TestStateEncryptionThroughTheCLI(t *testing.T) {
	src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{src, dst} {
		pgtest.Exec(t, u, `CREATE TABLE customers (id bigint PRIMARY KEY, email text)`)
		pgtest.Exec(t, u, `INSERT INTO customers SELECT g, 'user'||g||'@example.com' FROM generate_series(1, 20) g`)
	}
	pgtest.Exec(t, dst, `UPDATE customers SET email = 'personal-before-image@example.com' WHERE id = 9`)
	oldKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x11}, 32))
	newKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x22}, 32))
	keys := t.TempDir()
	oldFile, newFile := filepath.Join(keys, "old.key"), filepath.Join(keys, "new.key")
	for f, k := range map[string]string{oldFile: oldKey + "\n", newFile: newKey + "\n"} {
		if err := os.WriteFile(f, []byte(k), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	blocks := fmt.Sprintf(`
database "source" {
  url = %q
}

database "sink" {
  url = %q
}

reconcile "customers" {
  source      = database.source
  sink        = database.sink
  table       = "public.customers"
  repair      = "upsert"
  max_changes = 10
  reason      = "INC-10: the sink drifted"
}
`, src, dst)
	settings := func(encryption string) string {
		return fmt.Sprintf("offsetctl {\n  state \"local\" {\n    path = \"state/offsetctl.state.json\"\n%s  }\n}\n", encryption)
	}
	dir := writeConfig(t, settings("")+blocks)
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	setConfig := func(encryption string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(settings(encryption)+blocks), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() string {
		t.Helper()
		var all strings.Builder
		entries, _ := os.ReadDir(stateDir)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(stateDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			all.WriteString(e.Name() + ":\n" + string(data))
		}
		return all.String()
	}
	env := map[string]string{"OFFSETCTL_STATE_KEY": oldKey}
	cli := func(wantCode int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := runCmd(t, env, "", append(args, "-chdir", dir)...)
		if code != wantCode {
			t.Fatalf("offsetctl %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out, errOut
	}
	planFile := filepath.Join(t.TempDir(), "plan.json")

	// In the clear first (as every state was before encryption existed).
	cli(0, "plan", "-out", planFile)
	cli(0, "apply", planFile)
	if !strings.Contains(stored(), "personal-before-image") {
		t.Fatal("the test is wrong: the state in the clear holds no before-image")
	}
	// The key configured: refused in the clear, until rotate-key.
	setConfig("    encryption {\n      key = env(\"OFFSETCTL_STATE_KEY\")\n    }\n")
	_, errOut := cli(1, "state", "list")
	if !strings.Contains(errOut, "stored in the clear") || !strings.Contains(errOut, "offsetctl state rotate-key") {
		t.Fatalf("state list of a state in the clear with a key configured:\n%s", errOut)
	}
	out, _ := cli(0, "state", "rotate-key")
	if !strings.Contains(out, "is encrypted with key "+state.KeyID(bytes.Repeat([]byte{0x11}, 32))) {
		t.Fatalf("rotate-key said:\n%s", out)
	}
	if s := stored(); strings.Contains(s, "personal-before-image") || strings.Contains(s, "customers") {
		t.Fatalf("after rotate-key, the state directory shows the state:\n%s", s)
	}
	// Readable with the key, and rollback works from it.
	if out, _ = cli(0, "state", "show", "1", "-json"); !strings.Contains(out, "personal-before-image") {
		t.Fatalf("state show with the key:\n%s", out)
	}
	// Without the key: the environment variable unset.
	env = map[string]string{}
	if _, errOut = cli(1, "state", "list"); !strings.Contains(errOut, "OFFSETCTL_STATE_KEY") {
		t.Fatalf("state list without the key:\n%s", errOut)
	}
	// Without any encryption block (--state from elsewhere): says it is encrypted.
	code, _, errOut := runCmd(t, nil, "", "state", "list", "--state", filepath.Join(stateDir, "offsetctl.state.json"), "-chdir", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "is encrypted (AES-256-GCM, key ") || !strings.Contains(errOut, "no key is configured") {
		t.Fatalf("state list without an encryption block: exit %d\n%s", code, errOut)
	}
	env = map[string]string{"OFFSETCTL_STATE_KEY": oldKey}
	cli(0, "rollback", "-auto-approve")
	if s := stored(); strings.Contains(s, "personal-before-image") {
		t.Fatalf("after an encrypted rollback, the state directory shows a row:\n%s", s)
	}
	// Rotation to a key printed by a command, the old key in a file.
	setConfig(fmt.Sprintf("    encryption {\n      key_command       = [\"cat\", %q]\n      previous_key_file = %q\n    }\n", newFile, oldFile))
	cli(0, "state", "rotate-key")
	if s := stored(); strings.Contains(s, state.KeyID(bytes.Repeat([]byte{0x11}, 32))) || strings.Contains(s, "personal-before-image") {
		t.Fatalf("after rotating, something is sealed with the old key or in the clear:\n%s", s)
	}
	setConfig(fmt.Sprintf("    encryption {\n      key_file = %q\n    }\n", newFile))
	if out, _ = cli(0, "state", "list"); !strings.Contains(out, "customers") {
		t.Fatalf("state list with the new key:\n%s", out)
	}
	setConfig(fmt.Sprintf("    encryption {\n      key_file = %q\n    }\n", oldFile))
	if _, errOut = cli(1, "state", "list"); !strings.Contains(errOut, "encrypted with key "+state.KeyID(bytes.Repeat([]byte{0x22}, 32))) {
		t.Fatalf("state list with the old key after rotating:\n%s", errOut)
	}
	// A failing key command says which, and never shows a key.
	setConfig("    encryption {\n      key_command = [\"false\"]\n    }\n")
	if _, errOut = cli(1, "state", "list"); !strings.Contains(errOut, "key_command of the state encryption block") {
		t.Fatalf("a failing key command:\n%s", errOut)
	}
	for _, k := range []string{oldKey, newKey} {
		if strings.Contains(out+errOut, k) {
			t.Fatal("a key reached the output")
		}
	}
}
