package command

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/forge"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// keyPattern is what -key accepts: it names the comments' markers.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ciTarget are the flags that name the pull or merge request.
type ciTarget struct {
	github, gitlab bool
	number         int
	key            string
}

func addCITargetFlags(cmd *cobra.Command, t *ciTarget) {
	f := cmd.Flags()
	f.BoolVar(&t.github, "github", false, "comment on a GitHub pull request (default: detected from GITHUB_ACTIONS / GITHUB_REPOSITORY)")
	f.BoolVar(&t.gitlab, "gitlab", false, "comment on a GitLab merge request (default: detected from GITLAB_CI / CI_API_V4_URL)")
	f.IntVar(&t.number, "pr", 0, "the pull request's number or merge request's IID (default: from GITHUB_EVENT_PATH or CI_MERGE_REQUEST_IID)")
	f.StringVar(&t.key, "key", "default", "names the comment when one pull request plans several configurations or states (letters, digits, . _ -)")
}

func (t *ciTarget) check() error {
	if t.github && t.gitlab {
		return flagErrorf("-github and -gitlab cannot be combined")
	}
	if !keyPattern.MatchString(t.key) {
		return flagErrorf("-key %q: use 1 to 64 letters, digits, '.', '_' or '-'", t.key)
	}
	return nil
}

// open builds the forge client from the flags and the CI's environment.
func (t *ciTarget) open(cmd *cobra.Command, deps *Deps) (forge.Forge, error) {
	kind := forge.KindAuto
	switch {
	case t.github:
		kind = forge.KindGitHub
	case t.gitlab:
		kind = forge.KindGitLab
	}
	return forge.FromEnv(cmd.Context(), deps.Getenv, forge.Target{Kind: kind, Number: t.number}, forge.Options{UserAgent: "offsetctl/" + Version})
}

func newCICmd(deps *Deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "Pull-request automation: post the plan and the apply result, check the reviewed plan",
		Long: `The commands a CI job runs around plan and apply: post the plan as one pull-request
comment (GitHub) or merge-request note (GitLab), updated in place on each push; read the
reviewed plan's hash back from it; check that the plan file about to be applied is that
plan; and post apply's result.

Tokens are read from the environment and never printed: GITHUB_TOKEN (with GITHUB_API_URL,
GITHUB_REPOSITORY and GITHUB_EVENT_PATH as GitHub Actions sets them), or GITLAB_TOKEN, a
project access token with the api scope (CI_JOB_TOKEN cannot write notes), with
CI_API_V4_URL, CI_PROJECT_ID and CI_MERGE_REQUEST_IID as GitLab CI sets them.

Only comments written by offsetctl's own identity are found (the token's user; for
GITHUB_TOKEN github-actions[bot]; OFFSETCTL_COMMENT_AUTHOR names it for a GitHub App's
token): a comment someone else starts with the marker is never updated nor read.`,
	}
	cmd.AddCommand(newCICommentCmd(deps, g), newCIReviewedPlanCmd(deps, g), newCIVerifyPlanCmd(deps, g))
	return cmd
}

type ciCommentOptions struct {
	t           ciTarget
	planFile    string
	bodyFile    string
	applyResult string
	exitCode    int
	artifact    string
	runURL      string
	commit      string
	dryRun      bool
}

func newCICommentCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &ciCommentOptions{}
	cmd := &cobra.Command{
		Use:   "comment (-plan FILE | -apply-result FILE | -body-file FILE) [-github | -gitlab] [-key NAME]",
		Short: "Post or update the plan, the apply result or a Markdown file as one pull-request comment",
		Long: `Post the Markdown rendering of a saved plan (-plan), the result of apply -json
(-apply-result), or a Markdown file (-body-file) as a comment on the pull request or merge
request the CI job runs for. The comment starts with a hidden marker: the next run finds it
and updates it in place instead of adding a comment.

A plan comment carries the plan's hash, visibly and in a hidden line that
offsetctl ci reviewed-plan and ci verify-plan read back, and names the artifact that holds
the plan file. A comment over 65,000 characters is cut, with a note saying so and where the
whole is.

The apply result comment says whether the reviewed plan was applied, refused (a stale plan:
what changed, and what to do) or failed, with each operation's serial and status.`,
		Example: `  offsetctl plan -out plan.json
  offsetctl ci comment -plan plan.json -artifact offsetctl-plan-default

  offsetctl apply -json -auto-approve plan.json > apply.jsonl; code=$?
  offsetctl ci comment -apply-result apply.jsonl -plan plan.json -exit-code $code`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCIComment(cmd, deps, g, o)
		},
	}
	addCITargetFlags(cmd, &o.t)
	f := cmd.Flags()
	f.StringVar(&o.planFile, "plan", "", "a plan saved with plan -out: post its Markdown rendering (with -apply-result: the plan that was applied)")
	f.StringVar(&o.bodyFile, "body-file", "", "post this Markdown file ('-' for standard input)")
	f.StringVar(&o.applyResult, "apply-result", "", "the output of apply -json: post the result (a missing or empty file says apply did not run)")
	f.IntVar(&o.exitCode, "exit-code", -1, "apply's exit code, shown in the result comment")
	f.StringVar(&o.artifact, "artifact", "", "the name of the CI artifact holding the plan file (default offsetctl-plan-KEY)")
	f.StringVar(&o.runURL, "run-url", "", "the CI run's address (default: from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID, or CI_JOB_URL)")
	f.StringVar(&o.commit, "commit", "", "the commit that was planned (default GITHUB_SHA or CI_COMMIT_SHA; on a GitHub pull request pass the head SHA)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the comment instead of posting it (no token needed)")
	return cmd
}

