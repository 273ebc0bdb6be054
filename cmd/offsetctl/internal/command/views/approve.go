package views

import (
	"fmt"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// Approval is what offsetctl approve did.
type Approval struct {
	FormatVersion int    `json:"format_version"`
	Plan          string `json:"plan"`
	PlanHash      string `json:"plan_hash"`
	ApprovalsFile string `json:"approvals_file"`
	Fingerprint   string `json:"key_fingerprint"`
	Added         bool   `json:"added"`
	Signatures    int    `json:"signatures"`
}

// Approve is the view of offsetctl approve.
type Approve struct{ *View }

// NewApprove returns the view of offsetctl approve.
func NewApprove(streams *iostreams.Streams, asJSON bool) *Approve {
	return &Approve{NewView(streams, asJSON)}
}

// Approved says whether a signature was added, and what the approvals file
// now holds.
func (v *Approve) Approved(a Approval) error {
	out := v.streams.Out
	if v.json {
		a.FormatVersion = ApproveFormat
		return encodeJSON(out, a, true)
	}
	if a.Added {
		fmt.Fprintf(out, "Approved plan %s (%s) with key %s.\n", a.PlanHash, a.Plan, a.Fingerprint)
	} else {
		fmt.Fprintf(out, "Plan %s (%s) is already approved with key %s: nothing added.\n", a.PlanHash, a.Plan, a.Fingerprint)
	}
	_, err := fmt.Fprintf(out, "%s holds %d signature(s). Commit it beside the plan; apply counts the signatures of keys in the\nconfiguration's allowed_signers file, each principal once.\n", a.ApprovalsFile, a.Signatures)
	return err
}
