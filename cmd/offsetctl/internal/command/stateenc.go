package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// keyCommandTimeout bounds a key_command (a KMS or vault CLI).
const keyCommandTimeout = time.Minute

// stateKeys returns the keyring of the configuration's state encryption
// block, nil when there is none. The key is read from where the block says:
// the value itself, a file, or the standard output of a command (run
// without a shell). No message ever holds the key.
func stateKeys(ctx context.Context, cfg *config.Config) (*state.Keyring, error) {
	if cfg == nil || cfg.Settings == nil || cfg.Settings.State == nil || cfg.Settings.State.Encryption == nil {
		return nil, nil
	}
	enc := cfg.Settings.State.Encryption
	key, err := readKey(ctx, cfg, enc, enc.Key, "")
	if err != nil {
		return nil, err
	}
	var previous [][]byte
	if enc.Previous != nil {
		p, err := readKey(ctx, cfg, enc, *enc.Previous, "previous_")
		if err != nil {
			return nil, err
		}
		previous = append(previous, p)
	}
	keys, err := state.NewKeyring(nil, key, previous...)
	if err != nil {
		return nil, fmt.Errorf("the state encryption block (%s): %w", enc.DeclRange, err)
	}
	return keys, nil
}

func readKey(ctx context.Context, cfg *config.Config, enc *config.StateEncryption, ks config.KeySource, prefix string) ([]byte, error) {
	where := func(attr string) string {
		if r, ok := enc.Ranges[prefix+attr]; ok {
			return fmt.Sprintf("%s%s of the state encryption block (%s)", prefix, attr, r)
		}
		return fmt.Sprintf("%s%s of the state encryption block (%s)", prefix, attr, enc.DeclRange)
	}
	switch {
	case len(ks.Command) > 0:
		cctx, cancel := context.WithTimeout(ctx, keyCommandTimeout)
		defer cancel()
		var stdout, stderr bytes.Buffer
		c := exec.CommandContext(cctx, ks.Command[0], ks.Command[1:]...)
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			if msg != "" {
				msg = ": " + msg
			}
			return nil, withHint(fmt.Errorf("the %s: running %s failed: %w%s", where("key_command"), ks.Command[0], err, msg),
				"The command must print the state key (32 bytes, base64 or hexadecimal) on its standard output.")
		}
		key, err := state.ParseKey(stdout.String())
		if err != nil {
			return nil, fmt.Errorf("the %s printed no usable key: %w", where("key_command"), err)
		}
		return key, nil
	case ks.File != "":
		data, err := os.ReadFile(cfg.Path(ks.File))
		if err != nil {
			return nil, fmt.Errorf("the %s: %w", where("key_file"), err)
		}
		key, err := state.ParseKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("the %s (%s): %w", where("key_file"), ks.File, err)
		}
		return key, nil
	case !ks.Key.IsZero():
		key, err := state.ParseKey(ks.Key.Value())
		if err != nil {
			return nil, fmt.Errorf("the %s (from %s): %w", where("key"), ks.Key.Source(), err)
		}
		return key, nil
	}
	return nil, withHint(errors.New("the "+where("key")+" has no value"),
		"Set what it reads (for env(\"OFFSETCTL_STATE_KEY\"): export OFFSETCTL_STATE_KEY=$(openssl rand -base64 32), kept where your secrets are kept).")
}

// keyIDOf names the key a backend seals with.
func keyIDOf(b state.Backend) string {
	if k, ok := b.(interface{ KeyID() string }); ok && k.KeyID() != "" {
		return k.KeyID()
	}
	return "(none)"
}
