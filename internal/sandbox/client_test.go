package sandbox

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// TestWithConnectClient drives the emulator with offsetctl's own REST client
// (pkg/connect) on every version: what the client detects and what the
// emulator answers must agree.
func TestWithConnectClient(t *testing.T) {
	for _, v := range []string{"3.4", "3.5", "3.6", "3.7", "3.8"} {
		t.Run(v, func(t *testing.T) {
			s := start(t, v)
			ctx := ctxFor(t)
			c, err := connect.New(connect.Config{URL: s.ConnectURL(), RetryBackoff: 10 * time.Millisecond, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			caps, err := c.Capabilities(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := caps.Version.String(); got != v+".0" {
				t.Fatalf("client sees version %s", got)
			}
			if _, err := c.Create(ctx, connect.CreateRequest{Name: "src", Config: map[string]string{"connector.class": "org.example.Source"}}); err != nil {
				t.Fatal(err)
			}
			err = c.Stop(ctx, "src")
			var apiErr *connect.APIError
			if s.version.hasStop() != (err == nil) {
				t.Fatalf("stop on %s: %v", v, err)
			}
			if err != nil && (!errors.As(err, &apiErr) || apiErr.Status != 404) {
				t.Fatalf("stop on %s: %v, want a 404 APIError", v, err)
			}
			if !s.version.hasStop() {
				return
			}
			if _, err := c.Offsets(ctx, "src"); err != nil {
				t.Fatal(err)
			}
			body := connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
				Partition: json.RawMessage(`{"file":"a"}`), Offset: json.RawMessage(`{"pos":9223372036854775807}`)}}}
			msg, err := c.AlterOffsets(ctx, "src", body)
			if !s.version.hasModifyOffsets() {
				if err == nil || !errors.As(err, &apiErr) || apiErr.Status != 405 {
					t.Fatalf("alter on %s: %v, want 405", v, err)
				}
				return
			}
			if err != nil || !strings.Contains(msg, "altered successfully") {
				t.Fatalf("alter: %q, %v", msg, err)
			}
			got, err := c.Offsets(ctx, "src")
			if err != nil || len(got.Offsets) != 1 || string(got.Offsets[0].Offset) != `{"pos":9223372036854775807}` {
				t.Fatalf("offsets: %+v, %v", got, err)
			}
			if _, err := c.ResetOffsets(ctx, "src"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
