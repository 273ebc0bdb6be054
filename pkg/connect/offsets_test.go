package connect_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// TestOffsetsBytesSurvive reads offsets holding values a float64 would
// corrupt (int64 and uint64 extremes, a number beyond float64's range, long
// decimals), non-alphabetical key order, HTML characters and raw UTF-8, then
// sends them back with AlterOffsets: every partition and offset must be
// byte-identical on both legs.
func TestOffsetsBytesSurvive(t *testing.T) {
	parts := []string{
		`{"server":"shop","database":"inventory"}`,
		`{"kafka_topic":"shop.public.orders","kafka_partition":7}`,
		`{"server":"ünïcødé <&> \u2028 raw:  "}`,
	}
	offs := []string{
		`{"lsn":9223372036854775807,"lsn_proc":9223372036854775806,"txId":-9223372036854775808,"u64":18446744073709551615,"u64m1":18446744073709551614}`,
		`{"kafka_offset":9007199254740993}`,
		`{"big":1e400,"dec":0.30000000000000004,"exact":123456789012345678901234567890,"s":"a<b>&c","b":true,"n":null}`,
	}
	var items []string
	for i := range parts {
		items = append(items, `{"partition":`+parts[i]+`,"offset":`+offs[i]+`}`)
	}
	body := `{"offsets":[` + strings.Join(items, ",") + `]}`

	s := newScript(t,
		exchange{method: "GET", uri: "/connectors/pg-orders/offsets", status: 200, body: body},
		exchange{method: "PATCH", uri: "/connectors/pg-orders/offsets", wantBody: body, status: 200, body: `{"message":"altered"}`},
	)
	c := s.client(t)
	ctx := context.Background()
	got, err := c.Offsets(ctx, "pg-orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Offsets) != len(parts) {
		t.Fatalf("%d offsets, want %d", len(got.Offsets), len(parts))
	}
	for i, o := range got.Offsets {
		if string(o.Partition) != parts[i] {
			t.Errorf("partition %d: got %s, want %s", i, o.Partition, parts[i])
		}
		if string(o.Offset) != offs[i] {
			t.Errorf("offset %d: got %s, want %s", i, o.Offset, offs[i])
		}
	}
	if _, err := c.AlterOffsets(ctx, "pg-orders", got); err != nil {
		t.Fatal(err)
	}
}

// TestOffsetsWhitespaceKept checks that a pretty-printed answer is kept
// verbatim inside each value (the parser in package offsets sees Connect's
// bytes), while the request body is sent compact.
func TestOffsetsWhitespaceKept(t *testing.T) {
	s := newScript(t,
		exchange{method: "GET", uri: "/connectors/x/offsets", status: 200,
			body: "{\n  \"offsets\" : [ {\n    \"partition\" : { \"server\" : \"shop\" },\n    \"offset\" : { \"lsn\" : 97500059720 }\n  } ]\n}\n"},
		exchange{method: "PATCH", uri: "/connectors/x/offsets",
			wantBody: `{"offsets":[{"partition":{"server":"shop"},"offset":{"lsn":97500059720}}]}`, status: 200, body: `{"message":"ok"}`},
	)
	c := s.client(t)
	got, err := c.Offsets(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Offsets) != 1 || string(got.Offsets[0].Partition) != `{ "server" : "shop" }` || string(got.Offsets[0].Offset) != `{ "lsn" : 97500059720 }` {
		t.Fatalf("got %q", got.Offsets)
	}
	if _, err := c.AlterOffsets(context.Background(), "x", got); err != nil {
		t.Fatal(err)
	}
	want := connect.ConnectorOffset{Partition: json.RawMessage(`{ "server" : "shop" }`), Offset: json.RawMessage(`{ "lsn" : 97500059720 }`)}
	if string(got.Offsets[0].Partition) != string(want.Partition) {
		t.Errorf("partition changed")
	}
}
