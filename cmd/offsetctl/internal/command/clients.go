package command

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// configClients opens the clusters a configuration names, once each, and
// closes the Kafka clients on Close. It implements plan.Clients.
type configClients struct {
	cfg     *config.Config
	timeout time.Duration

	mu      sync.Mutex
	connect map[string]*connect.Client
	kafka   map[string]*kgo.Client
	dbs     map[string]*pgxpool.Pool
	mydbs   map[string]*sql.DB
}

func newConfigClients(cfg *config.Config, timeout time.Duration) *configClients {
	return &configClients{cfg: cfg, timeout: timeout, connect: map[string]*connect.Client{}, kafka: map[string]*kgo.Client{}, dbs: map[string]*pgxpool.Pool{}, mydbs: map[string]*sql.DB{}}
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

// Database returns a pool on a database block's URL (libpq's PG* variables
// and service files fill in what the URL leaves out). It implements
// plan.DatabaseClients.
func (c *configClients) Database(ctx context.Context, d *config.Database) (*pgxpool.Pool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.dbs[d.Name]; p != nil {
		return p, nil
	}
	if mysqlurl.Is(d.URL.Value()) {
		return nil, fmt.Errorf("%s (%s) is a MariaDB/MySQL database: it can serve as a reconcile source, or as the source_database of a Debezium MariaDB/MySQL connector, only", d.Addr(), d.URL.Redacted())
	}
	pcfg, err := pgxpool.ParseConfig(d.URL.Value())
	if err != nil {
		// pgx's parse errors can echo the connection string: say only where.
		return nil, fmt.Errorf("%s: the url is not a PostgreSQL connection string (%s)", d.Addr(), d.URL.Redacted())
	}
	if pcfg.ConnConfig.RuntimeParams == nil {
		pcfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	pcfg.ConnConfig.RuntimeParams["application_name"] = "offsetctl"
	pcfg.ConnConfig.ConnectTimeout = c.timeout
	cancelOnTheServer(pcfg.ConnConfig)
	p, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Addr(), err)
	}
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := p.Ping(pctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s (%s) does not answer: %w", d.Addr(), d.URL.Redacted(), err)
	}
	c.dbs[d.Name] = p
	return p, nil
}

// MySQLDatabase returns a pool on a database block's mysql:// or mariadb://
// URL. It implements plan.MySQLDatabaseClients.
func (c *configClients) MySQLDatabase(ctx context.Context, d *config.Database) (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.mydbs[d.Name]; p != nil {
		return p, nil
	}
	cfg, err := mysqlurl.Parse(d.URL.Value(), mysqlurl.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Addr(), err)
	}
	cfg.Timeout = c.timeout
	pctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	p, err := mysqlurl.OpenConfig(pctx, cfg, d.URL.Redacted())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Addr(), err)
	}
	c.mydbs[d.Name] = p
	return p, nil
}

// Close closes the Kafka clients and the database pools.
func (c *configClients) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.kafka {
		cl.Close()
	}
	c.kafka = map[string]*kgo.Client{}
	for _, p := range c.dbs {
		p.Close()
	}
	for _, p := range c.mydbs {
		p.Close()
	}
	c.mydbs = map[string]*sql.DB{}
	c.dbs = map[string]*pgxpool.Pool{}
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

var _ plan.DatabaseClients = (*configClients)(nil)

// cancelOnTheServer makes a cancelled context (Ctrl-C, SIGTERM, a timeout)
// cancel the running statement on the server too, and wait for that before
// the call returns. pgx's default only drops the connection, and a backend
// waiting for a lock does not notice a gone client until it gets the lock:
// it would stay queued behind the holder, and hold up every session queued
// behind it, after offsetctl has exited.
func cancelOnTheServer(cfg *pgx.ConnConfig) {
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelDeadline}
	}
}

// cancelDeadline bounds how long a cancelled call waits for the server's
// answer to the cancel request before the connection is dropped anyway.
const cancelDeadline = 2 * time.Second
