package command

import (
	"fmt"
	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// newestBackup finds the newest offsets backup in dir (the files `offsets
// backup --dir` writes, offsets-YYYYMMDDTHHMMSSZ.json) by the time in its
// name; Newest is empty when there is none.
func newestBackup(dir string, now time.Time) *views.CheckBackupAge {
	out := &views.CheckBackupAge{Dir: dir}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		at, ok := backupTime(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		if out.Newest == "" || at.After(out.TakenAt) {
			out.Newest, out.TakenAt = filepath.Join(dir, e.Name()), at
		}
	}
	if out.Newest != "" {
		out.AgeSeconds = max(now.Sub(out.TakenAt).Seconds(), 0)
	}
	return out
}

// backupNameLayout is the time in a scheduled backup's file name.
const backupNameLayout = "20060102T150405Z"

// backupTime reads the time out of a scheduled backup's file name.
func backupTime(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, "offsets-")
	if !ok {
		return time.Time{}, false
	}
	rest, ok = strings.CutSuffix(rest, ".json")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(backupNameLayout, rest)
	return t, err == nil
}

// parseRetention reads a duration that may be given in days: 7d, 36h, 90m.
func parseRetention(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("want a positive number of days like 7d, or a duration like 36h")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration like 7d or 36h")
	}
	return d, nil
}

// pruneBackups deletes the scheduled backups of dir beyond the newest keep,
// or older than within; never just (the one just written) nor a file not
// named as a scheduled backup.
func pruneBackups(deps *Deps, dir, just string, keep int, within time.Duration) error {
	if keep == 0 && within == 0 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing the backups in %s to prune: %w", dir, err)
	}
	type bk struct {
		path string
		at   time.Time
	}
	var all []bk
	for _, e := range entries {
		if at, ok := backupTime(e.Name()); ok && !e.IsDir() {
			all = append(all, bk{filepath.Join(dir, e.Name()), at})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	now := deps.Now()
	for i, b := range all {
		drop := keep > 0 && i >= keep || within > 0 && now.Sub(b.at) > within
		if !drop || b.path == just {
			continue
		}
		if err := os.Remove(b.path); err != nil {
			return fmt.Errorf("pruning the old backup %s: %w", b.path, err)
		}
		views.NewOffsets(deps.Streams, false).Pruned(b.path)
	}
	return nil
}
