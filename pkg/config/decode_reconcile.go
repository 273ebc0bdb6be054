package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

var reconcileSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "source", Required: true}, {Name: "sink", Required: true},
	{Name: "table", Required: true}, {Name: "sink_table"},
	{Name: "key"}, {Name: "columns"}, {Name: "ignore_columns"},
	{Name: "timestamp_precision"}, {Name: "where"},
	{Name: "repair"}, {Name: "delete_extra"}, {Name: "max_changes"},
	{Name: "signal_table"}, {Name: "by"}, {Name: "reason"},
	{Name: "connectors"},
}, Blocks: []hcl.BlockHeaderSchema{{Type: "check"}}}

var checkSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "mode"}, {Name: "max_rows_different"}, {Name: "max_lag_records"},
	{Name: "max_lag_seconds"}, {Name: "max_failed_tasks"},
}}

// Check modes of a reconcile block's check block.
var checkModes = []string{"counts", "checksum", "rows"}

// Repair modes of a reconcile block.
const (
	RepairNone           = "none"
	RepairUpsert         = "upsert"
	RepairSnapshotSignal = "snapshot_signal"
)

var partitionUnits = []string{"hour", "day", "week", "month", "year"}

func (d *decoder) decodeReconcile(b *hcl.Block) *Reconcile {
	r := &Reconcile{Name: b.Labels[0], Repair: RepairNone, DeclRange: b.DefRange}
	content, diags := b.Body.Content(reconcileSchema)
	d.add(diags...)
	attrs := content.Attributes
	r.Ranges = rangesOf(attrs)

	if n, ok := d.ref(attrs["source"], "database"); ok {
		r.Source = d.cfg.Database(n)
	}
	if n, ok := d.ref(attrs["sink"], "database"); ok {
		r.Sink = d.cfg.Database(n)
	}
	r.Table, _ = d.nonEmpty(attrs["table"])
	r.SinkTable = r.Table
	if v, ok := d.nonEmpty(attrs["sink_table"]); ok {
		r.SinkTable = v
	}
	if r.Source != nil && r.Source == r.Sink && r.Table == r.SinkTable && r.Table != "" {
		d.errorf(attrs["sink"].Expr.Range(), "Invalid reconcile", "The source and the sink are the same table of the same database; there is nothing to compare.")
	}
	r.Key = d.columnList(attrs["key"])
	r.Columns = d.columnList(attrs["columns"])
	r.IgnoreColumns = d.columnList(attrs["ignore_columns"])
	if attrs["columns"] != nil && attrs["ignore_columns"] != nil {
		d.errorf(attrs["ignore_columns"].Range, "Conflicting column lists", "Give either columns (the columns to compare) or ignore_columns (the columns to leave out), not both.")
	}
	if a := attrs["timestamp_precision"]; a != nil {
		if v, ok := d.str(a); ok {
			switch v {
			case "s", "ms", "us":
				r.TimestampPrecision = v
			default:
				d.errorf(a.Expr.Range(), "Invalid timestamp precision", "timestamp_precision is \"s\", \"ms\" or \"us\": the precision the sink keeps, not %q.", v)
			}
		}
	}
	r.Where, _ = d.nonEmpty(attrs["where"])
	if a := attrs["repair"]; a != nil {
		if v, ok := d.str(a); ok {
			switch v {
			case RepairNone, RepairUpsert, RepairSnapshotSignal:
				r.Repair = v
			default:
				d.errorf(a.Expr.Range(), "Invalid repair mode", "repair is \"upsert\", \"snapshot_signal\" or \"none\", not %q.%s", v, suggestion(v, []string{RepairNone, RepairUpsert, RepairSnapshotSignal}))
			}
		}
	}
	r.DeleteExtra, _ = d.boolean(attrs["delete_extra"])
	if n, ok := d.integer(attrs["max_changes"], 1, maxInt64); ok {
		r.MaxChanges = n
	}
	r.SignalTable, _ = d.nonEmpty(attrs["signal_table"])
	if r.Repair == RepairSnapshotSignal && attrs["signal_table"] == nil {
		d.errorf(attrs["repair"].Range, "Missing signal table", "repair = \"snapshot_signal\" asks Debezium for an incremental snapshot through its signalling table: name it with signal_table = \"schema.table\".")
	}
	if r.DeleteExtra && r.Repair == RepairNone {
		d.errorf(attrs["delete_extra"].Range, "Invalid value", "delete_extra deletes extra sink rows as part of a repair; it needs repair = \"upsert\" or \"snapshot_signal\".")
	}
	if a := attrs["by"]; a != nil {
		if v, ok := d.str(a); ok {
			unit, col, found := strings.Cut(v, ":")
			validUnit := false
			for _, u := range partitionUnits {
				validUnit = validUnit || u == unit
			}
			if !found || !validUnit || strings.TrimSpace(col) == "" {
				d.errorf(a.Expr.Range(), "Invalid partition spec", "by is UNIT:COLUMN, with UNIT one of hour, day, week, month or year, like \"day:updated_at\"; not %q.", v)
			} else {
				r.By = &PartitionSpec{Unit: unit, Column: col}
			}
		}
	}
	if a := attrs["connectors"]; a != nil {
		r.Connectors = d.connectorList(a)
	}
	for i, cb := range content.Blocks.OfType("check") {
		if i > 0 {
			d.errorf(cb.DefRange, "Duplicate check block", "A reconcile block has at most one check block.")
			continue
		}
		r.Check = d.decodeCheck(cb)
	}
	if r.Repair != RepairNone {
		d.decodeReason(b, attrs["reason"], &r.Reason)
	} else if a := attrs["reason"]; a != nil {
		s, _ := d.str(a)
		r.Reason = strings.TrimSpace(s)
	}
	return r
}

