package ledger_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/prover"
)

var update = flag.Bool("update", false, "rewrite testdata/ from the shared test key store")

const (
	testdataKey   = "testdata/invoice-consistency-v1.vk"
	testdataProof = "testdata/invoice-proof.json"
)

// TestTestdata keeps the Example's files what the service makes: the key
// file in the gnark format the key store serves, with the digest the
// Example pins, and a proof file naming it. With -update, it writes them
// anew from the shared test key store (then set invoiceKeySHA256 to the
// digest it reports).
func TestTestdata(t *testing.T) {
	served := servedKey(t, invoiceID)
	if *update {
		input, err := examples.Read("invoice-consistency.json")
		if err != nil {
			t.Fatal(err)
		}
		proof := proveFile(t, invoiceID, input)
		if err := os.WriteFile(testdataKey, served.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(testdataProof, append(proof, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (SHA-256 %s) and %s", testdataKey, served.SHA256, testdataProof)
	}
	key, err := os.ReadFile(testdataKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256hex(key); got != invoiceKeySHA256 {
		t.Fatalf("%s has SHA-256 %s; the Example pins %s", testdataKey, got, invoiceKeySHA256)
	}
	// The key store's verifying.key is WriteRawTo of the key, served as it
	// is: the committed file must be that encoding, as the live one is.
	for name, data := range map[string][]byte{testdataKey: key, "the served key": served.Data} {
		var vk groth16bn254.VerifyingKey
		if _, err := vk.ReadFrom(bytes.NewReader(data)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var raw bytes.Buffer
		if _, err := vk.WriteRawTo(&raw); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw.Bytes(), data) {
			t.Errorf("%s is not gnark's raw encoding of its key", name)
		}
	}
	if len(key) != len(served.Data) {
		t.Errorf("%s has %d bytes, the served key %d: not the same encoding", testdataKey, len(key), len(served.Data))
	}
	proof, err := os.ReadFile(testdataProof)
	if err != nil {
		t.Fatal(err)
	}
	d, err := prover.ParseProofFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	if d.Circuit.ID != invoiceID || d.File.VerifyingKeySHA256 != invoiceKeySHA256 {
		t.Fatalf("%s is a proof of %s under key %s, want %s under %s", testdataProof, d.Circuit.ID, d.File.VerifyingKeySHA256, invoiceID, invoiceKeySHA256)
	}
}
