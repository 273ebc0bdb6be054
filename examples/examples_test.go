package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var writeTranscripts = flag.Bool("transcripts", false, "write each scenario's commands and their output to examples/<scenario>/transcript.txt")

// scenario is one folder of examples/ and the test that replays its README.
type scenario struct {
	dir string
	// connectVersion is the emulated Kafka Connect release; empty means 3.8.
	connectVersion string
	run            func(w *world)
}

func scenarios() []scenario {
	return []scenario{
		{dir: "rewind-after-transform-fix", run: rewindAfterTransformFix},
		{dir: "skip-poison-pill", run: skipPoisonPill},
		{dir: "align-with-restored-sink", run: alignWithRestoredSink},
		{dir: "move-connector", run: moveConnector},
		{dir: "restore-after-bad-edit", run: restoreAfterBadEdit},
	}
}

// TestRunbook replays every scenario's README on its own sandbox, in
// parallel: the commands run as the operator runs them (the offsetctl
// binary, built once; the REST calls the README makes with curl), and each
// scenario checks what happened to the rows of the sink table.
func TestRunbook(t *testing.T) {
	scs := scenarios()
	checkFolders(t, scs)
	if testing.Short() {
		t.Skip("-short (make test-short): the runbook replays (a sandbox and the offsetctl binary per scenario) run in make test")
	}
	bin := buildCLI(t)
	for _, sc := range scs {
		t.Run(sc.dir, func(t *testing.T) {
			t.Parallel()
			w := startWorld(t, bin, sc)
			start := time.Now()
			sc.run(w)
			t.Logf("scenario %s took %.1f s", sc.dir, time.Since(start).Seconds())
			w.checkREADME()
			if *writeTranscripts && !t.Failed() {
				if err := os.WriteFile(filepath.Join(sc.dir, "transcript.txt"), []byte(w.transcript.String()), 0o644); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// checkFolders holds every folder of examples/ to the shape of a scenario:
// a test here, a main.hcl and a README.md. A folder that is a Go package of
// its own carries its own test, and is left to it.
func checkFolders(t *testing.T, scs []scenario) {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata" {
			continue
		}
		if gofiles, _ := filepath.Glob(filepath.Join(e.Name(), "*.go")); len(gofiles) > 0 {
			continue
		}
		dirs = append(dirs, e.Name())
	}
	var tested []string
	for _, sc := range scs {
		tested = append(tested, sc.dir)
	}
	slices.Sort(dirs)
	slices.Sort(tested)
	if !slices.Equal(dirs, tested) {
		t.Errorf("examples/ folders %v, scenarios with a test %v: every folder needs a test and every test a folder", dirs, tested)
	}
	for _, d := range tested {
		for _, f := range []string{"main.hcl", "README.md"} {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				t.Errorf("examples/%s: %v", d, err)
			}
		}
	}
}

// spaces are the runs of blanks contains ignores.
var spaces = regexp.MustCompile(`[ \t]+`)

// rfc3339 matches the times that differ from run to run in a command line.
var rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// checkREADME holds the README to the test: every command it shows
// ("$ ..." lines) is one the test ran, as the transcript shows it. On the
// sandbox the new Connect cluster of a move is the one worker; times may
// differ.
func (w *world) checkREADME() {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.src, "README.md"))
	if err != nil {
		w.t.Fatal(err)
	}
	ran := map[string]bool{}
	for _, line := range strings.Split(w.transcript.String(), "\n") {
		if strings.HasPrefix(line, "$ ") {
			ran[rfc3339.ReplaceAllString(line, "TIME")] = true
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "$ ") {
			continue
		}
		cmd := strings.ReplaceAll(line, "$NEW_CONNECT_URL", "$OFFSETCTL_CONNECT_URL")
		if !ran[rfc3339.ReplaceAllString(cmd, "TIME")] {
			w.t.Errorf("examples/%s/README.md shows a command the test does not run:\n%s", w.src, line)
		}
	}
}

// buildCLI builds the offsetctl binary from this tree, once for all scenarios.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "offsetctl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/offsetctl")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building offsetctl: %v\n%s", err, out)
	}
	return bin
}

// world is one scenario's sandbox (Kafka, Connect 3.x emulator and the
// customers pipeline on two fresh databases) and the operator's shell: a
// working directory holding a copy of the scenario's *.hcl, and the
// environment sandbox.env plus examples/README.md's exports give.
type world struct {
	t    *testing.T
	ctx  context.Context
	sb   *sandbox.Sandbox
	pipe *sandbox.Pipeline
	src  string // the scenario's folder
	dir  string // the working directory
	bin  string
	env  []string
	// shown maps what differs from run to run to what the README shows.
	shown      *strings.Replacer
	transcript strings.Builder
}

