package views

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// writes records every Write separately, so that a test sees what a reader
// of the stream would have seen at each moment.
type writes struct {
	calls   []string
	flushes int
	fail    error
}

func (w *writes) Write(p []byte) (int, error) {
	if w.fail != nil {
		return 0, w.fail
	}
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

func (w *writes) Flush() error { w.flushes++; return nil }

// TestOperationStreamsEachEvent: with -json, each event is on stdout, a
// whole JSON line written in one Write and flushed, as soon as the view
// gets it, before the apply ends.
func TestOperationStreamsEachEvent(t *testing.T) {
	events := []apply.Event{
		apply.OperationStarted{Operation: "offsets.replay", Connector: "orders-sink", Serial: 1, Changes: 2},
		apply.StepStarted{Operation: "offsets.replay", Connector: "orders-sink", Step: "stop"},
		apply.StepDone{Operation: "offsets.replay", Connector: "orders-sink", Step: "stop", Message: "STOPPED", Elapsed: 1500 * time.Millisecond},
		apply.OperationFinished{Operation: "offsets.replay", Serial: 1, Status: state.StatusApplied},
	}
	tests := []struct {
		name     string
		wantType string
	}{
		{"operation_started", "operation_started"},
		{"step_started", "step_started"},
		{"step_done", "step_done"},
		{"operation_finished", "operation_finished"},
	}
	out := &writes{}
	streams, _, _, _ := iostreams.Test()
	streams.Out = out
	v := NewOperation(streams, true, "9.9.9")
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	if len(out.calls) != 1 || out.calls[0] != `{"type":"version","format_version":1,"offsetctl_version":"9.9.9"}`+"\n" {
		t.Fatalf("after Start: %q", out.calls)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.Event(events[i])
			if len(out.calls) != i+2 || out.flushes != i+2 {
				t.Fatalf("after event %d: %d writes, %d flushes; want %d of each", i, len(out.calls), out.flushes, i+2)
			}
			line := out.calls[i+1]
			if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
				t.Fatalf("not one whole line: %q", line)
			}
			var rec struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Type != tt.wantType {
				t.Fatalf("record %q: type %q, %v; want %s", line, rec.Type, err, tt.wantType)
			}
		})
	}
	if err := v.Result(&apply.Result{Serial: 3}, nil); err != nil {
		t.Fatal(err)
	}
	if last := out.calls[len(out.calls)-1]; last != `{"type":"summary","ok":true,"serial":3,"operations":[]}`+"\n" {
		t.Fatalf("summary: %q", last)
	}
}

// TestOperationStreamWriteError: a stream that cannot be written (a closed
// pipe) is reported once the apply ends, and nothing more is written.
func TestOperationStreamWriteError(t *testing.T) {
	out := &writes{fail: errors.New("broken pipe")}
	streams, _, _, _ := iostreams.Test()
	streams.Out = out
	v := NewOperation(streams, true, "9.9.9")
	if err := v.Start(); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Start = %v, want the write error", err)
	}
	v.Event(apply.Warning{Operation: "offsets.replay", Message: "x"})
	if err := v.Result(nil, nil); err == nil {
		t.Fatal("Result hid the write error")
	}
}

// TestOperationText: without -json, progress goes to stderr as it happens
// and the summary to stdout.
func TestOperationText(t *testing.T) {
	streams, _, out, errOut := iostreams.Test()
	v := NewOperation(streams, false, "9.9.9")
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	v.Event(apply.StepDone{Operation: "offsets.replay", Step: "alter", Message: "2 partition(s) written via rest", Elapsed: 1234 * time.Millisecond})
	if got, want := errOut.String(), "offsets.replay: alter: 2 partition(s) written via rest [1.23s]\n"; got != want {
		t.Errorf("progress %q, want %q", got, want)
	}
	if out.Len() != 0 {
		t.Errorf("stdout before the summary: %q", out)
	}
	if err := v.Result(&apply.Result{}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Apply complete! Nothing to do") {
		t.Errorf("summary %q", out)
	}
}
