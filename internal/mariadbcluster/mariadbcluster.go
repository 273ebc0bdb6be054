// Package mariadbcluster starts a throwaway MariaDB server from the binaries
// of Debian's mariadb-server package (mariadb-install-db, mariadbd), in a
// temporary directory, on a Unix socket and a free loopback TCP port, with
// the binary log on in row format (as Debezium's MariaDB and MySQL
// connectors need it) and a passwordless root account reachable from
// 127.0.0.1.
//
// It serves the test helper internal/mariadbtest and internal/tools/withpg.
// It never touches a server it did not create, and Stop removes everything
// it made. When the process that started the server dies, the server is sent
// SIGTERM (Linux parent-death signal), so no stray mariadbd outlives a
// killed test run. Run as root, the server runs as the mysql account (or
// nobody), as pgcluster runs PostgreSQL as postgres.
package mariadbcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/offsetctl/offsetctl/internal/testserver"
)

// DebianPackage is the package that provides the server binaries.
const DebianPackage = "mariadb-server"

// ErrNoBinaries means no MariaDB server binaries were found.
var ErrNoBinaries = errors.New("no MariaDB server binaries (mariadb-install-db, mariadbd) found: install them with `apt-get install -y " + DebianPackage + "` (as root), or set OFFSETCTL_MARIADB_BINDIR")

// Options shape the server.
type Options struct {
	// Settings are extra server options passed as --name=value, for
	// example {"binlog_row_image": "full"}.
	Settings map[string]string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is a running throwaway MariaDB server.
type Cluster struct {
	Dir    string // the temporary directory holding data and logs
	Port   int    // the loopback TCP port it listens on
	Socket string // the Unix socket it listens on
	User   string // the superuser, "root", without a password from 127.0.0.1

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// Binaries finds mariadb-install-db and mariadbd: in $OFFSETCTL_MARIADB_BINDIR
// (both), then on PATH and in /usr/sbin, /usr/bin.
func Binaries() (installDB, server string, err error) {
	if d := os.Getenv("OFFSETCTL_MARIADB_BINDIR"); d != "" {
		i, s := filepath.Join(d, "mariadb-install-db"), filepath.Join(d, "mariadbd")
		if isExec(i) && isExec(s) {
			return i, s, nil
		}
		return "", "", fmt.Errorf("OFFSETCTL_MARIADB_BINDIR=%s holds no mariadb-install-db and mariadbd: %w", d, ErrNoBinaries)
	}
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
			if p := filepath.Join(d, name); isExec(p) {
				return p
			}
		}
		return ""
	}
	installDB, server = find("mariadb-install-db"), find("mariadbd")
	if installDB == "" || server == "" {
		return "", "", ErrNoBinaries
	}
	return installDB, server, nil
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start initialises and starts a server. The caller must call Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	installDB, server, err := Binaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "offsetctl-mariadb-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for the throwaway MariaDB: %w", err)
	}
	c := &Cluster{Dir: dir, User: "root", Socket: filepath.Join(dir, "mariadb.sock"), done: make(chan struct{})}
	fail := func(err error) (*Cluster, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	cred, err := testserver.Credential("MariaDB", "mysql", "nobody")
	if err != nil {
		return fail(err)
	}
	data, tmp := filepath.Join(dir, "data"), filepath.Join(dir, "tmp")
	for _, p := range []string{data, tmp} {
		if err := os.Mkdir(p, 0o700); err != nil {
			return fail(err)
		}
	}
	if cred != nil {
		// mariadbd refuses to run as root unless told to: hand the
		// directory to the mysql (or nobody) account and run as it.
		for _, p := range []string{dir, data, tmp} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(fmt.Errorf("handing %s to uid %d: %w", p, cred.Uid, err))
			}
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return fail(err)
		}
	}
	if err := initData(ctx, installDB, server, data, cred, logf); err != nil {
		return fail(err)
	}
	logf("starting mariadbd in %s", dir)
	port, err := testserver.FreePort()
	if err != nil {
		return fail(err)
	}
	c.Port = port
	settings := map[string]string{
		"datadir": data,
		// Its temporary files (internal Aria tables of information_schema
		// queries) in its own directory, out of reach of whatever cleans /tmp.
		"tmpdir":                         tmp,
		"socket":                         c.Socket,
		"port":                           strconv.Itoa(port),
		"bind-address":                   "127.0.0.1",
		"pid-file":                       filepath.Join(dir, "mariadbd.pid"),
		"log-error":                      filepath.Join(dir, "mariadbd.log"),
		"log-bin":                        filepath.Join(data, "binlog"),
		"binlog-format":                  "ROW",
		"binlog-row-image":               "FULL",
		"server-id":                      "1",
		"character-set-server":           "utf8mb4",
		"collation-server":               "utf8mb4_unicode_ci",
		"innodb-buffer-pool-size":        "256M",
		"innodb-log-file-size":           "48M",
		"innodb-flush-log-at-trx-commit": "0",
		"innodb-doublewrite":             "0",
		"sync-binlog":                    "0",
		"max-connections":                "300",
		"skip-name-resolve":              "ON",
	}
	for k, v := range opts.Settings {
		settings[strings.ReplaceAll(k, "_", "-")] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := []string{"--no-defaults"}
	for _, k := range keys {
		args = append(args, "--"+k+"="+settings[k])
	}
	logFile, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(server, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fail(fmt.Errorf("starting mariadbd: %w", err))
	}
	c.cmd = cmd
	go func() {
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "mariadbd.log"))
		c.Stop()
		return nil, fmt.Errorf("%w\nmariadbd log:\n%s", err, bytes.TrimSpace(log))
	}
	logf("MariaDB is up on 127.0.0.1:%d", port)
	return c, nil
}

