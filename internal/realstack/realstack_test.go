package realstack

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestEnabled(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		avail bool // Java 17+ and Maven are there
		want  bool
		why   string // substring of the skip line
	}{
		{"nothing set, prerequisites there", nil, true, true, ""},
		{"nothing set, no java", nil, false, false, "no java on PATH; install it and run make test again"},
		{"opt in", map[string]string{"OFFSETCTL_REALSTACK": "1"}, false, true, ""},
		{"CI requires it", map[string]string{"CI": "true"}, false, true, ""},
		{"CI other value", map[string]string{"CI": "1"}, false, false, "OFFSETCTL_REALSTACK=1"},
		{"opt out wins over CI", map[string]string{"CI": "true", "OFFSETCTL_REALSTACK": "0"}, true, false, "OFFSETCTL_REALSTACK=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			available := func() (bool, string) {
				if tt.avail {
					return true, ""
				}
				return false, "no java on PATH"
			}
			got, why := Enabled(func(k string) string { return tt.env[k] }, available)
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

// TestTemplatesRender fills the real property templates and checks every
// field was filled and the settings the stack relies on are there.
func TestTemplatesRender(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	vars := templateVars{
		BrokerPort: 19092, ControllerPort: 19093, RestPort: 18083, DataDir: "/data",
		ProxiedPort: 19094, ProxiedAdvertised: "127.0.0.1:19095",
		BootstrapServers: "127.0.0.1:19092", GroupID: WorkerGroupID,
		OffsetsTopic: OffsetsTopicName, ConfigTopic: ConfigTopicName, StatusTopic: StatusTopicName,
		OffsetFlushIntervalMs: 1000, PluginPath: "/plugins", PluginDiscovery: "service_load", ExactlyOnceSource: "disabled",
	}
	tests := []struct {
		file string
		want []string
	}{
		{"broker.properties", []string{
			"process.roles=broker,controller",
			"controller.quorum.voters=1@127.0.0.1:19093",
			"listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,PROXIED://127.0.0.1:19094",
			"advertised.listeners=PLAINTEXT://127.0.0.1:19092,PROXIED://127.0.0.1:19095",
			"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT",
			"log.dirs=/data",
			"offsets.topic.replication.factor=1",
		}},
		{"connect-distributed.properties", []string{
			"bootstrap.servers=127.0.0.1:19092",
			"offset.storage.topic=connect-offsets",
			"offset.storage.partitions=25",
			"offset.storage.replication.factor=1",
			"config.storage.replication.factor=1",
			"status.storage.replication.factor=1",
			"offset.flush.interval.ms=1000",
			"listeners=http://127.0.0.1:18083",
			"plugin.path=/plugins",
			"plugin.discovery=service_load",
			"exactly.once.source.support=disabled",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), tt.file)
			if err := renderTemplate(filepath.Join(root, "test", "realstack", tt.file), out, vars); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "{{") || strings.Contains(string(b), "<no value>") {
				t.Errorf("unfilled field in %s:\n%s", tt.file, b)
			}
			lines := map[string]bool{}
			for _, l := range strings.Split(string(b), "\n") {
				lines[strings.TrimSpace(l)] = true
			}
			for _, w := range tt.want {
				if !lines[w] {
					t.Errorf("%s lacks the line %q", tt.file, w)
				}
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	ph := map[string]string{
		"40231":                            "<pg-port>",
		"127.0.0.1:38083":                  "<worker-id>",
		"http://127.0.0.1:38083":           "<connect-url>",
		"/tmp/TestGroundTruth123/001/file": "<scratch-file>",
	}
	tests := []struct{ in, want string }{
		{`{"database.port":"40231"}`, `{"database.port":"<pg-port>"}`},
		{`{"lsn":24023128,"n":"x40231"}`, `{"lsn":24023128,"n":"x40231"}`}, // digits inside other values stay
		{`{"worker_id":"127.0.0.1:38083"}`, `{"worker_id":"<worker-id>"}`},
		{`http://127.0.0.1:38083/connectors/a`, `<connect-url>/connectors/a`},
		{`{"file":"/tmp/TestGroundTruth123/001/file"}`, `{"file":"<scratch-file>"}`},
	}
	for _, tt := range tests {
		if got := substitute(tt.in, ph); got != tt.want {
			t.Errorf("substitute(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDropNullOffsets(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"offsets":[]}`, `{"offsets":[]}`},
		{`{"offsets":[{"partition":{"server":"s"},"offset":null}]}`, `{"offsets":[]}`},
		{`{"offsets":[{"partition":{"server":"s"},"offset":{"lsn":1}}]}`, `{"offsets":[{"offset":{"lsn":1},"partition":{"server":"s"}}]}`},
		{`{"message":"x"}`, `{"message":"x"}`},
	}
	for _, tt := range tests {
		var v any
		if err := json.Unmarshal([]byte(tt.in), &v); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(dropNullOffsets(v))
		if string(got) != tt.want {
			t.Errorf("dropNullOffsets(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFindJavaRefusesBadJavaHome(t *testing.T) {
	t.Setenv("JAVA_HOME", t.TempDir())
	_, err := findJava()
	if err == nil || !strings.Contains(err.Error(), "holds no bin/java") {
		t.Fatalf("findJava with an empty JAVA_HOME: %v, want an error naming JAVA_HOME", err)
	}
	ok, why := Available()
	if ok || !strings.Contains(why, "JAVA_HOME") {
		t.Fatalf("Available() = %v, %q; want false naming JAVA_HOME", ok, why)
	}
}

func TestLSNToInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0/16B3748", 23803720},
		{"16/B374D848", 97500059720},
	}
	for _, tt := range tests {
		if got := lsnToInt(t, tt.in); got != tt.want {
			t.Errorf("lsnToInt(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestAvailableNeedsMavenForAnEmptyCache: with Java present but no Maven and
// an unfilled cache, Available says so and names the fix.
func TestAvailableNeedsMavenForAnEmptyCache(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("no java on PATH: the JAVA_HOME and PATH case is covered by TestFindJavaRefusesBadJavaHome")
	}
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("JAVA_HOME", filepath.Dir(filepath.Dir(real)))
	t.Setenv("PATH", t.TempDir()) // no mvn
	t.Setenv(CacheEnv, filepath.Join(t.TempDir(), "cache"))
	ok, why := Available()
	if ok || !strings.Contains(why, "Maven (mvn) is needed") {
		t.Fatalf("Available() = %v, %q; want false asking for Maven", ok, why)
	}
}

// TestNewClusterID: the storage tool takes the id as a separate argument, so
// it must never look like an option (a real start-up failure, 1 in 64).
func TestNewClusterID(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id := newClusterID()
		if len(id) != 22 || id[0] == '-' || seen[id] {
			t.Fatalf("newClusterID() = %q (22 characters, not starting with '-', unique wanted)", id)
		}
		seen[id] = true
	}
}

// Under -short (make test-short) the real tier is left out even when it is
// asked for: Get skips before looking for Java. PATH and JAVA_HOME are
// emptied so that, were it not to skip, it would fail here rather than start
// a stack.
func TestGetSkipsUnderShort(t *testing.T) {
	if !testing.Short() {
		t.Skip("checks go test -short; make test-short runs it")
	}
	t.Setenv(EnableEnv, "1")
	t.Setenv("PATH", "")
	t.Setenv("JAVA_HOME", "")
	skipped := false
	t.Run("get", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Get(t)
	})
	if !skipped {
		t.Fatal("Get did not skip under -short")
	}
}
