package views

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// ConnectorList is what offsetctl connectors shows: the worker and its
// connectors. Its JSON fields are in the order the untyped map before it
// wrote them (sorted), byte for byte.
type ConnectorList struct {
	ConnectURL     string         `json:"connect_url"`
	Connectors     []ConnectorRow `json:"connectors"`
	FormatVersion  int            `json:"format_version"`
	KafkaClusterID string         `json:"kafka_cluster_id"`
	WorkerVersion  string         `json:"worker_version"`
	// OffsetsVia says, in the text only, how offsets are changed on this
	// worker's version.
	OffsetsVia string `json:"-"`
}

// ConnectorRow is one connector of the list.
type ConnectorRow struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	State  string   `json:"state"`
	Tasks  []string `json:"tasks"`
	Class  string   `json:"class"`
	Worker string   `json:"worker,omitempty"`
	Trace  string   `json:"trace,omitempty"`
}

// Connectors is the view of offsetctl connectors.
type Connectors struct{ *View }

// NewConnectors returns the view of offsetctl connectors.
func NewConnectors(streams *iostreams.Streams, asJSON bool) *Connectors {
	return &Connectors{NewView(streams, asJSON)}
}

// List writes the connectors on stdout: a table and the failures' first
// trace lines, or the JSON document.
func (v *Connectors) List(l ConnectorList) error {
	out := v.streams.Out
	if v.json {
		l.FormatVersion = ConnectorsFormat
		return encodeJSON(out, l, true)
	}
	fmt.Fprintf(out, "Kafka Connect %s at %s (Kafka cluster %s)\n", l.WorkerVersion, l.ConnectURL, l.KafkaClusterID)
	fmt.Fprintf(out, "Offset changes go through: %s\n\n", l.OffsetsVia)
	if len(l.Connectors) == 0 {
		fmt.Fprintln(out, "No connectors.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tTASKS\tCLASS")
	for _, r := range l.Connectors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Type, r.State, taskSummary(r.Tasks), r.Class)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range l.Connectors {
		if r.Trace != "" {
			fmt.Fprintf(out, "\n%s failed: %s\n", r.Name, r.Trace)
		}
	}
	return nil
}

func taskSummary(states []string) string {
	if len(states) == 0 {
		return "-"
	}
	count := map[string]int{}
	var order []string
	for _, s := range states {
		if count[s] == 0 {
			order = append(order, s)
		}
		count[s]++
	}
	parts := make([]string, 0, len(order))
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
	}
	return strings.Join(parts, ", ")
}
