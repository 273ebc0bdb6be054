package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Tolerance is an offsets block's tolerance attribute: how far the risk of
// the operation may grow between the plan that was reviewed and the apply
// that runs it, while the connector keeps running. A nil field takes the
// default: the count may grow by what the connector processed since the
// plan (its committed offsets' progress on the partitions the operation
// changes).
type Tolerance struct {
	// Replays is how many more records than reviewed the operation may
	// replay, in all; nil for the default.
	Replays *int64
	// Skips is how many more records than reviewed the operation may skip,
	// in all; nil for the default.
	Skips *int64
}

// toleranceKeys are the attributes of tolerance, in the order messages list
// them.
var toleranceKeys = []string{"replays", "skips"}

// decodeTolerance reads tolerance = { replays = N, skips = N } (either may
// be left out).
func (d *decoder) decodeTolerance(attr *hcl.Attribute) *Tolerance {
	if attr == nil {
		return nil
	}
	v, ok := d.value(attr, cty.DynamicPseudoType)
	if !ok {
		return nil
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		d.errorf(attr.Expr.Range(), "Incorrect attribute value type", "tolerance is an object: tolerance = { replays = N, skips = N }, each a whole number of records (either may be left out), not a %s.", v.Type().FriendlyName())
		return nil
	}
	t := &Tolerance{}
	vals := map[string]cty.Value{}
	keys := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		keys = append(keys, k.AsString())
		vals[k.AsString()] = ev
	}
	sort.Strings(keys)
	for _, k := range keys {
		ev := vals[k]
		var dst **int64
		switch k {
		case "replays":
			dst = &t.Replays
		case "skips":
			dst = &t.Skips
		default:
			d.errorf(attr.Expr.Range(), "Invalid value", "tolerance has no %q: it takes %s (whole numbers of records).%s", k, strings.Join(toleranceKeys, " and "), suggestion(k, toleranceKeys))
			continue
		}
		if ev.IsNull() || !ev.IsKnown() || ev.Type() != cty.Number {
			d.errorf(attr.Expr.Range(), "Invalid value", "tolerance.%s must be a whole number of records of at least 0.", k)
			continue
		}
		if n, ok := d.wholeNumber("tolerance."+k, ev.AsBigFloat(), attr.Expr.Range(), 0, maxInt64); ok {
			*dst = &n
		}
	}
	return t
}

// toleranceView is tolerance in the configuration's hash; nil when not
// given, so that the hashes of configurations without it do not change.
func toleranceView(t *Tolerance) any {
	if t == nil {
		return nil
	}
	return map[string]any{"replays": t.Replays, "skips": t.Skips}
}
