package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestSecretPrinting(t *testing.T) {
	s := NewSecret("hunter2", "env PW")
	type holder struct {
		Name string
		PW   Secret
		Ptr  *Secret
	}
	h := holder{Name: "x", PW: s, Ptr: &s}
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":     fmt.Sprintf("%v", s),
		"%s":     fmt.Sprintf("%s", s),
		"%q":     fmt.Sprintf("%q", s),
		"%#v":    fmt.Sprintf("%#v", s),
		"%x":     fmt.Sprintf("%x", s),
		"%d":     fmt.Sprintf("%d", s),
		"%+v h":  fmt.Sprintf("%+v", h),
		"%#v h":  fmt.Sprintf("%#v", h),
		"String": s.String(),
		"json":   string(js),
		"error":  fmt.Errorf("connecting with %v: %w", s, fmt.Errorf("refused")).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
		if !strings.Contains(out, "(sensitive)") {
			t.Errorf("%s does not show the mask: %s", name, out)
		}
	}
	if s.Value() != "hunter2" || s.Source() != "env PW" {
		t.Errorf("Value/Source = %q/%q", s.Value(), s.Source())
	}
	if (Secret{}).String() != "" || !(Secret{}).IsZero() {
		t.Error("the zero Secret is not empty")
	}
}

func TestSecretRedacted(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://app:hunter2@db:5432/shop", "postgres://app:xxxxx@db:5432/shop"},
		{"postgres://app:hunter2@db/shop?sslmode=require&password=hunter2", "postgres://app:xxxxx@db/shop"},
		{"postgres://db/shop", "postgres://db/shop"},
		{"host=db password=hunter2", "(sensitive)"},
		{"hunter2", "(sensitive)"},
	} {
		if got := NewSecret(tt.in, "").Redacted(); got != tt.want {
			t.Errorf("Redacted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSecretsInConfig checks which attributes are secrets, where each came
// from, and that no planted secret shows in any printing of the Config.
func TestSecretsInConfig(t *testing.T) {
	cfg, diags := LoadFiles("testdata/valid", []string{"secrets.hcl"}, Options{Getenv: testGetenv})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	basic, bearer := cfg.Connect("basic"), cfg.Connect("bearer")
	tests := []struct {
		name       string
		s          Secret
		wantValue  string
		wantSource string
	}{
		{"state url", cfg.Settings.State.URL, testEnv["STATE_DATABASE_URL"], "env STATE_DATABASE_URL"},
		{"basic_auth password", basic.BasicAuth.Password, "connect-s3cret", "env CONNECT_PASSWORD"},
		{"literal header", basic.Headers["X-Api-Key"], "literal-s3cret", "literal"},
		{"header from variable", basic.Headers["X-Tenant"], "token-from-default-s3cret", "variable token (default)"},
		{"token", bearer.Token, "token-from-default-s3cret", "variable token (default)"},
		{"sasl password via local", cfg.Kafka("prod").SASL.Password, "kafka-s3cret", "env KAFKA_PASSWORD"},
		{"database url", cfg.Database("source").URL, testEnv["SOURCE_DATABASE_URL"], "env SOURCE_DATABASE_URL"},
		{"database url template", cfg.Database("sink").URL, "postgres://app:connect-s3cret@sink/db?sslmode=require&application_name=x", "expression"},
	}
	for _, tt := range tests {
		if tt.s.Value() != tt.wantValue || tt.s.Source() != tt.wantSource {
			t.Errorf("%s: %q from %q, want %q from %q", tt.name, tt.s.Value(), tt.s.Source(), tt.wantValue, tt.wantSource)
		}
	}
	if basic.URL != "https://connect.internal:8083" || bearer.URL != "http://connect-2:8083" || basic.Timeout.String() != "45s" {
		t.Errorf("urls %q %q timeout %s", basic.URL, bearer.URL, basic.Timeout)
	}
	if k := cfg.Kafka("prod"); k.SASL.Mechanism != "SCRAM-SHA-512" || k.OffsetsTopic != "connect-offsets" || !k.TLS.InsecureSkipVerify {
		t.Errorf("kafka = %+v", k)
	}
	if cfg.Path(basic.TLS.CAFile) != "testdata/valid/certs/ca.pem" {
		t.Errorf("Path(ca_file) = %q", cfg.Path(basic.TLS.CAFile))
	}

	js, err := json.Marshal(cfg.Connects)
	if err != nil {
		t.Fatal(err)
	}
	printed := []string{fmt.Sprintf("%+v", cfg.Connects), fmt.Sprintf("%#v", cfg.Connects), fmt.Sprintf("%+v %+v %+v", *basic, *basic.BasicAuth, *cfg.Kafka("prod").SASL), fmt.Sprintf("%v", cfg.Databases), string(js), cfg.Hash}
	for _, out := range printed {
		if strings.Contains(out, "s3cret") {
			t.Errorf("a secret shows: %s", out)
		}
	}
}
