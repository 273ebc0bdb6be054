package realstack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

// MinJavaVersion is the oldest Java whose broker and Connect worker the pinned
// Kafka (4.x) supports.
const MinJavaVersion = 17

// CacheEnv names the environment variable that moves the artifact cache away
// from test/realstack/.cache.
const CacheEnv = "OFFSETCTL_REALSTACK_CACHE"

// Available reports whether this machine can run the real stack: a Java of
// version 17 or newer, and either an artifact cache that is already filled or
// Maven to fill it. When it cannot, why says what is missing and how to get
// it.
func Available() (ok bool, why string) {
	java, err := findJava()
	if err != nil {
		return false, err.Error()
	}
	if _, err := javaVersion(java); err != nil {
		return false, err.Error()
	}
	root, err := moduleRoot()
	if err != nil {
		return false, err.Error()
	}
	if cacheFresh(cacheDir(root), root) {
		return true, ""
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return false, "Maven (mvn) is needed to fetch Kafka and Debezium once (apt-get install -y maven), and the artifact cache " + cacheDir(root) + " is not filled yet"
	}
	return true, ""
}

// findJava returns the java launcher: $JAVA_HOME/bin/java when JAVA_HOME is
// set, else java on PATH.
func findJava() (string, error) {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		p := filepath.Join(h, "bin", "java")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		return "", fmt.Errorf("JAVA_HOME=%s holds no bin/java: point it at a Java %d+ installation or unset it", h, MinJavaVersion)
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("no java on PATH: the real stack needs Java %d+ (apt-get install -y openjdk-17-jre-headless)", MinJavaVersion)
	}
	return p, nil
}

var javaVersionRE = regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`)

// javaVersion runs `java -version` and returns the feature release number.
func javaVersion(java string) (int, error) {
	out, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("running %s -version: %w", java, err)
	}
	v, err := parseJavaVersion(out)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", java, err)
	}
	if v < MinJavaVersion {
		return v, fmt.Errorf("%s is Java %d; the real stack needs Java %d+ (set JAVA_HOME to a newer one)", java, v, MinJavaVersion)
	}
	return v, nil
}

// parseJavaVersion reads the feature release from `java -version` output:
// `version "17.0.15"` gives 17, the old `version "1.8.0_392"` gives 8.
func parseJavaVersion(out []byte) (int, error) {
	m := javaVersionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("cannot read a version from java -version output %q", firstLine(out))
	}
	major, _ := strconv.Atoi(string(m[1]))
	if major == 1 && len(m[2]) > 0 {
		major, _ = strconv.Atoi(string(m[2]))
	}
	return major, nil
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(bytes.TrimSpace(b))
}

// moduleRoot walks up from the working directory (a test's package folder) to
// the folder holding go.mod and test/realstack.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "test", "realstack", "fetch.sh")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the offsetctl module root (a folder with go.mod and test/realstack/fetch.sh) above the working directory")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// cacheDir is $OFFSETCTL_REALSTACK_CACHE or <root>/test/realstack/.cache.
func cacheDir(root string) string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	return filepath.Join(root, "test", "realstack", ".cache")
}

// cacheFresh tells whether the cache was filled from the current pom.xml
// (the same test fetch.sh makes before doing nothing).
func cacheFresh(cache, root string) bool {
	return stampMatches(cache, filepath.Join(root, "test", "realstack", "pom.xml")) && fileExists(filepath.Join(cache, "plugins"))
}
