package sandbox

import (
	"context"
	"fmt"
)

// Faults are switches that make the emulated worker misbehave the way real
// clusters do, for tests. Every switch is per connector name and survives
// re-creating the connector under that name.
type Faults struct {
	w *worker
}

// FailTask fails a running task now: it stops working (a failed source task
// skips its final offset commit) and shows FAILED with a trace until it is
// restarted.
func (f *Faults) FailTask(connector string, task int, message string) error {
	w := f.w
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.mu.Lock()
	c := w.conns[connector]
	if c == nil || task < 0 || task >= len(c.tasks) {
		w.mu.Unlock()
		return fmt.Errorf("no task %s-%d to fail", connector, task)
	}
	t := c.tasks[task]
	w.mu.Unlock()
	if message == "" {
		message = "injected task failure"
	}
	if t.impl != nil {
		t.failed.Store(true)
		t.cancel()
		<-t.done
	}
	w.failTask(t, fmt.Errorf("%s", message))
	return nil
}

// FailConnector shows the Connector instance as FAILED with a trace until it
// is restarted (its tasks keep running, as in Connect).
func (f *Faults) FailConnector(connector, message string) error {
	w := f.w
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[connector]
	if c == nil {
		return fmt.Errorf("no connector %s to fail", connector)
	}
	if message == "" {
		message = "injected connector failure"
	}
	c.state = StateFailed
	c.trace = "org.apache.kafka.connect.errors.ConnectException: " + message + "\n"
	go w.publish(connector)
	return nil
}

// SetRebalancing opens (true) or closes (false) a rebalance window: while it
// is open the worker expects a rebalance, and the requests that check for one
// fail as Connect's do — 409 on restart, task restart and offsets PATCH/DELETE,
// 500 "Request cannot be completed because a rebalance is expected" on GET
// /connectors/{name}, /tasks and /tasks-config.
func (f *Faults) SetRebalancing(on bool) {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	f.w.rebalancing = on
}

// SetZombie makes the connector's tasks ignore requests to stop (stop,
// delete, restart, config update): a source task keeps streaming and
// committing its offsets every flush interval, a sink task stays in its
// consumer group. Switching it off stops the zombies (each commits once more
// on its way out, as a slow task finally stopping does).
func (f *Faults) SetZombie(connector string, on bool) {
	w := f.w
	w.mu.Lock()
	if on {
		w.zombieConns[connector] = true
		w.mu.Unlock()
		return
	}
	delete(w.zombieConns, connector)
	var stop []*taskRun
	for t := range w.zombies {
		if t.conn == connector {
			stop = append(stop, t)
			delete(w.zombies, t)
		}
	}
	w.mu.Unlock()
	w.opMu.Lock()
	defer w.opMu.Unlock()
	w.stopTasks(context.Background(), stop)
}

// DropEveryNth makes the connector's sink tasks skip writing every nth record
// they consume (still committing its offset); 0 turns it off.
func (f *Faults) DropEveryNth(connector string, n int) {
	f.w.mu.Lock()
	sf := f.w.sinkFaultLocked(connector)
	f.w.mu.Unlock()
	sf.dropEvery.Store(int64(n))
	sf.seen.Store(0)
}

// SetUnassigned shows the connector and its tasks as UNASSIGNED (as after
// their worker left the group) while on.
func (f *Faults) SetUnassigned(connector string, on bool) error {
	w := f.w
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.conns[connector]
	if c == nil {
		return fmt.Errorf("no connector %s", connector)
	}
	c.unassigned = on
	return nil
}
