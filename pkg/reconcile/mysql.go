package reconcile

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A MariaDB or MySQL side is read through database/sql on one pinned
// connection, because the snapshot transaction and the session settings
// belong to one connection (pkg/mysqlurl opens the pool).

// mysqlSide is one MariaDB/MySQL side of a cross-engine comparison: one
// pinned connection holding a READ ONLY transaction WITH CONSISTENT
// SNAPSHOT.
type mysqlSide struct {
	name    string
	conn    *sql.Conn
	mariadb bool   // MariaDB (else MySQL)
	version string // @@version
	pos     SnapshotPosition
}

// beginMySQL pins a connection of db and starts the side's session: UTC,
// utf8mb4, strict SQL mode with fractional seconds rounded (as PostgreSQL
// rounds them), statement and lock timeouts, then REPEATABLE READ and
// START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY, so that every
// statement of the comparison reads one snapshot and none can write.
func beginMySQL(ctx context.Context, db *sql.DB, name string, spec *Spec) (*mysqlSide, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the %s (MariaDB/MySQL): %w", name, err)
	}
	x := &mysqlSide{name: name, conn: conn}
	fail := func(what string, err error) (*mysqlSide, error) {
		conn.Close()
		return nil, fmt.Errorf("%s on the %s (MariaDB/MySQL): %w", what, name, err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT @@version").Scan(&x.version); err != nil {
		return fail("reading the server version", err)
	}
	x.mariadb = strings.Contains(strings.ToLower(x.version), "mariadb")
	st, lt := spec.StatementTimeout, spec.LockTimeout
	if st == 0 {
		st = 30 * time.Minute
	}
	if lt == 0 {
		lt = 5 * time.Second
	}
	lockSecs := max(1, int(lt.Seconds()+0.5))
	// MariaDB truncates fractional seconds unless TIME_ROUND_FRACTIONAL
	// says to round; MySQL rounds unless TIME_TRUNCATE_FRACTIONAL says to
	// truncate, and refuses the MariaDB mode.
	mode := "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION"
	if x.mariadb {
		mode += ",TIME_ROUND_FRACTIONAL"
	}
	sets := []string{
		"SET SESSION time_zone = '+00:00'",
		"SET NAMES utf8mb4 COLLATE utf8mb4_bin",
		"SET SESSION sql_mode = '" + mode + "'",
		fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", lockSecs),
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d", lockSecs),
		"SET SESSION group_concat_max_len = 1048576",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	}
	if x.mariadb {
		sets = append(sets, fmt.Sprintf("SET SESSION max_statement_time = %g", st.Seconds()))
	} else {
		// MySQL 8+ answers information_schema.TABLES.TABLE_ROWS (the row
		// estimate that sizes the cells) from a cache kept for a day by
		// default; 0 asks the storage engine.
		sets = append(sets, fmt.Sprintf("SET SESSION max_execution_time = %d", st.Milliseconds()),
			"SET SESSION information_schema_stats_expiry = 0")
	}
	for _, s := range sets {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fail("setting up the session ("+s+")", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return fail("starting the read-only snapshot transaction", err)
	}
	if err := x.readPosition(ctx); err != nil {
		return fail("reading the binlog position of the snapshot", err)
	}
	return x, nil
}

// readPosition records where the binlog stood at the snapshot. MariaDB says
// it inside the transaction WITH CONSISTENT SNAPSHOT (binlog_snapshot_file
// and binlog_snapshot_position); MySQL does not, so its current position,
// read once the snapshot has begun, stands for it: at or past every change
// the snapshot holds. A server without binary log leaves the file empty, as
// does a MySQL user who may not read the binlog status (REPLICATION CLIENT);
// pos.Unknown then says why.
func (x *mysqlSide) readPosition(ctx context.Context) error {
	x.pos.Binlog = true
	if x.mariadb {
		rows, err := x.conn.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name, value string
			if err := rows.Scan(&name, &value); err != nil {
				return err
			}
			switch strings.ToLower(name) {
			case "binlog_snapshot_file":
				x.pos.BinlogFile = value
			case "binlog_snapshot_position":
				if x.pos.BinlogPos, err = strconv.ParseInt(value, 10, 64); err != nil {
					return fmt.Errorf("binlog_snapshot_position %q: %w", value, err)
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if x.pos.BinlogFile == "" {
			x.pos.Unknown = "the server writes no binary log (log_bin is off)"
		}
		return x.conn.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&x.pos.GTID)
	}
	// MySQL 8.2+ says SHOW BINARY LOG STATUS (8.4 and 9.x know no other),
	// older ones SHOW MASTER STATUS; both need REPLICATION CLIENT.
	var errs []string
	for _, q := range []string{"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"} {
		found, err := x.binlogStatus(ctx, q)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", q, err))
			continue
		}
		if !found {
			x.pos.Unknown = "the server writes no binary log (log_bin is off)"
		}
		return nil
	}
	x.pos.Unknown = "the binlog status is not readable (" + errs[0] + "): the source user needs REPLICATION CLIENT"
	return nil
}

// binlogStatus reads MySQL's binlog status with q; found is false when the
// server answers with no row (no binary log).
func (x *mysqlSide) binlogStatus(ctx context.Context, q string) (found bool, err error) {
	rows, err := x.conn.QueryContext(ctx, q)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return false, err
		}
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "file":
				x.pos.BinlogFile = vals[i].String
			case "position":
				x.pos.BinlogPos, _ = strconv.ParseInt(vals[i].String, 10, 64)
			case "executed_gtid_set":
				x.pos.GTID = vals[i].String
			}
		}
		found = x.pos.BinlogFile != ""
	}
	return found, rows.Err()
}

// end rolls the transaction back (it only read) and unpins the connection.
func (x *mysqlSide) end(ctx context.Context) {
	if x == nil || x.conn == nil {
		return
	}
	_, _ = x.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	_ = x.conn.Close()
	x.conn = nil
}

// quoteMySQLIdent quotes an identifier for MariaDB/MySQL with backquotes.
func quoteMySQLIdent(parts ...string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return strings.Join(q, ".")
}
