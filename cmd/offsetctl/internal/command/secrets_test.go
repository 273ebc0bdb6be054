package command

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// connectProxy is a real HTTP reverse proxy in front of the sandbox's
// Connect REST API that lets through only requests carrying the given
// credentials (basic auth when user is set, else the bearer token), as a
// secured Connect cluster would: a command that exits 0 through it sent
// them.
func connectProxy(t *testing.T, target, user, password, token string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := false
		if user != "" {
			gu, gp, has := r.BasicAuth()
			ok = has && gu == user && subtle.ConstantTimeCompare([]byte(gp), []byte(password)) == 1
		} else {
			ok = subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) == 1
		}
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error_code":401,"message":"Unauthorized"}`))
			return
		}
		r.Header.Del("Authorization")
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// withPassword returns the PostgreSQL URL u with password set (the
// throwaway cluster trusts local connections, so any password is accepted:
// what matters here is where it travels).
func withPassword(t *testing.T, u, password string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.UserPassword(p.User.Username(), password)
	return p.String()
}

// libpqString is u as a libpq keyword/value string with password.
func libpqString(t *testing.T, u, password string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("host=%s port=%s dbname=%s user=%s password=%s sslmode=disable", p.Hostname(), p.Port(), strings.TrimPrefix(p.Path, "/"), p.User.Username(), password)
}

