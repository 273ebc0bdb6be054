package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzPlanFile: plan file bytes load to a plan or an error, never a panic.
// Each input is tried as given and with its hash made to match its content
// (as someone editing a plan by hand would), so the checks behind the hash
// are reached. A loaded plan writes again to a file that loads to the same
// plan, and writing is stable.
func FuzzPlanFile(f *testing.F) {
	good, err := Marshal(fixturePlan())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"format_version": 2`), []byte(`"format_version": 1`), 1))
	f.Add([]byte(`{"format_version":2}`))
	f.Add([]byte(`{"format_version":2,"hash":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPlanRoundTrip(t, data)
		if fixed, ok := rehashPlan(data); ok {
			checkPlanRoundTrip(t, fixed)
		}
	})
}

func checkPlanRoundTrip(t *testing.T, data []byte) {
	t.Helper()
	p, err := Read("plan.json", bytes.NewReader(data))
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("%q: an empty error message", data)
		}
		return
	}
	out, err := Marshal(p)
	if err != nil {
		t.Fatalf("plan %q loaded but does not write: %v", data, err)
	}
	p2, err := Read("plan.json", bytes.NewReader(out))
	if err != nil {
		t.Fatalf("plan %q loaded, but what it writes is refused: %v\n%s", data, err, out)
	}
	again, err := Marshal(p2)
	if err != nil || !bytes.Equal(out, again) {
		t.Fatalf("plan %q: writing is not stable (%v):\n%s\n---\n%s", data, err, out, again)
	}
	if !reflect.DeepEqual(p.Timestamps, p2.Timestamps) || len(p.Operations) != len(p2.Operations) {
		t.Fatalf("plan %q changed meaning on a round trip", data)
	}
}

// rehashPlan replaces the hash in data by the hash of its content.
func rehashPlan(data []byte) ([]byte, bool) {
	var h struct {
		Hash string `json:"hash"`
	}
	if json.Unmarshal(data, &h) != nil || h.Hash == "" || !bytes.Contains(data, []byte(h.Hash)) {
		return nil, false
	}
	var w planV1
	if json.Unmarshal(data, &w) != nil {
		return nil, false
	}
	w.Hash = ""
	canon, err := json.Marshal(w)
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256(canon)
	return []byte(strings.Replace(string(data), h.Hash, "sha256:"+hex.EncodeToString(sum[:]), 1)), true
}
