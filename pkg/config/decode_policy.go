package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// RiskClasses are the risk classes the planner gives changes, lowest first
// (pkg/plan's RiskClass values; a test holds the two lists equal). A policy's
// approvals map is keyed by them.
var RiskClasses = []string{"replay", "repair_rows", "topic_write", "sink_reset", "resnapshot", "skip", "jump_to_latest", "unknown"}

// Policy is a policy block: bounds on what a plan may do, the approvals its
// risk classes need, and when changes may be applied. A policy applies to
// every operation of the configuration; several policies all apply.
type Policy struct {
	Name        string
	Description string
	// MaxRecordsSkipped and MaxRecordsReplayed bound the records one
	// operation skips (skip and jump_to_latest) and replays (replay and
	// sink_reset); nil: no bound.
	MaxRecordsSkipped  *int64
	MaxRecordsReplayed *int64
	// Allow* say whether operations of these risk classes are allowed;
	// true unless the policy says false.
	AllowResnapshot   bool
	AllowSinkReset    bool
	AllowJumpToLatest bool
	AllowTopicWrite   bool
	// MaxRowsRepaired bounds the rows one reconcile operation inserts,
	// updates and deletes; MaxRowsDeleted the rows it deletes. nil: no bound.
	MaxRowsRepaired *int64
	MaxRowsDeleted  *int64
	// Approvals are the signed approvals apply needs when the plan has a
	// change of a risk class, by class name.
	Approvals map[string]int
	// Windows are the change_window blocks.
	Windows   []*ChangeWindow
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Addr is the address, "policy.NAME".
func (p *Policy) Addr() string { return "policy." + p.Name }

// Window effects.
const (
	WindowAllow = "allow" // changes only inside the window
	WindowDeny  = "deny"  // no changes inside the window
)

// ChangeWindow is a change_window block: days of the week and hours of the
// day in a time zone.
type ChangeWindow struct {
	// Days are the weekdays the window is open on (every day when empty).
	Days []time.Weekday
	// Start and End are minutes after midnight, Start < End ≤ 1440.
	Start, End int
	// Hours is the hours as written ("09:00-17:00").
	Hours string
	// TimeZone is the IANA name as written; Location its zone.
	TimeZone string
	Location *time.Location
	// Effect is WindowAllow or WindowDeny.
	Effect string
	// OverrideApprovals is how many signed approvals an apply outside
	// what the window allows needs with apply -override-window; 0: the
	// window cannot be overridden.
	OverrideApprovals int
	DeclRange         hcl.Range
}

// Contains reports whether t falls in the window.
func (w *ChangeWindow) Contains(t time.Time) bool {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	if len(w.Days) > 0 {
		found := false
		for _, d := range w.Days {
			found = found || d == lt.Weekday()
		}
		if !found {
			return false
		}
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= w.Start && m < w.End
}

// String describes the window: "mon-fri 09:00-17:00 Europe/Berlin".
func (w *ChangeWindow) String() string {
	days := "every day"
	if len(w.Days) > 0 {
		var names []string
		for _, d := range w.Days {
			names = append(names, dayNames[d])
		}
		days = strings.Join(names, ",")
	}
	return fmt.Sprintf("%s %s %s", days, w.Hours, w.TimeZone)
}

var dayNames = map[time.Weekday]string{time.Monday: "mon", time.Tuesday: "tue", time.Wednesday: "wed",
	time.Thursday: "thu", time.Friday: "fri", time.Saturday: "sat", time.Sunday: "sun"}

var policySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "max_records_skipped"}, {Name: "max_records_replayed"},
		{Name: "allow_resnapshot"}, {Name: "allow_sink_reset"}, {Name: "allow_jump_to_latest"}, {Name: "allow_topic_write"},
		{Name: "max_rows_repaired"}, {Name: "max_rows_deleted"},
		{Name: "approvals"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "change_window"}},
}

var windowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "days"}, {Name: "hours", Required: true}, {Name: "time_zone", Required: true},
	{Name: "effect", Required: true}, {Name: "override_approvals"},
}}

func (d *decoder) decodePolicy(b *hcl.Block) *Policy {
	p := &Policy{Name: b.Labels[0], AllowResnapshot: true, AllowSinkReset: true, AllowJumpToLatest: true, AllowTopicWrite: true,
		DeclRange: b.DefRange}
	content, diags := b.Body.Content(policySchema)
	d.add(diags...)
	attrs := content.Attributes
	p.Ranges = rangesOf(attrs)
	p.Description, _ = d.str(attrs["description"])
	bound := func(name string) *int64 {
		if v, ok := d.integer(attrs[name], 0, maxInt64); ok {
			return &v
		}
		return nil
	}
	p.MaxRecordsSkipped = bound("max_records_skipped")
	p.MaxRecordsReplayed = bound("max_records_replayed")
	p.MaxRowsRepaired = bound("max_rows_repaired")
	p.MaxRowsDeleted = bound("max_rows_deleted")
	for name, dst := range map[string]*bool{"allow_resnapshot": &p.AllowResnapshot, "allow_sink_reset": &p.AllowSinkReset,
		"allow_jump_to_latest": &p.AllowJumpToLatest, "allow_topic_write": &p.AllowTopicWrite} {
		if v, ok := d.boolean(attrs[name]); ok {
			*dst = v
		}
	}
	if a := attrs["approvals"]; a != nil {
		if v, ok := d.value(a, cty.Map(cty.Number)); ok {
			p.Approvals = map[string]int{}
			keys := make([]string, 0, v.LengthInt())
			for k := range v.AsValueMap() {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !knownRiskClass(k) {
					d.errorf(mapKeyRange(a.Expr, k), "Invalid risk class", "approvals has the key %q, which is no risk class: the classes are %s.%s",
						k, strings.Join(RiskClasses, ", "), suggestion(k, RiskClasses))
					continue
				}
				n, ok := d.wholeNumber("approvals."+k, v.AsValueMap()[k].AsBigFloat(), a.Expr.Range(), 0, 100)
				if ok {
					p.Approvals[k] = int(n)
				}
			}
		}
	}
	for _, wb := range content.Blocks {
		if w := d.decodeWindow(wb); w != nil {
			p.Windows = append(p.Windows, w)
		}
	}
	return p
}

