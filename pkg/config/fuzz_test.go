package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// FuzzLoad feeds arbitrary text to the decoder: it must return
// diagnostics, never panic. The corpus is every test configuration.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.hcl", "testdata/error-files/*.hcl", "testdata/vars/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(src))
		}
	}
	f.Add(`connect "a" { url = "http://c:1" }
connector "b" {
  connect = connect["a"]
  name    = var["x"]
}
offsets "o" {
  connector = connector.b.c
  copy_from = connector
}`)
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, allowUnknown := range []bool{false, true} {
			cfg, _ := Load(dir, Options{Getenv: testGetenv, AllowUnknown: allowUnknown})
			if cfg == nil {
				t.Fatal("nil Config")
			}
		}
	})
}

// fuzzVarsConfig declares a variable of every kind a value can be given
// for.
const fuzzVarsConfig = `
variable "s" {
  type    = string
  default = "d"
}
variable "n" {
  type    = number
  default = 1
}
variable "b" {
  type    = bool
  default = false
}
variable "l" {
  type    = list(string)
  default = []
}
variable "m" {
  type    = map(number)
  default = {}
}
variable "o" {
  type    = object({ a = string, b = list(number) })
  default = { a = "x", b = [] }
}
variable "u" {
  default = "untyped"
}
variable "password" {
  type    = string
  default = "pw"
}
connect "prod" {
  url = "http://connect:8083/${var.s}"
  basic_auth {
    username = "admin"
    password = var.password
  }
}
`

// FuzzVariables: a variables file (HCL or JSON) and -var values give
// values or diagnostics, never a panic. Values that load are written back
// as a variables file (hclwrite) and load again to the
// same values.
func FuzzVariables(f *testing.F) {
	for _, name := range []string{"testdata/vars/first.vars", "testdata/vars/second.json", "testdata/vars/undeclared.vars"} {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src), strings.HasSuffix(name, ".json"), "n=2")
	}
	f.Add(`s = "a\nb"
n = 1e3
b = true
l = ["x", "y"]
m = { a = 1, "b c" = -2.5 }
o = { a = "z", b = [1, 2] }
u = { any = ["thing"] }
`, false, `o={ a = "q", b = [3] }`)
	f.Add(`{"s": "${var.n}", "l": ["a"], "m": {"k": 1}, "o": {"a": "x", "b": [1]}}`, true, "l=[\"a\", 1]")
	f.Add(`n = var.s`, false, "b=maybe")
	f.Add(`password = "${upper("x")}"`, false, "password=p=q")
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(fuzzVarsConfig), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, file string, isJSON bool, rawVar string) {
		name := filepath.Join(t.TempDir(), "in.vars")
		if isJSON {
			name += ".json"
		}
		if err := os.WriteFile(name, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := Load(dir, Options{Getenv: testGetenv, VarFiles: []string{name}, Vars: []string{rawVar}})
		if cfg == nil {
			t.Fatal("nil Config")
		}
		if diags.HasErrors() {
			return
		}
		// Written back as a variables file.
		out := hclwrite.NewEmptyFile()
		for _, v := range cfg.Variables {
			out.Body().SetAttributeValue(v.Name, v.Value)
		}
		again := filepath.Join(t.TempDir(), "again.vars")
		if err := os.WriteFile(again, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg2, diags := Load(dir, Options{Getenv: testGetenv, VarFiles: []string{again}})
		if diags.HasErrors() {
			t.Fatalf("values of %q / -var %q written back as\n%s\ndo not load: %v", file, rawVar, out.Bytes(), diags)
		}
		for i, v := range cfg.Variables {
			if w := cfg2.Variables[i].Value; !v.Value.RawEquals(w) {
				t.Fatalf("variable %s: %#v, written back as\n%s\nloads as %#v", v.Name, v.Value, out.Bytes(), w)
			}
		}
	})
}
