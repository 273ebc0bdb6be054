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

// pomChecksum is the hex SHA-256 of test/realstack/pom.xml, which fetch.sh
// writes to the cache's STAMP file.
func pomChecksum(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "test", "realstack", "pom.xml"))
	if err != nil {
		return "", fmt.Errorf("reading the pinned versions: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ensureFetched fills the artifact cache with test/realstack/fetch.sh unless
// it is already filled from the current pom.xml.
func ensureFetched(ctx context.Context, root, cache string, logf func(string, ...any)) error {
	if cacheFresh(cache, root) {
		return nil
	}
	logf("fetching Kafka and Debezium into %s (once; later runs reuse it)", cache)
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "test", "realstack", "fetch.sh"), cache)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("fetching the real-stack artifacts with test/realstack/fetch.sh: %w\n%s", err, bytes.TrimSpace(out.Bytes()))
	}
	if !cacheFresh(cache, root) {
		return fmt.Errorf("test/realstack/fetch.sh finished but %s is still not filled", cache)
	}
	return nil
}
