package sourcedb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
)

// TestObserveMariaDBPurged: a real MariaDB (binlog on, ROW). A position
// whose file PURGE BINARY LOGS TO removed is refused with the file named; a
// GTID the server never wrote is refused; a position still there passes,
// and its GTIDs too.
func TestObserveMariaDBPurged(t *testing.T) {
	u := mariadbtest.NewDB(t)
	db := mariadbtest.DB(t, u)
	ctx := context.Background()
	mariadbtest.Exec(t, u, "CREATE TABLE customers (id int PRIMARY KEY, email varchar(100)); INSERT INTO customers VALUES (1, 'a@example.com')")
	oldFile, oldPos, oldGTIDs := mariadbtest.BinlogPosition(t, u)
	for range 2 {
		mariadbtest.Exec(t, u, "FLUSH BINARY LOGS; INSERT INTO customers VALUES (FLOOR(RAND()*1000000)+2, 'b@example.com')")
	}
	keptFile, keptPos, keptGTIDs := mariadbtest.BinlogPosition(t, u)
	mariadbtest.PurgeBinaryLogsTo(t, u, keptFile)
	obs, err := ObserveMySQL(ctx, db, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if obs.Flavor != FlavorMariaDB || obs.BinlogFormat != "ROW" || obs.BinlogRowImage != "FULL" || !obs.LogBin || obs.Files[0].Name != keptFile || obs.GTIDBinlogState == "" {
		t.Fatalf("observation %+v", obs)
	}
	t.Logf("observed %+v", obs)

	fs := JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: oldFile, Pos: oldPos})
	if got := codes(fs, SeverityError); got != "binlog_purged" {
		t.Fatalf("errors %q, want binlog_purged: %+v", got, fs)
	}
	if msg := finding(t, fs, "binlog_purged").Message; !strings.Contains(msg, oldFile) || !strings.Contains(msg, keptFile) {
		t.Errorf("the message names neither %s nor %s: %s", oldFile, keptFile, msg)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: keptGTIDs})
	if got := codes(fs, SeverityError) + codes(fs, SeverityWarning); got != "" {
		t.Fatalf("a position still there: %q %+v", got, fs)
	}
	// The GTIDs of the purged position are older than the oldest file.
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: oldGTIDs})
	if got := codes(fs, SeverityError); got != "gtid_purged" {
		t.Errorf("GTIDs %s below %s (start of %s): errors %q, want gtid_purged: %+v", oldGTIDs, obs.GTIDStart, keptFile, got, fs)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: "0-1-999999999"})
	if got := codes(fs, SeverityError); got != "gtid_not_in_server_state" {
		t.Errorf("a GTID ahead of the server: errors %q: %+v", got, fs)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: "7-1-1"})
	if got := codes(fs, SeverityError); got != "gtid_not_in_server_state" {
		t.Errorf("a domain the server never wrote: errors %q: %+v", got, fs)
	}
}

// binlogFirstEvent is the position of a binlog file's first event, after
// its 4-byte magic number.
const binlogFirstEvent = 4

// recordedMySQL is what TestJudgeBinlogMySQLRecorded derives from a real
// MySQL's answers (testdata/mysql): its files and, with GTIDs, its
// sources.
type recordedMySQL struct {
	answers *BinlogAnswers
	obs     *BinlogObservation
	// first and last are the oldest and newest binlog files, numbered
	// firstSeq and lastSeq.
	first, last       BinlogFile
	firstSeq, lastSeq int64
	// With GTIDs: own is the server's UUID, tagged the same UUID with the
	// tag the recording used, other the second source's UUID.
	executed, purged   MySQLGTIDSet
	own, tagged, other string
}

