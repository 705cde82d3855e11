package contracts_test

import (
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover/export"
)

const (
	invoiceVerifier = "InvoiceConsistencyV1Verifier"
	poolVerifier    = "AbsPool16V1Verifier"
	financing       = "FinancingRegistry"
	poolRegistry    = "AbsPoolRegistry"
	// invoice-consistency/v1's nullifiers: public inputs 5 and 6
	// (invoice.PublicInputs).
	invoiceNullifier  = 5
	shipmentNullifier = 6
)

// r is the BN254 scalar field's modulus: an input plus r is the same field
// element, which the verifier must refuse rather than alias.
var r, _ = new(big.Int).SetString("21888242871839275222246405745257518576164479808914917590895963850242849042433", 10)

// evmProof is a proof as the contracts take it.
type evmProof struct {
	proof []byte
	input []*big.Int
}

func (p evmProof) with(i int, v *big.Int) evmProof {
	in := append([]*big.Int(nil), p.input...)
	in[i] = v
	return evmProof{proof: p.proof, input: in}
}

var proven struct {
	sync.Mutex
	set *proofSet
}

// proofSet is the proofs the tests share.
type proofSet struct {
	invoice    evmProof // the example invoice
	reinvoiced evmProof // the same shipment under the next invoice number
	pool       evmProof // the example pool (abs-pool-16/v1)
	poolLax    evmProof // the same pool, proven against a lower min_rating
}

func proofs(t testing.TB) *proofSet {
	t.Helper()
	proven.Lock()
	defer proven.Unlock()
	if proven.set != nil {
		return proven.set
	}
	invoice, err := examples.Read("invoice-consistency.json")
	if err != nil {
		t.Fatal(err)
	}
	pool := testinput.Example(t, "abs-pool.json")
	lax := testinput.Example(t, "abs-pool.json")
	lax.Set("limits.min_rating", lax.Add("limits.min_rating", -1))
	s := &proofSet{
		invoice:    prove(t, "invoice-consistency/v1", invoice),
		reinvoiced: prove(t, "invoice-consistency/v1", []byte(testinput.Invoice(t, 1))),
		pool:       prove(t, "abs-pool-16/v1", []byte(pool.JSON())),
		poolLax:    prove(t, "abs-pool-16/v1", []byte(lax.JSON())),
	}
	proven.set = s
	return s
}

func prove(t testing.TB, id string, input []byte) evmProof {
	t.Helper()
	p := testkeys.Prove(t, id, input)
	signals, err := export.PublicSignals(p.Public)
	if err != nil {
		t.Fatal(err)
	}
	cd, err := export.CalldataOf(p.Proof, signals)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := hexutil.Decode(cd.ProofBytes())
	if err != nil {
		t.Fatal(err)
	}
	var in []*big.Int
	for _, w := range cd.PublicInputs {
		v, err := hexutil.DecodeBig(hexutil.EncodeBig(new(big.Int).SetBytes(hexutil.MustDecode(w))))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, v)
	}
	return evmProof{proof: proof, input: in}
}

// ledger is a chain with the invoice verifier and a FinancingRegistry on
// it, and the gas each took.
type ledger struct {
	*chain
	verifier, registry       common.Address
	verifierGas, registryGas uint64
}

func newLedger(t testing.TB) *ledger {
	t.Helper()
	c := newChain(t)
	l := &ledger{chain: c}
	l.verifier, l.verifierGas = c.deploy(invoiceVerifier)
	l.registry, l.registryGas = l.financingRegistry(l.verifier)
	return l
}

// financingRegistry deploys a FinancingRegistry for invoice-consistency/v1
// bound to verifier.
func (l *ledger) financingRegistry(verifier common.Address) (common.Address, uint64) {
	return l.deploy(financing, verifier, big.NewInt(7),
		[]*big.Int{big.NewInt(invoiceNullifier), big.NewInt(shipmentNullifier)}, []string{"invoice", "shipment"})
}

func (l *ledger) finance(at common.Address, p evmProof) []byte {
	return l.pack(financing, "finance", p.proof, p.input)
}

// financings is the registry's count of financings.
func (l *ledger) financings(at common.Address) uint64 {
	return l.call(financing, at, "financings")[0].(*big.Int).Uint64()
}

// verifyDirect is a verifyProof call of the invoice verifier.
func (l *ledger) verifyDirect(p evmProof) []byte {
	var in [7]*big.Int
	copy(in[:], p.input)
	return l.pack(invoiceVerifier, "verifyProof", p.proof, in)
}

