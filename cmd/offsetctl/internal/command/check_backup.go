package command

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// newestBackup finds the newest offsets backup in dir (the files `offsets
// backup --dir` writes, offsets-YYYYMMDDTHHMMSSZ.json) by the time in its
// name; Newest is empty when there is none.
func newestBackup(dir string, now time.Time) *checkBackupAge {
	out := &checkBackupAge{Dir: dir}
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
