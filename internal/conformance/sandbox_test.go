package conformance

import (
	"context"
	"testing"

	"github.com/offsetctl/offsetctl/internal/realstack"
	"github.com/offsetctl/offsetctl/internal/sandbox"
)

func TestMain(m *testing.M) { realstack.Main(m) }

// TestSandbox runs the suite against the sandbox's emulated worker (the
// newest Kafka Connect release it emulates).
func TestSandbox(t *testing.T) {
	s, err := sandbox.Start(context.Background(), sandbox.Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	t.Cleanup(s.Close)
	Run(t, Target{
		Name:         "sandbox",
		ConnectURL:   s.ConnectURL(),
		Bootstrap:    s.BootstrapServers(),
		OffsetsTopic: s.OffsetsTopic(),
		DebeziumSource: func() map[string]string {
			return map[string]string{"database.hostname": "127.0.0.1", "database.port": "1", "database.user": "nobody", "database.dbname": "none"}
		},
	})
}
