// Package pgtest gives tests a real PostgreSQL: a database of their own,
// created for the test and dropped when it ends.
//
// Which server: the one the libpq variables name (PGHOST, PGPORT, PGUSER,
// PGPASSWORD, PGDATABASE) when any is set; otherwise 127.0.0.1:5432 as user
// postgres when it answers; otherwise a throwaway cluster started from
// Debian's PostgreSQL server package (internal/pgcluster) for the test binary
// and stopped when it exits. `make test` starts one cluster for the whole run
// and exports PG* so every package shares it.
//
// A package that uses pgtest calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Nothing is skipped silently: when no server can be had, the tests fail with
// the command that fixes it.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/offsetctl/offsetctl/internal/pgcluster"
	redactpkg "github.com/offsetctl/offsetctl/internal/redact"
)

// server is the admin URL chosen by Main for this test binary. It is the one
// piece of package state: a test binary has exactly one server.
var (
	server   string
	setupErr error
	counter  atomic.Int64
)

// Main finds or starts the server, runs the tests and stops what it started.
func Main(m *testing.M) { os.Exit(Run(m.Run)) }

// Run is Main for a TestMain that needs other servers too: it finds or
// starts the server, calls run (m.Run, or another helper's Run wrapping it),
// stops what it started and returns run's exit code.
func Run(run func() int) int {
	ctx := context.Background()
	var cluster *pgcluster.Cluster
	server, cluster, setupErr = find(ctx)
	code := run()
	if cluster != nil {
		cluster.Stop()
	}
	return code
}

// ServerURL returns the admin URL of the server used by this test binary.
func ServerURL(t testing.TB) string {
	t.Helper()
	if server == "" && setupErr == nil {
		t.Fatal("pgtest: call pgtest.Main(m) from this package's TestMain")
	}
	if setupErr != nil {
		t.Fatalf("pgtest: no PostgreSQL for the tests: %v", setupErr)
	}
	return server
}

func find(ctx context.Context) (string, *pgcluster.Cluster, error) {
	for _, v := range []string{"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"} {
		if os.Getenv(v) != "" {
			u, err := envURL()
			if err != nil {
				return "", nil, err
			}
			if err := ping(ctx, u); err != nil {
				return "", nil, fmt.Errorf("the PostgreSQL named by the PG* variables does not answer: %w (unset them to let the tests start a throwaway cluster)", err)
			}
			return u, nil, nil
		}
	}
	local := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", 300*time.Millisecond); err == nil {
		c.Close()
		if ping(ctx, local) == nil {
			return local, nil, nil
		}
	}
	cl, err := pgcluster.Start(ctx, pgcluster.Options{Settings: map[string]string{"wal_level": "logical"}})
	if err != nil {
		return "", nil, fmt.Errorf("%w (make test installs the %s package when it runs as root)", err, pgcluster.DebianPackage)
	}
	return cl.URL("postgres"), cl, nil
}

// envURL turns the libpq variables into a URL, so that every test database
// gets the same host, port and credentials.
func envURL() (string, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return "", fmt.Errorf("reading PG* variables: %w", err)
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), Path: "/" + cfg.Database}
	if strings.HasPrefix(cfg.Host, "/") {
		u.Host = ""
	}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	} else {
		u.User = url.User(cfg.User)
	}
	q := url.Values{}
	if strings.HasPrefix(cfg.Host, "/") {
		q.Set("host", cfg.Host)
		q.Set("port", strconv.Itoa(int(cfg.Port)))
	}
	if cfg.TLSConfig == nil {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func ping(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDB creates an empty database for the test and returns its URL. The
// database is dropped (connections forced off) when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	admin := ServerURL(t)
	name := strings.ToLower(unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t_%s_%d_%d", name, os.Getpid(), counter.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Conn opens a connection to url, closed when the test ends.
func Conn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(url), err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

// Pool opens a pool on url, closed when the test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtest: pool for %s: %v", redact(url), err)
	}
	t.Cleanup(p.Close)
	return p
}

// Exec runs SQL statements on url and fails the test on error.
func Exec(t testing.TB, url string, sql string, args ...any) {
	t.Helper()
	c := Conn(t, url)
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: %v\nSQL: %s", err, sql)
	}
}

func redact(u string) string {
	if _, err := url.Parse(u); err != nil {
		return "<unparseable URL>"
	}
	return redactpkg.URL(u)
}
