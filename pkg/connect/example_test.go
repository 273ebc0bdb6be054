package connect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// The safe offset-surgery sequence: check the worker can do it, stop, wait
// for the tasks to go, keep the "before" offsets, alter, verify, resume.
// (Compiled, not run: it needs a Connect worker.)
func ExampleClient_AlterOffsets() {
	ctx := context.Background()
	c, err := connect.New(connect.Config{URL: "http://connect:8083", Token: "from-the-environment"})
	if err != nil {
		panic(err)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		panic(err)
	}
	if err := caps.Require(connect.FeatureAlterOffsets); err != nil {
		panic(err)
	}
	if err := c.Stop(ctx, "orders-sink"); err != nil {
		panic(err)
	}
	if _, err := c.WaitForState(ctx, "orders-sink", connect.StateStopped, connect.WaitOptions{Timeout: time.Minute}); err != nil {
		panic(err)
	}
	before, err := c.Offsets(ctx, "orders-sink") // keep: it is the rollback
	if err != nil {
		panic(err)
	}
	_ = before
	msg, err := c.AlterOffsets(ctx, "orders-sink", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: json.RawMessage(`{"kafka_topic":"shop.public.orders","kafka_partition":3}`),
		Offset:    json.RawMessage(`{"kafka_offset":99813}`),
	}}})
	if connect.IsRequestTimeout(err) {
		// The write may still happen: read the offsets again before retrying.
		panic(err)
	}
	if err != nil {
		panic(err)
	}
	fmt.Println(msg)
	if err := c.Resume(ctx, "orders-sink"); err != nil {
		panic(err)
	}
	if _, err := c.WaitForState(ctx, "orders-sink", connect.StateRunning, connect.WaitOptions{Timeout: time.Minute}); err != nil {
		panic(err)
	}
}
