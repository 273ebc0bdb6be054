package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// PipelineOptions shape the demo pipeline: a Debezium-shaped PostgreSQL
// source streaming one table to a topic, and a JDBC-shaped sink upserting
// that topic into the same table in another database.
type PipelineOptions struct {
	// SourceDB and SinkDB are PostgreSQL URLs. They may name the same
	// database when SinkTable differs from Table.
	SourceDB, SinkDB string
	// Table is the source table (public schema); default "customers".
	Table string
	// SinkTable is the sink table (public schema); default Table.
	SinkTable string
	// SourceConnector and SinkConnector are the connector names; defaults
	// "customers-source" and "customers-sink".
	SourceConnector, SinkConnector string
	// TopicPrefix is the source's topic.prefix (its offset partition is
	// {"server": TopicPrefix}); default "shop".
	TopicPrefix string
	// FlushInterval is the source's offset.flush.interval.ms; default 200ms.
	FlushInterval time.Duration
	// PollInterval is how often the source reads the change table; default 50ms.
	PollInterval time.Duration
	// Heartbeat, when positive, is the source's heartbeat.interval.ms: an
	// idle source moves its stored position to the current WAL position,
	// as Debezium does on heartbeats, so that a drift check can see it has
	// caught up. Zero leaves it unset (Debezium's default: the position
	// moves only with changes).
	Heartbeat time.Duration
	// TopicPartitions is the partition count of the change topic; default 1.
	TopicPartitions int32
	// SinkTasks is the sink's tasks.max; default 1.
	SinkTasks int
	// SnapshotMode is the source's snapshot.mode: "initial" (Debezium's
	// default: with no stored offset, emit the current rows as read events,
	// then stream), "no_data" (start at the current WAL position). Empty
	// leaves it unset: with no stored offset the task streams the whole
	// change table from its start, so a reset source replays every change.
	SnapshotMode string
	// SeedRows, when positive, fills an empty source table with that many
	// customers before the connectors start, so the source's initial
	// snapshot streams them to the sink.
	SeedRows int
	// Signals creates Debezium's signalling table (see EnableSignals) before
	// the connectors start and names it in the source's
	// signal.data.collection, so a snapshot_signal repair works as is.
	Signals bool
}

// Pipeline is a running demo pipeline.
type Pipeline struct {
	sb     *Sandbox
	opts   PipelineOptions
	topic  string
	src    *pgxpool.Pool
	sink   *pgxpool.Pool
	closed bool
}

// Customer is a row of the pipeline's table.
type Customer struct {
	ID        int64
	Email     string
	Status    string
	UpdatedAt time.Time
}

// Change is a row of the change table.
type Change struct {
	LSN, TxID int64
	Op        string // INSERT, UPDATE, DELETE
	Table     string // schema.table
	Key       string // JSON, e.g. {"id":1}
}

