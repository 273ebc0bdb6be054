package pglsn

import (
	"strings"
	"testing"
)

func TestParseAndFormat(t *testing.T) {
	tests := []struct {
		name, in string
		want     uint64
		wantErr  string
		format   string
	}{
		{name: "zero", in: "0/0", format: "0/0"},
		{name: "small", in: "0/2360E30", want: 0x2360E30, format: "0/2360E30"},
		{name: "lower case", in: "16/b374d848", want: 0x16<<32 | 0xB374D848, format: "16/B374D848"},
		{name: "max", in: "FFFFFFFF/FFFFFFFF", want: 1<<64 - 1, format: "FFFFFFFF/FFFFFFFF"},
		{name: "no slash", in: "2360E30", wantErr: "separated by a slash"},
		{name: "empty second", in: "0/", wantErr: "second part must be 1 to 8 hexadecimal digits"},
		{name: "too long", in: "100000000/0", wantErr: "first part must be 1 to 8"},
		{name: "not hex", in: "0/2360G30", wantErr: "'G' is not a hexadecimal digit"},
		{name: "two slashes", in: "0/1/2", wantErr: "'/' is not a hexadecimal digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %d, %v; want error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			if f := Format(got); f != tt.format {
				t.Errorf("Format(%d) = %q, want %q", got, f, tt.format)
			}
		})
	}
}
