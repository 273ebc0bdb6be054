package offsets

import "testing"

func TestParseSinkREST(t *testing.T) {
	for _, tc := range []struct {
		p, o    string
		topic   string
		part    int32
		off     int64
		has     bool
		wantErr bool
	}{
		{`{"kafka_topic":"t","kafka_partition":3}`, `{"kafka_offset":1500}`, "t", 3, 1500, true, false},
		{`{"kafka_partition":0,"kafka_topic":"t"}`, `{"kafka_offset":"2"}`, "t", 0, 2, true, false},
		{`{"kafka_topic":"t","kafka_partition":1}`, `null`, "t", 1, 0, false, false},
		{`{"kafka_topic":"t"}`, `{"kafka_offset":1}`, "", 0, 0, false, true},
		{`{"kafka_topic":"t","kafka_partition":1}`, `{"offset":1}`, "", 0, 0, false, true},
		{`[]`, `null`, "", 0, 0, false, true},
	} {
		topic, part, off, has, err := ParseSinkREST([]byte(tc.p), []byte(tc.o))
		if (err != nil) != tc.wantErr || topic != tc.topic || part != tc.part || off != tc.off || has != tc.has {
			t.Errorf("ParseSinkREST(%s, %s) = %q %d %d %v %v", tc.p, tc.o, topic, part, off, has, err)
		}
	}
}
