package command

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// TestOffsetsShowOrphans: offsets stored for a connector that was deleted
// (a new one of the same name would resume them) are listed by offsets
// show with --bootstrap-servers, with when the connector was deleted (the
// config topic), also when the deleted name is asked for; without Kafka the
// name is refused as before.
func TestOffsetsShowOrphans(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	c, err := connect.New(connect.Config{URL: sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	createConnector(t, c, "gone-source", connect.StateStopped, postgresSourceConfig("gone"))
	patchOffsets(t, sb.ConnectURL(), "gone-source", `{"offsets":[{"partition":{"server":"gone"},"offset":{"lsn":42,"txId":7}}]}`)
	createConnector(t, c, "live-source", connect.StateStopped, postgresSourceConfig("live"))
	patchOffsets(t, sb.ConnectURL(), "live-source", `{"offsets":[{"partition":{"server":"live"},"offset":{"lsn":43,"txId":8}}]}`)
	if err := c.Delete(ctx, "gone-source"); err != nil {
		t.Fatal(err)
	}
	// The sandbox writes its config topic as a worker does, a moment later.
	kc, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap, err := offsets.ReadConfigTopic(ctx, kc, "")
		if err != nil {
			t.Fatal(err)
		}
		if h := snap.Connector("gone-source"); h != nil && h.Deleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sandbox never recorded the deletion in its config topic")
		}
		time.Sleep(50 * time.Millisecond)
	}
	url, kafka := sb.ConnectURL(), sb.BootstrapServers()[0]
	notShown := func(t *testing.T, out, _ string) {
		t.Helper()
		if strings.Contains(out, "live-source  ") || strings.Contains(out, `"name": "live-source",
      "newest_offset"`) {
			t.Fatalf("an existing connector is listed as an orphan:\n%s", out)
		}
	}
	runROCases(t, []roCase{
		{name: "listed_after_the_connectors", args: []string{"offsets", "show", "live-source", "--connect-url", url, "--bootstrap-servers", kafka},
			check: func(t *testing.T, out, errOut string) {
				containsAll("live-source (source, STOPPED", "Offsets stored for connectors that do not exist", "  gone-source  1  ", time.Now().UTC().Format("2006-01-02"))(t, out, errOut)
				notShown(t, out, errOut)
			}},
		{name: "the_deleted_name_asked_for", args: []string{"offsets", "show", "gone-source", "-json", "--connect-url", url, "--bootstrap-servers", kafka},
			check: containsAll(`"orphans": [`, `"name": "gone-source"`, `"deleted_at": "`, `"lsn": 42`)},
		{name: "without_kafka_refused", args: []string{"offsets", "show", "gone-source", "--connect-url", url}, wantCode: ExitError,
			wantErr: []string{`connector "gone-source" does not exist`}},
	}, func(s string) string { return s }, false)
}
