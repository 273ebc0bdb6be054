// Package reconcilecustomers holds the end-to-end test of the
// reconcile-customers example: drift made on the sandbox pipeline, planned,
// repaired, verified and rolled back with the configuration of main.hcl.
package reconcilecustomers
