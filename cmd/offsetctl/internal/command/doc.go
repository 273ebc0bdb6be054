// Package command holds offsetctl's commands: one file per command, each an
// options struct, a constructor that binds flags, and an unexported run
// function. It is the one place that wires configuration, clients, planner,
// applier and state together. Errors are mapped to exit codes in exitcode.go
// and nowhere else.
package command
