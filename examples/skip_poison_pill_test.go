package examples_test

import (
	"slices"
)

// skipPoisonPill is scenario (b): a record the sink cannot apply fails its
// task at the same offset after every restart, and the changes behind it
// pile up. Skipping it moves the pipeline on, and exactly that one record
// is missing from what the sink applied.
func skipPoisonPill(w *world) {
	t := w.t
	w.note("A healthy pipeline: customers 1-20 streamed to the sink (offsets 0-19).")
	w.insert(1, 20)
	w.caughtUp()

	w.note("10:02: a producer dies mid-write and leaves a truncated change event at offset 20.")
	pill, err := w.pipe.ProducePoison(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pill != 20 {
		t.Fatalf("the poison pill is at offset %d, the README says 20", pill)
	}
	w.waitTask(sinkConnector, "FAILED")
	w.note("Customers 21-25 sign up; their changes queue up behind the pill (offsets 21-25).")
	w.insert(21, 25)
	if err := w.pipe.WaitSourceCaughtUp(w.ctx); err != nil {
		t.Fatal(err)
	}

	r := w.must(0, "connectors")
	w.contains("connectors", r.out, "customers-sink    sink    RUNNING  1 FAILED")
	body := w.curl(200, "GET", "/connectors/customers-sink/status", "")
	w.contains("status", body, "record shop.public.customers/0@20 is not a JSON change event")
	r = w.must(0, "offsets", "show", sinkConnector)
	w.contains("offsets show", r.out, "shop.public.customers  0          20         0          26       6")

	w.note("A restart does not help: the task fails on the same record.")
	w.curl(204, "POST", "/connectors/customers-sink/tasks/0/restart", "")
	w.waitTask(sinkConnector, "FAILED")
	if got := ids(w.sinkRows()); len(got) != 20 {
		t.Fatalf("the sink applied %d customers while stuck, want 20", len(got))
	}
	r = w.must(2, "diff", "--table", "customers")
	w.contains("diff", r.out, "5 missing, 0 extra, 0 different.")

	w.must(0, "validate")
	w.must(0, "fmt", "-check")
	r = w.must(0, "plan", "-out", "skip.plan")
	w.contains("plan", r.out, "20 → 21  (skips 1 record)", "Plan: 1 operation to apply", "0 records replayed, 1 record skipped")
	r = w.must(0, "apply", "skip.plan")
	w.contains("apply", r.out, "Apply complete!")
	w.contains("apply", r.out+r.err, "is left STOPPED")

	// Nothing moved but the one offset, and the connector waits, STOPPED,
	// for the operator.
	if st := w.status(sinkConnector); st.Connector.State != "STOPPED" {
		t.Fatalf("after apply the sink is %s, want STOPPED (it was failed)", st.Connector.State)
	}
	r = w.must(0, "offsets", "show", sinkConnector)
	w.contains("offsets show after the skip", r.out, "shop.public.customers  0          21         0          26       5")

	w.curl(202, "PUT", "/connectors/customers-sink/resume", "")
	w.waitTask(sinkConnector, "RUNNING")
	w.caughtUp()

	// The effect on the data: every change behind the pill arrived; the only
	// record the sink never applied is the pill.
	w.inSync()
	if got, want := ids(w.sinkRows()), ids(w.sourceRows()); !slices.Equal(got, want) || len(got) != 25 {
		t.Fatalf("sink customers %v, want the source's 25 %v", got, want)
	}
	events := w.topicEvents()
	if len(events) != 26 {
		t.Fatalf("the topic holds %d records, want 26 (25 changes and the pill)", len(events))
	}
	var notApplied []int64
	for _, e := range events {
		if e.Op != "c" {
			notApplied = append(notApplied, e.Offset)
		}
	}
	if !slices.Equal(notApplied, []int64{20}) {
		t.Fatalf("records that are not change events: offsets %v, want only the pill at [20]", notApplied)
	}
	w.must(0, "diff", "--table", "customers")
	w.must(0, "connectors")
}
