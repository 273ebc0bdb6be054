package views

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// ForceUnlock is the view of offsetctl force-unlock.
type ForceUnlock struct{ *View }

// NewForceUnlock returns the view of offsetctl force-unlock.
func NewForceUnlock(streams *iostreams.Streams) *ForceUnlock {
	return &ForceUnlock{NewView(streams, false)}
}

// Confirm asks whether to force-unlock where, locked by holder, and
// reports whether the answer was "yes".
func (v *ForceUnlock) Confirm(where string, holder *state.LockInfo) bool {
	fmt.Fprintf(v.streams.Err, "Do you really want to force-unlock %s?\n"+
		"  It is locked by %s.\n"+
		"  If that holder is still working, two operations could change the same connectors at once.\n"+
		"  Only 'yes' will be accepted to confirm.\n\n"+
		"  Enter a value: ", where, holder)
	answer, _ := bufio.NewReader(v.streams.In).ReadString('\n')
	return strings.TrimSpace(answer) == "yes"
}

// Unlocked says the lock with id is gone: forced, or (held false) only
// its information cleared, its holder having exited.
func (v *ForceUnlock) Unlocked(where, id string, held bool) {
	if !held {
		fmt.Fprintf(v.streams.Out, "Cleared the lock information left by %s: its holder had already exited, so %s was not locked.\n", id, where)
		return
	}
	fmt.Fprintf(v.streams.Out, "%s has been force-unlocked (lock ID %s).\n", where, id)
}
