// Package approval makes and checks the approvals of a plan: OpenSSH
// signatures (the SSHSIG format of `ssh-keygen -Y sign`) over the plan's
// hash, in the namespace "offsetctl-plan", checked against an
// allowed_signers file in git's format.
//
// What is signed is the plan's hash exactly as `offsetctl plan` prints it
// ("sha256:…") followed by one newline, so a reviewer without offsetctl can
// approve with OpenSSH alone:
//
//	printf 'sha256:…\n' | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n offsetctl-plan >> plan.json.approvals
//
// An approvals file (PLANFILE.approvals) is armored signatures one after
// another, as ssh-keygen writes them. Verify checks each against the plan's
// hash and the allowed signers and says, for each one it does not count,
// why: another plan, an unknown key, a key not valid now or not for this
// namespace, a damaged signature. Approvers are counted by principal, so two
// keys of one person are one approval.
//
// The package reads and writes nothing but what it is given; the commands
// decide where the files are.
package approval
