package ledger_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/ledger"
	"github.com/proofmill/proofmill/prover"
)

const invoiceID = "invoice-consistency/v1"

// distinct is how many different invoice proofs the tests and benchmarks
// share; batches larger than that reuse them cyclically.
const distinct = 8

// proven holds real proofs of the shared test key store, made once per
// test process (as contracts' tests do).
var proven struct {
	sync.Mutex
	files [][]byte // proof files of testinput.Invoice(t, i)
	key   prover.ServedKey
}

// invoiceProofs returns distinct proof files of invoice-consistency/v1,
// each a different invoice number, and the key they verify under as the
// service serves it in the gnark format.
func invoiceProofs(t testing.TB) ([][]byte, prover.ServedKey) {
	t.Helper()
	proven.Lock()
	defer proven.Unlock()
	if proven.files == nil {
		for i := range distinct {
			proven.files = append(proven.files, proveFile(t, invoiceID, []byte(testinput.Invoice(t, i))))
		}
		proven.key = servedKey(t, invoiceID)
	}
	return proven.files, proven.key
}

func proveFile(t testing.TB, id string, input []byte) []byte {
	t.Helper()
	f, err := testkeys.Prove(t, id, input).File()
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// servedKey is a circuit's verifying key as `proofmill keys export
// --format gnark` serves it from the shared test key store (made if
// missing).
func servedKey(t testing.TB, id string) prover.ServedKey {
	t.Helper()
	c, err := circuits.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testkeys.Prover(t).Keys(c); err != nil {
		t.Fatal(err)
	}
	k, err := prover.KeyStore{Dir: testkeys.Dir()}.ExportVerifyingKey(id, "gnark")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func loadKey(t testing.TB, id string, k prover.ServedKey) *ledger.Key {
	t.Helper()
	key, err := ledger.LoadVerifyingKey(id, k.Data, k.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// edit decodes a proof file, changes it and encodes it again.
func edit(t testing.TB, data []byte, change func(f *prover.ProofFile)) []byte {
	t.Helper()
	var f prover.ProofFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f.PublicInputs = append([]prover.NamedValue(nil), f.PublicInputs...)
	f.PublicSignals = append([]string(nil), f.PublicSignals...)
	change(&f)
	out, err := json.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// setInput changes public input i in both places the file holds it, so
// that the file stays consistent and only the proof can refuse it.
func setInput(i int, v string) func(f *prover.ProofFile) {
	return func(f *prover.ProofFile) {
		f.PublicSignals[i] = v
		f.PublicInputs[i].Value = v
		f.EVMCalldata = nil
	}
}

// swapProof puts another file's proof in place of f's, keeping f's
// statement.
func swapProof(t testing.TB, other []byte) func(f *prover.ProofFile) {
	var o prover.ProofFile
	if err := json.Unmarshal(other, &o); err != nil {
		t.Fatal(err)
	}
	return func(f *prover.ProofFile) {
		f.Proof, f.GnarkProof, f.EVMCalldata = o.Proof, o.GnarkProof, nil
	}
}

// tamperPoint swaps the proof's A and C: both valid points, the wrong
// proof (as a failing device might make it).
func tamperPoint(f *prover.ProofFile) {
	f.Proof.PiA, f.Proof.PiC = f.Proof.PiC, f.Proof.PiA
	f.GnarkProof, f.EVMCalldata = nil, nil
}