// StartPipeline creates the schema in both databases (source table, change
// table and capture trigger; sink table), the change topic, and the two
// connectors — through the emulator's REST API, as a client would.
func (s *Sandbox) StartPipeline(ctx context.Context, opts PipelineOptions) (*Pipeline, error) {
	if opts.SourceDB == "" || opts.SinkDB == "" {
		return nil, errors.New("starting the pipeline: both a source and a sink database URL are needed")
	}
	if opts.Table == "" {
		opts.Table = "customers"
	}
	if opts.SinkTable == "" {
		opts.SinkTable = opts.Table
	}
	if opts.SourceDB == opts.SinkDB && opts.SinkTable == opts.Table {
		return nil, errors.New("starting the pipeline: the source and the sink are the same table; use two databases or set SinkTable")
	}
	if opts.SourceConnector == "" {
		opts.SourceConnector = opts.Table + "-source"
	}
	if opts.SinkConnector == "" {
		opts.SinkConnector = opts.Table + "-sink"
	}
	if opts.TopicPrefix == "" {
		opts.TopicPrefix = "shop"
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	if opts.TopicPartitions <= 0 {
		opts.TopicPartitions = 1
	}
	if opts.SinkTasks <= 0 {
		opts.SinkTasks = 1
	}
	p := &Pipeline{sb: s, opts: opts, topic: opts.TopicPrefix + ".public." + opts.Table}
	var err error
	if p.src, err = pgxpool.New(ctx, opts.SourceDB); err != nil {
		return nil, fmt.Errorf("connecting to the source database: %w", err)
	}
	if p.sink, err = pgxpool.New(ctx, opts.SinkDB); err != nil {
		p.src.Close()
		return nil, fmt.Errorf("connecting to the sink database: %w", err)
	}
	fail := func(err error) (*Pipeline, error) {
		p.close()
		return nil, err
	}
	if err := p.createSchema(ctx); err != nil {
		return fail(err)
	}
	if opts.Signals {
		if err := p.EnableSignals(ctx); err != nil {
			return fail(err)
		}
	}
	if opts.SeedRows > 0 {
		if err := p.seed(ctx, opts.SeedRows); err != nil {
			return fail(err)
		}
	}
	resp, err := s.adm.CreateTopics(ctx, opts.TopicPartitions, 1, nil, p.topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fail(fmt.Errorf("creating topic %s: %w", p.topic, err))
	}
	srcCfg, err := p.SourceConfig()
	if err != nil {
		return fail(err)
	}
	sinkCfg, err := p.SinkConfig()
	if err != nil {
		return fail(err)
	}
	for _, c := range []struct {
		name string
		cfg  map[string]string
	}{{opts.SourceConnector, srcCfg}, {opts.SinkConnector, sinkCfg}} {
		if err := s.createConnector(ctx, c.name, c.cfg); err != nil {
			return fail(err)
		}
	}
	s.mu.Lock()
	s.pipelines = append(s.pipelines, p)
	s.mu.Unlock()
	s.logf("pipeline up: public.%s → %s (%s) → %s (%s) → public.%s", opts.Table, opts.SourceConnector, p.topic, opts.SinkConnector, p.SinkGroup(), opts.SinkTable)
	return p, nil
}

func (p *Pipeline) createSchema(ctx context.Context) error {
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	cdc := pgx.Identifier{"public", ChangeTable}.Sanitize()
	fn := pgx.Identifier{"public", ChangeTable + "_capture"}.Sanitize()
	trg := pgx.Identifier{ChangeTable + "_capture"}.Sanitize()
	src := `
CREATE TABLE IF NOT EXISTS ` + tbl + ` (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  email text NOT NULL,
  status text NOT NULL DEFAULT 'active',
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ` + cdc + ` (
  seq bigserial PRIMARY KEY,
  lsn bigint NOT NULL,
  txid bigint NOT NULL,
  ts_usec bigint NOT NULL,
  op text NOT NULL,
  tbl text NOT NULL,
  key json NOT NULL,
  before json,
  after json
);
CREATE INDEX IF NOT EXISTS ` + pgx.Identifier{ChangeTable + "_lsn"}.Sanitize() + ` ON ` + cdc + ` (lsn, seq);
CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  r json;
BEGIN
  IF TG_OP = 'DELETE' THEN r := row_to_json(OLD); ELSE r := row_to_json(NEW); END IF;
  INSERT INTO ` + cdc + ` (lsn, txid, ts_usec, op, tbl, key, before, after)
  VALUES ((pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint,
          txid_current(),
          (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
          TG_OP,
          TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME,
          json_build_object(TG_ARGV[0], r -> TG_ARGV[0]),
          CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE row_to_json(OLD) END,
          CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE row_to_json(NEW) END);
  RETURN NULL;
END
$fn$;
DO $do$
BEGIN
  -- a table an older sandbox created on a --postgres server: give its key the default
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = ` + quoteLit(tbl) + `::regclass AND attname = 'id' AND attidentity = '' AND NOT atthasdef) THEN
    EXECUTE 'ALTER TABLE ' || ` + quoteLit(tbl) + ` || ' ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY';
    PERFORM setval(pg_get_serial_sequence(` + quoteLit(tbl) + `, 'id'), greatest(coalesce(max(id), 0), 1), max(id) IS NOT NULL) FROM ` + tbl + `;
  END IF;
END
$do$;
DROP TRIGGER IF EXISTS ` + trg + ` ON ` + tbl + `;
CREATE TRIGGER ` + trg + ` AFTER INSERT OR UPDATE OR DELETE ON ` + tbl + `
  FOR EACH ROW EXECUTE FUNCTION ` + fn + `('id');`
	if _, err := p.src.Exec(ctx, src); err != nil {
		return fmt.Errorf("creating the source schema: %w", err)
	}
	sink := `CREATE TABLE IF NOT EXISTS ` + pgx.Identifier{"public", p.opts.SinkTable}.Sanitize() + ` (
  id bigint PRIMARY KEY,
  email text,
  status text,
  updated_at timestamptz
)`
	if _, err := p.sink.Exec(ctx, sink); err != nil {
		return fmt.Errorf("creating the sink table: %w", err)
	}
	return nil
}

// SourceConfig is the source connector's config: Debezium PostgreSQL keys.
func (p *Pipeline) SourceConfig() (map[string]string, error) {
	cfg, err := pgx.ParseConfig(p.opts.SourceDB)
	if err != nil {
		return nil, fmt.Errorf("reading the source database URL: %w", err)
	}
	out := map[string]string{
		"connector.class":          PostgresSourceClass,
		"tasks.max":                "1",
		"plugin.name":              "pgoutput",
		"slot.name":                "offsetctl_sandbox",
		"database.hostname":        cfg.Host,
		"database.port":            strconv.Itoa(int(cfg.Port)),
		"database.user":            cfg.User,
		"database.dbname":          cfg.Database,
		"topic.prefix":             p.opts.TopicPrefix,
		"table.include.list":       "public." + p.opts.Table,
		"offset.flush.interval.ms": strconv.FormatInt(p.opts.FlushInterval.Milliseconds(), 10),
		"poll.interval.ms":         strconv.FormatInt(p.opts.PollInterval.Milliseconds(), 10),
	}
	if cfg.Password != "" {
		out["database.password"] = cfg.Password
	}
	if cfg.TLSConfig == nil {
		out["database.sslmode"] = "disable"
	}
	if p.opts.SnapshotMode != "" {
		out["snapshot.mode"] = p.opts.SnapshotMode
	}
	if p.opts.Signals {
		out["signal.data.collection"] = p.SignalTableName()
	}
	if p.opts.Heartbeat > 0 {
		out["heartbeat.interval.ms"] = strconv.FormatInt(p.opts.Heartbeat.Milliseconds(), 10)
	}
	return out, nil
}

// SinkConfig is the sink connector's config: Debezium JDBC sink keys.
func (p *Pipeline) SinkConfig() (map[string]string, error) {
	cfg, err := pgx.ParseConfig(p.opts.SinkDB)
	if err != nil {
		return nil, fmt.Errorf("reading the sink database URL: %w", err)
	}
	u := url.URL{Scheme: "postgresql", Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database}
	if cfg.TLSConfig == nil {
		u.RawQuery = "sslmode=disable"
	}
	out := map[string]string{
		"connector.class":     JdbcSinkClass,
		"tasks.max":           strconv.Itoa(p.opts.SinkTasks),
		"connection.url":      "jdbc:" + u.String(),
		"connection.username": cfg.User,
		"topics":              p.topic,
		"insert.mode":         "upsert",
		"delete.enabled":      "true",
		"primary.key.mode":    "record_key",
		"primary.key.fields":  "id",
		"table.name.format":   "public." + p.opts.SinkTable,
	}
	if cfg.Password != "" {
		out["connection.password"] = cfg.Password
	}
	return out, nil
}

// createConnector POSTs a connector to the emulator.
func (s *Sandbox) createConnector(ctx context.Context, name string, cfg map[string]string) error {
	body, err := json.Marshal(map[string]any{"name": name, "config": cfg})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/connectors", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("creating connector %s: %w", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("creating connector %s: HTTP %d: %s", name, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

func (p *Pipeline) close() {
	if p.closed {
		return
	}
	p.closed = true
	p.src.Close()
	p.sink.Close()
}

// Topic is the change topic, <prefix>.public.<table>.
func (p *Pipeline) Topic() string { return p.topic }

// SourceConnector and SinkConnector are the connector names.
func (p *Pipeline) SourceConnector() string { return p.opts.SourceConnector }

// SinkConnector is the sink connector's name.
func (p *Pipeline) SinkConnector() string { return p.opts.SinkConnector }

// SinkGroup is the sink's consumer group.
func (p *Pipeline) SinkGroup() string { return "connect-" + p.opts.SinkConnector }

// TopicPrefix is the source's topic.prefix, the "server" of its offset partition.
func (p *Pipeline) TopicPrefix() string { return p.opts.TopicPrefix }

// Table is the source table's name (public schema).
func (p *Pipeline) Table() string { return p.opts.Table }

// SinkTable is the sink table's name (public schema).
func (p *Pipeline) SinkTable() string { return p.opts.SinkTable }

// SourceDB and SinkDB return the database URLs.
func (p *Pipeline) SourceDB() string { return p.opts.SourceDB }

// SinkDB returns the sink database URL.
func (p *Pipeline) SinkDB() string { return p.opts.SinkDB }

// Insert inserts customers in one source transaction (UpdatedAt zero means
// now, ID zero the table's next identity value). After explicit ids the
// identity is moved past them, so that an insert without an id (the trickle,
// or someone at psql) does not collide.
func (p *Pipeline) Insert(ctx context.Context, rows ...Customer) error {
	tx, err := p.src.Begin(ctx)
	if err != nil {
		return fmt.Errorf("inserting customers: %w", err)
	}
	defer tx.Rollback(context.Background())
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	explicit := false
	for _, r := range rows {
		status := r.Status
		if status == "" {
			status = "active"
		}
		var ts any
		if !r.UpdatedAt.IsZero() {
			ts = r.UpdatedAt
		}
		if r.ID == 0 {
			if _, err := tx.Exec(ctx, "INSERT INTO "+tbl+" (email, status, updated_at) VALUES ($1, $2, coalesce($3::timestamptz, now()))",
				r.Email, status, ts); err != nil {
				return fmt.Errorf("inserting a customer: %w", err)
			}
			continue
		}
		explicit = true
		if _, err := tx.Exec(ctx, "INSERT INTO "+tbl+" (id, email, status, updated_at) VALUES ($1, $2, $3, coalesce($4::timestamptz, now()))",
			r.ID, r.Email, status, ts); err != nil {
			return fmt.Errorf("inserting customer %d: %w", r.ID, err)
		}
	}
	if explicit {
		if err := p.bumpIdentity(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("inserting customers: %w", err)
	}
	return nil
}

// InsertN inserts n customers with the next free ids, one transaction each,
// and returns them.
func (p *Pipeline) InsertN(ctx context.Context, n int) ([]Customer, error) {
	var next int64
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	if err := p.src.QueryRow(ctx, "SELECT coalesce(max(id), 0) + 1 FROM "+tbl).Scan(&next); err != nil {
		return nil, fmt.Errorf("finding the next customer id: %w", err)
	}
	out := make([]Customer, n)
	for i := range out {
		id := next + int64(i)
		out[i] = Customer{ID: id, Email: fmt.Sprintf("customer%d@example.com", id), Status: "active"}
		if err := p.Insert(ctx, out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Update sets a customer's status (and updated_at to now).
func (p *Pipeline) Update(ctx context.Context, id int64, status string) error {
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	if _, err := p.src.Exec(ctx, "UPDATE "+tbl+" SET status = $2, updated_at = now() WHERE id = $1", id, status); err != nil {
		return fmt.Errorf("updating customer %d: %w", id, err)
	}
	return nil
}

// Delete deletes customers in one source transaction.
func (p *Pipeline) Delete(ctx context.Context, ids ...int64) error {
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	if _, err := p.src.Exec(ctx, "DELETE FROM "+tbl+" WHERE id = ANY($1)", ids); err != nil {
		return fmt.Errorf("deleting customers: %w", err)
	}
	return nil
}

func readCustomers(ctx context.Context, pool *pgxpool.Pool, table string) ([]Customer, error) {
	rows, err := pool.Query(ctx, "SELECT id, email, status, updated_at FROM "+pgx.Identifier{"public", table}.Sanitize()+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", table, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) {
		var c Customer
		var email, status *string
		var ts *time.Time
		err := r.Scan(&c.ID, &email, &status, &ts)
		if email != nil {
			c.Email = *email
		}
		if status != nil {
			c.Status = *status
		}
		if ts != nil {
			c.UpdatedAt = *ts
		}
		return c, err
	})
}

// SourceRows returns the source table, by id.
func (p *Pipeline) SourceRows(ctx context.Context) ([]Customer, error) {
	return readCustomers(ctx, p.src, p.opts.Table)
}

// SinkRows returns the sink table, by id.
func (p *Pipeline) SinkRows(ctx context.Context) ([]Customer, error) {
	return readCustomers(ctx, p.sink, p.opts.SinkTable)
}

// Changes returns the change table in stream order.
func (p *Pipeline) Changes(ctx context.Context) ([]Change, error) {
	rows, err := p.src.Query(ctx, "SELECT lsn, txid, op, tbl, key::text FROM "+pgx.Identifier{"public", ChangeTable}.Sanitize()+" ORDER BY lsn, seq")
	if err != nil {
		return nil, fmt.Errorf("reading the change table: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		var c Change
		var k string
		err := r.Scan(&c.LSN, &c.TxID, &c.Op, &c.Table, &k)
		c.Key = string(compactJSON(&k))
		return c, err
	})
}

// SourcePosition is the LSN of the last change the running source task
// emitted (0 when none), and whether a source task is running.
func (p *Pipeline) SourcePosition() (int64, bool) {
	return p.sb.worker.sourcePosition(p.opts.SourceConnector)
}

const waitPoll = 20 * time.Millisecond

// WaitSourceCaughtUp waits until the running source task has emitted every
// committed change.
func (p *Pipeline) WaitSourceCaughtUp(ctx context.Context) error {
	for {
		var max int64
		if err := p.src.QueryRow(ctx, "SELECT coalesce(max(lsn), 0) FROM "+pgx.Identifier{"public", ChangeTable}.Sanitize()).Scan(&max); err != nil {
			return fmt.Errorf("waiting for the source: %w", err)
		}
		if pos, ok := p.SourcePosition(); ok && pos >= max {
			return nil
		}
		select {
		case <-ctx.Done():
			pos, running := p.SourcePosition()
			return fmt.Errorf("waiting for the source to reach LSN %d (at %d, running %v): %w", max, pos, running, ctx.Err())
		case <-time.After(waitPoll):
		}
	}
}

// WaitSinkCaughtUp waits for the source, then until the sink's group has
// committed the end offset of every partition of the topic.
func (p *Pipeline) WaitSinkCaughtUp(ctx context.Context) error {
	if err := p.WaitSourceCaughtUp(ctx); err != nil {
		return err
	}
	for {
		ends, err := p.sb.adm.ListEndOffsets(ctx, p.topic)
		if err != nil {
			return fmt.Errorf("waiting for the sink: %w", err)
		}
		committed, err := p.sb.adm.FetchOffsets(ctx, p.SinkGroup())
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return fmt.Errorf("waiting for the sink: %w", err)
		}
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			c, ok := committed.Lookup(o.Topic, o.Partition)
			if o.Offset > 0 && (!ok || c.At < o.Offset) {
				done = false
			}
		})
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the sink group %s to reach the end of %s: %w", p.SinkGroup(), p.topic, ctx.Err())
		case <-time.After(waitPoll):
		}
	}
}

// ReadTopic returns every record of a topic, from the start to the end
// offsets it has when called.
func (s *Sandbox) ReadTopic(ctx context.Context, topic string) ([]*kgo.Record, error) {
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", topic, err)
	}
	parts := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			parts[o.Partition] = kgo.NewOffset().AtStart()
			want[o.Partition] = o.Offset
		}
	})
	if len(parts) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(defaultFetchMaxWait))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []*kgo.Record
	got := map[int32]int64{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < want[r.Partition] {
				out = append(out, r)
			}
			got[r.Partition] = r.Offset + 1
		})
		for p, end := range want {
			if got[p] >= end {
				delete(want, p)
			}
		}
	}
	return out, nil
}
