package command

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// configClients opens the clusters a configuration names, once each, and
// closes the Kafka clients on Close. It implements plan.Clients.
type configClients struct {
	cfg     *config.Config
	timeout time.Duration

	mu      sync.Mutex
	connect map[string]*connect.Client
	kafka   map[string]*kgo.Client
}

func newConfigClients(cfg *config.Config, timeout time.Duration) *configClients {
	return &configClients{cfg: cfg, timeout: timeout, connect: map[string]*connect.Client{}, kafka: map[string]*kgo.Client{}}
}

// Connect returns the REST client of a connect block.
func (c *configClients) Connect(b *config.Connect) (*connect.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.connect[b.Name]; cl != nil {
		return cl, nil
	}
	cc := connect.Config{URL: b.URL, Timeout: b.Timeout}
	if cc.Timeout == 0 {
		cc.Timeout = c.timeout
	}
	if b.BasicAuth != nil {
		cc.Username, cc.Password = b.BasicAuth.Username, b.BasicAuth.Password.Value()
	}
	cc.Token = b.Token.Value()
	if len(b.Headers) > 0 {
		cc.Headers = map[string]string{}
		for k, v := range b.Headers {
			cc.Headers[k] = v.Value()
		}
	}
	if b.TLS != nil {
		cc.CAFile, cc.CertFile, cc.KeyFile = c.cfg.Path(b.TLS.CAFile), c.cfg.Path(b.TLS.CertFile), c.cfg.Path(b.TLS.KeyFile)
		cc.InsecureSkipVerify = b.TLS.InsecureSkipVerify
	}
	cl, err := connect.New(cc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Addr(), err)
	}
	c.connect[b.Name] = cl
	return cl, nil
}

// Kafka returns the client of a kafka block.
func (c *configClients) Kafka(b *config.Kafka) (*kgo.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.kafka[b.Name]; cl != nil {
		return cl, nil
	}
	opts := []kgo.Opt{kgo.SeedBrokers(b.Brokers...), kgo.DialTimeout(c.timeout), kgo.RequestTimeoutOverhead(c.timeout)}
	if b.TLS != nil {
		tc, err := tlsConfig(c.cfg, b.TLS)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Addr(), err)
		}
		opts = append(opts, kgo.Dialer((&tls.Dialer{NetDialer: &net.Dialer{Timeout: c.timeout}, Config: tc}).DialContext))
	}
	if s := b.SASL; s != nil {
		switch s.Mechanism {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: s.Username, Pass: s.Password.Value()}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password.Value()}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.Username, Pass: s.Password.Value()}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("%s: SASL mechanism %q is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", b.Addr(), s.Mechanism)
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Addr(), err)
	}
	c.kafka[b.Name] = cl
	return cl, nil
}

// Close closes the Kafka clients.
func (c *configClients) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.kafka {
		cl.Close()
	}
	c.kafka = map[string]*kgo.Client{}
}

func tlsConfig(cfg *config.Config, t *config.TLS) (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // the operator asked for it
	if t.CAFile != "" {
		pem, err := os.ReadFile(cfg.Path(t.CAFile))
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Path(t.CertFile), cfg.Path(t.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
