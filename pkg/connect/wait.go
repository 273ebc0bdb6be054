package connect

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DefaultWaitInterval is the pause between two status polls of WaitForState.
const DefaultWaitInterval = 500 * time.Millisecond

// maxSeen bounds the history of observations a WaitError keeps.
const maxSeen = 10

// WaitOptions tune WaitForState.
type WaitOptions struct {
	// Interval between two polls; zero means DefaultWaitInterval.
	Interval time.Duration
	// Timeout bounds the whole wait; zero means only the context bounds it.
	Timeout time.Duration
	// AllowFailed keeps waiting for RUNNING when an instance shows FAILED,
	// instead of giving up at once. Use it right after Restart, when the
	// status topic can still show the failure that caused the restart.
	AllowFailed bool
}

// WaitError says why WaitForState gave up: an instance FAILED while waiting
// for RUNNING (Failed is true), or the time ran out (Err is the context's
// error). Seen lists the distinct observations in order, oldest first.
type WaitError struct {
	Connector string
	Want      State
	// Failed is true when an instance FAILED while waiting for RUNNING;
	// Instance names it ("connector" or "task 2") and Trace holds the first
	// line of its trace.
	Failed   bool
	Instance string
	Trace    string
	// Seen lists the distinct states observed, e.g.
	// "connector RUNNING, task 0 UNASSIGNED"; at most the last 10.
	Seen []string
	// Last is the last status read, nil when none was.
	Last *ConnectorStatus
	// Err is the context error that ended the wait, nil when Failed.
	Err error
}

func (e *WaitError) Error() string {
	if e.Failed {
		msg := fmt.Sprintf("connector %q failed while waiting for %s: %s is FAILED", e.Connector, e.Want, e.Instance)
		if e.Trace != "" {
			msg += ": " + e.Trace
		}
		return msg
	}
	msg := fmt.Sprintf("connector %q did not reach %s (%v)", e.Connector, e.Want, e.Err)
	if n := len(e.Seen); n > 0 {
		msg += "; last seen: " + e.Seen[n-1]
		if n > 1 {
			msg += " (before that: " + strings.Join(e.Seen[:n-1], "; ") + ")"
		}
	}
	return msg
}

func (e *WaitError) Unwrap() error { return e.Err }

// WaitForState polls the connector's status until it shows want, and returns
// that status:
//   - StateStopped: the connector is STOPPED and has no tasks;
//   - StateRunning: the connector is RUNNING with at least one task, all
//     RUNNING; a FAILED connector or task ends the wait at once (unless
//     opts.AllowFailed) with a *WaitError carrying the trace's first line;
//   - any other state: the connector and all its tasks show it.
//
// A 404 (no status written yet) is polled again. When the time runs out it
// returns a *WaitError listing the states seen, which wraps the context's
// error. Other errors end the wait as they are.
func (c *Client) WaitForState(ctx context.Context, name string, want State, opts WaitOptions) (ConnectorStatus, error) {
	if err := checkName(name); err != nil {
		return ConnectorStatus{}, err
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = DefaultWaitInterval
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	werr := &WaitError{Connector: name, Want: want}
	observe := func(s string) {
		if n := len(werr.Seen); n > 0 && werr.Seen[n-1] == s {
			return
		}
		werr.Seen = append(werr.Seen, s)
		if len(werr.Seen) > maxSeen {
			werr.Seen = werr.Seen[len(werr.Seen)-maxSeen:]
		}
	}
	for {
		st, err := c.Status(ctx, name)
		switch {
		case err == nil:
			werr.Last = &st
			observe(describeStatus(st))
			if reached(st, want) {
				return st, nil
			}
			if want == StateRunning && !opts.AllowFailed {
				if inst, trace, failed := firstFailed(st); failed {
					werr.Failed, werr.Instance, werr.Trace = true, inst, trace
					return st, werr
				}
			}
		case IsNotFound(err):
			observe("no status yet")
		case ctx.Err() != nil:
			werr.Err = ctx.Err()
			return ConnectorStatus{}, werr
		default:
			return ConnectorStatus{}, fmt.Errorf("waiting for connector %q to be %s: %w", name, want, err)
		}
		if err := c.sleep(ctx, interval); err != nil {
			werr.Err = err
			return ConnectorStatus{}, werr
		}
	}
}

func reached(st ConnectorStatus, want State) bool {
	if st.Connector.State != want {
		return false
	}
	switch want {
	case StateStopped:
		return len(st.Tasks) == 0
	case StateRunning:
		if len(st.Tasks) == 0 {
			return false
		}
	}
	for _, t := range st.Tasks {
		if t.State != want {
			return false
		}
	}
	return true
}

func firstFailed(st ConnectorStatus) (instance, trace string, failed bool) {
	if st.Connector.State == StateFailed {
		return "connector", firstLine(st.Connector.Trace), true
	}
	for _, t := range st.Tasks {
		if t.State == StateFailed {
			return fmt.Sprintf("task %d", t.ID), firstLine(t.Trace), true
		}
	}
	return "", "", false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// describeStatus renders a status as "connector RUNNING, task 0 FAILED".
func describeStatus(st ConnectorStatus) string {
	var b strings.Builder
	b.WriteString("connector " + string(st.Connector.State))
	if len(st.Tasks) == 0 {
		b.WriteString(", no tasks")
	}
	for _, t := range st.Tasks {
		fmt.Fprintf(&b, ", task %d %s", t.ID, t.State)
	}
	return b.String()
}
