package command

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// world is a sandbox with the demo pipeline, caught up, for end-to-end tests.
type world struct {
	sb   *sandbox.Sandbox
	pipe *sandbox.Pipeline
}

func startWorld(t *testing.T, version string, rows int) *world {
	t.Helper()
	return startWorldWith(t, version, rows, sandbox.PipelineOptions{})
}

// startWorldWith is startWorld with the pipeline's options (its databases
// are filled in).
func startWorldWith(t *testing.T, version string, rows int, popts sandbox.PipelineOptions) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{ConnectVersion: version, TaskShutdownTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(sb.Close)
	popts.SourceDB, popts.SinkDB = pgtest.NewDB(t), pgtest.NewDB(t)
	pipe, err := sb.StartPipeline(ctx, popts)
	if err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if rows > 0 {
		if _, err := pipe.InsertN(ctx, rows); err != nil {
			t.Fatal(err)
		}
		if err := pipe.WaitSinkCaughtUp(ctx); err != nil {
			t.Fatal(err)
		}
		if err := pipe.WaitSourceCaughtUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return &world{sb: sb, pipe: pipe}
}

// hcl returns the connect, kafka and connector blocks for the world.
func (w *world) hcl() string {
	return fmt.Sprintf(`connect "sandbox" {
  url = %q
}

kafka "sandbox" {
  brokers = [%q]
}

connector "sink" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = %q
}

connector "source" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = %q
}
`, w.sb.ConnectURL(), w.sb.BootstrapServers()[0], w.pipe.SinkConnector(), w.pipe.SourceConnector())
}

// snapshot is everything planning must leave untouched.
type snapshot struct {
	Status  map[string]connect.ConnectorStatus
	Config  map[string]map[string]string
	Offsets map[string]string
	Group   map[string]int64
}

func (w *world) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := context.Background()
	c, err := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{Status: map[string]connect.ConnectorStatus{}, Config: map[string]map[string]string{}, Offsets: map[string]string{}, Group: map[string]int64{}}
	for _, n := range []string{w.pipe.SinkConnector(), w.pipe.SourceConnector()} {
		st, err := c.Status(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range st.Tasks {
			st.Tasks[i].WorkerID = ""
		}
		s.Status[n] = st
		cfg, err := c.Config(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		s.Config[n] = cfg
		off, err := c.Offsets(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(off)
		s.Offsets[n] = string(b)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got, err := kadm.NewClient(cl).FetchOffsets(ctx, w.pipe.SinkGroup())
	if err != nil {
		t.Fatal(err)
	}
	got.Each(func(o kadm.OffsetResponse) { s.Group[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.At })
	return s
}

// runCLI runs offsetctl with args in dir and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC) }}
	if dir != "" {
		args = append(args, "-chdir", dir)
	}
	code := run(context.Background(), deps, args)
	return code, out.String(), errOut.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPlanOnTheSandboxChangesNothing(t *testing.T) {
	w := startWorld(t, "3.8", 20)
	topic := w.pipe.Topic()
	dir := writeConfig(t, w.hcl()+fmt.Sprintf(`
offsets "replay_after_smt_fix" {
  connector = connector.sink
  reason    = "INC-4711: the SMT dropped records"

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 15
  }
}
`, topic))
	// The source's offset moves on its own (it follows the WAL): stop it so
	// that any change seen below can only come from planning.
	c, err := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(context.Background(), w.pipe.SourceConnector()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitForState(context.Background(), w.pipe.SourceConnector(), connect.StateStopped, connect.WaitOptions{Timeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	before := w.snapshot(t)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, out, errOut := runCLI(t, dir, "plan", "-out", planFile, "-detailed-exitcode", "-state", filepath.Join(t.TempDir(), "state.json"))
	if code != ExitChanges {
		t.Fatalf("plan exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitChanges, out, errOut)
	}
	after := w.snapshot(t)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("planning changed the world:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, want := range []string{fmt.Sprintf("%s[0]", topic), "20 → 15", "(replays 5 records)", "Plan: 1 operation to apply", "Rollback plan", "15 → 20"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	p, err := plan.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Operations[0].Changes[0].Sink; got.Before != 20 || got.After != 15 || got.Replays != 5 {
		t.Fatalf("saved change = %+v", got)
	}
	data, _ := os.ReadFile(planFile)
	if strings.Contains(string(data), "password") {
		t.Fatalf("plan file mentions a password:\n%s", data)
	}
	code, shown, _ := runCLI(t, "", "show", planFile)
	if code != 0 || shown != strings.Split(out, "\nSaved the plan")[0] {
		t.Fatalf("show differs from plan (exit %d):\n%s\n---\n%s", code, shown, out)
	}
}

func TestPlanRefusesWhatWouldLoseData(t *testing.T) {
	w := startWorld(t, "3.8", 20)
	topic := w.pipe.Topic()
	for _, tc := range []struct{ name, block, want string }{
		{"below log start", fmt.Sprintf(`sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = -5
  }`, topic), "to_offset"},
		{"beyond log end", fmt.Sprintf(`sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 25
  }
  allow_skip_records = 5`, topic), "beyond the log end offset 20"},
		{"skip precondition", fmt.Sprintf(`sink_partition {
    topic      = %q
    partitions = [0]
    skip       = 17
  }`, topic), "expects the committed offset"},
		{"latest without acknowledgement", fmt.Sprintf(`sink_partition {
    topic      = %q
    partitions = [0]
    shift_by   = 3
  }`, topic), "allow_skip_records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeConfig(t, w.hcl()+"offsets \"op\" {\n  connector = connector.sink\n  reason    = \"test\"\n  "+tc.block+"\n}\n")
			planFile := filepath.Join(t.TempDir(), "plan.json")
			code, out, errOut := runCLI(t, dir, "plan", "-out", planFile, "-state", filepath.Join(t.TempDir(), "state.json"))
			if code != ExitError {
				t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
			}
			if !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("output lacks %q:\n%s\n%s", tc.want, out, errOut)
			}
			if _, err := os.Stat(planFile); err == nil {
				t.Fatal("a plan that cannot be applied was saved")
			}
		})
	}
}

func TestPlanOnOldWorkersSaysHowItWillWrite(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"3.5", []string{"# via the consumer group", "no PATCH /offsets (3.6+): apply stops the connector", "# via the offsets topic"}},
		{"3.4", []string{"# via the consumer group", "has no stop endpoint (3.5+)", "offsetctl will not change them"}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			w := startWorld(t, tc.version, 10)
			// 3.4 has no GET /offsets to wait on: waiting there only ran
			// into the 20 s timeout (the 3.4 case needs no source offset).
			if tc.version != "3.4" {
				if err := waitSourceOffsets(context.Background(), w.sb.ConnectURL(), w.pipe.SourceConnector()); err != nil {
					t.Fatal(err)
				}
			}
			dir := writeConfig(t, w.hcl()+fmt.Sprintf(`
offsets "rewind_sink" {
  connector = connector.sink
  reason    = "test"

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 5
  }
}

offsets "source_txid" {
  connector = connector.source
  reason    = "test"

  source_partition {
    partition = { server = %q }
    offset    = { txId = 1 }
    merge     = true
  }
}
`, w.pipe.Topic(), w.pipe.TopicPrefix()))
			planFile := filepath.Join(t.TempDir(), "plan.json")
			code, out, errOut := runCLI(t, dir, "plan", "-out", planFile, "-state", filepath.Join(t.TempDir(), "state.json"))
			if tc.version == "3.4" {
				// No stop on 3.4: the plan is shown but refused.
				if code != ExitError {
					t.Fatalf("exit %d on 3.4, want 1\n%s\n%s", code, out, errOut)
				}
				for _, want := range tc.want {
					if !strings.Contains(out, want) {
						t.Errorf("plan on 3.4 lacks %q:\n%s", want, out)
					}
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("plan on %s lacks %q:\n%s", tc.version, want, out)
				}
			}
			p, err := plan.ReadFile(planFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range p.Operations {
				for _, ch := range op.Changes {
					if ch.Source != nil && string(ch.Source.Key) != fmt.Sprintf(`["%s",{"server":"%s"}]`, w.pipe.SourceConnector(), w.pipe.TopicPrefix()) {
						t.Errorf("source key bytes = %s", ch.Source.Key)
					}
				}
			}
		})
	}
}

func TestPlanFileHoldsNoSecrets(t *testing.T) {
	w := startWorld(t, "3.8", 5)
	const secret = "s3cr3t-in-url"
	hcl := strings.Replace(w.hcl(), "connect \"sandbox\" {\n", "connect \"sandbox\" {\n  basic_auth {\n    username = \"admin\"\n    password = \""+secret+"\"\n  }\n", 1)
	dir := writeConfig(t, hcl+fmt.Sprintf(`
offsets "rewind" {
  connector = connector.sink
  reason    = "test"

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 1
  }
}
`, w.pipe.Topic()))
	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, out, errOut := runCLI(t, dir, "plan", "-out", planFile, "-state", filepath.Join(t.TempDir(), "state.json"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"plan file": string(data), "stdout": out, "stderr": errOut} {
		if strings.Contains(text, secret) {
			t.Errorf("the %s holds the password from the Connect URL", what)
		}
	}
	if !strings.Contains(string(data), `"connect_url": "http://127.0.0.1:`) {
		t.Errorf("the plan does not record the redacted Connect URL:\n%s", data)
	}
}

// TestPlanTarget: -target limits the plan to the named operation; an
// unknown target is an error.
func TestPlanTarget(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	dir := writeConfig(t, w.hcl()+fmt.Sprintf(`
offsets "first" {
  connector = connector.sink
  reason    = "test"

  sink_partition {
    topic      = %[1]q
    partitions = [0]
    to_offset  = 5
  }
}

offsets "second" {
  connector = connector.sink
  reason    = "test"

  sink_partition {
    topic      = %[1]q
    partitions = [0]
    to_offset  = 7
  }
}
`, w.pipe.Topic()))
	state := filepath.Join(t.TempDir(), "state.json")
	code, out, errOut := runCLI(t, dir, "plan", "-state", state, "-target", "offsets.second", "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var doc struct {
		Targets    []string `json:"targets"`
		Operations []struct {
			Address string `json:"address"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan -json is not JSON: %v\n%s", err, out)
	}
	if len(doc.Operations) != 1 || doc.Operations[0].Address != "offsets.second" || len(doc.Targets) != 1 {
		t.Fatalf("plan -target offsets.second planned %+v", doc)
	}
	// A -target that names nothing is an error alone: no "No changes" beside
	// it, and the closest address when one is close.
	for _, tc := range []struct{ target, want string }{
		{"offsets.third", "Error: -target offsets.third matches no offsets, connector or reconcile block in the configuration.\n"},
		{"connector.snik", `Error: -target connector.snik matches no offsets, connector or reconcile block in the configuration. Did you mean "connector.sink"?`},
		{"offsets.secnod", `Did you mean "offsets.second"?`},
	} {
		code, out, errOut = runCLI(t, dir, "plan", "-state", state, "-target", tc.target)
		if code != ExitError || out != "" || !strings.Contains(errOut, tc.want) || strings.Contains(out+errOut, "No changes") {
			t.Errorf("unknown target %s: exit %d\nstdout:\n%s\nstderr:\n%s", tc.target, code, out, errOut)
		}
	}
	if code, _, _ := runCLI(t, "", "validate", "-chdir", dir); code != 0 {
		t.Fatalf("validate -chdir: exit %d", code)
	}

	// A connector block whose name the worker does not know: the plan names
	// the closest connector the worker has.
	sink := w.pipe.SinkConnector()
	typo := sink[:len(sink)-2] + sink[len(sink)-1:] + sink[len(sink)-2:len(sink)-1]
	misspelt := writeConfig(t, strings.Replace(w.hcl(), fmt.Sprintf("name    = %q", sink), fmt.Sprintf("name    = %q", typo), 1)+fmt.Sprintf(`
offsets "first" {
  connector = connector.sink
  reason    = "test"

  sink_partition {
    topic      = %[1]q
    partitions = [0]
    to_offset  = 5
  }
}
`, w.pipe.Topic()))
	code, out, errOut = runCLI(t, misspelt, "plan", "-state", state)
	if want := fmt.Sprintf("connector %q does not exist on connect.sandbox: create it (it may be created STOPPED) before changing its offsets, or fix the name in connector.sink. Did you mean %q?", typo, sink); code != ExitError || !strings.Contains(out, want) {
		t.Errorf("misspelt connector name: exit %d, want %q\nstdout:\n%s\nstderr:\n%s", code, want, out, errOut)
	}
}

// On Kafka Connect 3.4 an offsets block that acknowledges delete_recreate
// plans a delete and re-create of the connector, shown as such, and apply
// carries it out: the journal's steps are delete and recreate, the
// connector is RUNNING again with the configuration it had.
func TestDeleteRecreateOnOldWorkerCLI(t *testing.T) {
	w := startWorld(t, "3.4", 10)
	ctx := context.Background()
	cc, err := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	before, err := cc.Config(ctx, w.pipe.SinkConnector())
	if err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, w.hcl()+fmt.Sprintf(`
offsets "rewind_sink" {
  connector   = connector.sink
  reason      = "test"
  acknowledge = ["delete_recreate"]

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 5
  }
}
`, w.pipe.Topic()))
	planFile := filepath.Join(t.TempDir(), "plan.json")
	stateFile := filepath.Join(t.TempDir(), "state.json")
	code, out, errOut := runCLI(t, dir, "plan", "-out", planFile, "-state", stateFile)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"-/+ connector \"" + w.pipe.SinkConnector() + "\" DELETED, then RE-CREATED with its saved configuration", "will be DELETED and RE-CREATED"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = runCLI(t, dir, "apply", planFile, "-state", stateFile, "-grace-period", "100ms")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"delete: deleted; its offsets stay", "re-created with its saved configuration, RUNNING"} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("apply output lacks %q:\n%s\n%s", want, out, errOut)
		}
	}
	code, out, errOut = runCLI(t, dir, "state", "show", "1", "-json", "-state", stateFile)
	if code != 0 {
		t.Fatalf("state show: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{`"halt": "delete_recreate"`, `"name": "delete"`, `"name": "recreate"`} {
		if !strings.Contains(out, want) {
			t.Errorf("state show lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "saved_config") {
		t.Errorf("the finished operation keeps its saved configuration:\n%s", out)
	}
	after, err := cc.Config(ctx, w.pipe.SinkConnector())
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before, after) {
		t.Fatalf("re-created with %v, want %v", after, before)
	}
	st, err := cc.Status(ctx, w.pipe.SinkConnector())
	if err != nil || st.Connector.State != connect.StateRunning {
		t.Fatalf("connector after apply: %+v %v", st, err)
	}
}
