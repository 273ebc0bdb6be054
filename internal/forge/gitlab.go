package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GitLabConfig names a merge request and the token to write notes with.
type GitLabConfig struct {
	APIURL     string // CI_API_V4_URL, e.g. https://gitlab.com/api/v4
	Project    string // CI_PROJECT_ID (or the project's full path)
	MR         int    // CI_MERGE_REQUEST_IID
	ProjectURL string // CI_PROJECT_URL, for the notes' web addresses (optional)
	// Token is a personal, project or group access token with the api scope
	// (sent as PRIVATE-TOKEN); JobToken is CI_JOB_TOKEN (sent as JOB-TOKEN),
	// used only when Token is empty. Never printed.
	Token    string
	JobToken string
	// Author is the username offsetctl's notes are written as; only its
	// notes are found. Empty: asked with GET /user (with Token).
	Author string
}

// GitLab writes notes on a merge request:
// GET/POST /projects/:id/merge_requests/:merge_request_iid/notes and
// PUT /projects/:id/merge_requests/:merge_request_iid/notes/:note_id.
type GitLab struct {
	cfg GitLabConfig
	svc *service
}

// NewGitLab checks cfg and returns the client. MR may be 0 when the client
// is used only for MergeRequestForCommit.
func NewGitLab(cfg GitLabConfig, opts Options) (*GitLab, error) {
	base, err := url.Parse(strings.TrimRight(cfg.APIURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("CI_API_V4_URL %q is not a URL; GitLab CI sets it (e.g. https://gitlab.com/api/v4)", cfg.APIURL)
	}
	if cfg.Project == "" {
		return nil, fmt.Errorf("CI_PROJECT_ID is not set; GitLab CI sets it, elsewhere set it to the project's ID")
	}
	if cfg.Token == "" && cfg.JobToken == "" {
		return nil, fmt.Errorf("no GitLab token: set GITLAB_TOKEN to a project access token with the api scope (a masked CI/CD variable)")
	}
	l := &GitLab{cfg: cfg}
	l.svc = &service{
		name: "GitLab",
		base: base,
		opts: opts.withDefaults(),
		auth: func(h http.Header) {
			if cfg.Token != "" {
				h.Set("PRIVATE-TOKEN", cfg.Token)
			} else {
				h.Set("JOB-TOKEN", cfg.JobToken)
			}
		},
		rateWait: gitlabRateWait,
		hint:     l.hint,
	}
	return l, nil
}

// WithMR returns a client for merge request iid of the same project.
func (l *GitLab) WithMR(iid int) *GitLab {
	c := *l
	c.cfg.MR = iid
	return &c
}

// Where names the merge request.
func (l *GitLab) Where() string {
	return fmt.Sprintf("GitLab merge request !%d of project %s", l.cfg.MR, l.cfg.Project)
}

func (l *GitLab) hint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "GitLab rejected the token: GITLAB_TOKEN is wrong, expired or revoked; create a project access token with the api scope and store it as a masked CI/CD variable"
	case http.StatusForbidden:
		if l.cfg.Token == "" {
			return "CI_JOB_TOKEN may not write merge-request notes: set GITLAB_TOKEN to a project access token with the api scope and at least the Reporter role"
		}
		return "the token may not write notes on the merge request: it needs the api scope and at least the Reporter role in the project"
	case http.StatusNotFound:
		return fmt.Sprintf("project %s or merge request !%d was not found, or the token cannot see it: check CI_PROJECT_ID and CI_MERGE_REQUEST_IID (set only in merge request pipelines) and the token's project", l.cfg.Project, l.cfg.MR)
	}
	return ""
}

// gitlabRateWait reads GitLab's rate-limit answer: 429 Too Many Requests
// with Retry-After (seconds), else RateLimit-Reset (epoch seconds).
func gitlabRateWait(resp *http.Response, _ []byte, now time.Time) (time.Duration, time.Time, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, time.Time{}, false
	}
	if d, ok := retryAfter(resp.Header, now); ok {
		return d, now.Add(d), true
	}
	if d, t, ok := epochWait(resp.Header.Get("RateLimit-Reset"), now); ok {
		return d, t, true
	}
	return time.Minute, now.Add(time.Minute), true
}

type gitlabNote struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"`
	Author struct {
		Username string `json:"username"`
	} `json:"author"`
}

