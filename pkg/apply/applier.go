package apply

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// ObserveFunc is plan.ObserveFunc: apply re-observes through it and compares
// what it returns with what the plan observed.
type ObserveFunc = plan.ObserveFunc

// Point says where a run is, for Options.Hook.
type Point struct {
	Operation string // the plan operation's address
	Connector string
	Step      Step
}

// Defaults of Options.
const (
	// DefaultGracePeriod is Kafka Connect's default
	// task.shutdown.graceful.timeout.ms.
	DefaultGracePeriod     = 5 * time.Second
	DefaultWaitTimeout     = 2 * time.Minute
	DefaultRunningWatch    = 2 * time.Second
	DefaultRollbackTimeout = 5 * time.Minute
)

// Options configure an Applier. Backend, Clients and Observe are required.
type Options struct {
	// Backend stores the state; the caller holds its lock.
	Backend state.Backend
	// Clients opens the Connect and Kafka clients of the configuration.
	Clients plan.Clients
	// Observe re-observes connectors for the staleness check.
	Observe ObserveFunc
	// Observer receives the events; nil drops them.
	Observer Observer
	// Now is the clock (default time.Now); NewID makes a lineage for a
	// first state (default a random UUID).
	Now   func() time.Time
	NewID func() (string, error)
	// Who and Host are recorded on every operation.
	Who, Host string
	// Approvals are the names given as approvers, unverified;
	// VerifiedApprovals the approvals whose signatures were verified. Both
	// are recorded on every operation the plan runs.
	Approvals         []string
	VerifiedApprovals []state.Approval
	// GracePeriod is the worker's task.shutdown.graceful.timeout.ms: how
	// long to wait after a stop before trusting that no task still writes.
	// Zero means DefaultGracePeriod; negative means no wait.
	GracePeriod time.Duration
	// WaitTimeout bounds each wait for a connector state (zero:
	// DefaultWaitTimeout); PollInterval is the pause between two status
	// polls (zero: connect.DefaultWaitInterval).
	WaitTimeout  time.Duration
	PollInterval time.Duration
	// RunningWatch is how long a resumed connector is watched for a task
	// failing on its new offsets (zero: DefaultRunningWatch; negative: not
	// watched).
	RunningWatch time.Duration
	// RollbackTimeout bounds an automatic rollback, which runs even when
	// the context of Apply was cancelled (zero: DefaultRollbackTimeout).
	RollbackTimeout time.Duration
	// Parallel is how many connectors are worked on at a time (zero or
	// one: one after the other, in plan order). The operations of one
	// connector always run in plan order; after a failure no new operation
	// starts.
	Parallel int
	// CheckPlan, when set, is called with the state read (nil when there
	// is none) once the plan's hash, the configuration's hash and the
	// state's lineage and serial are checked, before anything is written;
	// an error refuses the plan. The apply command computes a saved plan's
	// operations again from the configuration there
	// ((*plan.Planner).Verify).
	CheckPlan func(st *state.State) error
	// Hook, when set (tests), is called after every step (once the state
	// is written, for the steps after which it is). An error abandons the run on the spot — no rollback, no
	// state write, nothing — as kill -9 would, and Apply returns a
	// *CrashError wrapping it.
	Hook func(Point) error
}

// Applier executes plans. It keeps no state between calls.
type Applier struct {
	opts Options
	mu   sync.Mutex // serialises events
}

// New checks opts and returns an Applier.
func New(opts Options) (*Applier, error) {
	if opts.Backend == nil || opts.Clients == nil || opts.Observe == nil {
		return nil, errors.New("apply: Backend, Clients and Observe are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = func() (string, error) { return state.NewID(rand.Reader) }
	}
	if opts.Observer == nil {
		opts.Observer = ObserverFunc(func(Event) {})
	}
	if opts.GracePeriod == 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = connect.DefaultWaitInterval
	}
	if opts.RunningWatch == 0 {
		opts.RunningWatch = DefaultRunningWatch
	}
	if opts.RollbackTimeout <= 0 {
		opts.RollbackTimeout = DefaultRollbackTimeout
	}
	return &Applier{opts: opts}, nil
}

func (a *Applier) emit(e Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opts.Observer.Event(e)
}

