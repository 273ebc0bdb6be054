package offsets

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestParseREST: the one parser of GET /offsets answers. Sink numbers given
// as strings are accepted, as Kafka Connect accepts them: plan and apply's
// verification read the same answer the same way.
func TestParseREST(t *testing.T) {
	raw := func(p, o string) RESTOffset {
		return RESTOffset{Partition: json.RawMessage(p), Offset: json.RawMessage(o)}
	}
	for _, tc := range []struct {
		name    string
		sink    bool
		in      []RESTOffset
		want    []string // String()=Value() per position
		wantErr string
	}{
		{name: "sink", sink: true, in: []RESTOffset{raw(`{"kafka_topic":"t","kafka_partition":1}`, `{"kafka_offset":42}`)}, want: []string{"t[1]=42"}},
		{name: "sink numbers as strings", sink: true, in: []RESTOffset{raw(`{"kafka_topic":"t","kafka_partition":"2"}`, `{"kafka_offset":"7"}`)}, want: []string{"t[2]=7"}},
		{name: "sink null offset", sink: true, in: []RESTOffset{raw(`{"kafka_topic":"t","kafka_partition":0}`, `null`)}, want: []string{"t[0]=none"}},
		{name: "sink without topic", sink: true, in: []RESTOffset{raw(`{"kafka_partition":0}`, `null`)}, wantErr: "unexpected sink partition"},
		{name: "sink offset not a number", sink: true, in: []RESTOffset{raw(`{"kafka_topic":"t","kafka_partition":0}`, `{"kafka_offset":"five"}`)}, wantErr: "unexpected sink offset"},
		{name: "source exact", in: []RESTOffset{raw(`{"server":"db"}`, `{"lsn":18446744073709551615}`)}, want: []string{`source partition {"server":"db"}={"lsn":18446744073709551615}`}},
		{name: "source null offset", in: []RESTOffset{raw(`{"server":"db"}`, `null`)}, want: []string{`source partition {"server":"db"}=none`}},
		{name: "source nested offset", in: []RESTOffset{raw(`{"server":"db"}`, `{"a":{"b":1}}`)}, wantErr: "offset from Kafka Connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseREST(tc.sink, tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String()+"="+p.Value())
			}
			if strings.Join(s, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got %q, want %q", s, tc.want)
			}
			// What RESTBody writes parses back to the same positions.
			again, err := ParseREST(tc.sink, RESTBody(got))
			if err != nil {
				t.Fatal(err)
			}
			if d := Differences(got, again); len(d) > 0 {
				t.Errorf("RESTBody does not round-trip: %v", d)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		sink, canRead, canWrite bool
		read, write             Method
	}{
		{"source on 3.6+", false, true, true, ViaREST, ViaREST},
		{"source on 3.5", false, true, false, ViaREST, ViaTopic},
		{"source before 3.5", false, false, false, ViaTopic, ViaTopic},
		{"sink on 3.6+", true, true, true, ViaREST, ViaREST},
		{"sink on 3.5", true, true, false, ViaREST, ViaGroup},
		{"sink before 3.5", true, false, false, ViaGroup, ViaGroup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r, w := Paths(tc.sink, tc.canRead, tc.canWrite); r != tc.read || w != tc.write {
				t.Errorf("Paths = %s, %s; want %s, %s", r, w, tc.read, tc.write)
			}
		})
	}
}
