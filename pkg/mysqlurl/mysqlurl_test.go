package mysqlurl

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	env := map[string]string{"MYSQL_PWD": "from-mysql-pwd", "SRC_PW": "from-env"}
	files := map[string]string{"/run/secrets/pw": "from-file\n"}
	o := Options{
		Getenv: func(k string) string { return env[k] },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		},
	}
	for _, tc := range []struct {
		name, url                 string
		user, pass, net, addr, db string
		tls                       string // cfg.TLSConfig, or "custom" for a *tls.Config
		timeout                   time.Duration
	}{
		{"defaults", "mysql://app@db.internal/shop", "app", "from-mysql-pwd", "tcp", "db.internal:3306", "shop", "preferred", 10 * time.Second},
		{"mariadb scheme, port, password in URL", "mariadb://app:s3cr%40t@10.0.0.5:3307/shop", "app", "s3cr@t", "tcp", "10.0.0.5:3307", "shop", "preferred", 10 * time.Second},
		{"password file", "mysql://app@h/shop?password_file=/run/secrets/pw", "app", "from-file", "tcp", "h:3306", "shop", "preferred", 10 * time.Second},
		{"password env", "mysql://app@h/shop?password_env=SRC_PW&connect_timeout=3", "app", "from-env", "tcp", "h:3306", "shop", "preferred", 3 * time.Second},
		{"socket, TLS off", "mysql://root@localhost/shop?socket=/run/mysqld/mysqld.sock&ssl-mode=DISABLED", "root", "from-mysql-pwd", "unix", "/run/mysqld/mysqld.sock", "shop", "false", 10 * time.Second},
		{"TLS required", "mysql://app@h/shop?ssl-mode=required", "app", "from-mysql-pwd", "tcp", "h:3306", "shop", "custom", 10 * time.Second},
		{"IPv6", "mysql://app@[::1]:3306/shop?connect_timeout=2s", "app", "from-mysql-pwd", "tcp", "[::1]:3306", "shop", "preferred", 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.url, o)
			if err != nil {
				t.Fatal(err)
			}
			tlsName := cfg.TLSConfig
			if cfg.TLS != nil {
				tlsName = "custom"
			}
			if cfg.User != tc.user || cfg.Passwd != tc.pass || cfg.Net != tc.net || cfg.Addr != tc.addr || cfg.DBName != tc.db || tlsName != tc.tls || cfg.Timeout != tc.timeout {
				t.Errorf("got user %q pass %q net %q addr %q db %q tls %q timeout %s", cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName, tlsName, cfg.Timeout)
			}
			if cfg.ParseTime || cfg.InterpolateParams || cfg.Collation != "utf8mb4_bin" {
				t.Errorf("ParseTime %v InterpolateParams %v Collation %s: want text values, bound parameters, utf8mb4", cfg.ParseTime, cfg.InterpolateParams, cfg.Collation)
			}
		})
	}
}

// Errors name the fix and never carry the password.
func TestParseErrorsNeverPrintThePassword(t *testing.T) {
	o := Options{Getenv: func(string) string { return "" }, ReadFile: func(string) ([]byte, error) { return nil, errors.New("permission denied") }}
	for _, tc := range []struct{ url, want string }{
		{"postgres://u:hunter2@h/db", "mysql:// or mariadb://"},
		{"mysql://u:hunter2@h/db?sslmode=sometimes", "unknown ssl-mode"},
		{"mysql://u:hunter2@h/db?colour=blue", `unknown option "colour"`},
		{"mysql://u:hunter2@h/db/x", "has no '/'"},
		{"mysql://u@h/db?password_env=NOPE", "NOPE, which is empty or unset"},
		{"mysql://u@h/db?password_file=/nope", "permission denied"},
		{"mysql://u:hunter2@h/db?connect_timeout=soon", "connect_timeout"},
		{"mysql://u:hunter2@h/db?ssl-mode=VERIFY_CA&ssl-ca=/ca.pem", "reading ssl-ca"},
	} {
		_, err := Parse(tc.url, o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to say %q", Redact(tc.url), err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error prints the password: %v", err)
		}
	}
	if got := Redact("mysql://app:hunter2@h:3306/shop?ssl-mode=REQUIRED"); got != "mysql://app:xxxxx@h:3306/shop?ssl-mode=REQUIRED" {
		t.Errorf("Redact: %s", got)
	}
}

func TestIs(t *testing.T) {
	for u, want := range map[string]bool{"mysql://h/db": true, "MariaDB://h/db": true, "postgres://h/db": false, "h/db": false} {
		if Is(u) != want {
			t.Errorf("Is(%q) = %v", u, !want)
		}
	}
}
