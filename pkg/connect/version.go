package connect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Version is an Apache Kafka version, as reported by a Connect worker (GET /)
// and translated from Confluent Platform numbering when needed.
type Version struct {
	Major, Minor, Patch int
	// Raw is the string the worker reported, e.g. "7.6.0-ccs".
	Raw string
	// Confluent is true when Raw was a Confluent Platform version that was
	// mapped to the Apache Kafka release it ships (7.6 → 3.6).
	Confluent bool
}

// String prints the Apache Kafka version, followed by the reported one when
// they differ: "3.6.0 (7.6.0-ccs)".
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Raw != "" && v.Raw != s {
		s += " (" + v.Raw + ")"
	}
	return s
}

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// confluentToKafka maps a Confluent Platform major.minor to the Apache Kafka
// release it ships (CP 7.x is AK 3.x, CP 8.x is AK 4.x, CP 6.0-6.2 are AK
// 2.6-2.8, CP 5.x is AK 2.x).
func confluentToKafka(major, minor int) (int, int, bool) {
	switch {
	case major == 5 && minor <= 5:
		return 2, minor, true
	case major == 6 && minor <= 2:
		return 2, 6 + minor, true
	case major == 7 && minor <= 9:
		return 3, minor, true
	case major == 8 && minor <= 1:
		return 4, minor, true
	}
	return 0, 0, false
}

// ParseVersion reads a worker version: Apache Kafka "3.6.1", "3.8.0-SNAPSHOT",
// "4.0.0", or Confluent Platform "7.6.0-ccs" / "7.6.0-ce" (mapped to Apache
// Kafka 3.6.0). Anything else is an error, so callers never guess.
func ParseVersion(s string) (Version, error) {
	raw := strings.TrimSpace(s)
	v := Version{Raw: raw}
	core, suffix, hasSuffix := strings.Cut(raw, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("unrecognised Kafka Connect version %q: expected major.minor.patch such as 3.6.1 or 7.6.0-ccs", s)
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || p == "" || strings.ContainsFunc(p, func(r rune) bool { return r < '0' || r > '9' }) {
			return Version{}, fmt.Errorf("unrecognised Kafka Connect version %q: %q is not a number", s, p)
		}
		nums[i] = n
	}
	v.Major, v.Minor, v.Patch = nums[0], nums[1], nums[2]
	if hasSuffix {
		for _, tok := range strings.Split(suffix, "-") {
			if tok == "" || strings.ContainsFunc(tok, func(r rune) bool {
				return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '.'
			}) {
				return Version{}, fmt.Errorf("unrecognised Kafka Connect version %q: bad suffix %q", s, suffix)
			}
		}
		first, _, _ := strings.Cut(suffix, "-")
		if first == "ccs" || first == "ce" {
			major, minor, ok := confluentToKafka(v.Major, v.Minor)
			if !ok {
				return Version{}, fmt.Errorf("unrecognised Kafka Connect version %q: unknown Confluent Platform release %d.%d", s, v.Major, v.Minor)
			}
			v.Major, v.Minor = major, minor
			v.Confluent = true
		}
	}
	return v, nil
}

// Feature is a part of the REST API that only newer workers have.
type Feature int

// Features and the Apache Kafka release that introduced them.
const (
	FeatureExpand              Feature = iota // GET /connectors?expand= (2.3)
	FeatureRestartIncludeTasks                // POST …/restart?includeTasks=&onlyFailed= (3.0)
	FeatureStop                               // PUT …/stop and the STOPPED state (3.5)
	FeatureReadOffsets                        // GET …/offsets (3.5)
	FeatureAlterOffsets                       // PATCH …/offsets (3.6)
	FeatureResetOffsets                       // DELETE …/offsets (3.6)
	FeatureInitialState                       // initial_state in POST /connectors (3.7)
	FeaturePatchConfig                        // PATCH …/config (3.8)
)

// featureInfo describes a feature: its endpoint and first release.
func featureInfo(f Feature) (desc string, major, minor int, ok bool) {
	switch f {
	case FeatureExpand:
		return "GET /connectors?expand=", 2, 3, true
	case FeatureRestartIncludeTasks:
		return "POST /connectors/{name}/restart?includeTasks=&onlyFailed=", 3, 0, true
	case FeatureStop:
		return "PUT /connectors/{name}/stop", 3, 5, true
	case FeatureReadOffsets:
		return "GET /connectors/{name}/offsets", 3, 5, true
	case FeatureAlterOffsets:
		return "PATCH /connectors/{name}/offsets", 3, 6, true
	case FeatureResetOffsets:
		return "DELETE /connectors/{name}/offsets", 3, 6, true
	case FeatureInitialState:
		return "initial_state in POST /connectors", 3, 7, true
	case FeaturePatchConfig:
		return "PATCH /connectors/{name}/config", 3, 8, true
	}
	return "", 0, 0, false
}

// String names the endpoint.
func (f Feature) String() string {
	desc, _, _, ok := featureInfo(f)
	if !ok {
		return fmt.Sprintf("Feature(%d)", int(f))
	}
	return desc
}

// Since returns the first Apache Kafka release with the feature.
func (f Feature) Since() (major, minor int) {
	_, major, minor, _ = featureInfo(f)
	return major, minor
}

// Capabilities says which features a worker has, from its version.
type Capabilities struct {
	Version Version
}

// CapabilitiesOf returns the capabilities of a worker of version v.
func CapabilitiesOf(v Version) Capabilities { return Capabilities{Version: v} }

// Supports reports whether the worker has feature f.
func (c Capabilities) Supports(f Feature) bool {
	_, major, minor, ok := featureInfo(f)
	return ok && c.Version.AtLeast(major, minor)
}

// Require returns an error naming the feature and the release that has it
// when the worker lacks it.
func (c Capabilities) Require(f Feature) error {
	if c.Supports(f) {
		return nil
	}
	major, minor := f.Since()
	return fmt.Errorf("kafka connect %s does not support %s: it needs Apache Kafka %d.%d or later", c.Version, f, major, minor)
}

// Capabilities reads the worker version (GET /) and returns what it supports.
func (c *Client) Capabilities(ctx context.Context) (Capabilities, error) {
	info, err := c.Root(ctx)
	if err != nil {
		return Capabilities{}, err
	}
	v, err := ParseVersion(info.Version)
	if err != nil {
		return Capabilities{}, fmt.Errorf("detecting what Kafka Connect at %s supports: %w", c.URL(), err)
	}
	return CapabilitiesOf(v), nil
}
