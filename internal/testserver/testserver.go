// Package testserver holds what the throwaway database servers of the tests
// (internal/pgcluster, internal/mariadbcluster) and their wrappers
// (internal/tools/withpg, withmariadb) share: the account a server runs as
// when the tests run as root, a free loopback port, and running the wrapped
// command.
package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Credential returns the account to run a server as when the process is
// root: the first of accounts that exists. It returns nil to run as the
// current user when the process is not root.
func Credential(server string, accounts ...string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range accounts {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("running as root, and none of the accounts %s exists to run %s as", strings.Join(accounts, ", "), server)
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RunCommand runs args with env, its standard streams the process's own, and
// returns its exit code. When ctx ends (the wrapper got a signal) the command
// gets SIGTERM and 30 s to finish. name prefixes the wrapper's own errors.
func RunCommand(ctx context.Context, name string, env, args []string) int {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
