package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Exit codes, as Terraform's: documented in README.md and in `offsetctl --help`.
const (
	ExitOK      = 0 // success; nothing to do; no drift
	ExitError   = 1 // any error, refusal or bad input
	ExitChanges = 2 // plan -detailed-exitcode: changes present; diff: drift found
	// ExitUnformatted (3) is in fmtcmd.go: fmt -check found unformatted files.

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