func runCIComment(cmd *cobra.Command, deps *Deps, g *globalOptions, o *ciCommentOptions) error {
	if err := o.t.check(); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{o.bodyFile, o.applyResult} {
		if s != "" {
			n++
		}
	}
	if o.planFile != "" && o.applyResult == "" {
		n++
	}
	if n != 1 {
		return flagErrorf("give one of -plan FILE, -apply-result FILE (with -plan for its hash) or -body-file FILE")
	}
	v := views.NewCI(deps.Streams, g.JSON)
	env := ciEnv(deps)
	if o.runURL == "" {
		o.runURL = env.runURL
	}
	if o.commit == "" {
		o.commit = env.commit
	}
	if o.artifact == "" {
		o.artifact = "offsetctl-plan-" + o.t.key
	}
	var marker, body, what string
	switch {
	case o.applyResult != "":
		marker, what = views.ApplyMarker(o.t.key), "apply result"
		hash := ""
		if o.planFile != "" {
			// The result is posted even when the plan file is not the
			// reviewed one (then apply did not run): say so, go on.
			if p, err := plan.ReadFile(o.planFile); err != nil {
				v.Warn(fmt.Sprintf("the result comment names no plan hash: %v", err))
			} else {
				hash = p.Hash
			}
		}
		sum, ran, err := readApplyResult(o.applyResult)
		if err != nil {
			return err
		}
		body = views.ApplyComment(o.t.key, hash, sum, ran, o.exitCode, o.runURL)
	case o.planFile != "":
		marker, what = views.PlanMarker(o.t.key), "plan"
		p, err := plan.ReadFile(o.planFile)
		if err != nil {
			return err
		}
		b, err := views.PlanComment(p, views.CommentMeta{Key: o.t.key, Artifact: o.artifact, RunID: env.runID, JobID: env.jobID, Commit: o.commit, RunURL: o.runURL}, forge.Limit)
		if err != nil {
			return err
		}
		body = b
	default:
		marker, what = views.CustomMarker(o.t.key), "comment"
		var data []byte
		var err error
		if o.bodyFile == "-" {
			data, err = io.ReadAll(deps.Streams.In)
		} else {
			data, err = os.ReadFile(o.bodyFile)
		}
		if err != nil {
			return fmt.Errorf("reading the comment body: %w", err)
		}
		body = marker + "\n" + views.CutComment(string(data), forge.Limit-len(marker)-1, "The whole text is in the CI job's log or artifacts.")
	}
	if o.dryRun {
		return v.Comment(body)
	}
	f, err := o.t.open(cmd, deps)
	if err != nil {
		return err
	}
	url, created, err := f.UpsertComment(cmd.Context(), marker, body)
	if err != nil {
		return fmt.Errorf("posting the %s comment on %s: %w", what, f.Where(), err)
	}
	return v.Posted(what, f.Where(), url, created)
}

// readApplyResult reads apply -json's output; a missing or empty file
// means apply did not run.
func readApplyResult(path string) (views.ApplyRecord, bool, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return views.ApplyRecord{}, false, nil
	}
	if err != nil {
		return views.ApplyRecord{}, false, fmt.Errorf("reading apply's result: %w", err)
	}
	defer fh.Close()
	sum, ok, err := views.ReadApplySummary(fh)
	if err != nil {
		return views.ApplyRecord{}, false, fmt.Errorf("reading apply's result %s: %w", path, err)
	}
	return sum, ok, nil
}

// ciEnvironment is what the CI's variables say about the run.
type ciEnvironment struct {
	runURL, runID, jobID, commit string
}

