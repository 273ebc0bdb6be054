package command

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/forge"
	"github.com/offsetctl/offsetctl/internal/forge/forgetest"
	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

const (
	ciGitHubToken = "ghs_CITESTSECRET000111222333"
	ciGitLabToken = "glpat-CITESTSECRET000111222"
	rewindPlan    = "testdata/ci/plan-rewind.json"
	skipPlan      = "testdata/ci/plan-skip.json"
)

// runCI runs offsetctl with env as the whole environment.
func runCI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC) }}
	code := run(context.Background(), deps, args)
	for _, secret := range []string{ciGitHubToken, ciGitLabToken} {
		if strings.Contains(out.String()+errOut.String(), secret) {
			t.Fatalf("offsetctl %s printed the token", strings.Join(args, " "))
		}
	}
	return code, out.String(), errOut.String()
}

func githubEnv(t *testing.T, srv *forgetest.GitHub) map[string]string {
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"action":"synchronize","number":12,"pull_request":{"number":12,"head":{"sha":"0123456789abcdef0123456789abcdef01234567"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/cdc", "GITHUB_API_URL": srv.URL(), "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_TOKEN": ciGitHubToken, "GITHUB_EVENT_PATH": event, "GITHUB_RUN_ID": "4242", "GITHUB_SHA": "fedcba9876543210fedcba9876543210fedcba98"}
}

func gitlabEnv(srv *forgetest.GitLab) map[string]string {
	return map[string]string{"GITLAB_CI": "true", "CI_API_V4_URL": srv.URL(), "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
		"CI_PROJECT_URL": "https://gitlab.example/acme/cdc", "GITLAB_TOKEN": ciGitLabToken, "CI_JOB_TOKEN": "job-CITESTSECRET",
		"CI_JOB_ID": "9001", "CI_JOB_URL": "https://gitlab.example/acme/cdc/-/jobs/9001", "CI_COMMIT_SHA": "fedcba9876543210fedcba9876543210fedcba98"}
}

// TestCICommentUpdatesOneComment: on each push the plan comment is updated
// in place, on GitHub and on GitLab; the merge job reads the reviewed hash
// back and verify-plan accepts the reviewed file and refuses another.
func TestCICommentUpdatesOneComment(t *testing.T) {
	gh := forgetest.NewGitHub("acme/cdc", 12, ciGitHubToken)
	defer gh.Close()
	gh.Seed("LGTM", "please check partition 2")
	gl := forgetest.NewGitLab("42", 7, ciGitLabToken)
	defer gl.Close()
	gl.SeedSystem("added 1 commit")
	rewind, err := plan.ReadFile(rewindPlan)
	if err != nil {
		t.Fatal(err)
	}
	skip, err := plan.ReadFile(skipPlan)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		notes func() []forgetest.Note
		where string
		ids   string
	}{
		{"github", githubEnv(t, gh), gh.Notes, "GitHub pull request acme/cdc#12", "run_id=4242"},
		{"gitlab", gitlabEnv(gl), gl.Notes, "GitLab merge request !7 of project 42", "job_id=9001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.notes())
			code, out, errOut := runCI(t, tc.env, "ci", "comment", "-plan", rewindPlan)
			if code != 0 || !strings.HasPrefix(out, "Created the plan comment on "+tc.where+": ") {
				t.Fatalf("first push: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			code, out, errOut = runCI(t, tc.env, "ci", "comment", "-plan", skipPlan)
			if code != 0 || !strings.HasPrefix(out, "Updated the plan comment on "+tc.where+": ") {
				t.Fatalf("second push: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			notes := tc.notes()
			if len(notes) != before+1 {
				t.Fatalf("%d comments after two pushes, want %d (one plan comment)", len(notes), before+1)
			}
			last := notes[len(notes)-1].Body
			if !strings.HasPrefix(last, views.PlanMarker("default")) || !strings.Contains(last, skip.Hash) || strings.Contains(last, rewind.Hash) {
				t.Fatalf("the plan comment does not show the last push's plan:\n%s", last)
			}

			code, out, _ = runCI(t, tc.env, "ci", "reviewed-plan")
			want := fmt.Sprintf("hash=%s\nartifact=offsetctl-plan-default\n%s\ncommit=fedcba9876543210fedcba9876543210fedcba98\n", skip.Hash, tc.ids)
			if code != 0 || out != want {
				t.Errorf("reviewed-plan: exit %d\n%s\nwant\n%s", code, out, want)
			}
			code, out, errOut = runCI(t, tc.env, "ci", "verify-plan", skipPlan)
			if code != 0 || out != fmt.Sprintf("%s is the reviewed plan %s.\n", skipPlan, skip.Hash) {
				t.Errorf("verify-plan of the reviewed plan: exit %d, %q %q", code, out, errOut)
			}
			code, _, errOut = runCI(t, tc.env, "ci", "verify-plan", rewindPlan)
			wantErr := fmt.Sprintf("Error: %s is plan %s, but the plan reviewed (the plan comment of %s) is %s: it is not the reviewed plan; nothing was applied\n", rewindPlan, rewind.Hash, tc.where, skip.Hash)
			if code != ExitError || !strings.HasPrefix(errOut, wantErr) {
				t.Errorf("verify-plan of another plan: exit %d\n%s\nwant\n%s", code, errOut, wantErr)
			}
		})
	}
}

func TestCIVerifyPlan(t *testing.T) {
	p, err := plan.ReadFile(rewindPlan)
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "plan.json")
	data, _ := os.ReadFile(rewindPlan)
	// Someone moves the target offset after the review.
	if err := os.WriteFile(edited, bytes.Replace(data, []byte(`"after": 12000`), []byte(`"after": 1`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	gh := forgetest.NewGitHub("acme/cdc", 12, ciGitHubToken)
	defer gh.Close()
	gh.Seed("no plan comment here")
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		out     string
		errText string
	}{
		{name: "reviewed hash given", args: []string{rewindPlan, "-hash", p.Hash}, out: rewindPlan + " is the reviewed plan " + p.Hash + ".\n"},
		{name: "other hash given", args: []string{rewindPlan, "-hash", "sha256:0000"}, code: ExitError,
			errText: "Error: " + rewindPlan + " is plan " + p.Hash + ", but the plan reviewed (-hash) is sha256:0000: it is not the reviewed plan; nothing was applied\n\nApply only the plan file whose hash the pull request shows"},
		{name: "edited plan file", args: []string{edited, "-hash", p.Hash}, code: ExitError, errText: "the plan file was modified after it was written"},
		{name: "no plan comment", env: githubEnv(t, gh), args: []string{rewindPlan}, code: ExitError,
			errText: `Error: GitHub pull request acme/cdc#12 has no offsetctl plan comment (key "default"): nothing was reviewed, so nothing is applied`},
		{name: "json", args: []string{rewindPlan, "-hash", p.Hash, "-json"}, out: fmt.Sprintf("{\n  \"format_version\": 1,\n  \"hash\": %q,\n  \"plan\": %q,\n  \"reviewed\": true\n}\n", p.Hash, rewindPlan)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCI(t, tc.env, append([]string{"ci", "verify-plan"}, tc.args...)...)
			if code != tc.code || out != tc.out || !strings.Contains(errOut, tc.errText) {
				t.Errorf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tc.code, out, tc.out, errOut, tc.errText)
			}
		})
	}
}

// TestCICommentErrors: the API's refusals reach the operator with the fix,
// and never with the token.
func TestCICommentErrors(t *testing.T) {
	gh := forgetest.NewGitHub("acme/cdc", 12, ciGitHubToken)
	defer gh.Close()
	gh.ReadOnly = true
	gl := forgetest.NewGitLab("42", 7, ciGitLabToken)
	defer gl.Close()
	jobTokenOnly := gitlabEnv(gl)
	delete(jobTokenOnly, "GITLAB_TOKEN")
	noToken := githubEnv(t, gh)
	delete(noToken, "GITHUB_TOKEN")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"github read-only token", githubEnv(t, gh), nil,
			"Error: posting the plan comment on GitHub pull request acme/cdc#12: GitHub API: POST /repos/acme/cdc/issues/12/comments: 403 Forbidden: Resource not accessible by integration; the token may not comment on the pull request: give the job `permissions: pull-requests: write`"},
		{"github without token", noToken, nil, "Error: GITHUB_TOKEN is not set"},
		{"gitlab job token", jobTokenOnly, nil,
			"Error: posting the plan comment on GitLab merge request !7 of project 42: GitLab API: GET /api/v4/projects/42/merge_requests/7/notes: 401 Unauthorized: 401 Unauthorized; GitLab rejected the token"},
		{"outside CI", map[string]string{}, nil, "Error: neither GitHub Actions nor GitLab CI variables are set"},
		{"two kinds", githubEnv(t, gh), []string{"-github", "-gitlab"}, "Error: -github and -gitlab cannot be combined"},
		{"bad key", githubEnv(t, gh), []string{"-key", "a b"}, `Error: -key "a b": use 1 to 64 letters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCI(t, tc.env, append([]string{"ci", "comment", "-plan", rewindPlan}, tc.args...)...)
			if code != ExitError || !strings.HasPrefix(errOut, tc.want) {
				t.Errorf("exit %d\n%s\nwant prefix\n%s", code, errOut, tc.want)
			}
			if strings.Contains(errOut, "job-CITESTSECRET") {
				t.Error("the job token was printed")
			}
		})
	}
}

// bigPlan is the rewind plan with its operation repeated n times.
func bigPlan(t *testing.T, n int) string {
	t.Helper()
	p, err := plan.ReadFile(rewindPlan)
	if err != nil {
		t.Fatal(err)
	}
	op := p.Operations[0]
	p.Operations = nil
	for i := 0; i < n; i++ {
		o := op
		o.Address = fmt.Sprintf("offsets.replay_%03d", i)
		o.Name = fmt.Sprintf("replay_%03d", i)
		p.Operations = append(p.Operations, o)
	}
	path := filepath.Join(t.TempDir(), "big.json")
	if err := plan.WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	return path
}

// applyStream writes apply -json's stream for a result, as apply does.
func applyStream(t *testing.T, res *apply.Result, applyErr error) string {
	t.Helper()
	streams, _, b, _ := iostreams.Test()
	v := views.NewOperation(streams, true, Version)
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	if err := v.Result(res, applyErr); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "apply.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCICommentGoldens: every comment offsetctl posts, rendered (-dry-run).
func TestCICommentGoldens(t *testing.T) {
	gh := githubEnv(t, forgetest.NewGitHub("acme/cdc", 12, ciGitHubToken))
	applied := &apply.Result{Lineage: "9b2e61c0", Serial: 4, Operations: []apply.OperationResult{{Address: "offsets.replay_after_smt_fix", Serial: 4, Status: state.StatusApplied, Partitions: 2}}}
	stale := &apply.StaleError{Moves: []apply.Move{{Connector: "connector.orders_sink", What: "offset", Detail: "dbserver1.public.orders[0] was 15,000 when planned, is 15,220 now"},
		{Connector: "connector.orders_sink", What: "state", Detail: "was RUNNING, is PAUSED"}}}
	incomplete := &apply.Result{Lineage: "9b2e61c0", Serial: 5, Operations: []apply.OperationResult{{Address: "reconcile.customers", Serial: 5, Status: state.StatusIncomplete, Partitions: 0,
		Incomplete: "2 planned rows moved since the plan and were left alone (stale): id=17, id=42"}}}
	long := filepath.Join(t.TempDir(), "long.md")
	if err := os.WriteFile(long, []byte("```text\n"+strings.Repeat("a line of a very long report ✓\n", 3000)+"```\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plan", []string{"-plan", rewindPlan, "-commit", "0123456789abcdef0123456789abcdef01234567"}},
		{"plan_over_the_limit", []string{"-plan", bigPlan(t, 400), "-key", "prod"}},
		{"apply_applied", []string{"-apply-result", applyStream(t, applied, nil), "-plan", rewindPlan, "-exit-code", "0"}},
		{"apply_refused_stale", []string{"-apply-result", applyStream(t, &apply.Result{}, stale), "-plan", rewindPlan, "-exit-code", "1"}},
		{"apply_incomplete", []string{"-apply-result", applyStream(t, incomplete, nil), "-plan", rewindPlan, "-exit-code", "4"}},
		{"apply_did_not_run", []string{"-apply-result", filepath.Join(t.TempDir(), "missing.jsonl"), "-plan", rewindPlan, "-exit-code", "1"}},
		{"body_over_the_limit", []string{"-body-file", long}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCI(t, gh, append([]string{"ci", "comment", "-dry-run"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if n := utf8.RuneCountInString(out); n > forge.Limit {
				t.Errorf("the comment has %d characters, over %d", n, forge.Limit)
			}
			if strings.Count(out, "```")%2 != 0 || strings.Count(out, "<details>") != strings.Count(out, "</details>") {
				t.Error("the comment leaves a code fence or a <details> open")
			}
			if strings.HasSuffix(tc.name, "over_the_limit") && !strings.Contains(out, "> [!NOTE]\n> This comment") {
				t.Error("a cut comment does not say it was cut")
			}
			if strings.HasPrefix(tc.name, "plan") {
				m, ok := views.ParseMeta(out)
				if !ok || !strings.Contains(out, "**Plan hash** `"+m.Hash+"`") {
					t.Errorf("the plan comment's hidden hash %q is not the one shown", m.Hash)
				}
			}
			if tc.name == "plan_over_the_limit" {
				// Only the head and the tail: the middle is 60 kB of the same operation.
				lines := strings.Split(out, "\n")
				out = strings.Join(lines[:12], "\n") + "\n[…]\n" + strings.Join(lines[len(lines)-40:], "\n")
			}
			goldens.Assert(t, "comment", []byte(out))
		})
	}
}

