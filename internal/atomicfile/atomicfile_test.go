package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "plan.json.approvals")
	if err := WriteFile(p, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two\n" {
		t.Fatalf("read %q, %v", b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	// A directory that cannot be written: an error, the target untouched.
	if err := WriteFile(filepath.Join(dir, "missing", "x"), []byte("x"), 0o644); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "backup.json")
	tests := []struct {
		name    string
		path    string
		data    string
		wantErr error
		want    string
	}{
		{name: "creates", path: p, data: "one\n", want: "one\n"},
		{name: "never overwrites", path: p, data: "two\n", wantErr: fs.ErrExist, want: "one\n"},
		{name: "missing directory", path: filepath.Join(dir, "missing", "x"), data: "x", wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteNew(tt.path, []byte(tt.data), 0o600)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("WriteNew = %v, want %v", err, tt.wantErr)
			}
			if tt.want != "" {
				b, err := os.ReadFile(tt.path)
				if err != nil || string(b) != tt.want {
					t.Fatalf("read %q, %v; want %q", b, err, tt.want)
				}
				if fi, _ := os.Stat(tt.path); fi.Mode().Perm() != 0o600 {
					t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
				}
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

// TestWriteExclusive: the fallback of WriteNew where hard links are not
// supported creates the file exclusively.
func TestWriteExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.json")
	if err := writeExclusive(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeExclusive(path, []byte("other"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second exclusive write = %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "one" {
		t.Fatalf("read %q, %v", b, err)
	}
}
