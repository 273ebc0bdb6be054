package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaPath is the published JSON Schema of the plan file format this
// offsetctl writes: one file per format_version.
var schemaPath = filepath.Join("schema", fmt.Sprintf("plan.v%d.schema.json", FormatVersion))

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatalf("the plan format %d has no published schema: %v", FormatVersion, err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaPath, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeJSON(t *testing.T, data []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPlanSchema: every plan file the tests produce (the fixture, and the
// JSON goldens of planning and of the renderings) is valid against the
// published schema, and the schema's format_version is this one.
func TestPlanSchema(t *testing.T) {
	s := compileSchema(t)
	var raw map[string]any
	data, _ := os.ReadFile(schemaPath)
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if v := raw["properties"].(map[string]any)["format_version"].(map[string]any)["const"]; v != float64(FormatVersion) {
		t.Fatalf("%s says format_version %v, offsetctl writes %d", schemaPath, v, FormatVersion)
	}
	fixture, err := Marshal(fixturePlan())
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{"fixturePlan": fixture}
	for _, pattern := range []string{"testdata/*/*/*json.golden", "render/testdata/*/*/json.golden"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs[f] = b
		}
	}
	if len(docs) < 20 {
		t.Fatalf("only %d plan documents found", len(docs))
	}
	for name, b := range docs {
		if err := s.Validate(decodeJSON(t, b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestPlanSchemaRefuses: the schema is strict where the format is: an
// unknown risk class, a missing field, an unknown field, another version.
func TestPlanSchemaRefuses(t *testing.T) {
	s := compileSchema(t)
	good, err := Marshal(fixturePlan())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"unknown risk class", `"class": "skip"`, `"class": "meh"`},
		{"records below -1", `"records": 1,`, `"records": -2,`},
		{"other version", `"format_version": 3`, `"format_version": 2`},
		{"unknown field", `"format_version": 3,`, `"format_version": 3, "surprise": 1,`},
		{"no risks", `"risks": [`, `"riskz": [`},
		{"no highest risk", `"highest_risk": "skip"`, `"highest": "skip"`},
		{"bad highest risk", `"highest_risk": "skip"`, `"highest_risk": "meh"`},
		{"bad created_at", `"created_at": "2026-11-20T14:30:00Z"`, `"created_at": "yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.from) {
				t.Fatalf("no %s in the fixture", tc.from)
			}
			bad := strings.Replace(string(good), tc.from, tc.to, 1)
			if err := s.Validate(decodeJSON(t, []byte(bad))); err == nil {
				t.Fatal("the schema accepts it")
			}
		})
	}
}
