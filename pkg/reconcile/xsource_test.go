package reconcile

import (
	"fmt"
	"testing"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
)

// xsource is the server of a cross-engine test's source: MariaDB, which
// every run has, or MySQL, opt-in (mariadbtest.NewMySQLDB: the test is
// skipped unless OFFSETCTL_MYSQL_URL names a server). The tests that run on
// both are written once, as functions of it; each engine has its Test
// function, so that either runs alone with -run.
type xsource struct {
	name  string // "MariaDB", "MySQL"
	mysql bool
	newDB func(testing.TB) string
}

var (
	onMariaDB = xsource{name: "MariaDB", newDB: mariadbtest.NewDB}
	onMySQL   = xsource{name: "MySQL", mysql: true, newDB: mariadbtest.NewMySQLDB}
)

// seq is a FROM item holding the integers 1 to n in a column seq:
// MariaDB's sequence engine; on MySQL, which has none, five digits crossed
// (n at most 100,000).
func (s xsource) seq(n int) string {
	if !s.mysql {
		return fmt.Sprintf("seq_1_to_%d", n)
	}
	d := "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	return fmt.Sprintf("(SELECT d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 10000 * d5.d + 1 AS seq FROM %s d1, %s d2, %s d3, %s d4, %s d5 HAVING seq <= %d) AS seqs", d, d, d, d, d, n)
}

// has says whether a test case marked only ("mariadb", "mysql"; "" for
// both) is for the source engine s.
func (s xsource) has(only string) bool {
	return only == "" || (only == "mysql") == s.mysql
}
