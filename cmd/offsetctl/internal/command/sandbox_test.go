package command

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/redact"
	"github.com/offsetctl/offsetctl/internal/sandbox"
)

// runSandboxUp runs `sandbox up` until ready, hands the sandbox to check,
// then interrupts it and returns what it printed.
func runSandboxUp(t *testing.T, o *sandboxUpOptions, check func(*sandbox.Sandbox)) (string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	o.deps = &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: time.Now}
	if o.g == nil {
		o.g = &globalOptions{}
	}
	if o.connectAddr == "" {
		o.connectAddr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o.ready = func(sb *sandbox.Sandbox) {
		check(sb)
		cancel()
	}
	if err := sandboxUpRun(ctx, o); err != nil {
		t.Fatalf("sandbox up: %v\n%s", err, errOut)
	}
	return out.String(), errOut.String()
}

func getBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSandboxUpWithoutPipeline(t *testing.T) {
	var root string
	var url string
	out, errOut := runSandboxUp(t, &sandboxUpOptions{connectVersion: "3.5"}, func(sb *sandbox.Sandbox) {
		url = sb.ConnectURL()
		root = getBody(t, url+"/")
	})
	if !strings.Contains(root, `"version":"3.5.0"`) {
		t.Errorf("GET / = %s, want version 3.5.0", root)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "export OFFSETCTL_CONNECT_URL="+url ||
		!strings.HasPrefix(lines[1], "export OFFSETCTL_BOOTSTRAP_SERVERS=127.0.0.1:") ||
		lines[2] != "export OFFSETCTL_OFFSETS_TOPIC=connect-offsets" {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.Contains(errOut, "Kafka Connect 3.5.0 (emulated)") || !strings.Contains(errOut, "stopping the sandbox") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestSandboxUpRefusesUnknownVersion(t *testing.T) {
	s, _, _, _ := iostreams.Test()
	o := &sandboxUpOptions{deps: &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: time.Now}, g: &globalOptions{}, connectVersion: "2.8", connectAddr: "127.0.0.1:0"}
	err := sandboxUpRun(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "3.4, 3.5, 3.6, 3.7 and 3.8") {
		t.Fatalf("got %v, want a refusal naming the supported versions", err)
	}
}

func TestSandboxUpWithPipelineJSON(t *testing.T) {
	admin := pgtest.ServerURL(t)
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		for _, db := range []string{sandboxSourceDB, sandboxSinkDB} {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		}
	})
	var status string
	out, _ := runSandboxUp(t, &sandboxUpOptions{connectVersion: "3.8", pipeline: true, postgres: admin, g: &globalOptions{JSON: true}},
		func(sb *sandbox.Sandbox) {
			status = getBody(t, sb.ConnectURL()+"/connectors/customers-source/status")
		})
	var env views.SandboxEnv
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, out)
	}
	if env.FormatVersion != 1 || env.SourceConnector != "customers-source" || env.Topic != "shop.public.customers" ||
		!strings.HasSuffix(env.Env["SOURCE_DATABASE_URL"], "/"+sandboxSourceDB+"?sslmode=disable") ||
		!strings.HasSuffix(env.Env["SINK_DATABASE_URL"], "/"+sandboxSinkDB+"?sslmode=disable") {
		t.Errorf("JSON:\n%s", out)
	}
	if !strings.Contains(status, `"state":"RUNNING"`) {
		t.Errorf("source status: %s", status)
	}
}

func TestPasswordRemoval(t *testing.T) {
	if got := redact.WithoutPassword("postgres://u:secret@h:5432/db?sslmode=disable"); strings.Contains(got, "secret") || !strings.Contains(got, "u@h:5432/db") {
		t.Errorf("withoutPassword kept the secret or lost the rest: %s", got)
	}
}

func TestSandboxUpStartsAlive(t *testing.T) {
	admin := pgtest.ServerURL(t)
	dropSandboxDBs := func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		for _, db := range []string{sandboxSourceDB, sandboxSinkDB} {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		}
	}
	dropSandboxDBs()
	t.Cleanup(dropSandboxDBs)
	ctx := context.Background()
	var sinkAtReady, changesAfter, signalTables int
	var newID int64
	var signalCollection string
	_, errOut := runSandboxUp(t, &sandboxUpOptions{connectVersion: "3.8", pipeline: true, postgres: admin, rows: 40, rate: 50},
		func(sb *sandbox.Sandbox) {
			srcURL, err := ensureDatabase(ctx, admin, sandboxSourceDB)
			if err != nil {
				t.Fatal(err)
			}
			sinkURL, err := ensureDatabase(ctx, admin, sandboxSinkDB)
			if err != nil {
				t.Fatal(err)
			}
			src, sink := pgtest.Conn(t, srcURL), pgtest.Conn(t, sinkURL)
			// The seeded customers in the sink when ready, plus those the
			// trickle (started just before) has deleted on the source
			// since, counted after: the sink may already miss those.
			if err := sink.QueryRow(ctx, "SELECT count(*) FROM public.customers WHERE id <= 40").Scan(&sinkAtReady); err != nil {
				t.Fatal(err)
			}
			var deleted int
			if err := src.QueryRow(ctx, "SELECT count(*) FROM public."+sandbox.ChangeTable+" WHERE op = 'DELETE' AND (key->>'id')::int8 <= 40").Scan(&deleted); err != nil {
				t.Fatal(err)
			}
			sinkAtReady += deleted
			// A newcomer's first insert needs no id.
			if err := src.QueryRow(ctx, "INSERT INTO public.customers (email) VALUES ('me@example.com') RETURNING id").Scan(&newID); err != nil {
				t.Fatalf("an insert without an id: %v", err)
			}
			if err := src.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'debezium_signal' AND column_name IN ('id', 'type', 'data')").Scan(&signalTables); err != nil {
				t.Fatal(err)
			}
			var cfg map[string]string
			if err := json.Unmarshal([]byte(getBody(t, sb.ConnectURL()+"/connectors/customers-source/config")), &cfg); err != nil {
				t.Fatal(err)
			}
			signalCollection = cfg["signal.data.collection"]
			// The trickle goes on: the change table grows past the seed.
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				if err := src.QueryRow(ctx, "SELECT count(*) FROM public."+sandbox.ChangeTable).Scan(&changesAfter); err != nil {
					t.Fatal(err)
				}
				if changesAfter > 40+1+5 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	if sinkAtReady < 40 { // more: deletes counted on the source not yet in the sink
		t.Errorf("seeded customers in the sink when ready, with those deleted since = %d, want at least the 40 seeded", sinkAtReady)
	}
	if newID <= 40 {
		t.Errorf("insert without an id got id %d, want one past the seeded 40", newID)
	}
	if signalTables != 3 {
		t.Errorf("public.debezium_signal has %d of the columns id, type, data", signalTables)
	}
	if signalCollection != "public.debezium_signal" {
		t.Errorf("source signal.data.collection = %q", signalCollection)
	}
	if changesAfter <= 46 {
		t.Errorf("change table has %d rows after the trickle ran, want more than the seed and one insert", changesAfter)
	}
	if !strings.Contains(errOut, "40 seeded customers") {
		t.Errorf("stderr:\n%s", errOut)
	}
}
