package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// CompareMySQL compares a MariaDB/MySQL source table with its PostgreSQL
// sink: counts, checksums (whole table and per partition) and rows, as
// Compare does between two PostgreSQL tables, with the canonical row form of
// xcanon.go computed inside each database.
//
// The source is read on one connection of src in a READ ONLY transaction
// WITH CONSISTENT SNAPSHOT, the sink on dst in Compare's READ ONLY,
// REPEATABLE READ transaction. In the rows mode both sides first send the
// count and checksum of every cell (a key range of a single integer key, or
// the rows whose key hash has the same low bits), both at once; then the
// (key, row hash) pairs of the rows in the differing cells (all rows when
// most cells differ) are streamed from both sides in one key order both
// engines agree on (integers and decimals by value, everything else by the
// UTF-8 bytes of its canonical text, never by a collation) and merged.
// Client memory is bounded by the batches in flight, the ids of the
// differing cells and the differences kept.
//
// As Compare, it records the source snapshot's position (Result.SourceSnapshot:
// the binlog position of the consistent snapshot), calls
// Spec.BeforeSinkSnapshot before the sink's snapshot is taken, and in the rows
// mode re-reads the differing keys on the source with Spec.RecheckSource.
// Spec.Settle and Spec.ShowValues are not available across engines yet.
func CompareMySQL(ctx context.Context, src *sql.DB, dst *pgx.Conn, spec Spec) (*Result, error) {
	start := time.Now()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if src == nil || dst == nil {
		return nil, errors.New("compare needs a MariaDB/MySQL source and a PostgreSQL sink connection")
	}
	if spec.Settle > 0 || spec.ShowValues {
		return nil, &SpecError{Field: "settle", Msg: "settle and show_values are not available yet when the source is MariaDB/MySQL"}
	}
	if spec.Partition != nil && spec.Partition.By == "range" {
		return nil, &SpecError{Field: "partition", Msg: "partitions by key range are not available yet when the source is MariaDB/MySQL: partition by hour, day, week, month or year"}
	}
	x := &xengine{engine: engine{spec: &spec}}
	x.emit("introspect", 0)
	if err := x.open(ctx, src, dst); err != nil {
		x.end(ctx)
		return nil, err
	}
	defer x.end(ctx)
	r := x.newResult()
	r.SourceSnapshot = x.my.pos
	var err error
	switch spec.mode() {
	case ModeCounts:
		err = x.counts(ctx, r)
	case ModeChecksum:
		err = x.checksums(ctx, r)
		if err == nil && spec.Partition != nil {
			err = x.partitions(ctx, r)
		}
	default:
		err = x.rows(ctx, r)
		if err == nil {
			err = x.details(ctx, r)
		}
		if err == nil && spec.RecheckSource && r.Drift() {
			err = x.recheckSource(ctx, src, r)
		}
	}
	if err != nil {
		return nil, err
	}
	r.Stats.Queries = x.queries
	r.Stats.Elapsed = time.Since(start)
	return r, nil
}

// xengine is the state of one CompareMySQL call.
type xengine struct {
	engine
	my    *mysqlSide
	pg    *side
	mt    *myTable
	pairs []xpair
	keys  int
	// fake sides carrying names for the shared merge code.
	fs, fd *side

	myWhere, pgWhere string
	myExprs, pgExprs []string
	myHash, pgHash   string
	digest           xdigest
	intKey           bool // single integer key: range cells, integer order
	queries          int
	qmu              sync.Mutex
}

func (x *xengine) count() {
	x.qmu.Lock()
	x.queries++
	x.qmu.Unlock()
}

func (x *xengine) end(ctx context.Context) {
	x.my.end(ctx)
	x.pg.end(ctx)
}

func (x *xengine) open(ctx context.Context, src *sql.DB, dst *pgx.Conn) error {
	srcName, _ := ParseTableName(x.spec.Table)
	dstName := srcName
	if x.spec.SinkTable != "" {
		dstName, _ = ParseTableName(x.spec.SinkTable)
	} else {
		// The source's schema is a MariaDB database, rarely the sink's
		// schema: an unqualified sink name goes through the search_path.
		dstName.Schema = ""
	}
	var serr, derr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if x.my, serr = beginMySQL(ctx, src, "source", x.spec); serr == nil {
			x.mt, serr = introspectMySQL(ctx, x.my.conn, x.my.mariadb, srcName, "source")
		}
	}()
	if x.spec.BeforeSinkSnapshot != nil {
		// The sink's snapshot is taken after the hook returns.
		wg.Wait()
		if serr != nil {
			return serr
		}
		if err := x.spec.BeforeSinkSnapshot(ctx, x.my.pos); err != nil {
			return err
		}
	}
	if x.pg, derr = begin(ctx, dst, "sink", x.spec); derr == nil {
		x.pg.tbl, derr = introspect(ctx, x.pg.tx, dstName, "sink")
	}
	wg.Wait()
	if serr != nil {
		return serr
	}
	if derr != nil {
		return derr
	}
	var enc string
	if err := x.pg.tx.QueryRow(ctx, "SELECT current_setting('server_encoding')").Scan(&enc); err != nil {
		return fmt.Errorf("reading the sink database's encoding: %w", err)
	}
	if enc != "UTF8" {
		return fmt.Errorf("%w: the sink database's encoding is %s; a MariaDB/MySQL source is compared through UTF-8 text, so the sink database must be UTF8", ErrNotComparable, enc)
	}
	x.fs = &side{name: "source", tbl: &table{Name: x.mt.Name}}
	x.fd = &side{name: "sink", tbl: x.pg.tbl, rate: x.pg.rate}
	if x.spec.RateLimit > 0 {
		x.fs.rate = &rateLimiter{perSecond: float64(x.spec.RateLimit), start: time.Now()}
	}
	x.m = &mapping{Src: x.fs.tbl, Dst: x.pg.tbl}
	x.myWhere, x.pgWhere = "TRUE", "true"
	if w := strings.TrimSpace(x.spec.Where); w != "" {
		x.myWhere, x.pgWhere = "("+w+")", "("+w+")"
		if _, err := x.my.conn.ExecContext(ctx, "SELECT 1 FROM "+x.mt.Ident+" WHERE "+x.myWhere+" LIMIT 0"); err != nil {
			return &SpecError{Field: "where", Msg: fmt.Sprintf("the filter does not work on the source table %s: %v", x.mt.Name, err)}
		}
		if _, err := x.pg.tx.Exec(ctx, "SELECT 1 FROM "+x.pg.tbl.Ident+" WHERE "+x.pgWhere+" LIMIT 0"); err != nil {
			return &SpecError{Field: "where", Msg: fmt.Sprintf("the filter does not work on the sink table %s: %v", x.pg.tbl.Name, err)}
		}
		x.queries += 2
	}
	x.total = 2 * max(x.mt.Estimate, x.pg.tbl.Estimate, 0)
	if x.spec.mode() == ModeCounts {
		return nil
	}
	if err := x.mapColumns(); err != nil {
		return err
	}
	for _, p := range x.pairs {
		x.myExprs = append(x.myExprs, p.SrcExpr)
		x.pgExprs = append(x.pgExprs, p.DstExpr)
	}
	x.digest = digestFor(x.my.mariadb)
	x.myHash = x.digest.myXHash(myRowCanon(x.pairs))
	x.pgHash = x.digest.pgXHash(pgRowCanon(x.pairs))
	return nil
}

