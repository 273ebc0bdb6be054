package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// The runbook's cadences, with some slack for a schedule's jitter.
const (
	readinessCheckMaxAge  = 26 * time.Hour      // daily checks
	readinessBackupMaxAge = 90 * time.Minute    // hourly backups
	readinessDrillMaxAge  = 92 * 24 * time.Hour // quarterly drills
	readinessLastOps      = 5                   // operations whose approvals are looked at
)

type readinessOptions struct {
	deps         *Deps
	g            *globalOptions
	cfg          configOptions
	loc          stateLocation
	backupDir    string
	checkMetrics string
	markdown     bool
}

func newReadinessCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &readinessOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "readiness",
		Short: "The runbook's readiness scorecard, from the evidence in the state and the configuration",
		Long: `readiness computes the runbook's scorecard from evidence, not from answers to a
questionnaire. Each row says ready or not, the evidence, and the next step:

  1. daily drift checks      the last offsetctl check (recorded with --record in the state, or
                             read from its --check-metrics textfile) ran within 26 hours and
                             was healthy, and the reconcile blocks carry check { } thresholds
  2. hourly offsets backups  the newest backup in --backup-dir is at most 90 minutes old
  3. quarterly drills        the last offsetctl drill in the state passed, within 92 days,
                             in under 15 minutes
  4. two-person approval     required_approvals and allowed_signers are set, the last
     and pre-flight          applied operations carry that many verified approvals, and
                             the pre-flight checklist apply recorded from their plans (in
                             the state) was met, item by item
  5. runbooks in git         the configuration, its README (the runbook) and its plans are
                             committed, with nothing left uncommitted

It reads only. Exit status: 0 every row ready, 2 some row not ready, 1 error.`,
		Example: `  offsetctl readiness --backup-dir /var/lib/offsetctl/backups
  offsetctl readiness --check-metrics /var/lib/node_exporter/textfile/offsetctl.prom --markdown`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.markdown && o.g.JSON {
				return flagErrorf("-json and --markdown cannot be combined")
			}
			return readinessRun(cmd.Context(), cmd, o)
		},
	}
	addConfigFlags(cmd, &o.cfg)
	addStateFlag(cmd, &o.loc)
	cmd.Flags().StringVar(&o.backupDir, "backup-dir", "", "the directory offsetctl offsets backup --dir writes to")
	cmd.Flags().StringVar(&o.checkMetrics, "check-metrics", "", "the textfile offsetctl check --metrics-file writes (when check does not --record)")
	cmd.Flags().BoolVar(&o.markdown, "markdown", false, "print Markdown instead of text")
	return cmd
}

func readinessRun(ctx context.Context, cmd *cobra.Command, o *readinessOptions) error {
	cfg, _, err := loadConfig(o.deps, o.cfg.chdir, o.cfg.in, true)
	if err != nil {
		return err
	}
	o.loc.parsed(cmd)
	backend, err := stateFor(cmd.Context(), o.deps, &o.loc, cfg)
	if err != nil {
		return err
	}
	defer backend.Close()
	st, err := backend.Read(ctx)
	if errors.Is(err, state.ErrNoState) {
		st, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("reading the state: %w", err)
	}
	now := o.deps.Now()
	r := &views.ReadinessResult{FormatVersion: views.ReadinessFormat, Rows: []views.ReadinessRow{
		readinessChecks(cfg, st, o.checkMetrics, now),
		readinessBackups(o.backupDir, now),
		readinessDrills(st, now),
		readinessApprovals(cfg, st),
		readinessRunbooks(o.cfg.chdir),
	}}
	for i := range r.Rows {
		r.Rows[i].N = i + 1
		if r.Rows[i].Ready {
			r.ReadyRows++
		}
	}
	if err := views.NewReadiness(o.deps.Streams, o.g.JSON, o.markdown).Scorecard(r); err != nil {
		return err
	}
	if r.ReadyRows < len(r.Rows) {
		return &exitError{code: ExitChanges}
	}
	return nil
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String() + " ago"
}

