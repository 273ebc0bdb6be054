package offsets

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOwnOffsetsTopic: a connector with its own offsets.storage.topic is
// read as Kafka Connect reads it (from its topic only: a partition only in
// the worker's topic reads as none, as the real worker shows in
// internal/realstack TestRealOwnOffsetsTopicReads) and written as it writes
// (KAFKA-15018: deletions to the worker's topic first, everything to the
// connector's, new values copied to the worker's).
func TestOwnOffsetsTopic(t *testing.T) {
	const own = "orders-offsets"
	a := mustMap(t, `{"server":"a"}`)
	b := mustMap(t, `{"server":"b"}`)
	v := func(n string) Map { return mustMap(t, `{"lsn":`+n+`}`) }
	ptr := func(m Map) *Map { return &m }
	cases := []struct {
		name              string
		global, ownRecs   map[string]Map // partition server → offset
		write             []Position
		want              map[string]string // server → offset read (merged), "" absent
		wantOwn, wantGlob map[string]string // what each topic holds after
	}{
		{
			name:    "read from the connector's topic only",
			global:  map[string]Map{"a": v("1"), "b": v("2")},
			ownRecs: map[string]Map{"a": v("10")},
			want:    map[string]string{"a": `{"lsn":10}`, "b": ""},
		},
		{
			name:     "a write goes to the connector's topic and is copied to the worker's",
			global:   map[string]Map{"b": v("2")},
			ownRecs:  map[string]Map{"a": v("10")},
			write:    []Position{{SourcePartition: b, Offset: ptr(v("5"))}},
			want:     map[string]string{"a": `{"lsn":10}`, "b": `{"lsn":5}`},
			wantOwn:  map[string]string{"a": `{"lsn":10}`, "b": `{"lsn":5}`},
			wantGlob: map[string]string{"b": `{"lsn":5}`},
		},
		{
			name:     "a deletion removes the partition from both topics",
			global:   map[string]Map{"a": v("1")},
			ownRecs:  map[string]Map{"a": v("10")},
			write:    []Position{{SourcePartition: a}},
			want:     map[string]string{"a": ""},
			wantOwn:  map[string]string{"a": ""},
			wantGlob: map[string]string{"a": ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := newKafka(t, kfake.SeedTopics(3, own))
			ctx := testCtx(t)
			seed := func(topic string, recs map[string]Map) {
				var krs []*kgo.Record
				for server, off := range recs {
					key := EncodeKey("pg", mustMap(t, `{"server":"`+server+`"}`))
					krs = append(krs, &kgo.Record{Topic: topic, Key: key, Value: off.JSON()})
				}
				if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			seed(testTopic, tc.global)
			seed(own, tc.ownRecs)
			primary, fallback := SourceOffsetsTopics(testTopic, map[string]string{"offsets.storage.topic": own})
			if primary != own || fallback != testTopic {
				t.Fatalf("SourceOffsetsTopics = %q, %q", primary, fallback)
			}
			loc := Location{Connector: "pg", Via: ViaTopic, OffsetsTopic: primary, FallbackTopic: fallback}
			w := NewWriter(loc, nil, func() (*kgo.Client, error) { return cl, nil })
			if _, err := w.Write(ctx, tc.write); err != nil {
				t.Fatal(err)
			}
			for server, want := range tc.want {
				got, err := w.Read(ctx, []Position{{SourcePartition: mustMap(t, `{"server":"`+server+`"}`)}})
				if err != nil {
					t.Fatal(err)
				}
				if s := offsetString(got[0].Offset); s != want {
					t.Errorf("read %s = %s, want %s", server, s, want)
				}
			}
			for topic, want := range map[string]map[string]string{own: tc.wantOwn, testTopic: tc.wantGlob} {
				snap, err := ReadTopic(ctx, cl, topic)
				if err != nil {
					t.Fatal(err)
				}
				for server, w := range want {
					r, ok := snap.Find("pg", mustMap(t, `{"server":"`+server+`"}`))
					got := ""
					if ok {
						got = r.Offset.String()
					}
					if got != w {
						t.Errorf("topic %s holds %s = %s, want %s", topic, server, got, w)
					}
				}
			}
		})
	}
}

func offsetString(m *Map) string {
	if m == nil {
		return ""
	}
	return m.String()
}

// TestReadConfigTopic: creation after a deletion, the target state (3.5+'s
// state.v2) and an exactly-once worker's task-count record.
func TestReadConfigTopic(t *testing.T) {
	cl := newKafka(t, kfake.SeedTopics(1, DefaultConfigTopic))
	ctx := testCtx(t)
	at := func(min int) time.Time { return time.Date(2026, 12, 1, 10, min, 0, 0, time.UTC) }
	rec := func(key, value string, ts time.Time) *kgo.Record {
		r := &kgo.Record{Topic: DefaultConfigTopic, Key: []byte(key), Timestamp: ts}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	if err := cl.ProduceSync(ctx,
		rec("connector-orders", `{"properties":{}}`, at(1)),
		rec("connector-orders", `{"properties":{"x":"1"}}`, at(2)),
		rec("connector-orders", "", at(3)),
		rec("connector-orders", `{"properties":{}}`, at(4)),
		rec("target-state-orders", `{"state":"PAUSED","state.v2":"STOPPED"}`, at(5)),
		rec("connector-gone", `{"properties":{}}`, at(1)),
		rec("connector-gone", "", at(6)),
		rec("tasks-fencing-eos", `{"task-count":1}`, at(7)),
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	snap, err := ReadConfigTopic(context.Background(), cl, "")
	if err != nil {
		t.Fatal(err)
	}
	o := snap.Connector("orders")
	if o == nil || !o.Created.Equal(at(4)) || o.Deleted || o.TargetState != "STOPPED" || !o.TargetStateAt.Equal(at(5)) {
		t.Errorf("orders = %+v", o)
	}
	if g := snap.Connector("gone"); g == nil || !g.Deleted || !g.DeletedAt.Equal(at(6)) || !g.Created.IsZero() {
		t.Errorf("gone = %+v", g)
	}
	if e := snap.Connector("eos"); e == nil || !e.TaskCountRecord {
		t.Errorf("eos = %+v", e)
	}
	if snap.Connector("never") != nil {
		t.Error("a name the topic never had has a history")
	}
}
