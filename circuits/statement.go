package circuits

import (
	"fmt"

	"github.com/proofmill/proofmill/circuits/input"
)

// Statement is an input admitted for proving: decoded, its rules checked
// natively, and encoded as the circuit's full witness. The witness is all a
// worker needs, so an input is decoded once, at admission.
type Statement struct {
	// Witness is gnark's binary encoding of the full witness over BN254:
	// the public inputs in circuit order, then the secret ones.
	Witness []byte
	Public  []input.PublicInput
}

// Admit decodes a JSON input, checks every rule natively and encodes its
// witness. Errors match the input.Err* kinds.
func (c *Circuit) Admit(data []byte) (*Statement, error) {
	a, err := c.Assign(data)
	if err != nil {
		return nil, err
	}
	bin, err := a.Binary()
	if err != nil {
		return nil, fmt.Errorf("circuits: %s: witness: %w", c.ID, err)
	}
	return &Statement{Witness: bin, Public: a.Public}, nil
}

// JobKey is the canonical name of a statement of this circuit: every JSON
// spelling of the same inputs has the same key. Jobs submitted without an
// idempotency key are named by it.
func (c *Circuit) JobKey(st *Statement) string {
	return "input:" + c.ID + "\x00" + string(st.Witness)
}
