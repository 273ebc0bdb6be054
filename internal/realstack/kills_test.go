package realstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/killtest"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// TestSignalsAtAlterOnTheRealStack runs offsetctl apply (the binary, with
// the test-only stop hook) against a real Debezium PostgreSQL source
// connector, STOPPED, holds it just after the alter step wrote the rewound
// offset, and sends it SIGKILL or SIGINT there; in REST mode (PATCH
// /offsets on Kafka Connect 4.3) and in topic mode (the same worker behind
// a proxy claiming 3.5.2, which has no PATCH /offsets: offsetctl writes the
// record into connect-offsets itself). Issue 19 item 1, "on the real stack
// for the alter step in both REST and topic mode".
//
// After each: offsetctl state show names the operation and its status; a
// SIGKILL leaves it in_progress and lock information naming the dead
// process, which force-unlock clears; a SIGINT ends the run by itself
// (rolled back: the before-image written back, the connector left as
// found) and releases the lock. The next apply of the same plan then
// finishes it: after a SIGKILL it finds the offset applied and does not
// write it again, after a SIGINT it writes it once. The records written
// under the connector's key in connect-offsets are read back: exactly
// [target] after a SIGKILL, [target, before, target] after a SIGINT, and
// the real worker's GET /offsets returns the target: nothing lost, nothing
// doubled. The table is logged (go test -v).
func TestSignalsAtAlterOnTheRealStack(t *testing.T) {
	st := Get(t)
	bin := killtest.Build(t)
	old := oldWorkerProxy(t, st.ConnectURL(), "3.5.2")
	var table []string
	for _, mode := range []struct{ name, url, via string }{
		{"rest", st.ConnectURL(), "via the Connect REST API"},
		{"topic", old, "offsets topic"},
	} {
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
			t.Run(mode.name+"/"+killtest.SigName(sig), func(t *testing.T) {
				row := killAtAlter(t, st, bin, mode.name, mode.url, mode.via, sig)
				table = append(table, row)
			})
		}
	}
	t.Log("\n| step | signal | world | mode | backend | interrupted apply | state show after | lock left | next apply | offsets topic records |\n|---|---|---|---|---|---|---|---|---|---|\n" + strings.Join(table, "\n"))
}

