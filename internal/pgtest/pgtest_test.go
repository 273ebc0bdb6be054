package pgtest

import (
	"context"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewDBIsEmptyAndOwn(t *testing.T) {
	a, b := NewDB(t), NewDB(t)
	if a == b {
		t.Fatalf("two databases share a URL: %s", a)
	}
	Exec(t, a, "CREATE TABLE x (id int primary key)")
	var n int
	if err := Conn(t, b).QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s sees a table made in %s", b, a)
	}
}
