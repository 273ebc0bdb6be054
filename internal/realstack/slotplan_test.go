package realstack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/killtest"
	"github.com/offsetctl/offsetctl/internal/numfmt"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// TestPlanJudgesTheRealSlot runs offsetctl plan and apply (the binary)
// against a real Debezium PostgreSQL connector and its replication slot
// (issue 18, "how it is shown"). With the connector STOPPED, a rewind to
// the slot's restart_lsn, below its confirmed_flush_lsn:
//
//   - is refused (exit 1, check no_replay_below_slot) with the slot's
//     positions, the target and the gap in bytes shown, the gap being what
//     pg_replication_slots says;
//   - passes with acknowledge = ["no_replay_below_slot"] (a warning), and
//     once applied and the connector resumed, the connector replays nothing
//     committed below confirmed_flush_lsn but the last confirmed transaction,
//     exactly as TestDebeziumRewindBelowSlot observes;
//   - after pg_replication_slot_advance past the target and a CHECKPOINT
//     moved restart_lsn past it, is an error (below_restart_lsn) even
//     acknowledged.
func TestPlanJudgesTheRealSlot(t *testing.T) {
	st := Get(t)
	bin := killtest.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := startProofSource(ctx, t, st, "slotplan", nil) // lsn.flush.mode: Debezium's default, it confirms
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	waitOffsetPast(ctx, t, st, s.name, s.insert(ctx, t, 1))
	before := s.insert(ctx, t, 2, 3) // one transaction each
	waitOffsetPast(ctx, t, st, s.name, before)
	mustStatus(ctx, t, st, "PUT", "/connectors/"+s.name+"/stop", nil, 204)
	waitConnectorState(ctx, t, st, s.name, "STOPPED")
	stored := waitOffsetPast(ctx, t, st, s.name, before) // the final commit made while stopping
	restart, confirmed := s.slotLSNs(ctx, t)
	t.Logf("slot %s: restart_lsn %s, confirmed_flush_lsn %s; WAL before rows 2 and 3: %s; stored offset %s",
		s.slot, offsets.FormatLSN(restart), offsets.FormatLSN(confirmed), offsets.FormatLSN(uint64(before)), stored)
	if !(restart <= uint64(before) && uint64(before) < confirmed) {
		t.Fatalf("precondition: want restart_lsn <= WAL before rows 2 and 3 < confirmed_flush_lsn")
	}
	// The rewind TestDebeziumRewindBelowSlot makes: to restart_lsn, so that
	// Debezium's start-up check passes.
	target := restart
	txID, _ := stored.Get("txId")
	ts, _ := stored.Get("ts_usec")
	tx, _ := txID.Int64()
	tsUsec, _ := ts.Int64()
	rewound := fmt.Sprintf(`{ lsn = %d, lsn_proc = %d, txId = %d, ts_usec = %d, messageType = "COMMIT" }`, target, target, tx, tsUsec)

	r := killtest.Runner{Bin: bin, Dir: t.TempDir()}
	config := func(acknowledge string) {
		writeConfig(t, r.Dir, fmt.Sprintf(`
connect "real" { url = %q }
database "source" { url = %q }
connector "source" {
  connect         = connect.real
  name            = %q
  source_database = database.source
}
offsets "rewind" {
  connector = connector.source
  reason    = "issue 18: rewind below the slot"
  %s
  source_partition {
    partition = { server = %q }
    offset    = %s
  }
}
`, st.ConnectURL(), st.SourceDB(), s.name, acknowledge, s.prefix, rewound))
	}
	type check struct{ Severity, Code, Message string }
	plan := func(what string, args ...string) (string, []check, error) {
		t.Helper()
		out, errs, err := r.Run(ctx, append([]string{"plan", "-no-color"}, args...)...)
		t.Logf("plan (%s): %v\n%s%s", what, err, out, errs)
		js, _, _ := r.Run(ctx, "plan", "-json")
		var doc struct{ Checks []check }
		if jerr := json.Unmarshal([]byte(js), &doc); jerr != nil {
			t.Fatalf("plan -json (%s): %v\n%s", what, jerr, js)
		}
		return out, doc.Checks, err
	}
	codeOf := func(cs []check, code string) string {
		for _, c := range cs {
			if c.Code == code {
				return c.Severity
			}
		}
		return ""
	}
	gap := fmt.Sprintf("%s bytes", numfmt.Thousands(int64(confirmed-target)))

	// Refused, the slot shown.
	config("")
	out, checks, err := plan("below confirmed_flush_lsn")
	if exitCode(err) != 1 || codeOf(checks, "no_replay_below_slot") != "error" {
		t.Fatalf("a rewind below confirmed_flush_lsn: exit %d, no_replay_below_slot %q; want exit 1 and an error", exitCode(err), codeOf(checks, "no_replay_below_slot"))
	}
	for _, want := range []string{
		fmt.Sprintf("nothing between the new position %s and the slot %q's confirmed_flush_lsn %s (%s) will be replayed", offsets.FormatLSN(target), s.slot, offsets.FormatLSN(confirmed), gap),
		fmt.Sprintf("slot %q (pgoutput, inactive): confirmed_flush_lsn %s, restart_lsn %s", s.slot, offsets.FormatLSN(confirmed), offsets.FormatLSN(restart)),
		fmt.Sprintf("new position %s, %s below confirmed_flush_lsn", offsets.FormatLSN(target), gap),
		`acknowledge = ["no_replay_below_slot"]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q", want)
		}
	}

	// Acknowledged: planned, applied, and nothing below the slot replays.
	config(`acknowledge = ["no_replay_below_slot"]`)
	out, checks, err = plan("acknowledged", "-out", "plan.json")
	if err != nil || codeOf(checks, "no_replay_below_slot") != "warning" || strings.Contains(out, "error:") {
		t.Fatalf("an acknowledged rewind below confirmed_flush_lsn: %v, no_replay_below_slot %q; want exit 0 and a warning", err, codeOf(checks, "no_replay_below_slot"))
	}
	if out, errs, err := r.Run(ctx, "apply", "plan.json", "-auto-approve", "-no-color"); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, out, errs)
	}
	if got := waitOffsetPast(ctx, t, st, s.name, 0); !got.Equal(mustParseMap(t, rewoundJSON(target, tx, tsUsec))) {
		t.Fatalf("after apply the connector's offset is %s, want the rewound one", got)
	}
	end := topicEndOf(ctx, t, adm, s.topic)
	mustStatus(ctx, t, st, "PUT", "/connectors/"+s.name+"/resume", nil, 202)
	waitConnectorState(ctx, t, st, s.name, "RUNNING")
	s.insert(ctx, t, 4)
	var ids []int
	if err := poll(ctx, time.Minute, "the change event of row 4", st.connect, func(ctx context.Context) (bool, error) {
		ids = idsSince(ctx, t, adm, []string{st.BootstrapServers()}, s.topic, end)
		return len(ids) > 0 && ids[len(ids)-1] == 4, nil
	}); err != nil {
		t.Fatalf("%v (ids so far %v)", err, ids)
	}
	t.Logf("change events after the applied rewind: ids %v", ids)
	if fmt.Sprint(ids) != "[3 4]" {
		t.Fatalf("after the rewind below confirmed_flush_lsn the connector emitted ids %v, want [3 4]: row 2, committed below the slot, must not replay; row 3, the last confirmed transaction, replays once (TestDebeziumRewindBelowSlot)", ids)
	}

	// The slot moves past the target and its WAL goes: an error, even
	// acknowledged.
	mustStatus(ctx, t, st, "PUT", "/connectors/"+s.name+"/stop", nil, 204)
	waitConnectorState(ctx, t, st, s.name, "STOPPED")
	if err := poll(ctx, time.Minute, "restart_lsn of "+s.slot+" to pass "+offsets.FormatLSN(target), st.connect, func(ctx context.Context) (bool, error) {
		// restart_lsn follows the xl_running_xacts records the decoding
		// passes: CHECKPOINT writes one, the advance decodes past it.
		for _, q := range []string{"CHECKPOINT", "SELECT pg_switch_wal()", "SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())"} {
			var args []any
			if strings.Contains(q, "$1") {
				args = []any{s.slot}
			}
			if _, err := s.db.Exec(ctx, q, args...); err != nil {
				return false, fmt.Errorf("%s: %w", q, err)
			}
		}
		r, _ := s.slotLSNs(ctx, t)
		return r > target, nil
	}); err != nil {
		t.Fatal(err)
	}
	restart2, confirmed2 := s.slotLSNs(ctx, t)
	t.Logf("slot %s advanced: restart_lsn %s, confirmed_flush_lsn %s", s.slot, offsets.FormatLSN(restart2), offsets.FormatLSN(confirmed2))
	// A state of its own: the first one records the rewind applied.
	r.Dir = t.TempDir()
	config(`acknowledge = ["no_replay_below_slot"]`)
	out, checks, err = plan("WAL gone")
	if exitCode(err) != 1 || codeOf(checks, "below_restart_lsn") != "error" {
		t.Fatalf("a rewind below restart_lsn: exit %d, below_restart_lsn %q; want exit 1 and an error", exitCode(err), codeOf(checks, "below_restart_lsn"))
	}
	if want := fmt.Sprintf("the new position %s is %s bytes below the slot %q's restart_lsn %s", offsets.FormatLSN(target), numfmt.Thousands(int64(restart2-target)), s.slot, offsets.FormatLSN(restart2)); !strings.Contains(out, want) {
		t.Errorf("plan output lacks %q", want)
	}
}

func rewoundJSON(lsn uint64, tx, ts int64) string {
	return fmt.Sprintf(`{"lsn":%d,"lsn_proc":%d,"txId":%d,"ts_usec":%d,"messageType":"COMMIT"}`, lsn, lsn, tx, ts)
}

func mustParseMap(t testing.TB, s string) offsets.Map {
	t.Helper()
	m, err := offsets.ParseMap([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// exitCode is a finished command's exit code (0 for no error, -1 when it
// did not exit).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		return ee.ExitCode()
	}
	return -1
}
