package sandbox

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// PoisonValue is the value ProducePoison writes: a Debezium change event cut
// short, as a producer that died mid-write or a hand-typed test message
// leaves it. The JDBC-shaped sink cannot parse it.
const PoisonValue = `{"before":null,"after":{"id":`

// ProducePoison writes one poison pill to partition 0 of the pipeline's
// topic — a record the JDBC-shaped sink cannot apply (PoisonValue) — and
// returns its offset.
//
// The sink task that reaches it fails ("record TOPIC/0@OFFSET is not a JSON
// change event"), writes nothing of the batch that holds it and commits
// nothing, and fails again at the same offset after every restart: the
// pipeline is stuck until the sink's committed offset moves past the pill.
// When the sink had caught up before the pill was written, its committed
// offset is the pill's offset.
func (p *Pipeline) ProducePoison(ctx context.Context) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.sb.seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))
	if err != nil {
		return 0, fmt.Errorf("producing a poison record: %w", err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: p.topic, Partition: 0, Key: []byte(`{"id":-1}`), Value: []byte(PoisonValue)}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return 0, fmt.Errorf("producing a poison record to %s: %w", p.topic, err)
	}
	return rec.Offset, nil
}
