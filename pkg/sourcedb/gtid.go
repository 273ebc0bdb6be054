package sourcedb

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MariaDBGTID is one MariaDB GTID, domain-server-sequence (0-1-42).
type MariaDBGTID struct {
	Domain, Server uint32
	Seq            uint64
}

func (g MariaDBGTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// ParseMariaDBGTIDs parses a MariaDB GTID list as @@gtid_binlog_state and
// Debezium's MariaDB offsets ("gtids") write it: comma-separated
// domain-server-sequence triples ("0-1-42,1-2-7"); "" is the empty list.
func ParseMariaDBGTIDs(s string) ([]MariaDBGTID, error) {
	var out []MariaDBGTID
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("%q is not a MariaDB GTID (domain-server-sequence, like 0-1-42)", part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("%q is not a MariaDB GTID (domain-server-sequence, like 0-1-42)", part)
		}
		out = append(out, MariaDBGTID{Domain: uint32(d), Server: uint32(sv), Seq: n})
	}
	return out, nil
}

// gtidInterval is a closed range of MySQL GTID transaction numbers.
type gtidInterval struct{ lo, hi uint64 }

// MySQLGTIDSet is a MySQL GTID set: per source (server UUID, or UUID:tag
// on MySQL 8.3+), the transaction numbers it holds.
type MySQLGTIDSet map[string][]gtidInterval

// ParseMySQLGTIDSet parses a MySQL GTID set as @@gtid_executed and
// Debezium's MySQL offsets write it ("uuid:1-5:7,uuid2:1-3"; MySQL puts a
// newline after each comma, and 8.3+ may tag a UUID: "uuid:tag:1-5").
func ParseMySQLGTIDSet(s string) (MySQLGTIDSet, error) {
	set := MySQLGTIDSet{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, ":")
		if len(f) < 2 || len(f[0]) != 36 {
			return nil, fmt.Errorf("%q is not a MySQL GTID set element (uuid:first-last, like 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5)", part)
		}
		source := strings.ToLower(f[0])
		for _, iv := range f[1:] {
			if iv != "" && (iv[0] < '0' || iv[0] > '9') { // a tag
				source = strings.ToLower(f[0]) + ":" + iv
				continue
			}
			lo, hi, found := strings.Cut(iv, "-")
			a, err := strconv.ParseUint(lo, 10, 64)
			b := a
			if err == nil && found {
				b, err = strconv.ParseUint(hi, 10, 64)
			}
			if err != nil || a == 0 || b < a {
				return nil, fmt.Errorf("%q in %q is not a GTID interval (first-last, from 1)", iv, part)
			}
			set[source] = append(set[source], gtidInterval{a, b})
		}
	}
	for k := range set {
		set[k] = normalize(set[k])
	}
	return set, nil
}

func normalize(ivs []gtidInterval) []gtidInterval {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].lo < ivs[j].lo })
	var out []gtidInterval
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, iv.hi)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Minus is what s holds that o does not, in MySQL's notation ("" when s is
// a subset of o).
func (s MySQLGTIDSet) Minus(o MySQLGTIDSet) string {
	var parts []string
	for _, src := range sortedKeys(s) {
		var rest []gtidInterval
		for _, iv := range s[src] {
			cur := []gtidInterval{iv}
			for _, cut := range o[src] {
				var next []gtidInterval
				for _, c := range cur {
					if cut.hi < c.lo || cut.lo > c.hi {
						next = append(next, c)
						continue
					}
					if cut.lo > c.lo {
						next = append(next, gtidInterval{c.lo, cut.lo - 1})
					}
					if cut.hi < c.hi {
						next = append(next, gtidInterval{cut.hi + 1, c.hi})
					}
				}
				cur = next
			}
			rest = append(rest, cur...)
		}
		if len(rest) == 0 {
			continue
		}
		b := strings.Builder{}
		b.WriteString(src)
		for _, iv := range rest {
			if iv.lo == iv.hi {
				fmt.Fprintf(&b, ":%d", iv.lo)
			} else {
				fmt.Fprintf(&b, ":%d-%d", iv.lo, iv.hi)
			}
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}

func sortedKeys(s MySQLGTIDSet) []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
