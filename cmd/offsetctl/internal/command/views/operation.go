package views

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// Operation is the view of the commands that change the world through
// pkg/apply: apply, rollback and offsets restore. It shows the plan for
// review, asks for "yes", and renders apply's events as they happen:
// progress lines on stderr and a summary on stdout, or with -json a stream
// of JSON lines on stdout (a version record, the events, a summary).
type Operation struct {
	*View
	version string

	mu       sync.Mutex
	enc      *json.Encoder
	progress io.Writer
	err      error // the first error writing the stream
}

// NewOperation returns the view of a changing command; version is
// offsetctl's, for the stream's version record.
func NewOperation(streams *iostreams.Streams, asJSON bool, version string) *Operation {
	return &Operation{View: NewView(streams, asJSON), version: version, progress: streams.Err}
}

// Plan shows a plan for review, as offsetctl plan prints it (nothing with
// -json: the stream is the output).
func (v *Operation) Plan(p *plan.Plan) error {
	if v.json {
		return nil
	}
	return render.Text(v.streams.Out, p, render.Options{Color: v.streams.Color})
}

// Confirm asks whether to perform the plan shown and reports whether the
// answer was "yes".
func (v *Operation) Confirm() bool {
	fmt.Fprint(v.streams.Err, "\nDo you want to perform these actions?\n  offsetctl will change the offsets above, as shown.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	answer, _ := bufio.NewReader(v.streams.In).ReadString('\n')
	fmt.Fprintln(v.streams.Err)
	return strings.TrimSpace(answer) == "yes"
}

// RollingBack says which operation a rollback undoes, and which killed
// rollback of it it finishes (unfinished, nil when none).
func (v *Operation) RollingBack(op, unfinished *state.Operation) {
	if unfinished != nil {
		fmt.Fprintf(v.streams.Err, "Finishing operation %d (%s, %s): the rollback of operation %d (%s, %s), left unfinished when the process running it stopped.\n\n", unfinished.Serial, unfinished.Name, unfinished.Status, op.Serial, op.Name, op.Status)
		return
	}
	fmt.Fprintf(v.streams.Err, "Rolling back operation %d (%s, %s).\n\n", op.Serial, op.Name, op.Status)
}

// WindowOverridden says a policy's change window was overridden
// (-override-window), and why.
func (v *Operation) WindowOverridden(override string) {
	fmt.Fprintf(v.streams.Err, "Change window overridden: %s.\n", override)
}

// Saved says where a plan was saved and how to apply it, on stdout.
func (v *Operation) Saved(path string, p *plan.Plan) {
	savedNote(v.streams.Out, path, p)
}

// ApprovalsUnverified names the approvers given with --approved-by.
func (v *Operation) ApprovalsUnverified(names []string) {
	fmt.Fprintf(v.streams.Err, "Approvals: %s (unverified: named with --approved-by; offsetctl { allowed_signers } makes them signatures apply can check).\n", strings.Join(names, ", "))
}

// ApprovalsVerified says how many signed approvals counted, from which
// file, and why each other signature did not.
func (v *Operation) ApprovalsVerified(verified, required int, file string, principals, rejected []string) {
	w := v.streams.Err
	fmt.Fprintf(w, "Approvals: %d verified of %d required, from %s", verified, required, file)
	if verified > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(principals, ", "))
	}
	fmt.Fprintln(w, ".")
	for _, r := range rejected {
		fmt.Fprintf(w, "  not counted: %s\n", r)
	}
}

// LockNotReleased warns that the state lock could not be released.
func (v *Operation) LockNotReleased(id string, err error) {
	v.Warn(fmt.Sprintf("releasing the state lock %s: %v", id, err))
}

// NoChanges says there is nothing to apply: with -json a stream with no
// events and an empty summary.
func (v *Operation) NoChanges() error {
	if v.json {
		if err := v.Start(); err != nil {
			return err
		}
		return v.Result(&apply.Result{}, nil)
	}
	_, err := fmt.Fprintln(v.streams.Out, "\nNo changes. Nothing to apply.")
	return err
}

