package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// ChangeTable is the table, in the source database's public schema, that the
// pipeline's capture trigger fills and the Debezium-shaped source task reads
// instead of a replication slot: one row per changed row, with the WAL insert
// position (pg_current_wal_insert_lsn) and transaction id of the change.
const ChangeTable = "offsetctl_cdc"

// sourceTask imitates Debezium's PostgreSQL task: it streams the change
// table from its stored position (lsn_proc, else lsn) to the topic
// <topic.prefix>.<schema>.<table>, and commits Debezium-shaped offsets
// {"lsn","lsn_proc","lsn_commit","txId","ts_usec","messageType"} under the
// partition {"server": <topic.prefix>} every offset.flush.interval.ms and
// once when it stops, like WorkerSourceTask.
type sourceTask struct {
	pos atomic.Int64 // LSN of the last change emitted
}

func msConfig(cfg map[string]string, key string, def time.Duration) time.Duration {
	if v, err := strconv.ParseInt(strings.TrimSpace(cfg[key]), 10, 64); err == nil && v > 0 {
		return time.Duration(v) * time.Millisecond
	}
	return def
}

// sourceDSN builds a libpq URL from Debezium's database.* keys.
func sourceDSN(cfg map[string]string) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(cfg["database.hostname"], orDefault(cfg["database.port"], "5432")), Path: "/" + cfg["database.dbname"]}
	if p, ok := cfg["database.password"]; ok && p != "" {
		u.User = url.UserPassword(cfg["database.user"], p)
	} else {
		u.User = url.User(cfg["database.user"])
	}
	q := url.Values{}
	if m := cfg["database.sslmode"]; m != "" {
		q.Set("sslmode", m)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// sourcePartition is the Debezium PostgreSQL partition, in HashMap order.
func sourcePartition(prefix string) offsets.Map {
	return offsets.NewMap(offsets.Field{Key: "server", Value: offsets.String(prefix)}).JavaOrder()
}

// startLSN reads the stored offset the way Debezium's loader does: lsn_proc,
// else lsn, must be a number. A value Connect cannot deserialise into a map
// of primitives is no offset at all (OffsetStorageReaderImpl logs it and
// returns nothing).
func startLSN(raw []byte) (int64, bool, error) {
	m, err := offsets.ParseMap(raw)
	if err != nil {
		return 0, false, nil
	}
	for _, k := range []string{"lsn_proc", "lsn"} {
		if v, ok := m.Get(k); ok && !v.IsNull() {
			n, ok := v.Int64()
			if !ok {
				return 0, false, fmt.Errorf("java.lang.ClassCastException: source offset '%s' is %s, not a Long", k, v)
			}
			return n, true, nil
		}
	}
	return 0, false, errors.New("source offset 'lsn' parameter is missing")
}

type change struct {
	lsn, txid, tsUsec  int64
	op, table          string
	key, before, after []byte
	snapshot           string // "true" for snapshot reads, else "false"
}

func (s *sourceTask) run(ctx context.Context, t *taskRun) error {
	w, cfg := t.w, t.config
	prefix := cfg["topic.prefix"]
	tables := splitList(cfg["table.include.list"])
	flushEvery := msConfig(cfg, "offset.flush.interval.ms", 60*time.Second)
	pollEvery := msConfig(cfg, "poll.interval.ms", 500*time.Millisecond)
	part := sourcePartition(prefix)
	key := sourceKey(t.conn, &part)
	var pending *offsets.Map // emitted but not yet committed

	store, err := w.sourceStoreFor(ctx, cfg)
	if err != nil {
		return err
	}
	if err := store.readToEnd(ctx); err != nil {
		return err
	}
	raw, hasOffset := store.get(key)
	if hasOffset {
		lsn, ok, err := startLSN(raw)
		if err != nil {
			return err
		}
		hasOffset = ok
		if ok {
			s.pos.Store(lsn)
			w.logf("task %s-%d resumes after LSN %d", t.conn, t.id, lsn)
		} else {
			w.logf("task %s-%d: the stored offset %q is not a JSON object of primitives; starting as new", t.conn, t.id, raw)
		}
	}
	db, err := pgx.Connect(ctx, sourceDSN(cfg))
	if err != nil {
		return fmt.Errorf("connecting to the source database: %w", err)
	}
	defer db.Close(context.Background())
	prod, err := kgo.NewClient(kgo.SeedBrokers(w.sb.seeds...), kgo.ProducerLinger(0))
	if err != nil {
		return fmt.Errorf("creating the producer: %w", err)
	}
	defer prod.Close()
	topicOf := func(table string) string { return prefix + "." + table }
	var topics []string
	for _, tb := range tables {
		topics = append(topics, topicOf(tb))
	}
	if len(topics) > 0 {
		resp, err := w.adm.CreateTopics(ctx, 1, 1, nil, topics...)
		if err == nil {
			for _, r := range resp {
				if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
					err = r.Err
				}
			}
		}
		if err != nil {
			return fmt.Errorf("creating topics %v: %w", topics, err)
		}
	}

	commit := func(ctx context.Context) error {
		if pending == nil {
			return nil
		}
		if err := store.write(ctx, []kv{{key: key, value: pending.JSON()}}); err != nil {
			return err
		}
		pending = nil
		return nil
	}
	defer func() {
		if t.failed.Load() {
			return // WorkerSourceTask skips the final commit of a failed task
		}
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := commit(fctx); err != nil {
			w.logf("task %s-%d: final offset commit failed: %v", t.conn, t.id, err)
		}
	}()

	if !hasOffset {
		switch mode := strings.ToLower(strings.TrimSpace(cfg["snapshot.mode"])); mode {
		case "initial":
			recs, off, lsn, err := snapshot(ctx, db, tables, prefix, cfg["database.dbname"], topicOf)
			if err != nil {
				return err
			}
			if len(recs) > 0 {
				if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("producing snapshot events: %w", err)
				}
				pending = &off // Debezium commits an offset only with a record
			}
			s.pos.Store(lsn)
			w.logf("task %s-%d took an initial snapshot (%d records) at LSN %d", t.conn, t.id, len(recs), lsn)
		case "no_data", "never":
			var lsn int64
			if err := db.QueryRow(ctx, "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint").Scan(&lsn); err != nil {
				return fmt.Errorf("reading the current WAL position: %w", err)
			}
			s.pos.Store(lsn)
		}
	}

	// lsn_commit is the last LSN of the last transaction fully streamed
	// before the current one; Debezium leaves it out until there is one.
	var curTx, curLast, commitLSN int64
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	var heartbeat <-chan time.Time // nil: no heartbeats
	if every := msConfig(cfg, "heartbeat.interval.ms", 0); every > 0 {
		hb := time.NewTicker(every)
		defer hb.Stop()
		heartbeat = hb.C
	}
	for {
		if !t.paused.Load() {
			changes, err := readChanges(ctx, db, s.pos.Load(), tables)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if len(changes) > 0 {
				recs := make([]*kgo.Record, 0, len(changes))
				for _, c := range changes {
					recs = append(recs, changeRecords(topicOf(c.table), prefix, cfg["database.dbname"], c)...)
				}
				if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("producing change events: %w", err)
				}
				for _, c := range changes {
					if curTx != 0 && c.txid != curTx {
						commitLSN = curLast
					}
					curTx, curLast = c.txid, c.lsn
				}
				last := changes[len(changes)-1]
				m := debeziumOffset(last, commitLSN)
				pending = &m
				s.pos.Store(last.lsn)
				continue // drain before sleeping
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-heartbeat:
			if t.paused.Load() {
				continue
			}
			lsn, ok, err := idlePosition(ctx, db, s.pos.Load(), tables)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if ok {
				if curLast != 0 {
					commitLSN = curLast
				}
				m := heartbeatOffset(lsn, curTx, commitLSN, time.Now())
				pending = &m
				s.pos.Store(lsn)
			}
		case <-flush.C:
			if err := commit(ctx); err != nil && ctx.Err() == nil {
				w.logf("task %s-%d: offset commit failed: %v", t.conn, t.id, err)
			}
		}
	}
}

