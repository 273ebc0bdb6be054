package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// connectVersion is the Kafka Connect release the emulator answers as. Only
// the minor release changes the REST surface (reference §1.2).
type connectVersion struct {
	minor  int    // 4..8 for 3.4..3.8
	full   string // "3.8.0", as GET / reports it
	commit string // the release tag's commit id, 16 hex digits as GET / reports it
}

// parseConnectVersion accepts "3.N" or "3.N.P" for N in 4..8; "" means 3.8.
func parseConnectVersion(s string) (connectVersion, error) {
	if s == "" {
		s = "3.8"
	}
	parts := strings.Split(s, ".")
	bad := fmt.Errorf("unsupported Kafka Connect version %q: the emulator speaks 3.4, 3.5, 3.6, 3.7 and 3.8", s)
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "3" {
		return connectVersion{}, bad
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil || minor < 4 || minor > 8 {
		return connectVersion{}, bad
	}
	patch := "0"
	if len(parts) == 3 {
		if _, err := strconv.Atoi(parts[2]); err != nil {
			return connectVersion{}, bad
		}
		patch = parts[2]
	}
	// Commit ids of the x.y.0 release tags of apache/kafka.
	commits := [...]string{4: "2e1947d240607d53", 5: "c97b88d5db4de28d", 6: "60e845626d8a465a", 7: "2ae524ed625438c5", 8: "771b9576b00ecf5b"}
	return connectVersion{minor: minor, full: "3." + parts[1] + "." + patch, commit: commits[minor]}, nil
}

// KIP-875 and later features, by first release (reference §1.2).
func (v connectVersion) hasStop() bool          { return v.minor >= 5 } // PUT /stop, STOPPED state
func (v connectVersion) hasGetOffsets() bool    { return v.minor >= 5 } // GET /offsets
func (v connectVersion) hasModifyOffsets() bool { return v.minor >= 6 } // PATCH and DELETE /offsets
func (v connectVersion) hasInitialState() bool  { return v.minor >= 7 } // initial_state on POST /connectors
func (v connectVersion) hasPatchConfig() bool   { return v.minor >= 8 } // PATCH /config
