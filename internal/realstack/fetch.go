package realstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// fileChecksum is the hex SHA-256 of a pom.xml, which fetch.sh writes to the
// STAMP file of the cache it fills from it.
func fileChecksum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the pinned versions: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ensureFetched fills the artifact cache with test/realstack/fetch.sh unless
// it is already filled from the current pom.xml.
func ensureFetched(ctx context.Context, root, cache string, logf func(string, ...any)) error {
	return fetchInto(ctx, root, cache, "", func() bool { return cacheFresh(cache, root) }, logf)
}

// ensureFetchedClassPath fills cache/name, a second class path pinned by
// test/realstack/name/pom.xml (fetch.sh CACHE name), unless it is already
// filled from that pom.xml.
func ensureFetchedClassPath(ctx context.Context, root, cache, name string, logf func(string, ...any)) error {
	pom := filepath.Join(root, "test", "realstack", name, "pom.xml")
	return fetchInto(ctx, root, cache, name, func() bool { return stampMatches(filepath.Join(cache, name), pom) }, logf)
}

// fetchInto runs test/realstack/fetch.sh for the cache (and the class path
// classPath, when not empty) unless fresh says it is filled.
func fetchInto(ctx context.Context, root, cache, classPath string, fresh func() bool, logf func(string, ...any)) error {
	if fresh() {
		return nil
	}
	what, dir, args := "Kafka and Debezium", cache, []string{filepath.Join(root, "test", "realstack", "fetch.sh"), cache}
	if classPath != "" {
		what, dir, args = "the "+classPath+" class path", filepath.Join(cache, classPath), append(args, classPath)
	}
	logf("fetching %s into %s (once; later runs reuse it)", what, dir)
	cmd := exec.CommandContext(ctx, "bash", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("fetching %s with test/realstack/fetch.sh: %w\n%s", what, err, bytes.TrimSpace(out.Bytes()))
	}
	if !fresh() {
		return fmt.Errorf("test/realstack/fetch.sh finished but %s is still not filled", dir)
	}
	return nil
}

// stampMatches tells whether dir holds a class path (lib/) fetched from pom
// (its STAMP is pom's checksum).
func stampMatches(dir, pom string) bool {
	stamp, err := os.ReadFile(filepath.Join(dir, "STAMP"))
	if err != nil {
		return false
	}
	want, err := fileChecksum(pom)
	return err == nil && string(bytes.TrimSpace(stamp)) == want && fileExists(filepath.Join(dir, "lib"))
}