// Names in the README's world.
const (
	sourceConnector = "customers-source"
	sinkConnector   = "customers-sink"
	topic           = "shop.public.customers"
)

func startWorld(t *testing.T, bin string, sc scenario) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	srcDB, sinkDB := pgtest.NewDB(t), pgtest.NewDB(t)
	// The source's initial snapshot (of an empty table) must come first, so
	// that every row the scenario inserts is streamed as a change event:
	// the sandbox logs when it took it.
	snapshotted := make(chan struct{})
	var once sync.Once
	sb, err := sandbox.Start(ctx, sandbox.Options{ConnectVersion: sc.connectVersion, Logf: func(f string, a ...any) {
		line := fmt.Sprintf(f, a...)
		if strings.HasPrefix(line, "task "+sourceConnector+"-0 took an initial snapshot") {
			once.Do(func() { close(snapshotted) })
		}
		t.Log(time.Now().Format("15:04:05.000 sandbox: ") + line)
	}})
	if err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	t.Cleanup(sb.Close) // before the databases are dropped
	// As offsetctl sandbox up starts it: Debezium's default snapshot mode.
	pipe, err := sb.StartPipeline(ctx, sandbox.PipelineOptions{SourceDB: srcDB, SinkDB: sinkDB, SnapshotMode: "initial"})
	if err != nil {
		t.Fatalf("starting the pipeline: %v", err)
	}
	if pipe.SourceConnector() != sourceConnector || pipe.SinkConnector() != sinkConnector || pipe.Topic() != topic {
		t.Fatalf("the sandbox pipeline is %s → %s → %s, the READMEs say %s → %s → %s",
			pipe.SourceConnector(), pipe.Topic(), pipe.SinkConnector(), sourceConnector, topic, sinkConnector)
	}
	w := &world{t: t, ctx: ctx, sb: sb, pipe: pipe, src: sc.dir, bin: bin}
	select {
	case <-snapshotted:
	case <-ctx.Done():
		t.Fatalf("waiting for the sandbox to log that %s took its initial snapshot: %v", sourceConnector, ctx.Err())
	}
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(sc.dir, "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("examples/%s has no *.hcl (%v)", sc.dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OFFSETCTL_") && !strings.HasPrefix(kv, "USER=") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	brokers := strings.Join(sb.BootstrapServers(), ",")
	env = append(env,
		"USER=oncall",
		// sandbox.env
		"OFFSETCTL_CONNECT_URL="+sb.ConnectURL(),
		"OFFSETCTL_BOOTSTRAP_SERVERS="+brokers,
		"OFFSETCTL_OFFSETS_TOPIC="+sb.OffsetsTopic(),
		// examples/README.md
		"OFFSETCTL_VAR_connect_url="+sb.ConnectURL(),
		"OFFSETCTL_VAR_bootstrap_servers="+brokers,
		"OFFSETCTL_SOURCE_URL="+srcDB,
		"OFFSETCTL_SINK_URL="+sinkDB,
	)
	host, _ := os.Hostname()
	pairs := []string{
		dir + string(filepath.Separator), "",
		sb.ConnectURL(), "http://localhost:8083",
		strings.TrimPrefix(sb.ConnectURL(), "http://"), "localhost:8083", // worker_id
		brokers, "localhost:9092",
		srcDB, "$SOURCE_DATABASE_URL",
		sinkDB, "$SINK_DATABASE_URL",
	}
	if host != "" {
		pairs = append(pairs, "@"+host, "@bastion")
	}
	// Connector configurations name the databases as sandbox up does.
	for _, db := range []struct{ url, name string }{{srcDB, "offsetctl_sandbox_source"}, {sinkDB, "offsetctl_sandbox_sink"}} {
		if u, err := url.Parse(db.url); err == nil {
			pairs = append(pairs, `"database.dbname":"`+strings.TrimPrefix(u.Path, "/")+`"`, `"database.dbname":"`+db.name+`"`,
				`"database.port":"`+u.Port()+`"`, `"database.port":"5432"`)
		}
	}
	w.dir, w.env, w.shown = dir, env, strings.NewReplacer(pairs...)
	return w
}

// result is what a command did.
type result struct {
	code     int
	out, err string // stdout, stderr
}

