package offsets

import "fmt"

// ParseSinkREST reads one element of a sink connector's offsets as Kafka
// Connect's REST API shows them: partition {"kafka_topic", "kafka_partition"}
// and offset {"kafka_offset"} or null. Numbers given as strings are accepted,
// as Connect accepts them. has is false for a null (deleted) offset.
func ParseSinkREST(partition, offset []byte) (topic string, part int32, off int64, has bool, err error) {
	p, err := ParseMap(partition)
	if err != nil {
		return "", 0, 0, false, fmt.Errorf("sink partition from Kafka Connect: %w", err)
	}
	tv, _ := p.Get("kafka_topic")
	pv, _ := p.Get("kafka_partition")
	pn, ok := pv.Int64Lenient()
	if tv.Kind() != KindString || !ok || pn < 0 || pn > 1<<31-1 {
		return "", 0, 0, false, fmt.Errorf("unexpected sink partition %s from Kafka Connect: expected kafka_topic and kafka_partition", p)
	}
	if len(offset) == 0 || string(offset) == "null" {
		return tv.Text(), int32(pn), 0, false, nil
	}
	o, err := ParseMap(offset)
	if err != nil {
		return "", 0, 0, false, fmt.Errorf("sink offset from Kafka Connect: %w", err)
	}
	ov, _ := o.Get("kafka_offset")
	n, ok := ov.Int64Lenient()
	if !ok {
		return "", 0, 0, false, fmt.Errorf("unexpected sink offset %s from Kafka Connect: expected kafka_offset", o)
	}
	return tv.Text(), int32(pn), n, true, nil
}
