package local

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) func() state.Backend {
		path := filepath.Join(t.TempDir(), "offsetctl.state.json")
		return func() state.Backend { return New(path, WithVersion("test")) }
	})
}

func TestEncryption(t *testing.T) {
	statetest.RunEncryption(t, func(t *testing.T) (func(*state.Keyring) state.Backend, func() []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "offsetctl.state.json")
		return func(keys *state.Keyring) state.Backend {
				opts := []Option{WithVersion("test")}
				if keys != nil {
					opts = append(opts, WithEncryption(keys))
				}
				return New(path, opts...)
			}, func() []byte {
				var all []byte
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					data, err := os.ReadFile(filepath.Join(dir, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					all = append(append(all, e.Name()+":\n"...), data...)
				}
				return all
			}
	})
}

// TestConformanceEncrypted: an encrypted state behaves as one in the clear.
func TestConformanceEncrypted(t *testing.T) {
	keys, err := state.NewKeyring(nil, bytes.Repeat([]byte{9}, state.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	statetest.Run(t, func(t *testing.T) func() state.Backend {
		path := filepath.Join(t.TempDir(), "offsetctl.state.json")
		return func() state.Backend { return New(path, WithVersion("test"), WithEncryption(keys)) }
	})
}
