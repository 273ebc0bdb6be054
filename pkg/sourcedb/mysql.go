package sourcedb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The flavours of a binlog source.
const (
	FlavorMariaDB = "mariadb"
	FlavorMySQL   = "mysql"
)

// BinlogFile is one row of SHOW BINARY LOGS.
type BinlogFile struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// BinlogObservation is what was read from the MariaDB or MySQL server of a
// Debezium binlog connector (MariaDB or MySQL): which binary logs it still
// has, its GTID state and how it writes and expires its binlog.
type BinlogObservation struct {
	ObservedAt time.Time
	// Flavor is FlavorMariaDB or FlavorMySQL; Version is @@version.
	Flavor, Version string
	// LogBin is @@log_bin; BinlogFormat and BinlogRowImage are
	// @@binlog_format and @@binlog_row_image.
	LogBin                       bool
	BinlogFormat, BinlogRowImage string
	// Files are SHOW BINARY LOGS, oldest first.
	Files []BinlogFile
	// MariaDB: @@gtid_binlog_state (the last GTID of each domain and
	// server in the binlog), @@gtid_slave_pos (what the server applied as
	// a replica) and GTIDStart, the GTID state at the start of the oldest
	// binlog file (BINLOG_GTID_POS), below which nothing can be replayed.
	GTIDBinlogState, GTIDSlavePos, GTIDStart string
	// MySQL: @@gtid_mode, @@gtid_executed and @@gtid_purged.
	GTIDMode, GTIDExecuted, GTIDPurged string
	// RetentionSeconds is how long the server keeps a binlog file
	// (binlog_expire_logs_seconds, else expire_logs_days); 0 is forever,
	// as it is on MySQL 8.0.29+ with binlog_expire_logs_auto_purge = OFF
	// (files are then purged only by hand, whatever the expiry says).
	RetentionSeconds int64
}

// BinlogAnswers are the server's raw answers an observation is made of:
// SHOW GLOBAL VARIABLES (the variables binlogVariables lists), SHOW
// BINARY LOGS and, on MariaDB, BINLOG_GTID_POS at the start of the oldest
// file. Tests of MySQL read them from recorded fixtures.
type BinlogAnswers struct {
	ObservedAt time.Time         `json:"observed_at"`
	Variables  map[string]string `json:"variables"`
	BinaryLogs []BinlogFile      `json:"binary_logs"`
	GTIDStart  string            `json:"gtid_start,omitempty"`
}

// binlogVariables are the server variables an observation reads; a server
// lacks some of them (MySQL has no gtid_binlog_state, MySQL 8.4+ no
// expire_logs_days, MariaDB before 10.6 no binlog_expire_logs_seconds,
// MariaDB and MySQL before 8.0.29 no binlog_expire_logs_auto_purge).
var binlogVariables = []string{"version", "log_bin", "binlog_format", "binlog_row_image",
	"gtid_binlog_state", "gtid_slave_pos", "gtid_mode", "gtid_executed", "gtid_purged",
	"binlog_expire_logs_seconds", "expire_logs_days", "binlog_expire_logs_auto_purge"}

// ObserveMySQL reads what a Debezium MariaDB or MySQL connector's offsets
// depend on from db, in one read-only transaction bounded by timeout. The
// account needs REPLICATION CLIENT (SHOW BINARY LOGS; BINLOG MONITOR on
// MariaDB 10.5+), as Debezium's own does.
func ObserveMySQL(ctx context.Context, db *sql.DB, timeout time.Duration) (*BinlogObservation, error) {
	a, err := ReadBinlogAnswers(ctx, db, timeout)
	if err != nil {
		return nil, err
	}
	return a.Observation()
}