// mapColumns matches the columns of both tables as buildMapping does.
func (x *xengine) mapColumns() error {
	src, dst := x.mt, x.pg.tbl
	rename := map[string]string{}
	for k, v := range x.spec.Rename {
		rename[k] = v
	}
	var only []string
	for _, c := range x.spec.Columns {
		s, d, ok := strings.Cut(c, "=")
		if ok {
			rename[s] = d
		}
		only = append(only, s)
	}
	ignored := map[string]bool{}
	for _, c := range x.spec.Ignore {
		ignored[c] = true
		_, inSrc := src.col(c)
		_, inDst := dst.col(c)
		if !inSrc && !inDst {
			return fmt.Errorf("%w: ignored column %q exists in neither %s nor %s", ErrNotComparable, c, src.Name, dst.Name)
		}
	}
	dstName := func(s string) string {
		if d, ok := rename[s]; ok {
			return d
		}
		return s
	}
	keyCols := x.spec.Key
	if len(keyCols) == 0 {
		if keyCols = src.PK; len(keyCols) == 0 {
			return fmt.Errorf("%w: source table %s has no primary key; name a unique, NOT NULL key with key (--key)", ErrNotComparable, src.Name)
		}
	}
	isKey := map[string]bool{}
	add := func(s string, key bool) error {
		sc, ok := src.col(s)
		if !ok {
			return fmt.Errorf("%w: column %q does not exist in source table %s", ErrNotComparable, s, src.Name)
		}
		dc, ok := dst.col(dstName(s))
		if !ok {
			return fmt.Errorf("%w: column %q does not exist in sink table %s (map it with SOURCE=SINK in columns)", ErrNotComparable, dstName(s), dst.Name)
		}
		p, err := makeXPair(sc, dc, x.spec.TimestampPrecision)
		if err != nil {
			return err
		}
		if key {
			if ignored[s] {
				return fmt.Errorf("%w: key column %q cannot be ignored", ErrNotComparable, s)
			}
			switch {
			case p.Class == classFloat:
				return fmt.Errorf("%w: key column %q has type %s, which cannot serve as a key", ErrNotComparable, s, sc.ColumnType)
			case p.Class == classInt && sc.unsigned() && sc.DataType == "bigint" && dc.Kind == kindInt:
				return fmt.Errorf("%w: key column %q is BIGINT UNSIGNED in the source and bigint in the sink (two's complement): the two sides order its keys differently; compare against a numeric(20,0) sink column", ErrNotComparable, s)
			}
			p.Key = true
		}
		x.pairs = append(x.pairs, p)
		return nil
	}
	for _, k := range keyCols {
		if err := add(k, true); err != nil {
			return err
		}
		isKey[k] = true
	}
	x.keys = len(x.pairs)
	used := map[string]bool{}
	for _, p := range x.pairs {
		used[p.Dst.Name] = true
	}
	var srcOnly, dstOnly []string
	if len(only) > 0 {
		for _, s := range only {
			if !isKey[s] {
				if err := add(s, false); err != nil {
					return err
				}
			}
		}
		for _, c := range src.Cols {
			if !isKey[c.Name] && !contains(only, c.Name) {
				x.m.Ignored = append(x.m.Ignored, c.Name)
			}
		}
	} else {
		for _, sc := range src.Cols {
			if isKey[sc.Name] {
				continue
			}
			dc, ok := dst.col(dstName(sc.Name))
			switch {
			case ignored[sc.Name] || (ok && ignored[dc.Name]):
				x.m.Ignored = append(x.m.Ignored, sc.Name)
				continue
			case !ok:
				srcOnly = append(srcOnly, sc.Name)
				continue
			}
			if err := add(sc.Name, false); err != nil {
				return err
			}
		}
		for _, p := range x.pairs {
			used[p.Dst.Name] = true
		}
		for _, dc := range dst.Cols {
			if used[dc.Name] {
				continue
			}
			if !ignored[dc.Name] {
				dstOnly = append(dstOnly, dc.Name)
			} else if _, inSrc := src.col(dc.Name); !inSrc {
				x.m.Ignored = append(x.m.Ignored, dc.Name)
			}
		}
	}
	if len(srcOnly) > 0 || len(dstOnly) > 0 {
		var parts []string
		if len(srcOnly) > 0 {
			parts = append(parts, fmt.Sprintf("only in source %s: %s", src.Name, quoteList(srcOnly)))
		}
		if len(dstOnly) > 0 {
			parts = append(parts, fmt.Sprintf("only in sink %s: %s", dst.Name, quoteList(dstOnly)))
		}
		return fmt.Errorf("%w: columns %s; ignore them (ignore_columns, --ignore) or map renamed ones (SOURCE=SINK in columns)", ErrNotComparable, strings.Join(parts, "; "))
	}
	sort.Strings(x.m.Ignored)
	// The shared result and merge code read the mapping's pairs and keys.
	for _, p := range x.pairs {
		sk := kindText
		switch p.Class {
		case classInt:
			sk = kindInt
			if p.Dst.Kind == kindNumeric || (p.Src.unsigned() && p.Src.DataType == "bigint") {
				sk = kindNumeric
			}
		case classDecimal:
			sk = kindNumeric
		}
		dk := p.Dst
		dk.Kind = sk
		x.m.Pairs = append(x.m.Pairs, pair{Src: column{Name: p.Src.Name, Type: p.Src.ColumnType, Kind: sk}, Dst: dk, Key: p.Key, Digits: p.Digits,
			SrcExpr: p.SrcExpr, DstExpr: p.DstExpr})
	}
	x.m.Keys = x.keys
	x.kinds = x.m.keyKinds()
	if x.spec.mode() == ModeRows && x.keys == 1 && x.kinds[0] == kindInt && x.pairs[0].Dst.Kind == kindInt {
		x.intKey = true
	}
	// Timestamps report their compared precision; the shared newResult
	// looks at the source kind.
	for i := range x.m.Pairs {
		if x.pairs[i].Class == classTimestamp {
			x.m.Pairs[i].Src.Kind = kindTimestamp
		}
	}
	return nil
}