// TestApplySummaryNamesStalePlan: apply -json's summary names a stale-plan
// refusal, which the result comment reads.
func TestApplySummaryNamesStalePlan(t *testing.T) {
	path := applyStream(t, &apply.Result{}, &apply.StaleError{Moves: []apply.Move{{Connector: "connector.c", What: "state", Detail: "was RUNNING, is PAUSED"}}})
	sum, ran, err := readApplyResult(path)
	if err != nil || !ran || sum.ErrorKind != "stale_plan" || sum.OK {
		t.Fatalf("summary %+v, ran %v, err %v; want error_kind stale_plan", sum, ran, err)
	}
}

// TestCITeamPath walks the team path on the sandbox, as the action runs
// it: plan and comment; the world moves before the merge, so apply refuses
// the stale plan, changes nothing and the result comment says what changed;
// a new plan updates the same comment; the merge job reads the reviewed
// hash back through the API, checks the plan file, applies it and updates
// the result comment. One plan comment and one result comment throughout.
func TestCITeamPath(t *testing.T) {
	w := startInertWorld(t)
	gh := forgetest.NewGitHub("acme/cdc", 12, ciGitHubToken)
	defer gh.Close()
	env := githubEnv(t, gh)
	env["USER"] = "ci"
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		if args[0] == "plan" || args[0] == "apply" {
			args = append(args, "-chdir", w.dir, "-state", w.st)
		}
		if args[0] == "apply" {
			args = append(args, "-grace-period", "50ms", "-running-watch", "100ms")
		}
		return runCI(t, env, args...)
	}
	must := func(code int, out, errOut string) string {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		return out
	}
	applyTo := func(planFile string) (int, string) {
		t.Helper()
		code, out, _ := cli("apply", "-json", "-auto-approve", "-lock-timeout", "5s", planFile)
		result := filepath.Join(w.dir, "apply.jsonl")
		if err := os.WriteFile(result, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		must(cli("ci", "comment", "-apply-result", result, "-plan", planFile, "-exit-code", fmt.Sprint(code)))
		return code, result
	}
	comment := func(marker string) string {
		t.Helper()
		var found []string
		for _, n := range gh.Notes() {
			if strings.HasPrefix(n.Body, marker) {
				found = append(found, n.Body)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%d comments start with %s, want 1", len(found), marker)
		}
		return found[0]
	}

	// The pull request: plan, comment.
	first := filepath.Join(w.dir, "plan.json")
	must(cli("plan", "-out", first))
	must(cli("ci", "comment", "-plan", first))

	// Before the merge, someone pauses the connector.
	cc, _ := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	if err := cc.Pause(context.Background(), "orders-sink"); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.WaitForState(context.Background(), "orders-sink", connect.StatePaused, connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	reviewed := must(cli("ci", "reviewed-plan"))
	hash := strings.TrimPrefix(strings.SplitN(reviewed, "\n", 2)[0], "hash=")
	must(cli("ci", "verify-plan", first, "-hash", hash))
	if code, _ := applyTo(first); code != ExitError {
		t.Fatalf("apply of the stale plan: exit %d, want %d", code, ExitError)
	}
	refused := comment(views.ApplyMarker("default"))
	for _, want := range []string{"### offsetctl apply: ⛔ refused: the plan is stale", "Nothing was changed", "connector.orders", "PAUSED", "exit code 1"} {
		if !strings.Contains(refused, want) {
			t.Errorf("the result comment does not say %q:\n%s", want, refused)
		}
	}
	goldens.Assert(t, "result_refused", []byte(w.normalize(refused)))
	if got := w.committed(t); got != "50 60 70 PAUSED" {
		t.Fatalf("the refused apply changed something: %s", got)
	}

	// Plan again (a new push): the same comment now shows the new plan.
	if err := cc.Resume(context.Background(), "orders-sink"); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.WaitForState(context.Background(), "orders-sink", connect.StateRunning, connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	// The author also moves the target in the new push.
	w.writeConfig(t, strings.Replace(inertOffsetsHCL, "to_offset  = 10", "to_offset  = 20", 1))
	second := filepath.Join(w.dir, "plan2.json")
	must(cli("plan", "-out", second))
	if out := must(cli("ci", "comment", "-plan", second)); !strings.HasPrefix(out, "Updated the plan comment") {
		t.Errorf("the second plan did not update the comment: %s", out)
	}
	p2, err := plan.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	if body := comment(views.PlanMarker("default")); !strings.Contains(body, "**Plan hash** `"+p2.Hash+"`") {
		t.Errorf("the plan comment does not show the new plan's hash")
	}

	// The merge job: the old plan file is refused, the reviewed one applied.
	if code, _, errOut := cli("ci", "verify-plan", first); code != ExitError || !strings.Contains(errOut, "it is not the reviewed plan; nothing was applied") {
		t.Errorf("verify-plan of the superseded plan: exit %d, %s", code, errOut)
	}
	must(cli("ci", "verify-plan", second))
	if code, _ := applyTo(second); code != 0 {
		t.Fatalf("apply of the reviewed plan: exit %d", code)
	}
	applied := comment(views.ApplyMarker("default"))
	for _, want := range []string{"### offsetctl apply: ✅ applied", "Plan `" + p2.Hash + "`", "| `offsets.replay` |", "exit code 0"} {
		if !strings.Contains(applied, want) {
			t.Errorf("the result comment does not say %q:\n%s", want, applied)
		}
	}
	goldens.Assert(t, "result_applied", []byte(w.normalize(applied)))
	goldens.Assert(t, "plan_comment", []byte(w.normalize(comment(views.PlanMarker("default")))))
	if got := w.committed(t); got != "20 20 70 RUNNING" {
		t.Errorf("after apply: %s", got)
	}
	if n := len(gh.Notes()); n != 2 {
		t.Errorf("%d comments on the pull request, want 2 (the plan, the result)", n)
	}
}
