package offsets

import (
	"errors"
	"testing"
)

// Vectors from Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2).
func TestMurmur2MatchesKafkaUtilsTest(t *testing.T) {
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := Murmur2([]byte(in)); got != want {
			t.Errorf("Murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// Partitions of 25 from the reference (kafka-connect-offsets.md §2.2): the
// same logical key with other bytes lands elsewhere.
func TestPartitionForKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		hash int32
		part int32
	}{
		{`["inventory-connector",{"server":"dbserver1"}]`, -1922584362, 11},
		{`["inventory-connector", {"server": "dbserver1"}]`, -679170756, 17},
		{`["inventory-connector",{"server":"dbserver1","database":"testDB"}]`, 1040924864, 14},
		{`["inventory-connector",{"database":"testDB","server":"dbserver1"}]`, 1961514803, 3},
	} {
		if got := Murmur2([]byte(tc.key)); got != tc.hash {
			t.Errorf("Murmur2(%s) = %d, want %d", tc.key, got, tc.hash)
		}
		if got := PartitionForKey([]byte(tc.key), 25); got != tc.part {
			t.Errorf("PartitionForKey(%s) = %d, want %d", tc.key, got, tc.part)
		}
	}
}

func TestJavaStringHash(t *testing.T) {
	// Values of java.lang.String.hashCode, from the JDK's documented formula.
	for in, want := range map[string]int32{"": 0, "a": 97, "hello": 99162322, "Aa": 2112, "BB": 2112, "polygenelubricants": -2147483648} {
		if got := JavaStringHash(in); got != want {
			t.Errorf("JavaStringHash(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestJavaOrderPutsServerBeforeDatabase(t *testing.T) {
	// A Debezium SQL Server partition, built in either order, iterates
	// server then database in a java.util.HashMap.
	for _, p := range []Map{
		NewMap(Field{"database", String("testDB")}, Field{"server", String("dbserver1")}),
		NewMap(Field{"server", String("dbserver1")}, Field{"database", String("testDB")}),
	} {
		key := EncodeKey("inventory-connector", p.JavaOrder())
		if string(key) != `["inventory-connector",{"server":"dbserver1","database":"testDB"}]` {
			t.Fatalf("key = %s", key)
		}
		if PartitionForKey(key, 25) != 14 {
			t.Fatalf("partition = %d", PartitionForKey(key, 25))
		}
	}
}

func TestDecodeKey(t *testing.T) {
	name, p, err := DecodeKey([]byte(`["pg-orders",{"server":"shop","n":1}]`))
	if err != nil || name != "pg-orders" || p.String() != `{"server":"shop","n":1}` {
		t.Fatalf("DecodeKey = %q %s %v", name, p, err)
	}
	for _, bad := range []string{``, `x`, `{}`, `[]`, `["a"]`, `[1,{}]`, `["a",{},1]`, `["a",{"b":{}}]`, `["a",{}] x`} {
		if _, _, err := DecodeKey([]byte(bad)); !errors.Is(err, ErrNotOffsetKey) {
			t.Errorf("DecodeKey(%q) = %v, want ErrNotOffsetKey", bad, err)
		}
	}
}

func TestEncodeKeyRoundTrip(t *testing.T) {
	p := NewMap(Field{"server", String("ünïcode/<&>")}, Field{"n", Int(7)})
	key := EncodeKey(`we"ird`, p)
	name, back, err := DecodeKey(key)
	if err != nil || name != `we"ird` || !back.Equal(p) || string(EncodeKey(name, back)) != string(key) {
		t.Fatalf("round trip: %s -> %q %s %v", key, name, back, err)
	}
}
