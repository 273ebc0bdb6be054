// Package views renders what offsetctl's commands have to say, one view per
// command, as Terraform's internal/command/views does: a command hands its
// view typed data (a plan, apply's events, the state, connectors, offsets)
// and the view writes it as text for a person or, with -json, as JSON built
// from typed structs that carry a format_version. Nothing else in the
// command package writes to the output streams (internal/archtest holds
// that rule).
//
// Streams: the artifact a command produces (a plan, a listing, the summary
// of an apply, a -json document or event stream) goes to stdout; progress,
// notes, warnings, prompts and errors go to stderr, so `offsetctl ... -json
// | jq` always works.
//
// Event streams (apply, rollback and offsets restore with -json) are written
// as they happen, one JSON object per line, each line written whole and
// flushed: CI logs show the progress of a long apply, and a killed apply
// leaves on stdout every event up to the kill.
package views
