package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Offsets returns the connector's committed offsets
// (GET /connectors/{name}/offsets, Kafka Connect 3.5+), in any state. Source
// connectors: the latest non-null value of every partition in the offsets
// topic(s); sink connectors: the consumer group's committed offsets. The
// order of the list is not meaningful. Partition and offset bytes are kept
// exactly as Connect sent them.
func (c *Client) Offsets(ctx context.Context, name string) (ConnectorOffsets, error) {
	if err := checkName(name); err != nil {
		return ConnectorOffsets{}, err
	}
	var out ConnectorOffsets
	if _, err := c.call(ctx, request{method: http.MethodGet, path: pathOf("connectors", name, "offsets")}, &out); err != nil {
		return ConnectorOffsets{}, fmt.Errorf("reading the offsets of connector %q: %w", name, err)
	}
	if out.Offsets == nil {
		out.Offsets = []ConnectorOffset{}
	}
	return out, nil
}

// AlterOffsets writes the listed partitions' offsets and leaves the others as
// they are (PATCH /connectors/{name}/offsets, Kafka Connect 3.6+). A nil or
// "null" Offset deletes that partition's offset. The connector must be
// STOPPED with no tasks (else 400, IsBadRequest). It returns Connect's
// message; a message starting "The Connect framework-managed" means offsets
// the connector keeps elsewhere were not touched.
//
// A "500 Request timed out" (IsRequestTimeout) is not retried: the offsets
// may or may not have been written, so re-read them with Offsets first.
func (c *Client) AlterOffsets(ctx context.Context, name string, offsets ConnectorOffsets) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := checkOffsets(offsets); err != nil {
		return "", fmt.Errorf("altering the offsets of connector %q: %w", name, err)
	}
	var out struct {
		Message string `json:"message"`
	}
	if _, err := c.call(ctx, request{method: http.MethodPatch, path: pathOf("connectors", name, "offsets"), body: offsets}, &out); err != nil {
		return "", fmt.Errorf("altering the offsets of connector %q: %w", name, err)
	}
	return out.Message, nil
}

// ResetOffsets deletes all of the connector's offsets
// (DELETE /connectors/{name}/offsets, Kafka Connect 3.6+): tombstones for every
// source partition, or deletion of the sink's consumer group. The connector
// must be STOPPED with no tasks. It returns Connect's message. Timeouts are
// handled as for AlterOffsets.
func (c *Client) ResetOffsets(ctx context.Context, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	var out struct {
		Message string `json:"message"`
	}
	if _, err := c.call(ctx, request{method: http.MethodDelete, path: pathOf("connectors", name, "offsets")}, &out); err != nil {
		return "", fmt.Errorf("resetting the offsets of connector %q: %w", name, err)
	}
	return out.Message, nil
}

// checkOffsets refuses a body Connect would reject, before sending it.
func checkOffsets(o ConnectorOffsets) error {
	if len(o.Offsets) == 0 {
		return errors.New("no partitions given")
	}
	for i, off := range o.Offsets {
		if !isJSONObject(off.Partition) {
			return fmt.Errorf("offset %d: the partition must be a JSON object, got %s", i, describeRaw(off.Partition))
		}
		if off.Offset != nil && !isJSONObject(off.Offset) && !bytes.Equal(bytes.TrimSpace(off.Offset), []byte("null")) {
			return fmt.Errorf("offset %d: the offset must be a JSON object or null, got %s", i, describeRaw(off.Offset))
		}
	}
	return nil
}

func isJSONObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

func describeRaw(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "nothing"
	}
	return fmt.Sprintf("%q", snippet(raw))
}
