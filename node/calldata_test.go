package node_test

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/internal/testinput"
)

// A succeeded job carries its proof as EVM calldata: 8 words, and its
// public inputs as uint256 words in their order.
func TestJobCarriesEVMCalldata(t *testing.T) {
	_, cl := startNode(t, nil)
	ctx := timeout(t, 2*time.Minute)
	j, err := cl.Prove(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 4400)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Get(ctx, j.GetId())
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetEvmCalldata()
	if len(c.GetProof()) != 8 || len(c.GetPublicInputs()) != len(got.GetPublicInputs()) {
		t.Fatalf("calldata: %d proof words, %d inputs for %d public inputs", len(c.GetProof()), len(c.GetPublicInputs()), len(got.GetPublicInputs()))
	}
	for i, in := range got.GetPublicInputs() {
		v, _ := new(big.Int).SetString(in.GetValue(), 10)
		if want := fmt.Sprintf("0x%064x", v); c.GetPublicInputs()[i] != want {
			t.Fatalf("input %s: %s, want %s", in.GetName(), c.GetPublicInputs()[i], want)
		}
	}
}