// ReadBinlogAnswers reads the answers ObserveMySQL makes its observation
// of, as they are (internal/tools/recordmysql records them as test
// fixtures).
func ReadBinlogAnswers(ctx context.Context, db *sql.DB, timeout time.Duration) (*BinlogAnswers, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("connecting to the source database: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	a := &BinlogAnswers{Variables: map[string]string{}}
	var micros int64
	if err := tx.QueryRowContext(ctx, `SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)`).Scan(&micros); err != nil {
		return nil, fmt.Errorf("reading the source database's clock: %w", err)
	}
	a.ObservedAt = time.UnixMicro(micros).UTC()
	q := `SHOW GLOBAL VARIABLES WHERE Variable_name IN (?` + strings.Repeat(",?", len(binlogVariables)-1) + `)`
	args := make([]any, len(binlogVariables))
	for i, v := range binlogVariables {
		args[i] = v
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the source database's binlog settings (SHOW GLOBAL VARIABLES): %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the source database's binlog settings: %w", err)
		}
		a.Variables[strings.ToLower(k)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the source database's binlog settings: %w", err)
	}
	if strings.EqualFold(a.Variables["log_bin"], "ON") {
		if a.BinaryLogs, err = showBinaryLogs(ctx, tx); err != nil {
			return nil, err
		}
	}
	if isMariaDB(a.Variables["version"]) && len(a.BinaryLogs) > 0 {
		var start sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT BINLOG_GTID_POS(?, 4)`, a.BinaryLogs[0].Name).Scan(&start); err != nil {
			return nil, fmt.Errorf("reading the GTID state at the start of the oldest binlog file %s (BINLOG_GTID_POS): %w", a.BinaryLogs[0].Name, err)
		}
		a.GTIDStart = start.String
	}
	return a, nil
}

// showBinaryLogs reads SHOW BINARY LOGS: Log_name and File_size, and on
// MySQL 8 an Encrypted column too.
func showBinaryLogs(ctx context.Context, tx *sql.Tx) ([]BinlogFile, error) {
	rows, err := tx.QueryContext(ctx, `SHOW BINARY LOGS`)
	if err != nil {
		return nil, fmt.Errorf("listing the source database's binlog files (SHOW BINARY LOGS; the account needs REPLICATION CLIENT, or BINLOG MONITOR on MariaDB): %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("listing the source database's binlog files: %w", err)
	}
	var out []BinlogFile
	for rows.Next() {
		var f BinlogFile
		dst := []any{&f.Name, &f.Size}
		for range cols[min(2, len(cols)):] {
			dst = append(dst, new(sql.RawBytes))
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("listing the source database's binlog files: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the source database's binlog files: %w", err)
	}
	return out, nil
}

func isMariaDB(version string) bool { return strings.Contains(strings.ToLower(version), "mariadb") }

// Observation makes the observation the answers say.
func (a *BinlogAnswers) Observation() (*BinlogObservation, error) {
	v := a.Variables
	obs := &BinlogObservation{ObservedAt: a.ObservedAt.UTC(), Flavor: FlavorMySQL, Version: v["version"],
		LogBin:       strings.EqualFold(v["log_bin"], "ON") || v["log_bin"] == "1",
		BinlogFormat: strings.ToUpper(v["binlog_format"]), BinlogRowImage: strings.ToUpper(v["binlog_row_image"]),
		Files: a.BinaryLogs}
	if isMariaDB(obs.Version) {
		obs.Flavor = FlavorMariaDB
		obs.GTIDBinlogState, obs.GTIDSlavePos, obs.GTIDStart = v["gtid_binlog_state"], v["gtid_slave_pos"], a.GTIDStart
	} else {
		obs.GTIDMode, obs.GTIDExecuted, obs.GTIDPurged = strings.ToUpper(v["gtid_mode"]), v["gtid_executed"], v["gtid_purged"]
	}
	if strings.EqualFold(v["binlog_expire_logs_auto_purge"], "OFF") {
		return obs, nil
	}
	if s := v["binlog_expire_logs_seconds"]; s != "" && s != "0" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the source database's binlog_expire_logs_seconds %q is not a number", s)
		}
		obs.RetentionSeconds = n
	} else if d := v["expire_logs_days"]; d != "" {
		f, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return nil, fmt.Errorf("the source database's expire_logs_days %q is not a number", d)
		}
		obs.RetentionSeconds = int64(f * 86400)
	}
	return obs, nil
}
