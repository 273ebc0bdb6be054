package connect_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// TestAuthHeaders checks what the server sees for each way of giving
// credentials.
func TestAuthHeaders(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*connect.Config)
		check func(t *testing.T, r *http.Request)
	}{
		{
			name: "basic auth fields",
			cfg:  func(c *connect.Config) { c.Username, c.Password = "ops", "pa:ss word" },
			check: func(t *testing.T, r *http.Request) {
				u, p, ok := r.BasicAuth()
				if !ok || u != "ops" || p != "pa:ss word" {
					t.Errorf("basic auth %q %q %v", u, p, ok)
				}
			},
		},
		{
			name: "credentials in the URL move to basic auth",
			cfg: func(c *connect.Config) {
				c.URL = strings.Replace(c.URL, "http://", "http://ops:p%40ss@", 1)
			},
			check: func(t *testing.T, r *http.Request) {
				u, p, ok := r.BasicAuth()
				if !ok || u != "ops" || p != "p@ss" {
					t.Errorf("basic auth %q %q %v", u, p, ok)
				}
			},
		},
		{
			name: "explicit user wins over the URL",
			cfg: func(c *connect.Config) {
				c.URL = strings.Replace(c.URL, "http://", "http://url-user:url-pw@", 1)
				c.Username, c.Password = "ops", "pw"
			},
			check: func(t *testing.T, r *http.Request) {
				u, p, _ := r.BasicAuth()
				if u != "ops" || p != "pw" {
					t.Errorf("basic auth %q %q", u, p)
				}
			},
		},
		{
			name: "bearer token and extra headers",
			cfg: func(c *connect.Config) {
				c.Token = "tok-123"
				c.Headers = map[string]string{"X-Tenant": "blue", "x-request-source": "offsetctl"}
			},
			check: func(t *testing.T, r *http.Request) {
				if got := r.Header.Get("Authorization"); got != "Bearer tok-123" {
					t.Errorf("Authorization %q", got)
				}
				if r.Header.Get("X-Tenant") != "blue" || r.Header.Get("X-Request-Source") != "offsetctl" {
					t.Errorf("headers %v", r.Header)
				}
			},
		},
		{
			name: "no credentials, no Authorization",
			cfg:  func(c *connect.Config) {},
			check: func(t *testing.T, r *http.Request) {
				if got := r.Header.Get("Authorization"); got != "" {
					t.Errorf("Authorization %q", got)
				}
				if got := r.Header.Get("Accept"); got != "application/json" {
					t.Errorf("Accept %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, exchange{method: "GET", uri: "/connectors", status: 200, body: `[]`,
				check: func(t *testing.T, r *http.Request, _ []byte) { tt.check(t, r) }})
			c := s.client(t, tt.cfg)
			if _, err := c.ListConnectors(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSecretsMasked checks that passwords, tokens and header values never
// appear in printed configs or in errors.
func TestSecretsMasked(t *testing.T) {
	secrets := []string{"hunter2-pw", "tok-SECRET-9", "hdr-SECRET-7", "urlpw-SECRET-3"}
	cfg := connect.Config{
		URL:      "http://admin:urlpw-SECRET-3@connect:8083",
		Username: "ops", Password: "hunter2-pw",
		Headers: map[string]string{"X-Api-Key": "hdr-SECRET-7"},
	}
	cfg2 := connect.Config{URL: "https://connect:8083", Token: "tok-SECRET-9"}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	js2, _ := json.Marshal(cfg2)
	printed := []string{
		cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), string(js),
		fmt.Sprintf("%v %+v %#v", cfg2, cfg2, cfg2), string(js2),
	}
	// Errors from New that echo the URL.
	for _, bad := range []connect.Config{
		{URL: "http://admin:urlpw-SECRET-3@connect:notaport"},
		{URL: "ftp://admin:urlpw-SECRET-3@connect"},
		{URL: "http://admin:urlpw-SECRET-3@connect?x=1"},
		{URL: "http://admin:urlpw-SECRET-3@connect", Token: "tok-SECRET-9"},
		{URL: "://admin:urlpw-SECRET-3@connect"},
	} {
		_, err := connect.New(bad)
		if err == nil {
			t.Fatalf("New(%v) should fail", bad)
		}
		printed = append(printed, err.Error())
	}
	// A 401 answer with a token configured.
	s := newScript(t, exchange{method: "GET", uri: "/", status: 401, body: connectError(401, "bad token")})
	c := s.client(t, func(c *connect.Config) { c.Token = "tok-SECRET-9" })
	_, err = c.Root(context.Background())
	printed = append(printed, err.Error())

	for _, p := range printed {
		for _, secret := range secrets {
			if strings.Contains(p, secret) {
				t.Errorf("secret %q leaked in %q", secret, p)
			}
		}
	}
	if !strings.Contains(cfg.String(), "Password: xxxxx") || !strings.Contains(cfg.String(), "X-Api-Key: xxxxx") ||
		!strings.Contains(cfg.String(), "http://admin:xxxxx@connect:8083") {
		t.Errorf("masked form unexpected: %s", cfg)
	}
}

// TestNewRefuses checks configuration mistakes caught before any request.
func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     connect.Config
		wantErr string
	}{
		{"empty URL", connect.Config{}, "the Kafka Connect URL is empty; set --connect-url or OFFSETCTL_CONNECT_URL"},
		{"no scheme", connect.Config{URL: "connect:8083"}, "the scheme must be http or https"},
		{"no host", connect.Config{URL: "http://"}, "no host"},
		{"query", connect.Config{URL: "http://connect:8083/?a=b"}, "may not carry a query"},
		{"bad port", connect.Config{URL: "http://connect:port"}, `invalid Kafka Connect URL "http://connect:port": invalid port`},
		{"basic and bearer", connect.Config{URL: "http://c", Username: "u", Token: "t"}, "use only one"},
		{"password without user", connect.Config{URL: "http://c", Password: "p"}, "password is set without a user name"},
		{"authorization header and token", connect.Config{URL: "http://c", Token: "t", Headers: map[string]string{"authorization": "x"}}, "Authorization header"},
		{"bad header name", connect.Config{URL: "http://c", Headers: map[string]string{"X Bad": "v"}}, `invalid HTTP header name "X Bad"`},
		{"header value with newline", connect.Config{URL: "http://c", Headers: map[string]string{"X-A": "v\r\nX-B: w"}}, "contains a line break"},
		{"negative timeout", connect.Config{URL: "http://c", Timeout: -1}, "timeout must be positive"},
		{"negative backoff", connect.Config{URL: "http://c", RetryBackoff: -1}, "retry backoff must be positive"},
		{"missing CA file", connect.Config{URL: "https://c", CAFile: filepath.Join(dir, "nope.pem")}, "reading the Kafka Connect CA file"},
		{"CA file without PEM", connect.Config{URL: "https://c", CAFile: notPEM}, "holds no PEM certificate"},
		{"cert without key", connect.Config{URL: "https://c", CertFile: notPEM}, "needs both a certificate file and a key file"},
		{"bad key pair", connect.Config{URL: "https://c", CertFile: notPEM, KeyFile: notPEM}, "loading the Kafka Connect client certificate"},
		{"TLS options with own client", connect.Config{URL: "https://c", InsecureSkipVerify: true, HTTPClient: &http.Client{}}, "cannot be combined with a custom HTTP client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connect.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type pki struct {
	caFile, clientCert, clientKey string
	serverCert                    tls.Certificate
	caPool                        *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	issue := func(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey := newKey()
	ca := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "offsetctl test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}, caKey, nil, nil)
	srvKey := newKey()
	srv := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "connect"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, srvKey, ca, caKey)
	cliKey := newKey()
	cli := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "offsetctl-client"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, cliKey, ca, caKey)

	p := &pki{caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	p.caFile = writePEM("ca.pem", "CERTIFICATE", ca.Raw)
	p.clientCert = writePEM("client.pem", "CERTIFICATE", cli.Raw)
	cliKeyDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM("client-key.pem", "EC PRIVATE KEY", cliKeyDER)
	p.serverCert = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey, Leaf: srv}
	return p
}

// TestTLS runs a TLS server that requires a client certificate from the test
// CA, and checks each TLS option against it.
func TestTLS(t *testing.T) {
	p := newPKI(t)
	var served atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "offsetctl-client" {
			t.Errorf("server saw no or the wrong client certificate")
		}
		_, _ = io.WriteString(w, `{"version":"3.8.0","commit":"c","kafka_cluster_id":"k"}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.caPool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	srv.StartTLS()
	defer srv.Close()

	tests := []struct {
		name    string
		cfg     connect.Config
		wantErr []string
	}{
		{name: "CA and client certificate", cfg: connect.Config{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}},
		{name: "skip verify with client certificate", cfg: connect.Config{InsecureSkipVerify: true, CertFile: p.clientCert, KeyFile: p.clientKey}},
		{name: "server not trusted", cfg: connect.Config{CertFile: p.clientCert, KeyFile: p.clientKey},
			wantErr: []string{"GET / at kafka connect " + srv.URL + " failed", "certificate", "--connect-ca-file"}},
		{name: "no client certificate", cfg: connect.Config{CAFile: p.caFile},
			wantErr: []string{"GET / at kafka connect " + srv.URL + " failed", "tls: ", "--connect-cert-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := served.Load()
			cfg := tt.cfg
			cfg.URL = srv.URL
			cfg.MaxRetries = -1
			c, err := connect.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Root(context.Background())
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if info.Version != "3.8.0" || served.Load() != before+1 {
					t.Fatalf("got %+v after %d requests", info, served.Load()-before)
				}
				return
			}
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if connect.IsRetryable(err) {
				t.Errorf("a TLS failure must not be retryable")
			}
			if served.Load() != before {
				t.Errorf("the handler ran although TLS failed")
			}
		})
	}
}