// Start begins the -json stream with its version record; for text it does
// nothing.
func (v *Operation) Start() error {
	if !v.json {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.enc = json.NewEncoder(v.streams.Out)
	v.enc.SetEscapeHTML(false)
	v.write(versionJSON{Type: "version", FormatVersion: EventsVersion, OffsetctlVersion: v.version})
	return v.err
}

// Event renders one of apply's events when it happens: a progress line on
// stderr, or with -json a line of the stream on stdout, flushed. It
// implements apply.Observer.
func (v *Operation) Event(e apply.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.json {
		v.write(eventRecord(e))
		return
	}
	renderProgress(v.progress, e)
}

var _ apply.Observer = (*Operation)(nil)

// Result ends the output: the summary of what was done (stdout), or with
// -json the stream's summary record. It returns the first error writing
// the stream.
func (v *Operation) Result(res *apply.Result, applyErr error) error {
	if !v.json {
		writeApplySummary(v.streams.Out, res, applyErr)
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.write(summaryRecord(res, applyErr))
	return v.err
}

// write encodes one record as one line (json.Encoder writes it with one
// Write) and flushes the stream when it buffers. After an error it writes
// nothing more.
func (v *Operation) write(rec any) {
	if v.err != nil {
		return
	}
	if err := v.enc.Encode(rec); err != nil {
		v.err = fmt.Errorf("writing the -json event stream: %w", err)
		return
	}
	if f, ok := v.streams.Out.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			v.err = fmt.Errorf("writing the -json event stream: %w", err)
		}
	}
}

// versionJSON is the first record of an event stream.
type versionJSON struct {
	Type             string `json:"type"`
	FormatVersion    int    `json:"format_version"`
	OffsetctlVersion string `json:"offsetctl_version"`
}

// eventJSON is one record of the -json event stream.
type eventJSON struct {
	Type       string `json:"type"`
	Operation  string `json:"operation,omitempty"`
	Connector  string `json:"connector,omitempty"`
	Serial     uint64 `json:"serial,omitempty"`
	Step       string `json:"step,omitempty"`
	Message    string `json:"message,omitempty"`
	Skipped    bool   `json:"skipped,omitempty"`
	ElapsedMS  *int64 `json:"elapsed_ms,omitempty"`
	Via        string `json:"via,omitempty"`
	Partitions *int   `json:"partitions,omitempty"`
	Status     string `json:"status,omitempty"`
	StateAfter string `json:"state_after,omitempty"`
	Error      string `json:"error,omitempty"`
	// Remaining is, in a repair_report of an incomplete repair, what
	// still differs: counts and keys, never row values.
	Remaining *remainingJSON `json:"remaining,omitempty"`
}