func readRecordedMySQL(t *testing.T, name string) recordedMySQL {
	t.Helper()
	r := recordedMySQL{answers: mysqlAnswers(t, name), obs: mysqlFixture(t, name)}
	if len(r.obs.Files) < 2 {
		t.Fatalf("%s: the recording has fewer than two binlog files", name)
	}
	r.first, r.last = r.obs.Files[0], r.obs.Files[len(r.obs.Files)-1]
	_, r.firstSeq, _ = splitBinlogName(r.first.Name)
	_, r.lastSeq, _ = splitBinlogName(r.last.Name)
	if r.obs.GTIDMode != "ON" {
		return r
	}
	var err error
	if r.executed, err = ParseMySQLGTIDSet(r.obs.GTIDExecuted); err != nil {
		t.Fatal(err)
	}
	if r.purged, err = ParseMySQLGTIDSet(r.obs.GTIDPurged); err != nil {
		t.Fatal(err)
	}
	// The tag is written under the server's own UUID; the other untagged
	// UUID is the second source's.
	for src := range r.executed {
		if uuid, _, ok := strings.Cut(src, ":"); ok {
			r.own, r.tagged = uuid, src
		}
	}
	for src := range r.executed {
		if !strings.Contains(src, ":") && src != r.own {
			r.other = src
		}
	}
	for _, src := range []string{r.own, r.tagged, r.other} {
		if src == "" || len(r.purged[src]) != 1 || len(r.executed[src]) != 1 || r.purged[src][0].hi >= r.executed[src][0].hi {
			t.Fatalf("%s: the recording lacks a server UUID, a tagged one and a second source, each partly purged: executed %q, purged %q", name, r.obs.GTIDExecuted, r.obs.GTIDPurged)
		}
	}
	return r
}

// file is binlog file number seq, named as the server names its files.
func (r recordedMySQL) file(seq int64) string {
	base, digits, _ := strings.Cut(r.first.Name, ".")
	return fmt.Sprintf("%s.%0*d", base, len(digits), seq)
}

// executedHi and purgedHi are the last transaction number of src in
// gtid_executed and gtid_purged.
func (r recordedMySQL) executedHi(src string) uint64 { return r.executed[src][0].hi }
func (r recordedMySQL) purgedHi(src string) uint64   { return r.purged[src][0].hi }

// gtidSet writes the GTID set 1-n of each source in MySQL's notation; n =
// 0 leaves the source out.
func gtidSet(ns map[string]uint64) string {
	s := MySQLGTIDSet{}
	for src, n := range ns {
		if n > 0 {
			s[src] = []gtidInterval{{1, n}}
		}
	}
	return s.Minus(MySQLGTIDSet{})
}

type binlogCase struct {
	name   string
	obs    *BinlogObservation
	edit   BinlogEdit
	errors string
	warns  string
	text   string // in the message of the first error or warning
}