// lastOp returns the most recent operation of kind k, or nil.
func lastOp(st *state.State, k state.Kind) *state.Operation {
	if st == nil {
		return nil
	}
	for i := len(st.Operations) - 1; i >= 0; i-- {
		if st.Operations[i].Kind == k {
			return &st.Operations[i]
		}
	}
	return nil
}

func readinessChecks(cfg *config.Config, st *state.State, metricsFile string, now time.Time) views.ReadinessRow {
	row := views.ReadinessRow{Item: "Drift checks run daily and alert past a threshold"}
	thresholds := 0
	for _, r := range cfg.Reconciles {
		if r.Check != nil {
			thresholds++
		}
	}
	var when time.Time
	healthy, found, source := false, false, ""
	if op := lastOp(st, state.KindCheck); op != nil {
		when, healthy, found, source = op.Started, op.Status == state.StatusApplied, true, fmt.Sprintf("state operation %d", op.Serial)
	}
	if metricsFile != "" {
		if t, h, ok := readCheckMetrics(metricsFile); ok && (!found || t.After(when)) {
			when, healthy, found, source = t, h, true, filepath.Base(metricsFile)
		}
	}
	switch {
	case len(cfg.Reconciles) == 0:
		row.Evidence = "no reconcile block: nothing is checked"
		row.Next = "Declare a reconcile block per replicated table, with a check { } block, and run offsetctl check daily (examples/monitoring)."
	case !found:
		row.Evidence = fmt.Sprintf("%d reconcile blocks, %d with check thresholds; no check has run (none in the state, no metrics file)", len(cfg.Reconciles), thresholds)
		row.Next = "Schedule offsetctl check --record (or --metrics-file) daily: examples/monitoring has a systemd timer and a CronJob, and alert rules."
	case now.Sub(when) > readinessCheckMaxAge:
		row.Evidence = fmt.Sprintf("the last check ran %s (%s)", ago(now, when), source)
		row.Next = "The daily check has stopped: see its timer or CronJob."
	case !healthy:
		row.Evidence = fmt.Sprintf("the last check ran %s (%s) and found drift or a crossed threshold", ago(now, when), source)
		row.Next = "Investigate the drift it found (offsetctl check, then offsetctl plan) before calling the checks green."
	case thresholds < len(cfg.Reconciles):
		row.Evidence = fmt.Sprintf("the last check ran %s (%s), healthy; %d of %d reconcile blocks have check thresholds", ago(now, when), source, thresholds, len(cfg.Reconciles))
		row.Next = "Give every reconcile block a check { } block with its thresholds."
	default:
		row.Ready = true
		row.Evidence = fmt.Sprintf("the last check ran %s (%s), healthy; %d reconcile blocks with thresholds", ago(now, when), source, thresholds)
	}
	return row
}

// readCheckMetrics reads the start time and health of the last check from
// its textfile.
func readCheckMetrics(path string) (time.Time, bool, bool) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, false, false
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		return time.Time{}, false, false
	}
	last, ok1 := mfs["offsetctl_check_last_run_timestamp_seconds"]
	h, ok2 := mfs["offsetctl_check_healthy"]
	if !ok1 || !ok2 || len(last.GetMetric()) == 0 || len(h.GetMetric()) == 0 {
		return time.Time{}, false, false
	}
	sec := last.GetMetric()[0].GetGauge().GetValue()
	return time.Unix(0, int64(sec*1e9)).UTC(), h.GetMetric()[0].GetGauge().GetValue() == 1, true
}

