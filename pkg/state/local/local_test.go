package local

import (
	"path/filepath"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) func() state.Backend {
		path := filepath.Join(t.TempDir(), "offsetctl.state.json")
		return func() state.Backend { return New(path, WithVersion("test")) }
	})
}