// author is the username offsetctl writes notes as ("" with only a job
// token, which cannot write notes anyway).
func (l *GitLab) author(ctx context.Context) (string, error) {
	if l.cfg.Author != "" || l.cfg.Token == "" {
		return l.cfg.Author, nil
	}
	var u struct {
		Username string `json:"username"`
	}
	if _, err := l.svc.do(ctx, http.MethodGet, l.svc.base.String()+"/user", nil, &u); err != nil {
		return "", err
	}
	if u.Username == "" {
		return "", fmt.Errorf("GitLab API: GET /user gave no username; set OFFSETCTL_COMMENT_AUTHOR to the user offsetctl writes notes as")
	}
	l.cfg.Author = u.Username
	return u.Username, nil
}

func (l *GitLab) note(n gitlabNote) *Comment {
	c := &Comment{ID: n.ID, Body: n.Body, Author: n.Author.Username}
	if l.cfg.ProjectURL != "" {
		c.URL = fmt.Sprintf("%s/-/merge_requests/%d#note_%d", strings.TrimRight(l.cfg.ProjectURL, "/"), l.cfg.MR, n.ID)
	}
	return c
}

func (l *GitLab) projectPath() string {
	return "/projects/" + url.PathEscape(l.cfg.Project)
}

func (l *GitLab) notesURL() string {
	return fmt.Sprintf("%s%s/merge_requests/%d/notes", l.svc.base.String(), l.projectPath(), l.cfg.MR)
}

// FindComment pages through the merge request's notes, oldest first
// (100 a page, following X-Next-Page or the Link header), skipping system
// notes.
func (l *GitLab) FindComment(ctx context.Context, marker string) (*Comment, error) {
	if l.cfg.MR <= 0 {
		return nil, fmt.Errorf("no merge request: CI_MERGE_REQUEST_IID is set only in merge request pipelines; pass -mr IID")
	}
	author, err := l.author(ctx)
	if err != nil {
		return nil, err
	}
	first := l.notesURL() + "?per_page=100&sort=asc&order_by=created_at"
	next := first
	for page := 0; next != "" && page < 1000; page++ {
		var ns []gitlabNote
		h, err := l.svc.do(ctx, http.MethodGet, next, nil, &ns)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if !n.System && hasMarker(n.Body, marker) && (author == "" || n.Author.Username == author) {
				return l.note(n), nil
			}
		}
		next = nextLink(h)
		if next == "" {
			if p := strings.TrimSpace(h.Get("X-Next-Page")); p != "" {
				if _, err := strconv.Atoi(p); err == nil {
					next = first + "&page=" + p
				}
			}
		}
	}
	return nil, nil
}

// UpsertComment updates the note starting with marker, or creates it.
func (l *GitLab) UpsertComment(ctx context.Context, marker, body string) (string, bool, error) {
	if l.cfg.MR <= 0 {
		return "", false, fmt.Errorf("no merge request: CI_MERGE_REQUEST_IID is set only in merge request pipelines; pass -mr IID")
	}
	return upsert(ctx, l, marker, body)
}

func (l *GitLab) create(ctx context.Context, body string) (*Comment, error) {
	var n gitlabNote
	if _, err := l.svc.do(ctx, http.MethodPost, l.notesURL(), map[string]string{"body": body}, &n); err != nil {
		return nil, err
	}
	return l.note(n), nil
}

func (l *GitLab) update(ctx context.Context, id int64, body string) (*Comment, error) {
	var n gitlabNote
	u := fmt.Sprintf("%s/%d", l.notesURL(), id)
	if _, err := l.svc.do(ctx, http.MethodPut, u, map[string]string{"body": body}, &n); err != nil {
		return nil, err
	}
	return l.note(n), nil
}

// MergeRequestForCommit returns the IID of the merged merge request that
// commit sha belongs to (GET /projects/:id/repository/commits/:sha/merge_requests),
// for a pipeline on the target branch after the merge, where GitLab sets no
// CI_MERGE_REQUEST_IID.
func (l *GitLab) MergeRequestForCommit(ctx context.Context, sha string) (int, error) {
	var mrs []struct {
		IID   int    `json:"iid"`
		State string `json:"state"`
	}
	u := fmt.Sprintf("%s%s/repository/commits/%s/merge_requests", l.svc.base.String(), l.projectPath(), url.PathEscape(sha))
	if _, err := l.svc.do(ctx, http.MethodGet, u, nil, &mrs); err != nil {
		return 0, err
	}
	for _, m := range mrs {
		if m.State == "merged" {
			return m.IID, nil
		}
	}
	return 0, fmt.Errorf("commit %s belongs to no merged merge request of project %s: apply runs after a merge request is merged; pass -mr IID to name it", sha, l.cfg.Project)
}
