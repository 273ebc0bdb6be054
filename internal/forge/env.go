package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
)

// Kind is the forge to talk to.
type Kind string

// The forges.
const (
	KindAuto   Kind = ""
	KindGitHub Kind = "github"
	KindGitLab Kind = "gitlab"
)

// Target says which pull or merge request to comment on when the
// environment does not (0: from the environment).
type Target struct {
	Kind   Kind
	Number int // a GitHub pull request's number or a GitLab merge request's IID
}

// Detect tells the forge from the variables its CI sets: GITHUB_ACTIONS or
// GITHUB_REPOSITORY for GitHub, GITLAB_CI or CI_API_V4_URL for GitLab.
func Detect(getenv func(string) string) (Kind, error) {
	gh := getenv("GITHUB_ACTIONS") == "true" || getenv("GITHUB_REPOSITORY") != ""
	gl := getenv("GITLAB_CI") == "true" || getenv("CI_API_V4_URL") != ""
	switch {
	case gh && !gl:
		return KindGitHub, nil
	case gl && !gh:
		return KindGitLab, nil
	case gh && gl:
		return "", fmt.Errorf("both GitHub (GITHUB_REPOSITORY) and GitLab (CI_API_V4_URL) variables are set: pass -github or -gitlab")
	}
	return "", fmt.Errorf("neither GitHub Actions nor GitLab CI variables are set (GITHUB_REPOSITORY, CI_API_V4_URL): run in CI, or pass -github or -gitlab with those variables set")
}

// FromEnv builds the client for the pull or merge request named by t and the
// CI's variables: GITHUB_TOKEN (or GH_TOKEN), GITHUB_API_URL,
// GITHUB_REPOSITORY and the pull request of GITHUB_EVENT_PATH; GITLAB_TOKEN
// (or CI_JOB_TOKEN), CI_API_V4_URL, CI_PROJECT_ID, CI_PROJECT_URL and
// CI_MERGE_REQUEST_IID (after a merge, the merge request of CI_COMMIT_SHA);
// OFFSETCTL_COMMENT_AUTHOR names the identity offsetctl comments as when
// the API cannot tell (a GitHub App's installation token: "APP[bot]").
func FromEnv(ctx context.Context, getenv func(string) string, t Target, opts Options) (Forge, error) {
	kind := t.Kind
	if kind == KindAuto {
		k, err := Detect(getenv)
		if err != nil {
			return nil, err
		}
		kind = k
	}
	switch kind {
	case KindGitHub:
		n := t.Number
		if n == 0 {
			var err error
			if n, err = githubEventNumber(getenv("GITHUB_EVENT_PATH")); err != nil {
				return nil, err
			}
		}
		token := getenv("GITHUB_TOKEN")
		if token == "" {
			token = getenv("GH_TOKEN")
		}
		return NewGitHub(GitHubConfig{APIURL: getenv("GITHUB_API_URL"), Repo: getenv("GITHUB_REPOSITORY"), Number: n, Token: token,
			Author: getenv("OFFSETCTL_COMMENT_AUTHOR")}, opts)
	case KindGitLab:
		token := getenv("GITLAB_TOKEN")
		if token == "" {
			token = getenv("OFFSETCTL_GITLAB_TOKEN")
		}
		n := t.Number
		if n == 0 && getenv("CI_MERGE_REQUEST_IID") != "" {
			v, err := strconv.Atoi(getenv("CI_MERGE_REQUEST_IID"))
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("CI_MERGE_REQUEST_IID %q is not a merge request IID", getenv("CI_MERGE_REQUEST_IID"))
			}
			n = v
		}
		l, err := NewGitLab(GitLabConfig{APIURL: getenv("CI_API_V4_URL"), Project: getenv("CI_PROJECT_ID"), MR: n,
			ProjectURL: getenv("CI_PROJECT_URL"), Token: token, JobToken: getenv("CI_JOB_TOKEN"), Author: getenv("OFFSETCTL_COMMENT_AUTHOR")}, opts)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			sha := getenv("CI_COMMIT_SHA")
			if sha == "" {
				return nil, fmt.Errorf("no merge request: CI_MERGE_REQUEST_IID is set only in merge request pipelines; pass -mr IID")
			}
			iid, err := l.MergeRequestForCommit(ctx, sha)
			if err != nil {
				return nil, err
			}
			l = l.WithMR(iid)
		}
		return l, nil
	}
	return nil, fmt.Errorf("unknown forge %q: use github or gitlab", kind)
}

// githubEventNumber reads the pull request's number from the event payload
// GitHub Actions writes to GITHUB_EVENT_PATH (pull_request and
// pull_request_target events; issue_comment on a pull request).
func githubEventNumber(path string) (int, error) {
	if path == "" {
		return 0, fmt.Errorf("no pull request number: GITHUB_EVENT_PATH is not set; run on a pull_request event or pass -pr N")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the GitHub event payload (GITHUB_EVENT_PATH): %w", err)
	}
	var ev struct {
		PullRequest *struct {
			Number int `json:"number"`
		} `json:"pull_request"`
		Issue *struct {
			Number      int `json:"number"`
			PullRequest any `json:"pull_request"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return 0, fmt.Errorf("the GitHub event payload %s is not JSON: %w", path, err)
	}
	switch {
	case ev.PullRequest != nil && ev.PullRequest.Number > 0:
		return ev.PullRequest.Number, nil
	case ev.Issue != nil && ev.Issue.PullRequest != nil && ev.Issue.Number > 0:
		return ev.Issue.Number, nil
	}
	return 0, fmt.Errorf("the GitHub event (GITHUB_EVENT_PATH) is not about a pull request: run on pull_request events or pass -pr N")
}