func ciEnv(deps *Deps) ciEnvironment {
	e := ciEnvironment{}
	if id := deps.Getenv("GITHUB_RUN_ID"); id != "" {
		e.runID = id
		server := deps.Getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		if repo := deps.Getenv("GITHUB_REPOSITORY"); repo != "" {
			e.runURL = fmt.Sprintf("%s/%s/actions/runs/%s", strings.TrimRight(server, "/"), repo, id)
		}
		e.commit = deps.Getenv("GITHUB_SHA")
	}
	if id := deps.Getenv("CI_JOB_ID"); id != "" {
		e.jobID = id
		e.runURL = deps.Getenv("CI_JOB_URL")
		e.commit = deps.Getenv("CI_COMMIT_SHA")
	}
	return e
}

// reviewedPlan reads the plan comment's metadata from the pull request.
func reviewedPlan(cmd *cobra.Command, deps *Deps, t *ciTarget) (views.CommentMeta, string, error) {
	f, err := t.open(cmd, deps)
	if err != nil {
		return views.CommentMeta{}, "", err
	}
	c, err := f.FindComment(cmd.Context(), views.PlanMarker(t.key))
	if err != nil {
		return views.CommentMeta{}, "", fmt.Errorf("reading the plan comment of %s: %w", f.Where(), err)
	}
	if c == nil {
		return views.CommentMeta{}, "", withHint(fmt.Errorf("%s has no offsetctl plan comment (key %q): nothing was reviewed, so nothing is applied", f.Where(), t.key),
			"The pull-request workflow posts it with offsetctl ci comment -plan FILE; check that it ran on the last push, and that -key matches.")
	}
	m, ok := views.ParseMeta(c.Body)
	if !ok {
		return views.CommentMeta{}, "", fmt.Errorf("the plan comment of %s (%s) carries no plan hash: it was edited or written by another offsetctl; push again to re-plan", f.Where(), c.URL)
	}
	if m.FormatVersion > views.CommentMetaFormat {
		return views.CommentMeta{}, "", fmt.Errorf("the plan comment of %s is of format_version %d; this offsetctl reads %d: use the same offsetctl in both jobs", f.Where(), m.FormatVersion, views.CommentMetaFormat)
	}
	return m, f.Where(), nil
}

func newCIReviewedPlanCmd(deps *Deps, g *globalOptions) *cobra.Command {
	t := &ciTarget{}
	cmd := &cobra.Command{
		Use:   "reviewed-plan [-github | -gitlab] [-key NAME]",
		Short: "Print the hash and artifact of the plan reviewed in the pull request",
		Long: `Read the plan comment of the pull request (or merge request) and print, one per line as
name=value (ready for $GITHUB_OUTPUT or a dotenv report), the reviewed plan's hash, the
artifact holding its file and the run or job that uploaded it.`,
		Example: `  offsetctl ci reviewed-plan >> "$GITHUB_OUTPUT"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := t.check(); err != nil {
				return err
			}
			m, _, err := reviewedPlan(cmd, deps, t)
			if err != nil {
				return err
			}
			return views.NewCI(deps.Streams, g.JSON).ReviewedPlan(m)
		},
	}
	addCITargetFlags(cmd, t)
	return cmd
}

func newCIVerifyPlanCmd(deps *Deps, g *globalOptions) *cobra.Command {
	t := &ciTarget{}
	var hash string
	cmd := &cobra.Command{
		Use:   "verify-plan PLANFILE [-hash sha256:... | -github | -gitlab]",
		Short: "Refuse a plan file that is not the plan reviewed in the pull request",
		Long: `Check that PLANFILE is unmodified (its content matches its hash) and that its hash is the
reviewed one: given with -hash, or else read from the pull request's plan comment through
the API. Exit code 1 and nothing applied when it is not.

apply then checks the plan against the live world again and refuses a stale plan.`,
		Example: `  offsetctl ci verify-plan plan.json
  offsetctl ci verify-plan plan.json -hash sha256:6485dcdc…`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := t.check(); err != nil {
				return err
			}
			p, err := plan.ReadFile(args[0])
			if err != nil {
				return withHint(err, "The plan file must be the artifact the pull-request workflow uploaded, unchanged.")
			}
			where := "-hash"
			if hash == "" {
				m, w, err := reviewedPlan(cmd, deps, t)
				if err != nil {
					return err
				}
				hash, where = m.Hash, "the plan comment of "+w
			}
			if p.Hash != hash {
				return withHint(fmt.Errorf("%s is plan %s, but the plan reviewed (%s) is %s: it is not the reviewed plan; nothing was applied", args[0], p.Hash, where, hash),
					"Apply only the plan file whose hash the pull request shows: download the artifact of the run named in the plan comment, or push again so that CI plans, comments and uploads a matching pair.")
			}
			return views.NewCI(deps.Streams, g.JSON).VerifiedPlan(args[0], p.Hash)
		},
	}
	addCITargetFlags(cmd, t)
	cmd.Flags().StringVar(&hash, "hash", "", "the reviewed plan's hash (default: read from the pull request's plan comment)")
	return cmd
}