func killAtAlter(t *testing.T, st *Stack, bin, mode, connectURL, via string, sig syscall.Signal) string {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Manual flush: the slot keeps restart_lsn where it was created, so
	// the rewound offset stays above it.
	s := startProofSource(ctx, t, st, "kill"+mode, map[string]string{"lsn.flush.mode": "manual"})
	target := waitOffsetPast(ctx, t, st, s.name, s.insert(ctx, t, 1))
	before := waitOffsetPast(ctx, t, st, s.name, s.insert(ctx, t, 2))
	mustStatus(ctx, t, st, "PUT", "/connectors/"+s.name+"/stop", nil, 204)
	waitConnectorState(ctx, t, st, s.name, "STOPPED")
	before = waitOffsetPast(ctx, t, st, s.name, lsnProc(t, before)) // the commit made while stopping

	r := killtest.Runner{Bin: bin, Dir: t.TempDir()}
	writeConfig(t, r.Dir, fmt.Sprintf(`
connect "real" { url = %q }
kafka "real" {
  brokers       = [%q]
  offsets_topic = %q
}
connector "source" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
}
offsets "rewind" {
  connector = connector.source
  reason    = "issue 19: a kill at the alter step"
  source_partition {
    partition = { server = %q }
    offset    = %s
  }
}
`, connectURL, st.BootstrapServers(), st.OffsetsTopic(), s.name, s.prefix, target.JSON()))
	if out, errs, err := r.Run(ctx, "plan", "-out", "plan.json", "-no-color"); err != nil || !strings.Contains(out, via) {
		t.Fatalf("plan: %v (want it to write %s)\n%s%s", err, via, out, errs)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	from := partitionEnds(ctx, t, adm, st.OffsetsTopic())

	applyArgs := []string{"apply", "plan.json", "-auto-approve", "-no-color"}
	k := r.SignalAt(t, ctx, killtest.At{Step: "alter"}, sig, applyArgs...)
	row := []string{"alter", killtest.SigName(sig), "real stack", mode, "local", k.Exit}

	show, errs, err := r.Run(ctx, "state", "show", "1", "-no-color")
	status := killtest.ShowSummary(show)
	if err != nil || !strings.Contains(show, "rewind") {
		t.Fatalf("state show after %s at alter: %v\n%s%s", killtest.SigName(sig), err, show, errs)
	}
	row = append(row, status)
	id, pid, lockInfo := killtest.LocalLock(t, r.Dir+"/offsetctl.state.json")
	if sig == syscall.SIGKILL {
		if !strings.Contains(status, "in_progress") {
			t.Errorf("after SIGKILL at alter state show says %q, want in_progress", status)
		}
		if pid != k.PID || id == "" {
			t.Fatalf("after SIGKILL the lock information names pid %d (id %q), want the dead process %d:\n%s", pid, id, k.PID, lockInfo)
		}
		if out, errs, err := r.Run(ctx, "force-unlock", "-force", id, "-no-color"); err != nil {
			t.Fatalf("force-unlock %s: %v\n%s%s", id, err, out, errs)
		}
		if id, _, after := killtest.LocalLock(t, r.Dir+"/offsetctl.state.json"); id != "" {
			t.Fatalf("force-unlock left the lock information:\n%s", after)
		}
		row = append(row, "names dead pid; force-unlock cleared it")
	} else {
		if k.Exit == "killed" || strings.Contains(status, "in_progress") {
			t.Errorf("SIGINT at alter: %s, state show %q; want it to end by itself in a final status\n%s", k.Exit, status, k.Stderr)
		}
		if id != "" {
			t.Errorf("after SIGINT the lock information is left:\n%s", lockInfo)
		}
		row = append(row, "released")
	}
	if cs := connectorState(ctx, t, st, s.name); cs != "STOPPED" {
		t.Errorf("after %s at alter the connector is %s, want STOPPED (as found)", killtest.SigName(sig), cs)
	}

	out, errs, err := r.Run(ctx, applyArgs...)
	if err != nil {
		t.Fatalf("apply after %s at alter: %v\n%s%s", killtest.SigName(sig), err, out, errs)
	}
	next := "applied it"
	if strings.Contains(errs, "found applied") {
		next = "found it applied, recorded it"
	}
	row = append(row, next)
	if sig == syscall.SIGKILL && next != "found it applied, recorded it" {
		t.Errorf("apply after SIGKILL at alter did not find the operation applied:\n%s", errs)
	}
	if show, _, _ := r.Run(ctx, "state", "show", "-no-color"); strings.Contains(show, "in_progress") {
		t.Errorf("after the next apply an operation is still in_progress:\n%s", show)
	}

	// Read back: what was written under the connector's key, and what the
	// worker returns.
	written := offsetRecords(ctx, t, []string{st.BootstrapServers()}, adm, st.OffsetsTopic(), from, s.name)
	var got, want []string
	for _, m := range written {
		got = append(got, strconv.FormatInt(lsnProc(t, m), 10))
	}
	want = []string{strconv.FormatInt(lsnProc(t, target), 10)}
	if sig != syscall.SIGKILL {
		want = []string{want[0], strconv.FormatInt(lsnProc(t, before), 10), want[0]}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("records written under %s's key (lsn_proc): %v, want %v (target %s, before %s)", s.name, got, want, target, before)
	}
	row = append(row, fmt.Sprintf("lsn_proc %s", strings.Join(got, ", ")))
	if now := waitOffsetPast(ctx, t, st, s.name, 0); !now.Equal(target) {
		t.Errorf("GET /offsets after the next apply: %s, want %s", now, target)
	}
	if cs := connectorState(ctx, t, st, s.name); cs != "STOPPED" {
		t.Errorf("after the next apply the connector is %s, want STOPPED (as found)", cs)
	}
	return "| " + strings.Join(row, " | ") + " |"
}

// oldWorkerProxy serves the worker at target behind a reverse proxy whose
// GET / claims Kafka Connect version: offsetctl then uses only what that
// version offers (3.5: GET /offsets and stop, no PATCH /offsets), while the
// real worker does the work.
func oldWorkerProxy(t *testing.T, target, version string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method != http.MethodGet || r.Request.URL.Path != "/" || r.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body.Close()
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("GET / of the worker: %w", err)
		}
		doc["version"] = version
		body, err = json.Marshal(doc)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// partitionEnds is the end offset of every partition of topic.
func partitionEnds(ctx context.Context, t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s-%d: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// offsetRecords reads the offsets topic from the offsets from to its
// current end and returns, in order, the offsets written under a key of
// connector (Kafka Connect's ["<connector>", {partition}] keys).
func offsetRecords(ctx context.Context, t testing.TB, seeds []string, adm *kadm.Client, topic string, from map[int32]int64, connector string) []offsets.Map {
	t.Helper()
	end := partitionEnds(ctx, t, adm, topic)
	start := map[int32]kgo.Offset{}
	left := 0
	for p, e := range end {
		if e > from[p] {
			start[p] = kgo.NewOffset().At(from[p])
			left++
		}
	}
	if left == 0 {
		return nil
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []offsets.Map
	done := map[int32]bool{}
	for len(done) < left {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return
			}
			if r.Offset == end[r.Partition]-1 {
				done[r.Partition] = true
			}
			var key []json.RawMessage
			var name string
			if json.Unmarshal(r.Key, &key) != nil || len(key) != 2 || json.Unmarshal(key[0], &name) != nil || name != connector {
				return
			}
			if r.Value == nil {
				t.Fatalf("a tombstone under %s", r.Key)
			}
			m, err := offsets.ParseMap(r.Value)
			if err != nil {
				t.Fatalf("offset record %s: %v", r.Value, err)
			}
			out = append(out, m)
		})
	}
	return out
}

func lsnProc(t testing.TB, m offsets.Map) int64 {
	t.Helper()
	v, ok := m.Get("lsn_proc")
	n, ok2 := v.Int64()
	if !ok || !ok2 {
		t.Fatalf("offset %s has no lsn_proc", m)
	}
	return n
}

func connectorState(ctx context.Context, t testing.TB, st *Stack, name string) string {
	t.Helper()
	var s struct{ Connector struct{ State string } }
	if err := json.Unmarshal(mustStatus(ctx, t, st, "GET", "/connectors/"+name+"/status", nil, 200), &s); err != nil {
		t.Fatal(err)
	}
	return s.Connector.State
}
