package realstack

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDebeziumRewindBelowSlot proves, on the real stack, the facts
// offsetctl's PostgreSQL rewind rules rest on. A Debezium PostgreSQL source
// confirms to its replication slot the LSN of the last change event it
// committed, not the end of that transaction, so PostgreSQL re-sends the last
// confirmed transaction whenever streaming starts again:
//
//   - on a plain stop/resume Debezium recognises it from its stored offset and
//     skips it: nothing is emitted twice;
//   - after the offset is rewound below the slot's confirmed_flush_lsn
//     (REST PATCH while STOPPED, to the slot's restart_lsn so that
//     Debezium's start-up check passes) the task starts, transactions
//     committed before confirmed_flush_lsn are NOT replayed, and only that
//     last confirmed transaction comes out again.
//
// So a rewind below the slot never replays what it seems to ask for.
func TestDebeziumRewindBelowSlot(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src, err := pgx.Connect(ctx, st.SourceDB())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	seeds := []string{st.BootstrapServers()}
	stop := func() {
		t.Helper()
		mustStatus(ctx, t, st, "PUT", "/connectors/"+SourceConnectorName+"/stop", nil, 204)
		waitConnectorState(ctx, t, st, SourceConnectorName, "STOPPED")
	}
	resume := func() {
		t.Helper()
		mustStatus(ctx, t, st, "PUT", "/connectors/"+SourceConnectorName+"/resume", nil, 202)
		waitConnectorState(ctx, t, st, SourceConnectorName, "RUNNING")
	}
	insert := func(ids ...int) {
		t.Helper()
		for _, id := range ids { // one transaction each
			if err := insertCustomer(ctx, src, id); err != nil {
				t.Fatal(err)
			}
		}
		waitSinkHas(ctx, t, st, ids[len(ids)-1])
	}
	currentWAL := func() int64 {
		t.Helper()
		var s string
		if err := src.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return lsnToInt(t, s)
	}

	// Baseline: a plain stop/resume emits nothing twice.
	w := currentWAL()
	insert(101)
	waitSourceOffsetPast(ctx, t, st, w)
	stop()
	end := topicEnd(ctx, t, adm)
	resume()
	insert(102)
	if ids := topicIDsSince(ctx, t, adm, seeds, end); fmt.Sprint(ids) != "[102]" {
		t.Fatalf("after a plain stop/resume the source emitted ids %v, want [102]", ids)
	}

	// Rewind below confirmed_flush_lsn.
	before := currentWAL()
	insert(103, 104)
	waitSourceOffsetPast(ctx, t, st, before)
	stop()
	last := waitSourceOffsetPast(ctx, t, st, before) // the final commit made while stopping
	restart, confirmed := slotPosition(ctx, t, src)
	t.Logf("slot %s: restart_lsn %d, confirmed_flush_lsn %d; WAL before inserting 103 and 104: %d; committed offset %s",
		SlotName, restart, confirmed, before, last)
	if !(restart <= before && before < confirmed) {
		t.Fatalf("precondition: want restart_lsn (%d) <= WAL before the inserts (%d) < confirmed_flush_lsn (%d)", restart, before, confirmed)
	}
	var cur struct {
		LsnProc int64 `json:"lsn_proc"`
		TxID    int64 `json:"txId"`
		TsUsec  int64 `json:"ts_usec"`
	}
	if err := json.Unmarshal([]byte(last), &cur); err != nil {
		t.Fatal(err)
	}
	if cur.LsnProc != confirmed {
		t.Errorf("confirmed_flush_lsn %d differs from the committed lsn_proc %d: Debezium confirms something else than its last event LSN", confirmed, cur.LsnProc)
	}
	end = topicEnd(ctx, t, adm)
	rewound := map[string]any{"lsn": restart, "lsn_proc": restart, "txId": cur.TxID, "ts_usec": cur.TsUsec, "messageType": "COMMIT"}
	mustStatus(ctx, t, st, "PATCH", "/connectors/"+SourceConnectorName+"/offsets",
		map[string]any{"offsets": []any{map[string]any{"partition": map[string]any{"server": TopicPrefix}, "offset": rewound}}}, 200)
	resume()
	insert(105)
	ids := topicIDsSince(ctx, t, adm, seeds, end)
	t.Logf("change events after rewinding to restart_lsn: ids %v", ids)
	if fmt.Sprint(ids) != "[104 105]" {
		t.Fatalf("after rewinding below confirmed_flush_lsn the source emitted ids %v, want [104 105]: 103 (committed before the slot position) must not replay, 104 (the last confirmed transaction) replays once", ids)
	}
	_, confirmed2 := slotPosition(ctx, t, src)
	if confirmed2 < confirmed {
		t.Errorf("confirmed_flush_lsn went back from %d to %d", confirmed, confirmed2)
	}
}

