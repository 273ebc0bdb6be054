// Command withmariadb runs a command with a throwaway MariaDB server
// (internal/mariadbcluster) available to it, and stops the server when the
// command ends. It exports OFFSETCTL_MARIADB_URL (read by
// internal/mariadbtest, so that every test binary the command runs shares
// the one server), MARIADB_HOST, MARIADB_PORT, MARIADB_SOCKET and
// MARIADB_DIR (for scripts: the benchmark). When OFFSETCTL_MARIADB_URL is
// already set, it runs the command as it is.
//
//	go run ./internal/tools/withmariadb -- bash bench/reconcile-mariadb.sh
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/offsetctl/offsetctl/internal/mariadbcluster"
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
		fmt.Fprintln(os.Stderr, "usage: withmariadb [--setting name=value]... -- COMMAND [ARG...]")
		return 2
	}
	settings := map[string]string{}
	for len(args) > 1 && args[0] == "--setting" {
		k, v, ok := strings.Cut(args[1], "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "withmariadb: --setting %s: want name=value\n", args[1])
			return 2
		}
		settings[k] = v
		args = args[2:]
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := os.Environ()
	if os.Getenv("OFFSETCTL_MARIADB_URL") == "" {
		cl, err := mariadbcluster.Start(ctx, mariadbcluster.Options{
			Settings: settings,
			Logf:     func(f string, a ...any) { fmt.Fprintf(os.Stderr, "withmariadb: "+f+"\n", a...) },
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "withmariadb: %v\n", err)
			return 1
		}
		defer cl.Stop()
		env = append(env, cl.Env()...)
		env = append(env, "MARIADB_HOST=127.0.0.1", "MARIADB_PORT="+strconv.Itoa(cl.Port), "MARIADB_SOCKET="+cl.Socket, "MARIADB_DIR="+cl.Dir)
	}
	return testserver.RunCommand(ctx, "withmariadb", env, args)
}
