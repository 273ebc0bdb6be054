package command

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// connectClient builds the Kafka Connect client from the global flags and
// the environment (OFFSETCTL_CONNECT_PASSWORD, OFFSETCTL_CONNECT_TOKEN).
func (g *globalOptions) connectClient(deps *Deps) (*connect.Client, error) {
	if g.ConnectURL == "" {
		return nil, withHint(fmt.Errorf("no Kafka Connect URL"),
			"Set --connect-url or OFFSETCTL_CONNECT_URL. For the sandbox: offsetctl sandbox up > sandbox.env & then source sandbox.env.")
	}
	headers := map[string]string{}
	for i, h := range g.ConnectHeaders {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			// The text may be a credential typed without its name: not shown.
			return nil, flagErrorf("--connect-header number %d: expected 'Name: value' (the text given is not shown: it may hold a secret)", i+1)
		}
		headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	cfg := connect.Config{
		URL:                g.ConnectURL,
		Username:           g.ConnectUser,
		Password:           deps.Getenv("OFFSETCTL_CONNECT_PASSWORD"),
		Token:              deps.Getenv("OFFSETCTL_CONNECT_TOKEN"),
		Headers:            headers,
		CAFile:             g.ConnectCAFile,
		CertFile:           g.ConnectCertFile,
		KeyFile:            g.ConnectKeyFile,
		InsecureSkipVerify: g.InsecureSkipVerify,
		Timeout:            g.Timeout,
	}
	c, err := connect.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka connect settings: %w", err)
	}
	return c, nil
}

// kafkaClient builds a Kafka client from --bootstrap-servers. The caller
// closes it.
func (g *globalOptions) kafkaClient() (*kgo.Client, error) {
	if g.BootstrapServers == "" {
		return nil, withHint(fmt.Errorf("no Kafka bootstrap servers"),
			"Set --bootstrap-servers or OFFSETCTL_BOOTSTRAP_SERVERS: offsetctl reads the offsets topic and the sink consumer groups from Kafka.")
	}
	var seeds []string
	for _, s := range strings.Split(g.BootstrapServers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequestTimeoutOverhead(g.Timeout), kgo.DialTimeout(g.Timeout))
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", g.BootstrapServers, err)
	}
	return cl, nil
}
