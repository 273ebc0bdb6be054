// Package mysqlurl reads offsetctl's MariaDB and MySQL URLs (mysql:// and
// mariadb://) into configurations of github.com/go-sql-driver/mysql, redacts
// them for messages, and opens connection pools on them.
//
// The driver is go-sql-driver/mysql: the one pure-Go driver that speaks both
// servers' protocol (MariaDB keeps MySQL's), maintained, with TLS, Unix
// sockets, caching_sha2 and ed25519 authentication, context cancellation (a
// cancelled query is killed on the server) and streaming result sets (rows
// are read as they arrive, so a streamed table never sits in client memory).
// It is used through database/sql.
//
// Passwords come from the URL, a file or the environment and never appear in
// an error or a redacted URL.
package mysqlurl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Is says whether raw names a MariaDB or MySQL server
// (mysql:// or mariadb://).
func Is(raw string) bool {
	l := strings.ToLower(strings.TrimSpace(raw))
	return strings.HasPrefix(l, "mysql://") || strings.HasPrefix(l, "mariadb://")
}

// Options are where Parse may read a password from. Nil
// functions mean os.Getenv and os.ReadFile.
type Options struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

// Parse turns a mysql:// or mariadb:// URL into a driver
// configuration:
//
//	mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE?OPTIONS
//
// The password comes from the URL, else from the file named by
// password_file=PATH (one line, the newline dropped), else from the
// variable named by password_env=NAME, else from MYSQL_PWD (the variable
// the mysql client reads). Options: socket=PATH (a Unix socket instead of
// HOST:PORT), ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY
// (the mysql client's values; PREFERRED by default, as the client does),
// ssl-ca, ssl-cert, ssl-key (PEM files), connect_timeout (seconds or a Go
// duration). Errors never contain the password.
func Parse(raw string, o Options) (*mysql.Config, error) {
	getenv, readFile := o.Getenv, o.ReadFile
	if getenv == nil {
		getenv = os.Getenv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("the MariaDB/MySQL URL %s does not parse; write it as mysql://USER@HOST:PORT/DATABASE", Redact(raw))
	}
	switch strings.ToLower(u.Scheme) {
	case "mysql", "mariadb":
	default:
		return nil, fmt.Errorf("the URL %s is not a MariaDB/MySQL URL: its scheme must be mysql:// or mariadb://", Redact(raw))
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	if cfg.User == "" {
		cfg.User = "root"
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(cfg.DBName, "/") {
		return nil, fmt.Errorf("the MariaDB/MySQL URL %s names database %q: a database name has no '/'", Redact(raw), cfg.DBName)
	}
	q := u.Query()
	known := map[string]bool{"socket": true, "ssl-mode": true, "sslmode": true, "ssl-ca": true, "ssl-cert": true, "ssl-key": true,
		"connect_timeout": true, "password_file": true, "password_env": true}
	for k := range q {
		if !known[k] {
			return nil, fmt.Errorf("the MariaDB/MySQL URL %s has the unknown option %q; the options are socket, ssl-mode, ssl-ca, ssl-cert, ssl-key, connect_timeout, password_file and password_env", Redact(raw), k)
		}
	}
	if p, ok := u.User.Password(); ok {
		cfg.Passwd = p
	} else if f := q.Get("password_file"); f != "" {
		b, err := readFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading the MariaDB/MySQL password from password_file %s: %w", f, err)
		}
		cfg.Passwd = strings.TrimRight(string(b), "\r\n")
	} else if v := q.Get("password_env"); v != "" {
		cfg.Passwd = getenv(v)
		if cfg.Passwd == "" {
			return nil, fmt.Errorf("the MariaDB/MySQL URL %s takes its password from the variable %s, which is empty or unset: export it", Redact(raw), v)
		}
	} else {
		cfg.Passwd = getenv("MYSQL_PWD")
	}
	if s := q.Get("socket"); s != "" {
		cfg.Net, cfg.Addr = "unix", s
	} else {
		host := u.Hostname()
		if host == "" {
			host = "127.0.0.1"
		}
		port := u.Port()
		if port == "" {
			port = "3306"
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	}
	if t := q.Get("connect_timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			d, err = time.ParseDuration(t + "s")
		}
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("the MariaDB/MySQL URL %s has connect_timeout=%q: want seconds (10) or a duration (10s)", Redact(raw), t)
		}
		cfg.Timeout = d
	} else {
		cfg.Timeout = 10 * time.Second
	}
	mode := strings.ToUpper(strings.ReplaceAll(q.Get("ssl-mode")+q.Get("sslmode"), "-", "_"))
	if mode == "" {
		mode = "PREFERRED"
		if q.Get("ssl-ca") != "" {
			mode = "VERIFY_CA"
		}
	}
	if err := setTLS(cfg, mode, u.Hostname(), q, readFile); err != nil {
		return nil, fmt.Errorf("the MariaDB/MySQL URL %s: %w", Redact(raw), err)
	}
	// Text protocol values as the server prints them; the session runs in
	// UTC and utf8mb4 (the caller sets the session up).
	cfg.Collation = "utf8mb4_bin"
	cfg.Loc = time.UTC
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	return cfg, nil
}

