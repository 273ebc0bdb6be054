package views

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// State is the view of offsetctl state list, show and history.
type State struct{ *View }

// NewState returns the view of the state commands.
func NewState(streams *iostreams.Streams, asJSON bool) *State {
	return &State{NewView(streams, asJSON)}
}

// NoState says there is no state at where.
func (v *State) NoState(where string) {
	fmt.Fprintf(v.streams.Err, "No state at %s: nothing has been applied with it yet.\n", where)
}

// List writes the operations of s (nil: no state), one line each, and
// warns about unfinished ones.
func (v *State) List(s *state.State) error {
	out := v.streams.Out
	if v.json {
		doc := stateListJSON{FormatVersion: StateFormat, Operations: []listItemJSON{}}
		if s != nil {
			doc.Lineage, doc.Serial = s.Lineage, s.Serial
			for _, op := range s.Operations {
				doc.Operations = append(doc.Operations, listItemJSON{
					Serial: op.Serial, Name: op.Name, Kind: string(op.Kind), Status: string(op.Status),
					Started: jsonTime(op.Started), Finished: jsonTime(op.Finished), Who: op.Who, Host: op.Host,
				})
			}
		}
		return encodeJSON(out, doc, false)
	}
	if s == nil {
		return nil
	}
	if len(s.Operations) == 0 {
		fmt.Fprintf(v.streams.Err, "The state (lineage %s, serial %d) records no operation yet.\n", s.Lineage, s.Serial)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tNAME\tKIND\tSTATUS\tSTARTED\tWHO")
	for _, op := range s.Operations {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", op.Serial, op.Name, op.Kind, op.Status, fmtTime(op.Started), whoAt(op.Who, op.Host))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	warnUnfinished(v.streams.Err, s)
	return nil
}

// Summary writes the summary of the whole state at where (with -json: the
// state document itself), with who holds its lock.
func (v *State) Summary(where string, s *state.State, holder *state.LockInfo) error {
	if v.json {
		data, err := state.Encode(s, s.OffsetctlVersion)
		if err != nil {
			return err
		}
		_, err = v.streams.Out.Write(data)
		return err
	}
	return showSummary(v.streams.Out, v.streams.Err, where, s, holder)
}

// Operation writes one operation of s in detail: steps, connectors,
// before- and after-images (rows by key only; -json includes the rows),
// and the backups taken for it.
func (v *State) Operation(s *state.State, op *state.Operation) error {
	if !v.json {
		return showOperation(v.streams.Out, s, op)
	}
	raw, err := state.MarshalOperation(op)
	if err != nil {
		return err
	}
	backups := []backupJSON{}
	for _, bk := range s.BackupsFor(op.Serial) {
		backups = append(backups, backupJSON{bk.ID, jsonTime(bk.TakenAt), bk.Connector, bk.Checksum, len(bk.Content)})
	}
	return encodeJSON(v.streams.Out, operationJSON{StateFormat, s.Lineage, s.Serial, raw, backups}, false)
}

// History writes the chronological log of s (nil: no state), failures and
// rollbacks included.
func (v *State) History(s *state.State) error {
	var evs []historyEvent
	if s != nil {
		evs = historyOf(s)
	}
	out := v.streams.Out
	if v.json {
		return encodeJSON(out, historyJSON{StateFormat, append([]historyEvent{}, evs...), AuditOf(s)}, false)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, ev := range evs {
		at := "-"
		if !ev.Time.IsZero() {
			at = fmtTime(ev.Time)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", at, ev.Serial, ev.Name, ev.text)
	}
	return tw.Flush()
}

// HistoryMarkdown writes the audit of every operation of s (nil: no state)
// as a Markdown table (state history -markdown).
func (v *State) HistoryMarkdown(s *state.State) error {
	var lineage string
	var serial uint64
	if s != nil {
		lineage, serial = s.Lineage, s.Serial
	}
	return renderAuditMarkdown(v.streams.Out, lineage, serial, AuditOf(s))
}

// Rekeyed says the state was written again under the key keyID (state
// rotate-key).
func (v *State) Rekeyed(where string, serial uint64, keyID string) {
	fmt.Fprintf(v.streams.Out, "State %s (serial %d) is encrypted with key %s: the state, its journal (folded in) and its previous version.\n", where, serial, keyID)
}

// stateListJSON is `state list -json`.
type stateListJSON struct {
	FormatVersion int            `json:"format_version"`
	Lineage       string         `json:"lineage"`
	Serial        uint64         `json:"serial"`
	Operations    []listItemJSON `json:"operations"`
}

// operationJSON is `state show OPERATION -json`: the operation as the
// state file holds it, and its backups (without their content).
type operationJSON struct {
	FormatVersion int             `json:"format_version"`
	Lineage       string          `json:"lineage"`
	Serial        uint64          `json:"serial"`
	Operation     json.RawMessage `json:"operation"`
	Backups       []backupJSON    `json:"backups"`
}

type backupJSON struct {
	ID        uint64 `json:"id"`
	TakenAt   string `json:"taken_at"`
	Connector string `json:"connector,omitempty"`
	Checksum  string `json:"checksum"`
	Bytes     int    `json:"bytes"`
}

// historyJSON is `state history -json`.
type historyJSON struct {
	FormatVersion int            `json:"format_version"`
	Events        []historyEvent `json:"events"`
	Operations    []AuditRecord  `json:"operations"`
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func whoAt(who, host string) string {
	switch {
	case who == "" && host == "":
		return "-"
	case host == "":
		return who
	case who == "":
		return "@" + host
	}
	return who + "@" + host
}

// listItemJSON is an operation in `state list -json`.
type listItemJSON struct {
	Serial   uint64 `json:"serial"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Started  string `json:"started,omitempty"`
	Finished string `json:"finished,omitempty"`
	Who      string `json:"who,omitempty"`
	Host     string `json:"host,omitempty"`
}

func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// warnUnfinished tells the operator about operations that left the world
// half changed.
func warnUnfinished(w io.Writer, s *state.State) {
	for _, op := range s.Unfinished() {
		switch op.Status {
		case state.StatusInProgress:
			fmt.Fprintf(w, "\nWarning: operation %d (%s) is still marked in progress: unless it is running right now, it was interrupted.\n"+
				"Its before-images say what it may have overwritten: offsetctl state show %d\n", op.Serial, op.Name, op.Serial)
		case state.StatusNeedsRollback:
			fmt.Fprintf(w, "\nWarning: operation %d (%s) failed and its automatic rollback failed too: it needs a rollback.\n"+
				"See what it overwrote: offsetctl state show %d\n", op.Serial, op.Name, op.Serial)
		}
	}
}

func showSummary(out, errOut io.Writer, where string, s *state.State, holder *state.LockInfo) error {
	counts := map[state.Status]int{}
	for _, op := range s.Operations {
		counts[op.Status]++
	}
	var parts []string
	for _, st := range []state.Status{state.StatusApplied, state.StatusIncomplete, state.StatusRolledBack, state.StatusFailed, state.StatusNeedsRollback, state.StatusInProgress} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], strings.ReplaceAll(string(st), "_", " ")))
		}
	}
	ops := strconv.Itoa(len(s.Operations))
	if len(parts) > 0 {
		ops += " (" + strings.Join(parts, ", ") + ")"
	}
	lock := "not locked"
	if holder != nil {
		lock = "locked by " + holder.String()
	}
	writer := s.OffsetctlVersion
	if writer == "" {
		writer = "unknown"
	}
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "State:\t%s\n", where)
	fmt.Fprintf(tw, "Lineage:\t%s\n", s.Lineage)
	fmt.Fprintf(tw, "Serial:\t%d\n", s.Serial)
	fmt.Fprintf(tw, "Written by:\toffsetctl %s\n", writer)
	fmt.Fprintf(tw, "Operations:\t%s\n", ops)
	fmt.Fprintf(tw, "Backups:\t%d\n", len(s.Backups))
	fmt.Fprintf(tw, "Lock:\t%s\n", lock)
	if op, ok := s.Last(); ok {
		fmt.Fprintf(tw, "Last:\t%d %s (%s, %s), started %s by %s\n", op.Serial, op.Name, op.Kind, op.Status, fmtTime(op.Started), whoAt(op.Who, op.Host))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	warnUnfinished(errOut, s)
	return nil
}

func showOperation(out io.Writer, s *state.State, op *state.Operation) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Operation %d: %s\n", op.Serial, op.Name)
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, v)
		}
	}
	field("Kind", string(op.Kind))
	field("Status", string(op.Status))
	if op.RollbackOf != 0 {
		if target, ok := s.BySerial(op.RollbackOf); ok {
			field("Rolls back", fmt.Sprintf("%d (%s)", op.RollbackOf, target.Name))
		} else {
			field("Rolls back", strconv.FormatUint(op.RollbackOf, 10))
		}
	}
	if op.RolledBackBy != 0 {
		field("Rolled back by", strconv.FormatUint(op.RolledBackBy, 10))
	}
	field("Started", fmtTime(op.Started))
	if op.Finished.IsZero() {
		field("Finished", "not yet")
	} else {
		field("Finished", fmtTime(op.Finished))
	}
	field("By", whoAt(op.Who, op.Host))
	field("Reason", op.Reason)
	field("Approvals", approvalsText(op))
	field("Plan hash", op.PlanHash)
	field("Config hash", op.ConfigHash)
	field("Block hash", op.BlockHash)
	field("Error", op.Error)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(op.Connectors) > 0 {
		b.WriteString("\n  Connectors:\n")
		for _, c := range op.Connectors {
			fmt.Fprintf(&b, "    %s: %s -> %s\n", connectorLabel(c.Name, c.ConnectCluster), orDash(c.StateBefore), orDash(c.StateAfter))
		}
	}
	if len(op.Steps) > 0 {
		b.WriteString("\n  Steps:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for i, st := range op.Steps {
			result := st.Message
			if st.Error != "" {
				result = "error: " + st.Error
			}
			line := fmt.Sprintf("    %d.\t%s\t%s\t%s", i+1, strings.TrimSpace(st.Name+" "+st.Target), st.Status, fmtTime(st.Finished))
			if result != "" {
				line += "\t" + result
			}
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	writeImages(&b, "Before-images (what it overwrote; a rollback restores these)", op.BeforeImages)
	writeImages(&b, "After-images (what it wrote)", op.After)
	if backups := s.BackupsFor(op.Serial); len(backups) > 0 {
		b.WriteString("\n  Backups taken before the change:\n")
		for _, bk := range backups {
			fmt.Fprintf(&b, "    %d: %s, taken %s, %d bytes, %s\n", bk.ID, connectorLabel(bk.Connector, bk.ConnectCluster), fmtTime(bk.TakenAt), len(bk.Content), bk.Checksum)
		}
	}
	_, err := io.WriteString(out, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func connectorLabel(name, cluster string) string {
	if cluster == "" {
		return orDash(name)
	}
	return fmt.Sprintf("%s (connect %s)", orDash(name), cluster)
}

func writeImages(b *strings.Builder, title string, images []state.Image) {
	if len(images) == 0 {
		return
	}
	fmt.Fprintf(b, "\n  %s:\n", title)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, im := range images {
		switch {
		case im.Source != nil:
			offset := "none"
			if im.Source.Offset != nil {
				offset = string(im.Source.Offset)
			}
			key := ""
			if len(im.Source.Key) > 0 {
				key = fmt.Sprintf("\t(key %d bytes)", len(im.Source.Key))
			}
			fmt.Fprintf(tw, "    source\t%s\t%s\t-> %s%s\n", connectorLabel(im.Connector, im.ConnectCluster), im.Source.Partition, offset, key)
		case im.Sink != nil:
			offset := "none"
			if im.Sink.Offset >= 0 {
				offset = strconv.FormatInt(im.Sink.Offset, 10)
			}
			fmt.Fprintf(tw, "    sink\t%s\t%s[%d]\t-> %s\n", connectorLabel(im.Connector, im.ConnectCluster), im.Sink.Topic, im.Sink.Partition, offset)
		case im.Row != nil:
			row := "absent"
			switch {
			case im.Row.Xmin != "":
				row = "written by transaction " + im.Row.Xmin
			case im.Row.Row != nil:
				row = "present"
			}
			table := im.Row.Table
			if im.Row.Database != "" {
				table = im.Row.Database + ": " + table
			}
			fmt.Fprintf(tw, "    row\t%s\t%s\t-> %s\n", table, im.Row.Key, row)
		}
	}
	tw.Flush()
}

// historyEvent is one line of `state history`.
type historyEvent struct {
	Time    time.Time `json:"-"`
	At      string    `json:"time,omitempty"`
	Serial  uint64    `json:"serial"`
	Name    string    `json:"name"`
	Kind    string    `json:"kind"`
	Event   string    `json:"event"` // started, applied, incomplete, failed, needs_rollback, rolled_back, unfinished
	Who     string    `json:"who,omitempty"`
	Host    string    `json:"host,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Error   string    `json:"error,omitempty"`
	Related uint64    `json:"related,omitempty"` // the operation a rollback undid, or that undid this one
	text    string
}

// historyOf turns the operations into events in time order: each operation
// starts, then ends applied, failed or needing a rollback (or is still
// unfinished); a rollback's end also records what it undid.
func historyOf(s *state.State) []historyEvent {
	var evs []historyEvent
	for _, op := range s.Operations {
		base := historyEvent{Serial: op.Serial, Name: op.Name, Kind: string(op.Kind), Who: op.Who, Host: op.Host}
		start := base
		start.Time, start.Event, start.Reason = op.Started, "started", op.Reason
		what := string(op.Kind)
		if op.RollbackOf != 0 {
			start.Related = op.RollbackOf
			what = fmt.Sprintf("rollback of operation %d", op.RollbackOf)
		}
		start.text = fmt.Sprintf("%s started by %s", what, whoAt(op.Who, op.Host))
		if op.Reason != "" {
			start.text += ": " + op.Reason
		}
		evs = append(evs, start)

		end := base
		end.Time = op.Finished
		switch op.Status {
		case state.StatusApplied, state.StatusRolledBack:
			// rolled_back operations were applied first; their undoing is
			// the rollback operation's own event.
			end.Event, end.text = "applied", "applied"
			if op.Kind == state.KindRollback {
				end.Related = op.RollbackOf
				end.text = fmt.Sprintf("applied: operation %d is rolled back", op.RollbackOf)
			}
		case state.StatusIncomplete:
			end.Event, end.Error, end.text = "incomplete", op.Error, "applied, NOT verified"
		case state.StatusFailed:
			end.Event, end.Error, end.text = "failed", op.Error, "failed, nothing left changed"
		case state.StatusNeedsRollback:
			end.Event, end.Error, end.text = "needs_rollback", op.Error, "FAILED, and its automatic rollback failed: it needs a rollback"
		case state.StatusInProgress:
			end.Event, end.text = "unfinished", "still in progress: interrupted unless it is running now"
		}
		if end.Error != "" {
			end.text += ": " + end.Error
		}
		evs = append(evs, end)
	}
	// Unfinished events have no time: they sort last.
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i].Time, evs[j].Time
		if a.IsZero() != b.IsZero() {
			return b.IsZero()
		}
		return a.Before(b)
	})
	for i := range evs {
		evs[i].At = jsonTime(evs[i].Time)
	}
	return evs
}

// approvalsText says who approved op and whether that was verified.
func approvalsText(op *state.Operation) string {
	var parts []string
	for _, a := range op.VerifiedApprovals {
		parts = append(parts, fmt.Sprintf("%s (signature verified, key %s)", a.Principals, a.Fingerprint))
	}
	if len(op.Approvals) > 0 {
		parts = append(parts, strings.Join(op.Approvals, ", ")+" (unverified: named with --approved-by)")
	}
	return strings.Join(parts, "; ")
}
