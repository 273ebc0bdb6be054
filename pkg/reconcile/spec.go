package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Mode says how much Compare does.
type Mode string

// The modes of Compare, cheapest first.
const (
	// ModeCounts counts rows on both sides.
	ModeCounts Mode = "counts"
	// ModeChecksum adds the whole-table checksum and, with Spec.Partition,
	// per-partition checksums.
	ModeChecksum Mode = "checksum"
	// ModeRows finds the missing, extra and mismatched rows (the default).
	ModeRows Mode = "rows"
)

// Precision is the precision timestamps are compared at.
type Precision string

// Timestamp precisions. The empty Precision means the coarser of the two
// columns' declared precisions.
const (
	PrecisionAuto        Precision = ""
	PrecisionSecond      Precision = "s"
	PrecisionMillisecond Precision = "ms"
	PrecisionMicrosecond Precision = "us"
)

// digits returns the number of fractional second digits.
func (p Precision) digits() int {
	switch p {
	case PrecisionSecond:
		return 0
	case PrecisionMillisecond:
		return 3
	default:
		return 6
	}
}

// Partition says how ModeChecksum splits a table into partitions.
type Partition struct {
	// By is a time unit, "hour", "day", "week", "month" or "year" (Column
	// is a date or timestamp column; in UTC; weeks start on Monday), or
	// "range" (Ranges key ranges of about equal row counts, single-column
	// keys only).
	By     string `json:"by"`
	Column string `json:"column,omitempty"`
	Ranges int    `json:"ranges,omitempty"`
}

// Spec says what to compare. Its zero value is not valid: Table is required.
type Spec struct {
	// Table is the source table, "name" or "schema.name"; parts that need it
	// are written in double quotes, as in SQL ("My Schema"."Odd""Name").
	// Unquoted parts are folded to lower case, as PostgreSQL does.
	Table string
	// SinkTable is the sink table; empty means the same name as Table.
	SinkTable string
	// Key names the source key columns; empty means the source table's
	// primary key. The key must be unique and NOT NULL on both sides.
	Key []string
	// Columns, when not empty, lists the source columns to compare (key
	// columns are always compared). "src=dst" maps a source column to a sink
	// column of another name.
	Columns []string
	// Rename maps source column names to sink column names; Columns entries
	// of the form "src=dst" add to it.
	Rename map[string]string
	// Ignore lists columns (of either side) left out of the comparison.
	Ignore []string
	// TimestampPrecision is the precision timestamps are compared at, in UTC.
	TimestampPrecision Precision
	// Where is an optional filter applied on both sides as written (so it
	// must name columns that exist on both): a boolean SQL expression the
	// operator wrote and reviewed. See CheckWhere.
	Where string
	// Mode is counts, checksum or rows (the default).
	Mode Mode
	// Partition, for ModeChecksum, adds per-partition checksums.
	Partition *Partition
	// Settle, when positive, re-checks the differing keys after this delay
	// and reports only those still different.
	Settle time.Duration
	// ShowValues returns the canonical text of the differing rows' values.
	// They may be personal data: off by default.
	ShowValues bool
	// MaxKeys caps the number of keys kept per kind of difference (the counts
	// stay exact). Zero means 100000.
	MaxKeys int
	// StatementTimeout and LockTimeout bound every statement. Zero means
	// 30 minutes and 5 seconds.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	// RateLimit, when positive, caps the rows read per second on each side:
	// scans run without parallel workers, and the engine pauses between
	// statements and while streaming so the average stays under the limit.
	RateLimit int
	// Parallel is the number of parallel workers each side's queries may
	// use besides their own backend (max_parallel_workers_per_gather, and
	// never more than the server allows). Zero, the default, reads each
	// table in one backend: a comparison takes one core per database, as
	// pg_comparator does, and leaves the others to production. More
	// workers finish sooner on a server with idle cores.
	Parallel int
	// Progress, when not nil, receives progress events. It is called from
	// the engine's goroutines, one call at a time.
	Progress func(Progress)
	// BeforeSinkSnapshot, when not nil, is called once the source's
	// snapshot is taken, with its log position (Result.SourceSnapshot),
	// and before the sink's transaction begins: the sink is then read in a
	// snapshot taken after it returns. A drift check waits there for the
	// pipeline to deliver everything up to the source's snapshot, so that a
	// row that still differs is drift, not a change in flight. An error
	// ends the comparison.
	BeforeSinkSnapshot func(ctx context.Context, source SnapshotPosition) error
	// RecheckSource, in the rows mode, reads the differing keys' source
	// rows again in a fresh snapshot once the comparison is done, and takes
	// out of the differences those whose source row changed since the
	// comparison's snapshot (Result.ChangedSince): read after that snapshot,
	// the sink may already hold the newer row. Keys beyond MaxKeys are not
	// re-read and stay counted.
	RecheckSource bool

	// tune overrides the cell search tuning (tests only).
	tune *tuning
}