// financed returns the Financed events in a receipt.
func (l *ledger) financed(rc *types.Receipt) []map[string]any {
	l.t.Helper()
	a := l.contracts[financing].abi
	var out []map[string]any
	for _, log := range rc.Logs {
		if len(log.Topics) == 0 || log.Topics[0] != a.Events["Financed"].ID {
			continue
		}
		ev := map[string]any{}
		if err := a.UnpackIntoMap(ev, "Financed", log.Data); err != nil {
			l.t.Fatal(err)
		}
		ev["id"] = new(big.Int).SetBytes(log.Topics[1][:])
		ev["financier"] = common.BytesToAddress(log.Topics[2][:])
		ev["address"] = log.Address
		out = append(out, ev)
	}
	return out
}

func same(a, b []*big.Int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Cmp(b[i]) != 0 {
			return false
		}
	}
	return true
}

// The registry finances an invoice once, by a real proof through the
// circuit's verifier, and refuses a second financing of its invoice or of
// its shipment, naming the nullifier; changed inputs and another circuit's
// proof record nothing.
func TestFinancingRegistry(t *testing.T) {
	ps := proofs(t)
	l := newLedger(t)
	good := ps.invoice
	t.Logf("gas: verifier deploy %d, registry deploy %d", l.verifierGas, l.registryGas)

	t.Run("the verifier accepts the proof directly", func(t *testing.T) {
		l.t = t
		rc := l.send(invoiceVerifier, l.verifier, l.verifyDirect(good))
		t.Logf("gas: verifyProof %d", rc.GasUsed)
		if rv := l.reverts(invoiceVerifier, l.verifier, l.verifyDirect(good.with(0, new(big.Int).Add(good.input[0], big.NewInt(1))))); !rv.is("ProofInvalid") {
			t.Fatalf("a changed input: %s, want ProofInvalid", rv)
		}
	})

	t.Run("every changed public input is refused", func(t *testing.T) {
		l.t = t
		for i, v := range good.input {
			if rv := l.reverts(financing, l.registry, l.finance(l.registry, good.with(i, new(big.Int).Add(v, big.NewInt(1))))); !rv.is("ProofInvalid") {
				t.Errorf("input %d plus 1: %s, want ProofInvalid", i, rv)
			}
			if rv := l.reverts(financing, l.registry, l.finance(l.registry, good.with(i, new(big.Int).Add(v, r)))); !rv.is("PublicInputNotInField") {
				t.Errorf("input %d plus the field's modulus: %s, want PublicInputNotInField", i, rv)
			}
		}
		bad := evmProof{proof: append([]byte(nil), good.proof...), input: good.input}
		bad.proof[255] ^= 1
		if rv := l.reverts(financing, l.registry, l.finance(l.registry, bad)); !rv.is("ProofInvalid") {
			t.Errorf("a changed proof: %s, want ProofInvalid", rv)
		}
		if rv := l.reverts(financing, l.registry, l.finance(l.registry, evmProof{proof: good.proof[:224], input: good.input})); !rv.is("WrongProofLength", big.NewInt(224)) {
			t.Errorf("a short proof: %s, want WrongProofLength(224)", rv)
		}
		if n := l.financings(l.registry); n != 0 {
			t.Fatalf("%d financings recorded from refused proofs", n)
		}
	})

	t.Run("a real proof is financed", func(t *testing.T) {
		l.t = t
		rc := l.send(financing, l.registry, l.finance(l.registry, good))
		t.Logf("gas: finance %d", rc.GasUsed)
		evs := l.financed(rc)
		if len(evs) != 1 {
			t.Fatalf("%d Financed events, want 1", len(evs))
		}
		ev := evs[0]
		if ev["id"].(*big.Int).Int64() != 1 || ev["financier"] != l.from || ev["address"] != l.registry {
			t.Fatalf("Financed id %v by %v from %v, want 1 by %v from the registry %v", ev["id"], ev["financier"], ev["address"], l.from, l.registry)
		}
		if want := []*big.Int{good.input[invoiceNullifier], good.input[shipmentNullifier]}; !same(ev["nullifiers"].([]*big.Int), want) {
			t.Fatalf("Financed nullifiers %v, want %v", ev["nullifiers"], want)
		}
		if !same(ev["publicInputs"].([]*big.Int), good.input) {
			t.Fatalf("Financed publicInputs %v, want %v", ev["publicInputs"], good.input)
		}
		for _, at := range []int{invoiceNullifier, shipmentNullifier} {
			if id := l.call(financing, l.registry, "financedIn", big.NewInt(int64(at)), good.input[at])[0].(*big.Int); id.Int64() != 1 {
				t.Fatalf("financedIn(%d, nullifier) = %v, want 1", at, id)
			}
		}
		if n := l.financings(l.registry); n != 1 {
			t.Fatalf("financings = %d, want 1", n)
		}
	})

	t.Run("the same invoice twice is refused, naming its nullifier", func(t *testing.T) {
		l.t = t
		rv := l.reverts(financing, l.registry, l.finance(l.registry, good))
		if !rv.is("NullifierUsed", "invoice", big.NewInt(invoiceNullifier), good.input[invoiceNullifier], big.NewInt(1)) {
			t.Fatalf("got %s, want NullifierUsed(invoice, 5, %v, 1)", rv, good.input[invoiceNullifier])
		}
		if n := l.financings(l.registry); n != 1 {
			t.Fatalf("financings = %d, want 1", n)
		}
	})

	t.Run("the same shipment under a new invoice number is refused, naming the shipment nullifier", func(t *testing.T) {
		l.t = t
		re := ps.reinvoiced
		if re.input[invoiceNullifier].Cmp(good.input[invoiceNullifier]) == 0 || re.input[shipmentNullifier].Cmp(good.input[shipmentNullifier]) != 0 {
			t.Fatalf("the re-invoiced proof's nullifiers %v, %v: want a new invoice nullifier and the same shipment's", re.input[invoiceNullifier], re.input[shipmentNullifier])
		}
		rv := l.reverts(financing, l.registry, l.finance(l.registry, re))
		if !rv.is("NullifierUsed", "shipment", big.NewInt(shipmentNullifier), good.input[shipmentNullifier], big.NewInt(1)) {
			t.Fatalf("got %s, want NullifierUsed(shipment, 6, %v, 1)", rv, good.input[shipmentNullifier])
		}
		// The proof holds: a registry that has not seen the shipment
		// finances it.
		fresh, _ := l.financingRegistry(l.verifier)
		l.send(financing, fresh, l.finance(fresh, re))
		if n := l.financings(l.registry); n != 1 {
			t.Fatalf("financings = %d, want 1", n)
		}
	})

	t.Run("another circuit's proof is refused", func(t *testing.T) {
		l.t = t
		pool := ps.pool
		if rv := l.reverts(financing, l.registry, l.finance(l.registry, pool)); !rv.is("WrongInputCount", big.NewInt(9), big.NewInt(7)) {
			t.Fatalf("an abs-pool proof: %s, want WrongInputCount(9, 7)", rv)
		}
		cut := evmProof{proof: pool.proof, input: pool.input[:7]}
		if rv := l.reverts(financing, l.registry, l.finance(l.registry, cut)); !rv.is("ProofInvalid") {
			t.Fatalf("an abs-pool proof with 7 of its inputs: %s, want ProofInvalid", rv)
		}
		// A registry bound to the pool verifier takes no invoice proof
		// either, whatever its N.
		pv, _ := l.deploy(poolVerifier)
		other, _ := l.deploy(financing, pv, big.NewInt(7), []*big.Int{big.NewInt(5)}, []string{"invoice"})
		if rv := l.reverts(financing, other, l.finance(other, good)); !rv.is("VerifierCallFailed") {
			t.Fatalf("an invoice proof through the pool verifier: %s, want VerifierCallFailed", rv)
		}
		if n := l.financings(l.registry); n != 1 {
			t.Fatalf("financings = %d, want 1", n)
		}
	})

	t.Run("the constructor's checks", func(t *testing.T) {
		l.t = t
		two := []*big.Int{big.NewInt(5), big.NewInt(6)}
		names := []string{"invoice", "shipment"}
		for _, c := range []struct {
			what     string
			verifier common.Address
			inputs   []*big.Int
			names    []string
			want     string
		}{
			{"an account with no code", l.from, two, names, "NotAContract"},
			{"no nullifiers", l.verifier, nil, nil, "BadNullifierInputs"},
			{"a position past N", l.verifier, []*big.Int{big.NewInt(7)}, []string{"x"}, "BadNullifierInputs"},
			{"a position twice", l.verifier, []*big.Int{big.NewInt(5), big.NewInt(5)}, names, "BadNullifierInputs"},
			{"a name missing", l.verifier, two, names[:1], "BadNullifierInputs"},
		} {
			if rv := l.deployReverts(financing, c.verifier, big.NewInt(7), c.inputs, c.names); rv.name != c.want {
				t.Errorf("%s: %s, want %s", c.what, rv, c.want)
			}
		}
		in, ns := l.call(financing, l.registry, "nullifierSlots")[0].([]*big.Int), l.call(financing, l.registry, "nullifierSlots")[1].([]string)
		if !same(in, two) || len(ns) != 2 || ns[0] != "invoice" || ns[1] != "shipment" {
			t.Errorf("nullifierSlots = %v, %v", in, ns)
		}
	})
}