func readinessBackups(dir string, now time.Time) views.ReadinessRow {
	row := views.ReadinessRow{Item: "Offsets backed up hourly"}
	if dir == "" {
		row.Evidence = "no backup directory given (--backup-dir)"
		row.Next = "Schedule offsetctl offsets backup --all --dir DIR --keep-within 7d hourly and pass --backup-dir DIR."
		return row
	}
	b := newestBackup(dir, now)
	switch {
	case b.Newest == "":
		row.Evidence = "no scheduled backup in the backup directory"
		row.Next = "Schedule offsetctl offsets backup --all --dir DIR --keep-within 7d hourly (examples/monitoring/cronjob.yaml)."
	case now.Sub(b.TakenAt) > readinessBackupMaxAge:
		row.Evidence = fmt.Sprintf("the newest backup, %s, was taken %s", filepath.Base(b.Newest), ago(now, b.TakenAt))
		row.Next = "The hourly backup has stopped: see its schedule."
	default:
		row.Ready = true
		row.Evidence = fmt.Sprintf("the newest backup, %s, was taken %s", filepath.Base(b.Newest), ago(now, b.TakenAt))
	}
	return row
}

func readinessDrills(st *state.State, now time.Time) views.ReadinessRow {
	row := views.ReadinessRow{Item: "Restore drills pass quarterly, recovering within 15 minutes"}
	var last *state.Operation
	if st != nil {
		for i := len(st.Operations) - 1; i >= 0; i-- {
			if op := &st.Operations[i]; op.Kind == state.KindDrill && op.Status == state.StatusApplied {
				last = op
				break
			}
		}
	}
	switch {
	case last == nil:
		row.Evidence = "no passed drill in the state"
		row.Next = "Run offsetctl drill (--sandbox, or --target a staging cluster) and repeat it every quarter."
	case now.Sub(last.Started) > readinessDrillMaxAge:
		row.Evidence = fmt.Sprintf("the last passed drill (state operation %d) ran %s", last.Serial, ago(now, last.Started))
		row.Next = "Run offsetctl drill again: the runbook wants one every quarter."
	case last.Finished.Sub(last.Started) > drillTotalTarget:
		row.Evidence = fmt.Sprintf("the last drill (state operation %d) took %s", last.Serial, last.Finished.Sub(last.Started).Round(time.Second))
		row.Next = "Make the recovery faster: the runbook's target is 15 minutes."
	default:
		row.Ready = true
		row.Evidence = fmt.Sprintf("the last drill (state operation %d) passed %s in %s", last.Serial, ago(now, last.Started), last.Finished.Sub(last.Started).Round(time.Second))
	}
	return row
}

