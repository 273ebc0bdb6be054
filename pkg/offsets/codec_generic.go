package offsets

// Generic is the fallback codec for connectors offsetctl has no format for:
// it shows every field raw and accepts any flat offset, which is all Kafka
// Connect itself checks.
type Generic struct{}

var _ Codec = Generic{}

// Name implements Codec.
func (Generic) Name() string { return "generic" }

// Classes implements Codec: none, it is chosen when no other codec is.
func (Generic) Classes() []string { return nil }

// Decode implements Codec.
func (Generic) Decode(partition, offset Map) []DisplayField {
	return decodeWith(partition, offset, nil, nil)
}

// Validate implements Codec: a Map already holds only primitive values, the
// one rule Kafka Connect enforces.
func (Generic) Validate(partition, offset Map, previous *Map) error { return nil }

// SafetyNotes implements Codec.
func (Generic) SafetyNotes(partition Map, previous, offset *Map) []SafetyNote {
	return []SafetyNote{{Code: "generic-format",
		Text: "offsetctl does not know this connector's offset format: nothing checks that the new offset makes sense; check it against the connector's documentation"}}
}
