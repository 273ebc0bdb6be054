package sandbox

import (
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// Connector-side alterOffsets hooks: after Connect has checked and
// normalised a PATCH or DELETE body, it hands the offsets to the connector's
// alterOffsets, which may refuse them. A refusal (a ConnectException) reaches
// the client as a 500 whose message is the exception's. The real worker's
// answers were checked by internal/conformance against Kafka 4.3.

// sourceAlterHook returns the alterOffsets check of a source connector
// class, or nil when the connector does not check (Debezium and every inert
// class: the default hook accepts anything).
func sourceAlterHook(class string) func(config map[string]string, changes []alterChange) error {
	switch class {
	case "org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSourceConnector", "FileStreamSource":
		return fileSourceAlterOffsets
	}
	return nil
}

// alterChange is one normalised partition and its new offset (nil: a
// tombstone, as PATCH with "offset": null and DELETE write).
type alterChange struct {
	partition *offsets.Map
	offset    *offsets.Map
}

// fileSourceAlterOffsets is FileStreamSourceConnector.alterOffsets (Kafka
// 3.6+): a tracked file is required; tombstones pass; an offset must hold a
// non-negative Long "position" and its partition a "filename".
func fileSourceAlterOffsets(config map[string]string, changes []alterChange) error {
	if config["file"] == "" {
		return errorf(500, "Offsets cannot be modified if the 'file' configuration is unspecified. This is because stdin is used for input and offsets are not tracked.")
	}
	for _, c := range changes {
		if c.offset == nil {
			continue
		}
		pos, ok := c.offset.Get("position")
		if !ok {
			return errorf(500, "Offset objects should either be null or contain the key 'position'")
		}
		n, isLong := pos.Int64()
		if !isLong || !pos.IsInteger() {
			return errorf(500, "The value for the 'position' key in the offset is expected to be a Long value")
		}
		if n < 0 {
			return errorf(500, "The value for the 'position' key in the offset should be a non-negative value")
		}
		if c.partition == nil {
			return errorf(500, "Partition objects cannot be null")
		}
		if _, ok := c.partition.Get("filename"); !ok {
			return errorf(500, "Partition objects should contain the key 'filename'")
		}
	}
	return nil
}
