package conformance

import (
	"testing"

	"github.com/offsetctl/offsetctl/internal/realstack"
)

// TestRealWorker runs the suite against a real Kafka Connect worker (the
// real tier: OFFSETCTL_REALSTACK=1 or CI=true, otherwise skipped).
func TestRealWorker(t *testing.T) {
	st := realstack.Get(t)
	Run(t, Target{
		Name:           "real",
		ConnectURL:     st.ConnectURL(),
		Bootstrap:      []string{st.BootstrapServers()},
		OffsetsTopic:   st.OffsetsTopic(),
		DebeziumSource: st.SourceConnectorConfig,
	})
}