// lockedWriter lets stdout and stderr share one transcript.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// offsetctl runs the binary in the working directory, as the README shows
// it, and records it in the transcript.
func (w *world) offsetctl(args ...string) result {
	w.t.Helper()
	var out, errOut, both bytes.Buffer
	lw := &lockedWriter{w: &both}
	cmd := exec.CommandContext(w.ctx, w.bin, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, lw), io.MultiWriter(&errOut, lw)
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		w.t.Fatalf("running offsetctl %s: %v", strings.Join(args, " "), err)
	}
	w.record("offsetctl "+strings.Join(args, " "), both.String(), code)
	return result{code: code, out: w.shown.Replace(out.String()), err: w.shown.Replace(errOut.String())}
}

// must runs offsetctl and fails the test unless it exits with want.
func (w *world) must(want int, args ...string) result {
	w.t.Helper()
	r := w.offsetctl(args...)
	if r.code != want {
		w.t.Fatalf("offsetctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.out, r.err)
	}
	return r
}

// contains fails the test unless s holds every one of wants; runs of
// spaces count as one, so that a column that grows does not matter.
func (w *world) contains(what, s string, wants ...string) {
	w.t.Helper()
	for _, want := range wants {
		if !strings.Contains(spaces.ReplaceAllString(s, " "), spaces.ReplaceAllString(want, " ")) {
			w.t.Errorf("%s lacks %q:\n%s", what, want, s)
		}
	}
}

func (w *world) record(cmdline, output string, code int) {
	fmt.Fprintf(&w.transcript, "$ %s\n", w.shown.Replace(cmdline))
	if o := w.shown.Replace(output); o != "" {
		w.transcript.WriteString(o)
		if !strings.HasSuffix(o, "\n") {
			w.transcript.WriteString("\n")
		}
	}
	if code != 0 {
		fmt.Fprintf(&w.transcript, "[exit %d]\n", code)
	}
	w.transcript.WriteString("\n")
}

// export sets an environment variable for the commands that follow; the
// transcript shows it set to shown ($OTHER, say), or else to its value.
func (w *world) export(name, shown, value string) {
	w.env = append(w.env, name+"="+value)
	if shown == "" {
		shown = value
	}
	w.record("export "+name+"="+shown, "", 0)
}

// note adds a comment to the transcript: what happens between commands.
func (w *world) note(format string, args ...any) {
	fmt.Fprintf(&w.transcript, "# %s\n\n", fmt.Sprintf(format, args...))
}

// curl sends the request the README makes with curl to the Connect REST
// API and fails the test unless the status is want; it returns the body.
func (w *world) curl(want int, method, path, body string) string {
	w.t.Helper()
	return w.request(want, method, path, body, "'"+body+"'")
}

// curlFile is curl with -d @FILE, FILE in the working directory.
func (w *world) curlFile(want int, method, path, file string) string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, file))
	if err != nil {
		w.t.Fatal(err)
	}
	return w.request(want, method, path, string(b), "@"+file)
}

