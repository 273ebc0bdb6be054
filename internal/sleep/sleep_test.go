package sleep

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCtx(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"waits", context.Background(), time.Millisecond, nil},
		{"zero", context.Background(), 0, nil},
		{"negative", context.Background(), -time.Second, nil},
		{"cancelled before", cancelled, time.Hour, context.Canceled},
		{"cancelled, zero", cancelled, 0, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Ctx(tt.ctx, tt.d); !errors.Is(err, tt.want) {
				t.Errorf("Ctx = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("cancelled during", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := Ctx(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ctx = %v, want deadline exceeded", err)
		}
		if time.Since(start) > 10*time.Second {
			t.Error("Ctx did not return when the context ended")
		}
	})
}
