// Package sandbox is the world offsetctl's demo and tests run against: an
// in-process Kafka (franz-go's kfake, over the real protocol on a loopback
// port) and a Kafka Connect REST emulator.
package sandbox

import (
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
)
