package state

import (
	"strings"
	"testing"
	"time"
)

// TestRecordKindsNeedVersion4: a state holding a drill or a check is written
// as format_version 4 and reads back; one without them stays at 2; a file
// that says 3 and holds a drill was edited.
func TestRecordKindsNeedVersion4(t *testing.T) {
	at := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind Kind
		want string
	}{{KindOffsets, `"format_version": 2`}, {KindDrill, `"format_version": 4`}, {KindCheck, `"format_version": 4`}} {
		s := New("lineage-1")
		s.Serial = 1
		op := s.Begin(Operation{Name: "x", Kind: tc.kind, Who: "me", Started: at, Status: StatusApplied, Finished: at,
			Steps: []Step{{Name: "roll back", Target: "drill-a", Status: StepDone, Started: at, Finished: at.Add(time.Second)}}})
		_ = op
		b, err := Encode(s, "test")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: want %s in\n%s", tc.kind, tc.want, b)
		}
		got, err := Decode(b)
		if err != nil || got.Operations[0].Kind != tc.kind {
			t.Fatalf("%s: read back: %v", tc.kind, err)
		}
		if tc.kind.Record() {
			edited := strings.Replace(string(b), `"format_version": 4`, `"format_version": 3`, 1)
			if _, err := Decode([]byte(edited)); err == nil || !strings.Contains(err.Error(), "came with format_version 4") {
				t.Errorf("%s in a version 3 file: %v", tc.kind, err)
			}
		}
	}
}