// counts counts the rows on both sides at once.
func (x *xengine) counts(ctx context.Context, r *Result) error {
	return x.both(ctx, func(ctx context.Context) error {
		x.count()
		if err := x.my.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+x.mt.Ident+" WHERE "+x.myWhere).Scan(&r.SourceRows); err != nil {
			return fmt.Errorf("counting the rows of the source table %s: %w", x.mt.Name, err)
		}
		return nil
	}, func(ctx context.Context) error {
		x.count()
		if err := x.pg.tx.QueryRow(ctx, "SELECT count(*) FROM "+x.pg.tbl.Ident+" WHERE "+x.pgWhere).Scan(&r.SinkRows); err != nil {
			return fmt.Errorf("counting the rows of the sink table %s: %w", x.pg.tbl.Name, err)
		}
		return nil
	})
}

// both runs the source and the sink function at once.
func (x *xengine) both(ctx context.Context, fs, fd func(context.Context) error) error {
	return both(ctx, x.fs, x.fd, func(ctx context.Context, s *side) error {
		if s == x.fs {
			return fs(ctx)
		}
		return fd(ctx)
	})
}

// mySum is MariaDB's sum of row hashes modulo 2^64, as text.
func mySum(h string) string {
	return "CAST(COALESCE(SUM(" + h + "), 0) % 18446744073709551616 AS CHAR)"
}

// checksums computes both whole-table checksums at once.
func (x *xengine) checksums(ctx context.Context, r *Result) error {
	return x.both(ctx, func(ctx context.Context) error {
		var n int64
		var sum string
		x.count()
		if err := x.my.conn.QueryRowContext(ctx, "SELECT COUNT(*), "+mySum(x.myHash)+" FROM "+x.mt.Ident+" WHERE "+x.myWhere).Scan(&n, &sum); err != nil {
			return fmt.Errorf("computing the checksum of the source table %s: %w", x.mt.Name, err)
		}
		u, err := strconv.ParseUint(sum, 10, 64)
		if err != nil {
			return fmt.Errorf("reading the checksum of the source table %s: %w", x.mt.Name, err)
		}
		r.SourceRows, r.SourceChecksum = n, &Checksum{Rows: n, Sum: u}
		x.emit("checksum", n)
		return nil
	}, func(ctx context.Context) error {
		var n, sum int64
		x.count()
		if err := x.pg.tx.QueryRow(ctx, "SELECT count(*), "+sumExpr(x.pgHash)+" FROM "+x.pg.tbl.Ident+" WHERE "+x.pgWhere).Scan(&n, &sum); err != nil {
			return fmt.Errorf("computing the checksum of the sink table %s: %w", x.pg.tbl.Name, err)
		}
		r.SinkRows, r.SinkChecksum = n, &Checksum{Rows: n, Sum: fromSum(sum)}
		x.emit("checksum", n)
		return nil
	})
}

