package command

import (
	"context"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
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
		RunE: func(cmd *cobra.Command, args []string) error { return connectorsRun(cmd.Context(), o) },
	}
}

func connectorsRun(ctx context.Context, o *connectorsOptions) error {
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
	rows := make([]views.ConnectorRow, 0, len(names))
	for _, n := range names {
		ov := all[n]
		r := views.ConnectorRow{Name: n, Tasks: []string{}}
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
	offsetsVia := "REST API (stop, PATCH and DELETE offsets)"
	switch {
	case verr != nil:
		offsetsVia = "unknown: " + verr.Error()
	case !version.AtLeast(3, 5):
		offsetsVia = "offsets topic and consumer groups, deleting and re-creating the connector (no stop and no offsets endpoints before 3.5: an offsets block acknowledges delete_recreate)"
	case !version.AtLeast(3, 6):
		offsetsVia = "offsets topic and consumer groups for changes (3.5 reads offsets over REST but cannot alter them)"
	}
	return views.NewConnectors(o.deps.Streams, o.g.JSON).List(views.ConnectorList{
		ConnectURL: c.URL(), WorkerVersion: info.Version, KafkaClusterID: info.KafkaClusterID,
		Connectors: rows, OffsetsVia: offsetsVia})
}

// firstLine is the first line of a Java stack trace, trimmed.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
