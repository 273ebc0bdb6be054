package forgetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// GitHub answers as GitHub's REST API does for
// GET/POST /repos/{owner}/{repo}/issues/{number}/comments and
// PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}: Bearer token
// authentication (401 "Bad credentials"), 404 "Not Found" for another
// repository or pull request, 403 "Resource not accessible by integration"
// for a write without pull-requests: write, 422 "Validation Failed" for a
// body over 65,536 characters, pages of per_page (default 30, at most 100)
// linked by a Link header with rel="next" and rel="last".
type GitHub struct {
	base
	Server *httptest.Server
	Repo   string
	Number int
	Token  string
	// ReadOnly makes writes answer 403, as for a token without
	// pull-requests: write.
	ReadOnly bool
	// UserLogin is what GET /user answers for the token; empty: 403, as
	// for GITHUB_TOKEN (an installation token may not read /user).
	UserLogin string
	// BotLogin is the author of the comments the token writes
	// (github-actions[bot] for GITHUB_TOKEN).
	BotLogin string
}

// NewGitHub starts a server for pull request number of repo, accepting token.
func NewGitHub(repo string, number int, token string) *GitHub {
	g := &GitHub{Repo: repo, Number: number, Token: token, BotLogin: "github-actions[bot]"}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	return g
}

// Close stops the server.
func (g *GitHub) Close() { g.Server.Close() }

// URL is the API root, as GITHUB_API_URL holds it.
func (g *GitHub) URL() string { return g.Server.URL }

var (
	ghList   = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$`)
	ghUpdate = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/comments/(\d+)$`)
)

// RateLimited is GitHub's primary rate-limit answer: 403 with
// x-ratelimit-remaining 0 and x-ratelimit-reset at reset.
func RateLimited(reset time.Time) Answer {
	return Answer{Status: http.StatusForbidden, Headers: map[string]string{
		"X-Ratelimit-Limit": "1000", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Used": "1000",
		"X-Ratelimit-Reset": strconv.FormatInt(reset.Unix(), 10), "X-Ratelimit-Resource": "core",
	}, Body: `{"message":"API rate limit exceeded for installation ID 1.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting","status":"403"}`}
}

// SecondaryRateLimited is GitHub's secondary rate-limit answer: 429 with
// retry-after seconds.
func SecondaryRateLimited(retryAfter int) Answer {
	return Answer{Status: http.StatusTooManyRequests, Headers: map[string]string{"Retry-After": strconv.Itoa(retryAfter)},
		Body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"429"}`}
}

func ghError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)})
}

func (g *GitHub) comment(n Note) map[string]any {
	return map[string]any{
		"id": n.ID, "node_id": fmt.Sprintf("IC_%d", n.ID), "body": n.Body,
		"url":        fmt.Sprintf("%s/repos/%s/issues/comments/%d", g.Server.URL, g.Repo, n.ID),
		"html_url":   fmt.Sprintf("https://github.com/%s/pull/%d#issuecomment-%d", g.Repo, g.Number, n.ID),
		"user":       map[string]any{"login": n.Author, "type": "User"},
		"created_at": "2026-11-20T14:30:00Z", "updated_at": "2026-11-20T14:30:00Z", "author_association": "NONE",
	}
}

func (g *GitHub) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	auth := ""
	if r.Header.Get("Authorization") != "" {
		auth = "Authorization"
	}
	g.requests = append(g.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: auth})
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	if g.canned(w) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+g.Token && r.Header.Get("Authorization") != "token "+g.Token {
		ghError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	if r.URL.Path == "/user" && r.Method == http.MethodGet {
		if g.UserLogin == "" {
			ghError(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"login": g.UserLogin, "id": 1, "type": "User"})
		return
	}
	if m := ghList.FindStringSubmatch(r.URL.Path); m != nil {
		if m[1]+"/"+m[2] != g.Repo || m[3] != strconv.Itoa(g.Number) {
			ghError(w, http.StatusNotFound, "Not Found")
			return
		}
		switch r.Method {
		case http.MethodGet:
			g.list(w, r)
		case http.MethodPost:
			g.write(w, r, 0)
		default:
			ghError(w, http.StatusNotFound, "Not Found")
		}
		return
	}
	if m := ghUpdate.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPatch {
		id, _ := strconv.ParseInt(m[3], 10, 64)
		if m[1]+"/"+m[2] != g.Repo {
			ghError(w, http.StatusNotFound, "Not Found")
			return
		}
		g.write(w, r, id)
		return
	}
	ghError(w, http.StatusNotFound, "Not Found")
}

func (g *GitHub) list(w http.ResponseWriter, r *http.Request) {
	perPage, page := 30, 1
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		page = v
	}
	from, to := pageBounds(len(g.notes), page, perPage)
	last := max(1, (len(g.notes)+perPage-1)/perPage)
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s%s?per_page=%d&page=%d>; rel="%s"`, g.Server.URL, r.URL.Path, perPage, p, rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	out := []map[string]any{}
	for _, n := range g.notes[from:to] {
		out = append(out, g.comment(n))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *GitHub) write(w http.ResponseWriter, r *http.Request, id int64) {
	if g.ReadOnly {
		ghError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
		ghError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"body\" wasn't supplied.")
		return
	}
	if utf8.RuneCountInString(*in.Body) > 65536 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors":            []map[string]string{{"resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}},
			"documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment", "status": "422"})
		return
	}
	if id == 0 {
		g.nextID++
		n := Note{ID: 1000 + g.nextID, Body: *in.Body, Author: g.BotLogin}
		g.notes = append(g.notes, n)
		w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/issues/comments/%d", g.Server.URL, g.Repo, n.ID))
		writeJSON(w, http.StatusCreated, g.comment(n))
		return
	}
	for i := range g.notes {
		if g.notes[i].ID == id {
			g.notes[i].Body = *in.Body
			writeJSON(w, http.StatusOK, g.comment(g.notes[i]))
			return
		}
	}
	ghError(w, http.StatusNotFound, "Not Found")
}
