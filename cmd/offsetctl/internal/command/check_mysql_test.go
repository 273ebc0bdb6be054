package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

// TestCheckMariaDBSource: check runs a reconcile block whose source is
// MariaDB as it runs a PostgreSQL one: exit 0 when the PostgreSQL sink
// holds what the source holds, in the counts, checksum and rows modes; 2
// once drift is injected in the sink, with the metrics saying so; the
// block's threshold is honoured; --schema and --exclude find the source
// database's other tables and compare them with the sink's tables of the
// same name; the source's binlog position at its snapshot is reported.
func TestCheckMariaDBSource(t *testing.T) { testCheckSource(t, false) }

// TestCheckMySQLSource is the same with a MySQL source
// (OFFSETCTL_MYSQL_URL).
func TestCheckMySQLSource(t *testing.T) { testCheckSource(t, true) }

func testCheckSource(t *testing.T, mysql bool) {
	src := mariadbtest.SourceDB(t, mysql, "shop")
	srcURL := src
	if !mysql {
		srcURL = strings.Replace(src, "mysql://", "mariadb://", 1)
	}
	dst := pgtest.NewDB(t)
	mariadbtest.Exec(t, src, `CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(100), balance decimal(10,2), updated_at datetime(3));
		INSERT INTO customers SELECT seq, CONCAT('user', seq, '@example.com'), seq * 0.5, TIMESTAMP '2026-11-01 10:00:00.125' + INTERVAL seq MINUTE FROM `+mariadbtest.Seq(mysql, 50)+`;
		CREATE TABLE orders (id int PRIMARY KEY, total decimal(10,2));
		INSERT INTO orders SELECT seq, seq * 3 FROM `+mariadbtest.Seq(mysql, 7)+`;
		CREATE TABLE audit (id int PRIMARY KEY)`)
	pgtest.Exec(t, dst, `CREATE TABLE customers (id bigint PRIMARY KEY, email text, balance numeric(10,2), updated_at timestamptz(3));
		INSERT INTO customers SELECT g, 'user'||g||'@example.com', g * 0.5, timestamptz '2026-11-01 10:00:00.125+00' + g * interval '1 minute' FROM generate_series(1, 50) g;
		CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2));
		INSERT INTO orders SELECT g, g * 3 FROM generate_series(1, 7) g`)
	config := func(maxDiff int) string {
		return writeConfig(t, fmt.Sprintf(`
database "source" {
  url = %q
}

database "sink" {
  url = %q
}

reconcile "customers" {
  source = database.source
  sink   = database.sink
  table  = "customers"

  check {
    mode               = "rows"
    max_rows_different = %d
  }
}
`, srcURL, dst, maxDiff))
	}
	dir := config(0)
	prom := filepath.Join(t.TempDir(), "offsetctl.prom")
	metrics := func() (healthy, different float64) {
		t.Helper()
		data, err := os.ReadFile(prom)
		if err != nil {
			t.Fatal(err)
		}
		mfs := parseMetrics(t, strings.NewReader(string(data)))
		healthy, _ = metricValue(mfs, "offsetctl_check_healthy", nil)
		different, _ = metricValue(mfs, "offsetctl_check_rows_different", map[string]string{"table": "customers", "kind": "total"})
		return healthy, different
	}
	for _, mode := range []string{"counts", "checksum", "rows"} {
		code, out, errOut := runCLI(t, dir, "check", "--mode", mode, "--metrics-file", prom, "-json")
		var r views.CheckResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Tables) != 1 {
			t.Fatalf("%s -json: %v\n%s\n%s", mode, err, out, errOut)
		}
		tb := r.Tables[0]
		if code != 0 || tb.Verdict != checkHealthy || tb.SourceRows != 50 || tb.SinkRows != 50 || !strings.Contains(tb.SnapshotBinlog, ".0000") || tb.SnapshotLSN != "" {
			t.Errorf("%s, healthy: exit %d, %+v\n%s", mode, code, tb, errOut)
		}
		if h, d := metrics(); h != 1 || d != 0 {
			t.Errorf("%s, healthy: metrics healthy %v, rows different %v", mode, h, d)
		}
	}
	pgtest.Exec(t, dst, `DELETE FROM customers WHERE id = 7; UPDATE customers SET email = 'secret-personal@example.com' WHERE id = 9`)
	for _, tc := range []struct {
		mode    string
		diff    float64
		missing int64
	}{
		{"counts", 1, 0}, {"checksum", 1, 0}, {"rows", 2, 1},
	} {
		code, out, errOut := runCLI(t, dir, "check", "--mode", tc.mode, "--metrics-file", prom, "-json")
		var r views.CheckResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Tables) != 1 {
			t.Fatalf("%s -json: %v\n%s\n%s", tc.mode, err, out, errOut)
		}
		if tb := r.Tables[0]; code != 2 || tb.Verdict != checkDrift || tb.RowsDifferent != int64(tc.diff) || tb.Missing != tc.missing {
			t.Errorf("%s, drift: exit %d, %+v\n%s", tc.mode, code, tb, errOut)
		}
		if h, d := metrics(); h != 0 || d != tc.diff {
			t.Errorf("%s, drift: metrics healthy %v, rows different %v, want 0 and %v", tc.mode, h, d, tc.diff)
		}
		if data, _ := os.ReadFile(prom); strings.Contains(out+errOut+string(data), "secret-personal") {
			t.Fatalf("a row value reached the output or the metrics")
		}
	}
	// The text report says drift with the counts of each kind.
	code, out, errOut := runCLI(t, dir, "check")
	if code != 2 || !strings.Contains(out, "offsetctl check: drift") {
		t.Errorf("text: exit %d\n%s\n%s", code, out, errOut)
	}
	// Within the block's threshold: healthy.
	if code, out, errOut := runCLI(t, config(2), "check"); code != 0 {
		t.Errorf("max_rows_different = 2: exit %d\n%s\n%s", code, out, errOut)
	}
	// Table discovery in the source's database: customers with its block,
	// orders found and compared with the sink's orders, audit excluded.
	code, out, errOut = runCLI(t, dir, "check", "--schema", "shop", "--exclude", "shop.audit", "--markdown")
	if code != 2 || !strings.Contains(out, "| `customers` | rows | 50 | 49 |") || !strings.Contains(out, "| `shop.orders` | checksum | 7 | 7 | 0 | 0 | 0 | healthy |") || strings.Contains(out, "audit") {
		t.Errorf("--schema shop: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, dir, "check", "--table", "ord*")
	if code != 0 || !strings.Contains(out, "shop.orders") || strings.Contains(out, "customers") {
		t.Errorf("--table ord*: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestPastSnapshot: a connector's stored position is past a comparison's
// source snapshot by WAL position, or by binlog file sequence then pos; a
// binlog file that cannot be ordered is an error.
func TestPastSnapshot(t *testing.T) {
	bin := func(file string, pos int64) reconcile.SnapshotPosition {
		return reconcile.SnapshotPosition{Binlog: true, BinlogFile: file, BinlogPos: pos}
	}
	for _, tc := range []struct {
		name          string
		stored, snap  reconcile.SnapshotPosition
		past, wantErr bool
	}{
		{"lsn equal", reconcile.SnapshotPosition{LSN: 100}, reconcile.SnapshotPosition{LSN: 100}, true, false},
		{"lsn before", reconcile.SnapshotPosition{LSN: 99}, reconcile.SnapshotPosition{LSN: 100}, false, false},
		{"binlog same file, at", bin("mariadb-bin.000003", 1234), bin("mariadb-bin.000003", 1234), true, false},
		{"binlog same file, after", bin("mariadb-bin.000003", 1300), bin("mariadb-bin.000003", 1234), true, false},
		{"binlog same file, before", bin("mariadb-bin.000003", 900), bin("mariadb-bin.000003", 1234), false, false},
		{"binlog later file, smaller pos", bin("mariadb-bin.000004", 4), bin("mariadb-bin.000003", 1234), true, false},
		{"binlog earlier file, larger pos", bin("mariadb-bin.000002", 99999), bin("mariadb-bin.000003", 1234), false, false},
		{"binlog file without sequence", bin("mariadb-bin", 5), bin("mariadb-bin.000003", 1234), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			past, err := pastSnapshot(tc.stored, tc.snap)
			if past != tc.past || (err != nil) != tc.wantErr {
				t.Errorf("pastSnapshot(%s, %s) = %v, %v; want %v, error %v", tc.stored, tc.snap, past, err, tc.past, tc.wantErr)
			}
		})
	}
}

// TestCheckMariaDBLagAware: with rows differing on a block whose source is
// MariaDB and which names its Debezium MariaDB/MySQL source connector, check
// compares the connector's stored binlog file and pos with the source
// snapshot's binlog position: behind it (in the snapshot's file, an earlier
// pos), the differing rows are in flight (exit 0) and the report names the
// connector and both positions; past it (a later binlog file), they are
// drift (exit 2). No offset holding a binlog position: in flight.
func TestCheckMariaDBLagAware(t *testing.T) { testCheckLagAware(t, false) }

// TestCheckMySQLLagAware is the same with a MySQL source
// (OFFSETCTL_MYSQL_URL), whose position is read just after its snapshot
// began; as a user without REPLICATION CLIENT, which may not read it, the
// differing rows are in flight and the report says why.
func TestCheckMySQLLagAware(t *testing.T) { testCheckLagAware(t, true) }

func testCheckLagAware(t *testing.T, mysql bool) {
	src := mariadbtest.SourceDB(t, mysql, "shop")
	dst := pgtest.NewDB(t)
	mariadbtest.Exec(t, src, `CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(100));
		INSERT INTO customers SELECT seq, CONCAT('user', seq, '@example.com') FROM `+mariadbtest.Seq(mysql, 20))
	pgtest.Exec(t, dst, `CREATE TABLE customers (id bigint PRIMARY KEY, email text);
		INSERT INTO customers SELECT g, 'user'||g||'@example.com' FROM generate_series(1, 20) g;
		DELETE FROM customers WHERE id = 7`)
	user := fmt.Sprintf("offsetctl_norc_%d", time.Now().UnixNano()%1e9)
	if mysql { // before the binlog position is read: it writes to the binlog
		mariadbtest.Exec(t, src, "CREATE USER "+user+"@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON shop.* TO "+user+"@'%'")
		t.Cleanup(func() { mariadbtest.Exec(t, src, "DROP USER "+user+"@'%'") })
	}
	file, pos := mariadbtest.BinlogStatus(t, src, mysql)
	base, _, _ := strings.Cut(file, ".")
	sb, c := startBareSandbox(t, "3.8")
	createConnector(t, c, "shop-source", connect.StateStopped, map[string]string{"connector.class": "io.debezium.connector.mysql.MySqlConnector"})
	config := func(srcURL string) string {
		return writeConfig(t, fmt.Sprintf(`
connect "sandbox" {
  url = %q
}

connector "shop_source" {
  connect = connect.sandbox
  name    = "shop-source"
}

database "source" {
  url = %q
}

database "sink" {
  url = %q
}

reconcile "customers" {
  source     = database.source
  sink       = database.sink
  table      = "customers"
  connectors = [connector.shop_source]

  check {
    mode = "rows"
  }
}
`, sb.ConnectURL(), srcURL, dst))
	}
	dir := config(src)
	for _, tc := range []struct {
		name     string
		offset   string
		wantCode int
		verdict  string
		want     string
	}{
		{"no offset", "", 0, checkInFlight, "has stored no binlog position (file and pos)"},
		{"behind", fmt.Sprintf(`{"file":%q,"pos":4}`, file), 0, checkInFlight, fmt.Sprintf("has stored %s:4, before the source's snapshot %s:%d", file, file, pos)},
		{"past", fmt.Sprintf(`{"file":"%s.999999","pos":4}`, base), 2, checkDrift, fmt.Sprintf("the pipeline delivered every change up to the source's snapshot %s:%d", file, pos)},
	} {
		if tc.name == "past" && mysql {
			// The same, as a user who may not read where the binlog stands.
			t.Run("no REPLICATION CLIENT", func(t *testing.T) {
				patchOffsets(t, sb.ConnectURL(), "shop-source", `{"offsets":[{"partition":{"server":"shop"},"offset":`+tc.offset+`}]}`)
				norc := strings.Replace(src, "mysql://root@", "mysql://"+user+":pw@", 1)
				code, out, errOut := runCLI(t, config(norc), "check", "--settle", "300ms", "-json")
				var r views.CheckResult
				if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Tables) != 1 {
					t.Fatalf("-json: %v\n%s\n%s", err, out, errOut)
				}
				tb := r.Tables[0]
				if code != 0 || tb.Verdict != checkInFlight || tb.SnapshotBinlog != "" || !strings.Contains(tb.Pipeline, "Access denied") || !strings.Contains(tb.Pipeline, "the source user needs REPLICATION CLIENT") {
					t.Errorf("exit %d, want 0; verdict %s, want %s; snapshot %q, want none; pipeline %q, want the server's refusal and REPLICATION CLIENT\n%s", code, tb.Verdict, checkInFlight, tb.SnapshotBinlog, tb.Pipeline, errOut)
				}
			})
		}
		t.Run(tc.name, func(t *testing.T) {
			if tc.offset != "" {
				patchOffsets(t, sb.ConnectURL(), "shop-source", `{"offsets":[{"partition":{"server":"shop"},"offset":`+tc.offset+`}]}`)
			}
			code, out, errOut := runCLI(t, dir, "check", "--settle", "300ms", "-json")
			var r views.CheckResult
			if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Tables) != 1 {
				t.Fatalf("-json: %v\n%s\n%s", err, out, errOut)
			}
			tb := r.Tables[0]
			if code != tc.wantCode || tb.Verdict != tc.verdict || !tb.Settled || tb.Missing != 1 || !strings.Contains(tb.Pipeline, tc.want) ||
				!strings.HasPrefix(tb.SnapshotBinlog, fmt.Sprintf("%s:%d", file, pos)) {
				t.Errorf("exit %d, want %d; verdict %s, want %s; pipeline %q, want %q; %+v\n%s", code, tc.wantCode, tb.Verdict, tc.verdict, tb.Pipeline, tc.want, tb, errOut)
			}
		})
	}
}
