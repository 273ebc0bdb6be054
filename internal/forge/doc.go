// Package forge posts offsetctl's comments on a GitHub pull request or a
// GitLab merge request through their REST APIs, and reads them back.
//
// A comment is found by a hidden marker (an HTML comment on its first line),
// so that each push updates the one comment in place instead of adding a new
// one. The clients follow the APIs' pagination (GitHub's Link header,
// GitLab's X-Next-Page or Link header), honour rate-limit answers with a
// bounded number of retries (GitHub: 403 or 429 with x-ratelimit-remaining: 0
// and x-ratelimit-reset, or retry-after; GitLab: 429 with Retry-After), and
// turn 401, 403 and 404 into errors that name the permission or setting to
// fix.
//
// Tokens come from the caller (read from the environment by the command);
// they are sent only in request headers, only to the configured API host
// (a pagination link to another host is refused), and never appear in an
// error, a log line or the output.
//
// The package imports nothing of offsetctl's: it knows comments, not plans.
package forge