// TestJudgeBinlogMySQLRecorded: each binlog verdict against the answers
// of a real MySQL 9.7 (testdata/mysql/mysql-9.7-*.json, recorded by
// internal/tools/recordmysql). Every file name, position and GTID set is
// derived from the recorded files, sizes and GTID sets.
func TestJudgeBinlogMySQLRecorded(t *testing.T) {
	r := readRecordedMySQL(t, "mysql-9.7-gtid.json")
	g := r.obs
	if g.Flavor != FlavorMySQL || !strings.HasPrefix(g.Version, "9.7.") || g.RetentionSeconds == 0 {
		t.Fatalf("the GTID recording reads as %+v", g)
	}
	at := func(file string, pos int64, gtids string) BinlogEdit {
		return BinlogEdit{HasTarget: true, File: file, Pos: pos, GTIDs: gtids}
	}
	aged := func(file string, at time.Time, age time.Duration) BinlogEdit {
		return BinlogEdit{HasTarget: true, File: file, Pos: binlogFirstEvent, TsSec: at.Add(-age).Unix()}
	}
	retention := time.Duration(g.RetentionSeconds) * time.Second
	own, tagged, other := r.own, r.tagged, r.other
	// below is gtid_executed but the server's own last transaction (still
	// above gtid_purged).
	below := gtidSet(map[string]uint64{own: r.executedHi(own) - 1, tagged: r.executedHi(tagged), other: r.executedHi(other)})
	// ahead adds n transactions to a source of gtid_executed.
	ahead := func(src string, n uint64) string {
		ns := map[string]uint64{own: r.executedHi(own), tagged: r.executedHi(tagged), other: r.executedHi(other)}
		ns[src] += n
		return gtidSet(ns)
	}
	// without is gtid_executed with a source left out, or with its
	// transactions only up to one below the last purged.
	without := func(src string, upTo uint64) string {
		ns := map[string]uint64{own: r.executedHi(own), tagged: r.executedHi(tagged), other: r.executedHi(other)}
		ns[src] = upTo
		return gtidSet(ns)
	}

	n := readRecordedMySQL(t, "mysql-9.7-nogtid.json")
	expire, err := strconv.ParseInt(n.answers.Variables["binlog_expire_logs_seconds"], 10, 64)
	if err != nil || expire == 0 || n.obs.RetentionSeconds != 0 || n.obs.GTIDMode != "OFF" {
		t.Fatalf("the recording without GTIDs has binlog_expire_logs_seconds %q and reads as %+v; want an expiry that auto purge OFF disables", n.answers.Variables["binlog_expire_logs_seconds"], n.obs)
	}
	old := mysqlFixture(t, "mysql-5.7-nogtid.json")
	if old.RetentionSeconds == 0 {
		t.Fatalf("the MySQL 5.7 answers read as %+v; want expire_logs_days", old)
	}

	tests := []binlogCase{
		{name: "gtid: the oldest file, gtids between purged and executed", obs: g, edit: at(r.first.Name, binlogFirstEvent, below)},
		{name: "gtid: the newest file at its end, gtid_executed as the server writes it", obs: g, edit: at(r.last.Name, r.last.Size, g.GTIDExecuted)},
		{name: "gtid: no target (resnapshot)", obs: g, edit: BinlogEdit{}},
		{name: "gtid: gtids beyond executed", obs: g, edit: at(r.last.Name, binlogFirstEvent, ahead(own, 10)),
			errors: "gtid_not_in_server_state", text: fmt.Sprintf("%s:%d-%d", own, r.executedHi(own)+1, r.executedHi(own)+10)},
		{name: "gtid: a tagged gtid never executed", obs: g, edit: at(r.last.Name, binlogFirstEvent, ahead(tagged, 1)),
			errors: "gtid_not_in_server_state", text: fmt.Sprintf("%s:%d", tagged, r.executedHi(tagged)+1)},
		{name: "gtid: gtids of a source the server never had", obs: g, edit: at(r.last.Name, binlogFirstEvent, g.GTIDExecuted+",\n00000000-0000-0000-0000-000000000001:1"),
			errors: "gtid_not_in_server_state", text: "00000000-0000-0000-0000-000000000001:1"},
		{name: "gtid: gtids missing the server's last purged one", obs: g, edit: at(r.first.Name, binlogFirstEvent, without(own, r.purgedHi(own)-1)),
			errors: "gtid_purged", text: fmt.Sprintf("%s:%d", own, r.purgedHi(own))},
		{name: "gtid: gtids without the second source", obs: g, edit: at(r.first.Name, binlogFirstEvent, without(other, 0)),
			errors: "gtid_purged", text: fmt.Sprintf("%s:1-%d", other, r.purgedHi(other))},
		{name: "gtid: gtids without the tagged ones", obs: g, edit: at(r.first.Name, binlogFirstEvent, without(tagged, 0)),
			errors: "gtid_purged", text: fmt.Sprintf("%s:1-%d", tagged, r.purgedHi(tagged))},
		{name: "gtid: the file before the oldest (purged)", obs: g, edit: at(r.file(r.firstSeq-1), binlogFirstEvent, ""), errors: "binlog_purged", text: r.first.Name},
		{name: "gtid: the first file the server wrote (purged)", obs: g, edit: at(r.file(1), binlogFirstEvent, ""), errors: "binlog_purged", text: r.file(1)},
		{name: "gtid: a file not written yet", obs: g, edit: at(r.file(r.lastSeq+1), binlogFirstEvent, ""), errors: "beyond_current_binlog", text: r.last.Name},
		{name: "gtid: beyond the end of the newest file", obs: g, edit: at(r.last.Name, r.last.Size+1, ""), errors: "beyond_current_binlog", text: fmt.Sprintf("(%d bytes)", r.last.Size)},
		{name: "gtid: beyond the end of an older file", obs: g, edit: at(r.first.Name, r.first.Size+1, ""), errors: "beyond_current_binlog", text: fmt.Sprintf("(%d bytes)", r.first.Size)},
		{name: "gtid: another server's file", obs: g, edit: at("mysql-bin"+strings.TrimPrefix(r.first.Name, strings.Split(r.first.Name, ".")[0]), binlogFirstEvent, ""), errors: "binlog_unknown_file"},
		{name: "gtid: retention: 2 hours left", obs: g, edit: aged(r.first.Name, g.ObservedAt, retention-2*time.Hour-time.Minute),
			warns: "binlog_retention", text: fmt.Sprintf("%d hours old and the server keeps binlogs %d hours (binlog_expire_logs_seconds = %d): 2 hours left", int64(retention.Hours())-3, int64(retention.Hours()), g.RetentionSeconds)},
		{name: "gtid: retention: past it", obs: g, edit: aged(r.first.Name, g.ObservedAt, retention+time.Hour), warns: "binlog_retention", text: "0 hours left"},
		{name: "gtid: retention: more than a day left", obs: g, edit: aged(r.first.Name, g.ObservedAt, retention-25*time.Hour)},
		{name: "gtid: retention: the newest file is not expired", obs: g, edit: aged(r.last.Name, g.ObservedAt, retention+time.Hour)},

		{name: "nogtid: MIXED binlog, MINIMAL row image", obs: n.obs, edit: at(n.last.Name, n.last.Size, ""), errors: "binlog_format_not_row,binlog_row_image_not_full", text: "binlog_format is MIXED"},
		{name: "nogtid: no target: the settings still count", obs: n.obs, edit: BinlogEdit{}, errors: "binlog_format_not_row,binlog_row_image_not_full"},
		{name: "nogtid: purged file", obs: n.obs, edit: at(n.file(n.firstSeq-1), binlogFirstEvent, ""), errors: "binlog_format_not_row,binlog_row_image_not_full,binlog_purged"},
		{name: "nogtid: auto purge off: old events are not at risk", obs: n.obs, edit: aged(n.first.Name, n.obs.ObservedAt, 10*time.Duration(expire)*time.Second),
			errors: "binlog_format_not_row,binlog_row_image_not_full"},

		{name: "mysql 5.7 (hand-written): expire_logs_days", obs: old, edit: aged(old.Files[0].Name, old.ObservedAt, time.Duration(old.RetentionSeconds)*time.Second-8*time.Hour-time.Minute),
			errors: "binlog_row_image_not_full", warns: "binlog_retention", text: "MINIMAL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkBinlogVerdicts(t, JudgeBinlog(tc.obs, tc.edit), tc.errors, tc.warns, tc.text)
		})
	}
	if s := JudgeBinlog(n.obs, BinlogEdit{}); !strings.Contains(s[len(s)-1].Message, "kept until purged by hand") {
		t.Errorf("auto purge off: the summary says %q", s[len(s)-1].Message)
	}
}

