package connect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackoffDoubles records the waits between retries (through the sleep
// field, so nothing really sleeps): exponential from RetryBackoff, capped at
// MaxRetryBackoff, one wait fewer than attempts.
func TestBackoffDoubles(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error_code":409,"message":"Cannot complete request momentarily due to stale configuration"}`))
	}))
	defer srv.Close()
	tests := []struct {
		name       string
		backoff    time.Duration
		maxRetries int
		want       []time.Duration
	}{
		{"defaults", 0, 0, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond}},
		{"capped", time.Second, 6, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"one retry", 10 * time.Millisecond, 1, []time.Duration{10 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requests.Store(0)
			c, err := New(Config{URL: srv.URL, RetryBackoff: tt.backoff, MaxRetries: tt.maxRetries})
			if err != nil {
				t.Fatal(err)
			}
			var waits []time.Duration
			c.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			if err := c.Stop(context.Background(), "x"); !IsConflict(err) {
				t.Fatalf("error %v", err)
			}
			if len(waits) != len(tt.want) {
				t.Fatalf("waits %v, want %v", waits, tt.want)
			}
			for i := range waits {
				if waits[i] != tt.want[i] {
					t.Errorf("wait %d: %v, want %v", i, waits[i], tt.want[i])
				}
			}
			if got := int(requests.Load()); got != len(tt.want)+1 {
				t.Errorf("%d requests, want %d", got, len(tt.want)+1)
			}
		})
	}
}

func TestSnippet(t *testing.T) {
	long := make([]byte, 0, 300)
	for len(long) < 199 {
		long = append(long, 'a')
	}
	long = append(long, "é and more"...) // é straddles byte 200
	tests := []struct{ in, want string }{
		{"", ""},
		{"  plain\n\ttext  ", "plain text"},
		{"\xff\xfebad", "?bad"},
		{string(long), string(long[:199]) + "…"},
	}
	for _, tt := range tests {
		if got := snippet([]byte(tt.in)); got != tt.want {
			t.Errorf("snippet(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
