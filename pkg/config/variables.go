package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvVarPrefix is the prefix of environment variables that set variables:
// OFFSETCTL_VAR_incident sets var.incident.
const EnvVarPrefix = "OFFSETCTL_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}},
}

func (d *decoder) declareVariable(b *hcl.Block) {
	name := b.Labels[0]
	if prev, dup := d.vars[name]; dup {
		d.errorf(b.LabelRanges[0], "Duplicate variable declaration", "A variable named %q was already declared at %s.", name, at(prev.DeclRange, b.DefRange))
		return
	}
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	content, diags := b.Body.Content(variableSchema)
	d.add(diags...)
	if a := content.Attributes["type"]; a != nil {
		ty, diags := typeexpr.TypeConstraint(a.Expr)
		d.add(diags...)
		if !diags.HasErrors() {
			v.Type = ty
		}
	}
	if a := content.Attributes["description"]; a != nil {
		val, diags := a.Expr.Value(nil)
		d.add(diags...)
		if !diags.HasErrors() {
			if s, err := convert.Convert(val, cty.String); err != nil || s.IsNull() {
				d.errorf(a.Expr.Range(), "Incorrect attribute value type", "The description of a variable must be a string.")
			} else {
				v.Description = s.AsString()
			}
		}
	}
	if a := content.Attributes["default"]; a != nil {
		val, diags := a.Expr.Value(nil)
		d.add(diags...)
		if !diags.HasErrors() {
			cv, err := convert.Convert(val, v.Type)
			if err != nil {
				d.errorf(a.Expr.Range(), "Invalid default value for variable", "This default value does not suit the variable's type: %s.", err.Error())
			} else {
				v.Default = cv
			}
		}
	}
	d.vars[name] = v
	d.cfg.Variables = append(d.cfg.Variables, v)
}

// resolveVariables gives each variable its value: -var over -var-file over
// OFFSETCTL_VAR_NAME over the default.
func (d *decoder) resolveVariables() {
	for _, v := range d.cfg.Variables {
		if v.Default != cty.NilVal {
			v.Value, v.ValueSource = v.Default, "default"
		}
		if raw := d.opts.Getenv(EnvVarPrefix + v.Name); raw != "" {
			origin := "env " + EnvVarPrefix + v.Name
			if val, ok := d.parseRawVar(v, raw, origin); ok {
				v.Value, v.ValueSource = val, origin
			}
		}
	}
	for _, path := range d.opts.VarFiles {
		d.readVarFile(path)
	}
	for _, opt := range d.opts.Vars {
		name, raw, ok := strings.Cut(opt, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option", Detail: fmt.Sprintf("The option -var %q is not NAME=VALUE. Write it like -var 'incident=INC-123'.", opt)})
			continue
		}
		v := d.vars[name]
		if v == nil {
			d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable", Detail: fmt.Sprintf("A value was given with -var for %q, but the configuration declares no variable %q.%s", name, name, suggestion(name, sortedKeys(d.vars)))})
			continue
		}
		if val, ok := d.parseRawVar(v, raw, "-var"); ok {
			v.Value, v.ValueSource = val, "-var"
		}
	}
	for _, v := range d.cfg.Variables {
		if v.Value != cty.NilVal {
			continue
		}
		if d.opts.AllowUnknown {
			v.Value, v.ValueSource = cty.UnknownVal(v.Type), "unset"
			continue
		}
		v.Value, v.ValueSource = cty.UnknownVal(v.Type), "unset"
		d.errorf(v.DeclRange, "No value for required variable", "The variable %q has no default and no value. Give it one with -var '%s=...', in a -var-file, or with the environment variable %s%s.", v.Name, v.Name, EnvVarPrefix, v.Name)
	}
}

// parseRawVar reads a value given as text (-var, OFFSETCTL_VAR_): literally
// for string and untyped variables, as an HCL expression otherwise.
func (d *decoder) parseRawVar(v *Variable, raw, origin string) (cty.Value, bool) {
	if v.Type == cty.String || v.Type == cty.DynamicPseudoType {
		return cty.StringVal(raw), true
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), fmt.Sprintf("<value for var.%s>", v.Name), hcl.InitialPos)
	if !diags.HasErrors() {
		var val cty.Value
		val, diags = expr.Value(nil)
		if !diags.HasErrors() {
			cv, err := convert.Convert(val, v.Type)
			if err == nil {
				return cv, true
			}
			diags = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable", Detail: err.Error()}}
		}
	}
	for _, diag := range diags {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value of variable %q from %s does not suit its type %s: %s", v.Name, origin, typeexpr.TypeString(v.Type), strings.TrimSuffix(diag.Detail, ".")+"."),
			Subject:  v.DeclRange.Ptr(),
		})
	}
	return cty.NilVal, false
}

// readVarFile reads one -var-file.
func (d *decoder) readVarFile(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read a variables file", Detail: fmt.Sprintf("Reading the -var-file %s failed: %v.", path, err)})
		return
	}
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = p.ParseJSON(src, path)
	} else {
		f, diags = p.ParseHCL(src, path)
	}
	d.add(diags...)
	if f == nil || diags.HasErrors() {
		return
	}
	d.cfg.Files[path] = f
	attrs, diags := f.Body.JustAttributes()
	d.add(diags...)
	for _, name := range sortedKeys(attrs) {
		a := attrs[name]
		v := d.vars[name]
		if v == nil {
			d.warnf(a.NameRange, "Value for undeclared variable", "The configuration declares no variable %q; this value is ignored.%s", name, suggestion(name, sortedKeys(d.vars)))
			continue
		}
		val, diags := a.Expr.Value(nil)
		d.add(diags...)
		if diags.HasErrors() {
			continue
		}
		cv, err := convert.Convert(val, v.Type)
		if err != nil {
			d.errorf(a.Expr.Range(), "Invalid value for variable", "The value of variable %q does not suit its type %s: %s.", name, typeexpr.TypeString(v.Type), err.Error())
			continue
		}
		v.Value, v.ValueSource = cv, "-var-file "+path
	}
}

// varObject is the var object of the evaluation context.
func (d *decoder) varObject() cty.Value {
	vals := map[string]cty.Value{}
	for name, v := range d.vars {
		vals[name] = v.Value
	}
	return cty.ObjectVal(vals)
}
