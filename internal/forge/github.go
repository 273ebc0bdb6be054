package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GitHubConfig names a pull request and the token to comment with.
type GitHubConfig struct {
	APIURL string // GITHUB_API_URL; default https://api.github.com
	Repo   string // GITHUB_REPOSITORY: owner/name
	Number int    // the pull request's number
	Token  string // GITHUB_TOKEN; never printed
	// Author is the login offsetctl's comments are written as; only its
	// comments are found. Empty: asked with GET /user, and when the token
	// may not ask (GITHUB_TOKEN, an installation token), github-actions[bot].
	Author string
}

// GitHub comments on a pull request through the issues comments API
// (a pull request is an issue to it):
// GET/POST /repos/{owner}/{repo}/issues/{number}/comments and
// PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}.
type GitHub struct {
	cfg GitHubConfig
	svc *service
}

// NewGitHub checks cfg and returns the client.
func NewGitHub(cfg GitHubConfig, opts Options) (*GitHub, error) {
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.github.com"
	}
	base, err := url.Parse(strings.TrimRight(cfg.APIURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("GITHUB_API_URL %q is not a URL; unset it to use https://api.github.com", cfg.APIURL)
	}
	owner, name, ok := strings.Cut(cfg.Repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("GITHUB_REPOSITORY %q is not owner/name; GitHub Actions sets it, elsewhere set it by hand", cfg.Repo)
	}
	if cfg.Number <= 0 {
		return nil, fmt.Errorf("no pull request number: run on a pull_request event or pass -pr N")
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("GITHUB_TOKEN is not set: pass it to the step with env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}")
	}
	g := &GitHub{cfg: cfg}
	g.svc = &service{
		name: "GitHub",
		base: base,
		opts: opts.withDefaults(),
		auth: func(h http.Header) {
			h.Set("Authorization", "Bearer "+cfg.Token)
			h.Set("Accept", "application/vnd.github+json")
			h.Set("X-GitHub-Api-Version", "2022-11-28")
		},
		rateWait: githubRateWait,
		hint:     g.hint,
	}
	return g, nil
}

// Where names the pull request.
func (g *GitHub) Where() string {
	return fmt.Sprintf("GitHub pull request %s#%d", g.cfg.Repo, g.cfg.Number)
}

func (g *GitHub) hint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "GitHub rejected the token: GITHUB_TOKEN is wrong or expired; pass ${{ secrets.GITHUB_TOKEN }} (or a token that is still valid)"
	case http.StatusForbidden:
		return "the token may not comment on the pull request: give the job `permissions: pull-requests: write` (a pull request from a fork gets a read-only GITHUB_TOKEN; comment from a workflow of the base repository)"
	case http.StatusNotFound:
		return fmt.Sprintf("repository %s or pull request #%d was not found, or the token cannot see it: check GITHUB_REPOSITORY and the pull request number, and that the token has access to the repository", g.cfg.Repo, g.cfg.Number)
	case http.StatusUnprocessableEntity:
		return "GitHub refused the comment as invalid (a body over 65,536 characters is refused)"
	}
	return ""
}

// githubRateWait reads GitHub's rate-limit answers, as its REST
// documentation describes them: 403 or 429 with retry-after (wait that many
// seconds), or with x-ratelimit-remaining: 0 (wait until x-ratelimit-reset,
// epoch seconds); a secondary limit without either header: wait a minute.
func githubRateWait(resp *http.Response, body []byte, now time.Time) (time.Duration, time.Time, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, time.Time{}, false
	}
	if d, ok := retryAfter(resp.Header, now); ok {
		return d, now.Add(d), true
	}
	if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		if d, t, ok := epochWait(resp.Header.Get("X-Ratelimit-Reset"), now); ok {
			return d, t, true
		}
		return time.Minute, now.Add(time.Minute), true
	}
	if strings.Contains(strings.ToLower(string(body)), "secondary rate limit") {
		return time.Minute, now.Add(time.Minute), true
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return time.Minute, now.Add(time.Minute), true
	}
	return 0, time.Time{}, false
}

type githubComment struct {
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
	User    struct {
		Login string `json:"login"`
	} `json:"user"`
}

func (c githubComment) comment() *Comment {
	return &Comment{ID: c.ID, Body: c.Body, URL: c.HTMLURL, Author: c.User.Login}
}

// actionsBot is the login GITHUB_TOKEN's comments are written as.
const actionsBot = "github-actions[bot]"

// author is the login offsetctl comments as.
func (g *GitHub) author(ctx context.Context) (string, error) {
	if g.cfg.Author != "" {
		return g.cfg.Author, nil
	}
	var u struct {
		Login string `json:"login"`
	}
	_, err := g.svc.do(ctx, http.MethodGet, g.svc.base.String()+"/user", nil, &u)
	var ae *APIError
	switch {
	case err == nil && u.Login != "":
		g.cfg.Author = u.Login
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		// An installation token (GITHUB_TOKEN) may not read /user.
		g.cfg.Author = actionsBot
	case err != nil:
		return "", err
	default:
		return "", fmt.Errorf("GitHub API: GET /user gave no login; set OFFSETCTL_COMMENT_AUTHOR to the login offsetctl comments as")
	}
	return g.cfg.Author, nil
}

func (g *GitHub) repoPath() string {
	owner, name, _ := strings.Cut(g.cfg.Repo, "/")
	return "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name)
}

// FindComment pages through the pull request's comments (100 a page,
// following the Link header's rel="next").
func (g *GitHub) FindComment(ctx context.Context, marker string) (*Comment, error) {
	author, err := g.author(ctx)
	if err != nil {
		return nil, err
	}
	next := fmt.Sprintf("%s%s/issues/%d/comments?per_page=100", g.svc.base.String(), g.repoPath(), g.cfg.Number)
	for page := 0; next != "" && page < 1000; page++ {
		var cs []githubComment
		h, err := g.svc.do(ctx, http.MethodGet, next, nil, &cs)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if hasMarker(c.Body, marker) && c.User.Login == author {
				return c.comment(), nil
			}
		}
		next = nextLink(h)
	}
	return nil, nil
}

// UpsertComment updates the comment starting with marker, or creates it.
func (g *GitHub) UpsertComment(ctx context.Context, marker, body string) (string, bool, error) {
	return upsert(ctx, g, marker, body)
}

func (g *GitHub) create(ctx context.Context, body string) (*Comment, error) {
	var c githubComment
	u := fmt.Sprintf("%s%s/issues/%d/comments", g.svc.base.String(), g.repoPath(), g.cfg.Number)
	if _, err := g.svc.do(ctx, http.MethodPost, u, map[string]string{"body": body}, &c); err != nil {
		return nil, err
	}
	return c.comment(), nil
}

func (g *GitHub) update(ctx context.Context, id int64, body string) (*Comment, error) {
	var c githubComment
	u := fmt.Sprintf("%s%s/issues/comments/%d", g.svc.base.String(), g.repoPath(), id)
	if _, err := g.svc.do(ctx, http.MethodPatch, u, map[string]string{"body": body}, &c); err != nil {
		return nil, err
	}
	return c.comment(), nil
}
