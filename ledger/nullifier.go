package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
)

// Nullifier is a public input that a ledger records so that the statement
// it stands for is accepted once: a circuit's nullifier input (see
// circuits.Circuit.Nullifiers) with its value.
type Nullifier struct {
	Circuit string
	Name    string
	Value   *big.Int
}

// Key is the nullifier as one string, for stores keyed by strings (a
// Fabric world-state key, a SQL primary key): "nullifier/" and its decimal
// value. The value alone identifies it: each nullifier is a Poseidon2 hash
// under its own domain tag, so two kinds never share a value, and one kind
// shared by two circuits on purpose (invoice-consistency/v2's
// invoice_nullifier is v1's nullifier) is caught across them.
func (n Nullifier) Key() string { return "nullifier/" + n.Value.String() }

// NullifierSet is the ledger's record of nullifiers: its world state, a
// table. Accept calls Used with every nullifier of a batch, then, only if
// none is used, Add with all of them, within the caller's context.
//
// Check-then-add is atomic only if the ledger makes it so: run Accept in
// one transaction of the store (a Fabric transaction, whose read set makes
// a concurrent add of the same key fail validation; a SQL transaction with
// a unique key on Nullifier.Key). MemoryNullifiers holds its lock across
// both.
type NullifierSet interface {
	// Used reports, for each nullifier, whether it is recorded:
	// len(ns) answers, in order.
	Used(ctx context.Context, ns []Nullifier) ([]bool, error)
	// Add records the nullifiers.
	Add(ctx context.Context, ns []Nullifier) error
}

// ErrNullifierUsed: a nullifier is recorded already, or twice in one batch.
var ErrNullifierUsed = errors.New("nullifier already used")

// NullifierUsedError names the nullifier used and the statement (by index
// into Accept's statements) that used it again. When the batch itself
// holds it twice, Earlier is the first statement's index; otherwise -1.
type NullifierUsedError struct {
	Nullifier Nullifier
	Statement int
	Earlier   int
}

func (e *NullifierUsedError) Error() string {
	where := "recorded before"
	if e.Earlier >= 0 {
		where = fmt.Sprintf("also in statement %d of the batch", e.Earlier)
	}
	return fmt.Sprintf("ledger: statement %d: %s %s = %s: %v (%s)", e.Statement, e.Nullifier.Circuit, e.Nullifier.Name, e.Nullifier.Value, ErrNullifierUsed, where)
}

// Unwrap makes a NullifierUsedError ErrNullifierUsed to errors.Is.
func (e *NullifierUsedError) Unwrap() error { return ErrNullifierUsed }

// Accept records the nullifiers of verified statements: all of them, or,
// if any is used (before, or twice among the statements), none, with a
// *NullifierUsedError naming the first. Give it only statements that
// Verify or VerifyBatch returned.
func Accept(ctx context.Context, set NullifierSet, statements ...*Statement) error {
	if m, ok := set.(*MemoryNullifiers); ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		set = (*lockedMemory)(m)
	}
	var all []Nullifier
	var owner []int // owner[i]: the statement all[i] is of
	first := make(map[string]int)
	for s, st := range statements {
		for _, n := range st.Nullifiers {
			if e, dup := first[n.Key()]; dup {
				return &NullifierUsedError{Nullifier: n, Statement: s, Earlier: e}
			}
			first[n.Key()] = s
			all = append(all, n)
			owner = append(owner, s)
		}
	}
	used, err := set.Used(ctx, all)
	if err != nil {
		return fmt.Errorf("ledger: nullifiers: %w", err)
	}
	if len(used) != len(all) {
		return fmt.Errorf("ledger: nullifiers: the set answered %d of %d", len(used), len(all))
	}
	for i, u := range used {
		if u {
			return &NullifierUsedError{Nullifier: all[i], Statement: owner[i], Earlier: -1}
		}
	}
	if err := set.Add(ctx, all); err != nil {
		return fmt.Errorf("ledger: nullifiers: %w", err)
	}
	return nil
}

// MemoryNullifiers is a NullifierSet in memory, safe for concurrent use;
// Accept holds its lock across the check and the add. The zero value is
// empty and ready.
type MemoryNullifiers struct {
	mu   sync.Mutex
	used map[string]bool
}

func (m *MemoryNullifiers) Used(ctx context.Context, ns []Nullifier) ([]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return (*lockedMemory)(m).Used(ctx, ns)
}

func (m *MemoryNullifiers) Add(ctx context.Context, ns []Nullifier) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return (*lockedMemory)(m).Add(ctx, ns)
}

// Len is how many nullifiers are recorded.
func (m *MemoryNullifiers) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.used)
}

// lockedMemory is a MemoryNullifiers whose lock the caller holds.
type lockedMemory MemoryNullifiers

func (m *lockedMemory) Used(_ context.Context, ns []Nullifier) ([]bool, error) {
	out := make([]bool, len(ns))
	for i, n := range ns {
		out[i] = m.used[n.Key()]
	}
	return out, nil
}

func (m *lockedMemory) Add(_ context.Context, ns []Nullifier) error {
	if m.used == nil {
		m.used = make(map[string]bool)
	}
	for _, n := range ns {
		m.used[n.Key()] = true
	}
	return nil
}
