package local

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// BenchmarkRepairJournal writes the state as apply does during a repair of
// 10,000 rows in batches of 1,250, 5,000 and 3,750: each batch's row
// before-images (compact JSON, as PostgreSQL sends them) appended to the
// state and written under the lock (appended to the journal and fsynced)
// before the batch commits, then its after-images. It reports the time of
// the three writes, the state's cost in a repair's time; the fold of the
// journal into the state file at Unlock is not timed.
func BenchmarkRepairJournal(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		be := New(filepath.Join(b.TempDir(), "offsetctl.state.json"), WithVersion("bench"))
		id, err := be.Lock(ctx, state.LockInfo{Operation: "apply", Who: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		st := state.New("00000000-0000-4000-8000-000000000001")
		op := st.Begin(state.Operation{Name: "customers", Kind: state.KindReconcile, Started: time.Now()})
		if err := be.Write(ctx, st, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		next := 0
		for _, n := range []int{1250, 5000, 3750} {
			for k := next; k < next+n; k++ {
				op.BeforeImages = append(op.BeforeImages, state.Image{Row: &state.RowImage{Database: "sink", Table: "d.customers",
					Key: json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, k)),
					Row: json.RawMessage(fmt.Sprintf(`{"id":%d,"name":"name %d","email":"c4ca4238a0b923820dcc509a6f75849b@example.com","balance":123.45,"updated_at":"2026-01-01T00:00:01+00:00","meta":{"n":%d}}`, k, k, k))}})
			}
			if err := be.Write(ctx, st, id); err != nil {
				b.Fatal(err)
			}
			for k := next; k < next+n; k++ {
				op.After = append(op.After, state.Image{Row: &state.RowImage{Database: "sink", Table: "d.customers",
					Key: json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, k)), Xmin: "74211"}})
			}
			next += n
		}
		b.StopTimer()
		be.Unlock(ctx, id)
	}
}
