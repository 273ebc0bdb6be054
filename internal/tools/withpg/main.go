// Command withpg runs a command with a PostgreSQL server available to it.
//
// When the libpq variables (PG*) already name a server, or 127.0.0.1:5432
// answers as user postgres, it runs the command as it is. Otherwise it starts
// one throwaway cluster (internal/pgcluster), exports PGHOST, PGPORT, PGUSER
// and PGSSLMODE to the command, and stops the cluster when the command ends.
// `make test` uses it so that a whole test run shares one cluster.
//
//	go run ./internal/tools/withpg -- go test ./...
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/pgcluster"
	"github.com/offsetctl/offsetctl/internal/testserver"
)

func main() {
	os.Exit(run())
}

func run() int {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withpg -- COMMAND [ARG...]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := os.Environ()
	if !haveServer(ctx) {
		cl, err := pgcluster.Start(ctx, pgcluster.Options{
			Settings: map[string]string{"wal_level": "logical"},
			Logf:     func(f string, a ...any) { fmt.Fprintf(os.Stderr, "withpg: "+f+"\n", a...) },
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
			return 1
		}
		defer cl.Stop()
		env = append(env, cl.Env()...)
	}
	return testserver.RunCommand(ctx, "withpg", env, args)
}

func haveServer(ctx context.Context) bool {
	for _, v := range []string{"PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"} {
		if os.Getenv(v) != "" {
			return true // the operator named one; pgtest reports it if it does not answer
		}
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:5432", 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		return false
	}
	conn.Close(cctx)
	return true
}