// Result is what Apply did.
type Result struct {
	// Operations are the plan's operations that changed something, in
	// order, with their outcome; operations not attempted after a failure
	// are left out.
	Operations []OperationResult
	// Recovered are the serials of unfinished operations of an earlier
	// attempt of the same plan that were undone first.
	Recovered []uint64
	// Finished are the serials of offsets rollbacks a killed run left
	// unfinished that this rollback plan finished (see
	// plan.RollbackCandidate): recorded applied, their targets rolled back.
	Finished []uint64
	// Skipped are the addresses of operations with nothing to do
	// (no change, already applied, or applied by an earlier attempt).
	Skipped []string
	// Serial is the state's serial at the end ("" lineage when no state
	// was written).
	Lineage string
	Serial  uint64
}

// OperationResult is one operation's outcome.
type OperationResult struct {
	Address, Name, Connector string
	Serial                   uint64
	Status                   state.Status
	Partitions               int
	// Incomplete, for a repair recorded as incomplete (written, but the
	// sink still differs), says what still differs: counts and keys.
	Incomplete string
}

// Incomplete returns the operations recorded as incomplete: they ran and
// what they wrote stays, but their verification found the goal not reached.
func (r *Result) Incomplete() []OperationResult {
	var out []OperationResult
	for _, op := range r.Operations {
		if op.Status == state.StatusIncomplete {
			out = append(out, op)
		}
	}
	return out
}

// Apply executes p, made from cfg, under the state lock lockID (held by the
// caller). See the package documentation for the checks and the sequence.
// A refusal changes nothing; an operation that fails is rolled back and
// returned as an *OperationError, with the operations before it applied.
func (a *Applier) Apply(ctx context.Context, p *plan.Plan, cfg *config.Config, lockID string) (*Result, error) {
	if err := checkHash(p); err != nil {
		return nil, err
	}
	if cfg == nil || cfg.Hash != p.ConfigHash {
		got := "(none)"
		if cfg != nil && cfg.Hash != "" {
			got = cfg.Hash
		}
		made := p.ConfigHash
		if made == "" {
			made = "(none)"
		}
		return nil, fmt.Errorf("%w: the plan was made from configuration %s; the configuration now is %s: apply it with the configuration files and -var values it was made from, or make a new plan from this configuration", ErrConfigChanged, made, got)
	}
	st, err := a.readState(ctx, p)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if st != nil {
		res.Lineage, res.Serial = st.Lineage, st.Serial
	}
	if err := checkSerial(st, p); err != nil {
		return nil, err
	}
	if a.opts.CheckPlan != nil {
		if err := a.opts.CheckPlan(st); err != nil {
			return nil, err
		}
	}
	rollbacks := map[uint64]bool{}
	for _, op := range p.Operations {
		if n, ok := RollbackTarget(&op); ok && op.Status == plan.StatusChange {
			rollbacks[n] = true
		}
	}
	var again, finish, blocking []state.Operation
	if st != nil {
		for _, u := range st.Unfinished() {
			switch {
			case finishes(st, &u) && (u.PlanHash == p.Hash || rollbacks[u.RollbackOf]):
				// A killed rollback of what this plan rolls back (this
				// plan's, or one a new rollback plan finishes:
				// plan.RollbackPlan): finished, not undone.
				finish = append(finish, u)
			case u.PlanHash == p.Hash:
				again = append(again, u)
			case rollbacks[u.Serial]:
			case !blocksPlan(&u, p): // another resource's (resources.go)
			default:
				blocking = append(blocking, u)
			}
		}
	}
	if len(blocking) > 0 {
		return nil, &UnfinishedError{Operations: blocking}
	}
	if p.HasErrors() {
		var msgs []string
		for _, c := range p.Checks {
			if c.Severity == plan.SeverityError {
				msgs = append(msgs, c.Message)
			}
		}
		return nil, fmt.Errorf("%w: %s", ErrBlocked, strings.Join(msgs, "; "))
	}
	j := &journal{st: st, b: a.opts.Backend, lockID: lockID}
	// Undo what a dead earlier attempt of this very plan left behind.
	for _, u := range again {
		if err := a.recover(ctx, j, cfg, u.Serial); err != nil {
			return res, err
		}
		res.Recovered = append(res.Recovered, u.Serial)
		res.Serial = st.Serial
	}
	// Finish the rollbacks a killed rollback left unfinished: the same
	// recovery, from the live offsets, with a rollback's ending.
	finished := map[uint64]bool{}
	for _, u := range finish {
		if err := a.recover(ctx, j, cfg, u.Serial); err != nil {
			return res, err
		}
		res.Finished = append(res.Finished, u.Serial)
		res.Serial = st.Serial
		finished[u.RollbackOf] = true
	}

	// What to run: changes not applied by an earlier attempt of this plan.
	doneBefore := map[string]bool{}
	if st != nil {
		for _, op := range st.Operations {
			if op.PlanHash == p.Hash && op.Status == state.StatusApplied {
				doneBefore[op.Name] = true
			}
		}
	}
	var todo []*plan.Operation
	for i := range p.Operations {
		op := &p.Operations[i]
		n, isRollback := RollbackTarget(op)
		if op.Status != plan.StatusChange || doneBefore[op.Name] || isRollback && finished[n] {
			res.Skipped = append(res.Skipped, op.Address)
			continue
		}
		todo = append(todo, op)
	}
	if len(todo) == 0 {
		return res, nil
	}

	observed, err := a.reobserve(ctx, p, cfg, todo)
	if err != nil {
		return res, err
	}
	if j.st == nil {
		lineage, err := a.opts.NewID()
		if err != nil {
			return res, fmt.Errorf("starting a new state: %w", err)
		}
		j.st = state.New(lineage)
	}
	err = a.runAll(ctx, p, cfg, j, todo, observed, res)
	j.with(func(st *state.State) { res.Lineage, res.Serial = st.Lineage, st.Serial })
	return res, err
}

