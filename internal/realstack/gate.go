package realstack

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnableEnv names the variable that turns the real tier on outside CI.
const EnableEnv = "OFFSETCTL_REALSTACK"

// ShortSkip is why a real-stack test skips under go test -short (make
// test-short): starting Kafka, Connect and Debezium takes minutes. It wins
// over OFFSETCTL_REALSTACK=1 and CI=true: -short asks for the quick tiers.
const ShortSkip = "real-stack test skipped: -short (make test-short) leaves the real Kafka/Connect/Debezium tier to make test"

// startLimit bounds Start inside tests (the first run also fetches).
const startLimit = 6 * time.Minute

// Enabled tells whether real-stack tests should run, from the environment
// (getenv is os.Getenv in tests) and what the machine has (available is
// Available): yes when OFFSETCTL_REALSTACK=1 or CI=true (where a missing
// prerequisite then fails the tests instead of skipping them), no when
// OFFSETCTL_REALSTACK=0 (an explicit opt-out, CI included), and otherwise yes
// exactly when Java 17+ and Maven (or a filled cache) are there. When it says
// no, why is the one line a skipped test prints.
func Enabled(getenv func(string) string, available func() (bool, string)) (ok bool, why string) {
	switch strings.TrimSpace(getenv(EnableEnv)) {
	case "1", "true", "yes":
		return true, ""
	case "0", "false", "no":
		return false, "real-stack test skipped: " + EnableEnv + "=0 turns the real Kafka/Connect/Debezium tier off"
	}
	if getenv("CI") == "true" {
		return true, ""
	}
	if ok, missing := available(); !ok {
		return false, "real-stack test skipped: " + missing + "; install it and run make test again (" + EnableEnv + "=1 makes a missing prerequisite an error)"
	}
	return true, ""
}

// shared is the one stack of a test binary, started by the first Get and
// closed by Main. It is this package's only state.
var shared struct {
	once     sync.Once
	st       *Stack
	err      error
	mainSeen bool
	mu       sync.Mutex
	failed   bool
}

// Main runs the package's tests and closes the stack if one was started;
// when a test failed, the logs are kept and their folder printed. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { realstack.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns m.Run's code, for a TestMain that
// has more to do afterwards.
func Run(m *testing.M) int {
	shared.mainSeen = true
	code := m.Run()
	if st := shared.st; st != nil {
		shared.mu.Lock()
		failed := shared.failed
		shared.mu.Unlock()
		if code != 0 || failed {
			st.KeepLogs()
			fmt.Fprintf(os.Stderr, "realstack: tests failed; Kafka, Connect and PostgreSQL logs kept in %s\n", st.LogDir())
		}
		st.Close()
	}
	return code
}

// Get returns the test binary's stack, starting it on first use. It skips
// the test when the real tier is not enabled (see Enabled), and fails it when
// the tier is enabled but cannot run here or did not start.
func Get(t testing.TB) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip(ShortSkip)
	}
	if ok, why := Enabled(os.Getenv, Available); !ok {
		t.Skip(why)
	}
	if !shared.mainSeen {
		t.Fatal("realstack: call realstack.Main(m) (or Run) from this package's TestMain, so the stack is closed after the tests")
	}
	if ok, why := Available(); !ok {
		t.Fatalf("realstack: the real tier is enabled but cannot run here: %s", why)
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startLimit)
		defer cancel()
		var logf func(string, ...any)
		if testing.Verbose() {
			logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "realstack: "+f+"\n", a...) }
		}
		begun := time.Now()
		shared.st, shared.err = Start(ctx, Options{Logf: logf})
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "realstack: started in %s (%s)\n", time.Since(begun).Round(100*time.Millisecond), describeTimings(shared.st.Timings()))
		}
	})
	if shared.err != nil {
		t.Fatalf("realstack: starting the real stack: %v", shared.err)
	}
	st := shared.st
	t.Cleanup(func() {
		if t.Failed() {
			shared.mu.Lock()
			shared.failed = true
			shared.mu.Unlock()
			t.Logf("realstack: logs of the real stack: %s (kept after the run)", st.LogDir())
		}
	})
	return st
}

func describeTimings(ps []Phase) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s %s", p.Name, p.Took.Round(100*time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

// StartOwn starts a stack of the test's own, shaped by opts (a worker
// setting the shared stack must not have), gated as Get is, and closes it
// when the test ends (keeping its logs when it failed).
func StartOwn(t testing.TB, opts Options) *Stack {
	t.Helper()
	if testing.Short() {
		t.Skip(ShortSkip)
	}
	if ok, why := Enabled(os.Getenv, Available); !ok {
		t.Skip(why)
	}
	if ok, why := Available(); !ok {
		t.Fatalf("realstack: the real tier is enabled but cannot run here: %s", why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startLimit)
	defer cancel()
	if testing.Verbose() {
		opts.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "realstack (own): "+f+"\n", a...) }
	}
	st, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("realstack: starting a stack of the test's own: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			st.KeepLogs()
			t.Logf("realstack: logs of the test's own stack: %s (kept after the run)", st.LogDir())
		}
		st.Close()
	})
	return st
}
