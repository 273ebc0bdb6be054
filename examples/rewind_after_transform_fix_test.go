package examples_test

import (
	"fmt"
	"slices"
)

// rewindAfterTransformFix is scenario (a): a transformation on the sink
// dropped every 5th record while the sink committed their offsets; after the
// fix the sink is rewound to where the transformation went in, and the
// dropped rows reappear in the sink table.
func rewindAfterTransformFix(w *world) {
	t := w.t
	w.note("A healthy pipeline: customers 1-20 streamed to the sink (offsets 0-19).")
	w.insert(1, 20)
	w.caughtUp()

	w.note("09:12: the mask-email SMT is deployed on customers-sink; it drops every 5th record. Customers 21-40 arrive.")
	w.sb.Faults().DropEveryNth(sinkConnector, 5)
	w.insert(21, 40)
	w.caughtUp()
	w.note("09:40: the SMT is fixed (v1.4.2) and redeployed.")
	w.sb.Faults().DropEveryNth(sinkConnector, 0)
	if got, want := missing(ids(w.sourceRows()), ids(w.sinkRows())), []int64{25, 30, 35, 40}; !slices.Equal(got, want) {
		t.Fatalf("customers missing in the sink after the broken SMT: %v, want %v", got, want)
	}

	r := w.must(0, "offsets", "show", sinkConnector)
	w.contains("offsets show", r.out, "shop.public.customers  0          40         0          40       0")
	r = w.must(2, "diff", "--table", "customers")
	w.contains("diff", r.out, "25", "40")

	w.must(0, "validate")
	w.must(0, "fmt", "-check")
	r = w.must(0, "plan", "-out", "replay.plan")
	w.contains("plan", r.out, "40 → 20  (replays 20 records)", "Plan: 1 operation to apply", "20 → 40")
	r = w.must(0, "show", "-markdown", "replay.plan")
	w.contains("show -markdown", r.out, "| `offsets.replay_after_smt_fix` | `customers-sink` | change | `replay` | 1 | 20 | 0 |")

	r = w.must(0, "apply", "replay.plan")
	w.contains("apply", r.out, "Apply complete! 1 operation applied, 1 partition changed and verified.")
	w.caughtUp()

	// The effect on the data: the four dropped rows are back, and the sink
	// table is the source table again.
	if got := missing(ids(w.sourceRows()), ids(w.sinkRows())); len(got) != 0 {
		t.Fatalf("customers still missing in the sink after the replay: %v", got)
	}
	w.inSync()
	w.must(0, "diff", "--table", "customers")

	r = w.must(0, "plan", "-detailed-exitcode")
	w.contains("plan after apply", r.out, "already applied (state serial 1), no change")
	r = w.must(0, "state", "list")
	w.contains("state list", r.out, "replay_after_smt_fix  offsets  applied")
	r = w.must(0, "offsets", "show", sinkConnector)
	w.contains("offsets show after the replay", r.out, fmt.Sprintf("shop.public.customers  0          %d", 40))
}