// TestObserveMySQLLive: ObserveMySQL against a real MySQL (8.2+, GTID mode
// ON) that the test may write to and purge binary logs of, named by
// OFFSETCTL_MYSQL_URL (an account that may create users, such as root);
// skipped without it, since no test tier runs MySQL
// (testdata/mysql/README.md says how to start one). As an account holding
// only REPLICATION CLIENT, it reads the binlog of a server that has just
// purged a file; the verdicts follow, as TestObserveMariaDBPurged's do.
// Without REPLICATION CLIENT the observation fails and says which
// privilege is missing.
func TestObserveMySQLLive(t *testing.T) {
	raw := mariadbtest.MySQLServerURL(t)
	ctx := context.Background()
	admin, err := mysqlurl.Open(ctx, raw, mysqlurl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.SetMaxOpenConns(1)
	exec := func(q string) {
		t.Helper()
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var mode string
	if err := admin.QueryRowContext(ctx, "SELECT @@gtid_mode").Scan(&mode); err != nil || mode != "ON" {
		t.Fatalf("gtid_mode %q (%v): the server must run with gtid_mode = ON", mode, err)
	}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	observer, none := "offsetctl_obs_"+suffix, "offsetctl_none_"+suffix
	for _, u := range []string{observer, none} {
		exec("CREATE USER " + u + "@'%' IDENTIFIED BY 'pw-" + suffix + "'")
		t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP USER "+u+"@'%'") })
	}
	exec("GRANT REPLICATION CLIENT ON *.* TO " + observer + "@'%'")
	as := func(user string) *sql.DB {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(user, "pw-"+suffix)
		db, err := mysqlurl.Open(ctx, u.String(), mysqlurl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	status := func() (file string, pos int64, gtids string) {
		t.Helper()
		rows, err := admin.QueryContext(ctx, "SHOW BINARY LOG STATUS")
		if err != nil {
			t.Fatalf("SHOW BINARY LOG STATUS (MySQL 8.2+): %v", err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("SHOW BINARY LOG STATUS: no binlog (%v)", rows.Err())
		}
		var doDB, ignoreDB string
		if err := rows.Scan(&file, &pos, &doDB, &ignoreDB, &gtids); err != nil {
			t.Fatalf("SHOW BINARY LOG STATUS: %v", err)
		}
		return file, pos, gtids
	}
	schema := "offsetctl_live_" + suffix
	exec("CREATE DATABASE " + schema)
	t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP DATABASE "+schema) })
	exec("CREATE TABLE " + schema + ".customers (id int PRIMARY KEY, email varchar(100))")
	exec("INSERT INTO " + schema + ".customers VALUES (1, 'a@example.com')")
	oldFile, oldPos, oldGTIDs := status()
	for i := range 2 {
		exec("FLUSH BINARY LOGS")
		exec(fmt.Sprintf("INSERT INTO %s.customers VALUES (%d, 'b@example.com')", schema, i+2))
	}
	keptFile, keptPos, keptGTIDs := status()
	exec("PURGE BINARY LOGS TO '" + keptFile + "'")

	obs, err := ObserveMySQL(ctx, as(observer), 5*time.Second)
	if err != nil {
		t.Fatalf("as %s, holding REPLICATION CLIENT only: %v", observer, err)
	}
	t.Logf("observed %+v", obs)
	if obs.Flavor != FlavorMySQL || obs.GTIDMode != "ON" || !obs.LogBin || len(obs.Files) != 1 || obs.Files[0].Name != keptFile || obs.Files[0].Size < keptPos || obs.GTIDPurged == "" {
		t.Fatalf("observation %+v; want %s alone, at least %d bytes, and GTIDs purged", obs, keptFile, keptPos)
	}
	fs := JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: keptGTIDs})
	if got := codes(fs, SeverityError) + codes(fs, SeverityWarning); got != "" {
		t.Errorf("a position still there: %q %+v", got, fs)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: oldFile, Pos: oldPos})
	if got := codes(fs, SeverityError); got != "binlog_purged" || !strings.Contains(fs[0].Message, oldFile) {
		t.Errorf("the purged %s: errors %q: %+v", oldFile, got, fs)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: oldGTIDs})
	if got := codes(fs, SeverityError); got != "gtid_purged" {
		t.Errorf("GTIDs %q of the purged position: errors %q: %+v", oldGTIDs, got, fs)
	}
	fs = JudgeBinlog(obs, BinlogEdit{HasTarget: true, File: keptFile, Pos: keptPos, GTIDs: keptGTIDs + ",\n00000000-0000-0000-0000-000000000001:1"})
	if got := codes(fs, SeverityError); got != "gtid_not_in_server_state" {
		t.Errorf("a GTID the server never executed: errors %q: %+v", got, fs)
	}

	_, err = ObserveMySQL(ctx, as(none), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "REPLICATION CLIENT") {
		t.Errorf("without REPLICATION CLIENT: %v; want an error naming the privilege", err)
	}
	t.Logf("without REPLICATION CLIENT: %v", err)
}
