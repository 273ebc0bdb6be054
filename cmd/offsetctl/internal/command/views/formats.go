package views

// The format_version of each JSON output, in one place: a change to a
// document's shape bumps its number here (and the documents say which
// offsetctl wrote them where they carry offsetctl_version). Plan, state and
// backup files have their own, in their packages.
const (
	// EventsVersion is the format_version of the -json event stream of apply,
	// rollback and offsets restore. Streaming (each event written when it
	// happens) did not change a record's shape: still 1.
	EventsVersion = 1

	// VersionFormat is the format_version of `offsetctl version -json`.
	VersionFormat = 1

	// ConnectorsFormat is the format_version of `offsetctl connectors -json`.
	ConnectorsFormat = 1

	// OffsetsFormat is the format_version of `offsetctl offsets show -json` and
	// `offsetctl offsets backup -json`.
	OffsetsFormat = 1

	// ApproveFormat is the format_version of `offsetctl approve -json`.
	ApproveFormat = 1

	// StateFormat is the format_version of the -json outputs of the state
	// commands (not of the state file, which has its own).
	StateFormat = 1

	// ValidateFormat is the format_version of `offsetctl validate -json`.
	ValidateFormat = 1

	// DiffFormat is the format_version of `offsetctl diff -json`.
	DiffFormat = 1

	// OffsetsVerifyFormat is the format_version of `offsetctl offsets verify
	// -json`.
	OffsetsVerifyFormat = 1

	// ReadinessFormat is the format_version of `offsetctl readiness -json`.
	ReadinessFormat = 1

	// DrillFormat is the format_version of `offsetctl drill -json`.
	DrillFormat = 1

	// CheckFormat is the format_version of `offsetctl check -json` (and of
	// the runs check --listen serves).
	CheckFormat = 1

	// CIFormat is the format_version of the -json outputs of the ci
	// commands.
	CIFormat = 1

	// CommentMetaFormat is the format_version of the metadata a plan
	// comment carries in a hidden line, read back by ci reviewed-plan and ci
	// verify-plan.
	CommentMetaFormat = 1

	// SandboxFormat is the format_version of `offsetctl sandbox up -json`.
	SandboxFormat = 1
)