// idlePosition is where an idle source's position may move on a heartbeat:
// the current WAL insert position, when no change past pos is waiting in the
// change table and no transaction of this database holds a transaction id
// (one could still add a change with an earlier LSN, as the capture trigger
// stamps changes before their commit). ok is false when the source is not
// idle or the position would not move.
func idlePosition(ctx context.Context, db *pgx.Conn, pos int64, tables []string) (lsn int64, ok bool, err error) {
	var busy bool
	err = db.QueryRow(ctx, `SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint,
		EXISTS (SELECT 1 FROM public.`+pgx.Identifier{ChangeTable}.Sanitize()+` WHERE lsn > $1 AND tbl = ANY($2))
		OR EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid())`, pos, tables).Scan(&lsn, &busy)
	if err != nil {
		return 0, false, fmt.Errorf("reading the source's WAL position for a heartbeat: %w", err)
	}
	return lsn, !busy && lsn > pos, nil
}

// heartbeatOffset is the offset Debezium stores after a heartbeat on an idle
// source: the position moved to the server's, no event.
func heartbeatOffset(lsn, txid, commitLSN int64, now time.Time) offsets.Map {
	fields := []offsets.Field{
		{Key: "lsn_proc", Value: offsets.Int(lsn)},
		{Key: "lsn", Value: offsets.Int(lsn)},
		{Key: "txId", Value: offsets.Int(txid)},
		{Key: "ts_usec", Value: offsets.Int(now.UnixMicro())},
	}
	if commitLSN != 0 {
		fields = append(fields, offsets.Field{Key: "lsn_commit", Value: offsets.Int(commitLSN)})
	}
	return offsets.NewMap(fields...).JavaOrder()
}

