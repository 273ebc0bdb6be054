package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// plantedSecret is planted in Connect URLs, OFFSETCTL_CONNECT_PASSWORD,
// OFFSETCTL_CONNECT_TOKEN and headers: no output of any case may show it.
const plantedSecret = "s3cret"

// roCase is one run of a read-only command.
type roCase struct {
	name     string
	args     []string
	env      map[string]string
	wantCode int
	// wantErr are substrings of stderr.
	wantErr []string
	// golden compares the normalized stdout with testdata/<Test>/<case>/stdout.golden.
	golden bool
	// check, when set, inspects the outputs further.
	check func(t *testing.T, out, errOut string)
}

// roResult is what one run of offsetctl printed and returned.
type roResult struct {
	code        int
	out, errOut string
	panicked    any
}

// execute runs offsetctl in-process with env as its whole environment and
// catches a panic, which no input may cause.
func execute(env map[string]string, args []string) (r roResult) {
	s, _, o, e := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }}
	defer func() {
		r.out, r.errOut = o.String(), e.String()
		if p := recover(); p != nil {
			r.code, r.panicked = -1, p
		}
	}()
	r.code = run(context.Background(), deps, args)
	return r
}

// stackTrace matches what a Go stack trace or panic prints.
var stackTrace = regexp.MustCompile(`panic:|goroutine \d+|\.go:\d+`)

