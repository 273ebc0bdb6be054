package forgetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// GitLab answers as GitLab's REST API (v4) does for
// GET/POST /projects/:id/merge_requests/:iid/notes,
// PUT /projects/:id/merge_requests/:iid/notes/:note_id and
// GET /projects/:id/repository/commits/:sha/merge_requests: PRIVATE-TOKEN
// authentication (401 "401 Unauthorized"; a JOB-TOKEN is not accepted on
// the notes endpoints), 404 "404 Not found", 403 "403 Forbidden" for a
// token without the right role, pages of per_page (default 20, at most
// 100) with X-Page, X-Per-Page, X-Next-Page, X-Total, X-Total-Pages and a
// Link header.
type GitLab struct {
	base
	Server  *httptest.Server
	Project string // the numeric ID
	MR      int
	Token   string
	// Merged maps a commit SHA to the merged MR it belongs to.
	Merged map[string]int
	// Forbidden makes writes answer 403 (a Guest-role token).
	Forbidden bool
	// NoLinkHeader leaves out the Link header (only X-Next-Page), as
	// GitLab does on some endpoints.
	NoLinkHeader bool
	// BotUsername is the token's user (GET /user) and the author of the
	// notes it writes.
	BotUsername string
}

// NewGitLab starts a server for merge request mr of project, accepting token.
func NewGitLab(project string, mr int, token string) *GitLab {
	l := &GitLab{Project: project, MR: mr, Token: token, Merged: map[string]int{}, BotUsername: "project_" + project + "_bot"}
	l.Server = httptest.NewServer(http.HandlerFunc(l.serve))
	return l
}

// Close stops the server.
func (l *GitLab) Close() { l.Server.Close() }

// URL is the API root, as CI_API_V4_URL holds it.
func (l *GitLab) URL() string { return l.Server.URL + "/api/v4" }

// TooManyRequests is GitLab's rate-limit answer: 429 with Retry-After and
// the RateLimit-* headers, body "Retry later".
func TooManyRequests(retryAfter int) Answer {
	return Answer{Status: http.StatusTooManyRequests, Headers: map[string]string{
		"Retry-After": strconv.Itoa(retryAfter), "RateLimit-Limit": "60", "RateLimit-Observed": "67",
		"RateLimit-Remaining": "0", "RateLimit-Reset": "1764000000", "RateLimit-ResetTime": "Mon, 24 Nov 2025 16:00:00 GMT",
		"Content-Type": "text/plain",
	}, Body: "Retry later\n"}
}

var (
	glNotes   = regexp.MustCompile(`^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes(?:/(\d+))?$`)
	glCommits = regexp.MustCompile(`^/api/v4/projects/([^/]+)/repository/commits/([^/]+)/merge_requests$`)
)

func glError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func (l *GitLab) note(n Note) map[string]any {
	return map[string]any{"id": n.ID, "type": nil, "body": n.Body, "attachment": nil,
		"author":     map[string]any{"id": 1, "username": n.Author, "name": n.Author},
		"created_at": "2026-11-20T14:30:00.000Z", "updated_at": "2026-11-20T14:30:00.000Z",
		"system": n.System, "noteable_id": 77, "noteable_type": "MergeRequest", "noteable_iid": l.MR,
		"resolvable": false, "confidential": false, "internal": false}
}

func (l *GitLab) serve(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	auth := ""
	for _, h := range []string{"PRIVATE-TOKEN", "JOB-TOKEN", "Authorization"} {
		if r.Header.Get(h) != "" {
			auth = h
		}
	}
	path := r.URL.EscapedPath()
	l.requests = append(l.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: auth})
	if l.canned(w) {
		return
	}
	if r.Header.Get("PRIVATE-TOKEN") != l.Token && r.Header.Get("Authorization") != "Bearer "+l.Token {
		glError(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	if path == "/api/v4/user" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]any{"id": 99, "username": l.BotUsername, "name": "offsetctl", "bot": true})
		return
	}
	if m := glCommits.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		if p, _ := url.PathUnescape(m[1]); p != l.Project {
			glError(w, http.StatusNotFound, "404 Project Not Found")
			return
		}
		out := []map[string]any{}
		if iid, ok := l.Merged[m[2]]; ok {
			out = append(out, map[string]any{"id": 77, "iid": iid, "project_id": 1, "state": "merged", "title": "offsets: replay"})
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	m := glNotes.FindStringSubmatch(path)
	if m == nil {
		glError(w, http.StatusNotFound, "404 Not found")
		return
	}
	if p, _ := url.PathUnescape(m[1]); p != l.Project {
		glError(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	if m[2] != strconv.Itoa(l.MR) {
		glError(w, http.StatusNotFound, "404 Not found")
		return
	}
	switch {
	case r.Method == http.MethodGet && m[3] == "":
		l.list(w, r)
	case r.Method == http.MethodPost && m[3] == "":
		l.write(w, r, 0)
	case r.Method == http.MethodPut && m[3] != "":
		id, _ := strconv.ParseInt(m[3], 10, 64)
		l.write(w, r, id)
	default:
		glError(w, http.StatusNotFound, "404 Not found")
	}
}

func (l *GitLab) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	perPage, page := 20, 1
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	notes := l.notes
	if q.Get("sort") != "asc" { // GitLab lists notes newest first by default
		notes = make([]Note, len(l.notes))
		for i, n := range l.notes {
			notes[len(notes)-1-i] = n
		}
	}
	from, to := pageBounds(len(notes), page, perPage)
	total := max(1, (len(notes)+perPage-1)/perPage)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Total", strconv.Itoa(len(notes)))
	h.Set("X-Total-Pages", strconv.Itoa(total))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	link := func(p int, rel string) string {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, l.Server.URL, r.URL.Path, qq.Encode(), rel)
	}
	var links []string
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
		links = append(links, link(page-1, "prev"))
	}
	if page < total {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(total, "last"))
	if !l.NoLinkHeader {
		h.Set("Link", strings.Join(links, ", "))
	}
	out := []map[string]any{}
	for _, n := range notes[from:to] {
		out = append(out, l.note(n))
	}
	writeJSON(w, http.StatusOK, out)
}

func (l *GitLab) write(w http.ResponseWriter, r *http.Request, id int64) {
	if l.Forbidden {
		glError(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is missing"})
		return
	}
	if id == 0 {
		l.nextID++
		n := Note{ID: 1000 + l.nextID, Body: *in.Body, Author: l.BotUsername}
		l.notes = append(l.notes, n)
		writeJSON(w, http.StatusCreated, l.note(n))
		return
	}
	for i := range l.notes {
		if l.notes[i].ID == id {
			l.notes[i].Body = *in.Body
			writeJSON(w, http.StatusOK, l.note(l.notes[i]))
			return
		}
	}
	glError(w, http.StatusNotFound, "404 Not found")
}
