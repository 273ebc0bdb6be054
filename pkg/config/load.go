package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Options are the inputs of Load besides the files.
type Options struct {
	// Vars are -var options, "NAME=VALUE", in the order given; a later one
	// wins. VALUE is taken literally for string (and untyped) variables and
	// parsed as an HCL expression for other types.
	Vars []string
	// VarFiles are -var-file paths, in the order given; a later file wins.
	// A file whose name ends in .json is read as JSON, any other as HCL
	// (NAME = VALUE lines). Keep var files out of the configuration
	// directory, or name them other than *.hcl.
	VarFiles []string
	// Getenv reads the environment, for env() and OFFSETCTL_VAR_NAME; nil
	// means an empty environment. An empty value counts as unset.
	Getenv func(string) string
	// AllowUnknown turns missing inputs (variables without a value, unset
	// environment variables in env()) into unknown values instead of
	// errors, and skips the checks that need them: for offsetctl validate,
	// which runs without secrets. The returned Config is then Partial.
	AllowUnknown bool
}

// Load reads every *.hcl file of dir (not its subdirectories; files whose
// name starts with a dot are ignored) and decodes them as one
// configuration. The returned Config is never nil, even with errors, so that
// its Files can print the diagnostics; use it only when the diagnostics have
// no errors.
func Load(dir string, opts Options) (*Config, hcl.Diagnostics) {
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		cfg := &Config{Dir: dir, Files: map[string]*hcl.File{}, Settings: newSettings()}
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Not a directory",
			Detail:   fmt.Sprintf("%s is a file. The configuration is every *.hcl file of a directory: give the directory, %s.", dir, filepath.Dir(dir)),
		}}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		cfg := &Config{Dir: dir, Files: map[string]*hcl.File{}, Settings: newSettings()}
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the configuration directory",
			Detail:   fmt.Sprintf("Reading %s failed: %v.", dir, err),
		}}
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".hcl") {
			continue
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		cfg := &Config{Dir: dir, Files: map[string]*hcl.File{}, Settings: newSettings()}
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   fmt.Sprintf("There is no *.hcl file in %q: run offsetctl in the directory of your configuration, or point at it with -chdir DIR.", dir),
		}}
	}
	return LoadFiles(dir, names, opts)
}

// LoadFiles decodes the named files as one configuration whose directory is
// dir; relative names are relative to dir. Files are read in sorted order.
func LoadFiles(dir string, names []string, opts Options) (*Config, hcl.Diagnostics) {
	sources := map[string][]byte{}
	var diags hcl.Diagnostics
	for _, n := range names {
		p := n
		if !filepath.IsAbs(n) {
			p = filepath.Join(dir, n)
		}
		src, err := os.ReadFile(p)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read a configuration file", Detail: fmt.Sprintf("Reading %s failed: %v.", p, err)})
			continue
		}
		sources[p] = src
	}
	if diags.HasErrors() {
		cfg := &Config{Dir: dir, Files: map[string]*hcl.File{}, Settings: newSettings()}
		return cfg, diags
	}
	return LoadSources(dir, sources, opts)
}

// LoadSources decodes configuration text held in memory, by file name (the
// names diagnostics show), as one configuration whose directory is dir.
// Files are decoded in name order. It is Load without the directory
// listing, for tests and for tools that hold the text already.
func LoadSources(dir string, sources map[string][]byte, opts Options) (*Config, hcl.Diagnostics) {
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	cfg := &Config{Dir: dir, Files: map[string]*hcl.File{}, Settings: newSettings(), Locals: map[string]cty.Value{}}
	d := &decoder{
		cfg:        cfg,
		opts:       opts,
		vars:       map[string]*Variable{},
		localExprs: map[string]*hcl.Attribute{},
		localVals:  map[string]cty.Value{},
		localState: map[string]int{},
		declared:   map[string]map[string]hcl.Range{},
	}
	parser := hclparse.NewParser()
	var blocks []*hcl.Block
	unreadable := false
	for _, p := range sortedKeys(sources) {
		f, diags := parser.ParseHCL(sources[p], p)
		d.add(diags...)
		if f == nil {
			unreadable = true
			continue
		}
		cfg.Files[p] = f
		if !diags.HasErrors() {
			d.add(literalPasswordWarnings(f)...)
		}
		if diags.HasErrors() {
			unreadable = true
			continue // a file that does not parse is not decoded further
		}
		// Unknown blocks and attributes are reported here and dropped;
		// the rest is still decoded, to report as much as possible at once.
		content, diags := f.Body.Content(topSchema)
		d.add(diags...)
		blocks = append(blocks, content.Blocks...)
	}
	if unreadable {
		// Decoding without some of the files would report references to
		// their blocks as undeclared: only the syntax errors are useful.
		return cfg, d.diags
	}
	d.decode(blocks)
	cfg.Partial = d.unknown
	if !d.diags.HasErrors() {
		computeHashes(cfg)
	}
	return cfg, d.diags
}

var topSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "offsetctl"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "connect", LabelNames: []string{"name"}},
		{Type: "kafka", LabelNames: []string{"name"}},
		{Type: "database", LabelNames: []string{"name"}},
		{Type: "connector", LabelNames: []string{"name"}},
		{Type: "offsets", LabelNames: []string{"name"}},
		{Type: "reconcile", LabelNames: []string{"name"}},
		{Type: "policy", LabelNames: []string{"name"}},
	},
}

