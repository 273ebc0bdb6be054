package realstack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// The older Kafka Connect worker (test/realstack/connect-3.4/pom.xml): the
// last release without PUT /stop and the /offsets endpoints, run as a
// Connect cluster of its own (own group.id and internal topics) against the
// stack's Kafka 4.3 broker.
const (
	OldConnectVersion     = "3.4.1"
	OldWorkerClassPath    = "connect-3.4" // the folder of test/realstack and of the cache
	OldWorkerGroupID      = "offsetctl-realstack-connect-3.4"
	OldOffsetsTopicName   = "connect-3.4-offsets"
	oldConfigTopicName    = "connect-3.4-configs"
	oldStatusTopicName    = "connect-3.4-status"
	FileStreamSourceClass = "org.apache.kafka.connect.file.FileStreamSourceConnector"
	FileStreamSinkClass   = "org.apache.kafka.connect.file.FileStreamSinkConnector"
)

// OldWorker is a running Kafka Connect 3.4.1 worker. Close ends it.
type OldWorker struct {
	proc     *proc
	restPort int
	dir      string
	logPath  string
}

// URL is the old worker's REST base URL.
func (w *OldWorker) URL() string { return "http://127.0.0.1:" + strconv.Itoa(w.restPort) }

// OffsetsTopic is the old worker's offset.storage.topic.
func (w *OldWorker) OffsetsTopic() string { return OldOffsetsTopicName }

// Dir is a folder of the worker's own, for the files its connectors read.
func (w *OldWorker) Dir() string { return w.dir }

// LogPath is the worker's log file.
func (w *OldWorker) LogPath() string { return w.logPath }

// Do sends one request to the old worker's REST API (see Stack.Do).
func (w *OldWorker) Do(ctx context.Context, method, path string, body any) (*Response, error) {
	return doREST(ctx, w.URL(), method, path, body)
}

// Close ends the worker. Its folder stays with the stack's (removed with
// it, or kept with its logs).
func (w *OldWorker) Close() { w.proc.kill(0) }

// StartOldWorker fetches the Kafka Connect 3.4.1 class path into the cache's
// connect-3.4 folder (once: test/realstack/fetch.sh CACHE connect-3.4) and
// starts that worker against the stack's broker, with Kafka's FileStream
// connectors on its class path. Only the tests that need it call it, so the
// real tier pays for it only there.
func (s *Stack) StartOldWorker(ctx context.Context) (*OldWorker, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(cacheDir(root), OldWorkerClassPath)
	if err := ensureFetchedClassPath(ctx, root, cacheDir(root), OldWorkerClassPath, s.logf); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.dir, "connect-3.4-")
	if err != nil {
		return nil, fmt.Errorf("creating a folder for the Kafka Connect %s worker: %w", OldConnectVersion, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "plugins"), 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	w := &OldWorker{restPort: ports[0], dir: dir, logPath: filepath.Join(s.logDir, "connect-3.4.log")}
	props := filepath.Join(dir, "connect-distributed.properties")
	if err := renderTemplate(filepath.Join(root, "test", "realstack", "connect-distributed.properties"), props, templateVars{
		RestPort:              w.restPort,
		BootstrapServers:      s.BootstrapServers(),
		GroupID:               OldWorkerGroupID,
		OffsetsTopic:          OldOffsetsTopicName,
		ConfigTopic:           oldConfigTopicName,
		StatusTopic:           oldStatusTopicName,
		OffsetFlushIntervalMs: 1000,
		PluginPath:            filepath.Join(dir, "plugins"), // the FileStream connectors are on the class path
		PluginDiscovery:       "only_scan",                   // 3.6+: a 3.4 worker ignores it
		ExactlyOnceSource:     "disabled",                    // 3.3+; an empty value stops the worker
	}); err != nil {
		return nil, err
	}
	j := jvm{java: s.java.java, lib: filepath.Join(cache, "lib"), log4j: s.java.log4j}
	argv := j.args(384, "org.apache.kafka.connect.cli.ConnectDistributed", props)
	// Kafka 3.4 logs through reload4j (Log4j 1), not Log4j 2.
	i := slices.Index(argv, "-cp")
	argv = slices.Insert(argv, i, "-Dlog4j.configuration=file:"+filepath.Join(root, "test", "realstack", "log4j-connect-3.4.properties"))
	w.proc, err = startProc("connect 3.4 worker", w.logPath, dir, argv, javaEnv())
	if err != nil {
		return nil, err
	}
	err = poll(ctx, 120*time.Second, "the Kafka Connect "+OldConnectVersion+" worker's REST API on "+w.URL(), w.proc, func(ctx context.Context) (bool, error) {
		r, err := w.Do(ctx, "GET", "/connector-plugins", nil)
		if err != nil {
			return false, err
		}
		if r.Status != 200 {
			return false, fmt.Errorf("GET /connector-plugins answered %d", r.Status)
		}
		if !bytes.Contains(r.Body, []byte(FileStreamSourceClass)) {
			return false, fmt.Errorf("the worker does not list %s", FileStreamSourceClass)
		}
		return true, nil
	})
	if err != nil {
		w.Close()
		s.KeepLogs()
		return nil, fmt.Errorf("%w (log: %s)", err, w.logPath)
	}
	return w, nil
}
