// Package render turns a *plan.Plan into what people and programs read: text
// in Terraform's manner for the terminal, Markdown for a pull-request
// comment, and JSON (the plan file's own format). All three are built from
// the same plan structure, so they cannot disagree. It imports no offsetctl
// package but plan (and the offsets value types the plan carries).
package render
