package config

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// blockKinds are the block types that can be referenced as TYPE.NAME.
var blockKinds = map[string]string{
	"connect":   "connect",
	"kafka":     "kafka",
	"database":  "database",
	"connector": "connector",
	"offsets":   "offsets",
	"reconcile": "reconcile",
}

// decoder holds what decoding one configuration needs. It lives for one Load.
type decoder struct {
	cfg   *Config
	opts  Options
	diags hcl.Diagnostics
	ctx   *hcl.EvalContext

	vars       map[string]*Variable
	localExprs map[string]*hcl.Attribute
	localVals  map[string]cty.Value
	localState map[string]int // 0 unvisited, 1 in progress, 2 done

	// names declared per block kind, for reference checks
	declared map[string]map[string]hcl.Range

	unknown     bool // an unknown value was met
	lastUnknown bool // the last value() was unknown
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

func (d *decoder) errorf(subject hcl.Range, summary, format string, args ...any) {
	d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: subject.Ptr()})
}

func (d *decoder) warnf(subject hcl.Range, summary, format string, args ...any) {
	d.add(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: subject.Ptr()})
}

// suggestion returns ` Did you mean "x"?` for the closest of names to given,
// or "".
func suggestion(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if dist := levenshtein.Distance(given, n, nil); dist < bestDist {
			best, bestDist = n, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkRefs reports references in a value expression that the language does
// not allow or that name nothing; it returns false when there was one.
func (d *decoder) checkRefs(expr hcl.Expression) bool {
	ok := true
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		rng := tr.SourceRange()
		var attr string
		if len(tr) > 1 {
			if a, isAttr := tr[1].(hcl.TraverseAttr); isAttr {
				attr = a.Name
			}
		}
		switch root {
		case "var":
			if attr == "" {
				d.errorf(rng, "Invalid reference", "A variable is referenced as var.NAME, like var.incident.")
				ok = false
			} else if _, found := d.vars[attr]; !found {
				d.errorf(rng, "Reference to undeclared input variable", "An input variable named %q has not been declared; declare it with a variable %q block.%s", attr, attr, suggestion(attr, sortedKeys(d.vars)))
				ok = false
			}
		case "local":
			if attr == "" {
				d.errorf(rng, "Invalid reference", "A local value is referenced as local.NAME.")
				ok = false
			} else if _, found := d.localExprs[attr]; !found {
				d.errorf(rng, "Reference to undeclared local value", "A local value named %q has not been declared in a locals block.%s", attr, suggestion(attr, sortedKeys(d.localExprs)))
				ok = false
			}
		default:
			if kind, isBlock := blockKinds[root]; isBlock {
				d.errorf(rng, "Invalid reference", "A %s block has no value to use in an expression. It can only be referenced on its own, as %s.NAME, by an attribute that expects a %s (such as connector = connector.orders_sink).", kind, kind, kind)
			} else {
				d.errorf(rng, "Invalid reference", "There is nothing called %q here. An expression can refer to var.NAME and local.NAME; blocks are referenced as connect.NAME, kafka.NAME, database.NAME or connector.NAME by the attributes that expect them.", root)
			}
			ok = false
		}
	}
	return ok
}

// value evaluates attr's expression and converts it to ty. ok is false when
// the value is unusable: an error (reported), null, or unknown.
func (d *decoder) value(attr *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	d.lastUnknown = false
	if !d.checkRefs(attr.Expr) {
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(d.ctx)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.unknown, d.lastUnknown = true, true
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errorf(attr.Expr.Range(), "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", attr.Name, err.Error())
		return cty.NilVal, false
	}
	return cv, true
}

func (d *decoder) str(attr *hcl.Attribute) (string, bool) {
	if attr == nil {
		return "", false
	}
	v, ok := d.value(attr, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

// nonEmpty is str that also refuses "".
func (d *decoder) nonEmpty(attr *hcl.Attribute) (string, bool) {
	s, ok := d.str(attr)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(attr.Expr.Range(), "Invalid value", "The attribute %q must not be empty.", attr.Name)
		return "", false
	}
	return s, ok
}

func (d *decoder) boolean(attr *hcl.Attribute) (bool, bool) {
	if attr == nil {
		return false, false
	}
	v, ok := d.value(attr, cty.Bool)
	if !ok {
		return false, false
	}
	return v.True(), true
}

// integer reads a whole number in [min, max].
func (d *decoder) integer(attr *hcl.Attribute, min, max int64) (int64, bool) {
	if attr == nil {
		return 0, false
	}
	v, ok := d.value(attr, cty.Number)
	if !ok {
		return 0, false
	}
	return d.wholeNumber(attr.Name, v.AsBigFloat(), attr.Expr.Range(), min, max)
}

func (d *decoder) wholeNumber(name string, f *big.Float, rng hcl.Range, min, max int64) (int64, bool) {
	if !f.IsInt() {
		d.errorf(rng, "Invalid value", "The attribute %q must be a whole number, not %s.", name, f.Text('f', -1))
		return 0, false
	}
	i, acc := f.Int64()
	if acc != big.Exact || i < min || i > max {
		if max >= maxInt64-1 {
			d.errorf(rng, "Invalid value", "The attribute %q must be a whole number of at least %d, not %s.", name, min, f.Text('f', -1))
		} else {
			d.errorf(rng, "Invalid value", "The attribute %q must be between %d and %d, not %s.", name, min, max, f.Text('f', -1))
		}
		return 0, false
	}
	return i, true
}

func (d *decoder) strings(attr *hcl.Attribute) ([]string, bool) {
	if attr == nil {
		return nil, false
	}
	v, ok := d.value(attr, cty.List(cty.String))
	if !ok {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.errorf(attr.Expr.Range(), "Invalid value", "The list %q must not contain null.", attr.Name)
			return nil, false
		}
		out = append(out, e.AsString())
	}
	return out, true
}

func (d *decoder) duration(attr *hcl.Attribute) (time.Duration, bool) {
	s, ok := d.str(attr)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		d.errorf(attr.Expr.Range(), "Invalid duration", "The attribute %q must be a positive duration like \"30s\" or \"2m\", not %q.", attr.Name, s)
		return 0, false
	}
	return dur, true
}

