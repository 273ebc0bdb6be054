package command

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

func newVersionCmd(deps *Deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print offsetctl's version",
		Long: `Print offsetctl's version, the Go version it was built with, and the platform.
With -json the answer carries a format_version, for scripts that check the version a
plan or state file was written by.`,
		Example: `  offsetctl version
  offsetctl version -json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.JSON {
				enc := json.NewEncoder(deps.Streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"format_version": 1, "offsetctl_version": Version, "go_version": runtime.Version()})
			}
			_, err := fmt.Fprintf(deps.Streams.Out, "offsetctl %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
