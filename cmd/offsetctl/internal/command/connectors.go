package command

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

type connectorsOptions struct {
	deps *Deps
	g    *globalOptions
}

func newConnectorsCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &connectorsOptions{deps: deps, g: g}
	return &cobra.Command{
		Use:   "connectors",
		Short: "List the connectors of a Kafka Connect cluster with their state and tasks",
		Long: `List every connector of the Kafka Connect cluster at --connect-url: its name, type,
state, task states and class, and the worker's version (which decides whether offsets
can be changed through the REST API: Kafka Connect 3.6 or later).

Read-only: it changes nothing.`,
		Example: `  offsetctl connectors --connect-url http://localhost:8083
  offsetctl connectors -json | jq '.connectors[] | select(.state != "RUNNING")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return connectorsRun(cmd, o) },
	}
}

type connectorRow struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	State  string   `json:"state"`
	Tasks  []string `json:"tasks"`
	Class  string   `json:"class"`
	Worker string   `json:"worker,omitempty"`
	Trace  string   `json:"trace,omitempty"`
}

func connectorsRun(cmd *cobra.Command, o *connectorsOptions) error {
	ctx := cmd.Context()
	c, err := o.g.connectClient(o.deps)
	if err != nil {
		return err
	}
	info, err := c.Root(ctx)
	if err != nil {
		return err
	}
	version, verr := connect.ParseVersion(info.Version)
	all, err := c.ListConnectorsExpanded(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([]connectorRow, 0, len(names))
	for _, n := range names {
		ov := all[n]
		r := connectorRow{Name: n, Tasks: []string{}}
		if ov.Info != nil {
			r.Type = string(ov.Info.Type)
			r.Class = ov.Info.Config["connector.class"]
		}
		if ov.Status != nil {
			r.State = string(ov.Status.Connector.State)
			r.Worker = ov.Status.Connector.WorkerID
			r.Trace = firstLine(ov.Status.Connector.Trace)
			if r.Type == "" {
				r.Type = string(ov.Status.Type)
			}
			for _, t := range ov.Status.Tasks {
				r.Tasks = append(r.Tasks, string(t.State))
				if r.Trace == "" {
					r.Trace = firstLine(t.Trace)
				}
			}
		} else {
			r.State = "UNKNOWN"
		}
		rows = append(rows, r)
	}
	out := o.deps.Streams.Out
	if o.g.JSON {
		doc := map[string]any{"format_version": 1, "connect_url": c.URL(), "worker_version": info.Version,
			"kafka_cluster_id": info.KafkaClusterID, "connectors": rows}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	offsetsVia := "REST API (stop, PATCH and DELETE offsets)"
	switch {
	case verr != nil:
		offsetsVia = "unknown: " + verr.Error()
	case !version.AtLeast(3, 5):
		offsetsVia = "offsets topic and consumer groups (no offsets endpoints before 3.5; no stop before 3.5)"
	case !version.AtLeast(3, 6):
		offsetsVia = "offsets topic and consumer groups for changes (3.5 reads offsets over REST but cannot alter them)"
	}
	fmt.Fprintf(out, "Kafka Connect %s at %s (Kafka cluster %s)\n", info.Version, c.URL(), info.KafkaClusterID)
	fmt.Fprintf(out, "Offset changes go through: %s\n\n", offsetsVia)
	if len(rows) == 0 {
		fmt.Fprintln(out, "No connectors.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tTASKS\tCLASS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Type, r.State, taskSummary(r.Tasks), r.Class)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
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

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