func (w *world) request(want int, method, path, body, shownData string) string {
	w.t.Helper()
	var r io.Reader
	line := "curl -s"
	if method != http.MethodGet {
		line += " -X " + method
	}
	if body != "" {
		r = strings.NewReader(body)
		line += " -H 'Content-Type: application/json' -d " + shownData
	}
	line += " $OFFSETCTL_CONNECT_URL" + path
	req, err := http.NewRequestWithContext(w.ctx, method, w.sb.ConnectURL()+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	w.record(line, string(b), 0)
	if resp.StatusCode != want {
		w.t.Fatalf("%s: HTTP %d %s, want %d", line, resp.StatusCode, b, want)
	}
	return string(b)
}

// get reads the Connect REST API, unrecorded.
func (w *world) get(path string) string {
	w.t.Helper()
	resp, err := http.Get(w.sb.ConnectURL() + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: HTTP %d %s %v", path, resp.StatusCode, b, err)
	}
	return string(b)
}

// status is GET /connectors/NAME/status.
type status struct {
	Connector struct {
		State string `json:"state"`
	} `json:"connector"`
	Tasks []struct {
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"tasks"`
}

func (w *world) status(name string) status {
	w.t.Helper()
	var st status
	if err := json.Unmarshal([]byte(w.get("/connectors/"+name+"/status")), &st); err != nil {
		w.t.Fatalf("status of %s: %v", name, err)
	}
	return st
}

// waitFor polls cond until it holds.
func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	for !cond() {
		select {
		case <-w.ctx.Done():
			w.t.Fatalf("waiting for %s: %v", what, w.ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// waitTask waits until the connector's only task shows state.
func (w *world) waitTask(name, state string) status {
	w.t.Helper()
	var st status
	w.waitFor(fmt.Sprintf("the task of %s to be %s", name, state), func() bool {
		st = w.status(name)
		return len(st.Tasks) == 1 && st.Tasks[0].State == state
	})
	return st
}

// insert inserts customers first..last, one source transaction each.
func (w *world) insert(first, last int64) {
	w.t.Helper()
	for id := first; id <= last; id++ {
		if err := w.pipe.Insert(w.ctx, sandbox.Customer{ID: id, Email: fmt.Sprintf("customer%d@example.com", id)}); err != nil {
			w.t.Fatal(err)
		}
	}
}

// caughtUp waits until the source has streamed every change and the sink
// has committed the end of the topic.
func (w *world) caughtUp() {
	w.t.Helper()
	if err := w.pipe.WaitSinkCaughtUp(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

// sourceFlushed waits until the source connector has committed the
// position of the last change it streamed (it does every
// offset.flush.interval.ms, as Connect does), so that a backup holds it.
func (w *world) sourceFlushed() {
	w.t.Helper()
	if err := w.pipe.WaitSourceCaughtUp(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	pos, _ := w.pipe.SourcePosition()
	w.waitFor("the source to commit its position", func() bool {
		var got struct {
			Offsets []struct {
				Offset struct {
					LSNProc int64 `json:"lsn_proc"`
				} `json:"offset"`
			} `json:"offsets"`
		}
		if err := json.Unmarshal([]byte(w.get("/connectors/"+sourceConnector+"/offsets")), &got); err != nil {
			w.t.Fatal(err)
		}
		return len(got.Offsets) == 1 && got.Offsets[0].Offset.LSNProc >= pos
	})
}

func (w *world) sourceRows() []sandbox.Customer {
	w.t.Helper()
	rows, err := w.pipe.SourceRows(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return rows
}

func (w *world) sinkRows() []sandbox.Customer {
	w.t.Helper()
	rows, err := w.pipe.SinkRows(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return rows
}

func ids(rows []sandbox.Customer) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// missing returns the ids of want that got lacks.
func missing(want, got []int64) []int64 {
	var out []int64
	for _, id := range want {
		if !slices.Contains(got, id) {
			out = append(out, id)
		}
	}
	return out
}

// rowsDiffer says how the sink table differs from the source table, row by
// row and column by column; "" when they hold the same rows.
func rowsDiffer(src, sink []sandbox.Customer) string {
	var b strings.Builder
	bySink := map[int64]sandbox.Customer{}
	for _, r := range sink {
		bySink[r.ID] = r
	}
	for _, s := range src {
		k, ok := bySink[s.ID]
		switch {
		case !ok:
			fmt.Fprintf(&b, "customer %d missing in the sink\n", s.ID)
		case k.Email != s.Email || k.Status != s.Status || !k.UpdatedAt.Equal(s.UpdatedAt):
			fmt.Fprintf(&b, "customer %d differs: source %+v, sink %+v\n", s.ID, s, k)
		}
		delete(bySink, s.ID)
	}
	for id := range bySink {
		fmt.Fprintf(&b, "customer %d in the sink only\n", id)
	}
	return b.String()
}

// inSync fails the test unless the sink table holds exactly the source's rows.
func (w *world) inSync() {
	w.t.Helper()
	if d := rowsDiffer(w.sourceRows(), w.sinkRows()); d != "" {
		w.t.Fatalf("the sink table is not the source table:\n%s", d)
	}
}

// topicEvent is a change event of the topic, as the sink reads it.
type topicEvent struct {
	Offset int64
	Op     string // c, u, d, r; "" for a tombstone or a value that is not an event
	ID     int64
}

func (w *world) topicEvents() []topicEvent {
	w.t.Helper()
	recs, err := w.sb.ReadTopic(w.ctx, topic)
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]topicEvent, len(recs))
	for i, r := range recs {
		out[i].Offset = r.Offset
		var k struct{ ID int64 }
		_ = json.Unmarshal(r.Key, &k)
		out[i].ID = k.ID
		var v struct{ Op string }
		if r.Value != nil && json.Unmarshal(r.Value, &v) == nil {
			out[i].Op = v.Op
		}
	}
	return out
}
