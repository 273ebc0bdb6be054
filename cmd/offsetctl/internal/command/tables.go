package command

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// tableFilter is the table selection diff and check share: --table names
// or patterns (public.*), --schema and --exclude, matched against
// schema.table names of the source (an unqualified name is in schema:
// public for a PostgreSQL source, the URL's database for a MariaDB/MySQL
// one).
type tableFilter struct {
	tables, schemas, excludes []string
	schema                    string // empty: public
}

// qualify adds the filter's schema to an unqualified table name.
func (f tableFilter) qualify(t string) string {
	if strings.Contains(t, ".") {
		return t
	}
	if f.schema == "" {
		return "public." + t
	}
	return f.schema + "." + t
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

func (f tableFilter) match(pattern, name string) bool {
	ok, _ := path.Match(f.qualify(pattern), f.qualify(name))
	return ok
}

// keep says whether the table name is selected: matched by a --table or
// in a --schema (everything when neither is given), and not excluded.
func (f tableFilter) keep(name string) bool {
	name = f.qualify(name)
	schema, _, _ := strings.Cut(name, ".")
	keep := len(f.tables) == 0 && len(f.schemas) == 0
	for _, p := range f.tables {
		keep = keep || f.match(p, name)
	}
	for _, s := range f.schemas {
		keep = keep || s == schema
	}
	for _, x := range f.excludes {
		if f.match(x, name) {
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
		if isTablePattern(t) || slices.Contains(out, f.qualify(t)) || slices.ContainsFunc(f.excludes, func(x string) bool { return f.match(x, t) }) {
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

// listMySQLTables lists the base tables of a MariaDB/MySQL source's
// database (the one its URL names) as database.table, sorted, and returns
// that database: the schema of its unqualified names.
func listMySQLTables(ctx context.Context, db *sql.DB) (string, []string, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&schema); err != nil {
		return "", nil, fmt.Errorf("listing the source's tables: %w", err)
	}
	if !schema.Valid || schema.String == "" {
		return "", nil, errors.New("listing the source's tables: its URL names no database (mysql://USER@HOST:PORT/DATABASE)")
	}
	rows, err := db.QueryContext(ctx, `SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema = DATABASE() ORDER BY 1`)
	if err != nil {
		return "", nil, fmt.Errorf("listing the source's tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return "", nil, fmt.Errorf("listing the source's tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("listing the source's tables: %w", err)
	}
	return schema.String, names, nil
}