// secret reads a string attribute into a Secret, recording where it came from.
func (d *decoder) secret(attr *hcl.Attribute) (Secret, bool) {
	s, ok := d.str(attr)
	if !ok {
		return Secret{}, false
	}
	return NewSecret(s, d.secretSource(attr.Expr, 0)), true
}

func (d *decoder) secretMap(attr *hcl.Attribute) (map[string]Secret, bool) {
	if attr == nil {
		return nil, false
	}
	v, ok := d.value(attr, cty.Map(cty.String))
	if !ok {
		return nil, false
	}
	out := map[string]Secret{}
	src := "expression"
	// The source of each value of an object constructor is its own expression.
	items := map[string]hcl.Expression{}
	if oc, isObj := attr.Expr.(*hclsyntax.ObjectConsExpr); isObj {
		for _, item := range oc.Items {
			if k, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String && k.IsKnown() && !k.IsNull() {
				items[k.AsString()] = item.ValueExpr
			}
		}
	}
	for k, e := range v.AsValueMap() {
		if e.IsNull() {
			d.errorf(attr.Expr.Range(), "Invalid value", "The value of %q in %q must not be null.", k, attr.Name)
			return nil, false
		}
		s := src
		if ve, found := items[k]; found {
			s = d.secretSource(ve, 0)
		}
		out[k] = NewSecret(e.AsString(), s)
	}
	return out, true
}

// secretSource names the origin of a secret from the shape of its
// expression, without evaluating anything new.
func (d *decoder) secretSource(expr hcl.Expression, depth int) string {
	if depth > 8 {
		return "expression"
	}
	switch e := expr.(type) {
	case *hclsyntax.TemplateWrapExpr:
		return d.secretSource(e.Wrapped, depth+1)
	case *hclsyntax.TemplateExpr:
		if e.IsStringLiteral() {
			return "literal"
		}
		if len(e.Parts) == 1 {
			return d.secretSource(e.Parts[0], depth+1)
		}
	case *hclsyntax.LiteralValueExpr:
		return "literal"
	case *hclsyntax.FunctionCallExpr:
		if e.Name == "env" && len(e.Args) >= 1 {
			if n, diags := e.Args[0].Value(nil); !diags.HasErrors() && n.Type() == cty.String && n.IsKnown() && !n.IsNull() {
				return "env " + n.AsString()
			}
		}
		if e.Name == "file" && len(e.Args) == 1 {
			if n, diags := e.Args[0].Value(nil); !diags.HasErrors() && n.Type() == cty.String && n.IsKnown() && !n.IsNull() {
				return "file " + n.AsString()
			}
		}
	case *hclsyntax.ScopeTraversalExpr:
		if step, isAttr := traversalAttr(e.Traversal); isAttr {
			name := step
			switch e.Traversal.RootName() {
			case "var":
				if v := d.vars[name]; v != nil {
					return "variable " + name + " (" + v.ValueSource + ")"
				}
			case "local":
				if a := d.localExprs[name]; a != nil {
					if s := d.secretSource(a.Expr, depth+1); s != "expression" && s != "literal" {
						return s
					}
					return "local " + name
				}
			}
		}
	}
	return "expression"
}

// ref reads a reference to a block of kind, like connector.orders_sink,
// without evaluating it, and checks that the block exists.
func (d *decoder) ref(attr *hcl.Attribute, kind string) (string, bool) {
	if attr == nil {
		return "", false
	}
	tr, diags := hcl.AbsTraversalForExpr(attr.Expr)
	name, isAttr := traversalAttr(tr)
	if diags.HasErrors() || !isAttr || tr.RootName() != kind {
		hint := ""
		if _, isTemplate := attr.Expr.(*hclsyntax.TemplateExpr); isTemplate {
			hint = " Write it without quotes."
		}
		d.errorf(attr.Expr.Range(), "Invalid reference", "The attribute %q expects a reference to a %s block, like %s.NAME.%s", attr.Name, kind, kind, hint)
		return "", false
	}
	if _, found := d.declared[kind][name]; !found {
		d.errorf(attr.Expr.Range(), fmt.Sprintf("Reference to undeclared %s block", kind), "There is no %s block named %q.%s", kind, name, suggestion(name, sortedKeys(d.declared[kind])))
		return "", false
	}
	return name, true
}

// at names where r is, for a message about something at here: "line 12"
// in the same file, "other.hcl line 12" otherwise.
func at(r hcl.Range, here hcl.Range) string {
	if r.Filename == here.Filename {
		return fmt.Sprintf("line %d", r.Start.Line)
	}
	return fmt.Sprintf("%s line %d", r.Filename, r.Start.Line)
}

// traversalAttr returns NAME of a two-step traversal ROOT.NAME.
func traversalAttr(tr hcl.Traversal) (string, bool) {
	if len(tr) != 2 {
		return "", false
	}
	a, ok := tr[1].(hcl.TraverseAttr)
	return a.Name, ok
}

// rangesOf records the expression range of each attribute.
func rangesOf(attrs hcl.Attributes) map[string]hcl.Range {
	out := make(map[string]hcl.Range, len(attrs))
	for name, a := range attrs {
		out[name] = a.Expr.Range()
	}
	return out
}