// installArgs are mariadb-install-db's options: --no-defaults (no
// /etc/mysql/my.cnf); normal root authentication (no unix_socket plugin), so
// root connects over TCP without a password.
var installArgs = []string{"--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db",
	"--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M"}

// initData fills data with a fresh data directory. mariadb-install-db takes
// seconds (and tens of seconds on a loaded machine), so its result is kept
// as a template in the temporary directory, named after the server binary
// (size and modification time) and the running user, and copied for each
// server: a copy takes a fraction of a second. The template is built in a
// directory of its own and renamed into place, so concurrent test binaries
// never see half of one.
func initData(ctx context.Context, installDB, server, data string, cred *syscall.Credential, logf func(string, ...any)) error {
	st, err := os.Stat(server)
	if err != nil {
		return fmt.Errorf("reading %s: %w", server, err)
	}
	uid := os.Geteuid()
	if cred != nil {
		uid = int(cred.Uid)
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("%s|%d|%d|%d|%v", server, st.Size(), st.ModTime().UnixNano(), uid, installArgs)))
	tmpl := filepath.Join(os.TempDir(), fmt.Sprintf("offsetctl-mariadb-template-%x", h[:6]))
	if _, err := os.Stat(filepath.Join(tmpl, "mysql", "user.frm")); err != nil {
		logf("initialising a MariaDB data directory template in %s (binaries %s)", tmpl, server)
		build, err := os.MkdirTemp(os.TempDir(), "offsetctl-mariadb-build-")
		if err != nil {
			return fmt.Errorf("creating a directory for the MariaDB template: %w", err)
		}
		defer os.RemoveAll(build)
		bdata := filepath.Join(build, "data")
		if err := os.Mkdir(bdata, 0o700); err != nil {
			return err
		}
		if cred != nil {
			for _, p := range []string{build, bdata} {
				if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
					return fmt.Errorf("handing %s to uid %d: %w", p, cred.Uid, err)
				}
			}
			if err := os.Chmod(build, 0o755); err != nil {
				return err
			}
		}
		install := exec.CommandContext(ctx, installDB, append(slices.Clone(installArgs), "--datadir="+bdata)...)
		install.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		install.Dir = build
		if out, err := install.CombinedOutput(); err != nil {
			return fmt.Errorf("mariadb-install-db failed: %w\n%s", err, bytes.TrimSpace(out))
		}
		if err := os.Rename(bdata, tmpl); err != nil {
			if _, serr := os.Stat(filepath.Join(tmpl, "mysql", "user.frm")); serr != nil {
				return fmt.Errorf("keeping the MariaDB template in %s: %w", tmpl, err)
			}
			// Another test binary built it first: use theirs.
		}
	}
	logf("copying the MariaDB data directory template %s to %s", tmpl, data)
	if err := copyTree(tmpl, data); err != nil {
		return fmt.Errorf("copying the MariaDB template %s: %w (remove it to have it rebuilt)", tmpl, err)
	}
	return nil
}

// copyTree copies the regular files and directories under src into dst
// (which exists), keeping modes and owners.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		sys, _ := info.Sys().(*syscall.Stat_t)
		if d.IsDir() {
			if rel != "." {
				if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
					return err
				}
			}
		} else if info.Mode().IsRegular() {
			if err := copyFile(p, target, info.Mode().Perm()); err != nil {
				return err
			}
		} else {
			return nil
		}
		if sys != nil && os.Geteuid() == 0 {
			return os.Lchown(target, int(sys.Uid), int(sys.Gid))
		}
		return nil
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (c *Cluster) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("mariadbd exited during start-up: %v", c.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if last = Ping(ctx, c.DSN("mysql")); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("MariaDB did not accept connections within %s: %v", limit, last)
}

// Ping connects to dsn (a go-sql-driver/mysql DSN) and disconnects.
func Ping(ctx context.Context, dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	cfg.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// DSN returns a go-sql-driver/mysql DSN for database db on this server.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("%s@tcp(127.0.0.1:%d)/%s", c.User, c.Port, db)
}

// URL returns a mysql:// URL (offsetctl's form) for database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("mysql://%s@127.0.0.1:%d/%s", c.User, c.Port, db)
}

// Env returns the variables that point the tests at this server
// (OFFSETCTL_MARIADB_URL, read by internal/mariadbtest).
func (c *Cluster) Env() []string {
	return []string{"OFFSETCTL_MARIADB_URL=" + c.URL("")}
}

// Stop shuts the server down (SIGTERM, then kill after 10 s) and removes its
// directory. It is safe to call more than once.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
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
