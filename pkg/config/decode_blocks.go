package config

import (
	"fmt"
	"math"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/offsetctl/offsetctl/internal/redact"
)

var settingsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "require_reason"}, {Name: "required_approvals"}, {Name: "allowed_signers"}, {Name: "plan_max_age"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "state", LabelNames: []string{"type"}}},
}

func (d *decoder) decodeSettings(blocks []*hcl.Block) {
	for i, b := range blocks {
		if i > 0 {
			d.errorf(b.DefRange, "Duplicate offsetctl block", "The settings were already given in the offsetctl block at %s; there can be only one.", at(blocks[0].DefRange, b.DefRange))
			continue
		}
		s := d.cfg.Settings
		s.DeclRange = b.DefRange
		content, diags := b.Body.Content(settingsSchema)
		d.add(diags...)
		if v, ok := d.boolean(content.Attributes["require_reason"]); ok {
			s.RequireReason = v
		}
		if v, ok := d.integer(content.Attributes["required_approvals"], 0, 100); ok {
			s.RequiredApprovals = int(v)
		}
		if v, ok := d.nonEmpty(content.Attributes["allowed_signers"]); ok {
			s.AllowedSigners = v
			s.AllowedSignersRange = content.Attributes["allowed_signers"].Expr.Range()
		}
		if v, ok := d.duration(content.Attributes["plan_max_age"]); ok {
			s.PlanMaxAge = v
		}
		for j, sb := range content.Blocks {
			if j > 0 {
				d.errorf(sb.DefRange, "Duplicate state block", "The state backend was already given at %s; there can be only one.", at(content.Blocks[0].DefRange, sb.DefRange))
				continue
			}
			s.State = d.decodeState(sb)
		}
	}
}

var (
	stateBlocks         = []hcl.BlockHeaderSchema{{Type: "encryption"}}
	localStateSchema    = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}}, Blocks: stateBlocks}
	postgresStateSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "schema"}}, Blocks: stateBlocks}
	encryptionSchema    = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "key"}, {Name: "key_file"}, {Name: "key_command"},
		{Name: "previous_key"}, {Name: "previous_key_file"}, {Name: "previous_key_command"},
	}}
)

func (d *decoder) decodeState(b *hcl.Block) *StateBackend {
	st := &StateBackend{Type: b.Labels[0], DeclRange: b.DefRange}
	var schema *hcl.BodySchema
	switch st.Type {
	case "local":
		schema = localStateSchema
	case "postgres":
		schema = postgresStateSchema
	default:
		d.errorf(b.LabelRanges[0], "Unsupported state backend", "There is no state backend %q: use state \"local\" { path = \"...\" } or state \"postgres\" { url = ... }.%s", st.Type, suggestion(st.Type, []string{"local", "postgres"}))
		return nil
	}
	content, diags := b.Body.Content(schema)
	d.add(diags...)
	st.Ranges = rangesOf(content.Attributes)
	if v, ok := d.nonEmpty(content.Attributes["path"]); ok {
		st.Path = v
	}
	if v, ok := d.secret(content.Attributes["url"]); ok {
		st.URL = v
	}
	if v, ok := d.nonEmpty(content.Attributes["schema"]); ok {
		st.Schema = v
	}
	for i, eb := range content.Blocks {
		if i > 0 {
			d.errorf(eb.DefRange, "Duplicate encryption block", "The state's encryption was already given at %s; there can be only one.", at(content.Blocks[0].DefRange, eb.DefRange))
			continue
		}
		st.Encryption = d.decodeEncryption(eb)
	}
	return st
}

// decodeEncryption reads a state's encryption block: one source of the key
// (key, key_file or key_command) and, while rotating, at most one source of
// the previous key.
func (d *decoder) decodeEncryption(b *hcl.Block) *StateEncryption {
	content, diags := b.Body.Content(encryptionSchema)
	d.add(diags...)
	e := &StateEncryption{DeclRange: b.DefRange, Ranges: rangesOf(content.Attributes)}
	source := func(prefix string) (KeySource, int) {
		var ks KeySource
		n := 0
		if a := content.Attributes[prefix+"key"]; a != nil {
			n++
			ks.Key, _ = d.secret(a)
		}
		if a := content.Attributes[prefix+"key_file"]; a != nil {
			n++
			ks.File, _ = d.nonEmpty(a)
		}
		if a := content.Attributes[prefix+"key_command"]; a != nil {
			n++
			if argv, ok := d.strings(a); ok {
				if len(argv) == 0 || argv[0] == "" {
					d.errorf(a.Expr.Range(), "Invalid key command", "%skey_command is the command and its arguments, as a list of strings: [\"vault\", \"kv\", \"get\", \"-field=key\", \"secret/offsetctl\"]; it must not be empty.", prefix)
				} else {
					ks.Command = argv
				}
			}
		}
		return ks, n
	}
	var n int
	e.Key, n = source("")
	if n != 1 {
		d.errorf(b.DefRange, "Invalid encryption block", "The state's encryption block needs exactly one of key, key_file or key_command (found %d).", n)
	}
	if prev, n := source("previous_"); n > 1 {
		d.errorf(b.DefRange, "Invalid encryption block", "Give at most one of previous_key, previous_key_file or previous_key_command (found %d).", n)
	} else if n == 1 {
		e.Previous = &prev
	}
	return e
}

var tlsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "ca_file"}, {Name: "cert_file"}, {Name: "key_file"}, {Name: "insecure_skip_verify"},
}}

func (d *decoder) decodeTLS(blocks hcl.Blocks) *TLS {
	if len(blocks) == 0 {
		return nil
	}
	for _, b := range blocks[1:] {
		d.errorf(b.DefRange, "Duplicate tls block", "The TLS settings were already given at %s.", at(blocks[0].DefRange, b.DefRange))
	}
	b := blocks[0]
	t := &TLS{DeclRange: b.DefRange}
	content, diags := b.Body.Content(tlsSchema)
	d.add(diags...)
	t.CAFile, _ = d.nonEmpty(content.Attributes["ca_file"])
	t.CertFile, _ = d.nonEmpty(content.Attributes["cert_file"])
	t.KeyFile, _ = d.nonEmpty(content.Attributes["key_file"])
	t.InsecureSkipVerify, _ = d.boolean(content.Attributes["insecure_skip_verify"])
	if (content.Attributes["cert_file"] != nil) != (content.Attributes["key_file"] != nil) {
		d.errorf(b.DefRange, "Incomplete client certificate", "A client certificate needs both cert_file and key_file.")
	}
	return t
}

var connectSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}, {Name: "token"}, {Name: "headers"}, {Name: "timeout"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "basic_auth"}, {Type: "tls"}},
}

var basicAuthSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "username", Required: true}, {Name: "password", Required: true}}}

func (d *decoder) decodeConnect(b *hcl.Block, c *Connect) {
	content, diags := b.Body.Content(connectSchema)
	d.add(diags...)
	c.Ranges = rangesOf(content.Attributes)
	if a := content.Attributes["url"]; a != nil {
		if s, ok := d.nonEmpty(a); ok {
			if msg := checkHTTPURL(s); msg != "" {
				d.errorf(a.Expr.Range(), "Invalid URL", "%s", msg)
			} else {
				c.URL = strings.TrimRight(s, "/")
			}
		}
	}
	c.Token, _ = d.secret(content.Attributes["token"])
	c.Headers, _ = d.secretMap(content.Attributes["headers"])
	c.Timeout, _ = d.duration(content.Attributes["timeout"])
	var authBlocks, tlsBlocks hcl.Blocks
	for _, sb := range content.Blocks {
		if sb.Type == "basic_auth" {
			authBlocks = append(authBlocks, sb)
		} else {
			tlsBlocks = append(tlsBlocks, sb)
		}
	}
	for i, sb := range authBlocks {
		if i > 0 {
			d.errorf(sb.DefRange, "Duplicate basic_auth block", "Basic authentication was already given at %s.", at(authBlocks[0].DefRange, sb.DefRange))
			continue
		}
		ba := &BasicAuth{DeclRange: sb.DefRange}
		bc, diags := sb.Body.Content(basicAuthSchema)
		d.add(diags...)
		ba.Username, _ = d.nonEmpty(bc.Attributes["username"])
		ba.Password, _ = d.secret(bc.Attributes["password"])
		c.BasicAuth = ba
		if a := content.Attributes["token"]; a != nil {
			d.errorf(a.Range, "Conflicting authentication", "A connect block takes either basic_auth or token, not both.")
		}
	}
	c.TLS = d.decodeTLS(tlsBlocks)
}

// checkHTTPURL returns why s is not a usable Kafka Connect URL, or "".
func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("The Kafka Connect URL must be an http:// or https:// URL with a host, like \"http://connect:8083\", not %q.", redactURL(s))
	}
	if _, has := u.User.Password(); has {
		return "The Kafka Connect URL must not hold a password: use a basic_auth block with password = env(\"...\")."
	}
	return ""
}

// redactURL hides the password of a URL for a message.
func redactURL(s string) string {
	if _, err := url.Parse(s); err != nil && strings.Contains(s, "@") {
		return "(a URL that does not parse)"
	}
	return redact.URL(s)
}

var kafkaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "brokers", Required: true}, {Name: "offsets_topic"}, {Name: "config_topic"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "sasl"}, {Type: "tls"}},
}

var saslSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "mechanism", Required: true}, {Name: "username", Required: true}, {Name: "password", Required: true}}}

// DefaultOffsetsTopic is Kafka Connect's default offsets topic.
const DefaultOffsetsTopic = "connect-offsets"

// DefaultConfigTopic is Kafka Connect's default config topic
// (config.storage.topic).
const DefaultConfigTopic = "connect-configs"

