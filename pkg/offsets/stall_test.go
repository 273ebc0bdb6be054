package offsets

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/faultproxy"
)

// advertisedListener listens on one address and tells kfake another: the
// fault proxy's, which forwards to it, so clients stay behind the proxy.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

// newProxiedKafka starts a one-broker kfake cluster that advertises a fault
// proxy in front of it, and returns the proxy and a client bootstrapped
// there with short request timeouts.
func newProxiedKafka(t *testing.T) (*faultproxy.Proxy, *kgo.Client) {
	t.Helper()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var fp *faultproxy.Proxy
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(25, testTopic),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			fp = faultproxy.Serve(front, ln.Addr().String())
			return advertisedListener{Listener: ln, addr: front.Addr()}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	t.Cleanup(func() { fp.Close() })
	fp.SetProtocol(faultproxy.Kafka)
	cl, err := kgo.NewClient(kgo.SeedBrokers(fp.Addr()), kgo.FetchMaxWait(500*time.Millisecond), kgo.RequestTimeoutOverhead(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return fp, cl
}

// A fetch of the offsets topic whose answer never comes (the broker
// connection goes silent): the client times the request out and fetches
// again on a new connection, and ReadTopic reads everything. Before,
// the probe that asks the broker about a stalled partition shared the dead
// connection, failed with it, and ReadTopic gave up.
func TestReadTopicSurvivesAStalledFetch(t *testing.T) {
	fp, cl := newProxiedKafka(t)
	pg := `["pg-orders",{"server":"shop"}]`
	produceRaw(t, cl, rawRecord{PartitionForKey([]byte(pg), 25), pg, str(`{"lsn":7}`)})
	stalled := fp.FaultRequest(faultproxy.KafkaRequest("Fetch"), 1, faultproxy.Downstream, faultproxy.Fault{Blackhole: true})
	begun := time.Now()
	snap, err := ReadTopic(testCtx(t), cl, testTopic)
	if err != nil {
		t.Fatalf("ReadTopic after a stalled fetch: %v (requests: %v)", err, fp.Requests())
	}
	select {
	case <-stalled:
	default:
		t.Fatalf("no fetch went through the proxy: %v", fp.Requests())
	}
	recs := snap.Connector("pg-orders")
	if len(recs) != 1 || recs[0].Offset.String() != `{"lsn":7}` {
		t.Fatalf("records %+v", recs)
	}
	t.Logf("read in %s despite the stalled fetch", time.Since(begun).Round(time.Millisecond))
}