// columnList reads a non-empty list of distinct, non-empty column names.
func (d *decoder) columnList(a *hcl.Attribute) []string {
	if a == nil {
		return nil
	}
	list, ok := d.strings(a)
	if !ok {
		return nil
	}
	if len(list) == 0 {
		d.errorf(a.Expr.Range(), "Invalid value", "The list %q must name at least one column; leave it out otherwise.", a.Name)
		return nil
	}
	seen := map[string]bool{}
	for _, c := range list {
		if strings.TrimSpace(c) == "" {
			d.errorf(a.Expr.Range(), "Invalid value", "The list %q holds an empty column name.", a.Name)
			return nil
		}
		if seen[c] {
			d.errorf(a.Expr.Range(), "Invalid value", "The column %q is listed twice in %q.", c, a.Name)
			return nil
		}
		seen[c] = true
	}
	return list
}

// connectorList reads a list of connector references, like
// [connector.source, connector.sink].
func (d *decoder) connectorList(a *hcl.Attribute) []*Connector {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		d.errorf(a.Expr.Range(), "Invalid value", "connectors is a list of connector references, like [connector.source, connector.sink].")
		return nil
	}
	var out []*Connector
	for _, e := range exprs {
		if n, ok := d.ref(&hcl.Attribute{Name: a.Name, Expr: e, Range: e.Range()}, "connector"); ok {
			out = append(out, d.cfg.Connector(n))
		}
	}
	return out
}

// decodeCheck reads a reconcile block's check block: what `offsetctl check`
// runs and when it calls the result drift.
func (d *decoder) decodeCheck(b *hcl.Block) *Check {
	c := &Check{Mode: "checksum", DeclRange: b.DefRange}
	content, diags := b.Body.Content(checkSchema)
	d.add(diags...)
	attrs := content.Attributes
	if a := attrs["mode"]; a != nil {
		if v, ok := d.str(a); ok {
			valid := false
			for _, m := range checkModes {
				valid = valid || m == v
			}
			if !valid {
				d.errorf(a.Expr.Range(), "Invalid check mode", "mode is \"counts\", \"checksum\" or \"rows\", not %q.%s", v, suggestion(v, checkModes))
			} else {
				c.Mode = v
			}
		}
	}
	if n, ok := d.integer(attrs["max_rows_different"], 0, maxInt64); ok {
		c.MaxRowsDifferent = n
	}
	if n, ok := d.integer(attrs["max_lag_records"], 0, maxInt64); ok {
		c.MaxLagRecords = &n
	}
	if n, ok := d.integer(attrs["max_lag_seconds"], 0, maxInt64); ok {
		c.MaxLagSeconds = &n
	}
	if n, ok := d.integer(attrs["max_failed_tasks"], 0, maxInt64); ok {
		c.MaxFailedTasks = n
	}
	return c
}
