// Package examples holds one folder per scenario of the operator's runbook,
// each with its configuration (main.hcl), a README that tells the incident
// in the operator's words with the commands and their real output, and an
// end-to-end test (examples_test.go and one _test.go file per scenario)
// that replays the README's commands with the offsetctl binary against the
// sandbox and checks the effect on the data in the sink table, not only on
// the offsets.
//
//	rewind-after-transform-fix/   a) rewind a sink after a broken transformation was fixed
//	skip-poison-pill/             b) skip one record the sink cannot apply
//	align-with-restored-sink/     c) replay from the time of a restored sink backup
//	move-connector/               d) move a source connector without a re-snapshot
//	restore-after-bad-edit/       e) the rollback drill: restore a backup after a bad edit
//	ci/                           the team path: plan in the pull request, apply on merge (its own package and test)
//
// Run them with go test ./examples (PostgreSQL is needed, as for every test
// of the project: make test provides it); -transcripts writes each
// scenario's commands and output to its folder's transcript.txt, which is
// where the READMEs' output comes from.
package examples
