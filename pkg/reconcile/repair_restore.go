package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RestoreRows puts sink rows back as their before-images say, in one sink
// transaction: rows that did not exist are deleted, the others are deleted
// and inserted again from their image (json_populate_record over the sink
// table's row type, so every column gets its exact value back). A key imaged
// twice (a repair run again) gets its oldest image back.
// sinkTable is the table the images were taken from.
func RestoreRows(ctx context.Context, dst *pgx.Conn, sinkTable string, images []RowImage, opts RepairOptions) (int, error) {
	if dst == nil {
		return 0, errors.New("restoring rows needs a connection to the sink")
	}
	name, err := ParseTableName(sinkTable)
	if err != nil {
		return 0, fmt.Errorf("restoring rows: sink table %q: %w", sinkTable, err)
	}
	if len(images) == 0 {
		return 0, nil
	}
	ident := pgx.Identifier{name.Name}
	if name.Schema != "" {
		ident = pgx.Identifier{name.Schema, name.Name}
	}
	tbl := ident.Sanitize()
	// The key columns, from the images' key objects (all alike).
	var keyCols []string
	seen := map[string]bool{}
	var keys, rows []json.RawMessage
	for _, im := range images {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(im.KeyJSON, &obj); err != nil || len(obj) == 0 {
			return 0, fmt.Errorf("restoring rows of %s: a before-image has no usable key (%s): the state is damaged", name, string(im.KeyJSON))
		}
		cols := make([]string, 0, len(obj))
		for c := range obj {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		if keyCols == nil {
			keyCols = cols
		} else if strings.Join(cols, "\x00") != strings.Join(keyCols, "\x00") {
			return 0, fmt.Errorf("restoring rows of %s: before-images with different key columns: the state is damaged", name)
		}
		ks := string(im.KeyJSON)
		if seen[ks] {
			continue
		}
		seen[ks] = true
		keys = append(keys, im.KeyJSON)
		if im.Row != nil {
			rows = append(rows, im.Row)
		}
	}
	tx, err := beginWrite(ctx, dst, opts)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	match := make([]string, 0, len(keyCols))
	for _, c := range keyCols {
		q := pgx.Identifier{c}.Sanitize()
		match = append(match, "t."+q+" = k."+q)
	}
	if err := checkExpected(ctx, tx, tbl, name, keyCols, match, opts.Expect); err != nil {
		return 0, err
	}
	kj, _ := json.Marshal(keys)
	if _, err := tx.Exec(ctx, "DELETE FROM "+tbl+" AS t USING json_populate_recordset(NULL::"+tbl+", $1::json) AS k WHERE "+strings.Join(match, " AND "), string(kj)); err != nil {
		return 0, fmt.Errorf("restoring rows of %s (deleting the repaired rows): %w", name, explain(err))
	}
	if len(rows) > 0 {
		rj, _ := json.Marshal(rows)
		tag, err := tx.Exec(ctx, "INSERT INTO "+tbl+" SELECT * FROM json_populate_recordset(NULL::"+tbl+", $1::json)", string(rj))
		if err != nil {
			return 0, fmt.Errorf("restoring rows of %s (inserting the before-images): %w", name, explain(err))
		}
		if tag.RowsAffected() != int64(len(rows)) {
			return 0, fmt.Errorf("restoring rows of %s: %d rows inserted, %d expected; nothing was changed", name, tag.RowsAffected(), len(rows))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("restoring rows of %s: committing: %w", name, err)
	}
	return len(keys), nil
}

// Verification is the comparison apply runs after a repair.
type Verification struct {
	// Keys is the number of keys checked; Differing the ones still
	// different, with their current hashes.
	Keys      int    `json:"keys"`
	Differing []Diff `json:"differing,omitempty"`
	// SourceChecksum and SinkChecksum are the whole-table checksums (with
	// the spec's filter).
	SourceChecksum Checksum `json:"source_checksum"`
	SinkChecksum   Checksum `json:"sink_checksum"`
}

// Converged says whether every checked key is equal on both sides.
func (v *Verification) Converged() bool { return len(v.Differing) == 0 }

// TableEqual says whether the whole-table checksums are equal.
func (v *Verification) TableEqual() bool { return v.SourceChecksum == v.SinkChecksum }

// Verify compares the rows of keys on both sides (by row hash) and the
// whole-table checksums, in one read-only snapshot per side.
func Verify(ctx context.Context, src, dst *pgx.Conn, spec Spec, keys []Key) (*Verification, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if src == nil || dst == nil || src == dst {
		return nil, errors.New("verify needs two distinct connections: one to the source and one to the sink")
	}
	spec.Mode = ModeChecksum
	spec.Partition = nil
	e := &engine{spec: &spec}
	s, d, err := e.open(ctx, src, dst)
	defer func() { s.end(ctx); d.end(ctx) }()
	if err != nil {
		return nil, err
	}
	r := e.newResult()
	if err := e.checksums(ctx, s, d, r); err != nil {
		return nil, err
	}
	v := &Verification{Keys: len(keys), SourceChecksum: *r.SourceChecksum, SinkChecksum: *r.SinkChecksum}
	if len(keys) == 0 {
		return v, nil
	}
	hashes := [2]map[string]string{{}, {}}
	err = both(ctx, s, d, func(ctx context.Context, x *side) error {
		i := 0
		if x == d {
			i = 1
		}
		return x.lookup(ctx, keys, []string{x.sql.rowHash}, true, func(k Key, vals []*string) {
			h, _ := strconv.ParseInt(deref(vals[0]), 10, 64)
			hashes[i][keyString(k)] = hashHex(h)
		})
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		ks := keyString(k)
		sh, inS := hashes[0][ks]
		dh, inD := hashes[1][ks]
		if inS == inD && sh == dh {
			continue
		}
		v.Differing = append(v.Differing, Diff{Key: k, SourceHash: sh, SinkHash: dh})
	}
	return v, nil
}

// checkExpected locks the rows of expect and refuses when any is not as the
// repair left it: a row written since (another xmin; other values, for the
// after-images of format_version 1 states), a row deleted since, or a deleted
// row back.
func checkExpected(ctx context.Context, tx pgx.Tx, tbl string, name TableName, keyCols, match []string, expect []RowImage) error {
	if len(expect) == 0 {
		return nil
	}
	keys := make([]json.RawMessage, len(expect))
	for i, im := range expect {
		keys[i] = im.KeyJSON
	}
	kj, _ := json.Marshal(keys)
	rows, err := tx.Query(ctx, "SELECT e.offsetctl_n, t.xmin::text, row_to_json(t)::text FROM json_array_elements($1::json) WITH ORDINALITY AS e(offsetctl_v, offsetctl_n)"+
		" CROSS JOIN LATERAL json_populate_record(NULL::"+tbl+", e.offsetctl_v) AS k JOIN "+tbl+" AS t ON "+strings.Join(match, " AND ")+" FOR UPDATE OF t", string(kj))
	if err != nil {
		return fmt.Errorf("restoring rows of %s (checking them): %w", name, explain(err))
	}
	defer rows.Close()
	found := make([]bool, len(expect))
	var changed []string
	for rows.Next() {
		var n int64
		var xmin, row string
		if err := rows.Scan(&n, &xmin, &row); err != nil {
			return fmt.Errorf("restoring rows of %s (checking them): %w", name, err)
		}
		im := expect[n-1]
		found[n-1] = true
		var same bool
		switch {
		case im.Xmin != "":
			same = xmin == im.Xmin
		case im.Row != nil:
			same = normJSON(json.RawMessage(row)) == normJSON(im.Row)
		}
		if !same {
			changed = append(changed, keyOfRow(string(im.KeyJSON), keyCols))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("restoring rows of %s (checking them): %w", name, explain(err))
	}
	for i, im := range expect {
		if !found[i] && (im.Xmin != "" || im.Row != nil) {
			changed = append(changed, keyOfRow(string(im.KeyJSON), keyCols))
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		changed = slices.Compact(changed)
		n := len(changed)
		if n > 10 {
			changed = append(changed[:10], fmt.Sprintf("… %d more", n-10))
		}
		return fmt.Errorf("restoring rows of %s: %d repaired row(s) changed since the repair (%s): putting the before-images back would overwrite newer data; nothing was put back. Compare the tables again (plan) and repair forward, or put those rows back by hand",
			name, n, strings.Join(changed, ", "))
	}
	return nil
}

// normJSON is a JSON object's text with its keys sorted.
func normJSON(b json.RawMessage) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return string(b)
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// keyOfRow renders the key columns of a row (JSON object) for a message.
func keyOfRow(row string, keyCols []string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(row), &m); err != nil {
		return "?"
	}
	parts := make([]string, len(keyCols))
	for i, c := range keyCols {
		v := string(m[c])
		var str string
		if json.Unmarshal(m[c], &str) == nil {
			v = str // key images hold text, rows hold typed values
		}
		parts[i] = c + "=" + v
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
