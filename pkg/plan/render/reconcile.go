package render

import (
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/plan"
)

// reconcileKeysShown is how many keys of each kind the text lists.
const reconcileKeysShown = 10

// writeReconcileText renders a reconcile operation: the tables, the drift
// per kind, what apply will write and the verification it will run.
func writeReconcileText(b *strings.Builder, pt painter, op plan.Operation) {
	d := op.Reconcile
	b.WriteString("\n")
	fmt.Fprintf(b, "  %s\n", pt.dim(fmt.Sprintf("# %s — %s (%s) → %s (%s), key (%s)", op.Address, d.Table, d.Source, d.SinkTable, d.Sink, strings.Join(d.KeyColumns, ", "))))
	if op.Reason != "" {
		fmt.Fprintf(b, "  %s\n", pt.dim("# reason: "+op.Reason))
	}
	writeRisks(b, pt, op)
	fmt.Fprintf(b, "  %s\n", pt.dim(fmt.Sprintf("# source %s rows (checksum %s), sink %s rows (checksum %s)",
		group(d.SourceRows), d.SourceChecksum.Hex(), group(d.SinkRows), d.SinkChecksum.Hex())))
	if d.By != "" {
		fmt.Fprintf(b, "  %s\n", pt.dim("# "+partitionLine(d)))
	}
	if op.Status == plan.StatusNoChange {
		fmt.Fprintf(b, "    %s\n", pt.dim("no change: the tables are equal"))
		return
	}
	ins, upd, del := d.Changes()
	fmt.Fprintf(b, "  %s %s %q {%s\n", pt.sym(plan.ActionUpdate), op.Kind, op.Name, pt.dim("  # repair = "+d.Repair))
	cols := ""
	if c := d.SortedDiffColumns(); len(c) > 0 {
		cols = " (columns " + strings.Join(c, ", ") + ")"
	}
	switch d.Repair {
	case plan.RepairNone:
		fmt.Fprintf(b, "      %s rows missing, %s mismatched%s, %s extra %s\n", group(int64(len(d.Missing))), group(int64(len(d.Mismatched))), cols,
			group(int64(len(d.Extra))), pt.dim("(report only: nothing is written)"))
	default:
		via := ""
		if d.Repair == plan.RepairSnapshotSignal {
			via = pt.dim(fmt.Sprintf("  # re-emitted by Debezium: execute-snapshot signals into %s", d.SignalTable))
		}
		fmt.Fprintf(b, "      %s %s rows to insert, %s %s to update%s, %s %s to delete%s\n",
			pt.sym(plan.ActionCreate), group(ins), pt.sym(plan.ActionUpdate), group(upd), cols, pt.sym(plan.ActionDelete), group(del), via)
		if kept := int64(len(d.Extra)) - del; kept > 0 {
			fmt.Fprintf(b, "        %s\n", pt.dim(fmt.Sprintf("%s extra rows stay", group(kept))))
		}
	}
	writeKeys := func(a plan.Action, what string, n int, key func(i int) string) {
		if n == 0 {
			return
		}
		var ks []string
		for i := 0; i < min(n, reconcileKeysShown); i++ {
			ks = append(ks, key(i))
		}
		more := ""
		if n > reconcileKeysShown {
			more = fmt.Sprintf(", … %s more", group(int64(n-reconcileKeysShown)))
		}
		fmt.Fprintf(b, "      %s %s keys: %s%s\n", pt.sym(a), what, strings.Join(ks, ", "), more)
	}
	writeKeys(plan.ActionCreate, "missing", len(d.Missing), func(i int) string { return d.Missing[i].Key.String() })
	writeKeys(plan.ActionUpdate, "mismatched", len(d.Mismatched), func(i int) string {
		return d.Mismatched[i].Key.String() + " (" + strings.Join(d.Mismatched[i].Columns, ", ") + ")"
	})
	writeKeys(plan.ActionDelete, "extra", len(d.Extra), func(i int) string { return d.Extra[i].Key.String() })
	fmt.Fprintf(b, "      %s\n", pt.dim("verify: "+d.Verification()))
	b.WriteString("    }\n")
}

// partitionLine says how many partitions of by differ, and which (the first
// reconcileKeysShown, with their row counts).
func partitionLine(d *plan.ReconcileDiff) string {
	unit, col, _ := strings.Cut(d.By, ":")
	diff := d.DiffPartitions()
	line := fmt.Sprintf("by %s of %s: %s %s", unit, col, group(int64(len(d.Partitions))), plural(len(d.Partitions), "partition", "partitions"))
	if len(diff) == 0 {
		return line + ", all equal"
	}
	var ps []string
	for i, p := range diff {
		if i == reconcileKeysShown {
			ps = append(ps, fmt.Sprintf("… %s more", group(int64(len(diff)-reconcileKeysShown))))
			break
		}
		counts := ""
		if p.Source.Rows != p.Sink.Rows {
			counts = fmt.Sprintf(" (source %s rows, sink %s)", group(p.Source.Rows), group(p.Sink.Rows))
		}
		ps = append(ps, p.Partition+counts)
	}
	return fmt.Sprintf("%s, %s differ: %s", line, group(int64(len(diff))), strings.Join(ps, ", "))
}

// writeReconcileRollback renders what rollback does after a repair.
func writeReconcileRollback(b *strings.Builder, pt painter, op plan.Operation) {
	d := op.Reconcile
	switch d.Repair {
	case plan.RepairUpsert:
		ins, upd, del := d.Changes()
		fmt.Fprintf(b, "  %s %s %q on %s {\n", pt.sym(plan.ActionUpdate), op.Kind, op.Name, d.SinkTable)
		fmt.Fprintf(b, "      restores the before-images of up to %s rows from the state (deletes the %s inserted, puts back the %s updated and %s deleted)\n",
			group(ins+upd+del), group(ins), group(upd), group(del))
		b.WriteString("    }\n")
	case plan.RepairSnapshotSignal:
		fmt.Fprintf(b, "  %s %s %q: %s\n", pt.sym(plan.ActionNoOp), op.Kind, op.Name, pt.dim("nothing to roll back on the sink (Debezium re-emitted source rows)"))
	default:
		fmt.Fprintf(b, "  %s %s %q: %s\n", pt.sym(plan.ActionNoOp), op.Kind, op.Name, pt.dim("nothing to roll back (report only)"))
	}
}

// reconcileSummary is the one-line summary of a reconcile operation.
func reconcileSummary(op plan.Operation) string {
	d := op.Reconcile
	if op.Status == plan.StatusNoChange {
		return "no drift"
	}
	ins, upd, del := d.Changes()
	if d.Repair == plan.RepairNone {
		return fmt.Sprintf("%d missing, %d mismatched, %d extra (report only)", len(d.Missing), len(d.Mismatched), len(d.Extra))
	}
	return fmt.Sprintf("+%s ~%s -%s rows", group(ins), group(upd), group(del))
}
