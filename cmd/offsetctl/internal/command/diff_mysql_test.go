package command

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/golden"
	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// diffMySQLFixture creates a MariaDB source (a MySQL one: mysql) and a
// PostgreSQL sink that drifted in known ways.
func diffMySQLFixture(t *testing.T, mysql bool) (string, string) {
	t.Helper()
	src := mariadbtest.SourceDB(t, mysql, "shop")
	dst := pgtest.NewDB(t)
	mariadbtest.Exec(t, src, `CREATE TABLE customers (id bigint PRIMARY KEY, name varchar(50), balance decimal(12,2), updated_at datetime(6), active tinyint(1));
		INSERT INTO customers SELECT seq, CONCAT('name ', seq), seq * 1.5, TIMESTAMP '2026-11-01 00:00:00.123456' + INTERVAL (seq * 6) HOUR, seq % 2 FROM `+mariadbtest.Seq(mysql, 20))
	pgtest.Exec(t, dst, `CREATE TABLE customers (id bigint PRIMARY KEY, name text, balance numeric(12,2), updated_at timestamp(3), active smallint, __op text);
		INSERT INTO customers SELECT i, 'name ' || i, i * 1.5, timestamp '2026-11-01 00:00:00.123456' + i * interval '6 hours', i % 2, 'c' FROM generate_series(1, 20) i;
		DELETE FROM customers WHERE id IN (4, 17);
		INSERT INTO customers (id, name) VALUES (21, 'ghost');
		UPDATE customers SET balance = 0 WHERE id = 9;
		UPDATE customers SET name = 'Name 12' WHERE id = 12`)
	return src, dst
}

// diffMySQLCases are the diff runs of TestDiffMariaDBSource and
// TestDiffMySQLSource.
var diffMySQLCases = []struct {
	name     string
	args     []string
	wantCode int
}{
	{"mariadb_rows", []string{"--table", "customers", "--ignore", "__op"}, ExitChanges},
	{"mariadb_rows_json", []string{"-json", "--table", "customers", "--ignore", "__op"}, ExitChanges},
	{"mariadb_counts", []string{"--mode", "counts", "--table", "customers"}, ExitChanges},
	{"mariadb_checksum_by_day", []string{"--mode", "checksum", "--by", "day:updated_at", "--table", "customers", "--ignore", "__op"}, ExitChanges},
	{"mariadb_no_drift", []string{"--table", "customers", "--ignore", "__op", "--where", "id < 4"}, ExitOK},
}

// diff takes a mysql:// (or mariadb://) source: the same report as between
// two PostgreSQL databases.
func TestDiffMariaDBSource(t *testing.T) {
	src, dst := diffMySQLFixture(t, false)
	for _, tc := range diffMySQLCases {
		t.Run(tc.name, func(t *testing.T) {
			mariaURL := strings.Replace(src, "mysql://", "mariadb://", 1)
			code, out, errOut := runDiff(t, nil, false, append([]string{"diff", "--source", mariaURL, "--sink", dst}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			goldens.Assert(t, "stdout", []byte(out))
		})
	}
}

// TestDiffMySQLSource: with a MySQL source (OFFSETCTL_MYSQL_URL) holding
// the same data, diff says what it says for MariaDB's (TestDiffMariaDBSource's
// golden files): the same rows, the same partitions, the same verdicts;
// only the hashes differ, a MySQL source's rows being hashed with SHA-256
// rather than MD5.
func TestDiffMySQLSource(t *testing.T) {
	src, dst := diffMySQLFixture(t, true)
	for _, tc := range diffMySQLCases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runDiff(t, nil, false, append([]string{"diff", "--source", src, "--sink", dst}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "TestDiffMariaDBSource", tc.name, "stdout.golden"))
			if err != nil {
				t.Fatal(err)
			}
			hashes := regexp.MustCompile(`\b[0-9a-f]{16}\b`)
			if w, g := hashes.ReplaceAllString(string(want), "HASH"), hashes.ReplaceAllString(out, "HASH"); w != g {
				t.Errorf("MySQL's report differs from MariaDB's (hashes aside):\n%s", golden.Diff(w, g))
			}
		})
	}
}

// A wrong password is reported without the password; a MariaDB sink is
// refused with the fix.
func TestDiffMariaDBErrors(t *testing.T) {
	src, dst := diffMySQLFixture(t, false)
	bad := strings.Replace(src, "mysql://root@", "mysql://root:hunter2secret@", 1)
	code, out, errOut := runDiff(t, nil, false, "diff", "--source", bad, "--sink", dst, "--table", "customers")
	if code != ExitError || strings.Contains(out+errOut, "hunter2secret") || !strings.Contains(errOut, "xxxxx") {
		t.Errorf("wrong password: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, _, errOut = runDiff(t, map[string]string{"SRC_PW": "hunter2secret"}, false, "diff", "--source", src+"?password_env=SRC_PW", "--sink", dst, "--table", "customers")
	if code != ExitError || strings.Contains(errOut, "hunter2secret") || !strings.Contains(errOut, "Access denied") {
		t.Errorf("password from the environment: exit %d\nstderr: %s", code, errOut)
	}
	code, _, errOut = runDiff(t, nil, false, "diff", "--source", dst, "--sink", src, "--table", "customers")
	if code != ExitError || !strings.Contains(errOut, "only against a PostgreSQL sink") {
		t.Errorf("MariaDB sink: exit %d\nstderr: %s", code, errOut)
	}
	code, _, errOut = runDiff(t, nil, false, "diff", "--source", src, "--sink", dst, "--table", "customers")
	if code != ExitError || !strings.Contains(errOut, `"__op"`) {
		t.Errorf("a sink-only column: exit %d\nstderr: %s", code, errOut)
	}
}

// TestDiffMariaDBSourcePatterns: --schema and --table patterns find tables
// in a MariaDB source's database (the schema of its unqualified names) as
// in a PostgreSQL source; a pattern that matches nothing says so.
func TestDiffMariaDBSourcePatterns(t *testing.T) {
	src, dst := diffMySQLFixture(t, false)
	mariadbtest.Exec(t, src, `CREATE TABLE audit (id int PRIMARY KEY)`)
	for _, tc := range []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"--schema", "shop", "--exclude", "shop.audit"}, ExitChanges, "shop.customers"},
		{[]string{"--table", "cust*"}, ExitChanges, "shop.customers"},
		{[]string{"--table", "shop.cust*"}, ExitChanges, "shop.customers"},
		{[]string{"--schema", "public"}, ExitError, "no source table matches"},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"diff", "--source", src, "--sink", dst, "--ignore", "__op"}, tc.args...)...)
		if code != tc.wantCode || !strings.Contains(out+errOut, tc.want) || strings.Contains(out, "audit") {
			t.Errorf("diff %v: exit %d, want %d and %q\n%s\n%s", tc.args, code, tc.wantCode, tc.want, out, errOut)
		}
	}
}
