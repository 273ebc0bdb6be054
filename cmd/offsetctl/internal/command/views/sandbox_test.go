package views

import "testing"

func TestShellQuote(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"url", "http://127.0.0.1:8083", "http://127.0.0.1:8083"},
		{"space", "a b", "'a b'"},
		{"quote", "it's", `'it'\''s'`},
		{"empty", "", "''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shellQuote(tt.in); got != tt.want {
				t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
