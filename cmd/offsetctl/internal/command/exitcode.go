package command

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// Exit codes, as Terraform's: documented in README.md and in `offsetctl --help`.
const (
	ExitOK      = 0 // success; nothing to do; no drift
	ExitError   = 1 // any error, refusal or bad input
	ExitChanges = 2 // plan -detailed-exitcode: changes present; diff: drift found
	// ExitUnformatted: fmt -check found files that are not in canonical
	// format (and wrote nothing).
	ExitUnformatted = 3

	// ExitIncomplete: apply (and offsets restore) ran every operation, but a
	// repair's verification found the sink still different from the source
	// (rows that moved since the plan, extra rows kept, drift outside the
	// plan): what it wrote stays and the state records the operation as
	// incomplete. Not 0, because the promise was not kept; not 1, because
	// nothing failed and nothing was rolled back: CI can tell "repair
	// incomplete, plan again" from "error".
	ExitIncomplete = 4
)

// exitError carries an exit code other than ExitError through cobra, for
// results that are not failures (changes present, drift found).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// flagError marks a usage mistake: the usage line is printed with it.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

// flagErrorf builds a flagError.
func flagErrorf(format string, args ...any) error {
	return &flagError{err: fmt.Errorf(format, args...)}
}

// hinted is an error with a "to fix this" line for the operator.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }

// withHint attaches a fix to an error.
func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hinted{err: err, hint: hint}
}

// exitCode maps the error a command returned to the process exit code and
// prints what the operator needs to read. It is the one place that does so.
func exitCode(err error, errOut func(string)) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		errOut("Error: interrupted")
		return ExitError
	}
	msg := strings.TrimSpace(err.Error())
	errOut("Error: " + msg)
	var h *hinted
	if errors.As(err, &h) && h.hint != "" {
		errOut("\n" + h.hint)
	}
	return ExitError
}

// reported is exit status 1 for an error the command reported already
// (configuration diagnostics, the summary record of a -json stream, fmt's
// list): nothing more is printed.
func reported() error { return &exitError{code: ExitError} }

// changesPresent is exit status 2: plan -detailed-exitcode found changes,
// diff found drift.
func changesPresent() error { return &exitError{code: ExitChanges} }

// unformatted is exit status 3: fmt -check found unformatted files.
func unformatted() error { return &exitError{code: ExitUnformatted} }

// applyExit is the exit of apply, rollback and offsets restore once apply
// returned: its error with the operator's next step (with -json the
// stream's summary record carried the error: exit 1, nothing more
// printed); ExitIncomplete when an operation ran but was not verified (a
// repair that left the sink different); else success.
func applyExit(res *apply.Result, applyErr error, asJSON bool) error {
	switch {
	case applyErr != nil && asJSON:
		return reported()
	case applyErr != nil:
		return applyHint(applyErr)
	case res != nil && len(res.Incomplete()) > 0:
		return &exitError{code: ExitIncomplete}
	}
	return nil
}

// applyHint adds the operator's next step to apply's errors.
func applyHint(err error) error {
	var oe *apply.OperationError
	switch {
	case errors.As(err, &oe) && oe.Status == state.StatusNeedsRollback:
		return withHint(err, fmt.Sprintf("Once Kafka Connect is reachable again, run: offsetctl rollback -serial %d\n(offsetctl state show %d shows what was recorded).", oe.Serial, oe.Serial))
	case errors.As(err, &oe):
		return withHint(err, fmt.Sprintf("offsetctl state show %d shows every step and its result.", oe.Serial))
	case errors.Is(err, apply.ErrStalePlan), errors.Is(err, apply.ErrStateMoved), errors.Is(err, apply.ErrConfigChanged), errors.Is(err, apply.ErrPlanExpired):
		return withHint(err, "Make a new plan (offsetctl plan -out FILE), review it, and apply that.")
	case errors.Is(err, apply.ErrAlreadyApplied):
		return withHint(err, "offsetctl state history shows what was applied, by whom and when; offsetctl plan shows what is left to do.")
	case errors.Is(err, plan.ErrNotFromConfig):
		return withHint(err, "The plan file was edited after offsetctl plan wrote it, or was made by another offsetctl: nothing was changed.\nMake a new plan from the configuration (offsetctl plan -out FILE), review it, and apply that.")
	case errors.Is(err, apply.ErrUnfinished):
		return withHint(err, "offsetctl state show SERIAL shows how far it got.")
	}
	return err
}

// planExit is plan's exit once the plan is shown: with -detailed-exitcode,
// ExitChanges when the plan has changes.
func planExit(detailed bool, p *plan.Plan) error {
	if detailed && p.HasChanges() {
		return changesPresent()
	}
	return nil
}

// checkExit is a check run's exit status: 1 when anything could not be checked,
// 2 for drift or a crossed threshold, 0 when healthy (in-flight rows
// included: they are not drift yet).
func checkExit(r *views.CheckResult) int {
	switch r.Verdict {
	case checkError:
		return ExitError
	case checkDrift, checkLag:
		return ExitChanges
	}
	return ExitOK
}
