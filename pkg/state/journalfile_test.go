package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/golden"
)

var tj = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func rowImage(id int) Image {
	return Image{Row: &RowImage{Database: "sink", Table: "d.customers",
		Key: json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, id)), Row: json.RawMessage(fmt.Sprintf(`{"id":%d,"note":"line\nbreak <&>"}`, id))}}
}

// journalSteps are the changes of an apply, each written as one record:
// operations begun, steps recorded, images appended, a backup taken, a
// status changed.
var journalSteps = []func(s *State){
	func(s *State) {
		s.Begin(Operation{Name: "skip", Kind: KindOffsets, Started: tj,
			BeforeImages: []Image{{Connector: "inventory", Sink: &SinkOffset{Topic: "orders", Partition: 3, Offset: 99812}}}})
	},
	func(s *State) {
		c := json.RawMessage(`{"format_version":1,"offsets":[]}`)
		s.Backups = append(s.Backups, Backup{ID: 1, Operation: 1, TakenAt: tj, Connector: "inventory", Content: c, Checksum: Checksum(c)})
		s.Operations[0].StartStep("alter", "inventory", tj)
	},
	func(s *State) {
		s.Operations[0].Steps[0].End(tj, "1 partition altered", nil)
		s.Operations[0].Finish(StatusApplied, tj, nil)
		s.Begin(Operation{Name: "customers", Kind: KindReconcile, Started: tj})
	},
	func(s *State) {
		op := &s.Operations[1]
		for id := range 3 {
			op.BeforeImages = append(op.BeforeImages, rowImage(id))
		}
	},
	func(s *State) {
		op := &s.Operations[1]
		for id := range 3 {
			op.After = append(op.After, Image{Row: &RowImage{Database: "sink", Table: "d.customers", Key: json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, id)), Xmin: "42"}})
		}
		for id := 3; id < 5; id++ {
			op.BeforeImages = append(op.BeforeImages, rowImage(id))
		}
	},
	func(s *State) { s.Operations[1].Finish(StatusFailed, tj, errors.New("2 of 5 rows still differ")) },
}

// TestJournalRoundTrip writes a state once whole and then change after
// change as journal records: replaying the journal on the file gives, after
// every record, the state that a whole write would have stored, byte for
// byte. The records are golden: their format is a contract.
func TestJournalRoundTrip(t *testing.T) {
	s := New("00000000-0000-4000-8000-000000000001")
	s.Serial = 1
	file, err := Encode(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := Decode(file)
	if err != nil {
		t.Fatal(err)
	}
	w := Snapshot(s)
	var journal []byte
	for i, change := range journalSteps {
		change(s)
		s.Serial++
		rec, next, ok, err := AppendRecord(w, s, "test")
		if err != nil || !ok {
			t.Fatalf("change %d: AppendRecord = %v, %v", i+1, ok, err)
		}
		w = next
		journal = append(journal, rec...)
		got, used, err := ReplayJournal(stored, journal)
		if err != nil || used != len(journal) {
			t.Fatalf("change %d: ReplayJournal = %d of %d bytes, %v", i+1, used, len(journal), err)
		}
		want, _ := Encode(s, "test")
		gotFile, err := Encode(got, "test")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotFile, want) {
			t.Fatalf("change %d: the replayed state differs from the state written:\n%s", i+1, golden.Diff(string(want), string(gotFile)))
		}
	}
	goldens.Assert(t, "journal", journal)
}

// TestJournalRecordsOnlyWhatIsNew: a record carries the images appended
// since the last one, not the earlier ones again.
func TestJournalRecordsOnlyWhatIsNew(t *testing.T) {
	s := New("l")
	s.Serial = 1
	op := s.Begin(Operation{Name: "customers", Kind: KindReconcile, Started: tj})
	w := Snapshot(s)
	var sizes []int
	for batch := range 3 {
		for id := batch * 100; id < (batch+1)*100; id++ {
			op.BeforeImages = append(op.BeforeImages, rowImage(id))
		}
		s.Serial++
		rec, next, ok, err := AppendRecord(w, s, "test")
		if err != nil || !ok {
			t.Fatalf("AppendRecord = %v, %v", ok, err)
		}
		if n := bytes.Count(rec, []byte(`"table":"d.customers"`)); n != 100 {
			t.Errorf("record %d carries %d images, want the 100 new ones", batch+1, n)
		}
		w, sizes = next, append(sizes, len(rec))
	}
	if sizes[2] > sizes[0]*11/10 {
		t.Errorf("record sizes %v grow with the state", sizes)
	}
}

