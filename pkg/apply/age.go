package apply

import (
	"errors"
	"fmt"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// ErrPlanExpired: the saved plan is older than the configuration's
// plan_max_age (default 24 h). Nothing was changed.
var ErrPlanExpired = errors.New("the plan expired")

// CheckPlanAge refuses a saved plan made longer ago than the configuration's
// plan_max_age (config.DefaultPlanMaxAge when not set), even when nothing it
// observed moved: a review is of a world at a moment, and the team decided
// how long that moment lasts. A plan without a creation time is refused too.
func CheckPlanAge(p *plan.Plan, cfg *config.Config, now time.Time) error {
	var max time.Duration
	if cfg != nil {
		max = cfg.Settings.MaxPlanAge()
	} else {
		max = config.DefaultPlanMaxAge
	}
	if p.CreatedAt.IsZero() {
		return fmt.Errorf("%w: the plan records no creation time (created_at), so its age cannot be checked against plan_max_age %s: make a new plan with offsetctl plan -out", ErrPlanExpired, max)
	}
	age := now.Sub(p.CreatedAt)
	if age <= max {
		return nil
	}
	return fmt.Errorf("%w: it was made at %s, %s ago, and the configuration accepts plans up to %s old (offsetctl { plan_max_age = %q }); nothing was changed: make a new plan (offsetctl plan -out FILE), have it reviewed, and apply that",
		ErrPlanExpired, p.CreatedAt.UTC().Format(time.RFC3339), age.Truncate(time.Second), max, max.String())
}
