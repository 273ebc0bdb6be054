package plan

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// Clients opens connections to the clusters a configuration names. The
// command package builds it from the configuration; planning and apply use
// it and close nothing they did not open.
type Clients interface {
	// Connect returns the REST client of a connect block.
	Connect(c *config.Connect) (*connect.Client, error)
	// Kafka returns the Kafka client of a kafka block.
	Kafka(k *config.Kafka) (*kgo.Client, error)
}

// RESTOffsets is the offset store's view of a Kafka Connect client: it reads
// GET /connectors/{name}/offsets and nothing else.
func RESTOffsets(c *connect.Client) offsets.RESTReader { return restReader{c} }

type restReader struct{ c *connect.Client }

func (r restReader) ReadOffsets(ctx context.Context, name string) ([]offsets.RESTOffset, error) {
	got, err := r.c.Offsets(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]offsets.RESTOffset, 0, len(got.Offsets))
	for _, o := range got.Offsets {
		out = append(out, offsets.RESTOffset{Partition: o.Partition, Offset: o.Offset})
	}
	return out, nil
}

// OffsetsLocation says where the offset store finds the offsets of the
// connector cb as observed (its type and consumer group), by the path via.
// The offsets topic is the kafka block's (Kafka Connect's default when
// there is none), unless the connector's configuration (connectorConfig,
// may be nil) names one of its own (offsets.storage.topic): then that one,
// with the kafka block's behind it, as Kafka Connect reads them.
func OffsetsLocation(cb *config.Connector, obs *ConnectorObservation, via Method, connectorConfig map[string]string) offsets.Location {
	loc := offsets.Location{Connector: cb.ConnectorName, Sink: obs.Type == Sink, Via: via, Group: obs.Group}
	if loc.Sink && loc.Group == "" {
		loc.Group = offsets.SinkGroupID(cb.ConnectorName, cb.Group, nil)
	}
	worker := ""
	if cb.Kafka != nil {
		worker = cb.Kafka.OffsetsTopic
	}
	if loc.Sink {
		loc.OffsetsTopic = worker
		return loc
	}
	loc.OffsetsTopic, loc.FallbackTopic = offsets.SourceOffsetsTopics(worker, connectorConfig)
	return loc
}
