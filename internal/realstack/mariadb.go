package realstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/offsetctl/offsetctl/internal/mariadbcluster"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
)

// MariaDB capture account and server id of the stack's Debezium MariaDB
// connectors.
const (
	MariaDBUser     = "debezium"
	MariaDBPassword = "dbz-realstack"
	// MariaDBServerID is the server id the MariaDB server runs with.
	MariaDBServerID = 1
	// MariaDBConnectorClass is Debezium's MariaDB source.
	MariaDBConnectorClass = "io.debezium.connector.mariadb.MariaDbConnector"
)

// MariaDB is the stack's MariaDB server, started on first use by
// Stack.MariaDB (most tests never need it): Debian's mariadb-server
// (internal/mariadbcluster) with the binary log on in ROW format, full row
// images, server_id 1, and an account MariaDBUser with what Debezium's
// MariaDB connector needs (SELECT, RELOAD, SHOW DATABASES, LOCK TABLES,
// REPLICATION SLAVE, REPLICATION CLIENT).
type MariaDB struct {
	cluster *mariadbcluster.Cluster
}

// AdminURL is root's mysql:// URL for database db ("" for none).
func (m *MariaDB) AdminURL(db string) string { return m.cluster.URL(db) }

// Port is the server's loopback TCP port.
func (m *MariaDB) Port() int { return m.cluster.Port }

// MariaDB returns the stack's MariaDB server, starting it on first use. The
// stack stops it on Close.
func (s *Stack) MariaDB(ctx context.Context) (*MariaDB, error) {
	s.mariaOnce.Do(func() {
		s.logf("starting MariaDB")
		cl, err := mariadbcluster.Start(ctx, mariadbcluster.Options{Settings: map[string]string{
			"binlog_format": "ROW", "binlog_row_image": "FULL", "server_id": strconv.Itoa(MariaDBServerID)}})
		if err != nil {
			s.mariaErr = fmt.Errorf("starting the real stack's MariaDB: %w", err)
			return
		}
		s.maria = &MariaDB{cluster: cl}
		db, err := mysqlurl.Open(ctx, cl.URL(""), mysqlurl.Options{})
		if err != nil {
			s.mariaErr = fmt.Errorf("connecting to the real stack's MariaDB: %w", err)
			return
		}
		defer db.Close()
		for _, q := range []string{
			"CREATE USER '" + MariaDBUser + "'@'127.0.0.1' IDENTIFIED BY '" + MariaDBPassword + "'",
			"GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '" + MariaDBUser + "'@'127.0.0.1'",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				s.mariaErr = fmt.Errorf("setting up the real stack's MariaDB (%s): %w", q, err)
				return
			}
		}
	})
	return s.maria, s.mariaErr
}

// closeMariaDB stops the MariaDB server, keeping its log with the others
// when keep is set.
func (s *Stack) closeMariaDB(keep bool) {
	if s.maria == nil {
		return
	}
	if keep {
		if b, err := os.ReadFile(filepath.Join(s.maria.cluster.Dir, "mariadbd.log")); err == nil {
			_ = os.WriteFile(filepath.Join(s.logDir, "mariadbd.log"), b, 0o644)
		}
	}
	s.maria.cluster.Stop()
}

// MariaDBConnectorConfig is the configuration of a Debezium MariaDB source
// on this stack capturing the tables of database (table.include.list
// database.table, ...), with topic prefix prefix and its own schema
// history topic (a fresh map each call). serverID is the connector's
// replication client id (database.server.id), distinct per connector.
func (s *Stack) MariaDBConnectorConfig(m *MariaDB, database, prefix string, serverID int, tables ...string) map[string]string {
	include := ""
	for i, t := range tables {
		if i > 0 {
			include += ","
		}
		include += database + "." + t
	}
	return map[string]string{
		"connector.class":       MariaDBConnectorClass,
		"tasks.max":             "1",
		"database.hostname":     "127.0.0.1",
		"database.port":         strconv.Itoa(m.Port()),
		"database.user":         MariaDBUser,
		"database.password":     MariaDBPassword,
		"database.server.id":    strconv.Itoa(serverID),
		"database.ssl.mode":     "disable",
		"topic.prefix":          prefix,
		"database.include.list": database,
		"table.include.list":    include,
		"snapshot.mode":         "initial",
		"schema.history.internal.kafka.bootstrap.servers": s.BootstrapServers(),
		"schema.history.internal.kafka.topic":             "schema-history." + prefix,
	}
}
