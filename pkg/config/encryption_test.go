package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestStateEncryptionBlock(t *testing.T) {
	for _, tc := range []struct {
		name, block string
		key         KeySource
		previous    *KeySource
	}{
		{"key from the environment", `key = env("OFFSETCTL_STATE_KEY")`, KeySource{Key: NewSecret("a-key", "env OFFSETCTL_STATE_KEY")}, nil},
		{"key file", `key_file = "keys/state.key"`, KeySource{File: "keys/state.key"}, nil},
		{"key command and previous key", "key_command = [\"aws\", \"kms\", \"decrypt\"]\nprevious_key = env(\"OLD_KEY\")",
			KeySource{Command: []string{"aws", "kms", "decrypt"}}, &KeySource{Key: NewSecret("old", "env OLD_KEY")}},
		{"previous key command", "key_file = \"new.key\"\nprevious_key_command = [\"cat\", \"old.key\"]",
			KeySource{File: "new.key"}, &KeySource{Command: []string{"cat", "old.key"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "offsetctl {\n  state \"local\" {\n    path = \"s.json\"\n    encryption {\n" + tc.block + "\n    }\n  }\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"OFFSETCTL_STATE_KEY": "a-key", "OLD_KEY": "old"}
			cfg, diags := Load(dir, Options{Getenv: func(k string) string { return env[k] }})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			enc := cfg.Settings.State.Encryption
			if enc == nil || !reflect.DeepEqual(enc.Key, tc.key) || !reflect.DeepEqual(enc.Previous, tc.previous) {
				t.Fatalf("encryption = %+v, want key %+v previous %+v", enc, tc.key, tc.previous)
			}
		})
	}
}