// runROCases runs the cases and checks each in a subtest; norm normalizes
// stdout before it is compared with a golden file. With concurrent, all
// cases run at once first (the unreachable ones spend seconds in the
// client's retries, and t.Parallel would run only GOMAXPROCS of them at a
// time); otherwise each runs in its subtest, in order.
func runROCases(t *testing.T, cases []roCase, norm func(string) string, concurrent bool) {
	t.Helper()
	results := make([]roResult, len(cases))
	if concurrent {
		var wg sync.WaitGroup
		for i, tc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = execute(tc.env, tc.args)
			}()
		}
		wg.Wait()
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := results[i]
			if !concurrent {
				r = execute(tc.env, tc.args)
			}
			code, out, errOut := r.code, r.out, r.errOut
			show := func() string {
				return fmt.Sprintf("offsetctl %s\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), out, errOut)
			}
			if r.panicked != nil {
				t.Fatalf("panic: %v\n%s", r.panicked, show())
			}
			if testing.Verbose() {
				t.Logf("exit %d, stderr:\n%s", code, errOut)
			}
			if strings.Contains(out+errOut, plantedSecret) {
				t.Errorf("the secret %q is in the output:\n%s", plantedSecret, show())
			}
			if stackTrace.MatchString(errOut) {
				t.Errorf("stderr holds a panic or stack trace:\n%s", show())
			}
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tc.wantCode, show())
			}
			if code == ExitError {
				if !strings.HasPrefix(errOut, "Error: ") {
					t.Errorf("stderr does not start with \"Error: \":\n%s", show())
				}
				if out != "" {
					t.Errorf("a failed command printed to stdout:\n%s", show())
				}
			}
			if code == ExitOK && len(tc.wantErr) == 0 && errOut != "" {
				t.Errorf("a successful command wrote to stderr:\n%s", show())
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, show())
				}
			}
			if tc.golden {
				if norm != nil {
					out = norm(out)
				}
				goldens.Assert(t, "stdout", []byte(out))
			}
			if tc.check != nil {
				tc.check(t, out, errOut)
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// answering starts an HTTP server that gives every request the same answer.
func answering(t *testing.T, status int, contentType, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// withSecret puts admin:s3cret@ into an http://host:port URL.
func withSecret(u string) string {
	return strings.Replace(u, "http://", "http://admin:"+plantedSecret+"@", 1)
}

// TestReadOnlyBadInput: every kind of bad input to the read-only commands
// (Connect unreachable or missing, refused credentials, a body that is not
// Connect's JSON, flag mistakes) is a clear error naming the place and the
// fix, exit code 1, nothing on stdout, no stack trace and no secret.
func TestReadOnlyBadInput(t *testing.T) {
	t.Parallel()
	closed := "http://" + closedPort(t)
	unauthJSON := answering(t, http.StatusUnauthorized, "application/json", `{"error_code":401,"message":"Unauthorized"}`)
	unauthHTML := answering(t, http.StatusUnauthorized, "text/html", "<html><head><title>401 Authorization Required</title></head>\n<body><center><h1>401 Authorization Required</h1></center><hr><center>nginx</center></body></html>\n")
	forbidden := answering(t, http.StatusForbidden, "application/json", `{"error_code":403,"message":"Forbidden"}`)
	notJSON := answering(t, http.StatusOK, "text/html", "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>")
	truncated := answering(t, http.StatusOK, "application/json", `{"version":"3.8.0","commit":"abc`)
	wrongShape := answering(t, http.StatusOK, "application/json", `["not","an","object"]`)
	serverError := answering(t, http.StatusInternalServerError, "application/json", `{"error_code":500,"message":"Request timed out"}`)
	notFoundPage := answering(t, http.StatusNotFound, "text/plain", "404 page not found")
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `{"version":"3.8.0","commit":"abc","kafka_cluster_id":"kc-1"}`)
		case "/connectors":
			fmt.Fprint(w, `{}`)
		}
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(func() { hanging.CloseClientConnections(); hanging.Close() })
	dir := t.TempDir()
	out := filepath.Join(dir, "backup.json")
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pw := map[string]string{"OFFSETCTL_CONNECT_PASSWORD": plantedSecret}
	token := map[string]string{"OFFSETCTL_CONNECT_TOKEN": plantedSecret}
	unreachable := []string{"kafka connect at " + closed + " is unreachable", "connection refused", "check --connect-url or OFFSETCTL_CONNECT_URL and that the worker is running"}
	refused := []string{"kafka connect refused authentication for GET / (401 Unauthorized)", "check the credentials: --connect-user with OFFSETCTL_CONNECT_PASSWORD"}
	notConnect := []string{"is not the expected JSON", "is --connect-url the Kafka Connect REST API?"}

	cases := []roCase{
		// No Connect URL at all.
		{name: "connectors_no_url", args: []string{"connectors"}, wantCode: ExitError,
			wantErr: []string{"Error: no Kafka Connect URL", "Set --connect-url or OFFSETCTL_CONNECT_URL"}},
		{name: "offsets_show_no_url", args: []string{"offsets", "show", "inventory"}, wantCode: ExitError,
			wantErr: []string{"Error: no Kafka Connect URL", "Set --connect-url or OFFSETCTL_CONNECT_URL"}},
		{name: "backup_no_url", args: []string{"offsets", "backup", "--all", "-o", out}, env: map[string]string{"OFFSETCTL_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, wantCode: ExitError,
			wantErr: []string{"Error: no Kafka Connect URL"}},
		{name: "backup_no_bootstrap", args: []string{"offsets", "backup", "--all", "-o", out, "--connect-url", withSecret(closed)}, wantCode: ExitError,
			wantErr: []string{"Error: no Kafka bootstrap servers", "Set --bootstrap-servers or OFFSETCTL_BOOTSTRAP_SERVERS"}},

		// Connect unreachable: a closed loopback port, the password in the URL or in the environment.
		{name: "connectors_unreachable_url_password", args: []string{"connectors", "--connect-url", withSecret(closed)}, wantCode: ExitError, wantErr: unreachable},
		{name: "connectors_unreachable_env_url", args: []string{"connectors"}, env: map[string]string{"OFFSETCTL_CONNECT_URL": withSecret(closed)}, wantCode: ExitError, wantErr: unreachable},
		{name: "offsets_show_unreachable_env_password", args: []string{"offsets", "show", "inventory", "--connect-url", closed, "--connect-user", "admin"}, env: pw, wantCode: ExitError, wantErr: unreachable},
		{name: "offsets_show_unreachable_token", args: []string{"offsets", "show", "inventory", "-json", "--connect-url", closed}, env: token, wantCode: ExitError, wantErr: unreachable},
		{name: "backup_unreachable", args: []string{"offsets", "backup", "--all", "-o", out, "--connect-url", withSecret(closed), "--bootstrap-servers", closedPort(t)}, wantCode: ExitError, wantErr: unreachable,
			check: noFile(out)},

		// 401 and 403, with Connect's JSON or a proxy's HTML.
		{name: "connectors_401_json_basic", args: []string{"connectors", "--connect-url", unauthJSON, "--connect-user", "admin"}, env: pw, wantCode: ExitError,
			wantErr: append(refused, ": Unauthorized;")},
		{name: "connectors_401_html_token", args: []string{"connectors", "--connect-url", unauthHTML}, env: token, wantCode: ExitError,
			wantErr: append(refused, "401 Authorization Required")},
		{name: "connectors_401_url_password", args: []string{"connectors", "--connect-url", withSecret(unauthJSON)}, wantCode: ExitError, wantErr: refused},
		{name: "connectors_401_header", args: []string{"connectors", "--connect-url", unauthJSON, "--connect-header", "X-Api-Key: " + plantedSecret}, wantCode: ExitError, wantErr: refused},
		{name: "offsets_show_401", args: []string{"offsets", "show", "inventory", "--connect-url", unauthHTML, "--connect-user", "admin"}, env: pw, wantCode: ExitError, wantErr: refused},
		{name: "connectors_403", args: []string{"connectors", "--connect-url", forbidden}, env: token, wantCode: ExitError,
			wantErr: []string{"kafka connect refused authentication for GET / (403 Forbidden): Forbidden", "check the credentials"}},

		// 2xx answers that are not Connect's JSON.
		{name: "connectors_html_200", args: []string{"connectors", "--connect-url", withSecret(notJSON)}, wantCode: ExitError,
			wantErr: append(notConnect, "kafka connect answered 200 to GET /", "Welcome to nginx!")},
		{name: "offsets_show_html_200", args: []string{"offsets", "show", "inventory", "--connect-url", notJSON}, env: token, wantCode: ExitError, wantErr: notConnect},
		{name: "connectors_truncated_json", args: []string{"connectors", "--connect-url", truncated}, wantCode: ExitError, wantErr: notConnect},
		{name: "connectors_json_array", args: []string{"connectors", "--connect-url", wrongShape}, wantCode: ExitError, wantErr: notConnect},
		{name: "backup_html_200", args: []string{"offsets", "backup", "--all", "-o", out, "--connect-url", withSecret(notJSON), "--bootstrap-servers", closedPort(t)}, wantCode: ExitError,
			wantErr: notConnect, check: noFile(out)},

		// Other error answers.
		{name: "connectors_500", args: []string{"connectors", "--connect-url", serverError}, wantCode: ExitError,
			wantErr: []string{"kafka connect answered 500 Internal Server Error to GET /: Request timed out"}},
		{name: "connectors_404_page", args: []string{"connectors", "--connect-url", withSecret(notFoundPage)}, wantCode: ExitError,
			wantErr: []string{"kafka connect answered 404 Not Found to GET /: 404 page not found"}},

		// Bad settings.
		{name: "url_bad_scheme", args: []string{"connectors", "--connect-url", "ftp://admin:" + plantedSecret + "@connect:8083"}, wantCode: ExitError,
			wantErr: []string{"invalid Kafka Connect URL", "the scheme must be http or https"}},
		{name: "url_unparsable", args: []string{"connectors", "--connect-url", "http://admin:" + plantedSecret + "@[::1"}, wantCode: ExitError,
			wantErr: []string{"invalid Kafka Connect URL"}},
		{name: "url_with_query", args: []string{"connectors", "--connect-url", withSecret(closed) + "/?a=b"}, wantCode: ExitError,
			wantErr: []string{"invalid Kafka Connect URL", "may not carry a query"}},
		{name: "token_and_password", args: []string{"connectors", "--connect-url", withSecret(closed)}, env: token, wantCode: ExitError,
			wantErr: []string{"both basic authentication (user/password) and a bearer token are set"}},
		{name: "password_without_user", args: []string{"connectors", "--connect-url", closed}, env: pw, wantCode: ExitError,
			wantErr: []string{"a Kafka Connect password is set without a user name"}},
		{name: "bad_header", args: []string{"connectors", "--connect-url", closed, "--connect-header", plantedSecret}, wantCode: ExitError,
			wantErr: []string{"--connect-header number 1: expected 'Name: value'"}},
		{name: "missing_ca_file", args: []string{"connectors", "--connect-url", closed, "--connect-ca-file", filepath.Join(dir, "nope.pem")}, wantCode: ExitError,
			wantErr: []string{"reading the Kafka Connect CA file", "nope.pem"}},
		{name: "url_bad_port", args: []string{"connectors", "--connect-url", withSecret(closed) + "x"}, wantCode: ExitError,
			wantErr: []string{"invalid Kafka Connect URL", "invalid port"}},
		{name: "tls_unknown_authority", args: []string{"connectors", "--connect-url", strings.Replace(withSecret(strings.Replace(tlsSrv.URL, "https", "http", 1)), "http://", "https://", 1)}, wantCode: ExitError,
			wantErr: []string{"GET / at kafka connect " + tlsSrv.URL + " failed", "the server certificate was not trusted: check --connect-ca-file"}},
		{name: "tls_ca_not_pem", args: []string{"connectors", "--connect-url", tlsSrv.URL, "--connect-ca-file", notPEM}, wantCode: ExitError,
			wantErr: []string{"the Kafka Connect CA file " + notPEM + " holds no PEM certificate"}},
		{name: "tls_cert_without_key", args: []string{"connectors", "--connect-url", tlsSrv.URL, "--connect-cert-file", notPEM}, wantCode: ExitError,
			wantErr: []string{"a Kafka Connect client certificate needs both a certificate file and a key file"}},
		{name: "tls_insecure_skip_verify", args: []string{"connectors", "--connect-url", tlsSrv.URL, "--connect-insecure-skip-verify", "--connect-user", "admin"}, env: pw,
			check: containsAll("Kafka Connect 3.8.0 at "+tlsSrv.URL+" (Kafka cluster kc-1)", "No connectors.")},
		{name: "request_timeout", args: []string{"connectors", "--connect-url", withSecret(hanging.URL), "--timeout", "300ms"}, wantCode: ExitError,
			wantErr: []string{"GET / at kafka connect " + hanging.URL + " failed", "the request timed out"}},
		{name: "timeout_zero", args: []string{"connectors", "--timeout", "0s", "--connect-url", closed}, wantCode: ExitError,
			wantErr: []string{"--timeout must be positive"}},
		{name: "check_lock_timeout_zero", args: []string{"check", "--lock-timeout", "0s"}, wantCode: ExitError,
			wantErr: []string{"--statement-timeout and --lock-timeout must be positive"}},

		// Flag and argument mistakes: the usage follows the error.
		{name: "bad_flag", args: []string{"connectors", "--nope"}, wantCode: ExitError, wantErr: []string{"Error: unknown flag: --nope", "Usage:\n  offsetctl connectors"}},
		{name: "bad_flag_single_dash", args: []string{"offsets", "show", "x", "-nope"}, wantCode: ExitError, wantErr: []string{"Error: unknown shorthand flag", "Usage:\n  offsetctl offsets show"}},
		{name: "flag_needs_argument", args: []string{"connectors", "--connect-url"}, wantCode: ExitError, wantErr: []string{"flag needs an argument: --connect-url"}},
		{name: "bad_timeout", args: []string{"connectors", "--timeout", "soon"}, wantCode: ExitError, wantErr: []string{`invalid argument "soon" for "--timeout"`}},
		{name: "connectors_extra_argument", args: []string{"connectors", "inventory"}, wantCode: ExitError, wantErr: []string{`unknown command "inventory" for "offsetctl connectors"`}},
		{name: "offsets_show_no_connector", args: []string{"offsets", "show"}, wantCode: ExitError, wantErr: []string{"requires at least 1 arg(s)", "Usage:\n  offsetctl offsets show"}},
		{name: "offsets_unknown_subcommand", args: []string{"offsets", "shwo", "inventory"}, wantCode: ExitError, wantErr: []string{`unknown command "shwo" for "offsetctl offsets"`}},
		{name: "unknown_command", args: []string{"conectors"}, wantCode: ExitError, wantErr: []string{`unknown command "conectors" for "offsetctl"`, "Did you mean this?\n\tconnectors"}},
		{name: "version_extra_argument", args: []string{"version", "now"}, wantCode: ExitError, wantErr: []string{`unknown command "now" for "offsetctl version"`}},
		{name: "backup_without_output", args: []string{"offsets", "backup", "--all"}, wantCode: ExitError, wantErr: []string{"-o FILE is required", "Usage:\n  offsetctl offsets backup"}},
		{name: "backup_names_and_all", args: []string{"offsets", "backup", "inventory", "--all", "-o", out}, wantCode: ExitError,
			wantErr: []string{"name the connectors to back up, or give --all (not both)"}, check: noFile(out)},
		{name: "backup_neither_names_nor_all", args: []string{"offsets", "backup", "-o", out}, wantCode: ExitError,
			wantErr: []string{"name the connectors to back up, or give --all"}, check: noFile(out)},
	}
	runROCases(t, cases, nil, true)
}

// noFile checks that path was not created.
func noFile(path string) func(t *testing.T, out, errOut string) {
	return func(t *testing.T, out, errOut string) {
		t.Helper()
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("%s was created by a command that failed", path)
		}
	}
}