// lsnToInt turns PostgreSQL's X/Y text form into Debezium's integer form.
func lsnToInt(t testing.TB, s string) int64 {
	t.Helper()
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("not an LSN: %q", s)
	}
	return int64(h<<32 | l)
}

func slotPosition(ctx context.Context, t testing.TB, c *pgx.Conn) (restart, confirmed int64) {
	t.Helper()
	var r, f string
	if err := c.QueryRow(ctx, "SELECT restart_lsn::text, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", SlotName).Scan(&r, &f); err != nil {
		t.Fatalf("reading slot %s: %v", SlotName, err)
	}
	return lsnToInt(t, r), lsnToInt(t, f)
}

func mustStatus(ctx context.Context, t testing.TB, st *Stack, method, path string, body any, want int) []byte {
	t.Helper()
	r, err := st.Do(ctx, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r.Body
}

func waitConnectorState(ctx context.Context, t testing.TB, st *Stack, name, state string) {
	t.Helper()
	err := poll(ctx, time.Minute, name+" to be "+state, st.connect, func(ctx context.Context) (bool, error) {
		r, err := st.Do(ctx, "GET", "/connectors/"+name+"/status", nil)
		if err != nil || r.Status != 200 {
			return false, err
		}
		var s struct {
			Connector struct{ State string }
			Tasks     []struct{ State, Trace string }
		}
		if err := json.Unmarshal(r.Body, &s); err != nil {
			return false, err
		}
		for _, tk := range s.Tasks {
			if tk.State == "FAILED" {
				return false, permanent(fmt.Errorf("task FAILED: %s", traceHead(tk.Trace)))
			}
		}
		if state == "STOPPED" {
			return s.Connector.State == "STOPPED" && len(s.Tasks) == 0, nil
		}
		return s.Connector.State == state && len(s.Tasks) > 0 && s.Tasks[0].State == state, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func waitSinkHas(ctx context.Context, t testing.TB, st *Stack, id int) {
	t.Helper()
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	err = poll(ctx, time.Minute, fmt.Sprintf("customer %d in the sink", id), st.connect, func(ctx context.Context) (bool, error) {
		if err := st.connectorsHealthy(ctx); err != nil {
			return false, err
		}
		var n int
		err := sink.QueryRow(ctx, "SELECT count(*) FROM public.customers WHERE id = $1", id).Scan(&n)
		return n == 1, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitSourceOffsetPast waits until the source's committed lsn_proc is at or past
// lsn and returns the offset object as JSON.
func waitSourceOffsetPast(ctx context.Context, t testing.TB, st *Stack, lsn int64) string {
	t.Helper()
	var last string
	err := poll(ctx, time.Minute, "the source offset to pass the inserts", st.connect, func(ctx context.Context) (bool, error) {
		r, err := st.Do(ctx, "GET", "/connectors/"+SourceConnectorName+"/offsets", nil)
		if err != nil || r.Status != 200 {
			return false, err
		}
		var doc struct {
			Offsets []struct{ Offset json.RawMessage }
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil || len(doc.Offsets) != 1 {
			return false, err
		}
		var o struct {
			LsnProc int64 `json:"lsn_proc"`
		}
		if err := json.Unmarshal(doc.Offsets[0].Offset, &o); err != nil {
			return false, err
		}
		last = string(doc.Offsets[0].Offset)
		return o.LsnProc >= lsn, nil
	})
	if err != nil {
		t.Fatalf("%v (last offset %s, want lsn_proc >= %d)", err, last, lsn)
	}
	return last
}

func topicEnd(ctx context.Context, t testing.TB, adm *kadm.Client) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, CustomersTopic)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ends.Lookup(CustomersTopic, 0)
	if !ok || e.Err != nil {
		t.Fatalf("end offset of %s: %v", CustomersTopic, e.Err)
	}
	return e.Offset
}

// topicIDsSince reads the customers topic from offset from to its end and
// returns the customer id of each change event (from the record key).
func topicIDsSince(ctx context.Context, t testing.TB, adm *kadm.Client, seeds []string, from int64) []int {
	t.Helper()
	end := topicEnd(ctx, t, adm)
	if end <= from {
		return nil
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{CustomersTopic: {0: kgo.NewOffset().At(from)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var ids []int
	for next := from; next < end; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			var k struct {
				Payload struct{ ID int } `json:"payload"`
			}
			if err := json.Unmarshal(r.Key, &k); err != nil {
				t.Fatalf("record key %q: %v", r.Key, err)
			}
			if r.Value != nil { // skip tombstones that follow deletes
				ids = append(ids, k.Payload.ID)
			}
		})
	}
	return ids
}
