package reconcile

import (
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

// seq is a FROM item holding the integers 1 to n in a column seq.
func (s xsource) seq(n int) string { return mariadbtest.Seq(s.mysql, n) }

// has says whether a test case marked only ("mariadb", "mysql"; "" for
// both) is for the source engine s.
func (s xsource) has(only string) bool {
	return only == "" || (only == "mysql") == s.mysql
}