// TestReadOnlyVersion: version prints offsetctl's version, as text or JSON.
func TestReadOnlyVersion(t *testing.T) {
	runROCases(t, []roCase{
		{name: "text", args: []string{"version"}, check: func(t *testing.T, out, errOut string) {
			if !strings.HasPrefix(out, "offsetctl "+Version+" (go") || errOut != "" {
				t.Errorf("version prints %q, stderr %q", out, errOut)
			}
		}},
		{name: "json", args: []string{"version", "-json"}, check: func(t *testing.T, out, errOut string) {
			var v struct {
				FormatVersion    int    `json:"format_version"`
				OffsetctlVersion string `json:"offsetctl_version"`
			}
			if err := json.Unmarshal([]byte(out), &v); err != nil || v.FormatVersion != 1 || v.OffsetctlVersion != Version {
				t.Errorf("version -json prints %q (%v)", out, err)
			}
		}},
	}, nil, false)
}

// showFixturePlan is a small saved plan: one sink rewind with its rollback.
func showFixturePlan() *plan.Plan {
	return &plan.Plan{
		OffsetctlVersion: "0.1.0-test",
		CreatedAt:        time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC),
		ConfigHash:       "sha256:cfg",
		State:            plan.StateRef{Lineage: "3f1c", Serial: 4},
		Connectors: []plan.ConnectorObservation{{
			Address: "connector.sink", Name: "customers-sink", Cluster: "prod", ConnectURL: "http://connect:8083",
			WorkerVersion: "3.8.0", ClusterID: "kc-1", Exists: true, Type: plan.Sink, Class: sandbox.JdbcSinkClass,
			State: "RUNNING", TaskStates: []string{"RUNNING"}, ConfigHash: "sha256:c1", ReadVia: plan.MethodREST, WriteVia: plan.MethodREST,
			Group: "connect-customers-sink", Sink: []plan.SinkPartition{{Topic: "shop.public.customers", Partition: 0, Committed: 20, LogStart: 0, LogEnd: 20}},
		}},
		Operations: []plan.Operation{{
			Address: "offsets.replay", Name: "replay", Kind: plan.KindOffsets, Connector: "connector.sink", Reason: "INC-4711: the SMT dropped records",
			BlockHash: "sha256:b1", Status: plan.StatusChange, Method: plan.MethodREST, AllowSkipRecords: -1,
			Changes: []plan.Change{{Action: plan.ActionUpdate, Sink: &plan.SinkChange{Topic: "shop.public.customers", Partition: 0, Before: 20, After: 15, Rollback: 20, LogStart: 0, LogEnd: 20, Replays: 5}}},
		}},
		Checks: []plan.Check{{Severity: plan.SeverityWarning, Code: "replay", Operation: "offsets.replay", Message: "5 records are delivered again: the sink must be idempotent"}},
	}
}

