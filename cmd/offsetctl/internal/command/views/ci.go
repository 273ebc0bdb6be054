package views

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/offsetctl/offsetctl/internal/forge"
	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
)

// CommentMeta is what the merge job needs to find and check the reviewed
// plan: its hash, and where its file is.
type CommentMeta struct {
	FormatVersion int    `json:"format_version"`
	Key           string `json:"key"`
	Hash          string `json:"hash"`
	Artifact      string `json:"artifact,omitempty"`
	RunID         string `json:"run_id,omitempty"` // GitHub: the run that uploaded the artifact
	JobID         string `json:"job_id,omitempty"` // GitLab: the job that holds the artifact
	Commit        string `json:"commit,omitempty"`
	RunURL        string `json:"run_url,omitempty"`
}

// CI is the view of offsetctl ci comment, ci reviewed-plan and ci
// verify-plan: the comments they post (built here from the plan, the apply
// result or a body), and what they print (text, or -json documents of
// format_version CIFormat).
type CI struct{ *View }

// NewCI returns the view of the ci commands.
func NewCI(streams *iostreams.Streams, asJSON bool) *CI {
	return &CI{NewView(streams, asJSON)}
}

// Comment prints a comment's body instead of posting it (-dry-run).
func (v *CI) Comment(body string) error {
	_, err := io.WriteString(v.streams.Out, body)
	return err
}

// ciPostedJSON is `ci comment -json` (fields in the order encoding/json
// wrote the map they were).
type ciPostedJSON struct {
	Created       bool   `json:"created"`
	FormatVersion int    `json:"format_version"`
	Kind          string `json:"kind"`
	URL           string `json:"url"`
	Where         string `json:"where"`
}

// Posted says the comment of kind what was created or updated on where.
func (v *CI) Posted(what, where, url string, created bool) error {
	out := v.streams.Out
	if v.json {
		return encodeJSON(out, ciPostedJSON{Created: created, FormatVersion: CIFormat, Kind: what, URL: url, Where: where}, false)
	}
	verb := "Updated"
	if created {
		verb = "Created"
	}
	fmt.Fprintf(out, "%s the %s comment on %s", verb, what, where)
	if url != "" {
		fmt.Fprintf(out, ": %s", url)
	}
	_, err := fmt.Fprintln(out)
	return err
}

// ReviewedPlan prints the reviewed plan's metadata: name=value lines (for
// $GITHUB_OUTPUT or a dotenv report), or with -json the metadata.
func (v *CI) ReviewedPlan(m CommentMeta) error {
	out := v.streams.Out
	if v.json {
		m.FormatVersion = CIFormat
		return encodeJSON(out, m, false)
	}
	for _, kv := range [][2]string{{"hash", m.Hash}, {"artifact", m.Artifact}, {"run_id", m.RunID}, {"job_id", m.JobID}, {"commit", m.Commit}} {
		if kv[1] != "" && !strings.ContainsAny(kv[1], "\r\n") {
			fmt.Fprintf(out, "%s=%s\n", kv[0], kv[1])
		}
	}
	return nil
}

// ciVerifiedJSON is `ci verify-plan -json` (fields in the order
// encoding/json wrote the map they were).
type ciVerifiedJSON struct {
	FormatVersion int    `json:"format_version"`
	Hash          string `json:"hash"`
	Plan          string `json:"plan"`
	Reviewed      bool   `json:"reviewed"`
}

// VerifiedPlan says the plan file is the reviewed plan.
func (v *CI) VerifiedPlan(file, hash string) error {
	out := v.streams.Out
	if v.json {
		return encodeJSON(out, ciVerifiedJSON{FormatVersion: CIFormat, Hash: hash, Plan: file, Reviewed: true}, false)
	}
	_, err := fmt.Fprintf(out, "%s is the reviewed plan %s.\n", file, hash)
	return err
}

// Markers: the first line of each kind of comment, one per key (a
// repository with several configurations or states uses one key each).
func PlanMarker(key string) string   { return "<!-- offsetctl:plan:" + key + " -->" }
func ApplyMarker(key string) string  { return "<!-- offsetctl:apply:" + key + " -->" }
func CustomMarker(key string) string { return "<!-- offsetctl:comment:" + key + " -->" }

const metaPrefix = "<!-- offsetctl:meta "

// metaLine is the hidden metadata line. JSON escapes < and > so no value
// can close the HTML comment early.
func metaLine(m CommentMeta) string {
	b, _ := json.Marshal(m)
	return metaPrefix + string(b) + " -->"
}