// decode runs the passes: variables, locals, the names of referenceable
// blocks, then every block.
func (d *decoder) decode(blocks []*hcl.Block) {
	byType := map[string][]*hcl.Block{}
	for _, b := range blocks {
		if len(b.Labels) == 1 && !hclsyntax.ValidIdentifier(b.Labels[0]) {
			d.errorf(b.LabelRanges[0], "Invalid name", "The name %q of this %s block is not valid: a name starts with a letter or an underscore and holds only letters, digits, underscores and dashes, so that it can be referenced as %s.NAME.", b.Labels[0], b.Type, b.Type)
			continue
		}
		byType[b.Type] = append(byType[b.Type], b)
	}

	// Pass 1: variables and their values.
	for _, b := range byType["variable"] {
		d.declareVariable(b)
	}
	d.resolveVariables()

	// Pass 2: locals.
	for _, b := range byType["locals"] {
		attrs, diags := b.Body.JustAttributes()
		d.add(diags...)
		for _, name := range sortedKeys(attrs) {
			a := attrs[name]
			if prev, dup := d.localExprs[name]; dup {
				d.errorf(a.NameRange, "Duplicate local value", "A local value named %q was already declared at %s.", name, at(prev.NameRange, a.NameRange))
				continue
			}
			d.localExprs[name] = a
		}
	}
	d.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": d.varObject()},
		Functions: Functions(d.cfg.Dir, d.opts.Getenv, d.opts.AllowUnknown),
	}
	for _, name := range sortedKeys(d.localExprs) {
		d.evalLocal(name)
	}
	d.ctx.Variables["local"] = cty.ObjectVal(d.localVals)
	for k, v := range d.localVals {
		d.cfg.Locals[k] = v
	}

	// Pass 3: the names of every named block, so that references resolve
	// whatever the order of declaration.
	for _, kind := range []string{"connect", "kafka", "database", "connector", "offsets", "reconcile", "policy"} {
		seen := map[string]hcl.Range{}
		var kept []*hcl.Block
		for _, b := range byType[kind] {
			name := b.Labels[0]
			if prev, dup := seen[name]; dup {
				d.errorf(b.LabelRanges[0], fmt.Sprintf("Duplicate %s block", kind), "A %s block named %q was already declared at %s. Names must be unique within a block type.", kind, name, at(prev, b.DefRange))
				continue
			}
			seen[name] = b.DefRange
			kept = append(kept, b)
		}
		d.declared[kind] = seen
		byType[kind] = kept
	}

	// Pass 4: the blocks.
	d.decodeSettings(byType["offsetctl"])
	for _, b := range byType["connect"] {
		d.cfg.Connects = append(d.cfg.Connects, &Connect{Name: b.Labels[0], DeclRange: b.DefRange})
	}
	for _, b := range byType["kafka"] {
		d.cfg.Kafkas = append(d.cfg.Kafkas, &Kafka{Name: b.Labels[0], DeclRange: b.DefRange})
	}
	for _, b := range byType["database"] {
		d.cfg.Databases = append(d.cfg.Databases, &Database{Name: b.Labels[0], DeclRange: b.DefRange})
	}
	for _, b := range byType["connector"] {
		d.cfg.Connectors = append(d.cfg.Connectors, &Connector{Name: b.Labels[0], DeclRange: b.DefRange})
	}
	for i, b := range byType["connect"] {
		d.decodeConnect(b, d.cfg.Connects[i])
	}
	for i, b := range byType["kafka"] {
		d.decodeKafka(b, d.cfg.Kafkas[i])
	}
	for i, b := range byType["database"] {
		d.decodeDatabase(b, d.cfg.Databases[i])
	}
	for i, b := range byType["connector"] {
		d.decodeConnector(b, d.cfg.Connectors[i])
	}
	d.checkConnectors()
	for _, b := range byType["offsets"] {
		if o := d.decodeOffsets(b); o != nil {
			d.cfg.Offsets = append(d.cfg.Offsets, o)
		}
	}
	for _, b := range byType["reconcile"] {
		if r := d.decodeReconcile(b); r != nil {
			d.cfg.Reconciles = append(d.cfg.Reconciles, r)
		}
	}
	for _, b := range byType["policy"] {
		d.cfg.Policies = append(d.cfg.Policies, d.decodePolicy(b))
	}
}

// evalLocal evaluates one local value after the local values it refers to.
func (d *decoder) evalLocal(name string) cty.Value {
	switch d.localState[name] {
	case 2:
		return d.localVals[name]
	case 1:
		a := d.localExprs[name]
		d.errorf(a.Expr.Range(), "Cycle in local values", "The local value %q refers to itself, directly or through other local values.", name)
		d.localVals[name] = cty.DynamicVal
		return cty.DynamicVal
	}
	d.localState[name] = 1
	a := d.localExprs[name]
	val := cty.DynamicVal
	if d.checkRefs(a.Expr) {
		for _, tr := range a.Expr.Variables() {
			if tr.RootName() == "local" && len(tr) > 1 {
				if dep, ok := tr[1].(hcl.TraverseAttr); ok {
					d.evalLocal(dep.Name)
				}
			}
		}
		ctx := d.ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(copyVals(d.localVals))}
		v, diags := a.Expr.Value(ctx)
		d.add(diags...)
		if !diags.HasErrors() {
			val = v
		}
	}
	if d.localState[name] != 2 { // a cycle may have set it already
		d.localVals[name] = val
	}
	d.localState[name] = 2
	return d.localVals[name]
}

func copyVals(m map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
