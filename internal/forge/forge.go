package forge

import (
	"context"
	"strings"
)

// Comment is one pull-request comment or merge-request note.
type Comment struct {
	ID   int64
	Body string
	// URL is the comment's address in the web interface, when known.
	URL string
	// Author is the login (GitHub) or username (GitLab) that wrote it.
	Author string
}

// Forge is a pull request (GitHub) or merge request (GitLab) that offsetctl
// comments on.
type Forge interface {
	// Where names the pull or merge request for the operator, e.g.
	// "GitHub pull request acme/cdc#12".
	Where() string
	// FindComment returns the first comment whose body starts with marker
	// and that was written by the identity offsetctl comments as (so that
	// nobody else's comment is taken for offsetctl's), or nil when there is
	// none.
	FindComment(ctx context.Context, marker string) (*Comment, error)
	// UpsertComment updates the comment that starts with marker to body
	// (which must start with marker), or creates it. It returns the
	// comment's web address (empty when the API gives none) and whether it
	// was created.
	UpsertComment(ctx context.Context, marker, body string) (url string, created bool, err error)
}

// Limit is the longest comment body offsetctl posts, in characters:
// GitHub refuses a comment longer than 65,536 characters; GitLab accepts
// more, but one limit keeps both renderings alike.
const Limit = 65000

// hasMarker reports whether body starts with marker (after leading blanks).
func hasMarker(body, marker string) bool {
	return strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), marker)
}

// upsert is UpsertComment on top of a forge's find, create and update.
func upsert(ctx context.Context, f interface {
	FindComment(context.Context, string) (*Comment, error)
	create(context.Context, string) (*Comment, error)
	update(context.Context, int64, string) (*Comment, error)
}, marker, body string) (string, bool, error) {
	if !hasMarker(body, marker) {
		body = marker + "\n" + body
	}
	old, err := f.FindComment(ctx, marker)
	if err != nil {
		return "", false, err
	}
	if old == nil {
		c, err := f.create(ctx, body)
		if err != nil {
			return "", false, err
		}
		return c.URL, true, nil
	}
	if old.Body == body {
		return old.URL, false, nil
	}
	c, err := f.update(ctx, old.ID, body)
	if err != nil {
		return "", false, err
	}
	if c.URL == "" {
		c.URL = old.URL
	}
	return c.URL, false, nil
}