type remainingJSON struct {
	Missing        int64    `json:"missing"`
	Extra          int64    `json:"extra"`
	Mismatched     int64    `json:"mismatched"`
	Stale          int      `json:"stale"`
	MissingKeys    []string `json:"missing_keys,omitempty"`
	ExtraKeys      []string `json:"extra_keys,omitempty"`
	MismatchedKeys []string `json:"mismatched_keys,omitempty"`
	StaleKeys      []string `json:"stale_keys,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// summaryJSON is the last record of an event stream. OK is true only when
// every operation was applied and verified; Incomplete lists the serials of
// the operations that ran but were not verified (exit code 4).
type summaryJSON struct {
	Type       string          `json:"type"`
	OK         bool            `json:"ok"`
	Lineage    string          `json:"lineage,omitempty"`
	Serial     uint64          `json:"serial"`
	Operations []summaryOpJSON `json:"operations"`
	Recovered  []uint64        `json:"recovered,omitempty"`
	Finished   []uint64        `json:"finished,omitempty"`
	Incomplete []uint64        `json:"incomplete,omitempty"`
	Error      string          `json:"error,omitempty"`
	// ErrorKind names a refusal a CI job acts on: "stale_plan" (the
	// world moved since the plan beyond its tolerance; nothing was
	// changed), "plan_expired" (older than plan_max_age).
	ErrorKind string `json:"error_kind,omitempty"`
}

type summaryOpJSON struct {
	Address    string `json:"address"`
	Serial     uint64 `json:"serial"`
	Status     string `json:"status"`
	Partitions int    `json:"partitions"`
	// Incomplete says what an incomplete repair left different.
	Incomplete string `json:"incomplete,omitempty"`
}

func keyStrings(ks []reconcile.Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func eventRecord(e apply.Event) eventJSON {
	n := func(i int) *int { return &i }
	switch e := e.(type) {
	case apply.OperationStarted:
		return eventJSON{Type: "operation_started", Operation: e.Operation, Connector: e.Connector, Serial: e.Serial, Partitions: n(e.Changes)}
	case apply.StepStarted:
		return eventJSON{Type: "step_started", Operation: e.Operation, Connector: e.Connector, Step: string(e.Step)}
	case apply.StepDone:
		ms := e.Elapsed.Milliseconds()
		return eventJSON{Type: "step_done", Operation: e.Operation, Connector: e.Connector, Step: string(e.Step), Message: e.Message, Skipped: e.Skipped, ElapsedMS: &ms}
	case apply.StepFailed:
		return eventJSON{Type: "step_failed", Operation: e.Operation, Connector: e.Connector, Step: string(e.Step), Error: errText(e.Err)}
	case apply.OffsetsAltered:
		return eventJSON{Type: "offsets_altered", Operation: e.Operation, Connector: e.Connector, Via: string(e.Via), Partitions: n(e.Partitions)}
	case apply.Verified:
		return eventJSON{Type: "verified", Operation: e.Operation, Connector: e.Connector, Partitions: n(e.Partitions)}
	case apply.RolledBack:
		return eventJSON{Type: "rolled_back", Operation: e.Operation, Connector: e.Connector, Partitions: n(e.Partitions), StateAfter: e.StateAfter, Error: errText(e.Err)}
	case apply.Recovered:
		return eventJSON{Type: "recovered", Serial: e.Serial, Operation: e.Name, Status: e.Outcome, Message: e.Message, Error: errText(e.Err)}
	case apply.Warning:
		return eventJSON{Type: "warning", Operation: e.Operation, Connector: e.Connector, Message: e.Message}
	case apply.OperationFinished:
		return eventJSON{Type: "operation_finished", Operation: e.Operation, Serial: e.Serial, Status: string(e.Status), Error: errText(e.Err)}
	case apply.RepairReport:
		status := "converged"
		var rem *remainingJSON
		switch {
		case e.Incomplete != "":
			status = "incomplete"
			rem = &remainingJSON{Stale: len(e.Stale)}
			for _, s := range e.Stale {
				rem.StaleKeys = append(rem.StaleKeys, s.Key.String())
			}
			if r := e.Remaining; r != nil {
				rem.Missing, rem.Extra, rem.Mismatched, rem.Error = r.Missing, r.Extra, r.Mismatched, r.Err
				rem.MissingKeys, rem.ExtraKeys, rem.MismatchedKeys = keyStrings(r.MissingKeys), keyStrings(r.ExtraKeys), keyStrings(r.MismatchedKeys)
			}
		case !e.Complete():
			status = "not_converged"
		}
		msg := fmt.Sprintf("%d inserted, %d updated, %d deleted, %d already repaired, %d signals, %d stale; %d keys verified, table checksums equal: %v",
			e.Inserted, e.Updated, e.Deleted, e.Already, e.Signals, len(e.Stale), e.Verified, e.TableEqual)
		if e.Incomplete != "" {
			msg += "; NOT VERIFIED: " + e.Incomplete
		}
		return eventJSON{Type: "repair_report", Operation: e.Operation, Status: status, Message: msg, Remaining: rem}
	}
	return eventJSON{Type: "unknown"}
}

func summaryRecord(res *apply.Result, applyErr error) summaryJSON {
	sum := summaryJSON{Type: "summary", OK: applyErr == nil, Operations: []summaryOpJSON{}}
	if res != nil {
		sum.Lineage, sum.Serial, sum.Recovered, sum.Finished = res.Lineage, res.Serial, res.Recovered, res.Finished
		for _, op := range res.Operations {
			sum.Operations = append(sum.Operations, summaryOpJSON{op.Address, op.Serial, string(op.Status), op.Partitions, op.Incomplete})
			if op.Status == state.StatusIncomplete {
				sum.Incomplete = append(sum.Incomplete, op.Serial)
				sum.OK = false
			}
		}
	}
	sum.Error = errText(applyErr)
	switch {
	case errors.Is(applyErr, apply.ErrStalePlan):
		sum.ErrorKind = "stale_plan"
	case errors.Is(applyErr, apply.ErrPlanExpired):
		sum.ErrorKind = "plan_expired"
	}
	return sum
}

// renderProgress writes one of apply's events as a progress line.
func renderProgress(w io.Writer, e apply.Event) {
	switch e := e.(type) {
	case apply.OperationStarted:
		if e.Connector == "" { // a reconcile repair, or the rollback of one
			fmt.Fprintf(w, "%s: operation %d (%s)\n", e.Operation, e.Serial, Plural(e.Changes, "row", "rows"))
		} else {
			fmt.Fprintf(w, "%s: operation %d on connector %q (%s)\n", e.Operation, e.Serial, e.Connector, Plural(e.Changes, "partition", "partitions"))
		}
	case apply.StepDone:
		note := e.Message
		if e.Skipped {
			note = "skipped: " + note
		}
		fmt.Fprintf(w, "%s: %s: %s [%s]\n", e.Operation, e.Step, note, e.Elapsed.Round(10*time.Millisecond))
	case apply.StepFailed:
		fmt.Fprintf(w, "%s: %s FAILED: %v\n", e.Operation, e.Step, e.Err)
	case apply.RolledBack:
		if e.Err != nil {
			fmt.Fprintf(w, "%s: putting the before-images of %q back FAILED: %v\n", e.Operation, e.Connector, e.Err)
		} else {
			fmt.Fprintf(w, "%s: rolled back: %s of %q as before; connector %s\n", e.Operation, Plural(e.Partitions, "offset", "offsets"), e.Connector, orUnknown(e.StateAfter))
		}
	case apply.Recovered:
		if e.Err == nil {
			fmt.Fprintf(w, "operation %d (%s): left unfinished by an earlier run; found %s: %s\n", e.Serial, e.Name, e.Outcome, e.Message)
		}
	case apply.Warning:
		fmt.Fprintf(w, "%s: Warning: %s\n", e.Operation, e.Message)
	case apply.OperationFinished:
		fmt.Fprintf(w, "%s: %s\n", e.Operation, e.Status)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}

// writeApplySummary prints what was done, on stdout.
func writeApplySummary(w io.Writer, res *apply.Result, err error) {
	if res == nil {
		return
	}
	applied, partitions, rows := 0, 0, 0
	var serials []uint64
	for _, op := range res.Operations {
		if op.Status == state.StatusApplied || op.Status == state.StatusIncomplete {
			applied++
			if op.Connector == "" {
				rows += op.Partitions // a repair counts rows
			} else {
				partitions += op.Partitions
			}
			serials = append(serials, op.Serial)
		}
	}
	changed := Plural(partitions, "partition", "partitions")
	switch {
	case rows > 0 && partitions > 0:
		changed += " and " + Plural(rows, "row", "rows")
	case rows > 0:
		changed = Plural(rows, "row", "rows")
	}
	if len(res.Recovered) > 0 {
		fmt.Fprintf(w, "\nUndone first: %s, left unfinished by an earlier run of this plan.\n", serialList(res.Recovered))
	}
	incomplete := res.Incomplete()
	switch {
	case err == nil && len(incomplete) > 0:
		fmt.Fprintf(w, "\nApply incomplete! %s ran, %s changed, but %s NOT verified: the sink still differs.\n",
			Plural(applied, "operation", "operations"), changed, Plural(len(incomplete), "operation is", "operations are"))
		for _, op := range incomplete {
			fmt.Fprintf(w, "  operation %d (%s): %s\n", op.Serial, op.Address, op.Incomplete)
		}
		var inc []uint64
		for _, op := range incomplete {
			inc = append(inc, op.Serial)
		}
		n := inc[0]
		fmt.Fprintf(w, "Recorded in the state as %s; incomplete: %s (offsetctl state show %d). What was written stays: make a new plan to repair what is left, or undo it with offsetctl rollback -serial %d.\n",
			serialList(serials), serialList(inc), n, n)
	case err == nil && len(res.Operations) == 0 && len(res.Finished) > 0:
		fmt.Fprintf(w, "\nApply complete! Finished %s, a rollback left unfinished by a killed run: recorded applied (offsetctl state show %d).\n", serialList(res.Finished), res.Finished[0])
	case err == nil && len(res.Operations) == 0:
		fmt.Fprintln(w, "\nApply complete! Nothing to do: every operation of the plan is applied already.")
	case err == nil:
		show := ""
		if len(serials) > 0 {
			show = fmt.Sprintf(" (offsetctl state show %d)", serials[0])
		}
		fmt.Fprintf(w, "\nApply complete! %s applied, %s changed and verified. Recorded in the state as %s%s.\n",
			Plural(applied, "operation", "operations"), changed, serialList(serials), show)
	case len(res.Operations) > 0:
		fmt.Fprintf(w, "\nApply failed. %s applied before the failure.\n", Plural(applied, "operation", "operations"))
	}
}

func serialList(s []uint64) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = fmt.Sprintf("operation %d", n)
	}
	return strings.Join(parts, ", ")
}
