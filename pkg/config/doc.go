// Package config is offsetctl's configuration language: HCL files that declare
// Kafka Connect clusters, Kafka clusters, databases and connectors, and the
// named one-time operations to plan against them (offsets blocks) and the
// comparisons to run (reconcile blocks).
//
// Load reads every *.hcl file of a directory and returns a *Config of typed
// structs, each with the DeclRange of its block, together with hcl.Diagnostics.
// Every problem in the configuration is reported as a diagnostic with a source
// range (file, line, column), in offsetctl's words; WriteDiagnostics prints
// them with a snippet of the offending source, as HCL's text writer does.
// Later stages (the planner) keep pointing at the configuration through the
// ranges the structs carry (DeclRange, Ranges).
//
// LANGUAGE.md is the reference of the language: every block and attribute,
// the functions, and the diagnostics. In short:
//
//   - offsetctl { require_reason, required_approvals, state "local"|"postgres" {...} }
//   - variable "NAME" { type, default, description }, values from -var,
//     -var-file and OFFSETCTL_VAR_NAME (highest precedence first), and
//     locals { NAME = expr }, referenced as var.NAME and local.NAME;
//   - connect, kafka, database and connector blocks, referenced as whole
//     blocks (connect.prod, connector.orders_sink) by attributes that expect
//     them; such references are read, never evaluated;
//   - offsets "NAME" blocks: sink_partition targets (to_offset, to_timestamp,
//     shift_by, to_earliest, to_latest, skip), source_partition offsets,
//     restore, copy_from and reset, with their acknowledgements;
//   - reconcile "NAME" blocks, parsed and checked now, run by later stages;
//   - functions env, file, jsondecode, jsonencode, lsn, timestamp,
//     epoch_millis, epoch_micros and a few string helpers (see Functions).
//
// Numbers are exact: lsn("FFFFFFFF/FFFFFFFF") is 18446744073709551615, never a
// rounded float, and offsets are handed on as canonical JSON whose numbers are
// printed exactly.
//
// Secrets (passwords, tokens, header values, database URLs) are held in
// Secret, which prints and marshals as a fixed mask and records where the
// value came from (an environment variable, a variable) when that can be seen
// from the expression.
//
// The package imports no client (Kafka Connect, Kafka, PostgreSQL); it never
// touches the network. It does read files: the configuration, -var-file files
// and the files named by file().
package config
