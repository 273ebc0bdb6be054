package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/golden"
)

var goldens = golden.Flag()

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestRoundTrip decodes each testdata/roundtrip/*.in.json, encodes it again
// and compares with *.out.json; the output must itself round-trip unchanged.
func TestRoundTrip(t *testing.T) {
	ins, err := filepath.Glob("testdata/roundtrip/*.in.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no round-trip inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := Encode(s, s.OffsetctlVersion)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			outPath := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if updating() {
				if err := os.WriteFile(outPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding differs from %s:\n%s", outPath, golden.Diff(string(want), string(got)))
			}
			s2, err := Decode(got)
			if err != nil {
				t.Fatalf("Decode of the output: %v", err)
			}
			again, err := Encode(s2, s2.OffsetctlVersion)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, got) {
				t.Fatalf("output does not round-trip:\n%s", golden.Diff(string(got), string(again)))
			}
		})
	}
}

// TestRefuse decodes each testdata/refuse file and checks the refusal.
func TestRefuse(t *testing.T) {
	tests := []struct {
		file       string
		wantErr    string
		unreadable bool // wraps ErrUnreadable; otherwise a *VersionError
	}{
		{"future_version.json", "state format_version 6 was written by offsetctl 0.9.0; this offsetctl reads format_version 5 at most: upgrade offsetctl", false},
		{"zero_version.json", "state format_version 0 (written by an unknown offsetctl version) is not a version offsetctl ever wrote", false},
		{"missing_version.json", "it has no format_version, so it is not an offsetctl state file", true},
		{"string_version.json", `format_version must be an integer, found "1"`, true},
		{"truncated.json", "not valid JSON, the file is truncated", true},
		{"empty.json", "the file is empty", true},
		{"not_object.json", "not a JSON object", true},
		{"unknown_field.json", `unknown field "outputs" (was the file edited by hand, or written by a newer offsetctl?)`, true},
		{"unknown_field_nested.json", `unknown field "colour"`, true},
		{"trailing_data.json", "after top-level value", true},
		{"zero_serial.json", "serial is 0", true},
		{"no_lineage.json", "lineage is empty", true},
		{"serial_order.json", "serials must increase (found 2 after 2)", true},
		{"unknown_kind.json", `unknown kind "surgery"`, true},
		{"image_two_kinds.json", "before-image 1: exactly one of source, sink and row must be set, found 2", true},
		{"partition_not_object.json", "partition must be a JSON object, found [1]", true},
		{"bad_time.json", `started "yesterday" is not an RFC 3339 time`, true},
		{"wrong_type.json", `field "operations.before_images.sink.partition" has the wrong type`, true},
		{"bad_checksum.json", "backup 1: checksum sha256:c46ea240", true},
		{"xmin_in_version_1.json", "operation 1: a row image has an xmin, which format_version 1 does not have (it came with 2): the file was edited", true},
		{"row_and_xmin.json", "after-image 1: a row image has both a row and an xmin", true},
		{"xmin_before_image.json", "before-image 2: has an xmin, which only after-images have", true},
		{"bad_xmin.json", `after-image 1: row xmin "-3" is not a transaction id`, true},
		{"incomplete_in_version_2.json", `operation 1: status "incomplete" came with format_version 3, and this file says 2: the file was edited`, true},
		{"saved_config_in_version_4.json", "operation 1: a connector's halt and saved_config came with format_version 5, and this file says 4: the file was edited", true},
		{"risk_classes_in_version_3.json", "operation 1: risk_classes came with format_version 4, and this file says 3: the file was edited", true},
		{"verified_approvals_in_version_2.json", "operation 1: verified_approvals came with format_version 3, and this file says 2: the file was edited", true},
		{"verified_approval_without_key.json", "verified approval 1: needs principals and a key fingerprint", true},
	}
	files, _ := filepath.Glob("testdata/refuse/*")
	if len(files) != len(tests) {
		t.Errorf("testdata/refuse has %d files, the table %d cases", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/refuse", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Decode(data)
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", s)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q\ndoes not contain %q", err, tt.wantErr)
			}
			var ve *VersionError
			if got := errors.Is(err, ErrUnreadable); got != tt.unreadable {
				t.Errorf("errors.Is(err, ErrUnreadable) = %v, want %v", got, tt.unreadable)
			}
			if got := errors.As(err, &ve); got == tt.unreadable {
				t.Errorf("errors.As(err, *VersionError) = %v, want %v", got, !tt.unreadable)
			}
		})
	}
}

func TestSniffVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr string
	}{
		{`{"format_version":1}`, 1, ""},
		{`{"format_version":7,"offsetctl_version":"9.9"}`, 7, ""},
		{`{"format_version":-1}`, -1, "state format_version -1"},
		{`{"format_version":1.5}`, 0, "must be an integer, found 1.5"},
		{`{"format_version":1e0}`, 0, "must be an integer, found 1e0"},
		{`{"format_version":null}`, 0, "no format_version"},
		{`{}`, 0, "no format_version"},
		{`{"format_version":1`, 0, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, _, err := sniffVersion([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("sniffVersion = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

// TestRawJSONKeptExactly checks that offsets given as compact JSON (as
// pkg/offsets.Map marshals them) come back byte for byte: field order,
// 64-bit number literals, escapes and HTML characters.
func TestRawJSONKeptExactly(t *testing.T) {
	partition := json.RawMessage(`{"server":"db<1>&co","database":"caf\u00e9"}`)
	offset := json.RawMessage(`{"lsn_proc":18446744073709551615,"lsn":38406576,"ts_usec":1.7E15,"txId":649,"snapshot":true,"x":null}`)
	key := []byte(`["inventory",{"server":"db<1>&co"}]` + "\x00\xff")
	s := New("lin")
	s.Serial = 1
	op := s.Begin(Operation{Name: "rewind", Kind: KindOffsets, Started: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)})
	op.BeforeImages = []Image{{Connector: "inventory", Source: &SourceOffset{Key: key, Partition: partition, Offset: offset}}}
	data, err := Encode(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	src := back.Operations[0].BeforeImages[0].Source
	if !bytes.Equal(src.Partition, partition) || !bytes.Equal(src.Offset, offset) || !bytes.Equal(src.Key, key) {
		t.Fatalf("not kept exactly:\npartition %s\noffset    %s\nkey       %q", src.Partition, src.Offset, src.Key)
	}
}

func TestEncodeRefusesInvalidState(t *testing.T) {
	started := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	valid := func() *State {
		s := New("lin")
		s.Begin(Operation{Name: "a", Kind: KindOffsets, Started: started})
		return s
	}
	tests := []struct {
		name    string
		change  func(s *State)
		wantErr string
	}{
		{"no lineage", func(s *State) { s.Lineage = "" }, "lineage is empty"},
		{"no name", func(s *State) { s.Operations[0].Name = "" }, "name is empty"},
		{"bad status", func(s *State) { s.Operations[0].Status = "done" }, `unknown status "done"`},
		{"no start", func(s *State) { s.Operations[0].Started = time.Time{} }, "started is missing"},
		{"rollback without target", func(s *State) { s.Begin(Operation{Name: "r", Kind: KindRollback, Started: started}) }, "must name the operation it undoes"},
		{"rollback of the future", func(s *State) { s.Begin(Operation{Name: "r", Kind: KindRollback, RollbackOf: 9, Started: started}) }, "rollback_of 9 does not name an earlier operation"},
		{"bad step", func(s *State) { s.Operations[0].Steps = []Step{{Name: "stop", Status: "ok"}} }, `step 1 (stop): unknown status "ok"`},
		{"empty image", func(s *State) { s.Operations[0].BeforeImages = []Image{{Connector: "c"}} }, "found 0"},
		{"invalid offset JSON", func(s *State) {
			s.Operations[0].BeforeImages = []Image{{Source: &SourceOffset{Partition: json.RawMessage(`{"a":1}`), Offset: json.RawMessage(`{"a":`)}}}
		}, "offset must be a JSON object"},
		{"sink offset below -1", func(s *State) {
			s.Operations[0].After = []Image{{Sink: &SinkOffset{Topic: "t", Offset: -2}}}
		}, "after-image 1: sink offset -2 is below -1"},
		{"row without key", func(s *State) { s.Operations[0].BeforeImages = []Image{{Row: &RowImage{Table: "t"}}} }, "row key is missing"},
		{"row key not an object", func(s *State) {
			s.Operations[0].BeforeImages = []Image{{Row: &RowImage{Table: "t", Key: json.RawMessage(` ["{"]`)}}}
		}, `row key must be a JSON object, found  ["{"]`},
		{"row not an object", func(s *State) {
			s.Operations[0].BeforeImages = []Image{{Row: &RowImage{Table: "t", Key: json.RawMessage("\n {}"), Row: json.RawMessage(`"{"`)}}}
		}, `row must be a JSON object, found "{"`},
		{"row not JSON", func(s *State) {
			s.Operations[0].BeforeImages = []Image{{Row: &RowImage{Table: "t", Key: json.RawMessage(`{"id":1}`), Row: json.RawMessage(`{"a":1`)}}}
		}, `row: not valid JSON`},
		{"edited backup", func(s *State) {
			b, _ := s.AddBackup(1, started, "c", "prod", json.RawMessage(`{"a": 1}`))
			b.Content = json.RawMessage(`{"a":2}`)
		}, "does not match its content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			if _, err := Encode(s, "v"); err != nil {
				t.Fatalf("valid state refused: %v", err)
			}
			tt.change(s)
			_, err := Encode(s, "v")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Encode error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMarshalOperation(t *testing.T) {
	op := &Operation{Serial: 3, Name: "a<b>", Kind: KindOffsets, Status: StatusApplied, Started: t0, Approvals: []string{"z", "a"}}
	got, err := MarshalOperation(op)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"serial":3,"name":"a<b>","kind":"offsets","status":"applied","started":"2026-11-20T10:00:00Z","approvals":["a","z"],"before_images":[]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := MarshalOperation(&Operation{Serial: 1, Name: "x", Kind: "nope", Status: StatusApplied, Started: t0}); err == nil {
		t.Error("an invalid operation was marshalled")
	}
}

// TestIndentTo: indentTo only adds whitespace outside strings (the result
// compacts back to its input), indents as encoding/json does above the depth,
// and leaves deeper containers as they are.
func TestIndentTo(t *testing.T) {
	for _, src := range []string{
		`{}`, `[]`, `{"a":[]}`, `{"a":{}}`, `"x"`, `3`,
		`{"a":1,"b":[1,2,{"c":"d"}],"e":{"f":[[],{}]}}`,
		`{"s":"a \"quoted\" {brace}, [bracket]: colon \\ backslash","t":"\u00e9\n"}`,
		`[{"k":{"x":{"y":{"z":[1,{"w":"}"}]}}}},"{",",",":"]`,
	} {
		for _, depth := range []int{1, 2, 3, 5, 100} {
			got := indentTo(nil, []byte(src), depth)
			var back bytes.Buffer
			if err := json.Compact(&back, got); err != nil || back.String() != src {
				t.Errorf("depth %d: %s\ncompacts to %s (%v), want %s", depth, got, back.String(), err, src)
			}
			if depth == 100 {
				var want bytes.Buffer
				_ = json.Indent(&want, []byte(src), "", "  ")
				if string(got) != want.String() {
					t.Errorf("depth 100: %s\nwant (encoding/json) %s", got, want.String())
				}
			}
		}
	}
	if got := string(indentTo(nil, []byte(`{"a":[{"b":[1,2]}],"c":3}`), 3)); got != "{\n  \"a\": [\n    {\"b\":[1,2]}\n  ],\n  \"c\": 3\n}" {
		t.Errorf("depth 3:\n%s", got)
	}
}

// TestEncodeCachedImages: a State made by New encodes its row images once
// and reuses the lines at later writes; its file is byte for byte that of the
// same State without the cache, write after write.
func TestEncodeCachedImages(t *testing.T) {
	cached, plain := New("00000000-0000-4000-8000-000000000001"), &State{Lineage: "00000000-0000-4000-8000-000000000001"}
	for _, s := range []*State{cached, plain} {
		s.Begin(Operation{Name: "customers", Kind: KindReconcile, Started: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)})
	}
	for batch := range 3 {
		for _, s := range []*State{cached, plain} {
			op := &s.Operations[0]
			for k := range 3 {
				id := batch*3 + k
				op.BeforeImages = append(op.BeforeImages, Image{Row: &RowImage{Database: "sink", Table: "d.customers",
					Key: json.RawMessage(fmt.Sprintf(`{"id": "%d"}`, id)), Row: json.RawMessage(fmt.Sprintf(`{"id":%d,"note":"<a & b>","meta":{"n": %d}}`, id, id))}})
				op.After = append(op.After, Image{Row: &RowImage{Database: "sink", Table: "d.customers", Key: json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, id)), Xmin: "42"}})
			}
			s.Serial++
		}
		got, err := Encode(cached, "test")
		if err != nil {
			t.Fatal(err)
		}
		want, err := Encode(plain, "test")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("write %d: cached encoding differs:\n%s", batch+1, golden.Diff(string(want), string(got)))
		}
		if _, err := Decode(got); err != nil {
			t.Fatalf("write %d: %v", batch+1, err)
		}
		// The bytes are the caller's: the cache keeps its own copy.
		for i := range got {
			got[i] = 'x'
		}
		for _, im := range append(slices.Clip(cached.Operations[0].BeforeImages), cached.Operations[0].After...) {
			if line, _ := appendRowLine(nil, im); !bytes.Equal(cached.enc.lines[im.Row], line) {
				t.Fatalf("write %d: the cached line of %s is %q after the caller changed the bytes Encode returned", batch+1, im.Row.Key, cached.enc.lines[im.Row])
			}
		}
	}
	if n := len(cached.enc.lines); n != 18 {
		t.Errorf("%d lines cached, want 18", n)
	}
}

// TestRowLine: row image lines are written as encoding/json writes them.
func TestRowLine(t *testing.T) {
	for _, im := range []Image{
		{Row: &RowImage{Table: "t", Key: json.RawMessage(`{"id":"1"}`)}},
		{Row: &RowImage{Database: "sink", Table: `s."odd ""t"""`, Key: json.RawMessage(` { "id" : "1" } `), Row: json.RawMessage(`{"a": [1, 2], "b": "x\u00e9<&>", "c": null}`)}},
		{Row: &RowImage{Database: "é\tdb", Table: "t\u2028", Key: json.RawMessage(`{"k":"\\"}`), Xmin: "4294967295"}},
		{Connector: "c", Row: &RowImage{Table: "t", Key: json.RawMessage(`{"id":"1"}`)}},
		{Sink: &SinkOffset{Topic: "x", Offset: 3}},
	} {
		got, err := appendRowLine(nil, im)
		if err != nil {
			t.Fatal(err)
		}
		want, err := marshalCompact(imageToV1(im))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("appendRowLine = %s\nwant     %s", got, want)
		}
	}
	if _, err := appendRowLine(nil, Image{Row: &RowImage{Table: "t", Key: json.RawMessage(`{"id":`)}}); err == nil {
		t.Error("appendRowLine accepted invalid JSON")
	}
}
