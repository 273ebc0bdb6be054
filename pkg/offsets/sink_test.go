package offsets

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newSinkKafka(t *testing.T) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl := newKafka(t, kfake.SeedTopics(3, "orders"))
	var recs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 10; i++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("x"),
				Timestamp: time.UnixMilli(1_000_000 + int64(i)*1000)})
		}
	}
	p, err := kgo.NewClient(append(cl.Opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return cl, kadm.NewClient(cl)
}

func TestSinkGroupID(t *testing.T) {
	override := map[string]string{"consumer.override.group.id": "custom"}
	for _, tc := range []struct {
		name     string
		declared string
		config   map[string]string
		want     string
	}{
		{"default", "", nil, "connect-jdbc"},
		{"consumer override", "", override, "custom"},
		{"declared wins", "declared", override, "declared"},
		{"declared without config", "declared", nil, "declared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if g := SinkGroupID("jdbc", tc.declared, tc.config); g != tc.want {
				t.Errorf("SinkGroupID = %s, want %s", g, tc.want)
			}
		})
	}
}

func TestCommitAndReadSinkGroup(t *testing.T) {
	_, adm := newSinkKafka(t)
	ctx := testCtx(t)
	g, err := ReadSinkGroup(ctx, adm, "connect-jdbc", []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != 0 || len(g.Offsets) != 3 || g.Offsets[1] != (SinkOffset{"orders", 1, -1, 0, 10}) {
		t.Fatalf("fresh group = %+v", g)
	}
	err = CommitSinkGroup(ctx, adm, "connect-jdbc", []SinkChange{
		{Topic: "orders", Partition: 0, Offset: ptr(int64(4))},
		{Topic: "orders", Partition: 2, Offset: ptr(int64(10))},
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err = ReadSinkGroup(ctx, adm, "connect-jdbc", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []SinkOffset{{"orders", 0, 4, 0, 10}, {"orders", 2, 10, 0, 10}}
	if len(g.Offsets) != 2 || g.Offsets[0] != want[0] || g.Offsets[1] != want[1] {
		t.Fatalf("after commit = %+v", g.Offsets)
	}
	if err := CommitSinkGroup(ctx, adm, "connect-jdbc", []SinkChange{{Topic: "orders", Partition: 0}}); err != nil {
		t.Fatal(err)
	}
	g, _ = ReadSinkGroup(ctx, adm, "connect-jdbc", []string{"orders"})
	if o, _ := g.Lookup("orders", 0); o.Committed != -1 {
		t.Fatalf("after delete = %+v", o)
	}
	if err := CommitSinkGroup(ctx, adm, "connect-jdbc", []SinkChange{{Topic: "orders", Partition: 1, Offset: ptr(int64(-2))}}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative offset: %v", err)
	}
	if err := ResetSinkGroup(ctx, adm, "connect-jdbc"); err != nil {
		t.Fatal(err)
	}
	if err := ResetSinkGroup(ctx, adm, "connect-jdbc"); err != nil {
		t.Fatalf("resetting a missing group: %v", err)
	}
	g, _ = ReadSinkGroup(ctx, adm, "connect-jdbc", []string{"orders"})
	if o, _ := g.Lookup("orders", 2); o.Committed != -1 {
		t.Fatalf("after reset = %+v", o)
	}
	if _, err := ReadSinkGroup(ctx, adm, "connect-jdbc", []string{"nope"}); err == nil || !strings.Contains(err.Error(), `"nope" does not exist`) {
		t.Fatalf("missing topic: %v", err)
	}
}

func TestCommitSinkGroupRefusesWhileMembersRemain(t *testing.T) {
	cl, adm := newSinkKafka(t)
	ctx := testCtx(t)
	member, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumerGroup("connect-jdbc"), kgo.ConsumeTopics("orders"), kgo.ClientID("connector-consumer-jdbc-0"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	// Wait until the member has joined: polling returns once it owns
	// partitions and fetched.
	for {
		fs := member.PollRecords(ctx, 1)
		if ctx.Err() != nil {
			t.Fatal("the consumer never joined")
		}
		if len(fs.Records()) > 0 {
			break
		}
	}
	err = CommitSinkGroup(ctx, adm, "connect-jdbc", []SinkChange{{Topic: "orders", Partition: 0, Offset: ptr(int64(1))}})
	var ge *GroupNotEmptyError
	if !errors.As(err, &ge) || !errors.Is(err, ErrGroupNotEmpty) || len(ge.Members) != 1 || !strings.Contains(err.Error(), "connector-consumer-jdbc-0") {
		t.Fatalf("commit with a member = %v", err)
	}
	if err := ResetSinkGroup(ctx, adm, "connect-jdbc"); !errors.Is(err, ErrGroupNotEmpty) {
		t.Fatalf("reset with a member = %v", err)
	}
	g, err := ReadSinkGroup(ctx, adm, "connect-jdbc", nil)
	if err != nil || len(g.Members) != 1 {
		t.Fatalf("read with a member = %+v %v", g, err)
	}
}

func TestOffsetsAfterMilli(t *testing.T) {
	_, adm := newSinkKafka(t)
	got, err := OffsetsAfterMilli(testCtx(t), adm, 1_000_000+3500, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Offset != 4 || got[0].Timestamp != 1_004_000 || got[2].Partition != 2 {
		t.Fatalf("after 3.5 s = %+v", got)
	}
	late, err := OffsetsAfterMilli(testCtx(t), adm, 9_000_000, "orders")
	if err != nil || late[0].Offset != 10 {
		t.Fatalf("after the last record = %+v %v", late, err)
	}
	if (SinkOffset{LogStart: 0, LogEnd: 10}).InRange(11) || !(SinkOffset{LogStart: 0, LogEnd: 10}).InRange(10) {
		t.Fatal("InRange")
	}
}

func TestNilClientsAreErrors(t *testing.T) {
	ctx := testCtx(t)
	if _, err := ReadTopic(ctx, nil, testTopic); err == nil {
		t.Error("ReadTopic(nil)")
	}
	if _, err := WriteSource(ctx, nil, &TopicSnapshot{Partitions: 1}, "c", nil); err == nil {
		t.Error("WriteSource(nil)")
	}
	if _, err := ReadSinkGroup(ctx, nil, "g", nil); err == nil {
		t.Error("ReadSinkGroup(nil)")
	}
	if err := CommitSinkGroup(ctx, nil, "g", []SinkChange{{Topic: "t"}}); err == nil {
		t.Error("CommitSinkGroup(nil)")
	}
	if err := ResetSinkGroup(ctx, nil, "g"); err == nil {
		t.Error("ResetSinkGroup(nil)")
	}
	if _, err := OffsetsAfterMilli(ctx, nil, 0, "t"); err == nil {
		t.Error("OffsetsAfterMilli(nil)")
	}
}