// tuning is the cell search's tuning; see the constants in compare.go.
type tuning struct {
	firstBits  int   // cells at the first level (0: from the row estimate)
	fetchLimit int64 // rows to stream above which cells are split
}

// Progress is a progress event of Compare.
type Progress struct {
	// Phase is what is running: "introspect", "cells", "split", "stream",
	// "columns", "settle".
	Phase string
	// RowsHashed is the number of rows hashed so far, both sides together.
	RowsHashed int64
	// RowsTotal is the estimate of rows to hash, both sides together.
	RowsTotal int64
	// CellsLeft is the number of differing cells still to examine.
	CellsLeft int
}

// SpecError is a Spec that cannot be used; Field names the Spec field (in
// its HCL spelling: table, sink_table, key, columns, ignore_columns,
// timestamp_precision, where, mode, partition).
type SpecError struct {
	Field string
	Msg   string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Msg }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrNotComparable is wrapped by errors for tables that cannot be compared:
// no key, a column on one side only, incompatible column types.
var ErrNotComparable = errors.New("tables cannot be compared")

// ErrSameTable is wrapped by the error of a comparison whose source and sink
// are one table of one database: such a comparison could never find drift.
var ErrSameTable = errors.New("the source and the sink are the same table")

// Validate checks what can be checked without a database.
func (s *Spec) Validate() error {
	if strings.TrimSpace(s.Table) == "" {
		return specErr("table", "a source table is required")
	}
	if _, err := ParseTableName(s.Table); err != nil {
		return specErr("table", "%v", err)
	}
	if s.SinkTable != "" {
		if _, err := ParseTableName(s.SinkTable); err != nil {
			return specErr("sink_table", "%v", err)
		}
	}
	seen := map[string]bool{}
	for _, k := range s.Key {
		if k == "" {
			return specErr("key", "empty column name")
		}
		if seen[k] {
			return specErr("key", "column %q named twice", k)
		}
		seen[k] = true
	}
	for _, c := range s.Columns {
		src, dst, _ := strings.Cut(c, "=")
		if src == "" || (strings.Contains(c, "=") && dst == "") {
			return specErr("columns", "bad column entry %q: want NAME or SOURCE=SINK", c)
		}
	}
	switch s.TimestampPrecision {
	case PrecisionAuto, PrecisionSecond, PrecisionMillisecond, PrecisionMicrosecond:
	default:
		return specErr("timestamp_precision", "unknown precision %q: want s, ms or us", s.TimestampPrecision)
	}
	switch s.Mode {
	case "", ModeCounts, ModeChecksum, ModeRows:
	default:
		return specErr("mode", "unknown mode %q: want counts, checksum or rows", s.Mode)
	}
	if s.Partition != nil {
		if s.Mode != ModeChecksum {
			return specErr("partition", "partitions apply to the checksum mode only")
		}
		switch s.Partition.By {
		case "hour", "day", "week", "month", "year":
			if s.Partition.Column == "" {
				return specErr("partition", "by %s needs a date or timestamp column", s.Partition.By)
			}
		case "range":
			if s.Partition.Ranges < 1 || s.Partition.Ranges > 10000 {
				return specErr("partition", "by range needs between 1 and 10000 ranges, got %d", s.Partition.Ranges)
			}
		default:
			return specErr("partition", "unknown partitioning %q: want hour, day, week, month, year or range", s.Partition.By)
		}
	}
	if err := CheckWhere(s.Where); err != nil {
		return specErr("where", "%v", err)
	}
	if s.Parallel > 1024 {
		return specErr("parallel", "at most 1024 parallel workers per side (PostgreSQL's limit), got %d", s.Parallel)
	}
	if s.MaxKeys < 0 || s.RateLimit < 0 || s.Parallel < 0 || s.Settle < 0 || s.StatementTimeout < 0 || s.LockTimeout < 0 {
		return specErr("limits", "max keys, rate limit, parallel workers, settle delay and timeouts cannot be negative")
	}
	return nil
}