func (d *decoder) decodeKafka(b *hcl.Block, k *Kafka) {
	content, diags := b.Body.Content(kafkaSchema)
	d.add(diags...)
	k.Ranges = rangesOf(content.Attributes)
	k.OffsetsTopic = DefaultOffsetsTopic
	if a := content.Attributes["brokers"]; a != nil {
		if list, ok := d.strings(a); ok {
			if len(list) == 0 {
				d.errorf(a.Expr.Range(), "Invalid value", "The list of brokers must not be empty.")
			}
			for _, br := range list {
				if strings.TrimSpace(br) == "" || strings.Contains(br, "://") {
					d.errorf(a.Expr.Range(), "Invalid value", "A broker is HOST:PORT, like \"kafka-1:9092\", not %q.", br)
					break
				}
			}
			k.Brokers = list
		}
	}
	if v, ok := d.nonEmpty(content.Attributes["offsets_topic"]); ok {
		k.OffsetsTopic = v
	}
	k.ConfigTopic = DefaultConfigTopic
	if v, ok := d.nonEmpty(content.Attributes["config_topic"]); ok {
		k.ConfigTopic = v
	}
	var saslBlocks, tlsBlocks hcl.Blocks
	for _, sb := range content.Blocks {
		if sb.Type == "sasl" {
			saslBlocks = append(saslBlocks, sb)
		} else {
			tlsBlocks = append(tlsBlocks, sb)
		}
	}
	for i, sb := range saslBlocks {
		if i > 0 {
			d.errorf(sb.DefRange, "Duplicate sasl block", "SASL was already configured at %s.", at(saslBlocks[0].DefRange, sb.DefRange))
			continue
		}
		s := &SASL{DeclRange: sb.DefRange}
		sc, diags := sb.Body.Content(saslSchema)
		d.add(diags...)
		if a := sc.Attributes["mechanism"]; a != nil {
			if m, ok := d.str(a); ok {
				switch strings.ToUpper(m) {
				case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
					s.Mechanism = strings.ToUpper(m)
				default:
					d.errorf(a.Expr.Range(), "Unsupported SASL mechanism", "The SASL mechanism must be \"PLAIN\", \"SCRAM-SHA-256\" or \"SCRAM-SHA-512\", not %q.", m)
				}
			}
		}
		s.Username, _ = d.nonEmpty(sc.Attributes["username"])
		s.Password, _ = d.secret(sc.Attributes["password"])
		k.SASL = s
	}
	k.TLS = d.decodeTLS(tlsBlocks)
}

var databaseSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}}}

func (d *decoder) decodeDatabase(b *hcl.Block, db *Database) {
	content, diags := b.Body.Content(databaseSchema)
	d.add(diags...)
	db.Ranges = rangesOf(content.Attributes)
	if a := content.Attributes["url"]; a != nil {
		if s, ok := d.secret(a); ok {
			if strings.TrimSpace(s.Value()) == "" {
				d.errorf(a.Expr.Range(), "Invalid value", "The database url must not be empty.")
			}
			db.URL = s
		}
	}
}

var connectorSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "connect", Required: true}, {Name: "kafka"}, {Name: "name", Required: true},
	{Name: "format"}, {Name: "source_database"}, {Name: "group"},
}}

func (d *decoder) decodeConnector(b *hcl.Block, c *Connector) {
	content, diags := b.Body.Content(connectorSchema)
	d.add(diags...)
	c.Ranges = rangesOf(content.Attributes)
	if n, ok := d.ref(content.Attributes["connect"], "connect"); ok {
		c.Connect = d.cfg.Connect(n)
	}
	if n, ok := d.ref(content.Attributes["kafka"], "kafka"); ok {
		c.Kafka = d.cfg.Kafka(n)
	}
	if n, ok := d.ref(content.Attributes["source_database"], "database"); ok {
		c.SourceDatabase = d.cfg.Database(n)
	}
	c.ConnectorName, _ = d.nonEmpty(content.Attributes["name"])
	if a := content.Attributes["format"]; a != nil {
		if f, ok := d.nonEmpty(a); ok {
			if !validCodecName(f) {
				d.errorf(a.Expr.Range(), "Invalid format", "A format is a codec name in lower case with dashes, like \"debezium-postgres\", not %q.", f)
			} else {
				c.Format = f
			}
		}
	}
	c.Group, _ = d.nonEmpty(content.Attributes["group"])
}

func validCodecName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s != "" && s[0] != '-'
}

// checkConnectors refuses two connector blocks for one connector of one
// Connect cluster: their operations would race.
func (d *decoder) checkConnectors() {
	seen := map[string]*Connector{}
	for _, c := range d.cfg.Connectors {
		if c.Connect == nil || c.ConnectorName == "" {
			continue
		}
		key := c.Connect.Name + "\x00" + c.ConnectorName
		if prev := seen[key]; prev != nil {
			d.errorf(c.Ranges["name"], "Duplicate connector", "The connector %q of %s is already declared as %s at %s.", c.ConnectorName, c.Connect.Addr(), prev.Addr(), at(prev.DeclRange, c.DeclRange))
			continue
		}
		seen[key] = c
	}
}

// maxInt64 bounds offsets and counts.
const maxInt64 = math.MaxInt64
