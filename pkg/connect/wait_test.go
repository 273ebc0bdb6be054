package connect_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// statusSeq serves GET /connectors/pg-orders/status from a list of answers,
// repeating the last one, and counts the polls. onPoll, when set, runs with
// the poll number (1-based) before answering.
type statusSeq struct {
	answers []string // JSON status bodies; "404" for Connect's not-found answer, "500" for a server error
	polls   atomic.Int32
	onPoll  func(n int)
}

func (s *statusSeq) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "GET" || r.URL.Path != "/connectors/pg-orders/status" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
		return
	}
	n := int(s.polls.Add(1))
	if s.onPoll != nil {
		s.onPoll(n)
	}
	a := s.answers[min(n, len(s.answers))-1]
	w.Header().Set("Content-Type", "application/json")
	switch a {
	case "404":
		w.WriteHeader(404)
		_, _ = w.Write([]byte(connectError(404, "No status found for connector pg-orders")))
	case "404page":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(404)
		_, _ = w.Write([]byte("404 page not found"))
	case "500":
		w.WriteHeader(500)
		_, _ = w.Write([]byte(connectError(500, "Failed to read status")))
	default:
		_, _ = w.Write([]byte(a))
	}
}

// st builds a status body: st("RUNNING", "0:RUNNING", "1:FAILED:trace").
func st(connector string, tasks ...string) string {
	var b strings.Builder
	b.WriteString(`{"name":"pg-orders","connector":{"state":"` + connector + `","worker_id":"w:8083"`)
	if connector == "FAILED" {
		b.WriteString(`,"trace":"org.apache.kafka.connect.errors.ConnectException: connector boom\n\tat Foo.bar(Foo.java:1)"`)
	}
	b.WriteString(`},"tasks":[`)
	for i, t := range tasks {
		parts := strings.SplitN(t, ":", 3)
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"id":` + parts[0] + `,"state":"` + parts[1] + `","worker_id":"w:8083"`)
		if len(parts) == 3 {
			b.WriteString(`,"trace":"` + parts[2] + `"`)
		}
		b.WriteString("}")
	}
	b.WriteString(`],"type":"source"}`)
	return b.String()
}

func TestWaitForState(t *testing.T) {
	taskTrace := `org.apache.kafka.connect.errors.ConnectException: task boom\n\tat X.y(X.java:2)\nCaused by: z`
	tests := []struct {
		name      string
		want      connect.State
		answers   []string
		opts      connect.WaitOptions
		wantPolls int
		wantErr   string // empty: reached
		failed    bool
	}{
		{
			name: "running after no status, unassigned, a task starting",
			want: connect.StateRunning,
			answers: []string{"404", st("UNASSIGNED"), st("RUNNING"), st("RUNNING", "0:RUNNING", "1:UNASSIGNED"),
				st("RUNNING", "0:RUNNING", "1:RUNNING")},
			wantPolls: 5,
		},
		{
			name:      "stopped needs no tasks",
			want:      connect.StateStopped,
			answers:   []string{st("RUNNING", "0:RUNNING"), st("STOPPED", "0:RUNNING"), st("STOPPED")},
			wantPolls: 3,
		},
		{
			name:      "paused needs every task paused",
			want:      connect.StatePaused,
			answers:   []string{st("PAUSED", "0:PAUSED", "1:RUNNING"), st("PAUSED", "0:PAUSED", "1:PAUSED")},
			wantPolls: 2,
		},
		{
			name:      "failed task ends a wait for running at once",
			want:      connect.StateRunning,
			answers:   []string{st("RUNNING", "0:RUNNING", "1:FAILED:"+taskTrace), st("RUNNING", "0:RUNNING", "1:RUNNING")},
			wantPolls: 1,
			failed:    true,
			wantErr:   `connector "pg-orders" failed while waiting for RUNNING: task 1 is FAILED: org.apache.kafka.connect.errors.ConnectException: task boom`,
		},
		{
			name:      "failed connector ends a wait for running at once",
			want:      connect.StateRunning,
			answers:   []string{st("UNASSIGNED"), st("FAILED")},
			wantPolls: 2,
			failed:    true,
			wantErr:   `connector "pg-orders" failed while waiting for RUNNING: connector is FAILED: org.apache.kafka.connect.errors.ConnectException: connector boom`,
		},
		{
			name:      "allow failed keeps waiting after a restart",
			want:      connect.StateRunning,
			opts:      connect.WaitOptions{AllowFailed: true},
			answers:   []string{st("RUNNING", "0:FAILED:old"), st("RUNNING", "0:RESTARTING"), st("RUNNING", "0:RUNNING")},
			wantPolls: 3,
		},
		{
			name:      "a failed task does not end a wait for stopped",
			want:      connect.StateStopped,
			answers:   []string{st("RUNNING", "0:FAILED:x"), st("STOPPED")},
			wantPolls: 2,
		},
		{
			name:      "a 404 page (wrong URL) ends the wait",
			want:      connect.StateRunning,
			answers:   []string{"404page"},
			wantPolls: 1,
			wantErr:   `waiting for connector "pg-orders" to be RUNNING: reading the status of connector "pg-orders": kafka connect answered 404 Not Found to GET /connectors/pg-orders/status: 404 page not found`,
		},
		{
			name:      "other errors end the wait",
			want:      connect.StateRunning,
			answers:   []string{st("UNASSIGNED"), "500"},
			wantPolls: 2,
			wantErr:   `waiting for connector "pg-orders" to be RUNNING: reading the status of connector "pg-orders": kafka connect answered 500 Internal Server Error`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq := &statusSeq{answers: tt.answers}
			srv := httptest.NewServer(seq)
			defer srv.Close()
			c, err := connect.New(connect.Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			opts := tt.opts
			opts.Interval = time.Millisecond
			got, err := c.WaitForState(context.Background(), "pg-orders", tt.want, opts)
			if n := int(seq.polls.Load()); n != tt.wantPolls {
				t.Errorf("%d polls, want %d", n, tt.wantPolls)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got.Connector.State != tt.want {
					t.Errorf("returned status %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v\nwant it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error should hold only the trace's first line: %q", err)
			}
			var we *connect.WaitError
			if errors.As(err, &we) != tt.failed || (tt.failed && !we.Failed) {
				t.Errorf("WaitError %+v, failed want %v", we, tt.failed)
			}
		})
	}
}

// TestWaitForStateGivesUp ends the wait by cancelling the context from the
// server on the 4th poll, and checks the error lists what was seen.
func TestWaitForStateGivesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seq := &statusSeq{
		answers: []string{"404", st("RUNNING"), st("RUNNING", "0:UNASSIGNED", "1:RUNNING")},
		onPoll: func(n int) {
			if n == 4 {
				cancel()
			}
		},
	}
	srv := httptest.NewServer(seq)
	defer srv.Close()
	c, err := connect.New(connect.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WaitForState(ctx, "pg-orders", connect.StateRunning, connect.WaitOptions{Interval: time.Millisecond})
	var we *connect.WaitError
	if !errors.As(err, &we) {
		t.Fatalf("error %v (%T), want a *WaitError", err, err)
	}
	if !errors.Is(err, context.Canceled) || we.Failed {
		t.Errorf("WaitError %+v should wrap context.Canceled", we)
	}
	wantSeen := []string{"no status yet", "connector RUNNING, no tasks", "connector RUNNING, task 0 UNASSIGNED, task 1 RUNNING"}
	if strings.Join(we.Seen, "|") != strings.Join(wantSeen, "|") {
		t.Errorf("seen %q, want %q", we.Seen, wantSeen)
	}
	want := `connector "pg-orders" did not reach RUNNING (context canceled); last seen: connector RUNNING, task 0 UNASSIGNED, task 1 RUNNING ` +
		`(before that: no status yet; connector RUNNING, no tasks)`
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	if we.Last == nil || len(we.Last.Tasks) != 2 {
		t.Errorf("last status %+v", we.Last)
	}
}

// TestWaitForStateTimeout uses WaitOptions.Timeout: the wait ends with
// context.DeadlineExceeded (nothing is asserted about how long it took).
func TestWaitForStateTimeout(t *testing.T) {
	seq := &statusSeq{answers: []string{st("RUNNING", "0:RUNNING")}}
	srv := httptest.NewServer(seq)
	defer srv.Close()
	c, err := connect.New(connect.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WaitForState(context.Background(), "pg-orders", connect.StateStopped, connect.WaitOptions{Interval: time.Millisecond, Timeout: 20 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "did not reach STOPPED") || !strings.Contains(err.Error(), "last seen: connector RUNNING, task 0 RUNNING") {
		t.Errorf("error %q", err)
	}
	if seq.polls.Load() < 1 {
		t.Error("no poll happened")
	}
}
