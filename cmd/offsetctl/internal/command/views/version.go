package views

import (
	"fmt"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// VersionInfo is what offsetctl version says. Its JSON fields are in the
// order the untyped map before it wrote them (sorted), byte for byte.
type VersionInfo struct {
	FormatVersion    int    `json:"format_version"`
	GoVersion        string `json:"go_version"`
	OffsetctlVersion string `json:"offsetctl_version"`
	// OS and Arch are shown in the text only.
	OS   string `json:"-"`
	Arch string `json:"-"`
}

// Version is the view of offsetctl version.
type Version struct{ *View }

// NewVersion returns the view of offsetctl version.
func NewVersion(streams *iostreams.Streams, asJSON bool) *Version {
	return &Version{NewView(streams, asJSON)}
}

// Version writes the version on stdout.
func (v *Version) Version(info VersionInfo) error {
	if v.json {
		info.FormatVersion = VersionFormat
		return encodeJSON(v.streams.Out, info, true)
	}
	_, err := fmt.Fprintf(v.streams.Out, "offsetctl %s (%s, %s/%s)\n", info.OffsetctlVersion, info.GoVersion, info.OS, info.Arch)
	return err
}
