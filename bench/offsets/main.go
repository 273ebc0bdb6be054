// Command offsets is the offsets-topic benchmark behind bench/offsets-topic.sh.
//
// It starts franz-go's kfake broker on a local TCP port, fills an offsets
// topic (25 partitions by default) with -records Debezium-PostgreSQL-like
// offset records over -keys distinct keys, then reads the whole topic, in
// turn and -runs times each, with:
//
//   - offsetctl's reader (pkg/offsets.ReadTopic), in a child process (this
//     program re-executed in "read" mode) so its peak memory is its own;
//   - kcat -C -e (librdkafka), writing every value to a pipe this program
//     counts.
//
// For each it measures wall time, CPU time and peak RSS (of the child alone,
// through /usr/bin/time), and prints a Markdown table with the medians on stdout; progress
// goes to stderr. The exit status is 0 even when a target is missed: the
// verdict lines say so.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/numfmt"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

const (
	topic   = "connect-offsets"
	timeBin = "/usr/bin/time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "read" {
		if err := readMode(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "offsets bench (read):", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "offsets bench:", err)
		os.Exit(1)
	}
}

// readSummary is what the read child reports.
type readSummary struct {
	Counted int64 `json:"counted"`
	Live    int   `json:"live"`
	Invalid int   `json:"invalid"`
}

func readMode(args []string) error {
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "bootstrap server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(*brokers))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	snap, err := offsets.ReadTopic(ctx, cl, topic)
	if err != nil {
		return err
	}

	return json.NewEncoder(os.Stdout).Encode(readSummary{Counted: snap.Counted, Live: len(snap.Records), Invalid: len(snap.Invalid)})
}

type measurement struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // KiB
}

