package command

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// runCLIAt runs offsetctl with the clock at now.
func runCLIAtTime(t *testing.T, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: func() time.Time { return now }}
	code := run(context.Background(), deps, args)
	return code, out.String(), errOut.String()
}

// TestScheduledBackupsAndVerify: backup --dir writes timestamped backups and
// prunes by --keep and --keep-within; verify checks a backup and says what
// moved since; check reports the newest backup's age.
func TestScheduledBackupsAndVerify(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	ctx := context.Background()
	dir := t.TempDir()
	conn := []string{"--connect-url", w.sb.ConnectURL(), "--bootstrap-servers", w.sb.BootstrapServers()[0]}
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	backup := func(at time.Time, extra ...string) string {
		t.Helper()
		args := append(append([]string{"offsets", "backup", "--all", "--dir", dir}, extra...), conn...)
		code, out, errOut := runCLIAtTime(t, at, args...)
		if code != 0 {
			t.Fatalf("backup at %s: exit %d\n%s\n%s", at, code, out, errOut)
		}
		return errOut
	}
	names := func() []string {
		es, _ := os.ReadDir(dir)
		var n []string
		for _, e := range es {
			n = append(n, e.Name())
		}
		slices.Sort(n)
		return n
	}
	// The source flushes its offset every 200ms: back up once it is stored.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(getBody(t, w.sb.ConnectURL()+"/connectors/"+w.pipe.SourceConnector()+"/offsets"), "lsn"); {
		if time.Now().After(deadline) {
			t.Fatal("the source never stored an offset")
		}
		time.Sleep(50 * time.Millisecond)
	}
	backup(t0)
	first := filepath.Join(dir, "offsets-20261120T140000Z.json")
	code, out, errOut := runCLIAtTime(t, t0, append([]string{"offsets", "verify", first}, conn...)...)
	if code != 0 || !strings.Contains(out, "format and checksum verified") || !strings.Contains(out, "byte for byte") {
		t.Fatalf("verify right after: exit %d\n%s\n%s", code, out, errOut)
	}
	// The pipeline moves on: the source offset and the sink group move.
	if _, err := w.pipe.InsertN(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out, errOut = runCLIAtTime(t, t0, append([]string{"offsets", "verify", first}, conn...)...)
		if code == ExitChanges && strings.Contains(out, "~ "+w.pipe.SinkConnector()) && strings.Contains(out, "~ "+w.pipe.SourceConnector()) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != ExitChanges || !strings.Contains(out, "partitions moved since") {
		t.Fatalf("verify after changes: exit %d\n%s\n%s", code, out, errOut)
	}
	backup(t0.Add(time.Hour), "--keep", "2")
	backup(t0.Add(2*time.Hour), "--keep", "2")
	if got := strings.Join(names(), " "); got != "offsets-20261120T150000Z.json offsets-20261120T160000Z.json" {
		t.Errorf("after --keep 2: %s", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	pruned := backup(t0.Add(3*time.Hour), "--keep-within", "90m")
	if got := strings.Join(names(), " "); got != "notes.txt offsets-20261120T160000Z.json offsets-20261120T170000Z.json" || !strings.Contains(pruned, "pruned") {
		t.Errorf("after --keep-within 90m: %s\n%s", got, pruned)
	}
	// check reports the newest backup's age.
	if b := newestBackup(dir, t0.Add(3*time.Hour+30*time.Minute)); !strings.HasSuffix(b.Newest, "offsets-20261120T170000Z.json") || b.AgeSeconds != 1800 {
		t.Errorf("newest backup: %+v", b)
	}
	if b := newestBackup(t.TempDir(), t0); b.Newest != "" {
		t.Errorf("an empty directory: %+v", b)
	}
	// A damaged backup is refused.
	newest := filepath.Join(dir, "offsets-20261120T170000Z.json")
	data, _ := os.ReadFile(newest)
	if err := os.WriteFile(newest, []byte(strings.Replace(string(data), `"connectors"`, `"connectorz"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLIAtTime(t, t0, "offsets", "verify", "--file-only", newest)
	if code != ExitError || !strings.Contains(errOut, "is not sound") {
		t.Errorf("damaged backup: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runCLIAtTime(t, t0, append([]string{"offsets", "backup", "--all", "--dir", dir, "-o", "x.json"}, conn...)...)
	if code != ExitError || !strings.Contains(errOut, "one of them") {
		t.Errorf("-o with --dir: exit %d\n%s", code, errOut)
	}
}