func (s *Spec) mode() Mode {
	if s.Mode == "" {
		return ModeRows
	}
	return s.Mode
}

func (s *Spec) maxKeys() int {
	if s.MaxKeys == 0 {
		return 100000
	}
	return s.MaxKeys
}

// CheckWhere checks a filter expression lexically: it must be one SQL
// expression without ';', comments ('--', '/*'), parameters or dollar quotes
// ('$'), with balanced parentheses and closed quotes. It is not a proof of
// safety: Compare also runs the filter only inside a read-only transaction and
// parse-checks it with LIMIT 0 before use. The empty string is accepted (no
// filter).
func CheckWhere(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return nil
	}
	depth := 0
	rs := []rune(expr)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\'':
			// A string literal; E'...' strings allow backslash escapes.
			escapes := i > 0 && (rs[i-1] == 'E' || rs[i-1] == 'e') && (i == 1 || !isIdentRune(rs[i-2]))
			closed := false
			for i++; i < len(rs); i++ {
				if escapes && rs[i] == '\\' {
					i++
					continue
				}
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						i++
						continue
					}
					closed = true
					break
				}
			}
			if !closed {
				return errors.New("unterminated string literal")
			}
		case r == '"':
			closed := false
			for i++; i < len(rs); i++ {
				if rs[i] == '"' {
					if i+1 < len(rs) && rs[i+1] == '"' {
						i++
						continue
					}
					closed = true
					break
				}
			}
			if !closed {
				return errors.New("unterminated quoted identifier")
			}
		case r == ';':
			return errors.New("';' is not allowed: the filter must be one expression")
		case r == '$':
			return errors.New("'$' (parameters, dollar quoting) is not allowed in the filter")
		case r == '-' && i+1 < len(rs) && rs[i+1] == '-', r == '/' && i+1 < len(rs) && rs[i+1] == '*':
			return errors.New("comments are not allowed in the filter")
		case r == '(':
			depth++
		case r == ')':
			depth--
			if depth < 0 {
				return errors.New("unbalanced parentheses")
			}
		case r == 0:
			return errors.New("NUL character in the filter")
		}
	}
	if depth != 0 {
		return errors.New("unbalanced parentheses")
	}
	return nil
}

func isIdentRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// TableName is a parsed table name: Schema is empty when the name is
// unqualified (resolved through the search_path).
type TableName struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
}

// String renders the name quoted where needed.
func (t TableName) String() string {
	if t.Schema == "" {
		return quoteIdentIfNeeded(t.Name)
	}
	return quoteIdentIfNeeded(t.Schema) + "." + quoteIdentIfNeeded(t.Name)
}

func quoteIdentIfNeeded(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// ParseTableName parses "name", "schema.name" and their double-quoted forms.
func ParseTableName(s string) (TableName, error) {
	var parts []string
	rs := []rune(strings.TrimSpace(s))
	for i := 0; i < len(rs); {
		var b strings.Builder
		if rs[i] == '"' {
			closed := false
			for i++; i < len(rs); i++ {
				if rs[i] == '"' {
					if i+1 < len(rs) && rs[i+1] == '"' {
						b.WriteRune('"')
						i++
						continue
					}
					closed = true
					i++
					break
				}
				b.WriteRune(rs[i])
			}
			if !closed {
				return TableName{}, fmt.Errorf("unterminated quoted name in %q", s)
			}
		} else {
			for ; i < len(rs) && rs[i] != '.'; i++ {
				if rs[i] == '"' {
					return TableName{}, fmt.Errorf("misplaced quote in %q", s)
				}
				b.WriteRune(unicode.ToLower(rs[i]))
			}
		}
		if b.Len() == 0 {
			return TableName{}, fmt.Errorf("empty name part in %q", s)
		}
		parts = append(parts, b.String())
		if i < len(rs) {
			if rs[i] != '.' {
				return TableName{}, fmt.Errorf("unexpected %q after a quoted name in %q", rs[i], s)
			}
			i++
			if i == len(rs) {
				return TableName{}, fmt.Errorf("empty name part in %q", s)
			}
		}
	}
	switch len(parts) {
	case 1:
		return TableName{Name: parts[0]}, nil
	case 2:
		return TableName{Schema: parts[0], Name: parts[1]}, nil
	default:
		return TableName{}, fmt.Errorf("want NAME or SCHEMA.NAME, got %q", s)
	}
}
