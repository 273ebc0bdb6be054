package command

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/atomicfile"
	"github.com/offsetctl/offsetctl/pkg/approval"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// approveVersion is the format_version of approve -json.
type approveOptions struct {
	deps *Deps
	g    *globalOptions
	key  string
}

func newApproveCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &approveOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "approve [-key FILE] PLANFILE",
		Short: "Approve a saved plan by signing its hash with your SSH key",
		Long: `Sign the hash of the plan in PLANFILE with your SSH key and append the signature to
PLANFILE.approvals, a file to commit to the plan's pull request. apply counts the
signatures made by keys in the configuration's allowed_signers file (offsetctl {
allowed_signers = "FILE" }), each principal once and never the one applying.

The plan's hash is verified first: an edited plan is refused. The signature is OpenSSH's
(SSHSIG, namespace "offsetctl-plan") over the plan's hash as plan prints it and one
newline, so a reviewer without offsetctl can approve with OpenSSH alone:

    printf '%s\n' sha256:... | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n offsetctl-plan >> plan.json.approvals

-key names a private key file, or a public key file whose private half is in your SSH
agent (SSH_AUTH_SOCK); without -key, the agent's one key signs. A passphrase-protected
key is used through the agent (ssh-add it first). Approving twice with one key adds
nothing. Nothing is contacted: approve reads the plan and the key and writes one file.`,
		Example: `  offsetctl approve plan.json
  offsetctl approve -key ~/.ssh/id_ed25519 plan.json
  offsetctl approve -key ~/.ssh/id_ed25519.pub plan.json   # the private key in ssh-agent`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return approveRun(o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.key, "key", "", "the SSH key to sign with: a private key file, or a public key file whose private half is in ssh-agent (default: the agent's one key)")
	return cmd
}

// approveResult is what approve did, for its text and -json output.
func approveRun(o *approveOptions, file string) error {
	p, err := plan.ReadFile(file)
	if err != nil {
		return err
	}
	signer, closeKey, err := approval.KeySource{Path: o.key, AgentSocket: o.deps.Getenv("SSH_AUTH_SOCK")}.Signer()
	if err != nil {
		return err
	}
	defer closeKey()
	path := file + approval.FileSuffix
	existing, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("reading the approvals beside the plan: %w", err)
	}
	// Refuse to append to a damaged file: it would hide the damage.
	sigs, err := approval.Parse(path, existing)
	if err != nil {
		return withHint(err, "Repair or remove the damaged signature (each one is a block between BEGIN and END SSH SIGNATURE lines), then approve again.")
	}
	res := views.Approval{Plan: file, PlanHash: p.Hash, ApprovalsFile: path,
		Fingerprint: ssh.FingerprintSHA256(signer.PublicKey()), Signatures: len(sigs)}
	if !approval.SignedBy(p.Hash, sigs, signer.PublicKey()) {
		armored, err := approval.Sign(signer, p.Hash)
		if err != nil {
			return err
		}
		if len(existing) > 0 && existing[len(existing)-1] != '\n' {
			existing = append(existing, '\n')
		}
		if err := atomicfile.WriteFile(path, append(existing, armored...), 0o644); err != nil {
			return fmt.Errorf("appending the approval: %w", err)
		}
		res.Added = true
		res.Signatures++
	}
	return views.NewApprove(o.deps.Streams, o.g.JSON).Approved(res)
}