// partitions adds per-partition checksums by a time unit of a compared
// date or timestamp column. Labels are cut from the canonical text (UTC),
// as Compare labels them: 2026-11-03T14:00, 2026-11-03 (a day, or the
// Monday of a week), 2026-11, 2026.
func (x *xengine) partitions(ctx context.Context, r *Result) error {
	p := x.spec.Partition
	idx := -1
	for i, pr := range x.pairs {
		if pr.Src.Name == p.Column {
			idx = i
		}
	}
	if idx < 0 {
		return &SpecError{Field: "partition", Msg: fmt.Sprintf("column %q is not among the compared columns of %s", p.Column, x.mt.Name)}
	}
	pr := x.pairs[idx]
	if pr.Class != classTimestamp && pr.Class != classDate {
		return &SpecError{Field: "partition", Msg: fmt.Sprintf("column %q has type %s: partitions by %s need a date or timestamp column", p.Column, pr.Src.ColumnType, p.By)}
	}
	mc, pc := "("+pr.SrcExpr+")", "("+pr.DstExpr+")"
	var ml, pl string
	switch p.By {
	case "hour":
		ml, pl = "CONCAT(LEFT("+mc+", 10), 'T', SUBSTRING("+mc+", 12, 2), ':00')", "left("+pc+", 10) || 'T' || substr("+pc+", 12, 2) || ':00'"
		if pr.Class == classDate {
			ml, pl = "CONCAT("+mc+", 'T00:00')", pc+" || 'T00:00'"
		}
	case "day":
		ml, pl = "LEFT("+mc+", 10)", "left("+pc+", 10)"
	case "week":
		ml = "DATE_FORMAT(DATE(LEFT(" + mc + ", 10)) - INTERVAL WEEKDAY(DATE(LEFT(" + mc + ", 10))) DAY, '%Y-%m-%d')"
		pl = "to_char(date_trunc('week', left(" + pc + ", 10)::date), 'YYYY-MM-DD')"
	case "month":
		ml, pl = "LEFT("+mc+", 7)", "left("+pc+", 7)"
	case "year":
		ml, pl = "LEFT("+mc+", 4)", "left("+pc+", 4)"
	}
	type acc struct{ src, dst Checksum }
	parts := map[string]*acc{}
	var mu sync.Mutex
	put := func(label *string, n int64, sum uint64, sink bool) {
		l := "NULL"
		if label != nil {
			l = *label
		}
		mu.Lock()
		defer mu.Unlock()
		a := parts[l]
		if a == nil {
			a = &acc{}
			parts[l] = a
		}
		if sink {
			a.dst = Checksum{Rows: n, Sum: sum}
		} else {
			a.src = Checksum{Rows: n, Sum: sum}
		}
	}
	err := x.both(ctx, func(ctx context.Context) error {
		x.count()
		rows, err := x.my.conn.QueryContext(ctx, "SELECT "+ml+" AS l, COUNT(*), "+mySum(x.myHash)+" FROM "+x.mt.Ident+" WHERE "+x.myWhere+" GROUP BY l")
		if err != nil {
			return fmt.Errorf("computing partition checksums of the source table %s: %w", x.mt.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var l *string
			var n int64
			var s string
			if err := rows.Scan(&l, &n, &s); err != nil {
				return err
			}
			u, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return err
			}
			put(l, n, u, false)
		}
		return rows.Err()
	}, func(ctx context.Context) error {
		x.count()
		rows, err := x.pg.tx.Query(ctx, "SELECT "+pl+" AS l, count(*), "+sumExpr(x.pgHash)+" FROM "+x.pg.tbl.Ident+" WHERE "+x.pgWhere+" GROUP BY 1")
		if err != nil {
			return fmt.Errorf("computing partition checksums of the sink table %s: %w", x.pg.tbl.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var l *string
			var n, s int64
			if err := rows.Scan(&l, &n, &s); err != nil {
				return err
			}
			put(l, n, fromSum(s), true)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	labels := make([]string, 0, len(parts))
	for l := range parts {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		r.Partitions = append(r.Partitions, PartitionSum{Partition: l, Source: parts[l].src, Sink: parts[l].dst})
	}
	return nil
}

// xplan says which rows a cell or stream query reads and how rows map to
// cells: range cells ((key - lo) DIV width) for a single integer key, hash
// cells (low bits of the key hash) otherwise.
type xplan struct {
	ranged    bool
	lo, width int64
	bits      int
	ids       []int64 // restrict to these cells (sorted); nil: all rows
}

func (x *xengine) myKeyHash() string {
	return "CAST(CONV(RIGHT(" + x.digest.my(myRowCanon(x.pairs[:x.keys])) + ", 8), 16, 10) AS UNSIGNED)"
}

func (x *xengine) pgKeyHash() string {
	return "('x' || right(" + x.digest.pg(pgRowCanon(x.pairs[:x.keys])) + ", 8))::bit(32)::int8"
}

// cellExprs returns the cell expression of each side.
func (x *xengine) cellExprs(p *xplan) (my, pg string) {
	if p.ranged {
		mk, pk := quoteMySQLIdent(x.pairs[0].Src.Name), pgx.Identifier{x.pairs[0].Dst.Name}.Sanitize()
		return fmt.Sprintf("((%s - %d) DIV %d)", mk, p.lo, p.width), fmt.Sprintf("((%s::int8 - %d) / %d)", pk, p.lo, p.width)
	}
	mask := int64(1)<<p.bits - 1
	return fmt.Sprintf("(%s & %d)", x.myKeyHash(), mask), fmt.Sprintf("(%s & %d)", x.pgKeyHash(), mask)
}

// restrict returns the WHERE additions of each side reading only the rows
// of p.ids (hash cells), with their arguments.
func (x *xengine) restrict(p *xplan) (my string, myArgs []any, pg string, pgArgs []any) {
	if p.ids == nil || p.ranged {
		return "", nil, "", nil
	}
	mc, pc := x.cellExprs(&xplan{bits: p.bits})
	// The cell set as a string of '0' and '1' (MariaDB) and a bitmap
	// (PostgreSQL), one query each whatever the number of cells.
	b := make([]byte, 1<<p.bits)
	for i := range b {
		b[i] = '0'
	}
	for _, id := range p.ids {
		b[id] = '1'
	}
	my = " AND SUBSTRING(?, " + mc + " + 1, 1) = '1'"
	pg = " AND get_bit($1::bytea, " + pc + "::int4) = 1"
	return my, []any{string(b)}, pg, []any{bitmap(p.bits, p.ids)}
}

// cells sends the count and checksum of every cell of p from both sides and
// merges them.
func (x *xengine) cells(ctx context.Context, p *xplan, phase string) (*cellDiff, error) {
	mc, pc := x.cellExprs(p)
	var cd *cellDiff
	err := twoStreams(ctx, x.fs, x.fd, func(ctx context.Context, s *side, out chan<- []cell) error {
		defer close(out)
		send := func(batch []cell, n int64) error {
			select {
			case out <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			x.emit(phase, n)
			return nil
		}
		x.count()
		if s == x.fs {
			q := "SELECT " + mc + " AS c, COUNT(*), " + mySum(x.myHash) + " FROM " + x.mt.Ident + " WHERE " + x.myWhere + " GROUP BY c ORDER BY c"
			rows, err := x.my.conn.QueryContext(ctx, q)
			if err != nil {
				return fmt.Errorf("computing cell checksums of the source table %s: %w", x.mt.Name, err)
			}
			defer rows.Close()
			batch, n := make([]cell, 0, streamBatch), int64(0)
			for rows.Next() {
				var c cell
				var id sql.NullInt64
				var sum string
				if err := rows.Scan(&id, &c.n, &sum); err != nil {
					return fmt.Errorf("reading cell checksums of the source table %s: %w", x.mt.Name, err)
				}
				if !id.Valid {
					return fmt.Errorf("%w: the source table %s has rows whose key is NULL: the key must be NOT NULL", ErrNotComparable, x.mt.Name)
				}
				u, err := strconv.ParseUint(sum, 10, 64)
				if err != nil {
					return err
				}
				c.id, c.sum = id.Int64, u
				batch, n = append(batch, c), n+c.n
				if len(batch) == streamBatch {
					if err := send(batch, n); err != nil {
						return err
					}
					batch, n = make([]cell, 0, streamBatch), 0
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("computing cell checksums of the source table %s: %w", x.mt.Name, err)
			}
			if len(batch) > 0 {
				return send(batch, n)
			}
			return nil
		}
		if err := x.pg.plan(ctx, true, false); err != nil {
			return err
		}
		q := "SELECT offsetctl_c, count(*), " + sumExpr("offsetctl_h") + " FROM (SELECT " + pc + " AS offsetctl_c, " + x.pgHash +
			" AS offsetctl_h FROM " + x.pg.tbl.Ident + " WHERE " + x.pgWhere + " OFFSET 0) offsetctl_rows GROUP BY 1 ORDER BY 1"
		rows, err := x.pg.tx.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("computing cell checksums of the sink table %s: %w", x.pg.tbl.Name, err)
		}
		defer rows.Close()
		batch, n := make([]cell, 0, streamBatch), int64(0)
		for rows.Next() {
			var c cell
			var id *int64
			var sum int64
			if err := rows.Scan(&id, &c.n, &sum); err != nil {
				return fmt.Errorf("reading cell checksums of the sink table %s: %w", x.pg.tbl.Name, err)
			}
			if id == nil {
				return fmt.Errorf("%w: the sink table %s has rows whose key is NULL: the key must be NOT NULL", ErrNotComparable, x.pg.tbl.Name)
			}
			c.id, c.sum = *id, fromSum(sum)
			batch, n = append(batch, c), n+c.n
			if len(batch) == streamBatch {
				if err := send(batch, n); err != nil {
					return err
				}
				batch, n = make([]cell, 0, streamBatch), 0
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("computing cell checksums of the sink table %s: %w", x.pg.tbl.Name, err)
		}
		if len(batch) > 0 {
			return send(batch, n)
		}
		return nil
	}, func(a, b *batches[cell]) (err error) {
		cd, err = diffCells(a, b)
		return err
	})
	return cd, err
}

// keyBounds returns the smallest and largest integer key of both sides.
func (x *xengine) keyBounds(ctx context.Context) (int64, int64, bool, error) {
	var lo, hi [2]*int64
	mk, pk := quoteMySQLIdent(x.pairs[0].Src.Name), pgx.Identifier{x.pairs[0].Dst.Name}.Sanitize()
	err := x.both(ctx, func(ctx context.Context) error {
		x.count()
		var l, h sql.NullInt64
		if err := x.my.conn.QueryRowContext(ctx, "SELECT MIN("+mk+"), MAX("+mk+") FROM "+x.mt.Ident+" WHERE "+x.myWhere).Scan(&l, &h); err != nil {
			return fmt.Errorf("reading the key range of the source table %s: %w", x.mt.Name, err)
		}
		if l.Valid {
			lo[0], hi[0] = &l.Int64, &h.Int64
		}
		return nil
	}, func(ctx context.Context) error {
		x.count()
		if err := x.pg.tx.QueryRow(ctx, "SELECT min("+pk+")::int8, max("+pk+")::int8 FROM "+x.pg.tbl.Ident+" WHERE "+x.pgWhere).Scan(&lo[1], &hi[1]); err != nil {
			return fmt.Errorf("reading the key range of the sink table %s: %w", x.pg.tbl.Name, err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, false, err
	}
	var l, h *int64
	for i := range 2 {
		if lo[i] != nil && (l == nil || *lo[i] < *l) {
			l = lo[i]
		}
		if hi[i] != nil && (h == nil || *hi[i] > *h) {
			h = hi[i]
		}
	}
	if l == nil || h == nil || uint64(*h)-uint64(*l) >= 1<<62 {
		return 0, 0, false, nil
	}
	return *l, *h, true, nil
}

// rows finds the missing, extra and mismatched rows: one level of cell
// checksums, then the rows of the differing cells streamed and merged.
func (x *xengine) rows(ctx context.Context, r *Result) error {
	est := max(x.mt.Estimate, x.pg.tbl.Estimate, 1)
	nbits := min(max(bits.Len64(uint64(est/targetCellRows)), 4), maxFirstBits)
	if t := x.spec.tune; t != nil && t.firstBits > 0 {
		nbits = t.firstBits
	}
	p := &xplan{bits: nbits}
	if x.intKey {
		lo, hi, ok, err := x.keyBounds(ctx)
		if err != nil {
			return err
		}
		if ok {
			p.ranged, p.lo = true, lo
			p.width = max(1, int64((uint64(hi-lo)+1+(1<<nbits)-1)>>nbits))
		}
	}
	cd, err := x.cells(ctx, p, "cells")
	if err != nil {
		return err
	}
	r.Stats.Levels = 1
	r.Stats.RowsHashed += cd.ta.Rows + cd.tb.Rows
	r.SourceRows, r.SinkRows = cd.ta.Rows, cd.tb.Rows
	ta, tb := cd.ta, cd.tb
	r.SourceChecksum, r.SinkChecksum = &ta, &tb
	r.Stats.Cells, r.Stats.DiffCells = cd.cells, len(cd.ids)
	switch {
	case len(cd.ids) == 0:
		r.Stats.Strategy = "none"
		return nil
	case len(cd.ids)*2 > cd.cells:
		r.Stats.Strategy = "stream"
		return x.merge(ctx, r, &xplan{})
	}
	r.Stats.Strategy = "cells"
	p.ids = cd.ids
	return x.merge(ctx, r, p)
}

// orderBy returns each side's ORDER BY and the key columns each side selects.
func (x *xengine) keySelect() (mySel, myOrder, pgSel, pgOrder []string) {
	for i, p := range x.pairs[:x.keys] {
		mi, pi := quoteMySQLIdent(p.Src.Name), pgx.Identifier{p.Dst.Name}.Sanitize()
		switch x.kinds[i] {
		case kindInt:
			mySel, pgSel = append(mySel, mi), append(pgSel, pi+"::int8")
			myOrder, pgOrder = append(myOrder, mi), append(pgOrder, pi)
		case kindNumeric:
			mySel, pgSel = append(mySel, p.SrcExpr), append(pgSel, p.DstExpr)
			myOrder, pgOrder = append(myOrder, mi), append(pgOrder, pi)
		default:
			// By the bytes of the canonical text on both sides, never by a
			// collation.
			mySel, pgSel = append(mySel, p.SrcExpr), append(pgSel, p.DstExpr)
			myOrder, pgOrder = append(myOrder, "CAST("+p.SrcExpr+" AS BINARY)"), append(pgOrder, "("+p.DstExpr+`) COLLATE "C"`)
		}
	}
	return
}

// rangeChunk is the number of key ranges one streaming query reads; more
// ranges are read by further queries, one after another, which keeps the
// key order (the ranges are sorted).
const rangeChunk = 2000

// merge streams the (key, row hash) pairs of p's rows from both sides in key
// order and merges them.
func (x *xengine) merge(ctx context.Context, r *Result, p *xplan) error {
	mySel, myOrder, pgSel, pgOrder := x.keySelect()
	myR, myArgs, pgR, pgArgs := x.restrict(p)
	var los, his []int64
	if p.ranged && p.ids != nil {
		los, his = ranges(p.lo, p.width, p.ids)
	}
	// chunks are the key ranges of each query: one nil chunk for the whole
	// table (or the hash cells of myR, pgR).
	type chunk struct{ los, his []int64 }
	chunks := []chunk{{}}
	if los != nil {
		chunks = nil
		for i := 0; i < len(los); i += rangeChunk {
			j := min(i+rangeChunk, len(los))
			chunks = append(chunks, chunk{los[i:j], his[i:j]})
		}
	}
	mk, pk := quoteMySQLIdent(x.pairs[0].Src.Name), pgx.Identifier{x.pairs[0].Dst.Name}.Sanitize()
	var pgSelT []string
	for i, k := range pgSel {
		pgSelT = append(pgSelT, fmt.Sprintf("(%s)::text AS offsetctl_k%d", k, i+1))
	}
	return twoStreams(ctx, x.fs, x.fd, func(ctx context.Context, s *side, out chan<- []krow) error {
		defer close(out)
		batch := make([]krow, 0, streamBatch)
		flush := func() error {
			select {
			case out <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			x.emit("stream", int64(len(batch)))
			if err := s.rate.wait(ctx, int64(len(batch))); err != nil {
				return err
			}
			batch = make([]krow, 0, streamBatch)
			return nil
		}
		take := func(vals []sql.RawBytes, name string) error {
			kr, err := x.krowOf(vals, name)
			if err != nil {
				return err
			}
			batch = append(batch, kr)
			if len(batch) == streamBatch {
				return flush()
			}
			return nil
		}
		mine := chunks
		if s == x.fs {
			// MariaDB checks an OR of key ranges against every row it
			// reads, even on a range plan: a few ranges go as such, many
			// as the cell ids (a sorted IN list, one lookup per row)
			// within the span of the ranges, in one query.
			mine = []chunk{{}}
		}
		for _, c := range mine {
			x.count()
			if s == x.fs {
				where, args := x.myWhere+myR, myArgs
				switch {
				case los == nil:
				case len(los) <= 64:
					var ors []string
					for i := range los {
						ors = append(ors, fmt.Sprintf("(%s >= %d AND %s < %d)", mk, los[i], mk, his[i]))
					}
					where += " AND (" + strings.Join(ors, " OR ") + ")"
				default:
					ids := make([]string, len(p.ids))
					for i, id := range p.ids {
						ids[i] = strconv.FormatInt(id, 10)
					}
					mc, _ := x.cellExprs(p)
					where += fmt.Sprintf(" AND %s >= %d AND %s < %d AND %s IN (%s)", mk, los[0], mk, his[len(his)-1], mc, strings.Join(ids, ", "))
				}
				q := "SELECT " + strings.Join(mySel, ", ") + ", " + x.myHash + " FROM " + x.mt.Ident + " WHERE " + where + " ORDER BY " + strings.Join(myOrder, ", ")
				rows, err := x.my.conn.QueryContext(ctx, q, args...)
				if err != nil {
					return fmt.Errorf("streaming the keys of the source table %s: %w", x.mt.Name, err)
				}
				vals := make([]sql.RawBytes, x.keys+1)
				dest := make([]any, x.keys+1)
				for i := range vals {
					dest[i] = &vals[i]
				}
				for rows.Next() {
					if err := rows.Scan(dest...); err != nil {
						rows.Close()
						return fmt.Errorf("reading the keys of the source table %s: %w", x.mt.Name, err)
					}
					if err := take(vals, "source"); err != nil {
						rows.Close()
						return err
					}
				}
				err = rows.Err()
				rows.Close()
				if err != nil {
					return fmt.Errorf("streaming the keys of the source table %s: %w", x.mt.Name, err)
				}
				continue
			}
			from, args := " FROM "+x.pg.tbl.Ident+" WHERE "+x.pgWhere+pgR, pgArgs
			if c.los != nil {
				// One index range scan per key range (see side.from).
				from = " FROM unnest($1::int8[], $2::int8[]) AS offsetctl_r(offsetctl_lo, offsetctl_hi)" +
					" CROSS JOIN LATERAL (SELECT * FROM " + x.pg.tbl.Ident + " WHERE " + pk + " >= offsetctl_r.offsetctl_lo AND " + pk + " < offsetctl_r.offsetctl_hi AND " + x.pgWhere + " OFFSET 0) AS offsetctl_t"
				args = []any{c.los, c.his}
			}
			if err := x.pg.plan(ctx, false, c.los != nil); err != nil {
				return err
			}
			q := "SELECT " + strings.Join(pgSelT, ", ") + ", (" + x.pgHash + ")::text" + from + " ORDER BY " + strings.Join(pgOrder, ", ")
			rows, err := x.pg.tx.Query(ctx, q, args...)
			if err != nil {
				return fmt.Errorf("streaming the keys of the sink table %s: %w", x.pg.tbl.Name, err)
			}
			vals := make([]sql.RawBytes, x.keys+1)
			for rows.Next() {
				for i, v := range rows.RawValues() {
					vals[i] = v
				}
				if err := take(vals, "sink"); err != nil {
					rows.Close()
					return err
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("streaming the keys of the sink table %s: %w", x.pg.tbl.Name, err)
			}
		}
		if len(batch) > 0 {
			return flush()
		}
		return nil
	}, func(a, b *batches[krow]) error {
		return x.mergeStreams(&cursor{batches: a}, &cursor{batches: b}, x.fs, x.fd, r)
	})
}

// krowOf reads one streamed row: the key texts, then the row hash in
// decimal (unsigned from MariaDB, signed from PostgreSQL).
func (x *xengine) krowOf(vals []sql.RawBytes, side string) (krow, error) {
	nk := x.keys
	var kr krow
	for i := range nk {
		if vals[i] == nil {
			return kr, fmt.Errorf("%w: the %s table has a row whose key column %q is NULL: the key must be NOT NULL", ErrNotComparable, side, x.pairs[i].Src.Name)
		}
	}
	if x.intKey {
		v, err := strconv.ParseInt(string(vals[0]), 10, 64)
		if err != nil {
			return kr, fmt.Errorf("reading a key of the %s table: %w", side, err)
		}
		kr.ki = v
	} else {
		kr.k = make(Key, nk)
		for i := range nk {
			kr.k[i] = string(vals[i])
		}
	}
	h := string(vals[nk])
	if strings.HasPrefix(h, "-") {
		v, err := strconv.ParseInt(h, 10, 64)
		if err != nil {
			return kr, fmt.Errorf("reading a row hash of the %s table: %w", side, err)
		}
		kr.h = v
	} else {
		v, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			return kr, fmt.Errorf("reading a row hash of the %s table: %w", side, err)
		}
		kr.h = int64(v)
	}
	return kr, nil
}

// details names the columns that differ in each mismatched row kept, from
// per-column hashes of those keys only.
func (x *xengine) details(ctx context.Context, r *Result) error {
	if len(r.Mismatched) == 0 || len(x.pairs) == x.keys {
		return nil
	}
	// Source and sink column hashes by key, in batches.
	cols := x.pairs[x.keys:]
	for start := 0; start < len(r.Mismatched); start += lookupBatch {
		batch := r.Mismatched[start:min(start+lookupBatch, len(r.Mismatched))]
		idx := map[string]int{}
		for i, d := range batch {
			idx[keyString(d.Key)] = i
		}
		srcH := make([][]string, len(batch))
		dstH := make([][]string, len(batch))
		err := x.both(ctx, func(ctx context.Context) error {
			var sel []string
			for _, p := range x.pairs[:x.keys] {
				sel = append(sel, p.SrcExpr)
			}
			for _, p := range cols {
				sel = append(sel, "LEFT("+x.digest.my(myRowCanon([]xpair{p}))+", 16)")
			}
			lookup, args := x.myKeyLookup(batch)
			x.count()
			rows, err := x.my.conn.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+x.mt.Ident+" WHERE "+lookup, args...)
			if err != nil {
				return fmt.Errorf("reading column hashes of the source table %s: %w", x.mt.Name, err)
			}
			defer rows.Close()
			return scanHashes(rows.Next, rows.Scan, rows.Err, x.keys, len(cols), idx, srcH)
		}, func(ctx context.Context) error {
			var sel []string
			for _, p := range x.pairs[:x.keys] {
				sel = append(sel, "("+p.DstExpr+")::text")
			}
			for _, p := range cols {
				sel = append(sel, "left("+x.digest.pg(pgRowCanon([]xpair{p}))+", 16)")
			}
			lookup, arrs := x.pgKeyLookup(batch)
			x.count()
			rows, err := x.pg.tx.Query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+x.pg.tbl.Ident+lookup, arrs...)
			if err != nil {
				return fmt.Errorf("reading column hashes of the sink table %s: %w", x.pg.tbl.Name, err)
			}
			defer rows.Close()
			return scanHashes(rows.Next, func(d ...any) error { return rows.Scan(d...) }, rows.Err, x.keys, len(cols), idx, dstH)
		})
		if err != nil {
			return err
		}
		for i := range batch {
			if srcH[i] == nil || dstH[i] == nil {
				continue // moved since the stream: left as it is
			}
			for j, p := range cols {
				if srcH[i][j] != dstH[i][j] {
					batch[i].Columns = append(batch[i].Columns, p.Src.Name)
				}
			}
		}
	}
	return nil
}

// myKeyLookup is the MariaDB condition selecting the batch's keys, with
// its arguments: the key column itself IN (...) of integers for a single
// integer key (through the index), the canonical texts otherwise.
func (x *xengine) myKeyLookup(batch []Diff) (string, []any) {
	var args []any
	if ks, ok := intKeys(x.intKey, batch); ok {
		ph := make([]string, len(ks))
		for i, k := range ks {
			ph[i] = "?"
			args = append(args, k)
		}
		return quoteMySQLIdent(x.pairs[0].Src.Name) + " IN (" + strings.Join(ph, ", ") + ")", args
	}
	conds := make([]string, len(batch))
	for j, d := range batch {
		c := make([]string, x.keys)
		for i, p := range x.pairs[:x.keys] {
			c[i] = "(" + p.SrcExpr + ") = ?"
			args = append(args, d.Key[i])
		}
		conds[j] = "(" + strings.Join(c, " AND ") + ")"
	}
	return strings.Join(conds, " OR "), args
}

// pgKeyLookup is the PostgreSQL FROM tail (after the table) selecting the
// batch's keys, with its arguments: the key column itself = ANY of an int8
// array for a single integer key, one index scan over the sorted keys
// (matching the key's text instead read the whole table once per batch);
// a join with the canonical texts of the keys otherwise.
func (x *xengine) pgKeyLookup(batch []Diff) (string, []any) {
	if ks, ok := intKeys(x.intKey, batch); ok {
		return " WHERE " + pgx.Identifier{x.pairs[0].Dst.Name}.Sanitize() + " = ANY($1::int8[])", []any{ks}
	}
	var arrs []any
	var on, ps, ns []string
	for i, p := range x.pairs[:x.keys] {
		a := make([]string, len(batch))
		for j, d := range batch {
			a[j] = d.Key[i]
		}
		arrs = append(arrs, a)
		on = append(on, fmt.Sprintf("(%s)::text = k.k%d", p.DstExpr, i+1))
		ps, ns = append(ps, fmt.Sprintf("$%d::text[]", i+1)), append(ns, fmt.Sprintf("k%d", i+1))
	}
	return " JOIN unnest(" + strings.Join(ps, ", ") + ") AS k(" + strings.Join(ns, ", ") + ") ON " + strings.Join(on, " AND "), arrs
}

// intKeys returns the keys of batch as integers when the table has a single
// integer key (intKey) and every key parses as one.
func intKeys(intKey bool, batch []Diff) ([]int64, bool) {
	if !intKey {
		return nil, false
	}
	ks := make([]int64, len(batch))
	for i, d := range batch {
		k, err := strconv.ParseInt(d.Key[0], 10, 64)
		if err != nil {
			return nil, false
		}
		ks[i] = k
	}
	return ks, true
}

func scanHashes(next func() bool, scan func(...any) error, errf func() error, nk, nc int, idx map[string]int, out [][]string) error {
	for next() {
		vals := make([]string, nk+nc)
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := scan(dest...); err != nil {
			return err
		}
		if i, ok := idx[keyString(Key(vals[:nk]))]; ok {
			out[i] = vals[nk:]
		}
	}
	return errf()
}

// recheckSource reads the source rows of the differing keys again in a
// fresh snapshot (Spec.RecheckSource), as engine.recheckSource does for a
// PostgreSQL source: a key whose source row is no longer as the comparison
// saw it (another hash, gone, or new) is taken out of the differences and
// counted in ChangedSince.
func (x *xengine) recheckSource(ctx context.Context, src *sql.DB, r *Result) error {
	x.emit("recheck", 0)
	x.my.end(ctx) // its snapshot is done with
	my, err := beginMySQL(ctx, src, "source", x.spec)
	if err != nil {
		return err
	}
	x.my = my // ended with the comparison
	var diffs []Diff
	for _, l := range [][]Diff{r.Missing, r.Extra, r.Mismatched} {
		diffs = append(diffs, l...)
	}
	now := map[string]string{}
	var sel []string
	for _, p := range x.pairs[:x.keys] {
		sel = append(sel, p.SrcExpr)
	}
	sel = append(sel, x.myHash)
	for start := 0; start < len(diffs); start += lookupBatch {
		batch := diffs[start:min(start+lookupBatch, len(diffs))]
		lookup, args := x.myKeyLookup(batch)
		x.count()
		q := "SELECT " + strings.Join(sel, ", ") + " FROM " + x.mt.Ident + " WHERE " + x.myWhere + " AND (" + lookup + ")"
		rows, err := my.conn.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("reading the differing rows of the source table %s again: %w", x.mt.Name, err)
		}
		for rows.Next() {
			vals := make([]sql.RawBytes, x.keys+1)
			dest := make([]any, len(vals))
			for i := range vals {
				dest[i] = &vals[i]
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("reading the differing rows of the source table %s again: %w", x.mt.Name, err)
			}
			k := make(Key, x.keys)
			for i := range k {
				k[i] = string(vals[i])
			}
			h, err := strconv.ParseUint(string(vals[x.keys]), 10, 64)
			if err != nil {
				rows.Close()
				return fmt.Errorf("reading a row hash of the source table %s: %w", x.mt.Name, err)
			}
			now[keyString(k)] = hashHex(int64(h))
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("reading the differing rows of the source table %s again: %w", x.mt.Name, err)
		}
	}
	r.dropChanged(now)
	return nil
}
