package config

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{in: "0/0", want: 0},
		{in: "0/2360E30", want: 0x2360E30},
		{in: "16/B374D848", want: 0x16<<32 | 0xB374D848},
		{in: "16/b374d848", want: 0x16<<32 | 0xB374D848},
		{in: "1/0", want: 1 << 32},
		{in: "FFFFFFFF/FFFFFFFF", want: 18446744073709551615},
		{in: "", wantErr: "not an LSN"},
		{in: "2360E30", wantErr: "separated by a slash"},
		{in: "0/", wantErr: "second part must be 1 to 8 hexadecimal digits"},
		{in: "/0", wantErr: "first part must be 1 to 8 hexadecimal digits"},
		{in: "100000000/0", wantErr: "first part must be 1 to 8"},
		{in: "0/100000000", wantErr: "second part must be 1 to 8"},
		{in: "0/2360G30", wantErr: "'G' is not a hexadecimal digit"},
		{in: "+1/0", wantErr: "'+' is not a hexadecimal digit"},
		{in: "0/1/2", wantErr: "'/' is not a hexadecimal digit"},
		{in: " 0/1", wantErr: "' ' is not a hexadecimal digit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLSN(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLSN(%q) = %d, %v; want error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLSN(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

// evalFn evaluates one expression with the language's functions.
func evalFn(t *testing.T, src string, getenv func(string) string, allowUnknown bool) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %v", src, diags)
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return expr.Value(&hcl.EvalContext{Functions: Functions("testdata", getenv, allowUnknown)})
}

// TestLSNExact checks that lsn() gives exact numbers all the way to the
// canonical JSON of an offset, including the largest LSN, which a float64
// would round to 18446744073709551616.
func TestLSNExact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0/2360E30", "37097008"},
		{"FFFFFFFF/FFFFFFFF", "18446744073709551615"},
		{"FFFFFFFF/FFFFFFFE", "18446744073709551614"},
		{"1FFFFF/FFFFFFFF", "9007199254740991"}, // 2^53-1
		{"200000/00000001", "9007199254740993"}, // 2^53+1: not a float64
	} {
		v, diags := evalFn(t, `{ lsn = lsn("`+tt.in+`") }`, nil, false)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if got := v.GetAttr("lsn").AsBigFloat().Text('f', -1); got != tt.want {
			t.Errorf("lsn(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if i, acc := v.GetAttr("lsn").AsBigFloat().Uint64(); acc != big.Exact || new(big.Int).SetUint64(i).String() != tt.want {
			t.Errorf("lsn(%q) as uint64 = %d (%v), want %s", tt.in, i, acc, tt.want)
		}
		js, err := canonicalJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(js) != `{"lsn":`+tt.want+`}` {
			t.Errorf("JSON = %s", js)
		}
	}
}

func TestLSNInOffsetsBlock(t *testing.T) {
	dir := t.TempDir()
	src := `
connect "c" { url = "http://connect:8083" }
connector "inv" {
  connect = connect.c
  name    = "inventory"
}
offsets "rewind" {
  connector = connector.inv
  reason    = "test"
  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("FFFFFFFF/FFFFFFFF"), txId = 649, lsn_proc = lsn("0/2360E30"), ts_usec = epoch_micros("2026-11-20T10:00:00.123456Z") }
    merge     = true
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir, Options{})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	sp := cfg.Operation("rewind").SourcePartitions[0]
	want := `{"lsn":18446744073709551615,"lsn_proc":37097008,"ts_usec":1795168800123456,"txId":649}`
	if string(sp.Offset) != want {
		t.Errorf("offset = %s\nwant     %s", sp.Offset, want)
	}
	if string(sp.Partition) != `{"server":"dbserver1"}` || !sp.Merge {
		t.Errorf("partition = %s, merge = %v", sp.Partition, sp.Merge)
	}
	var back map[string]json.Number
	dec := json.NewDecoder(strings.NewReader(string(sp.Offset)))
	dec.UseNumber()
	if err := dec.Decode(&back); err != nil || back["lsn"].String() != "18446744073709551615" {
		t.Errorf("decode = %v, %v", back, err)
	}
}

func TestFunctions(t *testing.T) {
	env := func(k string) string { return map[string]string{"SET": "value"}[k] }
	tests := []struct {
		expr    string
		want    cty.Value
		wantErr string
	}{
		{expr: `env("SET")`, want: cty.StringVal("value")},
		{expr: `env("UNSET", "fallback")`, want: cty.StringVal("fallback")},
		{expr: `env("SET", "fallback")`, want: cty.StringVal("value")},
		{expr: `env("UNSET")`, wantErr: "environment variable UNSET is not set"},
		{expr: `env("")`, wantErr: "name is empty"},
		{expr: `timestamp("2026-11-20T12:00:00+02:00")`, want: cty.StringVal("2026-11-20T10:00:00Z")},
		{expr: `timestamp("2026-11-20T10:00:00.250Z")`, want: cty.StringVal("2026-11-20T10:00:00.25Z")},
		{expr: `timestamp("20 Nov 2026")`, wantErr: "not an RFC 3339 time"},
		{expr: `epoch_millis("1970-01-01T00:00:01.5009Z")`, want: cty.NumberIntVal(1500)},
		{expr: `epoch_millis("2026-11-20T10:00:00Z")`, want: cty.NumberIntVal(1795168800000)},
		{expr: `epoch_micros("1970-01-01T00:00:01.5009Z")`, want: cty.NumberIntVal(1500900)},
		{expr: `jsondecode("{\"lsn\": 18446744073709551615}").lsn`, want: cty.NumberUIntVal(18446744073709551615)},
		{expr: `jsonencode({ b = 1, a = "x" })`, want: cty.StringVal(`{"a":"x","b":1}`)},
		{expr: `file("vars/second.json")`, want: cty.StringVal("{\"a\": \"from second.json\", \"b\": 2}\n")},
		{expr: `file("vars/nope")`, wantErr: "cannot read the file"},
		{expr: `format("%s-%d", upper("inc"), 42)`, want: cty.StringVal("INC-42")},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, diags := evalFn(t, tt.expr, env, false)
			if tt.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.wantErr) {
					t.Fatalf("got %#v, %v; want error with %q", got, diags, tt.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !got.RawEquals(tt.want) && !(got.Type() == cty.Number && got.Equals(tt.want).True()) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvUnknownInValidateMode(t *testing.T) {
	got, diags := evalFn(t, `env("UNSET")`, nil, true)
	if diags.HasErrors() || got.IsKnown() {
		t.Fatalf("env of an unset variable in validate mode = %#v, %v; want unknown", got, diags)
	}
}
