package command

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// The lock names its holder as user@host: $USER when set, else the
// operating system's account (a container or a service often has no USER),
// never "someone".
func TestLockHolderIsTheRealUserAtHost(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Skipf("no operating-system account to compare with: %v", err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"USER", map[string]string{"USER": "alice", "LOGNAME": "bob"}, "alice@" + host},
		{"LOGNAME only", map[string]string{"LOGNAME": "bob"}, "bob@" + host},
		{"no user variables", map[string]string{}, u.Username + "@" + host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "offsetctl.state.json")
			data, err := os.ReadFile(fixtureState)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, _, _, _ := iostreams.Test()
			deps := &Deps{Streams: s, Getenv: func(k string) string { return tc.env[k] }, Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }}
			b := local.New(path)
			defer b.Close()
			id, err := lockState(context.Background(), deps, b, "apply", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Unlock(context.Background(), id)
			code, out, errOut := runStateCmd(t, false, "", "state", "show", "--state", path)
			want := "locked by " + tc.want + " (pid "
			if code != 0 || !strings.Contains(out+errOut, want) || strings.Contains(out+errOut, "someone") {
				t.Errorf("exit %d: the lock holder is not %q:\n%s\n%s", code, tc.want, out, errOut)
			}
		})
	}
}
