//go:build !unix

package local

import (
	"errors"
	"os"
)

var errNoFlock = errors.New("file locking (flock) is not supported on this platform; use a PostgreSQL state backend")

func tryLock(f *os.File, exclusive bool) (bool, error) { return false, errNoFlock }

func unlockFile(f *os.File) error { return errNoFlock }
