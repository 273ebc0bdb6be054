# An example policy for teams that already run conftest (or OPA) in CI,
# over the plan file offsetctl writes (offsetctl plan -out plan.json, or
# offsetctl show -json plan.json):
#
#   conftest test --policy examples/conftest/policy plan.json
#
# It reads plan format_version 3, whose JSON Schema is
# pkg/plan/schema/plan.v3.schema.json. offsetctl's own policy blocks
# (pkg/config/LANGUAGE.md, "policy") are evaluated by plan and again by
# apply; a Rego policy like this one is a second, independent gate.
package main

import rego.v1

# The most records one operation may skip.
max_records_skipped := 1000

# Risk classes this team never applies from CI.
forbidden := {"jump_to_latest", "resnapshot", "sink_reset"}

deny contains msg if {
	input.format_version != 3
	msg := sprintf("plan format_version %v: this policy reads format_version 3", [input.format_version])
}

deny contains msg if {
	some c in input.checks
	c.severity == "error"
	msg := sprintf("the plan has an error (%s): %s", [c.code, c.message])
}

deny contains msg if {
	some op in input.operations
	op.status == "change"
	some r in op.risks
	r.class in forbidden
	msg := sprintf("%s: %s changes are not applied from CI", [op.address, r.class])
}

deny contains msg if {
	some op in input.operations
	op.status == "change"
	skipped := sum([r.records | some r in op.risks; r.class in {"skip", "jump_to_latest"}; r.records >= 0])
	skipped > max_records_skipped
	msg := sprintf("%s skips %d records, more than %d", [op.address, skipped, max_records_skipped])
}

warn contains msg if {
	input.summary.highest_risk == "unknown"
	msg := "a change's effect is unknown to offsetctl's codecs: review the source offsets by hand"
}

warn contains msg if {
	input.policy != null
	input.policy.approvals_required > 0
	msg := sprintf("apply needs %d signed approval(s): %s", [input.policy.approvals_required, concat("; ", input.policy.because)])
}
