package examples_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// moveConnector is scenario (d): the source connector moves to a new
// Connect cluster under a new name. The new connector is created STOPPED,
// gets the old one's offsets, and then runs: it takes no snapshot, and
// every change made while neither ran reaches the sink exactly once.
func moveConnector(w *world) {
	t := w.t
	w.note("A healthy pipeline: customers 1-20 streamed to the sink (offsets 0-19).")
	w.insert(1, 20)
	w.caughtUp()

	w.note("The move window opens: stop the old connector, so that its position is final.")
	w.curl(204, "PUT", "/connectors/customers-source/stop", "")
	cut := int64(len(w.topicEvents()))
	w.note("Customers 21-25 sign up during the move: their changes wait in the database's log.")
	w.insert(21, 25)

	w.note("Create the new connector, STOPPED, with the old one's configuration (jq renames it).")
	var cfg map[string]string
	if err := json.Unmarshal([]byte(w.get("/connectors/customers-source/config")), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["name"] = "customers-source-v2"
	create, err := json.MarshalIndent(map[string]any{"name": "customers-source-v2", "config": cfg, "initial_state": "STOPPED"}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "customers-source-v2.json"), create, 0o644); err != nil {
		t.Fatal(err)
	}
	w.record(`curl -s $OFFSETCTL_CONNECT_URL/connectors/customers-source/config | jq '{name: "customers-source-v2", config: (. + {name: "customers-source-v2"}), initial_state: "STOPPED"}' > customers-source-v2.json`, "", 0)
	w.export("OFFSETCTL_VAR_new_connect_url", "$OFFSETCTL_CONNECT_URL", w.sb.ConnectURL())
	w.curlFile(201, "POST", "/connectors", "customers-source-v2.json")

	r := w.must(0, "connectors")
	w.contains("connectors", r.out, "customers-source     source  STOPPED", "customers-source-v2  source  STOPPED")
	r = w.must(0, "offsets", "show", "customers-source", "customers-source-v2")
	w.contains("offsets show", r.out, "no stored offsets: the connector will start as new")

	w.must(0, "validate")
	w.must(0, "fmt", "-check")
	r = w.must(0, "plan", "-out", "move.plan")
	w.contains("plan", r.out, "Plan: 1 operation to apply", "customers-source-v2")
	r = w.must(0, "apply", "move.plan")
	w.contains("apply", r.out, "Apply complete! 1 operation applied")

	r = w.must(0, "offsets", "show", "customers-source", "customers-source-v2")
	old, moved, ok := strings.Cut(r.out, "customers-source-v2 (source")
	if !ok {
		t.Fatalf("offsets show lacks customers-source-v2:\n%s", r.out)
	}
	position := func(s string) string {
		_, after, _ := strings.Cut(s, "partition {\"server\":\"shop\"}")
		return strings.TrimSpace(after)
	}
	if p := position(old); p == "" || p != position(moved) {
		t.Fatalf("the new connector's offsets are not the old one's:\n%s", r.out)
	}

	w.note("Retire the old connector (its offsets stay, as Kafka Connect keeps them) and start the new one.")
	w.curl(204, "DELETE", "/connectors/customers-source", "")
	w.curl(202, "PUT", "/connectors/customers-source-v2/resume", "")
	w.waitTask("customers-source-v2", "RUNNING")
	w.note("Customers 26-30 sign up after the move.")
	w.insert(26, 30)
	w.waitFor("the sink to hold the source's rows", func() bool {
		return rowsDiffer(w.sourceRows(), w.sinkRows()) == ""
	})

	// The effect on the data: the topic after the cut holds the changes of
	// customers 21-30, each once, in order, as change events ("c"), and no
	// snapshot read event ("r"); the sink table is the source's.
	events := w.topicEvents()
	var after []string
	for _, e := range events[cut:] {
		after = append(after, fmt.Sprintf("%s%d", e.Op, e.ID))
	}
	var want []string
	for id := 21; id <= 30; id++ {
		want = append(want, fmt.Sprintf("c%d", id))
	}
	if !slices.Equal(after, want) {
		t.Fatalf("records written after the old connector stopped: %v, want %v (no snapshot, no gap, no duplicate)", after, want)
	}
	w.inSync()
	w.must(0, "diff", "--table", "customers")
	r = w.must(0, "connectors")
	w.contains("connectors after the move", r.out, "customers-source-v2  source  RUNNING  1 RUNNING")
}
