package connect_test

import (
	"context"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    connect.Version
		wantErr string
	}{
		{in: "3.6.1", want: connect.Version{Major: 3, Minor: 6, Patch: 1, Raw: "3.6.1"}},
		{in: "3.8.0-SNAPSHOT", want: connect.Version{Major: 3, Minor: 8, Patch: 0, Raw: "3.8.0-SNAPSHOT"}},
		{in: "4.0.0", want: connect.Version{Major: 4, Raw: "4.0.0"}},
		{in: " 3.5.2 ", want: connect.Version{Major: 3, Minor: 5, Patch: 2, Raw: "3.5.2"}},
		{in: "2.3.0-rc1", want: connect.Version{Major: 2, Minor: 3, Raw: "2.3.0-rc1"}},
		{in: "7.4.0-ccs", want: connect.Version{Major: 3, Minor: 4, Raw: "7.4.0-ccs", Confluent: true}},
		{in: "7.5.3-ccs", want: connect.Version{Major: 3, Minor: 5, Patch: 3, Raw: "7.5.3-ccs", Confluent: true}},
		{in: "7.6.0-ccs", want: connect.Version{Major: 3, Minor: 6, Raw: "7.6.0-ccs", Confluent: true}},
		{in: "7.7.1-ce", want: connect.Version{Major: 3, Minor: 7, Patch: 1, Raw: "7.7.1-ce", Confluent: true}},
		{in: "7.8.0-ccs", want: connect.Version{Major: 3, Minor: 8, Raw: "7.8.0-ccs", Confluent: true}},
		{in: "8.0.0-ccs", want: connect.Version{Major: 4, Raw: "8.0.0-ccs", Confluent: true}},
		{in: "6.2.1-ccs", want: connect.Version{Major: 2, Minor: 8, Patch: 1, Raw: "6.2.1-ccs", Confluent: true}},
		{in: "5.3.0-ccs", want: connect.Version{Major: 2, Minor: 3, Raw: "5.3.0-ccs", Confluent: true}},
		{in: "", wantErr: "expected major.minor.patch"},
		{in: "unknown", wantErr: "expected major.minor.patch"},
		{in: "3.6", wantErr: "expected major.minor.patch"},
		{in: "3.6.1.2", wantErr: "expected major.minor.patch"},
		{in: "v3.6.1", wantErr: `"v3" is not a number`},
		{in: "+3.6.1", wantErr: `"+3" is not a number`},
		{in: "3.x.1", wantErr: `"x" is not a number`},
		{in: "3..1", wantErr: `"" is not a number`},
		{in: "3.6.1-", wantErr: "bad suffix"},
		{in: "3.6.1-beta 2", wantErr: "bad suffix"},
		{in: "9.0.0-ccs", wantErr: "unknown Confluent Platform release 9.0"},
		{in: "7.10.0-ccs", wantErr: "unknown Confluent Platform release 7.10"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := connect.ParseVersion(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCapabilities(t *testing.T) {
	all := []connect.Feature{connect.FeatureExpand, connect.FeatureRestartIncludeTasks, connect.FeatureStop, connect.FeatureReadOffsets,
		connect.FeatureAlterOffsets, connect.FeatureResetOffsets, connect.FeatureInitialState, connect.FeaturePatchConfig}
	tests := []struct {
		version string
		want    []connect.Feature // supported; the others are not
	}{
		{"2.2.2", nil},
		{"2.3.0", all[:1]},
		{"2.8.2", all[:1]},
		{"3.0.0", all[:2]},
		{"3.4.1", all[:2]},
		{"3.5.0", all[:4]},
		{"7.5.0-ccs", all[:4]},
		{"3.6.0", all[:6]},
		{"7.6.0-ccs", all[:6]},
		{"3.7.2", all[:7]},
		{"3.8.0-SNAPSHOT", all},
		{"4.0.0", all},
		{"8.0.0-ccs", all},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			v, err := connect.ParseVersion(tt.version)
			if err != nil {
				t.Fatal(err)
			}
			caps := connect.CapabilitiesOf(v)
			for i, f := range all {
				want := i < len(tt.want)
				if got := caps.Supports(f); got != want {
					t.Errorf("Supports(%s) = %v, want %v", f, got, want)
				}
				if err := caps.Require(f); (err == nil) != want {
					t.Errorf("Require(%s) = %v", f, err)
				}
			}
		})
	}
	caps := connect.CapabilitiesOf(connect.Version{Major: 3, Minor: 5, Patch: 1, Raw: "7.5.1-ccs", Confluent: true})
	err := caps.Require(connect.FeatureAlterOffsets)
	want := "kafka connect 3.5.1 (7.5.1-ccs) does not support PATCH /connectors/{name}/offsets: it needs Apache Kafka 3.6 or later"
	if err == nil || err.Error() != want {
		t.Errorf("Require error %v\nwant %s", err, want)
	}
	if connect.CapabilitiesOf(connect.Version{Major: 9}).Supports(connect.Feature(99)) {
		t.Error("an unknown feature must not be supported")
	}
}

func TestClientCapabilities(t *testing.T) {
	s := newScript(t,
		exchange{method: "GET", uri: "/", status: 200, body: `{"version":"7.7.0-ccs","commit":"x","kafka_cluster_id":"k"}`},
		exchange{method: "GET", uri: "/", status: 200, body: `{"version":"trunk","commit":"x","kafka_cluster_id":"k"}`},
	)
	c := s.client(t)
	caps, err := c.Capabilities(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Supports(connect.FeatureInitialState) || caps.Supports(connect.FeaturePatchConfig) {
		t.Errorf("7.7.0-ccs: got %+v", caps)
	}
	_, err = c.Capabilities(context.Background())
	if err == nil || !strings.Contains(err.Error(), `unrecognised Kafka Connect version "trunk"`) {
		t.Errorf("error %v", err)
	}
}
