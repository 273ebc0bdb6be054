// Package atomicfile writes files so that a reader sees the old content or
// the new, never a half-written file, and so that the new content survives a
// crash once WriteFile returns: a temporary file in the same directory,
// fsynced, renamed over the target, and the directory fsynced. WriteNew does
// the same for a file that must not exist yet (backups are never
// overwritten): the temporary file is hard-linked to the name instead.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, atomically and durably, with mode
// perm. On error the target is untouched and no temporary file is left.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// WriteNew creates path with data, atomically and durably, with mode perm,
// and never replaces an existing file: when path exists the error wraps
// fs.ErrExist. The temporary file is hard-linked to path (the link fails
// when path exists, so the check and the publication are one step), then
// removed, and the directory fsynced. Where the file system has no hard
// links, path is created with O_EXCL and written in place: a crash may then
// leave a partial file, which a reader that checks a checksum refuses.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("writing %s: %w", path, fs.ErrExist)
	}
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("writing %s: %w", path, fs.ErrExist)
		}
		if err := writeExclusive(path, data, perm); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new temporary file beside path, fsynced and
// closed, and returns its name. On error nothing is left behind.
func writeTemp(path string, data []byte, perm os.FileMode) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return "", err
	}
	if _, err = tmp.Write(data); err != nil {
		return "", err
	}
	if err = tmp.Sync(); err != nil {
		return "", err
	}
	if err = tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}

func writeExclusive(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
