package forge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/forge"
	"github.com/offsetctl/offsetctl/internal/forge/forgetest"
)

const (
	ghToken = "ghs_SECRETTOKEN0123456789"
	glToken = "glpat-SECRETTOKEN0123456789"
	marker  = "<!-- offsetctl:plan:default -->"
)

var t0 = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

// sleeps records the waits instead of waiting.
type sleeps struct{ d []time.Duration }

func (s *sleeps) opts() forge.Options {
	return forge.Options{Now: func() time.Time { return t0 }, Sleep: func(_ context.Context, d time.Duration) error {
		s.d = append(s.d, d)
		return nil
	}}
}

func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("the error shows the token: %v", err)
		}
	}
}

func TestGitHub(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seed      int  // other comments before
		ours      bool // our comment among them (at position seed-20)
		readOnly  bool
		token     string
		number    int
		queue     []forgetest.Answer
		wantErr   string
		wantSleep []time.Duration
		created   bool
		wantGets  int
	}{
		{name: "created after two pages of others", seed: 150, created: true, wantGets: 2},
		{name: "updated in place on page two", seed: 150, ours: true, wantGets: 2},
		{name: "bad token", token: "ghs_WRONGTOKEN000", wantErr: "401 Unauthorized: Bad credentials; GitHub rejected the token: GITHUB_TOKEN is wrong or expired"},
		{name: "no pull-requests write", readOnly: true, wantErr: "403 Forbidden: Resource not accessible by integration; the token may not comment on the pull request: give the job `permissions: pull-requests: write`"},
		{name: "another pull request", number: 99, wantErr: "404 Not Found: Not Found; repository acme/cdc or pull request #99 was not found"},
		{name: "primary rate limit waits until reset", queue: []forgetest.Answer{forgetest.RateLimited(t0.Add(30 * time.Second))},
			created: true, wantSleep: []time.Duration{31 * time.Second}, wantGets: 2},
		{name: "secondary rate limit honours retry-after", queue: []forgetest.Answer{forgetest.SecondaryRateLimited(7)},
			created: true, wantSleep: []time.Duration{7 * time.Second}, wantGets: 2},
		{name: "rate limit beyond the wait bound fails at once", queue: []forgetest.Answer{forgetest.RateLimited(t0.Add(time.Hour))},
			wantErr: "GitHub API rate limit exceeded until 2026-11-20T15:30:00Z (gave up after 0 retries); re-run the job after the limit resets"},
		{name: "retries are bounded", queue: []forgetest.Answer{forgetest.SecondaryRateLimited(1), forgetest.SecondaryRateLimited(1), forgetest.SecondaryRateLimited(1), forgetest.SecondaryRateLimited(1)},
			wantSleep: []time.Duration{time.Second, time.Second, time.Second}, wantErr: "rate limit exceeded until 2026-11-20T14:30:01Z (gave up after 3 retries)"},
		{name: "5xx retried with backoff", queue: []forgetest.Answer{{Status: 502, Body: `{"message":"Server Error"}`}}, created: true, wantSleep: []time.Duration{time.Second}, wantGets: 2},
		{name: "pagination link to another host is refused", queue: []forgetest.Answer{{Status: 200, Headers: map[string]string{"Link": `<https://evil.example/repos/acme/cdc/issues/12/comments?page=2>; rel="next"`}, Body: "[]"}},
			wantErr: "pagination link points to another host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := forgetest.NewGitHub("acme/cdc", 12, ghToken)
			defer srv.Close()
			srv.ReadOnly = tc.readOnly
			for i := 0; i < tc.seed; i++ {
				if tc.ours && i == tc.seed-20 {
					srv.SeedAs("github-actions[bot]", marker+"\nold plan")
					continue
				}
				srv.Seed(fmt.Sprintf("comment %d mentions offsetctl:plan but not at the start", i))
			}
			srv.Queue(tc.queue...)
			token, number := ghToken, 12
			if tc.token != "" {
				token = tc.token
			}
			if tc.number != 0 {
				number = tc.number
			}
			var sl sleeps
			f, err := forge.NewGitHub(forge.GitHubConfig{APIURL: srv.URL(), Repo: "acme/cdc", Number: number, Token: token, Author: "github-actions[bot]"}, sl.opts())
			if err != nil {
				t.Fatal(err)
			}
			before := len(srv.Notes())
			url, created, err := f.UpsertComment(context.Background(), marker, marker+"\nnew plan")
			noSecret(t, err, ghToken, token)
			if fmt.Sprint(sl.d) != fmt.Sprint(tc.wantSleep) {
				t.Errorf("waits %v, want %v", sl.d, tc.wantSleep)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created != tc.created {
				t.Errorf("created %v, want %v", created, tc.created)
			}
			notes := srv.Notes()
			wantLen := before
			if tc.created {
				wantLen++
			}
			if len(notes) != wantLen {
				t.Errorf("%d comments, want %d", len(notes), wantLen)
			}
			n := 0
			for _, c := range notes {
				if strings.HasPrefix(c.Body, marker) {
					n++
					if c.Body != marker+"\nnew plan" {
						t.Errorf("comment body %q", c.Body)
					}
					if !strings.HasSuffix(url, fmt.Sprintf("#issuecomment-%d", c.ID)) {
						t.Errorf("url %q", url)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d comments carry the marker, want 1", n)
			}
			gets := 0
			for _, r := range srv.Requests() {
				if r.Method == "GET" {
					gets++
				}
				if r.Auth != "Authorization" {
					t.Errorf("%s %s without the token header", r.Method, r.Path)
				}
			}
			if gets != tc.wantGets {
				t.Errorf("%d GETs, want %d", gets, tc.wantGets)
			}
		})
	}
}

func TestGitHubUnchangedBodyIsNotRewritten(t *testing.T) {
	srv := forgetest.NewGitHub("acme/cdc", 12, ghToken)
	defer srv.Close()
	f, err := forge.NewGitHub(forge.GitHubConfig{APIURL: srv.URL(), Repo: "acme/cdc", Number: 12, Token: ghToken}, forge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := f.UpsertComment(context.Background(), marker, marker+"\nsame"); err != nil {
			t.Fatal(err)
		}
	}
	writes := 0
	for _, r := range srv.Requests() {
		if r.Method != "GET" {
			writes++
		}
	}
	if writes != 1 || len(srv.Notes()) != 1 {
		t.Errorf("%d writes and %d comments for three identical upserts, want 1 and 1", writes, len(srv.Notes()))
	}
}

func TestGitLab(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seed      int
		ours      bool
		system    bool
		noLink    bool
		forbidden bool
		token     string
		jobToken  string
		project   string
		queue     []forgetest.Answer
		wantErr   string
		wantSleep []time.Duration
		created   bool
		wantGets  int
	}{
		{name: "created after two pages (Link)", seed: 130, created: true, wantGets: 2},
		{name: "updated in place on page two (X-Next-Page only)", seed: 130, ours: true, noLink: true, wantGets: 2},
		{name: "system notes are not ours", system: true, created: true, wantGets: 1},
		{name: "job token cannot write notes", token: "-", jobToken: "job-SECRET", wantErr: "401 Unauthorized: 401 Unauthorized; GitLab rejected the token"},
		{name: "guest role", forbidden: true, wantErr: "403 Forbidden: 403 Forbidden; the token may not write notes on the merge request: it needs the api scope and at least the Reporter role"},
		{name: "another project", project: "43", wantErr: "404 Not Found: 404 Project Not Found; project 43 or merge request !7 was not found"},
		{name: "429 honours Retry-After", queue: []forgetest.Answer{forgetest.TooManyRequests(12)}, created: true, wantSleep: []time.Duration{12 * time.Second}, wantGets: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := forgetest.NewGitLab("42", 7, glToken)
			defer srv.Close()
			srv.NoLinkHeader, srv.Forbidden = tc.noLink, tc.forbidden
			for i := 0; i < tc.seed; i++ {
				if tc.ours && i == tc.seed-10 {
					srv.SeedAs("project_42_bot", marker+"\nold plan")
					continue
				}
				srv.Seed(fmt.Sprintf("note %d", i))
			}
			if tc.system {
				srv.SeedSystem(marker + " added 1 commit")
			}
			srv.Queue(tc.queue...)
			token, project := glToken, "42"
			if tc.token == "-" {
				token = ""
			}
			if tc.project != "" {
				project = tc.project
			}
			var sl sleeps
			f, err := forge.NewGitLab(forge.GitLabConfig{APIURL: srv.URL(), Project: project, MR: 7, ProjectURL: "https://gitlab.example/acme/cdc", Token: token, JobToken: tc.jobToken, Author: "project_42_bot"}, sl.opts())
			if err != nil {
				t.Fatal(err)
			}
			before := len(srv.Notes())
			url, created, err := f.UpsertComment(context.Background(), marker, marker+"\nnew plan")
			noSecret(t, err, glToken, "job-SECRET")
			if fmt.Sprint(sl.d) != fmt.Sprint(tc.wantSleep) {
				t.Errorf("waits %v, want %v", sl.d, tc.wantSleep)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created != tc.created {
				t.Errorf("created %v, want %v", created, tc.created)
			}
			wantLen := before
			if tc.created {
				wantLen++
			}
			notes := srv.Notes()
			if len(notes) != wantLen {
				t.Errorf("%d notes, want %d", len(notes), wantLen)
			}
			for _, n := range notes {
				if !n.System && strings.HasPrefix(n.Body, marker) && !strings.HasSuffix(url, fmt.Sprintf("/-/merge_requests/7#note_%d", n.ID)) {
					t.Errorf("url %q for note %d", url, n.ID)
				}
			}
			gets := 0
			for _, r := range srv.Requests() {
				if r.Method == "GET" {
					gets++
					if !strings.Contains(r.Query, "sort=asc") {
						t.Errorf("notes listed without sort=asc: %s", r.Query)
					}
				}
				if r.Auth != "PRIVATE-TOKEN" {
					t.Errorf("%s %s sent the token as %q", r.Method, r.Path, r.Auth)
				}
			}
			if gets != tc.wantGets {
				t.Errorf("%d GETs, want %d", gets, tc.wantGets)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	gh := forgetest.NewGitHub("acme/cdc", 12, ghToken)
	defer gh.Close()
	gl := forgetest.NewGitLab("42", 7, glToken)
	defer gl.Close()
	gl.Merged["abc123"] = 7
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"action":"closed","number":12,"pull_request":{"number":12,"merged":true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		target  forge.Target
		where   string
		wantErr string
	}{
		{name: "github from the event payload", env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/cdc", "GITHUB_API_URL": gh.URL(), "GITHUB_TOKEN": ghToken, "GITHUB_EVENT_PATH": event},
			where: "GitHub pull request acme/cdc#12"},
		{name: "github -pr overrides", env: map[string]string{"GITHUB_REPOSITORY": "acme/cdc", "GITHUB_API_URL": gh.URL(), "GITHUB_TOKEN": ghToken}, target: forge.Target{Number: 12},
			where: "GitHub pull request acme/cdc#12"},
		{name: "github without a token", env: map[string]string{"GITHUB_REPOSITORY": "acme/cdc", "GITHUB_EVENT_PATH": event},
			wantErr: "GITHUB_TOKEN is not set: pass it to the step with env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"},
		{name: "github outside a pull request", env: map[string]string{"GITHUB_REPOSITORY": "acme/cdc", "GITHUB_TOKEN": ghToken},
			wantErr: "GITHUB_EVENT_PATH is not set; run on a pull_request event or pass -pr N"},
		{name: "gitlab merge request pipeline", env: map[string]string{"GITLAB_CI": "true", "CI_API_V4_URL": gl.URL(), "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7", "GITLAB_TOKEN": glToken},
			where: "GitLab merge request !7 of project 42"},
		{name: "gitlab after the merge finds the merge request of the commit", env: map[string]string{"GITLAB_CI": "true", "CI_API_V4_URL": gl.URL(), "CI_PROJECT_ID": "42", "CI_COMMIT_SHA": "abc123", "GITLAB_TOKEN": glToken},
			where: "GitLab merge request !7 of project 42"},
		{name: "gitlab commit of no merge request", env: map[string]string{"GITLAB_CI": "true", "CI_API_V4_URL": gl.URL(), "CI_PROJECT_ID": "42", "CI_COMMIT_SHA": "fff", "GITLAB_TOKEN": glToken},
			wantErr: "commit fff belongs to no merged merge request of project 42"},
		{name: "gitlab without a token", env: map[string]string{"GITLAB_CI": "true", "CI_API_V4_URL": gl.URL(), "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7"},
			wantErr: "no GitLab token: set GITLAB_TOKEN"},
		{name: "both", env: map[string]string{"GITHUB_REPOSITORY": "acme/cdc", "CI_API_V4_URL": gl.URL()}, wantErr: "pass -github or -gitlab"},
		{name: "both, told which", env: map[string]string{"GITHUB_REPOSITORY": "acme/cdc", "CI_API_V4_URL": gl.URL(), "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7", "GITLAB_TOKEN": glToken},
			target: forge.Target{Kind: forge.KindGitLab}, where: "GitLab merge request !7 of project 42"},
		{name: "neither", env: map[string]string{}, wantErr: "neither GitHub Actions nor GitLab CI variables are set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := forge.FromEnv(context.Background(), func(k string) string { return tc.env[k] }, tc.target, forge.Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Where() != tc.where {
				t.Errorf("where %q, want %q", f.Where(), tc.where)
			}
		})
	}
}

func TestRateLimitErrorIsTyped(t *testing.T) {
	srv := forgetest.NewGitLab("42", 7, glToken)
	defer srv.Close()
	srv.Queue(forgetest.TooManyRequests(3600))
	f, _ := forge.NewGitLab(forge.GitLabConfig{APIURL: srv.URL(), Project: "42", MR: 7, Token: glToken}, forge.Options{})
	_, err := f.FindComment(context.Background(), marker)
	var rl *forge.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("error %v, want a RateLimitError", err)
	}
}

// TestOnlyOurCommentIsOurs: a comment that starts with offsetctl's marker
// but was written by someone else is neither updated nor read as the
// reviewed plan. The identity comes from GET /user, or for GITHUB_TOKEN
// (which may not read /user) is github-actions[bot].
func TestOnlyOurCommentIsOurs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (forge.Forge, func() []forgetest.Note, func())
		bot  string
	}{
		{"github installation token", func(t *testing.T) (forge.Forge, func() []forgetest.Note, func()) {
			srv := forgetest.NewGitHub("acme/cdc", 12, ghToken)
			srv.SeedAs("mallory", marker+"\n<!-- offsetctl:meta {\"hash\":\"sha256:evil\"} -->")
			f, err := forge.NewGitHub(forge.GitHubConfig{APIURL: srv.URL(), Repo: "acme/cdc", Number: 12, Token: ghToken}, forge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return f, srv.Notes, srv.Close
		}, "github-actions[bot]"},
		{"github personal token", func(t *testing.T) (forge.Forge, func() []forgetest.Note, func()) {
			srv := forgetest.NewGitHub("acme/cdc", 12, ghToken)
			srv.UserLogin, srv.BotLogin = "cdc-bot", "cdc-bot"
			srv.SeedAs("github-actions[bot]", marker+"\nsomeone else's workflow")
			f, err := forge.NewGitHub(forge.GitHubConfig{APIURL: srv.URL(), Repo: "acme/cdc", Number: 12, Token: ghToken}, forge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return f, srv.Notes, srv.Close
		}, "cdc-bot"},
		{"gitlab", func(t *testing.T) (forge.Forge, func() []forgetest.Note, func()) {
			srv := forgetest.NewGitLab("42", 7, glToken)
			srv.SeedAs("mallory", marker+"\nfake")
			f, err := forge.NewGitLab(forge.GitLabConfig{APIURL: srv.URL(), Project: "42", MR: 7, Token: glToken}, forge.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return f, srv.Notes, srv.Close
		}, "project_42_bot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, notes, stop := tc.open(t)
			defer stop()
			if c, err := f.FindComment(ctx, marker); err != nil || c != nil {
				t.Fatalf("found %+v (%v), want none: the only marked comment is someone else's", c, err)
			}
			if _, created, err := f.UpsertComment(ctx, marker, marker+"\nours"); err != nil || !created {
				t.Fatalf("upsert: created %v, %v", created, err)
			}
			c, err := f.FindComment(ctx, marker)
			if err != nil || c == nil || c.Body != marker+"\nours" || c.Author != tc.bot {
				t.Fatalf("found %+v (%v), want ours by %s", c, err, tc.bot)
			}
			if n := notes(); len(n) != 2 || n[0].Body == marker+"\nours" {
				t.Errorf("the other comment was changed: %+v", n)
			}
		})
	}
}
