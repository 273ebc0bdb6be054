package command

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
	"github.com/offsetctl/offsetctl/pkg/state/pgstate"
)

// auditState is a state with what an audit must show: an operation applied
// with two verified approvals, one with a name given unverified, one that
// failed, and one rolled back by a later rollback.
func auditState() *state.State {
	at := func(m int) time.Time { return time.Date(2026, 11, 20, 10, m, 0, 0, time.UTC) }
	st := state.New("11111111-2222-4333-8444-555555555555")
	conn := []state.Connector{{Name: "orders-sink", ConnectCluster: "prod", StateBefore: "RUNNING", StateAfter: "RUNNING"}}
	st.Begin(state.Operation{Name: "replay_after_smt_fix", Kind: state.KindOffsets, Status: state.StatusApplied,
		PlanHash: "sha256:" + strings.Repeat("a", 64), ConfigHash: "sha256:" + strings.Repeat("c", 64), Who: "ci", Host: "runner-1",
		Started: at(0), Finished: at(1), Reason: "INC-4711: the SMT dropped records between 10:00 and 10:40",
		VerifiedApprovals: []state.Approval{{Principals: "alice@example.com", Fingerprint: "SHA256:alicekey"}, {Principals: "bob@example.com", Fingerprint: "SHA256:bobkey"}},
		Connectors:        conn})
	st.Begin(state.Operation{Name: "skip_poison_pill", Kind: state.KindOffsets, Status: state.StatusFailed,
		PlanHash: "sha256:" + strings.Repeat("b", 64), Who: "carol", Host: "laptop", Started: at(5), Finished: at(6),
		Reason: "INC-4712: poison pill | bad JSON", Approvals: []string{"dave"}, Connectors: conn,
		Error: "stopping connector \"orders-sink\": 409 rebalance in progress"})
	st.Begin(state.Operation{Name: "rewind", Kind: state.KindOffsets, Status: state.StatusRolledBack, RolledBackBy: 4,
		PlanHash: "sha256:" + strings.Repeat("d", 64), Who: "ci", Host: "runner-2", Started: at(10), Finished: at(11),
		Reason: "INC-4713", VerifiedApprovals: []state.Approval{{Principals: "alice@example.com", Fingerprint: "SHA256:alicekey"}}, Connectors: conn})
	st.Begin(state.Operation{Name: "rollback of rewind", Kind: state.KindRollback, Status: state.StatusApplied, RollbackOf: 3,
		PlanHash: "sha256:" + strings.Repeat("e", 64), Who: "carol", Host: "laptop", Started: at(20), Finished: at(21),
		Reason: "the rewind replayed into the wrong table", Connectors: conn})
	return st
}

func writeAuditState(t *testing.T, b state.Backend) {
	t.Helper()
	ctx := context.Background()
	id, err := b.Lock(ctx, state.LockInfo{Operation: "test", Who: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, auditState(), id); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	b.Close()
}

// TestStateHistoryAudit: state history -json and -markdown list every
// operation with who applied it, when, the plan hash, the reason, the
// verified approvers, the risk classes and the outcome, the same from the
// local and the PostgreSQL backend.
func TestStateHistoryAudit(t *testing.T) {
	localPath := filepath.Join(t.TempDir(), "offsetctl.state.json")
	writeAuditState(t, local.New(localPath))
	pgURL := pgtest.NewDB(t)
	pb, err := pgstate.New(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	writeAuditState(t, pb)

	for _, format := range []string{"-json", "-markdown"} {
		var outs []string
		for _, where := range []string{localPath, pgURL} {
			code, out, errOut := runStateCmd(t, false, "", "state", "history", format, "--state", where)
			if code != ExitOK {
				t.Fatalf("state history %s --state %s: exit %d\n%s\n%s", format, where, code, out, errOut)
			}
			outs = append(outs, out)
		}
		if outs[0] != outs[1] {
			t.Errorf("state history %s differs between the backends:\nlocal:\n%s\npostgres:\n%s", format, outs[0], outs[1])
		}
		goldens.Assert(t, "history"+format, []byte(outs[0]))
		for _, want := range []string{"alice@example.com", "bob@example.com", "SHA256:bobkey", "INC-4711", "ci", "runner-1",
			"2026-11-20T10:00:00Z", "sha256:aaaaaaaaaaaa", "failed", "rolled_back", "dave", "risk"} {
			if !strings.Contains(outs[0], want) {
				t.Errorf("state history %s does not show %q:\n%s", format, want, outs[0])
			}
		}
	}
	code, _, errOut := runStateCmd(t, false, "", "state", "history", "-json", "-markdown", "--state", localPath)
	if code != ExitError || !strings.Contains(errOut, "-json and -markdown exclude each other") {
		t.Errorf("-json -markdown: exit %d\n%s", code, errOut)
	}
}
