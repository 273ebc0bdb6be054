package connect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// skipPoisonPill is the safe offset-surgery sequence: check the worker can do
// it, stop, wait for the tasks to go, keep the "before" offsets, alter,
// resume and wait for the tasks to run.
func skipPoisonPill(ctx context.Context, c *connect.Client, name string) (before connect.ConnectorOffsets, err error) {
	caps, err := c.Capabilities(ctx)
	if err != nil {
		return before, err
	}
	if err := caps.Require(connect.FeatureAlterOffsets); err != nil {
		return before, err
	}
	if err := c.Stop(ctx, name); err != nil {
		return before, err
	}
	if _, err := c.WaitForState(ctx, name, connect.StateStopped, connect.WaitOptions{Timeout: time.Minute}); err != nil {
		return before, err
	}
	if before, err = c.Offsets(ctx, name); err != nil { // the rollback
		return before, err
	}
	_, err = c.AlterOffsets(ctx, name, connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: json.RawMessage(`{"kafka_topic":"shop.public.orders","kafka_partition":3}`),
		Offset:    json.RawMessage(`{"kafka_offset":99813}`),
	}}})
	if connect.IsRequestTimeout(err) {
		return before, fmt.Errorf("the write may still happen; read the offsets again before retrying: %w", err)
	}
	if err != nil {
		return before, err
	}
	if err := c.Resume(ctx, name); err != nil {
		return before, err
	}
	_, err = c.WaitForState(ctx, name, connect.StateRunning, connect.WaitOptions{Timeout: time.Minute})
	return before, err
}

// Compiled, not run: it needs a Connect worker.
func ExampleClient_AlterOffsets() {
	c, err := connect.New(connect.Config{URL: "http://connect:8083", Token: "read-from-the-environment"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := skipPoisonPill(context.Background(), c, "orders-sink"); err != nil {
		fmt.Println(err)
	}
}
