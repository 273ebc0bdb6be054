//go:build offsetctl_testhooks

package command

import (
	"fmt"
	"os"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
)

// stopHook, in a binary built with -tags offsetctl_testhooks only, lets a
// test kill apply at a chosen point: with OFFSETCTL_TEST_STOP_AT set to a
// step name (alter, restore-state, …), apply stops after that step (once
// the state is written, for the steps after which it is), writes the point
// to the file OFFSETCTL_TEST_STOP_FILE, and waits there for ever, for the
// test's SIGKILL.
func stopHook() func(apply.Point) error {
	at, file := os.Getenv("OFFSETCTL_TEST_STOP_AT"), os.Getenv("OFFSETCTL_TEST_STOP_FILE")
	if at == "" || file == "" {
		return nil
	}
	return func(p apply.Point) error {
		if string(p.Step) != at {
			return nil
		}
		if err := os.WriteFile(file, []byte(fmt.Sprintf("%s %s %s\n", p.Operation, p.Connector, p.Step)), 0o644); err != nil {
			return fmt.Errorf("test hook: %w", err)
		}
		for {
			time.Sleep(time.Hour) // until killed
		}
	}
}
