package numfmt

import (
	"math"
	"testing"
)

func TestThousands(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		want string
	}{
		{"zero", 0, "0"},
		{"three digits", 999, "999"},
		{"four digits", 1000, "1,000"},
		{"seven digits", 1234567, "1,234,567"},
		{"negative", -1234, "-1,234"},
		{"negative three digits", -123, "-123"},
		{"max", math.MaxInt64, "9,223,372,036,854,775,807"},
		{"min", math.MinInt64, "-9,223,372,036,854,775,808"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Thousands(tt.n); got != tt.want {
				t.Errorf("Thousands(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestSigned(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{1500, "+1,500"}, {0, "0"}, {-2, "-2"}} {
		if got := Signed(tt.n); got != tt.want {
			t.Errorf("Signed(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
