package state

import (
	"errors"
	"testing"
	"time"
)

// TestJournal follows an apply that crashes after its first step, then the
// rollback that a later run performs.
func TestJournal(t *testing.T) {
	s := New("lin")
	op := s.Begin(Operation{Name: "skip", Kind: KindOffsets, Started: t0,
		BeforeImages: []Image{{Connector: "sink", Sink: &SinkOffset{Topic: "orders", Partition: 3, Offset: 99812}}}})
	stop := op.StartStep("stop connector", "sink", t0)
	stop.End(t0.Add(time.Second), "stopped", nil)
	alter := op.StartStep("alter offsets", "sink", t0.Add(time.Second))
	alter.End(t0.Add(2*time.Second), "", errors.New("coordinator not available"))
	if op.Steps[0].Status != StepDone || op.Steps[1].Status != StepFailed || op.Steps[1].Error != "coordinator not available" {
		t.Fatalf("steps %+v", op.Steps)
	}
	// The process dies here: a later reader finds it unfinished.
	if un := s.Unfinished(); len(un) != 1 || un[0].BeforeImages[0].Sink.Offset != 99812 {
		t.Fatalf("Unfinished = %+v", un)
	}
	data, err := Encode(s, "v")
	if err != nil {
		t.Fatal(err)
	}
	later, err := Decode(append([]byte(nil), data...))
	if err == nil {
		t.Fatalf("a state of serial 0 decoded")
	}
	s.Serial = 1
	data, _ = Encode(s, "v")
	if later, err = Decode(data); err != nil {
		t.Fatal(err)
	}
	un := later.Unfinished()
	orig, _ := later.BySerial(un[0].Serial)
	orig.Finish(StatusNeedsRollback, t0.Add(time.Minute), errors.New("interrupted"))
	rb := later.Begin(Operation{Name: "rollback of skip", Kind: KindRollback, RollbackOf: 1, Started: t0.Add(time.Hour), BeforeImages: orig.BeforeImages})
	rb.Finish(StatusApplied, t0.Add(time.Hour+time.Second), nil)
	if err := later.RecordRollback(1, rb.Serial, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if op, _ := later.BySerial(1); op.Status != StatusRolledBack || op.RolledBackBy != 2 || op.Error != "interrupted" {
		t.Errorf("rolled back operation %+v", op)
	}
	if len(later.Unfinished()) != 0 {
		t.Errorf("still unfinished after the rollback")
	}
	if err := later.RecordRollback(2, 1, t0); err == nil {
		t.Errorf("RecordRollback accepted an operation that is not a rollback")
	}
	if err := later.RecordRollback(9, 2, t0); err == nil {
		t.Errorf("RecordRollback accepted a missing operation")
	}
	if _, err := Encode(later, "v"); err != nil {
		t.Errorf("journal result does not encode: %v", err)
	}
}
