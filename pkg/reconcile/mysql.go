package reconcile

import (
	"context"
	"database/sql"
	"fmt"
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
	sets := []string{
		"SET SESSION time_zone = '+00:00'",
		"SET NAMES utf8mb4 COLLATE utf8mb4_bin",
		"SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,TIME_ROUND_FRACTIONAL'",
		fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", lockSecs),
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d", lockSecs),
		"SET SESSION group_concat_max_len = 1048576",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	}
	if x.mariadb {
		sets = append(sets, fmt.Sprintf("SET SESSION max_statement_time = %g", st.Seconds()))
	} else {
		sets = append(sets, fmt.Sprintf("SET SESSION max_execution_time = %d", st.Milliseconds()))
	}
	for _, s := range sets {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fail("setting up the session ("+s+")", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return fail("starting the read-only snapshot transaction", err)
	}
	return x, nil
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
