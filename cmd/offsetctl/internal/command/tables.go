package command

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// tableFilter is the table selection diff and check share: --table names
// or patterns (public.*), --schema and --exclude, matched against
// schema.table names of the source (an unqualified name is in public).
type tableFilter struct {
	tables, schemas, excludes []string
}

// discovers says whether the selection needs the source's list of tables:
// a --schema, an --exclude or a --table pattern.
func (f tableFilter) discovers() bool {
	if len(f.schemas) > 0 || len(f.excludes) > 0 {
		return true
	}
	return slices.ContainsFunc(f.tables, isTablePattern)
}

// validate checks the patterns' syntax, naming the flag.
func (f tableFilter) validate() error {
	for _, p := range append(slices.Clip(f.tables), f.excludes...) {
		if _, err := path.Match(p, ""); err != nil {
			return flagErrorf("the table pattern %q is not valid: %v", p, err)
		}
	}
	return nil
}

func isTablePattern(t string) bool { return strings.ContainsAny(t, "*?[") }

func matchTable(pattern, name string) bool {
	ok, _ := path.Match(qualifiedTable(pattern), qualifiedTable(name))
	return ok
}

// keep says whether the table name is selected: matched by a --table or
// in a --schema (everything when neither is given), and not excluded.
func (f tableFilter) keep(name string) bool {
	name = qualifiedTable(name)
	schema, _, _ := strings.Cut(name, ".")
	keep := len(f.tables) == 0 && len(f.schemas) == 0
	for _, p := range f.tables {
		keep = keep || matchTable(p, name)
	}
	for _, s := range f.schemas {
		keep = keep || s == schema
	}
	for _, x := range f.excludes {
		if matchTable(x, name) {
			keep = false
		}
	}
	return keep
}

// selectTables returns the names the filter keeps, in the order given, then
// every plain --table that is not among them nor excluded: it is still
// compared, so that its absence is reported rather than passed over.
func (f tableFilter) selectTables(names []string) []string {
	var out []string
	for _, n := range names {
		if f.keep(n) {
			out = append(out, n)
		}
	}
	for _, t := range f.tables {
		if isTablePattern(t) || slices.Contains(out, qualifiedTable(t)) || slices.ContainsFunc(f.excludes, func(x string) bool { return matchTable(x, t) }) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// tableLister is a PostgreSQL connection or pool.
type tableLister interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// listTables lists a PostgreSQL database's base tables as schema.table,
// sorted, leaving out the system schemas.
func listTables(ctx context.Context, db tableLister) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT table_schema || '.' || table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("listing the source's tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing the source's tables: %w", err)
	}
	return names, nil
}

// qualifiedTable adds the public schema to an unqualified table name.
func qualifiedTable(t string) string {
	if strings.Contains(t, ".") {
		return t
	}
	return "public." + t
}
