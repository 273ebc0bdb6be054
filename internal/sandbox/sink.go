package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sinkTask imitates the Debezium JDBC sink: a consumer in the connector's
// group (connect-<name>) that upserts each change event's "after" row into
// PostgreSQL (insert.mode=upsert on primary.key.fields), deletes on "d"
// events, and commits the group offsets after every batch it wrote. A
// restarted task resumes from the committed offsets, so a skipped offset is
// a record that never reaches the table.
type sinkTask struct {
	fault *sinkFault
}

// jdbcToPG turns jdbc:postgresql://host:port/db?sslmode=... plus the
// connection.username/password keys into a libpq URL.
func jdbcToPG(jdbc, user, password string) (string, error) {
	raw := strings.TrimPrefix(jdbc, "jdbc:")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgresql" && u.Scheme != "postgres") {
		return "", fmt.Errorf("connection.url must be jdbc:postgresql://host:port/database")
	}
	out := url.URL{Scheme: "postgres", Host: u.Host, Path: u.Path}
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	if user == "" {
		user = u.Query().Get("user")
	}
	if password == "" {
		password = u.Query().Get("password")
	}
	if password != "" {
		out.User = url.UserPassword(user, password)
	} else if user != "" {
		out.User = url.User(user)
	}
	q := url.Values{}
	if m := u.Query().Get("sslmode"); m != "" {
		q.Set("sslmode", m)
	}
	out.RawQuery = q.Encode()
	return out.String(), nil
}

func (s *sinkTask) run(ctx context.Context, t *taskRun) error {
	w, cfg := t.w, t.config
	group := sinkGroup(t.conn, cfg)
	dsn, err := jdbcToPG(cfg["connection.url"], cfg["connection.username"], cfg["connection.password"])
	if err != nil {
		return err
	}
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connecting to the sink database: %w", err)
	}
	defer db.Close(context.Background())
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.sb.seeds...),
		kgo.ConsumerGroup(group),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(defaultFetchMaxWait),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // Connect's sink default: earliest
		kgo.ClientID("connector-consumer-" + t.conn + "-" + fmt.Sprint(t.id)),
	}
	topics := splitList(cfg["topics"])
	if re := strings.TrimSpace(cfg["topics.regex"]); re != "" {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("topics.regex: %w", err)
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(re))
	} else {
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the consumer: %w", err)
	}
	defer func() {
		cl.AllowRebalance()
		cl.Close() // leaves the group
	}()
	paused := false
	var pausedTopics []string
	var lastErr string
	for {
		if ctx.Err() != nil {
			return nil
		}
		if p := t.paused.Load(); p != paused {
			paused = p
			if paused {
				pausedTopics = cl.GetConsumeTopics()
				cl.PauseFetchTopics(pausedTopics...)
			} else {
				cl.ResumeFetchTopics(pausedTopics...)
			}
		}
		if paused && len(cl.GetConsumeTopics()) > len(pausedTopics) {
			pausedTopics = cl.GetConsumeTopics() // a topics.regex matched a new topic
			cl.PauseFetchTopics(pausedTopics...)
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fetches := cl.PollRecords(pctx, 500)
		cancel()
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			// The consumer retries by itself (a topic not created yet, a
			// coordinator moving); say so once per distinct error.
			if ferr.Error() != lastErr {
				lastErr = ferr.Error()
				w.logf("task %s-%d: consuming: %v", t.conn, t.id, ferr)
			}
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		if err := s.write(ctx, db, cfg, recs); err != nil {
			cl.AllowRebalance()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
			w.logf("task %s-%d: committing offsets of group %s: %v", t.conn, t.id, group, err)
		}
		cl.AllowRebalance()
	}
}

// write applies a batch in one transaction.
func (s *sinkTask) write(ctx context.Context, db *pgx.Conn, cfg map[string]string, recs []*kgo.Record) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("writing to the sink database: %w", err)
	}
	defer tx.Rollback(context.Background())
	pk := splitList(cfg["primary.key.fields"])
	for _, r := range recs {
		if r.Value == nil {
			continue // tombstone
		}
		if n := s.fault.dropEvery.Load(); n > 0 && s.fault.seen.Add(1)%n == 0 {
			continue // fault: this record never reaches the table
		}
		ev, err := parseBody(r.Value)
		if err != nil || ev == nil || ev.kind != jObject {
			return fmt.Errorf("record %s/%d@%d is not a JSON change event", r.Topic, r.Partition, r.Offset)
		}
		table := tableIdent(orDefault(cfg["table.name.format"], "${topic}"), r.Topic)
		op, _ := ev.get("op")
		if op.str == "d" {
			key, err := parseBody(r.Key)
			if err != nil || key == nil || key.kind != jObject {
				return fmt.Errorf("record %s/%d@%d has no JSON key to delete by", r.Topic, r.Partition, r.Offset)
			}
			if err := deleteRow(ctx, tx, table, *key); err != nil {
				return err
			}
			continue
		}
		after, ok := ev.get("after")
		if !ok || after.kind != jObject {
			continue
		}
		if err := upsertRow(ctx, tx, table, pk, after); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("writing to the sink database: %w", err)
	}
	return nil
}

// tableIdent applies table.name.format and quotes the result (schema.table).
func tableIdent(format, topic string) string {
	name := strings.ReplaceAll(format, "${topic}", topic)
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// sqlValue binds a JSON value as text (PostgreSQL casts it to the column type).
func sqlValue(n jnode) any {
	switch n.kind {
	case jNull:
		return nil
	case jNumber, jString:
		return n.str
	case jBool:
		return n.javaString()
	}
	b, _ := marshal(n.javaString())
	return string(b)
}

func upsertRow(ctx context.Context, tx pgx.Tx, table string, pk []string, row jnode) error {
	var cols, ph, sets []string
	var args []any
	isPK := map[string]bool{}
	for _, k := range pk {
		isPK[k] = true
	}
	for i, f := range row.obj {
		col := pgx.Identifier{f.key}.Sanitize()
		cols = append(cols, col)
		ph = append(ph, fmt.Sprintf("$%d", i+1))
		args = append(args, sqlValue(f.val))
		if !isPK[f.key] {
			sets = append(sets, col+" = EXCLUDED."+col)
		}
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	if len(pk) > 0 {
		pkq := make([]string, len(pk))
		for i, k := range pk {
			pkq[i] = pgx.Identifier{k}.Sanitize()
		}
		if len(sets) == 0 {
			q += " ON CONFLICT (" + strings.Join(pkq, ", ") + ") DO NOTHING"
		} else {
			q += " ON CONFLICT (" + strings.Join(pkq, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
		}
	}
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("upserting into %s: %w", table, err)
	}
	return nil
}

func deleteRow(ctx context.Context, tx pgx.Tx, table string, key jnode) error {
	var conds []string
	var args []any
	for i, f := range key.obj {
		conds = append(conds, fmt.Sprintf("%s = $%d", pgx.Identifier{f.key}.Sanitize(), i+1))
		args = append(args, sqlValue(f.val))
	}
	if len(conds) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE "+strings.Join(conds, " AND "), args...); err != nil {
		return fmt.Errorf("deleting from %s: %w", table, err)
	}
	return nil
}
