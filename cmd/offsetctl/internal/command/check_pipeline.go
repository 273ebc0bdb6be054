package command

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
	"github.com/offsetctl/offsetctl/pkg/schemahistory"
)

// pipelinePoll is how often check looks again at a pipeline that has not
// yet delivered everything up to a comparison's source snapshot.
const pipelinePoll = 200 * time.Millisecond

// caughtUp is whether a block's pipeline had delivered every change up to a
// comparison's source snapshot before the sink was read, and the evidence in
// words.
type caughtUp struct {
	ok       bool
	evidence string
}

// waitPipeline waits, up to settle, until the block's pipeline has delivered
// every change up to the source snapshot snap: each source connector's
// stored resume position (a PostgreSQL source: offsets.PostgresResumeLSN; a
// MariaDB/MySQL one: offsets.MySQLBinlogPosition) is at or past snap, and then
// each sink connector's group has committed the end offsets its topics had
// once the sources were past it. It reads the sources before the sinks, so
// that those end offsets hold every record of a change up to lsn. A source
// connector that has stored no PostgreSQL LSN is not past the snapshot; a
// sink connector without a kafka block is named in the evidence. A source
// that did not say where its snapshot is (no binary log) cannot be shown
// delivered.
func (obs *checkObserver) waitPipeline(ctx context.Context, b *config.Reconcile, pos reconcile.SnapshotPosition, settle time.Duration) caughtUp {
	// A real wait: the observer's clock is the one reports are stamped with.
	deadline := time.Now().Add(settle)
	var sources, sinks []*config.Connector
	var unplaced []string
	for _, k := range b.Connectors {
		cl, err := obs.clients.Connect(k.Connect)
		if err != nil {
			return caughtUp{evidence: err.Error()}
		}
		st, err := cl.Status(ctx, k.ConnectorName)
		if err != nil {
			return caughtUp{evidence: fmt.Sprintf("reading the status of %s: %v", k.ConnectorName, err)}
		}
		if st.Type == connect.TypeSink {
			sinks = append(sinks, k)
		} else {
			sources = append(sources, k)
		}
	}
	snap := pos.String()
	if !pos.Known() {
		why := "is log_bin on? MySQL: may the user run SHOW BINARY LOG STATUS, REPLICATION CLIENT?"
		if pos.Unknown != "" {
			why = pos.Unknown
		}
		return caughtUp{evidence: "the source did not say where its snapshot is in its binlog (" + why + "): the pipeline cannot be shown past it"}
	}
	wait := func() bool {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(min(pipelinePoll, left)):
			return true
		}
	}
	// The sources first: each stored position at or past the snapshot.
	var passed []string
	for _, k := range sources {
		for {
			stored, _, found, err := obs.storedPosition(ctx, k, pos.Binlog)
			if err != nil {
				return caughtUp{evidence: err.Error()}
			}
			past := false
			if found {
				if past, err = pastSnapshot(stored, pos); err != nil {
					return caughtUp{evidence: fmt.Sprintf("the source connector %s: %v", k.ConnectorName, err)}
				}
			}
			if past {
				passed = append(passed, fmt.Sprintf("%s stored %s", k.ConnectorName, stored))
				break
			}
			if wait() {
				continue
			}
			if !found {
				what := "PostgreSQL position (lsn_proc or lsn)"
				if pos.Binlog {
					what = "binlog position (file and pos)"
				}
				return caughtUp{evidence: fmt.Sprintf("the source connector %s has stored no %s: it cannot be shown past the source's snapshot %s", k.ConnectorName, what, snap)}
			}
			return caughtUp{evidence: fmt.Sprintf("the source connector %s has stored %s, before the source's snapshot %s: its changes up to the snapshot may not have reached the sink (an idle source moves its stored position only with heartbeat.interval.ms)",
				k.ConnectorName, stored, snap)}
		}
	}
	// Then the sinks: the group committed the end offsets read now.
	var sinkWords []string
	for _, k := range sinks {
		if k.Kafka == nil {
			unplaced = append(unplaced, k.ConnectorName)
			continue
		}
		ends, err := obs.sinkGroup(ctx, k, nil)
		if err != nil {
			return caughtUp{evidence: err.Error()}
		}
		for {
			now, err := obs.sinkGroup(ctx, k, nil)
			if err != nil {
				return caughtUp{evidence: err.Error()}
			}
			committed := map[string]int64{}
			for _, g := range now {
				committed[g.key()] = g.committed
			}
			var behind int64
			for _, e := range ends {
				behind += max(e.logEnd-committed[e.key()], 0)
			}
			if behind == 0 {
				sinkWords = append(sinkWords, fmt.Sprintf("%s committed its topics' end offsets", k.ConnectorName))
				break
			}
			if !wait() {
				return caughtUp{evidence: fmt.Sprintf("the sink connector %s has %d records to commit up to the source's snapshot %s", k.ConnectorName, behind, snap)}
			}
		}
	}
	words := append(passed, sinkWords...)
	ev := "the pipeline delivered every change up to the source's snapshot " + snap
	if len(words) > 0 {
		ev += " (" + strings.Join(words, ", ") + ")"
	}
	if len(unplaced) > 0 {
		ev += "; no group lag read (no kafka block): " + strings.Join(unplaced, ", ")
	}
	if len(sources) == 0 {
		ev += "; no source connector named: only the sink's lag was checked"
	}
	return caughtUp{ok: true, evidence: ev}
}

