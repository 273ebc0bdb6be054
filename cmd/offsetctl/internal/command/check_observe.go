package command

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

// checkObserver is the thin seam between `check` and the clients: it
// compares a table with pkg/reconcile and reads a connector's state and
// offsets with pkg/connect and pkg/offsets' read functions. It only reads.
type checkObserver struct {
	clients *configClients
	now     func() time.Time
}

// compare runs the comparison engine on one backend per side.
func (obs *checkObserver) compare(ctx context.Context, b *config.Reconcile, spec reconcile.Spec) (*reconcile.Result, error) {
	if b.Source == nil || b.Sink == nil {
		return nil, fmt.Errorf("%s names no source or sink database", b.Addr())
	}
	dst, err := obs.clients.Database(ctx, b.Sink)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", b.Sink.Addr(), err)
	}
	var res *reconcile.Result
	if mysqlurl.Is(b.Source.URL.Value()) {
		res, err = obs.compareMySQL(ctx, b, dst, spec)
	} else {
		var src *pgxpool.Pool
		if src, err = obs.clients.Database(ctx, b.Source); err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", b.Source.Addr(), err)
		}
		res, err = reconcile.ComparePools(ctx, src, dst, spec)
	}
	if err != nil {
		return nil, fmt.Errorf("comparing %s with %s: %w", b.Table, b.SinkTable, err)
	}
	return res, nil
}

// compareMySQL compares a MariaDB/MySQL source with its PostgreSQL sink:
// the cross-engine comparison, on one pinned source connection and one
// sink backend.
func (obs *checkObserver) compareMySQL(ctx context.Context, b *config.Reconcile, dst *pgxpool.Pool, spec reconcile.Spec) (*reconcile.Result, error) {
	src, err := obs.clients.MySQLDatabase(ctx, b.Source)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", b.Source.Addr(), err)
	}
	c, err := dst.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", b.Sink.Addr(), err)
	}
	defer c.Release()
	return reconcile.CompareMySQL(ctx, src, c.Conn(), spec)
}

// connectors checks the block's connectors against its thresholds.
func (obs *checkObserver) connectors(ctx context.Context, b *config.Reconcile, chk *config.Check) []views.CheckConn {
	var out []views.CheckConn
	for _, k := range b.Connectors {
		c := views.CheckConn{Block: b.Addr(), Connector: k.ConnectorName, MaxFailedTasks: chk.MaxFailedTasks, Verdict: checkHealthy}
		if err := obs.connector(ctx, k, chk, &c); err != nil {
			c.Verdict, c.Error = checkError, err.Error()
		}
		out = append(out, c)
	}
	return out
}

func (obs *checkObserver) connector(ctx context.Context, k *config.Connector, chk *config.Check, c *views.CheckConn) error {
	cl, err := obs.clients.Connect(k.Connect)
	if err != nil {
		return err
	}
	st, err := cl.Status(ctx, k.ConnectorName)
	if err != nil {
		return fmt.Errorf("reading the status of %s: %w", k.ConnectorName, err)
	}
	c.Type, c.State, c.Tasks = string(st.Type), string(st.Connector.State), len(st.Tasks)
	if st.Connector.State == connect.StateFailed {
		c.FailedTasks++
	}
	for _, t := range st.Tasks {
		if t.State == connect.StateFailed {
			c.FailedTasks++
		}
	}
	if int64(c.FailedTasks) > chk.MaxFailedTasks {
		c.Verdict = checkLag
		c.Problems = append(c.Problems, fmt.Sprintf("%d failed tasks (max_failed_tasks %d)", c.FailedTasks, chk.MaxFailedTasks))
	}
	cfg, err := cl.Config(ctx, k.ConnectorName)
	if err != nil {
		return fmt.Errorf("reading the config of %s: %w", k.ConnectorName, err)
	}
	switch st.Type {
	case connect.TypeSink:
		if k.Kafka == nil {
			return nil // no lag without Kafka
		}
		parts, err := obs.sinkGroup(ctx, k, cfg)
		if err != nil {
			return err
		}
		var total int64
		for _, p := range parts {
			total += p.lag()
			c.SinkLag = append(c.SinkLag, views.CheckSinkLag{Topic: p.topic, Partition: p.partition, Committed: p.stored, LogEnd: p.logEnd, Lag: p.lag()})
		}
		c.SinkLagRecords, c.MaxLagRecords = &total, chk.MaxLagRecords
		if chk.MaxLagRecords != nil && total > *chk.MaxLagRecords {
			c.Verdict = checkLag
			c.Problems = append(c.Problems, fmt.Sprintf("group lag %d records (max_lag_records %d)", total, *chk.MaxLagRecords))
		}
	case connect.TypeSource:
		if k.SourceDatabase == nil {
			return nil
		}
		lag, err := obs.sourceLag(ctx, k)
		if err != nil {
			return err
		}
		if lag == nil {
			return nil
		}
		c.SourceLag, c.MaxLagSeconds = lag, chk.MaxLagSeconds
		if chk.MaxLagSeconds != nil && lag.Seconds > float64(*chk.MaxLagSeconds) {
			c.Verdict = checkLag
			c.Problems = append(c.Problems, fmt.Sprintf("%s behind the source (max_lag_seconds %d)", views.FmtSeconds(lag.Seconds), *chk.MaxLagSeconds))
		}
	}
	return nil
}

// sourceLag compares a Debezium PostgreSQL source's stored resume position
// with the source's pg_current_wal_lsn(); nil when no stored offset holds
// one.
func (obs *checkObserver) sourceLag(ctx context.Context, k *config.Connector) (*views.CheckSourceLag, error) {
	stored, tsUsec, found, err := obs.storedPosition(ctx, k, false)
	lsn := stored.LSN
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, nil
	}
	pool, err := obs.clients.Database(ctx, k.SourceDatabase)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", k.SourceDatabase.Addr(), err)
	}
	var current int64
	if err := pool.QueryRow(ctx, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").Scan(&current); err != nil {
		return nil, fmt.Errorf("reading the current WAL position of %s: %w", k.SourceDatabase.Addr(), err)
	}
	out := &views.CheckSourceLag{StoredLSN: lsn, CurrentLSN: uint64(current), Bytes: max(current-int64(lsn), 0)}
	if out.Bytes > 0 && tsUsec > 0 {
		out.Seconds = max(obs.now().Sub(time.UnixMicro(tsUsec)).Seconds(), 0)
	}
	return out, nil
}