// The pool registry records a proven pool's root and figures once; a
// changed input, a second registration of the root (even with other
// limits, proven) and an invoice proof record nothing.
func TestAbsPoolRegistry(t *testing.T) {
	ps := proofs(t)
	c := newChain(t)
	verifier, _ := c.deploy(poolVerifier)
	reg, gas := c.deploy(poolRegistry, verifier, big.NewInt(9))
	t.Logf("gas: pool registry deploy %d", gas)
	good := ps.pool
	root := good.input[0]
	register := func(p evmProof) []byte { return c.pack(poolRegistry, "register", p.proof, p.input) }
	count := func() int64 { return c.call(poolRegistry, reg, "pools")[0].(*big.Int).Int64() }

	for i, v := range good.input {
		if rv := c.reverts(poolRegistry, reg, register(good.with(i, new(big.Int).Add(v, big.NewInt(1))))); !rv.is("ProofInvalid") {
			t.Errorf("input %d plus 1: %s, want ProofInvalid", i, rv)
		}
	}
	if rv := c.reverts(poolRegistry, reg, register(ps.invoice)); !rv.is("WrongInputCount", big.NewInt(7), big.NewInt(9)) {
		t.Errorf("an invoice proof: %s, want WrongInputCount(7, 9)", rv)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d pools registered from refused proofs", n)
	}

	rc := c.send(poolRegistry, reg, register(good))
	t.Logf("gas: register %d", rc.GasUsed)
	a := c.contracts[poolRegistry].abi
	var events int
	for _, log := range rc.Logs {
		if log.Topics[0] != a.Events["PoolRegistered"].ID {
			continue
		}
		events++
		ev := map[string]any{}
		if err := a.UnpackIntoMap(ev, "PoolRegistered", log.Data); err != nil {
			t.Fatal(err)
		}
		if new(big.Int).SetBytes(log.Topics[1][:]).Cmp(root) != 0 || common.BytesToAddress(log.Topics[2][:]) != c.from || !same(ev["publicInputs"].([]*big.Int), good.input) {
			t.Fatalf("PoolRegistered %v %v %v, want root %v by %v with %v", log.Topics[1], log.Topics[2], ev["publicInputs"], root, c.from, good.input)
		}
	}
	if events != 1 {
		t.Fatalf("%d PoolRegistered events, want 1", events)
	}
	rec := c.call(poolRegistry, reg, "pool", root)
	if rec[0] != c.from || rec[1].(*big.Int).Uint64() != rc.BlockNumber.Uint64() || !same(rec[2].([]*big.Int), good.input) {
		t.Fatalf("pool(root) = %v, want %v, block %v, %v", rec, c.from, rc.BlockNumber, good.input)
	}

	lax := ps.poolLax
	if lax.input[0].Cmp(root) != 0 || same(lax.input, good.input) {
		t.Fatalf("the lax pool proof's inputs %v: want the same root with other limits", lax.input)
	}
	for what, p := range map[string]evmProof{"the same proof": good, "the same pool with a lower min_rating": lax} {
		if rv := c.reverts(poolRegistry, reg, register(p)); !rv.is("PoolAlreadyRegistered", root, c.from, rc.BlockNumber) {
			t.Errorf("%s again: %s, want PoolAlreadyRegistered(%v, %v, %v)", what, rv, root, c.from, rc.BlockNumber)
		}
	}
	if rec := c.call(poolRegistry, reg, "pool", root); !same(rec[2].([]*big.Int), good.input) || count() != 1 {
		t.Fatalf("after the refused registrations: pool(root) = %v, %d pools", rec, count())
	}
	// The lax proof holds: a fresh registry takes it.
	fresh, _ := c.deploy(poolRegistry, verifier, big.NewInt(9))
	c.send(poolRegistry, fresh, register(lax))
}

// BenchmarkGas reports the gas of deploying the contracts and of their
// calls on the simulated chain (Osaka): gas is deterministic, so each
// figure is the same every iteration.
func BenchmarkGas(b *testing.B) {
	ps := proofs(b)
	var gas map[string]uint64
	for b.Loop() {
		l := newLedger(b)
		gas = map[string]uint64{"verifier-deploy-gas": l.verifierGas, "registry-deploy-gas": l.registryGas}
		gas["verify-gas"] = l.send(invoiceVerifier, l.verifier, l.verifyDirect(ps.invoice)).GasUsed
		gas["finance-gas"] = l.send(financing, l.registry, l.finance(l.registry, ps.invoice)).GasUsed
		pv, pvGas := l.deploy(poolVerifier)
		reg, regGas := l.deploy(poolRegistry, pv, big.NewInt(9))
		gas["pool-verifier-deploy-gas"], gas["pool-registry-deploy-gas"] = pvGas, regGas
		gas["register-gas"] = l.send(poolRegistry, reg, l.pack(poolRegistry, "register", ps.pool.proof, ps.pool.input)).GasUsed
	}
	for unit, g := range gas {
		b.ReportMetric(float64(g), unit)
	}
}
