package realstack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestEnabled(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
		why  string // substring of the skip line
	}{
		{"nothing set", nil, false, "OFFSETCTL_REALSTACK=1 make test"},
		{"opt in", map[string]string{"OFFSETCTL_REALSTACK": "1"}, true, ""},
		{"CI", map[string]string{"CI": "true"}, true, ""},
		{"CI other value", map[string]string{"CI": "1"}, false, "OFFSETCTL_REALSTACK=1"},
		{"opt out wins over CI", map[string]string{"CI": "true", "OFFSETCTL_REALSTACK": "0"}, false, "OFFSETCTL_REALSTACK=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Enabled(func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Fatalf("Enabled = %v (%q), want %v", got, why, tt.want)
			}
			if !strings.Contains(why, tt.why) || strings.Contains(why, "\n") {
				t.Fatalf("why = %q, want one line containing %q", why, tt.why)
			}
		})
	}
}

func TestParseJavaVersion(t *testing.T) {
	tests := []struct {
		out     string
		want    int
		wantErr bool
	}{
		{`openjdk version "17.0.15" 2025-04-15`, 17, false},
		{`openjdk version "25" 2025-09-16`, 25, false},
		{`java version "1.8.0_392"`, 8, false},
		{`Picked up JAVA_TOOL_OPTIONS: -Xss1m` + "\n" + `openjdk version "21.0.2" 2024-01-16`, 21, false},
		{`something else`, 0, true},
	}
	for _, tt := range tests {
		got, err := parseJavaVersion([]byte(tt.out))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseJavaVersion(%q) = %d, %v; want %d (error %v)", tt.out, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestStackRowsFlow checks the helper's promise: when Start returns, rows
// inserted, updated and deleted in the source reach the sink database.
func TestStackRowsFlow(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, err := pgx.Connect(ctx, st.SourceDB())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(ctx)
	if _, err := src.Exec(ctx, "UPDATE public.customers SET email = 'grace@navy.example' WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	err = poll(ctx, time.Minute, "the update to reach the sink", nil, func(ctx context.Context) (bool, error) {
		var email string
		err := sink.QueryRow(ctx, "SELECT email FROM public.customers WHERE id = 2").Scan(&email)
		return email == "grace@navy.example", err
	})
	if err != nil {
		t.Fatal(err)
	}
}
