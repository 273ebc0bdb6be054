// Package plan observes the live world and computes what offsetctl will do:
// per connector, the offsets it saw and the ones it will set, the records that
// will be replayed or skipped, the before-image that rollback restores, and
// the safety checks with their verdicts.
//
// A *Plan is a promise about a world that can move. It records what was
// observed (connector states, config hashes, offsets, log bounds) so that
// apply can re-observe and refuse a stale plan, and it is saved as a
// deterministic JSON file (file.go) carrying a format_version and a hash over
// its content, so that a hand-edited plan is refused.
//
// Planning never changes anything. The package does not import apply or
// state's backends; it renders nothing (see plan/render).
package plan