// ParseMeta finds the metadata line in a comment body.
func ParseMeta(body string) (CommentMeta, bool) {
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, metaPrefix) || !strings.HasSuffix(line, " -->") {
			continue
		}
		var m CommentMeta
		if json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(line, metaPrefix), " -->")), &m) != nil {
			return CommentMeta{}, false
		}
		return m, m.Hash != ""
	}
	return CommentMeta{}, false
}

// PlanComment is the pull-request comment of a saved plan: the marker, the
// hidden metadata, the Markdown rendering (cut to fit), and a footer with
// the hash the merge job will check and where the plan file is.
func PlanComment(p *plan.Plan, m CommentMeta, limit int) (string, error) {
	if p.Hash == "" {
		return "", fmt.Errorf("the plan has no hash: comment a plan saved with offsetctl plan -out FILE")
	}
	m.FormatVersion, m.Hash = CommentMetaFormat, p.Hash
	head := PlanMarker(m.Key) + "\n" + metaLine(m) + "\n"
	var foot strings.Builder
	foot.WriteString("\n---\n")
	fmt.Fprintf(&foot, "**Plan hash** `%s`: on merge, CI applies only the plan file with this hash, after checking it against the live world again.\n", p.Hash)
	where := "Plan file: saved by the job that posted this comment"
	if m.Artifact != "" {
		where = fmt.Sprintf("Plan file: artifact `%s`", m.Artifact)
		if m.RunURL != "" {
			where += fmt.Sprintf(" of [this run](%s)", m.RunURL)
		}
	}
	fmt.Fprintf(&foot, "\n<sub>%s", where)
	if m.Commit != "" {
		fmt.Fprintf(&foot, " · planned at commit `%s`", shortSHA(m.Commit))
	}
	foot.WriteString(" · this comment is updated on every push</sub>\n")
	budget := limit - utf8.RuneCountInString(head) - utf8.RuneCountInString(foot.String()) - 400
	var md bytes.Buffer
	if err := render.Markdown(&md, p, budget); err != nil {
		return "", err
	}
	body := md.String()
	if utf8.RuneCountInString(body) > budget {
		body = CutComment(body, budget, fmt.Sprintf("The full plan is in the plan file (%s); `offsetctl show PLANFILE` renders it.", strings.TrimPrefix(where, "Plan file: ")))
	}
	if strings.Contains(body, "are not shown") {
		// The renderer left details out: say where the rest is.
		body += fmt.Sprintf("\n> [!NOTE]\n> This comment is cut to fit the %s-character limit of a comment; the full plan is in the plan file (%s).\n", plan.Thousands(int64(limit)), strings.TrimPrefix(where, "Plan file: "))
	}
	return head + body + foot.String(), nil
}

// CutComment cuts body to at most limit characters at a line boundary,
// closes an open code fence and <details> blocks, and says what was cut and
// where the rest is.
func CutComment(body string, limit int, rest string) string {
	total := utf8.RuneCountInString(body)
	if total <= limit {
		return body
	}
	note := fmt.Sprintf("\n> [!NOTE]\n> This comment was cut: it shows %%s of %s characters (a comment holds at most %s). %s\n", plan.Thousands(int64(total)), plan.Thousands(int64(forge.Limit)), rest)
	room := limit - utf8.RuneCountInString(note) - 64
	if room < 0 {
		room = 0
	}
	// Cut at a rune boundary, then back to the last line end.
	cut, n := body, 0
	for i := range body {
		if n == room {
			cut = body[:i]
			break
		}
		n++
	}
	if i := strings.LastIndex(cut, "\n"); i >= 0 {
		cut = cut[:i+1]
	}
	var closing strings.Builder
	if strings.Count(cut, "```")%2 == 1 {
		closing.WriteString("```\n")
	}
	for open := strings.Count(cut, "<details>") - strings.Count(cut, "</details>"); open > 0; open-- {
		closing.WriteString("\n</details>\n")
	}
	shown := plan.Thousands(int64(utf8.RuneCountInString(cut)))
	return cut + closing.String() + fmt.Sprintf(note, shown)
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// ApplyRecord is the part of apply -json's stream (format_version 1) the
// result comment reads: the version record and the summary record.
type ApplyRecord struct {
	Type          string `json:"type"`
	FormatVersion int    `json:"format_version"`
	OK            bool   `json:"ok"`
	Lineage       string `json:"lineage"`
	Serial        uint64 `json:"serial"`
	Operations    []struct {
		Address    string `json:"address"`
		Serial     uint64 `json:"serial"`
		Status     string `json:"status"`
		Partitions int    `json:"partitions"`
		Incomplete string `json:"incomplete"`
	} `json:"operations"`
	Incomplete []uint64 `json:"incomplete"`
	Error      string   `json:"error"`
	ErrorKind  string   `json:"error_kind"`
}

// ReadApplySummary reads the summary record of an apply -json stream; ok is
// false when the stream has none (apply did not run, or stopped before
// reporting).
func ReadApplySummary(r io.Reader) (ApplyRecord, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var sum ApplyRecord
	found := false
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var rec ApplyRecord
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		switch rec.Type {
		case "version":
			if rec.FormatVersion != EventsVersion {
				return sum, false, fmt.Errorf("the apply output is of format_version %d; this offsetctl reads %d: use the same offsetctl for apply and ci comment", rec.FormatVersion, EventsVersion)
			}
		case "summary":
			sum, found = rec, true
		}
	}
	return sum, found, sc.Err()
}