// mapKeyRange is the range of key's item in a map literal, or the whole
// expression's when expr is no literal.
func mapKeyRange(expr hcl.Expression, key string) hcl.Range {
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return expr.Range()
	}
	for _, kv := range pairs {
		if k, kd := kv.Key.Value(nil); !kd.HasErrors() && k.Type() == cty.String && k.IsKnown() && k.AsString() == key {
			return kv.Key.Range()
		}
		if hcl.ExprAsKeyword(kv.Key) == key {
			return kv.Key.Range()
		}
	}
	return expr.Range()
}

func knownRiskClass(s string) bool {
	for _, c := range RiskClasses {
		if c == s {
			return true
		}
	}
	return false
}

func (d *decoder) decodeWindow(b *hcl.Block) *ChangeWindow {
	w := &ChangeWindow{DeclRange: b.DefRange}
	content, diags := b.Body.Content(windowSchema)
	d.add(diags...)
	attrs := content.Attributes
	ok := !diags.HasErrors()
	if a := attrs["days"]; a != nil {
		days, good := d.strings(a)
		ok = ok && good
		byName := map[string]time.Weekday{}
		for wd, n := range dayNames {
			byName[n] = wd
		}
		seen := map[time.Weekday]bool{}
		for _, s := range days {
			wd, known := byName[strings.ToLower(s)]
			if !known {
				d.errorf(a.Expr.Range(), "Invalid change window", "days lists %q: the days are mon, tue, wed, thu, fri, sat and sun.", s)
				ok = false
				continue
			}
			if !seen[wd] {
				seen[wd] = true
				w.Days = append(w.Days, wd)
			}
		}
		sort.Slice(w.Days, func(i, j int) bool { return (w.Days[i]+6)%7 < (w.Days[j]+6)%7 })
	}
	if a := attrs["hours"]; a != nil {
		if s, good := d.str(a); good {
			start, end, err := parseHours(s)
			if err != nil {
				d.errorf(a.Expr.Range(), "Invalid change window", "hours = %q: %v.", s, err)
				ok = false
			}
			w.Hours, w.Start, w.End = s, start, end
		} else {
			ok = false
		}
	}
	if a := attrs["time_zone"]; a != nil {
		if s, good := d.nonEmpty(a); good {
			loc, err := time.LoadLocation(s)
			if err != nil {
				d.errorf(a.Expr.Range(), "Invalid change window", "time_zone = %q is not a time zone offsetctl knows: use an IANA name such as \"Europe/Berlin\" or \"UTC\" (%v).", s, err)
				ok = false
			}
			w.TimeZone, w.Location = s, loc
		} else {
			ok = false
		}
	}
	if a := attrs["effect"]; a != nil {
		if s, good := d.str(a); good && (s == WindowAllow || s == WindowDeny) {
			w.Effect = s
		} else if good {
			d.errorf(a.Expr.Range(), "Invalid change window", "effect is %q (changes only inside the window) or %q (no changes inside it), not %q.", WindowAllow, WindowDeny, s)
			ok = false
		}
	}
	if v, good := d.integer(attrs["override_approvals"], 0, 100); good {
		w.OverrideApprovals = int(v)
	}
	if !ok {
		return nil
	}
	return w
}

// parseHours reads "HH:MM-HH:MM" into minutes after midnight; the end may
// be 24:00, and must be after the start.
func parseHours(s string) (int, int, error) {
	from, to, found := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	if !found {
		return 0, 0, fmt.Errorf("write the hours as \"HH:MM-HH:MM\", like \"09:00-17:00\"")
	}
	start, err := clock(from)
	if err != nil {
		return 0, 0, err
	}
	end, err := clock(to)
	if err != nil {
		return 0, 0, err
	}
	if end <= start {
		return 0, 0, fmt.Errorf("the end %s is not after the start %s: a window does not cross midnight; declare two windows instead", to, from)
	}
	return start, end, nil
}

func clock(s string) (int, error) {
	h, m, found := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !found || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM (00:00 to 24:00)", s)
	}
	return hh*60 + mm, nil
}

func policyView(p *Policy) any {
	var windows []any
	for _, w := range p.Windows {
		var days []string
		for _, d := range w.Days {
			days = append(days, dayNames[d])
		}
		windows = append(windows, map[string]any{"days": days, "hours": w.Hours, "time_zone": w.TimeZone,
			"effect": w.Effect, "override_approvals": w.OverrideApprovals})
	}
	return map[string]any{
		"description":          p.Description,
		"max_records_skipped":  p.MaxRecordsSkipped,
		"max_records_replayed": p.MaxRecordsReplayed,
		"allow_resnapshot":     p.AllowResnapshot,
		"allow_sink_reset":     p.AllowSinkReset,
		"allow_jump_to_latest": p.AllowJumpToLatest,
		"allow_topic_write":    p.AllowTopicWrite,
		"max_rows_repaired":    p.MaxRowsRepaired,
		"max_rows_deleted":     p.MaxRowsDeleted,
		"approvals":            p.Approvals,
		"change_windows":       windows,
	}
}