// groupOffset is one partition of a sink group: its log end, what the
// group stored (-1: nothing) and what it has consumed (the log start when
// nothing is stored).
type groupOffset struct {
	topic             string
	partition         int32
	logEnd            int64
	stored, committed int64
}

func (g groupOffset) key() string { return fmt.Sprintf("%s/%d", g.topic, g.partition) }

// lag is the records the group has yet to commit.
func (g groupOffset) lag() int64 { return max(g.logEnd-g.committed, 0) }

// sinkGroup reads a sink connector's group offsets on its topics (cfg, its
// connector config; nil to read it), leaving out the partitions whose log
// end is unknown.
func (obs *checkObserver) sinkGroup(ctx context.Context, k *config.Connector, cfg map[string]string) ([]groupOffset, error) {
	if cfg == nil {
		cl, err := obs.clients.Connect(k.Connect)
		if err != nil {
			return nil, err
		}
		if cfg, err = cl.Config(ctx, k.ConnectorName); err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", k.ConnectorName, err)
		}
	}
	kc, err := obs.clients.Kafka(k.Kafka)
	if err != nil {
		return nil, err
	}
	grp, err := readSinkGroup(ctx, kc, k.ConnectorName, offsets.SinkGroupID(k.ConnectorName, k.Group, cfg), splitTopics(cfg["topics"]))
	if err != nil {
		return nil, fmt.Errorf("reading the consumer group of %s: %w", k.ConnectorName, err)
	}
	var out []groupOffset
	for _, so := range grp.Offsets {
		if so.LogEnd < 0 {
			continue
		}
		g := groupOffset{topic: so.Topic, partition: so.Partition, logEnd: so.LogEnd, stored: so.Committed, committed: so.Committed}
		if g.committed < 0 {
			g.committed = so.LogStart
		}
		out = append(out, g)
	}
	return out, nil
}

// storedPosition is the position a Debezium source connector resumes from,
// the greatest over its partitions: for a PostgreSQL source (binlog false)
// its LSN (offsets.PostgresResumeLSN) and the ts_usec stored with it, for a
// MariaDB/MySQL one its binlog file and pos (offsets.MySQLBinlogPosition);
// found is false when no stored offset holds one.
func (obs *checkObserver) storedPosition(ctx context.Context, k *config.Connector, binlog bool) (pos reconcile.SnapshotPosition, tsUsec int64, found bool, err error) {
	pos.Binlog = binlog
	cl, err := obs.clients.Connect(k.Connect)
	if err != nil {
		return pos, 0, false, err
	}
	got, err := cl.Offsets(ctx, k.ConnectorName)
	if err != nil {
		return pos, 0, false, fmt.Errorf("reading the offsets of %s (GET /offsets, Kafka Connect 3.5+): %w", k.ConnectorName, err)
	}
	for _, co := range got.Offsets {
		if len(co.Offset) == 0 || string(co.Offset) == "null" {
			continue
		}
		m, err := offsets.ParseMap(co.Offset)
		if err != nil {
			return pos, 0, false, fmt.Errorf("the offset of %s: %w", k.ConnectorName, err)
		}
		if binlog {
			if file, p, ok := offsets.MySQLBinlogPosition(m); ok {
				next := reconcile.SnapshotPosition{Binlog: true, BinlogFile: file, BinlogPos: p}
				if later, _ := pastSnapshot(next, pos); !found || later {
					pos, found = next, true
				}
			}
			continue
		}
		if n, ok := offsets.PostgresResumeLSN(m); ok && (!found || n > pos.LSN) {
			pos.LSN, found = n, true
			tsUsec = 0
			if t, ok := m.Get("ts_usec"); ok {
				tsUsec, _ = t.Int64Lenient()
			}
		}
	}
	return pos, tsUsec, found, nil
}

// pastSnapshot says whether a connector's stored position is at or past a
// comparison's source snapshot: WAL positions by value, binlog positions
// by file sequence then pos (schemahistory.Position). A binlog file without
// a numeric suffix cannot be ordered: an error.
func pastSnapshot(stored, snap reconcile.SnapshotPosition) (bool, error) {
	if !snap.Binlog {
		return stored.LSN >= snap.LSN, nil
	}
	a, err := schemahistory.ParsePosition(stored.BinlogFile, stored.BinlogPos)
	if err != nil {
		return false, err
	}
	b, err := schemahistory.ParsePosition(snap.BinlogFile, snap.BinlogPos)
	if err != nil {
		return false, err
	}
	return !a.Before(b), nil
}