// runAll runs the operations: in plan order, or with Options.Parallel > 1
// that many connectors at a time (the operations of one connector always
// in plan order). After the first failure no new operation starts; the
// result lists the operations that ran, in plan order, and the error is
// the first failure in plan order.
func (a *Applier) runAll(ctx context.Context, p *plan.Plan, cfg *config.Config, j *journal, todo []*plan.Operation, observed map[string]*plan.ConnectorObservation, res *Result) error {
	results := make([]*OperationResult, len(todo))
	errs := make([]error, len(todo))
	one := func(i int) error {
		op := todo[i]
		if isRepair(op) {
			results[i], errs[i] = a.runRepair(ctx, p, cfg, j, op)
			return errs[i]
		}
		r, err := a.newRun(ctx, p, cfg, j, op, observed[op.Connector])
		if err != nil {
			errs[i] = err
			return err
		}
		results[i], errs[i] = r.run(ctx)
		return errs[i]
	}
	if a.opts.Parallel <= 1 {
		for i := range todo {
			if one(i) != nil {
				break
			}
		}
	} else {
		// One queue per connector, in order of first appearance.
		var queues [][]int
		byConn := map[string]int{}
		for i, op := range todo {
			q, ok := byConn[op.Connector]
			if !ok {
				q = len(queues)
				byConn[op.Connector] = q
				queues = append(queues, nil)
			}
			queues[q] = append(queues[q], i)
		}
		var failed atomic.Bool
		work := make(chan []int)
		var wg sync.WaitGroup
		for w := 0; w < min(a.opts.Parallel, len(queues)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for q := range work {
					for _, i := range q {
						if failed.Load() {
							break
						}
						if one(i) != nil {
							failed.Store(true)
						}
					}
				}
			}()
		}
		for _, q := range queues {
			if failed.Load() {
				break
			}
			work <- q
		}
		close(work)
		wg.Wait()
	}
	var first error
	for i := range todo {
		if results[i] != nil {
			res.Operations = append(res.Operations, *results[i])
		}
		if errs[i] != nil && first == nil {
			first = errs[i]
		}
	}
	return first
}

// checkHash refuses a plan whose content does not match its hash. A plan
// never saved (no hash) gets one.
func checkHash(p *plan.Plan) error {
	want := p.Hash
	if _, err := plan.Marshal(p); err != nil {
		return err
	}
	if want != "" && want != p.Hash {
		p.Hash = want
		return fmt.Errorf("%w; make a new plan with offsetctl plan -out", plan.ErrHashMismatch)
	}
	return nil
}

