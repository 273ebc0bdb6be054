// Command recordmysql records a real MySQL server's answers to the
// statements offsetctl's binlog checks send (sourcedb.ReadBinlogAnswers, the
// code path of sourcedb.ObserveMySQL) as a test fixture of
// pkg/sourcedb/testdata/mysql.
//
// It first gives the server a history (a scenario), then reads the answers
// as an account that holds only REPLICATION CLIENT, the privilege the
// observation documents, and writes them as JSON (sourcedb.BinlogAnswers).
// The scenarios expect a freshly initialized server:
//
//   - gtid: gtid_mode = ON. Transactions of the server's own UUID, of a
//     second UUID (GTID_NEXT set by hand, as a replica applies another
//     source's) and under a GTID tag (GTID_NEXT = AUTOMATIC:etl, MySQL
//     8.3+), binary logs flushed between them and the oldest purged, so
//     that gtid_purged holds some of each source.
//   - nogtid: gtid_mode = OFF: transactions, binary logs flushed and the
//     oldest purged.
//
// mysqld-sid.sh, next to it, runs a MySQL server to record from (Debian
// sid's, without installing it); pkg/sourcedb/testdata/mysql/README.md has
// the commands.
//
//	go run ./internal/tools/recordmysql -url mysql://root@127.0.0.1:33927/ -scenario gtid -out pkg/sourcedb/testdata/mysql/mysql-9.7-gtid.json
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
	"github.com/offsetctl/offsetctl/pkg/sourcedb"
)

// observer is the account the answers are read as: REPLICATION CLIENT
// only (a throwaway server's, so its password is no secret).
const (
	observerUser     = "offsetctl_observer"
	observerPassword = "observer-only"
)

// otherSource is the second source UUID of the gtid scenario (the one
// MySQL's manual uses in its examples).
const otherSource = "3e11fa47-71ca-11e1-9e33-c80aa9429562"

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "recordmysql:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("recordmysql", flag.ContinueOnError)
	admin := fs.String("url", "", "mysql:// URL of an account that may create users and set GTID_NEXT (root)")
	scenario := fs.String("scenario", "", "gtid or nogtid")
	out := fs.String("out", "", "the fixture file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *admin == "" || *out == "" || (*scenario != "gtid" && *scenario != "nogtid") {
		return errors.New("usage: recordmysql -url mysql://root@HOST:PORT/ -scenario gtid|nogtid -out FILE")
	}
	db, err := mysqlurl.Open(ctx, *admin, mysqlurl.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection: SET GTID_NEXT is a session variable.
	db.SetMaxOpenConns(1)
	r := &recorder{db: db}
	r.exec(ctx, "CREATE USER "+observerUser+"@'%' IDENTIFIED BY '"+observerPassword+"'")
	r.exec(ctx, "GRANT REPLICATION CLIENT ON *.* TO "+observerUser+"@'%'")
	r.exec(ctx, "CREATE DATABASE inventory")
	r.exec(ctx, "CREATE TABLE inventory.customers (id int PRIMARY KEY, email varchar(100))")
	switch *scenario {
	case "gtid":
		r.gtid(ctx)
	case "nogtid":
		r.nogtid(ctx)
	}
	if r.err != nil {
		return r.err
	}
	u, err := observerURL(*admin)
	if err != nil {
		return err
	}
	odb, err := mysqlurl.Open(ctx, u, mysqlurl.Options{})
	if err != nil {
		return fmt.Errorf("as %s (REPLICATION CLIENT only): %w", observerUser, err)
	}
	defer odb.Close()
	a, err := sourcedb.ReadBinlogAnswers(ctx, odb, 10*time.Second)
	if err != nil {
		return fmt.Errorf("as %s (REPLICATION CLIENT only): %w", observerUser, err)
	}
	if _, err := a.Observation(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "recordmysql: wrote %s (MySQL %s, %d binlog files)\n", *out, a.Variables["version"], len(a.BinaryLogs))
	return nil
}

// observerURL is the admin URL with the observer's user and password.
func observerURL(admin string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("the URL does not parse: %w", err)
	}
	u.User = url.UserPassword(observerUser, observerPassword)
	return u.String(), nil
}

// recorder runs statements until the first error, which it keeps.
type recorder struct {
	db   *sql.DB
	err  error
	next int // the next customer id
}

func (r *recorder) exec(ctx context.Context, q string) {
	if r.err != nil {
		return
	}
	if _, err := r.db.ExecContext(ctx, q); err != nil {
		r.err = fmt.Errorf("%s: %w", q, err)
	}
}

// inserts writes n transactions of one row each.
func (r *recorder) inserts(ctx context.Context, n int) {
	for range n {
		r.next++
		r.exec(ctx, fmt.Sprintf("INSERT INTO inventory.customers VALUES (%d, 'c%d@example.com')", r.next, r.next))
	}
}

// foreign writes transactions 1..n of another source, as a replica
// applies them (GTID_NEXT set to each GTID).
func (r *recorder) foreign(ctx context.Context, from, to int) {
	for n := from; n <= to; n++ {
		r.exec(ctx, fmt.Sprintf("SET GTID_NEXT = '%s:%d'", otherSource, n))
		r.next++
		r.exec(ctx, fmt.Sprintf("INSERT INTO inventory.customers VALUES (%d, 'replicated%d@example.com')", r.next, n))
		r.exec(ctx, "SET GTID_NEXT = 'AUTOMATIC'")
	}
}

// tagged writes n transactions under the GTID tag etl.
func (r *recorder) tagged(ctx context.Context, n int) {
	r.exec(ctx, "SET GTID_NEXT = 'AUTOMATIC:etl'")
	r.inserts(ctx, n)
	r.exec(ctx, "SET GTID_NEXT = 'AUTOMATIC'")
}

// gtid: binlog.000001 and .000002 are purged; .000001 held the server's
// first transactions and the other source's 1-3, .000002 more of both and
// the first tagged ones; the files kept hold more of each.
func (r *recorder) gtid(ctx context.Context) {
	r.inserts(ctx, 5)
	r.foreign(ctx, 1, 3)
	r.exec(ctx, "FLUSH BINARY LOGS")
	r.inserts(ctx, 5)
	r.foreign(ctx, 4, 5)
	r.tagged(ctx, 2)
	r.exec(ctx, "FLUSH BINARY LOGS")
	r.inserts(ctx, 5)
	r.foreign(ctx, 6, 8)
	r.tagged(ctx, 3)
	r.exec(ctx, "FLUSH BINARY LOGS")
	r.inserts(ctx, 4)
	r.exec(ctx, "PURGE BINARY LOGS TO 'binlog.000003'")
}

// nogtid: binlog.000001 is purged, two files are kept.
func (r *recorder) nogtid(ctx context.Context) {
	r.inserts(ctx, 5)
	r.exec(ctx, "FLUSH BINARY LOGS")
	r.inserts(ctx, 5)
	r.exec(ctx, "FLUSH BINARY LOGS")
	r.inserts(ctx, 3)
	r.exec(ctx, "PURGE BINARY LOGS TO 'binlog.000002'")
}