func run() error {
	records := flag.Int("records", 1_000_000, "records to write")
	keys := flag.Int("keys", 10_000, "distinct keys")
	partitions := flag.Int("partitions", 25, "partitions of the offsets topic")
	runs := flag.Int("runs", 3, "runs per reader")
	port := flag.Int("port", 0, "TCP port for the broker (0: any free port)")
	kcat := flag.String("kcat", "kcat", "kcat binary")
	flag.Parse()

	opts := []kfake.Opt{
		kfake.SeedTopics(int32(*partitions), topic),
		kfake.BrokerConfigs(map[string]string{"log.cleanup.policy": "compact"}),
	}
	if *port != 0 {
		opts = append(opts, kfake.Ports(*port))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting kfake: %w", err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]
	logf("kfake listening on %s; writing %d records over %d keys to %d partitions", addr, *records, *keys, *partitions)

	start := time.Now()
	bytesWritten, err := fill(addr, *records, *keys, int32(*partitions))
	if err != nil {
		return err
	}
	logf("filled in %s (%.1f MiB of keys and values)", time.Since(start).Round(time.Millisecond), float64(bytesWritten)/(1<<20))

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var ours, theirs []measurement
	for i := 0; i < *runs; i++ {
		m, lines, err := measure(exec.Command(*kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q"))
		if err != nil {
			return fmt.Errorf("running kcat: %w", err)
		}
		if lines != int64(*records) {
			return fmt.Errorf("kcat printed %d records, want %d", lines, *records)
		}
		theirs = append(theirs, m)
		logf("run %d: kcat    %6.2f s  cpu %6.2f s  rss %4d MiB", i+1, m.wall.Seconds(), m.cpu.Seconds(), m.maxRSS/1024)

		var out bytes.Buffer
		cmd := exec.Command(self, "read", "-brokers", addr)
		m, _, err = measureTo(cmd, &out)
		if err != nil {
			return fmt.Errorf("running the offsetctl reader: %w", err)
		}
		var sum readSummary
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
			return fmt.Errorf("reader output %q: %w", out.String(), err)
		}
		if sum.Counted != int64(*records) || sum.Live != *keys || sum.Invalid != 0 {
			return fmt.Errorf("reader saw %+v, want %d records, %d live keys", sum, *records, *keys)
		}
		ours = append(ours, m)
		logf("run %d: offsetctl %4.2f s  cpu %6.2f s  rss %4d MiB", i+1, m.wall.Seconds(), m.cpu.Seconds(), m.maxRSS/1024)
	}

	o, k := median(ours), median(theirs)
	ratio := o.wall.Seconds() / k.wall.Seconds()
	fmt.Printf("### offsets topic: %s records, %s keys, %d partitions (kfake, medians of %d runs)\n\n",
		thousands(*records), thousands(*keys), *partitions, *runs)
	fmt.Println("| reader | wall s | cpu s | peak RSS MiB |")
	fmt.Println("|---|---:|---:|---:|")
	fmt.Printf("| offsetctl ReadTopic | %.2f | %.2f | %d |\n", o.wall.Seconds(), o.cpu.Seconds(), o.maxRSS/1024)
	fmt.Printf("| kcat -C -e | %.2f | %.2f | %d |\n\n", k.wall.Seconds(), k.cpu.Seconds(), k.maxRSS/1024)
	fmt.Printf("- time: offsetctl/kcat = %.2f× (target ≤ 1.20×): %s\n", ratio, verdict(ratio <= 1.2))
	fmt.Printf("- memory: %d MiB (target < 200 MiB, proportional to keys): %s\n", o.maxRSS/1024, verdict(o.maxRSS < 200*1024))
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// fill writes records like a Debezium PostgreSQL task would: key i%keys,
// an offset with growing LSNs, to the partition Java's partitioner picks,
// uncompressed (the Connect worker's producer default).
func fill(addr string, records, keys int, partitions int32) (int64, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(100_000),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	keyBytes := make([][]byte, keys)
	parts := make([]int32, keys)
	for k := range keys {
		keyBytes[k] = offsets.EncodeKey(fmt.Sprintf("pg-source-%03d", k%100), offsets.NewMap(offsets.Field{Key: "server", Value: offsets.String(fmt.Sprintf("shop%05d", k))}))
		parts[k] = offsets.PartitionForKey(keyBytes[k], partitions)
	}
	ctx := context.Background()
	var total int64
	errc := make(chan error, 1)
	for i := range records {
		k := i % keys
		lsn := int64(97500059720 + i*64)
		value := fmt.Appendf(nil, `{"lsn_proc":%d,"messageType":"COMMIT","lsn":%d,"lsn_commit":%d,"txId":%d,"ts_usec":%d}`,
			lsn, lsn, lsn, 812345+i, 1795168800000000+int64(i)*1000)
		total += int64(len(keyBytes[k]) + len(value))
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: parts[k], Key: keyBytes[k], Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	select {
	case err := <-errc:
		return 0, fmt.Errorf("filling the topic: %w", err)
	default:
	}
	return total, nil
}

// lineCounter counts newlines written to it.
type lineCounter struct{ n int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

func measure(cmd *exec.Cmd) (measurement, int64, error) {
	var lc lineCounter
	m, _, err := measureTo(cmd, &lc)
	return m, lc.n, err
}

// measureTo runs cmd under /usr/bin/time, which reports the CPU time and
// peak RSS of cmd alone (getrusage of a child forked from this process
// would count this process's own pages, kfake's topic included).
func measureTo(cmd *exec.Cmd, stdout io.Writer) (measurement, int64, error) {
	report, err := os.CreateTemp("", "offsets-bench-time-*")
	if err != nil {
		return measurement{}, 0, err
	}
	report.Close()
	defer os.Remove(report.Name())
	timed := exec.Command(timeBin, append([]string{"-o", report.Name(), "-f", "%U %S %M", cmd.Path}, cmd.Args[1:]...)...)
	timed.Stdout = stdout
	var stderr bytes.Buffer
	timed.Stderr = &stderr
	start := time.Now()
	err = timed.Run()
	wall := time.Since(start)
	if err != nil {
		return measurement{}, 0, fmt.Errorf("%w: %s", err, stderr.String())
	}
	data, err := os.ReadFile(report.Name())
	if err != nil {
		return measurement{}, 0, err
	}
	var user, sys float64
	var rss int64
	if _, err := fmt.Sscanf(string(data), "%f %f %d", &user, &sys, &rss); err != nil {
		return measurement{}, 0, fmt.Errorf("reading %s output %q: %w", timeBin, data, err)
	}
	cpu := time.Duration((user + sys) * float64(time.Second))
	return measurement{wall: wall, cpu: cpu, maxRSS: rss}, 0, nil
}

func median(ms []measurement) measurement {
	pick := func(f func(measurement) int64) int64 {
		v := make([]int64, len(ms))
		for i, m := range ms {
			v[i] = f(m)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return measurement{
		wall:   time.Duration(pick(func(m measurement) int64 { return int64(m.wall) })),
		cpu:    time.Duration(pick(func(m measurement) int64 { return int64(m.cpu) })),
		maxRSS: pick(func(m measurement) int64 { return m.maxRSS }),
	}
}

func thousands(n int) string { return numfmt.Thousands(int64(n)) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
