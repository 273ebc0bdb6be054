package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
)

// The codes of the pre-flight checks: the runbook's pre-flight checklist,
// as far as it can be checked. Render shows them as a checklist; an item
// not met is a warning (it does not block apply).
const (
	PreflightBackup       = "preflight_backup"
	PreflightConsumers    = "preflight_consumers"
	PreflightMonitoring   = "preflight_monitoring"
	PreflightReview       = "preflight_review"
	PreflightRollback     = "preflight_rollback"
	PreflightStakeholders = "preflight_stakeholders"
)

// IsPreflight reports whether c is a pre-flight checklist item.
func (c Check) IsPreflight() bool { return strings.HasPrefix(c.Code, "preflight_") }

// PreflightInputs is what the pre-flight checks need besides the plan and
// the configuration: the last drift check the state recorded.
type PreflightInputs struct {
	Now time.Time
	// LastCheck is when the last `offsetctl check --record` ran (zero when
	// none did) and LastCheckHealthy its result.
	LastCheck        time.Time
	LastCheckHealthy bool
}

// monitoringMaxAge is how old the last check may be for monitoring to count
// as live: a day, with slack for the schedule.
const monitoringMaxAge = 26 * time.Hour

// Preflight returns the pre-flight checklist of a plan that changes offsets
// (none for a plan that changes none): offsets backed up, downstream
// consumers paused or replays tolerated (per operation, acknowledge),
// monitoring live (a recent healthy check), a second engineer's review
// (required_approvals), the rollback plan, and the stakeholders (reason and
// change window, per operation).
func Preflight(cfg *config.Config, p *Plan, in PreflightInputs) []Check {
	var ops []*Operation
	for i := range p.Operations {
		if op := &p.Operations[i]; op.Status == StatusChange && op.Kind != KindReconcile {
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		return nil
	}
	ok := func(code, op, format string, args ...any) Check {
		return Check{Severity: SeverityOK, Code: code, Operation: op, Message: fmt.Sprintf(format, args...)}
	}
	warn := func(code, op, format string, args ...any) Check {
		return Check{Severity: SeverityWarning, Code: code, Operation: op, Message: fmt.Sprintf(format, args...)}
	}
	out := []Check{ok(PreflightBackup, "", "Offsets backed up: apply records every offset it overwrites in the state before it writes (offsetctl state show lists them).")}
	for _, op := range ops {
		blk := cfg.Operation(op.Name)
		var replays int64
		for _, ch := range op.Changes {
			if ch.Sink != nil {
				replays += ch.Sink.Replays
			}
		}
		what := "the records it moves back over"
		if replays > 0 {
			what = fmt.Sprintf("%d replayed records", replays)
		}
		switch {
		case blk != nil && blk.Acknowledges(config.AckConsumersPaused):
			out = append(out, ok(PreflightConsumers, op.Address, "Downstream consumers paused for the change (acknowledged)."))
		case blk != nil && blk.Acknowledges(config.AckReplaysTolerated):
			out = append(out, ok(PreflightConsumers, op.Address, "Downstream consumers tolerate %s (acknowledged).", what))
		default:
			out = append(out, warn(PreflightConsumers, op.Address, "Downstream consumers will see %s: pause them or confirm they tolerate replays, with acknowledge = [\"consumers_paused\"] or [\"replays_tolerated\"].", what))
		}
		switch {
		case blk == nil || blk.Reason == "":
			out = append(out, warn(PreflightStakeholders, op.Address, "No reason: stakeholders cannot tell why; give the block a reason."))
		case blk.AgreedWindow == nil:
			out = append(out, warn(PreflightStakeholders, op.Address, "Reason given; no change window agreed with the stakeholders: set change_window = \"START/END\"."))
		case !in.Now.IsZero() && in.Now.After(blk.AgreedWindow.End):
			out = append(out, warn(PreflightStakeholders, op.Address, "Reason given; the change window %s ended before this plan was made.", windowText(blk.AgreedWindow)))
		default:
			out = append(out, ok(PreflightStakeholders, op.Address, "Reason given; change window %s.", windowText(blk.AgreedWindow)))
		}
	}
	switch {
	case in.LastCheck.IsZero():
		out = append(out, warn(PreflightMonitoring, "", "Monitoring: no offsetctl check is recorded in the state; run offsetctl check --record on a schedule and watch it during and after the change."))
	case in.Now.Sub(in.LastCheck) > monitoringMaxAge:
		out = append(out, warn(PreflightMonitoring, "", "Monitoring: the last recorded offsetctl check ran %s before this plan; it is not live.", in.Now.Sub(in.LastCheck).Round(time.Minute)))
	case !in.LastCheckHealthy:
		out = append(out, warn(PreflightMonitoring, "", "Monitoring is live, and the last check (%s before this plan) found drift or a crossed threshold: know it before changing offsets.", in.Now.Sub(in.LastCheck).Round(time.Minute)))
	default:
		out = append(out, ok(PreflightMonitoring, "", "Monitoring live: the last offsetctl check ran %s before this plan and was healthy.", in.Now.Sub(in.LastCheck).Round(time.Minute)))
	}
	if n := cfg.Settings.RequiredApprovals; n > 0 {
		out = append(out, ok(PreflightReview, "", "Reviewed by a second engineer: apply needs %d verified approval(s) of this plan.", n))
	} else {
		out = append(out, warn(PreflightReview, "", "No review required: set offsetctl { required_approvals = 1 } so that a second engineer approves the plan."))
	}
	out = append(out, ok(PreflightRollback, "", "Rollback plan with commands: below, and offsetctl rollback restores the recorded offsets."))
	return out
}

func windowText(w *config.AgreedWindow) string {
	return w.Start.Format(time.RFC3339) + " – " + w.End.Format(time.RFC3339)
}
