package main

import (
	"testing"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// TestMain gives the repair kill tests a PostgreSQL (one throwaway cluster
// for the test binary, or the one make test started).
func TestMain(m *testing.M) { pgtest.Main(m) }