// TestAppendRecordRefusesWhatIsNotAnAppend: when the state is not the one
// described with things appended, AppendRecord says so (the caller writes
// the whole state); a state Encode refuses is refused.
func TestAppendRecordRefusesWhatIsNotAnAppend(t *testing.T) {
	base := func() (*State, *Written) {
		s := New("l")
		s.Serial = 4
		s.Begin(Operation{Name: "a", Kind: KindReconcile, Started: tj, BeforeImages: []Image{rowImage(1), rowImage(2)}})
		s.Begin(Operation{Name: "b", Kind: KindReconcile, Started: tj})
		w := Snapshot(s)
		s.Serial++
		return s, w
	}
	for _, tc := range []struct {
		name   string
		change func(s *State)
		ok     bool
		err    string
	}{
		{"images appended", func(s *State) { s.Operations[0].BeforeImages = append(s.Operations[0].BeforeImages, rowImage(3)) }, true, ""},
		{"status changed", func(s *State) { s.Operations[1].Status = StatusApplied }, true, ""},
		{"operation removed", func(s *State) { s.Operations = s.Operations[:1] }, false, ""},
		{"operation replaced", func(s *State) { s.Operations[1].Serial = 9 }, false, ""},
		{"image replaced", func(s *State) { s.Operations[0].BeforeImages[1] = rowImage(7) }, false, ""},
		{"image removed", func(s *State) { s.Operations[0].BeforeImages = s.Operations[0].BeforeImages[:1] }, false, ""},
		{"serial not the next", func(s *State) { s.Serial++ }, false, ""},
		{"another lineage", func(s *State) { s.Lineage = "m" }, false, ""},
		{"invalid new image", func(s *State) {
			s.Operations[1].BeforeImages = []Image{{Row: &RowImage{Table: "t", Key: json.RawMessage(`{"id":`)}}}
		}, false, "key: not valid JSON"},
		{"invalid status", func(s *State) { s.Operations[0].Status = "odd" }, false, `unknown status "odd"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, w := base()
			tc.change(s)
			rec, _, ok, err := AppendRecord(w, s, "test")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("AppendRecord error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || (ok && len(rec) == 0) {
				t.Fatalf("AppendRecord = %v, %v; want ok %v", ok, err, tc.ok)
			}
		})
	}
}

// TestReplayJournalRefusals: what ReplayJournal ignores (a torn last
// record, a stale journal) and what it refuses, with the reason.
func TestReplayJournalRefusals(t *testing.T) {
	s := New("00000000-0000-4000-8000-000000000001")
	s.Serial = 3
	file, _ := Encode(s, "test")
	stored, _ := Decode(file)
	w := Snapshot(s)
	var recs [][]byte
	for _, change := range journalSteps[:3] {
		change(s)
		s.Serial++
		rec, next, _, err := AppendRecord(w, s, "test")
		if err != nil {
			t.Fatal(err)
		}
		recs, w = append(recs, rec), next
	}
	join := func(rs ...[]byte) []byte { return bytes.Join(rs, nil) }
	flip := func(rec []byte, at int) []byte {
		c := bytes.Clone(rec)
		c[at] ^= 1
		return c
	}
	// reseal gives a record a changed JSON with a valid checksum.
	reseal := func(rec []byte, from, to string) []byte {
		body := strings.Replace(string(rec[9:len(rec)-1]), from, to, 1)
		return seal(append(make([]byte, 9), body...))
	}
	for _, tc := range []struct {
		name       string
		journal    []byte
		wantSerial uint64 // 0: refused
		wantUsed   int
		err        error
		msg        string
	}{
		{"empty", nil, 3, 0, nil, ""},
		{"whole", join(recs...), 6, len(join(recs...)), nil, ""},
		{"last record cut short", join(recs[0], recs[1], recs[2][:len(recs[2])/2]), 5, len(join(recs[0], recs[1])), nil, ""},
		{"last record damaged", join(recs[0], flip(recs[1], 40)), 4, len(recs[0]), nil, ""},
		{"a record damaged before the last", join(recs[0], flip(recs[1], 40), recs[2]), 0, 0, ErrUnreadable, "record 2: its checksum does not match"},
		{"a record missing", join(recs[0], recs[2]), 0, 0, ErrUnreadable, "record 2 follows serial 5, but the record before it made serial 4"},
		{"journal ahead of the file", join(recs[1], recs[2]), 0, 0, ErrJournalAhead, "follows serial 4, the state file is at serial 3"},
		{"newer record format", join(reseal(recs[0], `"format_version":1,`, `"format_version":2,`)), 0, 0, ErrUnreadable, "format_version 2 was written by a newer offsetctl"},
		{"unknown field", join(reseal(recs[0], `"base_serial"`, `"colour":1,"base_serial"`)), 0, 0, ErrUnreadable, `unknown field "colour"`},
		{"another lineage", join(reseal(recs[0], `"lineage":"00000000`, `"lineage":"10000000`)), 0, 0, ErrUnreadable, "lineage 10000000"},
		{"image counts that do not match", join(recs[0], recs[1], reseal(recs[2], `"before_images":1,`, `"before_images":2,`)), 0, 0, ErrUnreadable, "it follows 2 before-images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, used, err := ReplayJournal(stored, tc.journal)
			if tc.wantSerial == 0 {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("ReplayJournal error = %v, want %v with %q", err, tc.err, tc.msg)
				}
				return
			}
			if err != nil || got.Serial != tc.wantSerial || used != tc.wantUsed {
				t.Fatalf("ReplayJournal = serial %v, %d bytes used, %v; want serial %d, %d bytes", serialOf(got), used, err, tc.wantSerial, tc.wantUsed)
			}
		})
	}

	// A journal older than the file (a compaction wrote the file whole and
	// died before removing it) is ignored.
	later := *stored
	later.Serial = 7
	got, used, err := ReplayJournal(&later, join(recs...))
	if err != nil || got != &later || used != 0 {
		t.Errorf("stale journal: ReplayJournal = serial %v, %d bytes used, %v; want the file's state, 0 bytes", serialOf(got), used, err)
	}
}

func serialOf(s *State) any {
	if s == nil {
		return nil
	}
	return s.Serial
}
