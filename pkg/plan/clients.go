package plan

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// Clients opens connections to the clusters a configuration names. The
// command package builds it from the configuration; planning and apply use
// it and close nothing they did not open.
type Clients interface {
	// Connect returns the REST client of a connect block.
	Connect(c *config.Connect) (*connect.Client, error)
	// Kafka returns the Kafka client of a kafka block.
	Kafka(k *config.Kafka) (*kgo.Client, error)
}
