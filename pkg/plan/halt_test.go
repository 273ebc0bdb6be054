package plan

import (
	"strings"
	"testing"
)

// TestComputeHalt: on a worker older than 3.5 an offsets operation is
// refused unless its block acknowledges delete_recreate, which makes its halt
// delete_recreate (with a warning saying so); a PAUSED connector is refused
// even then; 3.5 and later, and unreadable versions, keep stop.
func TestComputeHalt(t *testing.T) {
	const block = `
offsets "rewind" {
  connector = connector.sink
  reason    = "test"
  %s
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 1000
  }
}`
	ack := `acknowledge = ["delete_recreate"]`
	for _, tc := range []struct {
		name, version, state, ack string
		halt                      Halt
		status                    OperationStatus
		check                     string // code of the check that decides
	}{
		{"3.4 without acknowledgement", "3.4.1", "RUNNING", "", HaltStop, StatusBlocked, "no_stop_endpoint"},
		{"3.4 acknowledged", "3.4.1", "RUNNING", ack, HaltDeleteRecreate, StatusChange, "delete_recreate"},
		{"2.6 acknowledged", "2.6.3", "RUNNING", ack, HaltDeleteRecreate, StatusChange, "delete_recreate"},
		{"Confluent 7.4 acknowledged", "7.4.0-ccs", "RUNNING", ack, HaltDeleteRecreate, StatusChange, "delete_recreate"},
		{"3.4 paused", "3.4.1", "PAUSED", ack, HaltStop, StatusBlocked, "delete_recreate_paused"},
		{"3.5 acknowledged", "3.5.2", "RUNNING", ack, HaltStop, StatusChange, ""},
		{"3.8", "3.8.0", "RUNNING", "", HaltStop, StatusChange, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, strings.Replace(block, "%s", tc.ack, 1))
			obs := observed()
			obs["connector.sink"].WorkerVersion = tc.version
			obs["connector.sink"].State = tc.state
			ops, checks := Compute(cfg, Inputs{Connectors: obs})
			op := ops[0]
			if op.Halt != tc.halt || op.Status != tc.status {
				t.Fatalf("halt %q status %s, want %q %s; checks %+v", op.Halt, op.Status, tc.halt, tc.status, checks)
			}
			found := ""
			for _, c := range checks {
				if c.Code == "no_stop_endpoint" || c.Code == "delete_recreate" || c.Code == "delete_recreate_paused" {
					found = c.Code
					if c.Code == "no_stop_endpoint" && !strings.Contains(c.Message, `acknowledge = ["delete_recreate"]`) {
						t.Errorf("the refusal does not name the acknowledgement: %s", c.Message)
					}
				}
			}
			if found != tc.check {
				t.Fatalf("check %q, want %q: %+v", found, tc.check, checks)
			}
		})
	}
}

// TestHaltInPlanFile: the halt survives the plan file, is valid against the
// schema, is absent (so old plans read as before) when it is stop, and an
// unknown one is refused.
func TestHaltInPlanFile(t *testing.T) {
	s := compileSchema(t)
	p := fixturePlan()
	p.Operations[0].Halt = HaltDeleteRecreate
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(decodeJSON(t, data)); err != nil {
		t.Fatalf("schema: %v", err)
	}
	back, err := Read("plan.json", strings.NewReader(string(data)))
	if err != nil || back.Operations[0].Halt != HaltDeleteRecreate {
		t.Fatalf("read back: %v", err)
	}
	plain, err := Marshal(fixturePlan())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), `"halt"`) {
		t.Fatal("a plan that stops its connectors writes a halt")
	}
	bad := strings.Replace(string(data), `"halt": "delete_recreate"`, `"halt": "pray"`, 1)
	if err := s.Validate(decodeJSON(t, []byte(bad))); err == nil {
		t.Fatal("the schema accepts an unknown halt")
	}
}
