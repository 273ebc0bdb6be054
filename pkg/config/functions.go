package config

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/offsetctl/offsetctl/internal/pglsn"
)

// Functions returns the functions of the language, for a configuration in
// dir. getenv reads the environment for env(); with allowUnknown, env() of an
// unset variable is unknown instead of an error (offsetctl validate).
//
//	env(NAME[, DEFAULT])   the environment variable NAME; an error when unset and no DEFAULT is given
//	file(PATH)             the content of a UTF-8 text file, PATH relative to the configuration directory
//	jsondecode(S), jsonencode(V)
//	lsn("X/Y")             a PostgreSQL LSN as its exact 64-bit number (X<<32)+Y, X and Y hexadecimal
//	timestamp(S)           an RFC 3339 time, normalized to UTC: "2026-11-20T12:00:00+02:00" gives "2026-11-20T10:00:00Z"
//	epoch_millis(S)        an RFC 3339 time as whole milliseconds since 1970-01-01T00:00:00Z (sub-millisecond digits are truncated)
//	epoch_micros(S)        the same in whole microseconds (Debezium's ts_usec)
//	format, lower, upper, trimspace, replace, join, split, concat, merge, tostring, tonumber
func Functions(dir string, getenv func(string) string, allowUnknown bool) map[string]function.Function {
	return map[string]function.Function{
		"env":          envFunc(getenv, allowUnknown),
		"file":         fileFunc(dir),
		"jsondecode":   stdlib.JSONDecodeFunc,
		"jsonencode":   stdlib.JSONEncodeFunc,
		"lsn":          lsnFunc,
		"timestamp":    timestampFunc,
		"epoch_millis": epochFunc(time.Millisecond),
		"epoch_micros": epochFunc(time.Microsecond),
		"format":       stdlib.FormatFunc,
		"lower":        stdlib.LowerFunc,
		"upper":        stdlib.UpperFunc,
		"trimspace":    stdlib.TrimSpaceFunc,
		"replace":      stdlib.ReplaceFunc,
		"join":         stdlib.JoinFunc,
		"split":        stdlib.SplitFunc,
		"concat":       stdlib.ConcatFunc,
		"merge":        stdlib.MergeFunc,
		"tostring":     stdlib.MakeToFunc(cty.String),
		"tonumber":     stdlib.MakeToFunc(cty.Number),
	}
}

func envFunc(getenv func(string) string, allowUnknown bool) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default value")
			}
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the environment variable name is empty")
			}
			if v := getenv(name); v != "" {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			if allowUnknown {
				return cty.UnknownVal(cty.String), nil
			}
			return cty.NilVal, function.NewArgErrorf(0, "environment variable %s is not set; set it, or give a default as env(%q, \"...\")", name, name)
		},
	})
}

func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 text file, relative to the configuration directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read the file: %v", err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0, "the file %s is not UTF-8 text", args[0].AsString())
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// ParseLSN parses a PostgreSQL LSN written as two hexadecimal numbers of at
// most 8 digits, "X/Y", into (X<<32)+Y (pglsn.Parse).
func ParseLSN(s string) (uint64, error) { return pglsn.Parse(s) }

var lsnFunc = function.New(&function.Spec{
	Description: "Converts a PostgreSQL LSN \"X/Y\" to its exact 64-bit number.",
	Params:      []function.Parameter{{Name: "lsn", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		n, err := ParseLSN(args[0].AsString())
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		return cty.NumberVal(new(big.Float).SetUint64(n)), nil
	},
})

// parseTimestamp parses an RFC 3339 time; the error speaks to the operator.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time: write it like \"2026-11-20T10:00:00Z\" or \"2026-11-20T12:00:00+02:00\"", s)
	}
	return t.UTC(), nil
}

var timestampFunc = function.New(&function.Spec{
	Description: "Normalizes an RFC 3339 time to UTC.",
	Params:      []function.Parameter{{Name: "time", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		t, err := parseTimestamp(args[0].AsString())
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		return cty.StringVal(t.Format(time.RFC3339Nano)), nil
	},
})

func epochFunc(unit time.Duration) function.Function {
	return function.New(&function.Spec{
		Description: "Converts an RFC 3339 time to a whole number of units since the Unix epoch.",
		Params:      []function.Parameter{{Name: "time", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			t, err := parseTimestamp(args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			var n int64
			switch unit {
			case time.Millisecond:
				n = t.UnixMilli()
			default:
				n = t.UnixMicro()
			}
			return cty.NumberIntVal(n), nil
		},
	})
}
