// Package pgcluster starts a throwaway PostgreSQL cluster from the server
// binaries of Debian's PostgreSQL package (postgresql-NN), in a temporary
// directory, on a free loopback port, with trust authentication for the
// "postgres" role.
//
// It serves the sandbox (offsetctl sandbox up, make demo) and the test helper
// internal/pgtest. It never touches a cluster it did not create, and Stop
// removes everything it made. When the process that started the server dies,
// the server is told to shut down as well (Linux parent-death signal), so no
// stray postgres outlives a killed test run.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/testserver"
)

// DebianPackage is the package that provides the server binaries.
const DebianPackage = "postgresql"

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries (initdb, postgres) found: install them with `apt-get install -y " + DebianPackage + "` (as root), or set OFFSETCTL_PG_BINDIR")

// Options shape the cluster.
type Options struct {
	// Settings are extra server settings passed as -c name=value, for
	// example {"wal_level": "logical"}.
	Settings map[string]string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	Dir  string // the temporary directory holding data and logs
	Port int    // the loopback TCP port it listens on
	User string // the superuser role, "postgres"

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// BinDir finds the directory holding initdb and postgres: $OFFSETCTL_PG_BINDIR,
// then the newest /usr/lib/postgresql/*/bin, then PATH.
func BinDir() (string, error) {
	if d := os.Getenv("OFFSETCTL_PG_BINDIR"); d != "" {
		if isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
		return "", fmt.Errorf("OFFSETCTL_PG_BINDIR=%s holds no initdb: %w", d, ErrNoBinaries)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start initialises and starts a cluster. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "offsetctl-pg-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for the throwaway PostgreSQL: %w", err)
	}
	c := &Cluster{Dir: dir, User: "postgres", done: make(chan struct{})}
	fail := func(err error) (*Cluster, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cred, err := testserver.Credential("PostgreSQL", "postgres", "nobody")
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fail(err)
	}
	if cred != nil {
		// PostgreSQL refuses to run as root: hand the directory to the
		// postgres (or nobody) account and run the binaries as it.
		for _, p := range []string{dir, data} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(fmt.Errorf("handing %s to uid %d: %w", p, cred.Uid, err))
			}
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return fail(err)
		}
	}
	logf("initialising a throwaway PostgreSQL cluster in %s (binaries from %s)", dir, bin)
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb failed: %w\n%s", err, bytes.TrimSpace(out)))
	}
	port, err := testserver.FreePort()
	if err != nil {
		return fail(err)
	}
	c.Port = port
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(port),
		"unix_socket_directories": dir,
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"max_connections":         "200",
		"shared_buffers":          "256MB",
		"max_wal_senders":         "10",
		"max_replication_slots":   "10",
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	args := []string{"-D", data}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fail(fmt.Errorf("starting postgres: %w", err))
	}
	c.cmd = cmd
	go func() {
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		c.Stop()
		return nil, fmt.Errorf("%w\npostgres log:\n%s", err, bytes.TrimSpace(log))
	}
	logf("PostgreSQL is up on 127.0.0.1:%d", port)
	return c, nil
}

func (c *Cluster) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited during start-up: %v", c.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("PostgreSQL did not accept connections within %s: %v", limit, last)
}

// URL returns a connection URL for database db on this cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", c.User, c.Port, db)
}

// Env returns the libpq environment lines that point clients at this cluster.
func (c *Cluster) Env() []string {
	return []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(c.Port), "PGUSER=" + c.User, "PGSSLMODE=disable"}
}

// Stop shuts the server down (fast mode, then kill after 10 s) and removes its
// directory. It is safe to call more than once.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
				<-c.done
			}
		}
	}
	if c.Dir != "" && !strings.Contains(c.Dir, "..") {
		_ = os.RemoveAll(c.Dir)
	}
}
