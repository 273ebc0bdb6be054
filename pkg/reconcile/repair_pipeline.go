package reconcile

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// repairPipeline runs the batches of one repair concurrently: it reads the
// source rows of the next batch (on the source connection) while a batch
// writes (on a sink connection), and runs each batch's statements on a sink
// session as soon as its source rows are read and the session is free (the
// batch before on it committed), so with two sessions batch k writes while
// batch k-1 still writes or commits on the other. Batches commit in order:
// each waits for the one before it, and a batch whose predecessor failed is
// rolled back. A batch whose successor is ready by the time it commits
// records the before-images of both at once (one write of the state
// instead of two). Memory is bounded by the batches in flight.
type repairPipeline struct {
	w *repairWriter
	// fetchRows reads the source rows of a batch by canonical key (from
	// PostgreSQL or from MariaDB/MySQL).
	fetchRows func(context.Context, []repairItem) (map[string]srcRow, error)
	opts      RepairOptions
	res       *RepairResult
	sessions  []*sinkSession

	// free[i] holds a token while session i is free; chain is the outcome
	// of the last batch started, which the next one waits for; failed is
	// set once a batch failed, and no new batch starts then.
	free   []chan struct{}
	chain  chan error
	failed atomic.Bool
	last   *batchRun
}

// newRepairPipeline returns the pipeline writing on dst, and on
// opts.SecondSink as well when it is a third connection.
func newRepairPipeline(w *repairWriter, fetchRows func(context.Context, []repairItem) (map[string]srcRow, error), opts RepairOptions, res *RepairResult, dst, src *pgx.Conn) *repairPipeline {
	p := &repairPipeline{w: w, fetchRows: fetchRows, opts: opts, res: res, sessions: []*sinkSession{{conn: dst}}}
	if opts.SecondSink != nil && opts.SecondSink != dst && opts.SecondSink != src {
		p.sessions = append(p.sessions, &sinkSession{conn: opts.SecondSink})
	}
	p.free = make([]chan struct{}, len(p.sessions))
	for i := range p.free {
		p.free[i] = make(chan struct{}, 1)
		p.free[i] <- struct{}{}
	}
	return p
}

// close drops the temporary tables the sessions created. They are empty; a
// failure to drop one leaves an empty table that goes with the session.
func (p *repairPipeline) close(ctx context.Context) {
	for _, ss := range p.sessions {
		if ss.temp {
			_, _ = ss.conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS pg_temp.offsetctl_repair")
		}
	}
}

// batchesOf cuts items into batches (batchSizes).
func batchesOf(items []repairItem, size int) [][]repairItem {
	var batches [][]repairItem
	for i, n := range batchSizes(len(items), size) {
		batches = append(batches, items[i:i+n])
	}
	return batches
}

// fetch reads the source rows of batch in the background.
func (p *repairPipeline) fetch(ctx context.Context, batch []repairItem) chan srcFetch {
	ch := make(chan srcFetch, 1)
	go func() {
		rows, err := p.fetchRows(ctx, batch)
		ch <- srcFetch{rows, err}
	}()
	return ch
}

// run runs batches (at least one) and returns the first error: of the
// batches, in order, then of reading the source. ready is called once the
// first batch's source rows are being read, before anything is written; its
// error stops the run.
func (p *repairPipeline) run(ctx context.Context, batches [][]repairItem, ready func() error) error {
	next := p.fetch(ctx, batches[0])
	defer func() {
		if next != nil {
			<-next // the source connection is free again before it is closed
		}
	}()
	if err := ready(); err != nil {
		return err
	}
	var fetchErr error
	for bi, batch := range batches {
		f := <-next
		next = nil
		if f.err != nil {
			fetchErr = f.err
			break
		}
		<-p.free[bi%len(p.sessions)]
		if p.failed.Load() {
			break
		}
		if bi+1 < len(batches) {
			next = p.fetch(ctx, batches[bi+1])
		}
		p.res.Batches++
		p.start(ctx, p.res.Batches, p.sessions[bi%len(p.sessions)], batch, f.rows)
	}
	if p.chain != nil {
		if err := <-p.chain; err != nil {
			return err
		}
	}
	return fetchErr
}

// start runs batch n on session ss in the background: it prepares the
// batch, waits for the batch before it, then commits it (or rolls it back
// when the batch before failed), and gives the session back.
func (p *repairPipeline) start(ctx context.Context, n int, ss *sinkSession, batch []repairItem, rows map[string]srcRow) {
	r := &batchRun{prepared: make(chan struct{}), next: make(chan *batchRun, 1)}
	if p.last != nil {
		p.last.next <- r
	}
	p.last = r
	prev, done := p.chain, make(chan error, 1)
	p.chain = done
	go func() {
		defer func() { p.free[(n-1)%len(p.sessions)] <- struct{}{} }()
		r.pb, r.err = p.w.prepare(ctx, ss, p.opts, n, batch, rows)
		close(r.prepared)
		if p.opts.prepared != nil {
			p.opts.prepared(n)
		}
		err := r.err
		var perr error
		if prev != nil {
			perr = <-prev
		}
		switch {
		case perr != nil:
			if err == nil {
				r.pb.rollback(ctx)
			}
			err = perr
		case err == nil:
			if err = p.w.finish(ctx, p.opts, r.pb, r.readyNext()); err == nil {
				p.res.add(r.pb.out) // in batch order: the batch before is done
			}
		}
		if err != nil {
			p.failed.Store(true)
		}
		done <- err
	}()
}

// batchRun is a batch in flight: prepared (its statements run, pb and err
// set, then prepared closed), then finished once the batch before it is.
type batchRun struct {
	pb       *pendingBatch
	err      error
	prepared chan struct{}
	// next receives the batch after this one when it starts.
	next chan *batchRun
}

// readyNext returns the next batch's pending batch when it started, is
// prepared, and has rows to commit; nil otherwise. It does not wait.
func (r *batchRun) readyNext() *pendingBatch {
	select {
	case nx := <-r.next:
		select {
		case <-nx.prepared:
			if nx.err == nil && nx.pb.tx != nil {
				return nx.pb
			}
		default:
		}
	default:
	}
	return nil
}

// srcFetch is the source rows of one batch, by key, or why they could not
// be read.
type srcFetch struct {
	rows map[string]srcRow
	err  error
}

// sinkSession is a sink connection a repair writes on, and whether its
// temporary table exists (a batch that created it committed).
type sinkSession struct {
	conn *pgx.Conn
	temp bool
}
