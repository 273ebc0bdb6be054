package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hashBase = `connect "prod" { url = "http://connect:8083" }

connector "orders_sink" {
  connect = connect.prod
  name    = "orders-jdbc-sink"
}

offsets "replay" {
  connector = connector.orders_sink
  reason    = "INC-1"
  sink_partition {
    topic      = "orders"
    partitions = [0, 1]
    to_offset  = 100
  }
}

offsets "skip" {
  connector = connector.orders_sink
  reason    = "test"
  sink_partition {
    topic      = "orders"
    partitions = [3]
    skip       = 99812
  }
}
`

// loadFiles writes files into a new directory and loads it.
func loadFiles(t *testing.T, files map[string]string) *Config {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, diags := Load(dir, Options{})
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	return cfg
}

func TestHashes(t *testing.T) {
	base := loadFiles(t, map[string]string{"main.hcl": hashBase})
	tests := []struct {
		name       string
		files      map[string]string
		sameConfig bool
		sameReplay bool
		sameSkip   bool
	}{
		{name: "same text", files: map[string]string{"main.hcl": hashBase}, sameConfig: true, sameReplay: true, sameSkip: true},
		{
			name: "comments, layout and file split",
			files: map[string]string{
				"a.hcl": "# the cluster\nconnect \"prod\" {\n  url = \"http://connect:8083\"\n}\n" + hashBase[strings.Index(hashBase, "connector \"orders_sink\""):strings.Index(hashBase, "offsets \"skip\"")],
				"b.hcl": "\n\n" + strings.ReplaceAll(hashBase[strings.Index(hashBase, "offsets \"skip\""):], "  ", "    "),
			},
			sameConfig: true, sameReplay: true, sameSkip: true,
		},
		{name: "another reason", files: map[string]string{"main.hcl": strings.Replace(hashBase, `"INC-1"`, `"INC-2"`, 1)}, sameConfig: false, sameReplay: true, sameSkip: true},
		{name: "another partition", files: map[string]string{"main.hcl": strings.Replace(hashBase, "[0, 1]", "[0, 2]", 1)}, sameConfig: false, sameReplay: false, sameSkip: true},
		{name: "partitions reordered", files: map[string]string{"main.hcl": strings.Replace(hashBase, "[0, 1]", "[1, 0]", 1)}, sameConfig: false, sameReplay: false, sameSkip: true},
		{name: "another target", files: map[string]string{"main.hcl": strings.Replace(hashBase, "to_offset  = 100", "to_offset  = 101", 1)}, sameConfig: false, sameReplay: false, sameSkip: true},
		{name: "connector block renamed", files: map[string]string{"main.hcl": strings.ReplaceAll(hashBase, "orders_sink", "orders")}, sameConfig: false, sameReplay: true, sameSkip: true},
		{name: "connector renamed in Connect", files: map[string]string{"main.hcl": strings.Replace(hashBase, "orders-jdbc-sink", "orders-sink-v2", 1)}, sameConfig: false, sameReplay: false, sameSkip: false},
		{name: "another Connect cluster", files: map[string]string{"main.hcl": strings.Replace(hashBase, "connect:8083", "connect-b:8083", 1)}, sameConfig: false, sameReplay: false, sameSkip: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadFiles(t, tt.files)
			if (got.Hash == base.Hash) != tt.sameConfig {
				t.Errorf("config hash same = %v, want %v", got.Hash == base.Hash, tt.sameConfig)
			}
			if (got.Operation("replay").Hash == base.Operation("replay").Hash) != tt.sameReplay {
				t.Errorf("replay hash same = %v, want %v", !tt.sameReplay, tt.sameReplay)
			}
			if (got.Operation("skip").Hash == base.Operation("skip").Hash) != tt.sameSkip {
				t.Errorf("skip hash same = %v, want %v", !tt.sameSkip, tt.sameSkip)
			}
		})
	}
	if base.Operation("replay").Hash == base.Operation("skip").Hash {
		t.Error("two different operations share a hash")
	}
}

// TestHashStable pins the hashes of the design example: a change here
// changes every recorded hash, and so must be deliberate.
func TestHashStable(t *testing.T) {
	cfg, diags := LoadFiles("testdata/valid", []string{"design.hcl"}, Options{Getenv: testGetenv})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var sb strings.Builder
	sb.WriteString("config " + cfg.Hash + "\n")
	for _, o := range cfg.Offsets {
		sb.WriteString(o.Addr() + " " + o.Hash + "\n")
	}
	goldens.Assert(t, "hashes", []byte(sb.String()))
}

// TestConfigTopic: a kafka block's config_topic defaults to Kafka
// Connect's connect-configs, and only a topic other than the default
// changes the configuration's hash (hashes of configurations written before
// the attribute existed stay what they were).
func TestConfigTopic(t *testing.T) {
	kafka := func(attr string) string {
		return "kafka \"prod\" {\n  brokers = [\"k:9092\"]\n" + attr + "}\n"
	}
	none := loadFiles(t, map[string]string{"main.hcl": hashBase + kafka("")})
	def := loadFiles(t, map[string]string{"main.hcl": hashBase + kafka("  config_topic = \"connect-configs\"\n")})
	other := loadFiles(t, map[string]string{"main.hcl": hashBase + kafka("  config_topic = \"prod-connect-configs\"\n")})
	if got := none.Kafka("prod").ConfigTopic; got != DefaultConfigTopic {
		t.Fatalf("default config_topic = %q", got)
	}
	if got := other.Kafka("prod").ConfigTopic; got != "prod-connect-configs" {
		t.Fatalf("config_topic = %q", got)
	}
	if none.Hash != def.Hash {
		t.Fatal("config_topic set to the default changed the hash")
	}
	if none.Hash == other.Hash {
		t.Fatal("another config_topic left the hash as it was")
	}
}
