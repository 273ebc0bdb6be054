package redact

import "testing"

func TestURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"password", "http://u:p@h:8083/x", "http://u:xxxxx@h:8083/x"},
		{"no userinfo", "http://h:8083", "http://h:8083"},
		{"user only", "postgres://u@h/db", "postgres://u@h/db"},
		{"unparseable port", "http://u:p@h:bad", "http://u:xxxxx@h:bad"},
		{"@ in password, unparseable", "http://u:p@ss@h:bad/p", "http://u:xxxxx@h:bad/p"},
		{"no scheme", "://u:p@h", "://u:xxxxx@h"},
		{"not a url", "no url at all", "no url at all"},
		{"path", "offsetctl.state.json", "offsetctl.state.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := URL(tt.in); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestWithoutPassword(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"password", "postgres://u:p@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?sslmode=disable"},
		{"none", "postgres://h/db", "postgres://h/db"},
		{"unparseable", "postgres://u:p@h:bad", "postgres://u:p@h:bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WithoutPassword(tt.in); got != tt.want {
				t.Errorf("WithoutPassword(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretAndPasswordIn(t *testing.T) {
	tests := []struct{ name, msg, secret, raw, want string }{
		{"secret", "login as u with s3cret failed", "s3cret", "", "login as u with xxxxx failed"},
		{"empty secret", "nothing", "", "", "nothing"},
		{"password of a url", `parse "http://u:pw@h:x": invalid port`, "", "http://u:pw@h:x", `parse "http://u:xxxxx@h:x": invalid port`},
		{"url without password", "bad", "", "http://u@h:x", "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Secret(tt.msg, tt.secret)
			if tt.raw != "" {
				got = PasswordIn(tt.msg, tt.raw)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