func short(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// readState reads the state and checks its lineage against the plan's.
func (a *Applier) readState(ctx context.Context, p *plan.Plan) (*state.State, error) {
	st, err := a.opts.Backend.Read(ctx)
	switch {
	case errors.Is(err, state.ErrNoState):
		if p.State.Lineage != "" {
			return nil, fmt.Errorf("%w: the plan was made against state lineage %s (serial %d), but there is no state now: was the state file moved? point offsetctl at it, or make a new plan", ErrWrongState, p.State.Lineage, p.State.Serial)
		}
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading the state: %w", err)
	}
	createdByThisPlan := p.State.Lineage == "" && len(st.Operations) > 0 && st.Operations[0].PlanHash == p.Hash
	if st.Lineage != p.State.Lineage && !createdByThisPlan {
		planned := "no state (none existed then)"
		if p.State.Lineage != "" {
			planned = "state lineage " + p.State.Lineage
		}
		if done := appliedAlready(st, p); p.State.Lineage == "" && done != "" {
			return nil, fmt.Errorf("%w: %s; the plan was made against %s, and the state (lineage %s) is at serial %d now: nothing was changed; make a new plan to change anything further", ErrAlreadyApplied, done, planned, st.Lineage, st.Serial)
		}
		return nil, fmt.Errorf("%w: the plan was made against %s, but this state has lineage %s: it belongs to another state; make a new plan against this one", ErrWrongState, planned, st.Lineage)
	}
	return st, nil
}

// checkSerial refuses a plan when the state was written since it was made,
// unless every write since came from earlier attempts of this same plan, or
// from operations of other resources (movedElsewhere).
func checkSerial(st *state.State, p *plan.Plan) error {
	if st == nil || st.Serial == p.State.Serial || movedElsewhere(st, p) {
		return nil
	}
	first := uint64(0)
	for _, op := range st.Operations {
		if op.PlanHash == p.Hash {
			first = op.Serial
			break
		}
	}
	if first != 0 && st.Serial > p.State.Serial {
		ok := true
		for _, op := range st.Operations {
			if op.Serial >= first && op.PlanHash != p.Hash {
				ok = false
			}
		}
		if ok {
			return nil
		}
	}
	if done := appliedAlready(st, p); done != "" {
		return fmt.Errorf("%w: %s; the plan was made at state serial %d, the state is at serial %d now: nothing was changed; make a new plan to change anything further", ErrAlreadyApplied, done, p.State.Serial, st.Serial)
	}
	return fmt.Errorf("%w: the plan was made at state serial %d, the state is at serial %d now (someone applied or rolled back since): make a new plan", ErrStateMoved, p.State.Serial, st.Serial)
}

// appliedAlready says how every operation p changes was applied since p was
// made, as the state records it, or returns "" when one of them was not:
// by this plan file (its hash), and then perhaps rolled back since, or by
// another plan file with the same block (an operation the plan changes was
// not applied when it was made, or the plan would say already_applied).
func appliedAlready(st *state.State, p *plan.Plan) string {
	var parts []string
	for _, op := range p.Operations {
		if op.Status != plan.StatusChange {
			continue
		}
		if op.Kind != plan.KindOffsets && op.Kind != plan.KindReconcile && op.Kind != plan.KindRestore {
			return ""
		}
		var found *state.Operation
		for i := len(st.Operations) - 1; i >= 0 && found == nil; i-- {
			so := &st.Operations[i]
			if so.PlanHash == p.Hash && so.Name == op.Name && (so.Status == state.StatusApplied || so.Status == state.StatusRolledBack) {
				found = so
			}
		}
		if found == nil {
			if so, ok := st.Applied(op.Name, op.BlockHash); ok && op.BlockHash != "" {
				found = so
			}
		}
		if found == nil {
			return ""
		}
		part := fmt.Sprintf("%s was applied as operation %d", op.Address, found.Serial)
		if found.Who != "" {
			part += " by " + found.Who
			if found.Host != "" {
				part += "@" + found.Host
			}
		}
		if at := found.Finished; !at.IsZero() {
			part += " at " + at.UTC().Format(time.RFC3339)
		}
		if found.PlanHash != p.Hash {
			part += fmt.Sprintf(" from another plan file of the same block (plan %s)", short(found.PlanHash))
		}
		if found.Status == state.StatusRolledBack {
			part += fmt.Sprintf(", and rolled back since by operation %d", found.RolledBackBy)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ")
}

// reobserve observes the connectors the operations touch and refuses a
// stale plan: one whose connectors changed, or whose operations, computed
// again from the live positions, leave what was reviewed (judgeMoves).
func (a *Applier) reobserve(ctx context.Context, p *plan.Plan, cfg *config.Config, todo []*plan.Operation) (map[string]*plan.ConnectorObservation, error) {
	var addrs []string
	seen := map[string]bool{}
	for _, op := range todo {
		if isRepair(op) {
			continue // repairs check each row against the plan as they write
		}
		if !seen[op.Connector] {
			seen[op.Connector] = true
			addrs = append(addrs, op.Connector)
		}
	}
	sort.Strings(addrs)
	now, err := a.opts.Observe(ctx, cfg, addrs)
	if err != nil {
		return nil, fmt.Errorf("observing the connectors again before changing anything: %w", err)
	}
	moves, err := judgeMoves(cfg, p, todo, addrs, now)
	if err != nil {
		return nil, err
	}
	if len(moves) > 0 {
		return nil, &StaleError{Moves: moves}
	}
	return now, nil
}

func findObservation(p *plan.Plan, addr string) *plan.ConnectorObservation {
	for i := range p.Connectors {
		if p.Connectors[i].Address == addr {
			return &p.Connectors[i]
		}
	}
	return nil
}

// finishes says u is the unfinished offsets rollback of its target that a
// rollback plan of that target finishes (state.UnfinishedRollbackOf).
func finishes(st *state.State, u *state.Operation) bool {
	if u.Kind != state.KindRollback {
		return false
	}
	r, ok := st.UnfinishedRollbackOf(u.RollbackOf)
	return ok && r.Serial == u.Serial
}

// RollbackTarget returns the state serial a rollback operation undoes (its
// address is rollback.N).
func RollbackTarget(op *plan.Operation) (uint64, bool) { return op.RollbackOf() }

func stateKind(k plan.OperationKind) state.Kind {
	switch k {
	case plan.KindRollback:
		return state.KindRollback
	case plan.KindRestore:
		return state.KindRestore
	case plan.KindReconcile:
		return state.KindReconcile
	}
	return state.KindOffsets
}

// connectorBlock finds the connector block of an address (connector.NAME).
func connectorBlock(cfg *config.Config, addr string) *config.Connector {
	return cfg.Connector(strings.TrimPrefix(addr, "connector."))
}

// connectorByName finds the connector block of a connector name on a
// connect block.
func connectorByName(cfg *config.Config, name, cluster string) *config.Connector {
	for _, c := range cfg.Connectors {
		if c.ConnectorName == name && (cluster == "" || c.Connect.Name == cluster) {
			return c
		}
	}
	return nil
}

// begin records op as begun in st, with who runs it and who approved it,
// and the plan's pre-flight checklist for it.
func (a *Applier) begin(st *state.State, op state.Operation, p *plan.Plan, planned *plan.Operation) *state.Operation {
	for _, r := range planned.Risks {
		op.RiskClasses = append(op.RiskClasses, string(r.Class))
	}
	op.Who, op.Host, op.Started = a.opts.Who, a.opts.Host, a.opts.Now()
	op.Approvals = slices.Clone(a.opts.Approvals)
	op.VerifiedApprovals = slices.Clone(a.opts.VerifiedApprovals)
	op.Steps = append(op.Steps, preflightSteps(p, planned.Address, op.Started)...)
	return st.Begin(op)
}

// preflightSteps are the plan's pre-flight checklist items for the
// operation at addr (its own and the plan-wide ones), as the reviewers saw
// them, recorded as steps named pre-flight: done where the item was met,
// skipped where it was left open (its message says what was missing).
// offsetctl readiness reads them as evidence.
func preflightSteps(p *plan.Plan, addr string, at time.Time) []state.Step {
	var out []state.Step
	for _, c := range p.Checks {
		if !c.IsPreflight() || (c.Operation != "" && c.Operation != addr) {
			continue
		}
		st := state.StepDone
		if c.Severity != plan.SeverityOK {
			st = state.StepSkipped
		}
		out = append(out, state.Step{Name: string(StepPreflight), Target: strings.TrimPrefix(c.Code, "preflight_"), Status: st, Started: at, Finished: at, Message: c.Message})
	}
	return out
}
