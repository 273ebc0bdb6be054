package command

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// inertWorld is a sandbox with an inert sink connector "orders-sink" on topic
// orders (3 partitions × 100 records), committed at 50, 60, 70, RUNNING.
type inertWorld struct {
	sb  *sandbox.Sandbox
	dir string // configuration
	st  string // state file
}

const inertOffsetsHCL = `
offsets "replay" {
  connector = connector.orders
  reason    = "INC-1: replay after the SMT fix"
  sink_partition {
    topic      = "orders"
    partitions = [0, 1]
    to_offset  = 10
  }
}
`

func startInertWorld(t *testing.T) *inertWorld {
	t.Helper()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: 50 * time.Millisecond, OffsetsPartitions: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 100; i++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("x")})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	for p, at := range []int64{50, 60, 70} {
		offs.Add(kadm.Offset{Topic: "orders", Partition: int32(p), At: at, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, "connect-orders-sink", offs); err != nil {
		t.Fatal(err)
	}
	cc, _ := connect.New(connect.Config{URL: sb.ConnectURL()})
	if _, _, err := cc.PutConfig(ctx, "orders-sink", map[string]string{"name": "orders-sink", "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "orders"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.WaitForState(ctx, "orders-sink", connect.StateRunning, connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	w := &inertWorld{sb: sb, dir: t.TempDir()}
	w.st = filepath.Join(w.dir, "state.json")
	w.writeConfig(t, inertOffsetsHCL)
	return w
}

func (w *inertWorld) writeConfig(t *testing.T, ops string) {
	t.Helper()
	body := fmt.Sprintf(`connect "sandbox" {
  url = %q
}

kafka "sandbox" {
  brokers = [%q]
}

connector "orders" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "orders-sink"
}
%s`, w.sb.ConnectURL(), w.sb.BootstrapServers()[0], ops)
	if err := os.WriteFile(filepath.Join(w.dir, "main.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (w *inertWorld) committed(t *testing.T) string {
	t.Helper()
	cc, _ := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	got, err := cc.Offsets(context.Background(), "orders-sink")
	if err != nil {
		t.Fatal(err)
	}
	byPart := map[string]string{}
	for _, o := range got.Offsets {
		var p struct {
			P int `json:"kafka_partition"`
		}
		var v struct {
			O int64 `json:"kafka_offset"`
		}
		_ = json.Unmarshal(o.Partition, &p)
		_ = json.Unmarshal(o.Offset, &v)
		byPart[fmt.Sprint(p.P)] = fmt.Sprint(v.O)
	}
	st, err := cc.Status(context.Background(), "orders-sink")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %s %s %s", byPart["0"], byPart["1"], byPart["2"], st.Connector.State)
}

var hashRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (w *inertWorld) normalize(s string) string {
	s = strings.ReplaceAll(s, w.sb.ConnectURL(), "http://CONNECT")
	s = strings.ReplaceAll(s, w.sb.BootstrapServers()[0], "KAFKA")
	s = strings.ReplaceAll(s, w.dir, "DIR")
	s = hashRE.ReplaceAllString(s, "sha256:HASH")
	return uuidRE.ReplaceAllString(s, "UUID")
}

// cli runs offsetctl with stdin, in the world's directory, with its state
// file and a short grace period; `offsets restore` is attached for the test
// until the offsets command attaches it itself.
func (w *inertWorld) cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	s, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	deps := &Deps{Streams: s, Getenv: func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}, Now: func() time.Time { return time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC) }}
	args = append(args, "-chdir", w.dir, "-state", w.st)
	if args[0] != "plan" {
		args = append(args, "-grace-period", "50ms", "-running-watch", "100ms")
	}
	code := runWithRestore(context.Background(), deps, args)
	return code, w.normalize(out.String()), w.normalize(errOut.String())
}

// runWithRestore is run() with `offsets restore` attached when the offsets
// command does not have it yet.
func runWithRestore(ctx context.Context, deps *Deps, args []string) int {
	root, g := newRootCmd(deps)
	var offsetsCmd *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "offsets" {
			offsetsCmd = c
		}
	}
	if offsetsCmd != nil {
		has := false
		for _, c := range offsetsCmd.Commands() {
			has = has || c.Name() == "restore"
		}
		if !has {
			offsetsCmd.AddCommand(newOffsetsRestoreCmd(deps, g))
		}
	}
	root.SetArgs(normalizeArgs(root, args))
	root.SetIn(deps.Streams.In)
	root.SetOut(deps.Streams.Out)
	root.SetErr(deps.Streams.Err)
	_, err := root.ExecuteContextC(ctx)
	return exitCode(err, func(s string) { fmt.Fprintln(deps.Streams.Err, s) })
}

func TestApplyPlanFileAndRollback(t *testing.T) {
	w := startInertWorld(t)
	planFile := filepath.Join(w.dir, "plan.json")
	if code, out, errOut := w.cli(t, "", "plan", "-out", planFile); code != 0 {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := w.cli(t, "", "apply", planFile)
	if code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	goldens.Assert(t, "apply_stdout", []byte(out))
	goldens.Assert(t, "apply_stderr", []byte(errOut))
	if got := w.committed(t); got != "10 10 70 RUNNING" {
		t.Fatalf("after apply: %s", got)
	}
	// Once apply released the lock, the state is one file again: its
	// journal was folded in.
	if _, err := os.Stat(w.st + ".journal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the state's journal is left after apply: %v", err)
	}

	// The same plan again: nothing to do.
	code, out, errOut = w.cli(t, "", "apply", planFile)
	if code != 0 || !strings.Contains(out, "Nothing to do") {
		t.Fatalf("apply again: %d\n%s\n%s", code, out, errOut)
	}

	// Rollback: shown, saved with -out, applied from the file.
	rbFile := filepath.Join(w.dir, "rollback.json")
	code, out, errOut = w.cli(t, "", "rollback", "-out", rbFile)
	if code != 0 {
		t.Fatalf("rollback -out: %d\n%s\n%s", code, out, errOut)
	}
	goldens.Assert(t, "rollback_out_stdout", []byte(out))
	if got := w.committed(t); got != "10 10 70 RUNNING" {
		t.Fatalf("rollback -out changed something: %s", got)
	}
	code, out, errOut = w.cli(t, "", "apply", rbFile)
	if code != 0 {
		t.Fatalf("apply rollback plan: %d\n%s\n%s", code, out, errOut)
	}
	if got := w.committed(t); got != "50 60 70 RUNNING" {
		t.Fatalf("after rollback: %s", got)
	}
	code, _, errOut = w.cli(t, "", "rollback", "-auto-approve")
	if code != ExitError || !strings.Contains(errOut, "nothing to roll back") {
		t.Fatalf("second rollback: %d\n%s", code, errOut)
	}
}

func TestApplyAsksForYes(t *testing.T) {
	w := startInertWorld(t)
	code, out, errOut := w.cli(t, "no\n", "apply")
	if code != ExitError || !strings.Contains(errOut, "apply cancelled: nothing was changed") || !strings.Contains(out, "Plan: 1 operation") {
		t.Fatalf("apply answered no: %d\n%s\n%s", code, out, errOut)
	}
	if got := w.committed(t); got != "50 60 70 RUNNING" {
		t.Fatalf("changed after no: %s", got)
	}
	if _, err := os.Stat(w.st); err == nil {
		t.Fatalf("a state was written after no")
	}
	code, out, errOut = w.cli(t, "yes\n", "apply")
	if code != 0 || !strings.Contains(out, "Apply complete! 1 operation applied, 2 partitions changed and verified") {
		t.Fatalf("apply answered yes: %d\n%s\n%s", code, out, errOut)
	}
	if got := w.committed(t); got != "10 10 70 RUNNING" {
		t.Fatalf("after yes: %s", got)
	}
	// rollback asks too
	code, _, errOut = w.cli(t, "nope\n", "rollback")
	if code != ExitError || !strings.Contains(errOut, "apply cancelled") {
		t.Fatalf("rollback answered nope: %d\n%s", code, errOut)
	}
	code, out, errOut = w.cli(t, "", "rollback", "-auto-approve")
	if code != 0 {
		t.Fatalf("rollback -auto-approve: %d\n%s\n%s", code, out, errOut)
	}
	if got := w.committed(t); got != "50 60 70 RUNNING" {
		t.Fatalf("after rollback: %s", got)
	}
}

func TestApplyJSONEvents(t *testing.T) {
	w := startInertWorld(t)
	if code, _, errOut := w.cli(t, "", "apply", "-json"); code != ExitError || !strings.Contains(errOut, "needs -auto-approve") {
		t.Fatalf("apply -json without a plan file: %d\n%s", code, errOut)
	}
	code, out, errOut := w.cli(t, "", "apply", "-json", "-auto-approve")
	if code != 0 {
		t.Fatalf("apply -json: %d\n%s\n%s", code, out, errOut)
	}
	goldens.Assert(t, "events", []byte(out))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first struct {
		Type          string `json:"type"`
		FormatVersion int    `json:"format_version"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Type != "version" || first.FormatVersion != 1 {
		t.Fatalf("first record: %s", lines[0])
	}
}

// Two applies on one state: the second waits for the lock up to
// -lock-timeout and fails naming the holder; once the lock is free it
// proceeds.
func TestApplyWaitsForTheLock(t *testing.T) {
	w := startInertWorld(t)
	planFile := filepath.Join(w.dir, "plan.json")
	if code, out, errOut := w.cli(t, "", "plan", "-out", planFile); code != 0 {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	holder := local.New(w.st)
	id, err := holder.Lock(context.Background(), state.LockInfo{ID: "held-by-alice", Operation: "apply", Who: "alice", Host: "ops-1"})
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := w.cli(t, "", "apply", planFile, "-lock-timeout", "100ms")
	if code != ExitError || !strings.Contains(errOut, "state is locked by alice@ops-1") || !strings.Contains(errOut, "held-by-alice") {
		t.Fatalf("apply while locked: %d\n%s", code, errOut)
	}
	if got := w.committed(t); got != "50 60 70 RUNNING" {
		t.Fatalf("changed while locked: %s", got)
	}
	var wg sync.WaitGroup
	var code2 int
	var out2, err2 string
	wg.Add(1)
	go func() {
		defer wg.Done()
		code2, out2, err2 = w.cli(t, "", "apply", planFile, "-lock-timeout", "30s")
	}()
	time.Sleep(200 * time.Millisecond) // let it wait; its result does not depend on this
	if err := holder.Unlock(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if code2 != 0 {
		t.Fatalf("apply after the lock was released: %d\n%s\n%s", code2, out2, err2)
	}
	if got := w.committed(t); got != "10 10 70 RUNNING" {
		t.Fatalf("after apply: %s", got)
	}
}

func TestOffsetsRestore(t *testing.T) {
	w := startInertWorld(t)
	backup := &offsets.Backup{OffsetctlVersion: "test", TakenAt: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), OffsetsTopic: "connect-offsets",
		Connectors: []offsets.BackupConnector{{Name: "orders-sink", Type: "sink", Class: "io.confluent.connect.jdbc.JdbcSinkConnector", Group: "connect-orders-sink",
			Sink: []offsets.SinkOffset{{Topic: "orders", Partition: 0, Committed: 5, LogStart: 0, LogEnd: 100}, {Topic: "orders", Partition: 2, Committed: 7, LogStart: 0, LogEnd: 100}}},
			{Name: "not-configured", Type: "sink", Group: "connect-x", Sink: []offsets.SinkOffset{{Topic: "x", Partition: 0, Committed: 1}}}}}
	file := filepath.Join(w.dir, "backup.json")
	if err := offsets.WriteBackup(file, backup); err != nil {
		t.Fatal(err)
	}
	w.writeConfig(t, "")
	code, out, errOut := w.cli(t, "", "offsets", "restore", file, "-auto-approve")
	if code != 0 {
		t.Fatalf("restore: %d\n%s\n%s", code, out, errOut)
	}
	goldens.Assert(t, "restore_stdout", []byte(out))
	if got := w.committed(t); got != "5 60 7 RUNNING" {
		t.Fatalf("after restore: %s", got)
	}
	code, out, errOut = w.cli(t, "", "rollback", "-auto-approve")
	if code != 0 {
		t.Fatalf("rollback of the restore: %d\n%s\n%s", code, out, errOut)
	}
	if got := w.committed(t); got != "50 60 70 RUNNING" {
		t.Fatalf("after rollback: %s", got)
	}
}

// Bad input at the command line: a clear error, exit 1, nothing changed.
func TestApplyRefusesBadInput(t *testing.T) {
	w := startInertWorld(t)
	planFile := filepath.Join(w.dir, "plan.json")
	if code, out, errOut := w.cli(t, "", "plan", "-out", planFile); code != 0 {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(w.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tampered := write("tampered.json", strings.Replace(string(data), `"after": 10`, `"after": 11`, 1))
	future := write("future.json", strings.Replace(string(data), fmt.Sprintf(`"format_version": %d`, plan.FormatVersion), `"format_version": 7`, 1))
	for _, tc := range []struct {
		name, file, want string
		before           func()
	}{
		{"tampered plan", tampered, "modified after it was written", nil},
		{"future plan", future, "format_version 7", nil},
		{"corrupt state", planFile, "reading the state", func() { write("state.json", `{"format_version": 1, "lin`) }},
		{"another lineage", planFile, "the plan was made against no state", func() {
			os.Remove(w.st)
			b := local.New(w.st)
			id, err := b.Lock(context.Background(), state.LockInfo{Operation: "test"})
			if err != nil {
				t.Fatal(err)
			}
			st := state.New("other-lineage")
			st.Begin(state.Operation{Name: "x", Kind: state.KindOffsets, Status: state.StatusApplied, Started: time.Unix(1, 0), Finished: time.Unix(2, 0)})
			if err := b.Write(context.Background(), st, id); err != nil {
				t.Fatal(err)
			}
			b.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			code, out, errOut := w.cli(t, "", "apply", tc.file)
			if code != ExitError || !strings.Contains(errOut, tc.want) {
				t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
			}
			if got := w.committed(t); got != "50 60 70 RUNNING" {
				t.Fatalf("changed: %s", got)
			}
		})
	}
}

// rehashPlan gives an edited plan file the hash of its new content, as an
// operator editing it by hand would: the hash is sha256 over the compact
// JSON with an empty hash field (pkg/plan/file.go).
func rehashPlan(t *testing.T, data []byte) []byte {
	t.Helper()
	var h struct {
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(data), "<>&") {
		t.Fatal("rehashPlan does not escape <, > and & as encoding/json does")
	}
	blank := strings.Replace(string(data), `"hash": "`+h.Hash+`"`, `"hash": ""`, 1)
	var canon bytes.Buffer
	if err := json.Compact(&canon, []byte(blank)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canon.Bytes())
	return []byte(strings.Replace(string(data), h.Hash, "sha256:"+hex.EncodeToString(sum[:]), 1))
}

// A plan file edited by hand, its hash recomputed, is refused: apply computes
// the operations again from the configuration and the plan's observations.
// Nothing changes: not the offsets, not the state.
func TestApplyRefusesAHandEditedPlan(t *testing.T) {
	w := startInertWorld(t)
	planFile := filepath.Join(w.dir, "plan.json")
	if code, out, errOut := w.cli(t, "", "plan", "-out", planFile); code != 0 {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	// orders[0]: 50 → 10 replays 40; make it 50 → 5, replaying 45, and
	// the summary 95 records instead of 90.
	edited := string(data)
	for _, r := range [][2]string{
		{`"after": 10,`, `"after": 5,`},
		{`"replays": 40,`, `"replays": 45,`},
		{`"records_replayed": 90,`, `"records_replayed": 95,`},
	} {
		if !strings.Contains(edited, r[0]) {
			t.Fatalf("the plan file has no %s:\n%s", r[0], data)
		}
		edited = strings.Replace(edited, r[0], r[1], 1)
	}
	if err := os.WriteFile(planFile, rehashPlan(t, []byte(edited)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The file is whole: its hash matches its content.
	if p, err := plan.ReadFile(planFile); err != nil || p.Operations[0].Changes[0].Sink.After != 5 {
		t.Fatalf("the edited plan does not read: %v", err)
	}
	code, out, errOut := w.cli(t, "", "apply", planFile)
	want := "offsets.replay: change 1 (orders[0]): after is 5 in the plan, the configuration makes 10"
	if code != ExitError || !strings.Contains(errOut, want) || !strings.Contains(errOut, "offsetctl plan -out FILE") {
		t.Fatalf("apply of the edited plan: %d, want exit 1 and %q\n%s\n%s", code, want, out, errOut)
	}
	if got := w.committed(t); got != "50 60 70 RUNNING" {
		t.Fatalf("changed: %s", got)
	}
	for _, f := range []string{w.st, w.st + ".journal"} {
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("apply of the edited plan wrote %s: %v", f, err)
		}
	}
}

// A plan made from another configuration is refused, naming both hashes and
// the fix.
func TestApplyRefusesAPlanOfAnotherConfiguration(t *testing.T) {
	w := startInertWorld(t)
	planFile := filepath.Join(w.dir, "plan.json")
	if code, out, errOut := w.cli(t, "", "plan", "-out", planFile); code != 0 {
		t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
	}
	w.writeConfig(t, strings.Replace(inertOffsetsHCL, "to_offset  = 10", "to_offset  = 20", 1))
	code, out, errOut := w.cli(t, "", "apply", planFile)
	want := "the plan was made from configuration sha256:HASH; the configuration now is sha256:HASH"
	if code != ExitError || !strings.Contains(errOut, want) || !strings.Contains(errOut, "Make a new plan") {
		t.Fatalf("apply: %d, want exit 1 and %q\n%s\n%s", code, want, out, errOut)
	}
	if got := w.committed(t); got != "50 60 70 RUNNING" {
		t.Fatalf("changed: %s", got)
	}
}

// A saved plan applied again after the state moved on is refused because it
// was applied already, saying by which operation, who and when — not because
// it "was made against another state".
func TestApplySavedPlanTwice(t *testing.T) {
	t.Run("another plan file of the same configuration applied it", func(t *testing.T) {
		w := startInertWorld(t)
		p1 := filepath.Join(w.dir, "plan.json")
		if code, out, errOut := w.cli(t, "", "plan", "-out", p1); code != 0 {
			t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
		}
		// The same plan made a minute later (by CI, say): same operations,
		// another hash.
		data, err := os.ReadFile(p1)
		if err != nil {
			t.Fatal(err)
		}
		p2 := filepath.Join(w.dir, "plan-ci.json")
		later := strings.Replace(string(data), `"created_at": "2026-11-20T14:30:00Z"`, `"created_at": "2026-11-20T14:31:00Z"`, 1)
		if err := os.WriteFile(p2, rehashPlan(t, []byte(later)), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := w.cli(t, "", "apply", p2); code != 0 {
			t.Fatalf("apply %s: %d\n%s\n%s", p2, code, out, errOut)
		}
		code, out, errOut := w.cli(t, "", "apply", p1)
		for _, want := range []string{
			"Error: the plan was applied already: offsets.replay was applied as operation 1 by tester@",
			" at 2026-11-20T14:30:00Z from another plan file of the same block (plan ",
			"the plan was made against no state (none existed then), and the state (lineage UUID) is at serial ",
			"offsetctl state history shows what was applied",
		} {
			if code != ExitError || !strings.Contains(errOut, want) {
				t.Fatalf("apply again: %d, want exit 1 and %q\n%s\n%s", code, want, out, errOut)
			}
		}
		if strings.Contains(errOut, "another state") {
			t.Fatalf("apply again gives the wrong reason:\n%s", errOut)
		}
		if got := w.committed(t); got != "10 10 70 RUNNING" {
			t.Fatalf("changed: %s", got)
		}
	})
	t.Run("applied and rolled back since", func(t *testing.T) {
		w := startInertWorld(t)
		planFile := filepath.Join(w.dir, "plan.json")
		if code, out, errOut := w.cli(t, "", "plan", "-out", planFile); code != 0 {
			t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
		}
		if code, out, errOut := w.cli(t, "", "apply", planFile); code != 0 {
			t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
		}
		if code, out, errOut := w.cli(t, "", "rollback", "-auto-approve"); code != 0 {
			t.Fatalf("rollback: %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut := w.cli(t, "", "apply", planFile)
		for _, want := range []string{
			"Error: the plan was applied already: offsets.replay was applied as operation 1 by tester@",
			", and rolled back since by operation 2; the plan was made at state serial 0, the state is at serial ",
		} {
			if code != ExitError || !strings.Contains(errOut, want) {
				t.Fatalf("apply again: %d, want exit 1 and %q\n%s\n%s", code, want, out, errOut)
			}
		}
		if got := w.committed(t); got != "50 60 70 RUNNING" {
			t.Fatalf("changed: %s", got)
		}
	})
}