// TestSecretsNeverLeak runs every command that takes credentials with a
// distinct password in each place one can be given: a database URL, a libpq
// string, PGPASSWORD, an HCL variable (-var), Connect basic auth (HCL and
// OFFSETCTL_CONNECT_PASSWORD) and a bearer token (HCL variable and
// OFFSETCTL_CONNECT_TOKEN), the state's URL, the state encryption key
// (environment, key file, key command), and approve's signing key (-key
// FILE: a passphrase-protected key's passphrase, the private key file's
// content); on success paths and on refusals.
// No secret may appear in any output (text, -json events, -markdown) nor in
// any file written: plan, state (encrypted or not), journal, .backup,
// offsets backups, rollback plans.
func TestSecretsNeverLeak(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	secrets := map[string]string{
		"url password":               "Url-Pw-7f3a9c",
		"libpq password":             "Libpq-Pw-2b8e41",
		"PGPASSWORD":                 "Pgenv-Pw-5d1c77",
		"-var password":              "Var-Pw-9e0b23",
		"connect basic auth (HCL)":   "Hcl-Connect-Pw-4a6f18",
		"connect token (HCL var)":    "Hcl-Token-8c2d95",
		"OFFSETCTL_CONNECT_PASSWORD": "Env-Connect-Pw-3e7b60",
		"OFFSETCTL_CONNECT_TOKEN":    "Env-Token-1f9a44",
		"wrong connect password":     "Wrong-Pw-6b3c02",
		"state URL password":         "State-Url-Pw-0d8e59",
	}
	stateKey := bytes.Repeat([]byte{0x5a, 0xc3}, 16)
	keyText := base64.StdEncoding.EncodeToString(stateKey)
	secrets["state key (base64)"] = keyText
	secrets["state key (hex)"] = hex.EncodeToString(stateKey)
	secrets["state key (raw)"] = string(stateKey)

	// approve -key FILE: the keys live outside the folders scanned below
	// (a private key file holds its own secret, of course).
	keyDir := t.TempDir()
	passphrase := "Key-Passphrase-c41e7d"
	secrets["signing key passphrase"] = passphrase
	lockedKey := newSSHKeyWithPassphrase(t, keyDir, "locked", passphrase)
	openKey := newSSHKey(t, keyDir, "reviewer")
	damagedKey := filepath.Join(keyDir, "damaged")
	notAKey := filepath.Join(keyDir, "not-a-key")
	secrets["a -key file that is no key"] = "Not-A-Key-Secret-93b0aa"
	if err := os.WriteFile(notAKey, []byte("token = "+secrets["a -key file that is no key"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct{ name, path string }{{"passphrase-protected key", lockedKey}, {"private key", openKey}} {
		body := privateKeyBody(t, k.path)
		secrets[k.name+" (whole body)"] = body
		for i := 0; i+40 <= len(body); i += 40 { // any 40 characters of it
			secrets[fmt.Sprintf("%s (body at %d)", k.name, i)] = body[i : i+40]
		}
		if k.path == openKey {
			// The same key with its middle damaged: refused, and not quoted.
			pem, err := os.ReadFile(openKey)
			if err != nil {
				t.Fatal(err)
			}
			damaged := strings.Replace(string(pem), body[len(body)/2:len(body)/2+8], "!!!!!!!!", 1)
			if err := os.WriteFile(damagedKey, []byte(damaged), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	basic := connectProxy(t, w.sb.ConnectURL(), "connect-admin", secrets["connect basic auth (HCL)"], "")
	bearer := connectProxy(t, w.sb.ConnectURL(), "", "", secrets["connect token (HCL var)"])
	envBasic := connectProxy(t, w.sb.ConnectURL(), "env-admin", secrets["OFFSETCTL_CONNECT_PASSWORD"], "")
	envBearer := connectProxy(t, w.sb.ConnectURL(), "", "", secrets["OFFSETCTL_CONNECT_TOKEN"])

	src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{src, dst} {
		pgtest.Exec(t, u, `CREATE TABLE customers (id bigint PRIMARY KEY, email text)`)
		pgtest.Exec(t, u, `INSERT INTO customers SELECT g, 'user'||g||'@example.com' FROM generate_series(1, 20) g`)
	}
	pgtest.Exec(t, dst, `UPDATE customers SET email = 'changed@example.com' WHERE id = 3`)
	pgtest.Exec(t, dst, `DELETE FROM customers WHERE id = 4`)
	sinkHost, err := url.Parse(dst)
	if err != nil {
		t.Fatal(err)
	}

	work := t.TempDir() // every file the commands write
	keyFile := filepath.Join(t.TempDir(), "state.key")
	if err := os.WriteFile(keyFile, []byte(keyText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(encryption string) string {
		return fmt.Sprintf(`offsetctl {
  state "local" {
    path = %q
%s  }
}

variable "sink_password" {
  type = string
}

variable "connect_token" {
  type = string
}

connect "basic" {
  url = %q
  basic_auth {
    username = "connect-admin"
    password = env("CONNECT_PASSWORD")
  }
}

connect "bearer" {
  url   = %q
  token = var.connect_token
}

kafka "sandbox" {
  brokers = [%q]
}

connector "sink" {
  connect = connect.basic
  kafka   = kafka.sandbox
  name    = %q
}

connector "source" {
  connect = connect.bearer
  kafka   = kafka.sandbox
  name    = %q
}

database "source" {
  url = env("SOURCE_DSN")
}

database "sink" {
  url = "postgres://%s:${var.sink_password}@%s%s"
}

offsets "rewind" {
  connector = connector.sink
  reason    = "INC-77: replay"

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 5
  }
}

reconcile "customers" {
  source      = database.source
  sink        = database.sink
  table       = "public.customers"
  repair      = "upsert"
  max_changes = 10
  reason      = "INC-78: the sink drifted"
}
`, filepath.Join(work, "state", "offsetctl.state.json"), encryption, basic, bearer, w.sb.BootstrapServers()[0],
			w.pipe.SinkConnector(), w.pipe.SourceConnector(), sinkHost.User.Username(), sinkHost.Host, sinkHost.Path, w.pipe.Topic())
	}
	dir := writeConfig(t, config(""))
	if err := os.Mkdir(filepath.Join(work, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	setConfig := func(encryption string) {
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(config(encryption)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PGPASSWORD", secrets["PGPASSWORD"])

	env := map[string]string{
		"CONNECT_PASSWORD":            secrets["connect basic auth (HCL)"],
		"SOURCE_DSN":                  libpqString(t, src, secrets["libpq password"]),
		"OFFSETCTL_VAR_connect_token": secrets["connect token (HCL var)"],
		"OFFSETCTL_STATE_KEY":         keyText,
	}
	vars := []string{"-var", "sink_password=" + secrets["-var password"]}
	envWith := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range env {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	planFile := filepath.Join(work, "plan.json")
	stateURL := withPassword(t, pgtest.NewDB(t), secrets["state URL password"])
	sinkURL := withPassword(t, dst, secrets["url password"])
	type step struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		code  int
		pre   func()
	}
	cfgArgs := func(args ...string) []string { return append(append(args, vars...), "-chdir", dir) }
	steps := []step{
		{name: "validate", env: env, args: cfgArgs("validate"), code: 0},
		{name: "plan", env: env, args: cfgArgs("plan", "-out", planFile), code: 0},
		{name: "plan -json", env: env, args: cfgArgs("plan", "-json"), code: 0},
		{name: "plan -markdown", env: env, args: cfgArgs("plan", "-markdown"), code: 0},
		{name: "show", env: env, args: []string{"show", planFile}, code: 0},
		{name: "show -json", env: env, args: []string{"show", "-json", planFile}, code: 0},
		{name: "show -markdown", env: env, args: []string{"show", "-markdown", planFile}, code: 0},
		{name: "apply -json", env: env, args: cfgArgs("apply", planFile, "-json", "-grace-period", "100ms"), code: 0},
		{name: "state list", env: env, args: cfgArgs("state", "list"), code: 0},
		{name: "state show", env: env, args: cfgArgs("state", "show"), code: 0},
		{name: "state show -json", env: env, args: cfgArgs("state", "show", "-json"), code: 0},
		{name: "state show 2 -json", env: env, args: cfgArgs("state", "show", "2", "-json"), code: 0},
		{name: "state history", env: env, args: cfgArgs("state", "history"), code: 0},
		{name: "rollback -out", env: env, args: cfgArgs("rollback", "-serial", "1", "-out", filepath.Join(work, "rollback-plan.json"), "-grace-period", "100ms"), code: 0},
		{name: "rollback -json", env: env, args: cfgArgs("rollback", "-auto-approve", "-json", "-grace-period", "100ms"), code: 0},
		{name: "force-unlock unknown ID", env: env, args: cfgArgs("force-unlock", "no-such-lock"), code: 1},
		// The state encrypted: with the key from the environment, a file, a command.
		{name: "rotate-key (env key)", env: env, args: cfgArgs("state", "rotate-key"), code: 0,
			pre: func() { setConfig("    encryption {\n      key = env(\"OFFSETCTL_STATE_KEY\")\n    }\n") }},
		{name: "state list (key file)", env: env, args: cfgArgs("state", "list"), code: 0,
			pre: func() { setConfig(fmt.Sprintf("    encryption {\n      key_file = %q\n    }\n", keyFile)) }},
		{name: "plan encrypted (key command)", env: env, args: cfgArgs("plan", "-json"), code: 0,
			pre: func() {
				setConfig(fmt.Sprintf("    encryption {\n      key_command = [\"cat\", %q]\n    }\n", keyFile))
			}},
		{name: "state without the key", env: envWith("OFFSETCTL_STATE_KEY", ""), args: cfgArgs("state", "show"), code: 1,
			pre: func() { setConfig("    encryption {\n      key = env(\"OFFSETCTL_STATE_KEY\")\n    }\n") }},
		{name: "state with a key that is not one", env: envWith("OFFSETCTL_STATE_KEY", secrets["wrong connect password"]), args: cfgArgs("state", "show"), code: 1},
		// Global flags and environment.
		{name: "connectors (env basic auth)", env: envWith("OFFSETCTL_CONNECT_URL", envBasic, "OFFSETCTL_CONNECT_USER", "env-admin", "OFFSETCTL_CONNECT_PASSWORD", secrets["OFFSETCTL_CONNECT_PASSWORD"]), args: []string{"connectors"}, code: 0},
		{name: "connectors -json (env token)", env: envWith("OFFSETCTL_CONNECT_URL", envBearer, "OFFSETCTL_CONNECT_TOKEN", secrets["OFFSETCTL_CONNECT_TOKEN"]), args: []string{"connectors", "-json"}, code: 0},
		{name: "connectors (wrong password)", env: envWith("OFFSETCTL_CONNECT_URL", envBasic, "OFFSETCTL_CONNECT_USER", "env-admin", "OFFSETCTL_CONNECT_PASSWORD", secrets["wrong connect password"]), args: []string{"connectors"}, code: 1},
		{name: "connectors (password in the URL)", env: envWith("OFFSETCTL_CONNECT_URL", strings.Replace(envBasic, "http://", "http://env-admin:"+url.QueryEscape(secrets["OFFSETCTL_CONNECT_PASSWORD"])+"@", 1)), args: []string{"connectors"}, code: 0},
		{name: "offsets show -json", env: envWith("OFFSETCTL_CONNECT_URL", envBearer, "OFFSETCTL_CONNECT_TOKEN", secrets["OFFSETCTL_CONNECT_TOKEN"], "OFFSETCTL_BOOTSTRAP_SERVERS", w.sb.BootstrapServers()[0]), args: []string{"offsets", "show", w.pipe.SinkConnector(), w.pipe.SourceConnector(), "-json"}, code: 0},
		{name: "offsets backup", env: envWith("OFFSETCTL_CONNECT_URL", envBasic, "OFFSETCTL_CONNECT_USER", "env-admin", "OFFSETCTL_CONNECT_PASSWORD", secrets["OFFSETCTL_CONNECT_PASSWORD"], "OFFSETCTL_BOOTSTRAP_SERVERS", w.sb.BootstrapServers()[0]), args: []string{"offsets", "backup", "--all", "-o", filepath.Join(work, "offsets-backup.json")}, code: 0},
		{name: "diff (URL and libpq string)", env: env, args: []string{"diff", "--source", libpqString(t, src, secrets["libpq password"]), "--sink", sinkURL, "--table", "customers"}, code: 2},
		{name: "diff -json (PGPASSWORD)", env: env, args: []string{"diff", "--source", src, "--sink", dst, "--table", "customers", "-json"}, code: 2},
		{name: "diff -markdown (sink from the environment)", env: envWith("OFFSETCTL_SINK_URL", sinkURL), args: []string{"diff", "--source", src, "--table", "customers", "--markdown"}, code: 2},
		{name: "diff (unreachable sink)", env: env, args: []string{"diff", "--source", src, "--sink", "postgres://app:" + secrets["url password"] + "@127.0.0.1:1/none", "--table", "customers"}, code: 1},
		{name: "state list (postgres state URL)", env: env, args: []string{"state", "list", "--state", stateURL}, code: 0},
		{name: "force-unlock (postgres state URL)", env: env, args: []string{"force-unlock", "no-such-lock", "--state", stateURL}, code: 1},
		{name: "state list (unreachable postgres state)", env: env, args: []string{"state", "list", "--state", "postgres://app:" + secrets["state URL password"] + "@127.0.0.1:1/state"}, code: 1},
		// approve -key FILE. A passphrase-protected key is refused with
		// the ssh-add fix, also when the passphrase is typed (standard
		// input) or sits in the environment; the other keys sign or are
		// refused without their content quoted.
		{name: "approve -key (passphrase-protected)", env: env, args: []string{"approve", "-key", lockedKey, planFile}, code: 1},
		{name: "approve -key -json (passphrase-protected, passphrase typed)", env: env, stdin: passphrase + "\n", args: []string{"approve", "-json", "-key", lockedKey, planFile}, code: 1},
		{name: "approve -key (passphrase-protected, passphrase in SSH_ASKPASS's place)", env: envWith("SSH_ASKPASS", "/bin/echo "+passphrase, "OFFSETCTL_KEY_PASSPHRASE", passphrase), args: []string{"approve", "-key", lockedKey, planFile}, code: 1},
		{name: "approve -key (private key)", env: env, args: []string{"approve", "-key", openKey, planFile}, code: 0},
		{name: "approve -key -json (private key, again)", env: env, args: []string{"approve", "-json", "-key", openKey, planFile}, code: 0},
		{name: "approve -key (damaged private key)", env: env, args: []string{"approve", "-key", damagedKey, planFile}, code: 1},
		{name: "approve -key (a file that is no key)", env: env, args: []string{"approve", "-key", notAKey, planFile}, code: 1},
	}
	var output strings.Builder
	for _, s := range steps {
		if s.pre != nil {
			s.pre()
		}
		code, out, errOut := runCmd(t, s.env, s.stdin, s.args...)
		t.Logf("%s: exit %d, %d bytes of output", s.name, code, len(out)+len(errOut))
		if code != s.code {
			t.Errorf("%s: exit %d, want %d\n%s\n%s", s.name, code, s.code, out, errOut)
		}
		for what, secret := range secrets {
			for stream, text := range map[string]string{"stdout": out, "stderr": errOut} {
				if strings.Contains(text, secret) {
					t.Errorf("%s: the %s (%s) appears on %s:\n%s", s.name, what, secret, stream, text)
				}
			}
		}
		output.WriteString(out + errOut)
	}
	// Every file written, decoded or not.
	files := 0
	for _, root := range []string{work, dir} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			for what, secret := range secrets {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("the %s appears in %s", what, path)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"plan.json", "plan.json.approvals", "offsets-backup.json", "state/offsetctl.state.json", "state/offsetctl.state.json.backup"} {
		if _, err := os.Stat(filepath.Join(work, name)); err != nil {
			t.Errorf("the test is wrong: %s was not written: %v", name, err)
		}
	}
	if files < 5 || output.Len() == 0 {
		t.Fatalf("the test scanned %d files and %d bytes of output", files, output.Len())
	}
}

// newSSHKeyWithPassphrase makes an ed25519 key pair whose private key is
// protected by passphrase, with OpenSSH's ssh-keygen.
func newSSHKeyWithPassphrase(t *testing.T, dir, name, passphrase string) string {
	t.Helper()
	kg, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatal("OpenSSH's ssh-keygen is needed: apt-get install -y openssh-client")
	}
	p := filepath.Join(dir, name)
	if out, err := exec.Command(kg, "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	return p
}

// privateKeyBody is the base64 body of a PEM private key file, its lines
// joined.
func privateKeyBody(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			body.WriteString(l)
		}
	}
	if body.Len() < 100 {
		t.Fatalf("%s: no private key body", path)
	}
	return body.String()
}
