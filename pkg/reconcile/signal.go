package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultSignalKeys is the number of keys one execute-snapshot signal names:
// its filter stays a few kilobytes, which Debezium's chunk query takes
// without trouble.
const DefaultSignalKeys = 500

// Signal is one row of Debezium's signalling table.
type Signal struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// SnapshotSignals builds the execute-snapshot signals that make Debezium
// re-emit the rows of keys from the source table (an incremental snapshot
// with additional-conditions naming the keys), at most perKey keys per
// signal (zero: DefaultSignalKeys). keyColumns are the source key columns,
// keys their canonical texts as Compare returns them; idPrefix makes the
// signal ids ("<idPrefix>-1", "<idPrefix>-2", ...). The filters quote every
// value as an SQL literal and every column as an identifier.
func SnapshotSignals(table string, keyColumns []string, keys []Key, perSignal int, idPrefix string) ([]Signal, error) {
	return snapshotSignals(table, keyColumns, keys, perSignal, idPrefix, func(c string) string { return pgx.Identifier{c}.Sanitize() }, literal)
}

// SnapshotSignalsMySQL is SnapshotSignals for a MariaDB/MySQL source (the
// table is DATABASE.TABLE): the filters quote columns with backquotes and
// values as MariaDB/MySQL string literals.
func SnapshotSignalsMySQL(table string, keyColumns []string, keys []Key, perSignal int, idPrefix string) ([]Signal, error) {
	if name, err := ParseTableName(table); err == nil && name.Schema == "" {
		return nil, fmt.Errorf("signal for table %q: name the database too (DATABASE.TABLE), as Debezium's MariaDB and MySQL connectors name their tables", table)
	}
	return snapshotSignals(table, keyColumns, keys, perSignal, idPrefix, func(c string) string { return quoteMySQLIdent(c) }, mysqlLiteral)
}

// mysqlLiteral writes v as a MariaDB/MySQL string: a hex literal with the
// utf8mb4 introducer, which means the same whatever the server's sql_mode
// (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) and whatever v holds, and takes the
// column's collation in a comparison (a literal yields to a column).
func mysqlLiteral(v string) string {
	return fmt.Sprintf("_utf8mb4 X'%x'", v)
}

func snapshotSignals(table string, keyColumns []string, keys []Key, perSignal int, idPrefix string, ident, lit func(string) string) ([]Signal, error) {
	name, err := ParseTableName(table)
	if err != nil {
		return nil, fmt.Errorf("signal for table %q: %w", table, err)
	}
	if name.Schema == "" {
		name.Schema = "public"
	}
	if len(keyColumns) == 0 {
		return nil, errors.New("a snapshot signal needs the key columns")
	}
	if perSignal <= 0 {
		perSignal = DefaultSignalKeys
	}
	// Debezium matches data collections by regular expression: escape the
	// name's dots so it names this table only.
	coll := name.Schema + "." + name.Name
	collRE := regexpQuote(coll)
	var cols []string
	for _, c := range keyColumns {
		cols = append(cols, ident(c))
	}
	var out []Signal
	for start := 0; start < len(keys); start += perSignal {
		batch := keys[start:min(start+perSignal, len(keys))]
		var filter string
		if len(cols) == 1 {
			lits := make([]string, len(batch))
			for i, k := range batch {
				if len(k) != 1 {
					return nil, fmt.Errorf("key %s has %d values, the key has 1 column", k, len(k))
				}
				lits[i] = lit(k[0])
			}
			filter = cols[0] + " IN (" + strings.Join(lits, ", ") + ")"
		} else {
			tuples := make([]string, len(batch))
			for i, k := range batch {
				if len(k) != len(cols) {
					return nil, fmt.Errorf("key %s has %d values, the key has %d columns", k, len(k), len(cols))
				}
				lits := make([]string, len(k))
				for j, v := range k {
					lits[j] = lit(v)
				}
				tuples[i] = "(" + strings.Join(lits, ", ") + ")"
			}
			filter = "(" + strings.Join(cols, ", ") + ") IN (" + strings.Join(tuples, ", ") + ")"
		}
		data, err := json.Marshal(map[string]any{
			"data-collections": []string{collRE},
			"type":             "incremental",
			"additional-conditions": []map[string]string{
				{"data-collection": collRE, "filter": filter},
			},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, Signal{ID: fmt.Sprintf("%s-%d", idPrefix, len(out)+1), Type: "execute-snapshot", Data: string(data)})
	}
	return out, nil
}

// literal quotes v as an SQL string literal; PostgreSQL casts it to the key
// column's type in the comparison.
func literal(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// SendSignals inserts signals into Debezium's signalling table on the
// source, in one transaction: all of them or none. A signal whose id is
// already in the table (a second run) is left as it is. The table must
// exist with Debezium's three columns (id, type, data).
func SendSignals(ctx context.Context, src *pgx.Conn, signalTable string, signals []Signal) (int, error) {
	name, err := ParseTableName(signalTable)
	if err != nil {
		return 0, fmt.Errorf("signal table %q: %w", signalTable, err)
	}
	ident := pgx.Identifier{name.Name}
	if name.Schema != "" {
		ident = pgx.Identifier{name.Schema, name.Name}
	}
	var n int
	if err := src.QueryRow(ctx, `SELECT count(*) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attname IN ('id', 'type', 'data')`, ident.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("looking up the signal table %s: %w", name, err)
	}
	if n != 3 {
		var exists bool
		_ = src.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", ident.Sanitize()).Scan(&exists)
		if !exists {
			return 0, fmt.Errorf("the signal table %s does not exist on the source (or is not visible to this user): create it as Debezium documents (id varchar primary key, type varchar not null, data varchar) and set the connector's signal.data.collection to it; nothing was sent", name)
		}
		return 0, fmt.Errorf("the signal table %s lacks Debezium's columns id, type and data; nothing was sent", name)
	}
	tx, err := src.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("starting a transaction on the source for the signals: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	sent := 0
	for _, s := range signals {
		tag, err := tx.Exec(ctx, "INSERT INTO "+ident.Sanitize()+" (id, type, data) SELECT $1::text, $2::text, $3::text WHERE NOT EXISTS (SELECT 1 FROM "+ident.Sanitize()+" WHERE id = $1::text)", s.ID, s.Type, s.Data)
		if err != nil {
			return 0, fmt.Errorf("inserting signal %s into %s: %w; nothing was sent", s.ID, name, explain(err))
		}
		sent += int(tag.RowsAffected())
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing the signals into %s: %w", name, err)
	}
	return sent, nil
}
