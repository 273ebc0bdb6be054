package command

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
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
			return views.NewVersion(deps.Streams, g.JSON).Version(views.VersionInfo{
				OffsetctlVersion: Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH})
		},
	}
}