// TestReadOnlyShow: show renders a saved plan (goldens for text, JSON and
// Markdown) and refuses a missing, damaged, edited or future-format file.
func TestReadOnlyShow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "plan.json")
	if err := plan.WriteFile(good, showFixturePlan()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	planVersion := fmt.Sprintf(`"format_version": %d`, plan.FormatVersion)
	variant := func(name string, edit func(string) string) string {
		t.Helper()
		s := edit(string(data))
		if s == string(data) {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tampered := variant("tampered.json", func(s string) string { return strings.Replace(s, `"after": 15`, `"after": 0`, 1) })
	future := variant("future.json", func(s string) string {
		return strings.Replace(s, planVersion, `"format_version": 99`, 1)
	})
	noVersion := variant("noversion.json", func(s string) string { return strings.Replace(s, planVersion+",", ``, 1) })
	unknownField := variant("unknownfield.json", func(s string) string {
		return strings.Replace(s, planVersion+",", planVersion+`, "surprise": true,`, 1)
	})
	truncated := variant("truncated.json", func(s string) string { return s[:len(s)/2] })
	notJSON := variant("notjson.json", func(string) string { return "offsets \"x\" {\n}\n" })
	norm := func(s string) string { return strings.ReplaceAll(s, dir, "DIR") }

	runROCases(t, []roCase{
		{name: "text", args: []string{"show", good}, golden: true},
		{name: "text_no_color", args: []string{"show", "--no-color", good}, check: func(t *testing.T, out, errOut string) {
			if strings.Contains(out, "\x1b[") {
				t.Errorf("--no-color output has escape sequences:\n%q", out)
			}
		}},
		{name: "json", args: []string{"show", "-json", good}, golden: true, check: func(t *testing.T, out, errOut string) {
			if !json.Valid([]byte(out)) {
				t.Errorf("show -json is not JSON:\n%s", out)
			}
		}},
		{name: "markdown", args: []string{"show", "-markdown", good}, golden: true},
		{name: "missing_file", args: []string{"show", filepath.Join(dir, "nope.json")}, wantCode: ExitError,
			wantErr: []string{"Error: reading plan file: open " + filepath.Join(dir, "nope.json") + ": no such file or directory"}},
		{name: "directory", args: []string{"show", dir}, wantCode: ExitError, wantErr: []string{dir}},
		{name: "tampered", args: []string{"show", tampered}, wantCode: ExitError,
			wantErr: []string{tampered + ": the plan file was modified after it was written", "make a new plan with offsetctl plan -out"}},
		{name: "future_format", args: []string{"show", future}, wantCode: ExitError,
			wantErr: []string{future + " has plan format_version 99 (written by offsetctl 0.1.0-test); this offsetctl reads format_version " + fmt.Sprint(plan.FormatVersion)}},
		{name: "no_format_version", args: []string{"show", noVersion}, wantCode: ExitError,
			wantErr: []string{noVersion + " is not an offsetctl plan file: it has no format_version"}},
		{name: "unknown_field", args: []string{"show", unknownField}, wantCode: ExitError,
			wantErr: []string{unknownField + " is not a valid plan file of format_version " + fmt.Sprint(plan.FormatVersion), "surprise"}},
		{name: "truncated", args: []string{"show", truncated}, wantCode: ExitError,
			wantErr: []string{truncated + " is not a valid plan file", "make a new one with offsetctl plan -out"}},
		{name: "not_json", args: []string{"show", notJSON}, wantCode: ExitError,
			wantErr: []string{notJSON + " is not a valid plan file (not JSON"}},
		{name: "json_and_markdown", args: []string{"show", "-json", "-markdown", good}, wantCode: ExitError,
			wantErr: []string{"-json and -markdown cannot be combined", "Usage:"}},
		{name: "no_file", args: []string{"show"}, wantCode: ExitError, wantErr: []string{"accepts 1 arg(s), received 0"}},
		{name: "two_files", args: []string{"show", good, good}, wantCode: ExitError, wantErr: []string{"accepts 1 arg(s), received 2"}},
	}, norm, false)

	after, err := os.ReadFile(good)
	if err != nil || !bytes.Equal(after, data) {
		t.Fatalf("show changed the plan file (%v)", err)
	}
}

// sandboxNormalizer replaces what differs from run to run in the output of
// commands run against a sandbox: its URLs and ports, the Kafka cluster id,
// the temporary directory, and, in the text block of the live pipeline's
// source only, its position (LSNs, transaction id, commit time), which
// follows PostgreSQL's WAL.
type sandboxNormalizer struct {
	pairs []string
	// live is the name of the connector whose block gets the rules.
	live  string
	rules []struct {
		re   *regexp.Regexp
		repl string
	}
}

func newSandboxNormalizer(sb *sandbox.Sandbox, dir string) *sandboxNormalizer {
	n := &sandboxNormalizer{}
	n.replace(sb.ConnectURL(), "http://CONNECT")
	n.replace(strings.TrimPrefix(sb.ConnectURL(), "http://"), "CONNECT-WORKER")
	for _, s := range sb.BootstrapServers() {
		n.replace(s, "KAFKA")
	}
	n.replace(sb.ClusterID(), "CLUSTER-ID")
	if dir != "" {
		n.replace(dir, "DIR")
	}
	return n
}

func (n *sandboxNormalizer) replace(old, new string) { n.pairs = append(n.pairs, old, new) }

// liveSource sets the rules for the text block of a running Debezium
// PostgreSQL source: offsets show prints one block per connector, blocks
// separated by an empty line, each starting with the connector's name.
func (n *sandboxNormalizer) liveSource(name string) {
	n.live = name
	for _, r := range [][2]string{
		{`(lsn(?:_proc|_commit)?\s+)[0-9A-F]+/[0-9A-F]+ \([\d,]+\)`, "${1}X/Y (N)"},
		{`(txId\s+)\d+`, "${1}N"},
		{`(ts_usec\s+).*`, "${1}TIME"},
	} {
		n.rules = append(n.rules, struct {
			re   *regexp.Regexp
			repl string
		}{regexp.MustCompile(r[0]), r[1]})
	}
}

func (n *sandboxNormalizer) apply(s string) string {
	s = strings.NewReplacer(n.pairs...).Replace(s)
	if n.live == "" {
		return s
	}
	blocks := strings.Split(s, "\n\n")
	for i, b := range blocks {
		if strings.HasPrefix(b, n.live+" ") {
			for _, r := range n.rules {
				b = r.re.ReplaceAllString(b, r.repl)
			}
			blocks[i] = b
		}
	}
	return strings.Join(blocks, "\n\n")
}

// createConnector creates a connector over the sandbox's REST API.
func createConnector(t *testing.T, c *connect.Client, name string, state connect.State, cfg map[string]string) {
	t.Helper()
	cfg["name"] = name
	if _, err := c.Create(context.Background(), connect.CreateRequest{Name: name, Config: cfg, InitialState: state}); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
}

// patchOffsets sends body as is to PATCH /connectors/{name}/offsets, so that
// the numbers in it reach the worker exactly as written.
func patchOffsets(t *testing.T, connectURL, name, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, connectURL+"/connectors/"+name+"/offsets", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer bytes.Buffer
	_, _ = answer.ReadFrom(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PATCH offsets of %s: %d %s", name, res.StatusCode, answer.String())
	}
}

// maxLong is Java's Long.MAX_VALUE: it does not survive a float64.
const maxLong = "9223372036854775807"

// bigOffset is a Debezium PostgreSQL offset at the largest LSN Connect can store.
const bigOffset = `{"offsets":[{"partition":{"server":"big"},"offset":{"lsn_proc":` + maxLong + `,"lsn":` + maxLong + `,"txId":4294967295,"ts_usec":1795000000000000}}]}`

// postgresSourceConfig is the configuration of a Debezium PostgreSQL source
// the sandbox accepts (it is created STOPPED, so nothing connects).
func postgresSourceConfig(prefix string) map[string]string {
	return map[string]string{"connector.class": sandbox.PostgresSourceClass, "topic.prefix": prefix,
		"database.hostname": "db.invalid", "database.user": "cdc", "database.dbname": "shop", "tasks.max": "1"}
}

// waitForSourceOffset waits until the pipeline's source has committed the
// position of the last change it emitted, so that nothing the commands read
// changes under them.
func waitForSourceOffset(t *testing.T, c *connect.Client, p *sandbox.Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		got, err := c.Offsets(ctx, p.SourceConnector())
		if err != nil {
			t.Fatal(err)
		}
		pos, running := p.SourcePosition()
		if len(got.Offsets) == 1 && running {
			if off, err := offsets.ParseMap(got.Offsets[0].Offset); err == nil {
				v, _ := off.Get("lsn")
				if n, ok := v.Int64Lenient(); ok && n == pos {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the source %s did not commit its position %d: %+v", p.SourceConnector(), pos, got)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestReadOnlySandbox runs the read-only commands against a sandbox with the
// demo pipeline (5 rows through) and a STOPPED source whose stored LSN is
// Long.MAX_VALUE: goldens of connectors and offsets show, the exact 64-bit
// value in -json, an unknown connector, backup with its round trip, and a
// backup file that already exists. The password is in the Connect URL of
// every case.
func TestReadOnlySandbox(t *testing.T) {
	w := startWorld(t, "3.8", 5)
	c, err := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	createConnector(t, c, "big-source", connect.StateStopped, postgresSourceConfig("big"))
	patchOffsets(t, w.sb.ConnectURL(), "big-source", bigOffset)
	waitForSourceOffset(t, c, w.pipe)

	dir := t.TempDir()
	n := newSandboxNormalizer(w.sb, dir)
	n.liveSource(w.pipe.SourceConnector())

	url := withSecret(w.sb.ConnectURL())
	kafka := w.sb.BootstrapServers()[0]
	src, sink := w.pipe.SourceConnector(), w.pipe.SinkConnector()
	backup := filepath.Join(dir, "offsets.json")
	existing := filepath.Join(dir, "existing.json")
	precious := []byte("{\"precious\": true}\n")
	if err := os.WriteFile(existing, precious, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "never.json")
	dangling := filepath.Join(dir, "link.json")
	if err := os.Symlink(filepath.Join(dir, "target.json"), dangling); err != nil {
		t.Fatal(err)
	}

	runROCases(t, []roCase{
		{name: "connectors", args: []string{"connectors", "--connect-url", url}, golden: true},
		{name: "connectors_json", args: []string{"connectors", "-json"}, env: map[string]string{"OFFSETCTL_CONNECT_URL": url}, golden: true},
		{name: "offsets_show_rest", args: []string{"offsets", "show", src, sink, "big-source", "--connect-url", url}, golden: true},
		{name: "offsets_show_kafka", args: []string{"offsets", "show", src, sink, "big-source", "--connect-url", url, "--bootstrap-servers", kafka}, golden: true},
		{name: "offsets_show_json_exact", args: []string{"offsets", "show", "big-source", "-json", "--connect-url", url}, golden: true,
			check: containsAll(`"lsn_proc": `+maxLong+`,`, `"lsn": `+maxLong+`,`, `"txId": 4294967295`)},
		{name: "offsets_show_kafka_json_exact", args: []string{"offsets", "show", "big-source", "-json", "--connect-url", url, "--bootstrap-servers", kafka},
			check: containsAll(`"lsn_proc": `+maxLong+`,`, `"lsn": `+maxLong+`,`, `"key": "[\"big-source\",{\"server\":\"big\"}]"`)},
		{name: "offsets_show_format_override", args: []string{"offsets", "show", "big-source", "--format", "generic", "--connect-url", url}, golden: true},
		{name: "offsets_show_unknown_format", args: []string{"offsets", "show", "big-source", "--format", "cobol", "--connect-url", url}, wantCode: ExitError,
			wantErr: []string{"cobol"}},
		{name: "offsets_show_unknown_connector", args: []string{"offsets", "show", src, "nope", "--connect-url", url}, wantCode: ExitError,
			wantErr: []string{`Error: connector "nope" does not exist on ` + w.sb.ConnectURL(), "offsetctl connectors lists the connectors there."}},
		{name: "offsets_show_misspelt_connector", args: []string{"offsets", "show", "bgi-source", "--connect-url", url}, wantCode: ExitError,
			wantErr: []string{`Error: connector "bgi-source" does not exist on ` + w.sb.ConnectURL() + `. Did you mean "big-source"?`}},
		{name: "backup_misspelt_connector", args: []string{"offsets", "backup", "bgi-source", "-o", missing, "--connect-url", url, "--bootstrap-servers", kafka}, wantCode: ExitError,
			wantErr: []string{`Did you mean "big-source"?`}, check: noFile(missing)},
		{name: "backup_unknown_connector", args: []string{"offsets", "backup", src, "nope", "-o", missing, "--connect-url", url, "--bootstrap-servers", kafka}, wantCode: ExitError,
			wantErr: []string{`Error: connector "nope" does not exist on ` + w.sb.ConnectURL()}, check: noFile(missing)},
		{name: "backup_existing_file", args: []string{"offsets", "backup", "--all", "-o", existing, "--connect-url", url, "--bootstrap-servers", kafka}, wantCode: ExitError,
			wantErr: []string{"Error: " + existing + " already exists: backups are never overwritten; choose another name"},
			check: func(t *testing.T, out, errOut string) {
				got, err := os.ReadFile(existing)
				if err != nil || !bytes.Equal(got, precious) {
					t.Errorf("the existing file changed: %q (%v)", got, err)
				}
				if fi, err := os.Stat(existing); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("the existing file's mode changed: %v (%v)", fi.Mode(), err)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".existing.json*")); len(left) > 0 {
					t.Errorf("temporary files left behind: %v", left)
				}
			}},
		{name: "backup_missing_directory", args: []string{"offsets", "backup", "--all", "-o", filepath.Join(dir, "no", "such", "dir.json"), "--connect-url", url, "--bootstrap-servers", kafka}, wantCode: ExitError,
			wantErr: []string{"Error: cannot create " + filepath.Join(dir, "no", "such", "dir.json") + ": stat " + filepath.Join(dir, "no", "such") + ": no such file or directory; create the directory or choose another path"}},
		{name: "backup_directory_is_a_file", args: []string{"offsets", "backup", "--all", "-o", filepath.Join(existing, "dir.json"), "--connect-url", url, "--bootstrap-servers", kafka}, wantCode: ExitError,
			wantErr: []string{"Error: checking " + filepath.Join(existing, "dir.json") + ": ", "not a directory"}},
		{name: "backup_dangling_symlink", args: []string{"offsets", "backup", "--all", "-o", dangling, "--connect-url", url, "--bootstrap-servers", kafka}, wantCode: ExitError,
			wantErr: []string{dangling + " already exists: backups are never overwritten"},
			check: func(t *testing.T, out, errOut string) {
				if _, err := os.Stat(filepath.Join(dir, "target.json")); err == nil {
					t.Error("the backup was written through a symbolic link")
				}
			}},
		{name: "backup_repeated_name", args: []string{"offsets", "backup", "big-source", "big-source", "-o", filepath.Join(dir, "repeated.json"), "--connect-url", url, "--bootstrap-servers", kafka},
			golden: true},
		{name: "offsets_show_repeated_name", args: []string{"offsets", "show", "big-source", "big-source", "--connect-url", url},
			check: func(t *testing.T, out, errOut string) {
				if n := strings.Count(out, "big-source (source"); n != 1 {
					t.Errorf("big-source shown %d times:\n%s", n, out)
				}
			}},
		{name: "backup_all", args: []string{"offsets", "backup", "--all", "-o", backup, "--connect-url", url, "--bootstrap-servers", kafka}, golden: true,
			check: func(t *testing.T, out, errOut string) { checkBackup(t, w, backup) }},
		{name: "backup_again_refused", args: []string{"offsets", "backup", "--all", "-o", backup, "--connect-url", url, "--bootstrap-servers", kafka}, wantCode: ExitError,
			wantErr: []string{backup + " already exists"}},
		{name: "backup_named_json", args: []string{"offsets", "backup", "big-source", "-o", filepath.Join(dir, "big.json"), "-json"},
			env: map[string]string{"OFFSETCTL_CONNECT_URL": url, "OFFSETCTL_BOOTSTRAP_SERVERS": kafka}, golden: true},
	}, n.apply, false)
}

func containsAll(wants ...string) func(t *testing.T, out, errOut string) {
	return func(t *testing.T, out, errOut string) {
		t.Helper()
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %s:\n%s", want, out)
			}
		}
	}
}

// checkBackup reads the backup back and compares it with the offsets topic
// and the sink group: key bytes, exact offsets, committed positions.
func checkBackup(t *testing.T, w *world, path string) {
	t.Helper()
	b, err := offsets.ReadBackup(path)
	if err != nil {
		t.Fatalf("ReadBackup: %v", err)
	}
	if data, err := os.ReadFile(path); err != nil || bytes.Contains(data, []byte(plantedSecret)) {
		t.Errorf("the backup file holds the secret (%v)", err)
	}
	if b.OffsetctlVersion != Version || b.OffsetsTopic != w.sb.OffsetsTopic() || b.ConnectClusterID != w.sb.ClusterID() ||
		!b.TakenAt.Equal(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("backup header: version %q topic %q cluster %q taken %v", b.OffsetctlVersion, b.OffsetsTopic, b.ConnectClusterID, b.TakenAt)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	snap, err := offsets.ReadTopic(context.Background(), cl, w.sb.OffsetsTopic())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]offsets.BackupConnector{}
	for _, bc := range b.Connectors {
		byName[bc.Name] = bc
	}
	if len(byName) != 3 {
		t.Fatalf("backup holds %d connectors, want 3: %+v", len(byName), b.Connectors)
	}
	for _, name := range []string{"big-source", w.pipe.SourceConnector()} {
		bc := byName[name]
		recs := snap.Connector(name)
		if bc.Type != offsets.ConnectorTypeSource || len(bc.Source) != len(recs) || len(recs) != 1 {
			t.Fatalf("%s: backup %+v, topic %+v", name, bc, recs)
		}
		got, want := bc.Source[0], recs[0]
		if !bytes.Equal(got.Key, want.Key) || got.Offset == nil || got.Offset.String() != want.Offset.String() ||
			got.TopicPartition != want.TopicPartition || got.TopicOffset != want.TopicOffset {
			t.Errorf("%s: backed up %s %v at %d/%d, topic holds %s %v at %d/%d", name, got.Key, got.Offset, got.TopicPartition, got.TopicOffset,
				want.Key, want.Offset, want.TopicPartition, want.TopicOffset)
		}
	}
	if got := byName["big-source"].Source[0].Offset.String(); !strings.Contains(got, `"lsn":`+maxLong) {
		t.Errorf("big-source offset lost its 64-bit LSN: %s", got)
	}
	sink := byName[w.pipe.SinkConnector()]
	if sink.Type != offsets.ConnectorTypeSink || sink.Group != w.pipe.SinkGroup() || len(sink.Sink) != 1 ||
		sink.Sink[0].Topic != w.pipe.Topic() || sink.Sink[0].Committed != 5 || sink.Sink[0].LogEnd != 5 {
		t.Errorf("sink backup: %+v", sink)
	}
}

// startBareSandbox starts a sandbox without the pipeline (no PostgreSQL)
// and returns it with a REST client for it.
func startBareSandbox(t *testing.T, version string) (*sandbox.Sandbox, *connect.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{ConnectVersion: version})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(sb.Close)
	c, err := connect.New(connect.Config{URL: sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	return sb, c
}

// produceRaw writes records to the given partitions of topic, bytes as they are.
func produceRaw(t *testing.T, sb *sandbox.Sandbox, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res := cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// createTopic creates a topic on the sandbox's Kafka.
func createTopic(t *testing.T, sb *sandbox.Sandbox, name string, partitions int32) {
	t.Helper()
	if err := sb.Kafka().CreateTopic(name, partitions, nil); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyMalformedOffsets plants records in the offsets topic that are
// not Connect offset records (a key that is not JSON, a value that is not an
// object, a key whose partition is not flat) next to a valid one: offsets
// show and backup warn on stderr with the topic partition and offset of each,
// and still show and back up the valid record, exactly.
func TestReadOnlyMalformedOffsets(t *testing.T) {
	sb, c := startBareSandbox(t, "3.8")
	createTopic(t, sb, "orders", 2)
	createConnector(t, c, "orders-source", connect.StateStopped, map[string]string{"connector.class": "io.debezium.connector.mysql.MySqlConnector"})
	createConnector(t, c, "orders-sink", connect.StateStopped, map[string]string{"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "orders"})
	patchOffsets(t, sb.ConnectURL(), "orders-source", `{"offsets":[{"partition":{"server":"mysql1"},"offset":{"file":"mysql-bin.000003","pos":154,"gtids":"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-77"}}]}`)
	patchOffsets(t, sb.ConnectURL(), "orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":0}}]}`)
	topic := sb.OffsetsTopic()
	arrayKey := offsets.EncodeKey("orders-source", offsets.NewMap(offsets.Field{Key: "server", Value: offsets.String("mysql2")}))
	bad := produceRaw(t, sb,
		&kgo.Record{Topic: topic, Partition: 3, Key: []byte("not json at all"), Value: []byte(`{"pos":1}`)},
		&kgo.Record{Topic: topic, Partition: 7, Key: arrayKey, Value: []byte(`[1,2,3]`)},
		&kgo.Record{Topic: topic, Partition: 7, Key: []byte(`["orders-source",{"server":{"nested":true}}]`), Value: []byte(`{"pos":2}`)},
		&kgo.Record{Topic: topic, Partition: 11, Key: []byte(`["orders-source",{"server":"mysql3"}]`), Value: []byte(`{"pos":`)},
	)
	at := func(i int) string {
		return fmt.Sprintf("Warning: offsets topic connect-offsets: partition %d offset %d: ", bad[i].Partition, bad[i].Offset)
	}

	dir := t.TempDir()
	n := newSandboxNormalizer(sb, dir)
	url := withSecret(sb.ConnectURL())
	kafka := sb.BootstrapServers()[0]
	backup := filepath.Join(dir, "offsets.json")
	warnings := []string{
		at(0) + `key "not json at all": not a Kafka Connect offset key: not JSON`,
		at(1) + `value of key "[\"orders-source\",{\"server\":\"mysql2\"}]": not a Kafka Connect offset value: expected a JSON object, found an array`,
		at(2) + `key "[\"orders-source\",{\"server\":{\"nested\":true}}]": not a Kafka Connect offset key`,
		at(3) + `value of key "[\"orders-source\",{\"server\":\"mysql3\"}]": not a Kafka Connect offset value: not JSON`,
	}
	onlyWarnings := func(t *testing.T, out, errOut string) {
		t.Helper()
		for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
			if !strings.HasPrefix(line, "Warning: offsets topic connect-offsets: partition ") {
				t.Errorf("stderr line is not a warning with a topic partition: %q", line)
			}
		}
		if n := strings.Count(errOut, "Warning: "); n != 4 {
			t.Errorf("%d warnings, want 4:\n%s", n, errOut)
		}
	}
	runROCases(t, []roCase{
		{name: "offsets_show_kafka", args: []string{"offsets", "show", "orders-source", "orders-sink", "--connect-url", url, "--bootstrap-servers", kafka},
			wantErr: warnings, golden: true, check: onlyWarnings},
		{name: "offsets_show_kafka_json", args: []string{"offsets", "show", "orders-source", "-json", "--connect-url", url, "--bootstrap-servers", kafka},
			wantErr: warnings, golden: true, check: func(t *testing.T, out, errOut string) {
				onlyWarnings(t, out, errOut)
				if !json.Valid([]byte(out)) {
					t.Errorf("stdout is not JSON:\n%s", out)
				}
			}},
		// Connect's GET /offsets skips keys it cannot parse, as the worker does.
		{name: "offsets_show_rest", args: []string{"offsets", "show", "orders-source", "orders-sink", "--connect-url", url}, golden: true},
		{name: "backup", args: []string{"offsets", "backup", "--all", "-o", backup, "--connect-url", url, "--bootstrap-servers", kafka},
			wantErr: append([]string{"(not backed up: it is not a valid Connect offset record)"}, warnings...), golden: true,
			check: func(t *testing.T, out, errOut string) {
				onlyWarnings(t, out, errOut)
				b, err := offsets.ReadBackup(backup)
				if err != nil {
					t.Fatal(err)
				}
				var src offsets.BackupConnector
				for _, bc := range b.Connectors {
					if bc.Name == "orders-source" {
						src = bc
					}
				}
				if len(src.Source) != 1 || src.Source[0].Offset == nil ||
					src.Source[0].Offset.String() != `{"file":"mysql-bin.000003","pos":154,"gtids":"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-77"}` {
					t.Errorf("orders-source backup: %+v", src)
				}
			}},
	}, n.apply, false)
}

// TestReadOnlyOldWorker: a Kafka Connect 3.4 worker has no GET /offsets, so
// offsets show needs --bootstrap-servers and says so; with it, it reads the
// offsets topic (records written as Connect writes them) and the group.
func TestReadOnlyOldWorker(t *testing.T) {
	sb, c := startBareSandbox(t, "3.4")
	createTopic(t, sb, "orders", 1)
	createConnector(t, c, "orders-source", "", map[string]string{"connector.class": "io.debezium.connector.mysql.MySqlConnector"})
	createConnector(t, c, "orders-sink", "", map[string]string{"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "orders"})
	createConnector(t, c, "failing-source", "", map[string]string{"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector", "tasks.max": "2"})
	if err := sb.Faults().FailTask("failing-source", 1, "org.apache.kafka.connect.errors.ConnectException: column \"updated_at\" does not exist\n\tat io.confluent.connect.jdbc.source.JdbcSourceTask.poll(JdbcSourceTask.java:420)"); err != nil {
		t.Fatal(err)
	}
	key := offsets.EncodeKey("orders-source", offsets.NewMap(offsets.Field{Key: "server", Value: offsets.String("mysql1")}))
	produceRaw(t, sb, &kgo.Record{Topic: sb.OffsetsTopic(), Partition: offsets.PartitionForKey(key, sb.OffsetsPartitions()), Key: key,
		Value: []byte(`{"file":"mysql-bin.000007","pos":` + maxLong + `}`)})

	n := newSandboxNormalizer(sb, "")
	url := sb.ConnectURL()
	kafka := sb.BootstrapServers()[0]
	pw := map[string]string{"OFFSETCTL_CONNECT_PASSWORD": plantedSecret}
	noREST := []string{"Error: Kafka Connect 3.4.0 has no GET /offsets (3.5+)"}
	runROCases(t, []roCase{
		{name: "connectors", args: []string{"connectors", "--connect-url", url, "--connect-user", "admin"}, env: pw, golden: true},
		{name: "offsets_show_source_needs_kafka", args: []string{"offsets", "show", "orders-source", "--connect-url", url, "--connect-user", "admin"}, env: pw, wantCode: ExitError,
			wantErr: append(noREST, "Set --bootstrap-servers to read the offsets topic instead.")},
		{name: "offsets_show_sink_needs_kafka", args: []string{"offsets", "show", "orders-sink", "--connect-url", url}, wantCode: ExitError,
			wantErr: append(noREST, "Set --bootstrap-servers to read the consumer group instead.")},
		{name: "offsets_show_kafka", args: []string{"offsets", "show", "orders-source", "orders-sink", "--connect-url", url, "--connect-user", "admin"},
			env: map[string]string{"OFFSETCTL_CONNECT_PASSWORD": plantedSecret, "OFFSETCTL_BOOTSTRAP_SERVERS": kafka}, golden: true},
		{name: "offsets_show_kafka_json_exact", args: []string{"offsets", "show", "orders-source", "-json", "--connect-url", url, "--bootstrap-servers", kafka},
			check: containsAll(`"pos": ` + maxLong)},
		{name: "offsets_show_kafka_unreachable", args: []string{"offsets", "show", "orders-source", "--connect-url", url, "--bootstrap-servers", closedPort(t)}, wantCode: ExitError,
			wantErr: []string{"connection refused", "Check --bootstrap-servers (or OFFSETCTL_BOOTSTRAP_SERVERS): Kafka at 127.0.0.1:"}},
		{name: "offsets_show_wrong_topic", args: []string{"offsets", "show", "orders-source", "--connect-url", url, "--bootstrap-servers", kafka, "--offsets-topic", "connect-offsetz"}, wantCode: ExitError,
			wantErr: []string{`topic "connect-offsetz" does not exist: check --offsets-topic`}},
		{name: "backup_kafka_unreachable", args: []string{"offsets", "backup", "--all", "-o", filepath.Join(t.TempDir(), "b.json"), "--connect-url", url, "--bootstrap-servers", closedPort(t)}, wantCode: ExitError,
			wantErr: []string{"Check --bootstrap-servers (or OFFSETCTL_BOOTSTRAP_SERVERS)"}},
	}, n.apply, false)
}

// fakeConnect serves fixed answers by method and path (query ignored): a
// Kafka Connect, or something in front of it, that says wrong things on the
// wire. Paths it does not know get Connect's JSON 404.
func fakeConnect(t *testing.T, answers map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := answers[r.Method+" "+r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error_code":404,"message":"Connector %s not found"}`, strings.TrimPrefix(r.URL.Path, "/connectors/"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestReadOnlyConnectAnswers: answers of Kafka Connect that are well-formed
// HTTP but wrong inside (an unknown version, offsets that are not objects,
// a sink partition without its topic, a body that is not JSON on a later
// request, a connector of unknown type) are clear errors, never a panic.
func TestReadOnlyConnectAnswers(t *testing.T) {
	t.Parallel()
	root := `{"version":"3.8.0","commit":"abc","kafka_cluster_id":"kc-1"}`
	source := `{"name":"inventory","type":"source","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector"},"tasks":[]}`
	sink := `{"name":"orders-sink","type":"sink","config":{"connector.class":"io.debezium.connector.jdbc.JdbcSinkConnector","topics":"orders"},"tasks":[]}`
	status := func(name string) string {
		return `{"name":"` + name + `","connector":{"state":"STOPPED","worker_id":"w:8083"},"tasks":[],"type":"source"}`
	}
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{
			"GET /":                              root,
			"GET /connectors/inventory":          source,
			"GET /connectors/inventory/status":   status("inventory"),
			"GET /connectors/orders-sink":        sink,
			"GET /connectors/orders-sink/status": status("orders-sink"),
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	badVersion := fakeConnect(t, base(map[string]string{"GET /": `{"version":"banana","commit":"abc","kafka_cluster_id":"kc-1"}`, "GET /connectors": `{}`}))
	offsetString := fakeConnect(t, base(map[string]string{"GET /connectors/inventory/offsets": `{"offsets":[{"partition":{"server":"x"},"offset":"garbage"}]}`}))
	offsetNested := fakeConnect(t, base(map[string]string{"GET /connectors/inventory/offsets": `{"offsets":[{"partition":{"server":"x"},"offset":{"lsn":{"hi":1}}}]}`}))
	offsetsHTML := fakeConnect(t, base(map[string]string{"GET /connectors/inventory/offsets": `<html>maintenance</html>`}))
	sinkNoTopic := fakeConnect(t, base(map[string]string{"GET /connectors/orders-sink/offsets": `{"offsets":[{"partition":{"kafka_partition":0},"offset":{"kafka_offset":5}}]}`}))
	sinkBadOffset := fakeConnect(t, base(map[string]string{"GET /connectors/orders-sink/offsets": `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":{"kafka_offset":"five"}}]}`}))
	oddType := fakeConnect(t, base(map[string]string{"GET /connectors/inventory": `{"name":"inventory","type":"unknown","config":{},"tasks":[]}`}))
	listHTML := fakeConnect(t, base(map[string]string{"GET /connectors": `<html>maintenance</html>`}))

	runROCases(t, []roCase{
		{name: "connectors_bad_version", args: []string{"connectors", "--connect-url", withSecret(badVersion)}, golden: true},
		{name: "offsets_show_bad_version", args: []string{"offsets", "show", "inventory", "--connect-url", withSecret(badVersion)}, wantCode: ExitError,
			wantErr: []string{"Error: kafka connect at " + badVersion + `: unrecognised Kafka Connect version "banana"`}},
		{name: "source_offset_not_object", args: []string{"offsets", "show", "inventory", "--connect-url", offsetString}, wantCode: ExitError,
			wantErr: []string{`Error: reading the offsets of "inventory": offset from Kafka Connect`}},
		{name: "source_offset_nested", args: []string{"offsets", "show", "inventory", "--connect-url", offsetNested}, wantCode: ExitError,
			wantErr: []string{`Error: reading the offsets of "inventory": offset from Kafka Connect`, "primitive"}},
		{name: "offsets_not_json", args: []string{"offsets", "show", "inventory", "--connect-url", withSecret(offsetsHTML)}, wantCode: ExitError,
			wantErr: []string{"GET /connectors/inventory/offsets", "is not the expected JSON", "maintenance"}},
		{name: "sink_partition_without_topic", args: []string{"offsets", "show", "orders-sink", "--connect-url", sinkNoTopic}, wantCode: ExitError,
			wantErr: []string{`Error: reading the offsets of "orders-sink": unexpected sink partition {"kafka_partition":0} from Kafka Connect`}},
		{name: "sink_offset_not_number", args: []string{"offsets", "show", "orders-sink", "--connect-url", sinkBadOffset}, wantCode: ExitError,
			wantErr: []string{`Error: reading the offsets of "orders-sink": unexpected sink offset {"kafka_offset":"five"} from Kafka Connect`}},
		{name: "unknown_type", args: []string{"offsets", "show", "inventory", "--connect-url", oddType}, wantCode: ExitError,
			wantErr: []string{`Error: connector "inventory" has type "unknown": offsetctl shows source and sink connectors`}},
		{name: "connectors_list_not_json", args: []string{"connectors", "--connect-url", listHTML}, wantCode: ExitError,
			wantErr: []string{"Error: listing connectors with status and info: kafka connect answered 200 to GET /connectors?expand=", "is not the expected JSON"}},
		{name: "offsets_show_unknown_connector", args: []string{"offsets", "show", "nope", "--connect-url", withSecret(listHTML)}, wantCode: ExitError,
			wantErr: []string{`Error: connector "nope" does not exist on ` + listHTML, "offsetctl connectors lists the connectors there."}},
	}, func(s string) string {
		return strings.ReplaceAll(s, strings.TrimPrefix(badVersion, "http://"), "CONNECT")
	}, false)
}

// TestReadOnlyInterrupted: a command whose context ends (Ctrl-C) while it
// waits for Kafka Connect says so, exit code 1, without a stack trace.
func TestReadOnlyInterrupted(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: time.Now}
	code := run(ctx, deps, []string{"offsets", "show", "inventory", "--connect-url", withSecret(srv.URL)})
	if code != ExitError || out.Len() != 0 || errOut.String() != "Error: interrupted\n" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