// debeziumOffset is the offset Debezium's PostgresOffsetContext writes after
// an event, in HashMap order.
func debeziumOffset(c change, commitLSN int64) offsets.Map {
	fields := []offsets.Field{
		{Key: "lsn_proc", Value: offsets.Int(c.lsn)},
		{Key: "lsn", Value: offsets.Int(c.lsn)},
		{Key: "txId", Value: offsets.Int(c.txid)},
		{Key: "ts_usec", Value: offsets.Int(c.tsUsec)},
		{Key: "messageType", Value: offsets.String(c.op)},
	}
	if commitLSN != 0 {
		fields = append(fields, offsets.Field{Key: "lsn_commit", Value: offsets.Int(commitLSN)})
	}
	return offsets.NewMap(fields...).JavaOrder()
}

// snapshot reads the included tables in one repeatable-read transaction and
// returns their rows as Debezium read events ("op":"r"), the offset Debezium
// stores after the last of them, and the WAL position streaming goes on from.
func snapshot(ctx context.Context, db *pgx.Conn, tables []string, prefix, dbname string, topicOf func(string) string) ([]*kgo.Record, offsets.Map, int64, error) {
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, offsets.Map{}, 0, fmt.Errorf("starting the snapshot: %w", err)
	}
	defer tx.Rollback(context.Background())
	var lsn, txid, ts int64
	// Streaming goes on after the last change this snapshot sees; a writer
	// still in flight commits later, with a later LSN here (no concurrent
	// writers), and is streamed.
	if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT max(lsn) FROM public.`+pgx.Identifier{ChangeTable}.Sanitize()+`), 0),
		txid_snapshot_xmin(txid_current_snapshot()), (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`).Scan(&lsn, &txid, &ts); err != nil {
		return nil, offsets.Map{}, 0, fmt.Errorf("starting the snapshot: %w", err)
	}
	var recs []*kgo.Record
	for _, table := range tables {
		schema, name, ok := strings.Cut(table, ".")
		if !ok {
			schema, name = "public", table
		}
		ident := pgx.Identifier{schema, name}.Sanitize()
		rows, err := tx.Query(ctx, `SELECT a.attname FROM pg_index i
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
			WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`, ident)
		if err != nil {
			return nil, offsets.Map{}, 0, fmt.Errorf("snapshotting %s: %w", table, err)
		}
		pk, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, offsets.Map{}, 0, fmt.Errorf("snapshotting %s: %w", table, err)
		}
		keyExpr, order := "json_build_object()", "1"
		var args []any
		if len(pk) > 0 {
			var parts, cols []string
			for i, c := range pk {
				parts = append(parts, fmt.Sprintf("$%d::text, t.%s", i+1, pgx.Identifier{c}.Sanitize()))
				cols = append(cols, "t."+pgx.Identifier{c}.Sanitize())
				args = append(args, c)
			}
			keyExpr, order = "json_build_object("+strings.Join(parts, ", ")+")", strings.Join(cols, ", ")
		}
		rows, err = tx.Query(ctx, "SELECT "+keyExpr+"::text, row_to_json(t)::text FROM "+ident+" t ORDER BY "+order, args...)
		if err != nil {
			return nil, offsets.Map{}, 0, fmt.Errorf("snapshotting %s: %w", table, err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return nil, offsets.Map{}, 0, fmt.Errorf("snapshotting %s: %w", table, err)
			}
			c := change{lsn: lsn, txid: txid, tsUsec: ts, op: "READ", table: schema + "." + name, key: compactJSON(&k), after: compactJSON(&v), snapshot: "true"}
			recs = append(recs, changeRecords(topicOf(c.table), prefix, dbname, c)...)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, offsets.Map{}, 0, fmt.Errorf("snapshotting %s: %w", table, err)
		}
	}
	off := offsets.NewMap(
		offsets.Field{Key: "last_snapshot_record", Value: offsets.Bool(true)},
		offsets.Field{Key: "lsn", Value: offsets.Int(lsn)},
		offsets.Field{Key: "txId", Value: offsets.Int(txid)},
		offsets.Field{Key: "ts_usec", Value: offsets.Int(ts)},
		offsets.Field{Key: "snapshot", Value: offsets.String("INITIAL")},
		offsets.Field{Key: "snapshot_completed", Value: offsets.Bool(true)},
	).JavaOrder()
	return recs, off, lsn, nil
}

func readChanges(ctx context.Context, db *pgx.Conn, after int64, tables []string) ([]change, error) {
	rows, err := db.Query(ctx, `SELECT lsn, txid, ts_usec, op, tbl, key::text, before::text, after::text
		FROM public.`+pgx.Identifier{ChangeTable}.Sanitize()+`
		WHERE lsn > $1 AND tbl = ANY($2) ORDER BY lsn, seq LIMIT 1000`, after, tables)
	if err != nil {
		return nil, fmt.Errorf("reading the change table: %w", err)
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var c change
		var k string
		var before, after *string
		if err := rows.Scan(&c.lsn, &c.txid, &c.tsUsec, &c.op, &c.table, &k, &before, &after); err != nil {
			return nil, fmt.Errorf("reading the change table: %w", err)
		}
		c.key = compactJSON(&k)
		c.before, c.after = compactJSON(before), compactJSON(after)
		out = append(out, c)
	}
	return out, rows.Err()
}

func compactJSON(s *string) []byte {
	if s == nil {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(*s)); err != nil {
		return []byte(*s)
	}
	return b.Bytes()
}

// changeRecords turns a change into Debezium's records (JSON without schemas):
// the change event and, after a delete, a tombstone.
func changeRecords(topic, prefix, db string, c change) []*kgo.Record {
	schema, table, _ := strings.Cut(c.table, ".")
	op := map[string]string{"INSERT": "c", "UPDATE": "u", "DELETE": "d", "READ": "r"}[c.op]
	snap := c.snapshot
	if snap == "" {
		snap = "false"
	}
	raw := func(b []byte) json.RawMessage {
		if b == nil {
			return json.RawMessage("null")
		}
		return b
	}
	ev := struct {
		Before json.RawMessage `json:"before"`
		After  json.RawMessage `json:"after"`
		Source struct {
			Version   string `json:"version"`
			Connector string `json:"connector"`
			Name      string `json:"name"`
			TsMs      int64  `json:"ts_ms"`
			Snapshot  string `json:"snapshot"`
			DB        string `json:"db"`
			Schema    string `json:"schema"`
			Table     string `json:"table"`
			TxID      int64  `json:"txId"`
			LSN       int64  `json:"lsn"`
		} `json:"source"`
		Op   string `json:"op"`
		TsMs int64  `json:"ts_ms"`
	}{Before: raw(c.before), After: raw(c.after), Op: op, TsMs: c.tsUsec / 1000}
	ev.Source.Version, ev.Source.Connector, ev.Source.Name = "2.7.3.Final", "postgresql", prefix
	ev.Source.TsMs, ev.Source.Snapshot, ev.Source.DB = c.tsUsec/1000, snap, db
	ev.Source.Schema, ev.Source.Table, ev.Source.TxID, ev.Source.LSN = schema, table, c.txid, c.lsn
	value, _ := marshal(ev)
	recs := []*kgo.Record{{Topic: topic, Key: c.key, Value: value}}
	if c.op == "DELETE" {
		recs = append(recs, &kgo.Record{Topic: topic, Key: c.key})
	}
	return recs
}
