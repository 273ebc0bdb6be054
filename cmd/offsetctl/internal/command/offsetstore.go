package command

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// The commands that print offsets (offsets show, backup, verify; check) read
// them through the one offset store of pkg/offsets, as plan observes and
// apply verifies with it: these helpers only name the location.

// kafkaOf hands the store an open Kafka client.
func kafkaOf(kc *kgo.Client) offsets.KafkaFunc {
	return func() (*kgo.Client, error) { return kc, nil }
}

// readOffsetsTopic reads the whole offsets topic once, for every source
// connector a command prints.
func readOffsetsTopic(ctx context.Context, kc *kgo.Client, topic string) (*offsets.TopicSnapshot, error) {
	return offsets.NewReader(offsets.Location{Via: offsets.ViaTopic, OffsetsTopic: topic}, nil, kafkaOf(kc)).Topic(ctx)
}

// readSinkGroup reads a sink connector's consumer group with the log bounds
// of topics.
func readSinkGroup(ctx context.Context, kc *kgo.Client, connector, group string, topics []string) (*offsets.SinkGroup, error) {
	loc := offsets.Location{Connector: connector, Sink: true, Via: offsets.ViaGroup, Group: group}
	return offsets.NewReader(loc, nil, kafkaOf(kc)).Group(ctx, topics)
}

// readREST reads a connector's offsets through Kafka Connect's GET
// /offsets, parsed by the offset store's one parser.
func readREST(ctx context.Context, c *connect.Client, name string, sink bool) ([]offsets.Position, error) {
	loc := offsets.Location{Connector: name, Sink: sink, Via: offsets.ViaREST}
	return offsets.NewReader(loc, plan.RESTOffsets(c), nil).REST(ctx)
}
