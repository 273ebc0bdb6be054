//go:build offsetctl_testhooks

package command

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/offsetctl/offsetctl/pkg/apply"
)

// stopHook, in a binary built with -tags offsetctl_testhooks only, lets a
// test kill or interrupt apply at a chosen point: with OFFSETCTL_TEST_STOP_AT
// set to a step name (alter, restore-state, repair-batch, …), apply stops
// after that step (once the state is written, for the steps after which it
// is), writes the point to the file OFFSETCTL_TEST_STOP_FILE, and waits
// there: for the test's SIGKILL, or for a SIGINT or SIGTERM, after which it
// lets the run go on as a signal arriving at that point finds it (main's own
// handler has cancelled the run's context by then). OFFSETCTL_TEST_STOP_NTH
// (default 1) stops at that occurrence of the step (repair-batch 2: inside
// the second batch).
func stopHook() func(apply.Point) error {
	at, file := os.Getenv("OFFSETCTL_TEST_STOP_AT"), os.Getenv("OFFSETCTL_TEST_STOP_FILE")
	if at == "" || file == "" {
		return nil
	}
	nth, err := strconv.Atoi(os.Getenv("OFFSETCTL_TEST_STOP_NTH"))
	if err != nil || nth < 1 {
		nth = 1
	}
	seen := 0
	return func(p apply.Point) error {
		if string(p.Step) != at {
			return nil
		}
		if seen++; seen != nth {
			return nil
		}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		if err := os.WriteFile(file, []byte(fmt.Sprintf("%s %s %s\n", p.Operation, p.Connector, p.Step)), 0o644); err != nil {
			return fmt.Errorf("test hook: %w", err)
		}
		<-sigs // SIGKILL ends the process here
		return nil
	}
}
