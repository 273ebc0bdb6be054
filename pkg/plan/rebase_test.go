package plan

import (
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

func TestJudge(t *testing.T) {
	sink := func(before, after int64) Change {
		c := sinkChange(SinkPartition{Topic: "t", Partition: 0, Committed: before, LogStart: 0, LogEnd: 1000}, after)
		return c
	}
	src := func(after string) Change {
		m, err := offsets.ParseMap([]byte(after))
		if err != nil {
			t.Fatal(err)
		}
		part, _ := offsets.ParseMap([]byte(`{"server":"a"}`))
		return Change{Action: ActionUpdate, Source: &SourceChange{Partition: part, After: &m}}
	}
	n := func(v int64) *int64 { return &v }
	blk := func(kind config.TargetKind, tol *config.Tolerance) *config.Offsets {
		return &config.Offsets{Name: "op", Tolerance: tol, SinkPartitions: []*config.SinkPartition{{Topic: "t", Target: config.SinkTarget{Kind: kind}}}}
	}
	op := func(chs ...Change) *Operation {
		return &Operation{Address: "offsets.op", Status: StatusChange, Method: MethodREST, Changes: chs}
	}
	for _, tt := range []struct {
		name     string
		blk      *config.Offsets
		reviewed *Operation
		now      *Operation
		checks   []Check
		want     string // "" when apply may proceed; else in the drifts
	}{
		{"same", blk(config.TargetOffset, nil), op(sink(100, 10)), op(sink(100, 10)), nil, ""},
		{"replays grow by what was processed", blk(config.TargetOffset, nil), op(sink(100, 10)), op(sink(160, 10)), nil, ""},
		{"replays grow beyond the tolerance", blk(config.TargetOffset, &config.Tolerance{Replays: n(59)}), op(sink(100, 10)), op(sink(160, 10)),
			nil, "reviewed replays 90 records; now replays 150 records, 60 more, beyond tolerance.replays = 59"},
		{"an absolute target moved", blk(config.TargetOffset, nil), op(sink(100, 10)), op(sink(100, 11)), nil, "t[0]: reviewed target 10; now target 11"},
		{"a relative target follows", blk(config.TargetShift, nil), op(sink(100, 90)), op(sink(150, 140)), nil, ""},
		{"to_latest skips grow beyond what was processed", blk(config.TargetLatest, nil), op(sink(100, 200)), op(sink(110, 400)),
			nil, "reviewed skips 100 records; now skips 290 records, 190 more, beyond what the connector processed since the plan (10 records)"},
		{"to_latest skips grow with a tolerance", blk(config.TargetLatest, &config.Tolerance{Skips: n(1000)}), op(sink(100, 200)), op(sink(110, 400)), nil, ""},
		{"a rewind became a skip", blk(config.TargetOffset, nil), op(sink(100, 10)), op(sink(5, 10)), nil, "it skips records, which the reviewed plan did not"},
		{"a no-op became a replay", blk(config.TargetOffset, nil), op(sink(10, 10)), op(sink(12, 10)), nil, "it replays records, which the reviewed plan did not"},
		{"an error now", blk(config.TargetSkip, nil), op(sink(100, 101)), &Operation{Address: "offsets.op", Status: StatusBlocked, Method: MethodREST},
			[]Check{{Severity: SeverityError, Code: "skip_precondition", Operation: "offsets.op", Message: "moved"}}, "now the error skip_precondition: moved"},
		{"a new warning", blk(config.TargetOffset, nil), op(sink(100, 10)), op(sink(100, 10)),
			[]Check{{Severity: SeverityWarning, Code: "connector_failed", Operation: "offsets.op", Message: "FAILED"}}, "now the warning connector_failed"},
		{"another method", blk(config.TargetOffset, nil), op(sink(100, 10)), &Operation{Address: "offsets.op", Status: StatusChange, Method: MethodGroup, Changes: []Change{sink(100, 10)}},
			nil, "reviewed writing via rest; now it would write via consumer_group"},
		{"a source offset that stays", &config.Offsets{Name: "op"}, op(src(`{"lsn":5}`)), op(src(`{"lsn":5}`)), nil, ""},
		{"a source offset that moved", &config.Offsets{Name: "op"}, op(src(`{"lsn":5}`)), op(src(`{"lsn":7}`)), nil, `now none → {"lsn":7}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range Judge(tt.blk, tt.reviewed, nil, tt.now, tt.checks) {
				got = append(got, d.String())
			}
			all := strings.Join(got, "\n")
			if tt.want == "" && len(got) > 0 {
				t.Fatalf("Judge refuses:\n%s", all)
			}
			if tt.want != "" && !strings.Contains(all, tt.want) {
				t.Fatalf("Judge says:\n%s\nwant %q", all, tt.want)
			}
		})
	}
}