// ApplyComment is the result comment: what apply did with the reviewed plan,
// and what to do when it was refused or failed.
func ApplyComment(key, planHash string, sum ApplyRecord, ran bool, exitCode int, runURL string) string {
	var b strings.Builder
	b.WriteString(ApplyMarker(key) + "\n")
	title, what := "", ""
	switch {
	case !ran:
		title = "❌ apply did not run"
		what = "The merge job wrote no apply result: it stopped before apply reported (for example the plan file's hash is not the reviewed one, or the configuration did not load). Read the job log; `offsetctl state history` shows what the state recorded."
	case sum.OK:
		title = "✅ applied"
	case sum.ErrorKind == "stale_plan" || strings.HasPrefix(sum.Error, "the plan is stale"):
		title = "⛔ refused: the plan is stale"
		what = "Nothing was changed: the world moved between the review and the merge (below, what changed). " +
			"Plan again against the world as it is now (a new pull request, an empty commit is enough: `git commit --allow-empty -m 'offsetctl: plan again'`), review and approve the new plan, and merge it."
	case sum.ErrorKind == "plan_expired":
		title = "⛔ refused: the plan expired"
		what = "Nothing was changed: the reviewed plan is older than the configuration's `plan_max_age` (default 24 h). " +
			"Plan again (a new pull request, an empty commit is enough), review and approve the new plan, and merge it."
	case len(sum.Incomplete) > 0 && sum.Error == "":
		title = "⚠️ applied, repair incomplete"
		what = "Every operation ran, but a repair's verification found the sink still different from its source (exit code 4). What was written stays; plan again to see what still differs, or roll it back with `offsetctl rollback`."
	default:
		title = "❌ apply failed"
		what = "Read the error below and the job log; `offsetctl state history` shows what was applied and rolled back."
	}
	fmt.Fprintf(&b, "### offsetctl apply: %s\n\n", title)
	var facts []string
	if planHash != "" {
		facts = append(facts, fmt.Sprintf("Plan `%s`", planHash))
	}
	if sum.Lineage != "" {
		facts = append(facts, fmt.Sprintf("state lineage `%s` serial %d", sum.Lineage, sum.Serial))
	}
	if exitCode >= 0 {
		facts = append(facts, fmt.Sprintf("exit code %d", exitCode))
	}
	if runURL != "" {
		facts = append(facts, fmt.Sprintf("[job log](%s)", runURL))
	}
	if len(facts) > 0 {
		b.WriteString(strings.Join(facts, " · ") + "\n\n")
	}
	if what != "" {
		b.WriteString(what + "\n\n")
	}
	if len(sum.Operations) > 0 {
		b.WriteString("| operation | serial | status | partitions |\n|---|---:|---|---:|\n")
		for _, op := range sum.Operations {
			fmt.Fprintf(&b, "| `%s` | %d | %s | %d |\n", op.Address, op.Serial, mdCell(op.Status), op.Partitions)
		}
		b.WriteString("\n")
		for _, op := range sum.Operations {
			if op.Incomplete != "" {
				fmt.Fprintf(&b, "- `%s` incomplete: %s\n", op.Address, mdCell(op.Incomplete))
			}
		}
	}
	if sum.Error != "" {
		fmt.Fprintf(&b, "```text\n%s\n```\n", strings.ReplaceAll(strings.TrimSpace(sum.Error), "```", "'''"))
	}
	return CutComment(b.String(), forge.Limit, "The whole result is in the job log.")
}
