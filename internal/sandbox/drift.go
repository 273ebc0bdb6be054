package sandbox

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SignalTable is the name (public schema) of the Debezium signalling table
// EnableSignals creates.
const SignalTable = "debezium_signal"

// SinkDelete deletes rows from the sink table behind the pipeline's back, as
// a manual edit would: they become missing rows.
func (p *Pipeline) SinkDelete(ctx context.Context, ids ...int64) error {
	_, err := p.sink.Exec(ctx, "DELETE FROM "+pgx.Identifier{"public", p.opts.SinkTable}.Sanitize()+" WHERE id = ANY($1)", ids)
	if err != nil {
		return fmt.Errorf("deleting sink rows: %w", err)
	}
	return nil
}

// SinkInsert inserts rows into the sink table that the source does not
// have: extra rows.
func (p *Pipeline) SinkInsert(ctx context.Context, rows ...Customer) error {
	tbl := pgx.Identifier{"public", p.opts.SinkTable}.Sanitize()
	for _, r := range rows {
		if _, err := p.sink.Exec(ctx, "INSERT INTO "+tbl+" (id, email, status, updated_at) VALUES ($1, $2, $3, $4)",
			r.ID, r.Email, r.Status, r.UpdatedAt); err != nil {
			return fmt.Errorf("inserting sink row %d: %w", r.ID, err)
		}
	}
	return nil
}

// SinkSetEmail changes a sink row's email: a mismatched row.
func (p *Pipeline) SinkSetEmail(ctx context.Context, id int64, email string) error {
	tag, err := p.sink.Exec(ctx, "UPDATE "+pgx.Identifier{"public", p.opts.SinkTable}.Sanitize()+" SET email = $2 WHERE id = $1", id, email)
	if err != nil {
		return fmt.Errorf("changing sink row %d: %w", id, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("changing sink row %d: no such row", id)
	}
	return nil
}

// EnableSignals creates Debezium's signalling table in the source database
// (public.debezium_signal: id, type, data) and makes the pipeline's source
// honour execute-snapshot signals as Debezium does for an incremental
// snapshot with additional-conditions: the rows of the source table that
// match a condition's filter are emitted again as read ("r") events, after
// the changes already in the stream. The signal is read through the change
// stream (a trigger on the signalling table feeds the change table the
// source task reads), so a signal inserted while the source is stopped is
// honoured when it resumes, as in Debezium.
func (p *Pipeline) EnableSignals(ctx context.Context) error {
	sig := pgx.Identifier{"public", SignalTable}.Sanitize()
	cdc := pgx.Identifier{"public", ChangeTable}.Sanitize()
	fn := pgx.Identifier{"public", SignalTable + "_snapshot"}.Sanitize()
	trg := pgx.Identifier{SignalTable + "_snapshot"}.Sanitize()
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	coll := "public." + p.opts.Table
	sql := `
CREATE TABLE IF NOT EXISTS ` + sig + ` (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(65535));
CREATE OR REPLACE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  d json;
  c json;
  colls text[];
BEGIN
  IF NEW.type <> 'execute-snapshot' THEN RETURN NULL; END IF;
  d := NEW.data::json;
  IF lower(coalesce(d ->> 'type', 'incremental')) <> 'incremental' THEN RETURN NULL; END IF;
  SELECT array_agg(x) INTO colls FROM json_array_elements_text(d -> 'data-collections') x WHERE ` + quoteLit(coll) + ` ~* ('^' || x || '$');
  IF colls IS NULL THEN RETURN NULL; END IF;
  FOR c IN SELECT * FROM json_array_elements(coalesce(d -> 'additional-conditions', '[{}]'::json)) LOOP
    IF c ->> 'data-collection' IS NOT NULL AND NOT ` + quoteLit(coll) + ` ~* ('^' || (c ->> 'data-collection') || '$') THEN CONTINUE; END IF;
    EXECUTE format('INSERT INTO ` + cdc + ` (lsn, txid, ts_usec, op, tbl, key, before, after)
      SELECT (pg_current_wal_insert_lsn() - ''0/0''::pg_lsn)::bigint, txid_current(), (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
             ''READ'', %L, json_build_object(''id'', t.id), NULL, row_to_json(t)
      FROM ` + tbl + ` t WHERE %s ORDER BY t.id', ` + quoteLit(coll) + `, coalesce(c ->> 'filter', 'true'));
  END LOOP;
  RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS ` + trg + ` ON ` + sig + `;
CREATE TRIGGER ` + trg + ` AFTER INSERT ON ` + sig + ` FOR EACH ROW EXECUTE FUNCTION ` + fn + `();`
	if _, err := p.src.Exec(ctx, sql); err != nil {
		return fmt.Errorf("creating the signalling table: %w", err)
	}
	return nil
}

// SignalTableName is the signalling table's qualified name, as a reconcile
// block's signal_table names it.
func (p *Pipeline) SignalTableName() string { return "public." + SignalTable }

func quoteLit(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += "''"
		} else {
			out += string(r)
		}
	}
	return out + "'"
}