func setTLS(cfg *mysql.Config, mode, host string, q url.Values, readFile func(string) ([]byte, error)) error {
	switch mode {
	case "DISABLED", "DISABLE", "FALSE":
		cfg.TLSConfig = "false"
		return nil
	case "PREFERRED", "PREFER":
		if q.Get("ssl-ca") == "" && q.Get("ssl-cert") == "" {
			cfg.TLSConfig = "preferred"
			return nil
		}
	case "REQUIRED", "REQUIRE", "VERIFY_CA", "VERIFY_IDENTITY", "VERIFY_FULL":
	default:
		return fmt.Errorf("unknown ssl-mode %q: want DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY", mode)
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if ca := q.Get("ssl-ca"); ca != "" {
		pem, err := readFile(ca)
		if err != nil {
			return fmt.Errorf("reading ssl-ca %s: %w", ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ssl-ca %s holds no PEM certificate", ca)
		}
		tc.RootCAs = pool
	}
	if c, k := q.Get("ssl-cert"), q.Get("ssl-key"); c != "" || k != "" {
		if c == "" || k == "" {
			return errors.New("ssl-cert and ssl-key go together: name both")
		}
		cb, err := readFile(c)
		if err != nil {
			return fmt.Errorf("reading ssl-cert %s: %w", c, err)
		}
		kb, err := readFile(k)
		if err != nil {
			return fmt.Errorf("reading ssl-key %s: %w", k, err)
		}
		pair, err := tls.X509KeyPair(cb, kb)
		if err != nil {
			return fmt.Errorf("ssl-cert %s and ssl-key %s: %w", c, k, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	switch mode {
	case "REQUIRED", "REQUIRE", "PREFERRED", "PREFER":
		// Encrypted, the server's certificate not checked (the mysql
		// client's REQUIRED).
		tc.InsecureSkipVerify = true
	case "VERIFY_CA":
		// The chain is checked, the host name is not.
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = verifyChain(tc.RootCAs)
	}
	cfg.TLS = tc
	return nil
}

func verifyChain(roots *x509.CertPool) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("the server sent no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, b := range raw {
			c, err := x509.ParseCertificate(b)
			if err != nil {
				return err
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}

// Redact returns raw with its password replaced by "xxxxx" (and
// with nothing of it when it does not parse).
func Redact(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}

// Open opens a pool on a mysql:// or mariadb:// URL and checks that the
// server answers. The caller closes it.
func Open(ctx context.Context, raw string, o Options) (*sql.DB, error) {
	cfg, err := Parse(raw, o)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, Redact(raw))
}

// OpenConfig is Open for a parsed configuration; where names the server in
// errors (a redacted URL).
func OpenConfig(ctx context.Context, cfg *mysql.Config, where string) (*sql.DB, error) {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("the MariaDB/MySQL URL %s: %w", where, err)
	}
	db := sql.OpenDB(conn)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to MariaDB/MySQL at %s: %w (check the host, port, user and password)", where, err)
	}
	return db, nil
}