func readinessApprovals(cfg *config.Config, st *state.State) views.ReadinessRow {
	row := views.ReadinessRow{Item: "Offset changes need two-person approval and the pre-flight checklist"}
	need := cfg.Settings.RequiredApprovals
	if need < 1 || cfg.Settings.AllowedSigners == "" {
		row.Evidence = fmt.Sprintf("required_approvals = %d, allowed_signers %s", need, setOrNot(cfg.Settings.AllowedSigners != ""))
		row.Next = "Set offsetctl { required_approvals = 1 (a reviewer besides the author), allowed_signers = \"allowed_signers\" } and approve plans with offsetctl approve."
		return row
	}
	// The last applied operations: their verified approvals, and for those
	// that changed offsets the pre-flight checklist apply recorded from
	// their plan (steps named pre-flight: done where met, skipped where
	// left open). Repairs have no checklist.
	var ops, short, open, none []string
	items, met := 0, 0
	if st != nil {
		for i := len(st.Operations) - 1; i >= 0 && len(ops) < readinessLastOps; i-- {
			op := &st.Operations[i]
			if (op.Kind != state.KindOffsets && op.Kind != state.KindReconcile) || op.Status != state.StatusApplied {
				continue
			}
			ops = append(ops, op.Name)
			if len(op.VerifiedApprovals) < need {
				short = append(short, fmt.Sprintf("%s (operation %d: %d verified)", op.Name, op.Serial, len(op.VerifiedApprovals)))
			}
			if op.Kind != state.KindOffsets {
				continue
			}
			var left []string
			n := 0
			for _, s := range op.Steps {
				if s.Name != string(apply.StepPreflight) {
					continue
				}
				n++
				if s.Status == state.StepDone {
					met++
				} else {
					left = append(left, s.Target)
				}
			}
			items += n
			switch {
			case n == 0:
				none = append(none, fmt.Sprintf("%s (operation %d)", op.Name, op.Serial))
			case len(left) > 0:
				open = append(open, fmt.Sprintf("%s (operation %d: %s)", op.Name, op.Serial, strings.Join(left, ", ")))
			}
		}
	}
	switch {
	case len(short) > 0:
		row.Evidence = fmt.Sprintf("required_approvals = %d; applied without them: %s", need, strings.Join(short, ", "))
		row.Next = "Apply only reviewed, signed plans (CI applies exactly the reviewed plan)."
	case len(open) > 0:
		row.Evidence = fmt.Sprintf("required_approvals = %d, approvals verified; applied with pre-flight items open (from the state): %s", need, strings.Join(open, "; "))
		row.Next = "Meet the plan's pre-flight checklist before applying (the Markdown comment of offsetctl plan lists it): acknowledge, change_window, a recorded check."
	case len(none) > 0:
		row.Evidence = fmt.Sprintf("required_approvals = %d, approvals verified; no pre-flight checklist recorded in the state for: %s", need, strings.Join(none, ", "))
		row.Next = "Apply saved plans (offsetctl plan -out, then offsetctl apply PLAN): apply records the plan's pre-flight checklist with the operation."
	case len(ops) == 0:
		row.Ready = true
		row.Evidence = fmt.Sprintf("required_approvals = %d, allowed_signers set; no operation applied yet", need)
	default:
		row.Ready = true
		row.Evidence = fmt.Sprintf("required_approvals = %d, allowed_signers set; the last %d applied operations carry verified approvals, and their pre-flight checklists were met (%d of %d items, from the state)", need, len(ops), met, items)
	}
	return row
}

func setOrNot(b bool) string {
	if b {
		return "set"
	}
	return "not set"
}

func readinessRunbooks(dir string) views.ReadinessRow {
	row := views.ReadinessRow{Item: "Runbooks, configuration and plans in version control"}
	git := func(args ...string) (string, error) {
		c := exec.Command("git", append([]string{"-C", dir}, args...)...)
		out, err := c.Output()
		return strings.TrimSpace(string(out)), err
	}
	if _, err := git("rev-parse", "--is-inside-work-tree"); err != nil {
		row.Evidence = "the configuration's directory is not in a git repository"
		row.Next = "Keep the configuration, a README (the runbook: decision points, commands, contacts) and the reviewed plans in git; open a pull request per change."
		return row
	}
	tracked, _ := git("ls-files", "--", "*.hcl", "README.md", "*.json")
	dirty, _ := git("status", "--porcelain", "--", ".")
	hasReadme, hcl := false, 0
	for _, f := range strings.Fields(tracked) {
		switch {
		case f == "README.md" || strings.HasSuffix(f, "/README.md"):
			hasReadme = true
		case strings.HasSuffix(f, ".hcl"):
			hcl++
		}
	}
	switch {
	case hcl == 0:
		row.Evidence = "no configuration file is committed"
		row.Next = "Commit the *.hcl files."
	case !hasReadme:
		row.Evidence = fmt.Sprintf("%d configuration files committed; no README.md (the runbook) beside them", hcl)
		row.Next = "Commit a README.md with the runbook: rollback decision points, commands, who to call (examples/ has one per scenario)."
	case dirty != "":
		row.Evidence = fmt.Sprintf("%d configuration files and the README committed; uncommitted changes: %s", hcl, strings.Join(strings.Fields(dirty), " "))
		row.Next = "Commit the changes (through a pull request) before relying on them."
	default:
		row.Ready = true
		row.Evidence = fmt.Sprintf("%d configuration files and the README committed, nothing uncommitted", hcl)
	}
	return row
}
