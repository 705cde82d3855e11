package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/proofmill/proofmill/ledger"
)

// invoiceKeySHA256 is the digest of testdata's verifying key, as a ledger
// pins it in its configuration (TestTestdata keeps the two together).
const invoiceKeySHA256 = "c4d86c1de5179718a1f6a7a2a369b5dd234d810d24f1496dd0f4a2aed9974df1"

// A ledger loads a verifying key by its digest, verifies a proof file,
// records the statement's nullifiers, and refuses the same proof again.
func Example() {
	// The key's bytes: `proofmill keys export --format gnark`.
	keyData, err := os.ReadFile("testdata/invoice-consistency-v1.vk")
	if err != nil {
		fmt.Println(err)
		return
	}
	key, err := ledger.LoadVerifyingKey("invoice-consistency/v1", keyData, invoiceKeySHA256)
	if err != nil {
		fmt.Println(err)
		return
	}
	proofFile, err := os.ReadFile("testdata/invoice-proof.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	statement, err := key.Verify(proofFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified", statement.Circuit)

	// A ledger implements NullifierSet over its own store (world state, a
	// table), inside the transaction that records the statement.
	var used ledger.MemoryNullifiers
	ctx := context.Background()
	if err := ledger.Accept(ctx, &used, statement); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("accepted, nullifiers recorded:", used.Len())

	// The same proof still verifies, but its statement is not new.
	again, err := key.Verify(proofFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = ledger.Accept(ctx, &used, again)
	var e *ledger.NullifierUsedError
	if errors.As(err, &e) {
		fmt.Println("refused:", e.Nullifier.Name, "already used")
	}
	// Output:
	// verified invoice-consistency/v1
	// accepted, nullifiers recorded: 2
	// refused: nullifier already used
}
