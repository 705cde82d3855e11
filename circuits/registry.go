package circuits

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits/abspool"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/circuits/invoice"
	"github.com/proofmill/proofmill/errcode"
)

// ErrUnknownCircuit is returned for an id that is not registered.
var ErrUnknownCircuit = errcode.New(errcode.UnknownCircuit, "unknown circuit")

// Circuit is one registered statement at one version (and size).
type Circuit struct {
	ID           string // name/version, e.g. "abs-pool-64/v1"
	Description  string
	PublicInputs []string // names, in circuit order
	// Nullifiers names the public inputs a ledger records so that the same
	// document is never accepted twice (none for circuits without them).
	Nullifiers []string
	Schema     []input.Field // the JSON input
	Example    string        // file name under examples/
	// Constraints is the compiled size, from the committed snapshot
	// (testdata/constraints.json, which a test holds equal to what gnark
	// compiles), so listing a circuit never waits for a compile.
	Constraints int
	// New returns an empty circuit for compiling.
	New func() frontend.Circuit
	// Assign decodes a JSON input, checks every rule natively and returns the
	// full witness; errors match the input.Err* kinds.
	Assign func(data []byte) (*input.Assignment, error)
}

// PoolCapacities are the registered abs-pool sizes. abs-pool-4096 (about
// 5.8M constraints) is above ImplicitKeysLimit: its keys are made only when
// asked.
var PoolCapacities = []int{16, 64, 256, 1024, 4096}

// ImplicitKeysLimit is the largest circuit, in constraints, whose
// development keys are made without being asked for by name: on first use
// by a prover with DevSetup (a development server, `proofmill prove`, the
// tests' shared key store) and by `proofmill keys setup --all`. A larger
// circuit (abs-pool-4096/v1) costs many minutes and gigabytes of setup, so
// it gets keys only from `proofmill keys setup --circuit ID` or a
// ceremony's import; tests that prove or set up every circuit skip it.
const ImplicitKeysLimit = 1 << 21

// KeysOnlyWhenAsked says whether c is above ImplicitKeysLimit.
func (c *Circuit) KeysOnlyWhenAsked() bool { return c.Constraints > ImplicitKeysLimit }

var registry = func() map[string]*Circuit {
	all := []*Circuit{{
		ID:           "invoice-consistency/v1",
		Description:  invoice.Description,
		PublicInputs: invoice.PublicInputs,
		Nullifiers:   []string{"nullifier", "shipment_nullifier"},
		Schema:       invoice.Schema,
		Example:      "invoice-consistency.json",
		New:          func() frontend.Circuit { return &invoice.Circuit{} },
		Assign:       invoice.Assign,
	}, {
		ID:           "invoice-consistency/v2",
		Description:  invoice.DescriptionV2,
		PublicInputs: invoice.PublicInputsV2,
		Nullifiers:   invoice.NullifiersV2,
		Schema:       invoice.SchemaV2,
		Example:      "invoice-consistency-v2.json",
		New:          func() frontend.Circuit { return &invoice.CircuitV2{} },
		Assign:       invoice.AssignV2,
	}}
	for _, n := range PoolCapacities {
		all = append(all, &Circuit{
			ID:           fmt.Sprintf("abs-pool-%d/v1", n),
			Description:  fmt.Sprintf("%s (up to %d assets)", abspool.Description, n),
			PublicInputs: abspool.PublicInputs,
			Schema:       abspool.Schema(n),
			Example:      "abs-pool.json", // fits every capacity
			New:          func() frontend.Circuit { return abspool.New(n) },
			Assign:       abspool.Assigner(n),
		})
	}
	m := make(map[string]*Circuit, len(all))
	for _, c := range all {
		c.Constraints = constraintSnapshot[c.ID]
		m[c.ID] = c
	}
	return m
}()

//go:embed testdata/constraints.json
var constraintsJSON []byte

// constraintSnapshot is every registered circuit's constraint count.
var constraintSnapshot = func() map[string]int {
	var m map[string]int
	if err := json.Unmarshal(constraintsJSON, &m); err != nil {
		panic(fmt.Sprintf("circuits: testdata/constraints.json: %v", err))
	}
	return m
}()

// Lookup returns the circuit registered under id.
func Lookup(id string) (*Circuit, error) {
	if c, ok := registry[id]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownCircuit, id, strings.Join(IDs(), ", "))
}

// IDs lists the registered ids in order.
func IDs() []string {
	ids := make([]string, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	return ids
}

// All lists the registered circuits in id order.
func All() []*Circuit {
	var out []*Circuit
	for _, id := range IDs() {
		out = append(out, registry[id])
	}
	return out
}

// lessID orders ids by name, with abs-pool sizes numerically.
func lessID(a, b string) bool {
	var na, nb int
	_, ea := fmt.Sscanf(a, "abs-pool-%d/", &na)
	_, eb := fmt.Sscanf(b, "abs-pool-%d/", &nb)
	if ea == nil && eb == nil {
		return na < nb
	}
	return a < b
}
