package realstack

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// replayPipeline is a proofSource with lsn.flush.mode=manual and a JDBC
// sink of its own, so that a proof can rewind the source and see the rows
// replayed without touching the shared pipeline or the other tests.
//
// PostgreSQL streams a slot from max(requested LSN, confirmed_flush_lsn), so
// a replay is only possible when the slot has not confirmed the rows yet:
// the source runs with lsn.flush.mode=manual from its first start (Debezium
// 3.4+, checked in 3.6.0.Final's PostgresConnectorConfig: LSNs are never
// confirmed to the slot, so WAL after the slot's creation stays replayable).
type replayPipeline struct {
	*proofSource
	st       *Stack
	sinkName string
}

// startReplayPipeline starts the source (its configuration with extra laid
// over it) and the sink, and waits until both run. kind names them.
func startReplayPipeline(ctx context.Context, t *testing.T, st *Stack, kind string, extra map[string]string) *replayPipeline {
	t.Helper()
	cfg := map[string]string{"lsn.flush.mode": "manual"}
	for k, v := range extra {
		cfg[k] = v
	}
	p := &replayPipeline{proofSource: startProofSource(ctx, t, st, kind, cfg), st: st, sinkName: kind + "-sink-" + proofRunID()}
	sinkCfg := st.SinkConnectorConfig()
	sinkCfg["topics"] = p.topic
	sinkCfg["collection.name.format"] = p.table
	createProofConnector(ctx, t, st, p.sinkName, sinkCfg)
	waitConnectorState(ctx, t, st, p.sinkName, "RUNNING")
	return p
}

// deliverFive sends rows 1 to 5 through the pipeline and returns the
// source's offset once rows 1 and 2 were committed (the target a proof goes
// back to), its offset after row 5 (current), and the WAL position between
// (before the rows to replay). Debezium's lsn_proc is the LSN of the last
// change event, so "past the WAL position before inserting row 2" means
// row 2 was committed.
func (p *replayPipeline) deliverFive(ctx context.Context, t *testing.T) (target, current offsets.Map, walBefore int64) {
	t.Helper()
	p.insert(ctx, t, 1)
	beforeTwo := p.insert(ctx, t, 2)
	waitSinkRows(ctx, t, p.st, p.table, 1, 2)
	target = waitOffsetPast(ctx, t, p.st, p.name, beforeTwo)
	walBefore = p.insert(ctx, t, 3, 4)
	beforeFive := p.insert(ctx, t, 5)
	waitSinkRows(ctx, t, p.st, p.table, 3, 4, 5)
	current = waitOffsetPast(ctx, t, p.st, p.name, beforeFive)
	return target, current, walBefore
}

// dropReplayedRows deletes rows 3 to 5 from the sink database, so that
// they show when they are replayed.
func (p *replayPipeline) dropReplayedRows(ctx context.Context, t *testing.T) {
	t.Helper()
	sink, err := pgx.Connect(ctx, p.st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	if _, err := sink.Exec(ctx, "DELETE FROM public."+pgx.Identifier{p.table}.Sanitize()+" WHERE id IN (3, 4, 5)"); err != nil {
		t.Fatal(err)
	}
}

// waitReplayed waits until the source, resumed, replayed rows 3 to 5 (its
// topic past end) and the sink wrote them again, and fails unless it
// emitted exactly those, once each.
func (p *replayPipeline) waitReplayed(ctx context.Context, t *testing.T, adm *kadm.Client, end int64) {
	t.Helper()
	waitConnectorState(ctx, t, p.st, p.name, "RUNNING")
	waitSinkRows(ctx, t, p.st, p.table, 3, 4, 5)
	var ids []int
	if err := poll(ctx, time.Minute, "the replayed change events", p.st.connect, func(ctx context.Context) (bool, error) {
		ids = idsSince(ctx, t, adm, []string{p.st.BootstrapServers()}, p.topic, end)
		return len(ids) >= 3, nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[3 4 5]" {
		t.Fatalf("after resuming from the written offset the source emitted ids %v, want [3 4 5] (the rows committed after it, once each)", ids)
	}
}
