// Package forgetest holds test servers that answer as GitHub's and GitLab's
// REST APIs document it, for the comment endpoints offsetctl uses: status
// codes, JSON bodies, pagination headers, permission and rate-limit
// answers. It is a test helper: import it only from _test.go files.
package forgetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// Answer is a canned answer served instead of the normal one.
type Answer struct {
	Status  int
	Headers map[string]string
	Body    string
}

// Request is a request a server received, without its token.
type Request struct {
	Method string
	Path   string
	Query  string
	// Auth names the header the token came in ("Authorization",
	// "PRIVATE-TOKEN", "JOB-TOKEN"), never its value.
	Auth string
}

// Note is one comment or note held by a server.
type Note struct {
	ID     int64
	Body   string
	System bool // GitLab system notes ("added 1 commit")
	Author string
}

// base is what both servers share: notes, canned answers, a request log.
type base struct {
	mu       sync.Mutex
	notes    []Note
	nextID   int64
	answers  []Answer
	requests []Request
}

// Queue makes the next requests get these answers, in order, before the
// server answers normally again.
func (b *base) Queue(a ...Answer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answers = append(b.answers, a...)
}

// Seed adds notes as if a reviewer ("alice") had written them.
func (b *base) Seed(bodies ...string) {
	for _, body := range bodies {
		b.SeedAs("alice", body)
	}
}

// SeedAs adds a note written by author.
func (b *base) SeedAs(author, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	b.notes = append(b.notes, Note{ID: 1000 + b.nextID, Body: body, Author: author})
}

// SeedSystem adds a GitLab system note.
func (b *base) SeedSystem(body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	b.notes = append(b.notes, Note{ID: 1000 + b.nextID, Body: body, System: true})
}

// Notes returns a copy of the notes held.
func (b *base) Notes() []Note {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Note(nil), b.notes...)
}

// Requests returns the requests received so far.
func (b *base) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.requests...)
}

// canned serves a queued answer; it reports whether it did.
func (b *base) canned(w http.ResponseWriter) bool {
	if len(b.answers) == 0 {
		return false
	}
	a := b.answers[0]
	b.answers = b.answers[1:]
	for k, v := range a.Headers {
		w.Header().Set(k, v)
	}
	if strings.HasPrefix(strings.TrimSpace(a.Body), "{") {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write([]byte(a.Body))
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func pageBounds(n, page, perPage int) (int, int) {
	from := (page - 1) * perPage
	if from > n {
		from = n
	}
	to := from + perPage
	if to > n {
		to = n
	}
	return from, to
}
