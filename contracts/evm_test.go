package contracts_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/prover/export"
)

// solcjs is the compiler package.json pins, installed by `npm ci` here.
const solcjs = "node_modules/.bin/solcjs"

// contract is a compiled contract: its ABI and creation code.
type contract struct {
	abi abi.ABI
	bin []byte
}

var compiled struct {
	sync.Mutex
	out map[string]contract
}

// verifierCircuits are the circuits whose generated verifiers the tests
// compile with the registries.
var verifierCircuits = []string{"invoice-consistency/v1", "invoice-consistency/v2", "abs-pool-16/v1"}

// compile compiles the registries in this folder and the verifiers of
// verifierCircuits, generated from the test keys, once per test binary,
// and returns them by contract name.
func compile(t testing.TB) map[string]contract {
	t.Helper()
	compiled.Lock()
	defer compiled.Unlock()
	if compiled.out != nil {
		return compiled.out
	}
	if _, err := os.Stat(solcjs); err != nil {
		t.Fatalf("the Solidity compiler %s is missing (%v): run `npm ci` in contracts/ (node and npm; see the README, \"Ledgers: the registries\")", solcjs, err)
	}
	src := t.TempDir()
	sources, err := filepath.Glob("*.sol")
	if err != nil || len(sources) == 0 {
		t.Fatalf("no contracts here: %v", err)
	}
	var names []string
	for _, f := range sources {
		if strings.HasSuffix(f, "Verifier.sol") {
			continue // a verifier generated here (ignored by git): the test makes its own
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, f)
	}
	p := testkeys.Prover(t)
	for _, id := range verifierCircuits {
		c, err := circuits.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		k, err := p.Keys(c)
		if err != nil {
			t.Fatal(err)
		}
		var sol bytes.Buffer
		if err := export.Solidity(&sol, k.VK, export.ContractName(id)); err != nil {
			t.Fatal(err)
		}
		name := export.ContractName(id) + ".sol"
		if err := os.WriteFile(filepath.Join(src, name), sol.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	solc, err := filepath.Abs(solcjs)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	args := append([]string{"--bin", "--abi", "--optimize", "--optimize-runs", "200", "--base-path", ".", "-o", out}, names...)
	cmd := exec.Command(solc, args...)
	cmd.Dir = src
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("solcjs: %v\n%s", err, msg)
	}
	result := map[string]contract{}
	for _, f := range names {
		name := strings.TrimSuffix(f, ".sol")
		base := filepath.Join(out, name+"_sol_"+name)
		abiJSON, err := os.ReadFile(base + ".abi")
		if err != nil {
			t.Fatalf("solcjs wrote no ABI for %s: %v", name, err)
		}
		parsed, err := abi.JSON(bytes.NewReader(abiJSON))
		if err != nil {
			t.Fatalf("%s's ABI: %v", name, err)
		}
		hexBin, err := os.ReadFile(base + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		bin, err := hexutil.Decode("0x" + strings.TrimSpace(string(hexBin)))
		if err != nil {
			t.Fatalf("%s's bytecode: %v", name, err)
		}
		result[name] = contract{abi: parsed, bin: bin}
	}
	compiled.out = result
	return result
}

// chain is a simulated chain with one funded account.
type chain struct {
	t         testing.TB
	sim       *simulated.Backend
	client    simulated.Client
	key       *ecdsa.PrivateKey
	from      common.Address
	contracts map[string]contract
}

// releasedFork runs the chain on Osaka, the latest fork mainnet runs: the
// simulated backend's default dev config also enables the unreleased
// Bogota, whose gas schedule differs (the same verifyProof call costs
// about 2.8 times as much), so the gas figures would not be a real
// chain's.
func releasedFork(_ *node.Config, eth *ethconfig.Config) {
	cfg := *eth.Genesis.Config
	cfg.BogotaTime = nil
	eth.Genesis.Config = &cfg
}

func newChain(t testing.TB) *chain {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	eth := new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	sim := simulated.NewBackend(types.GenesisAlloc{from: {Balance: new(big.Int).Mul(eth, big.NewInt(1000))}}, releasedFork)
	t.Cleanup(func() { sim.Close() })
	return &chain{t: t, sim: sim, client: sim.Client(), key: key, from: from, contracts: compile(t)}
}

func (c *chain) opts() *bind.TransactOpts {
	chainID, err := c.client.ChainID(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return bind.NewKeyedTransactor(c.key, chainID)
}

// mined commits a block and returns tx's receipt.
func (c *chain) mined(tx *types.Transaction) *types.Receipt {
	c.t.Helper()
	c.sim.Commit()
	r, err := bind.WaitMined(context.Background(), c.client, tx.Hash())
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// deploy deploys the contract name with constructor args; it returns the
// address and the deployment's gas.
func (c *chain) deploy(name string, args ...any) (common.Address, uint64) {
	c.t.Helper()
	k, ok := c.contracts[name]
	if !ok {
		c.t.Fatalf("no contract %s compiled", name)
	}
	ctor, err := k.abi.Pack("", args...)
	if err != nil {
		c.t.Fatalf("%s's constructor: %v", name, err)
	}
	addr, tx, err := bind.DeployContract(c.opts(), k.bin, c.client, ctor)
	if err != nil {
		c.t.Fatalf("deploy %s: %v", name, err)
	}
	r := c.mined(tx)
	if r.Status != types.ReceiptStatusSuccessful {
		c.t.Fatalf("deploy %s: failed", name)
	}
	return addr, r.GasUsed
}

// deployReverts returns the revert of deploying name with args.
func (c *chain) deployReverts(name string, args ...any) *revert {
	c.t.Helper()
	k := c.contracts[name]
	ctor, err := k.abi.Pack("", args...)
	if err != nil {
		c.t.Fatal(err)
	}
	_, err = c.client.CallContract(context.Background(), ethereum.CallMsg{From: c.from, Data: append(append([]byte(nil), k.bin...), ctor...)}, nil)
	return c.decode(name, err)
}

// pack packs a call of method on the contract name.
func (c *chain) pack(name, method string, args ...any) []byte {
	c.t.Helper()
	data, err := c.contracts[name].abi.Pack(method, args...)
	if err != nil {
		c.t.Fatalf("%s.%s: %v", name, method, err)
	}
	return data
}

// send sends a transaction of data to the contract at to and returns its
// receipt; it fails the test if the transaction reverts.
func (c *chain) send(name string, to common.Address, data []byte) *types.Receipt {
	c.t.Helper()
	k := c.contracts[name]
	bound := bind.NewBoundContract(to, k.abi, c.client, c.client, c.client)
	tx, err := bind.Transact(bound, c.opts(), data)
	if err != nil {
		c.t.Fatalf("%s: %v", name, c.decode(name, err))
	}
	r := c.mined(tx)
	if r.Status != types.ReceiptStatusSuccessful {
		c.t.Fatalf("%s: the transaction failed", name)
	}
	return r
}

// reverts checks that a transaction of data to the contract at to reverts
// both as a call (whose reason it returns, decoded with the ABI of name) and
// mined on the chain.
func (c *chain) reverts(name string, to common.Address, data []byte) *revert {
	c.t.Helper()
	_, err := c.client.CallContract(context.Background(), ethereum.CallMsg{From: c.from, To: &to, Data: data}, nil)
	r := c.decode(name, err)
	// Mined with a fixed gas limit (estimating would refuse it): the
	// chain must refuse it too.
	opts := c.opts()
	opts.GasLimit = 3_000_000
	bound := bind.NewBoundContract(to, c.contracts[name].abi, c.client, c.client, c.client)
	tx, err := bind.Transact(bound, opts, data)
	if err != nil {
		c.t.Fatalf("send: %v", err)
	}
	if rc := c.mined(tx); rc.Status != types.ReceiptStatusFailed {
		c.t.Fatalf("the call reverts but the transaction succeeded on the chain")
	}
	return r
}

// call calls a view method and returns its results.
func (c *chain) call(name string, to common.Address, method string, args ...any) []any {
	c.t.Helper()
	k := c.contracts[name]
	out, err := c.client.CallContract(context.Background(), ethereum.CallMsg{From: c.from, To: &to, Data: c.pack(name, method, args...)}, nil)
	if err != nil {
		c.t.Fatalf("%s.%s: %v", name, method, err)
	}
	res, err := k.abi.Unpack(method, out)
	if err != nil {
		c.t.Fatalf("%s.%s: %v", name, method, err)
	}
	return res
}

// revert is a decoded revert: the custom error's name and arguments.
type revert struct {
	name string
	args []any
}

func (r *revert) String() string { return fmt.Sprintf("%s%v", r.name, r.args) }

// decode decodes the revert in err with the ABI of name; it fails the test
// unless err is a revert with a reason that ABI declares.
func (c *chain) decode(name string, err error) *revert {
	c.t.Helper()
	if err == nil {
		c.t.Fatalf("%s: no revert", name)
	}
	data, ok := ethclient.RevertErrorData(err)
	if !ok {
		c.t.Fatalf("%s: not a revert: %v", name, err)
	}
	if len(data) < 4 {
		c.t.Fatalf("%s: a revert without a reason (%x)", name, data)
	}
	a := c.contracts[name].abi
	e, err := a.ErrorByID([4]byte(data[:4]))
	if err != nil {
		c.t.Fatalf("%s: revert %x: %v", name, data, err)
	}
	v, err := e.Unpack(data)
	if err != nil {
		c.t.Fatalf("%s: revert %s: %v", name, e.Name, err)
	}
	args, _ := v.([]any)
	return &revert{name: e.Name, args: args}
}

// is reports whether the revert is error name with args (compared as
// printed).
func (r *revert) is(name string, args ...any) bool {
	return r.name == name && fmt.Sprintf("%v", r.args) == fmt.Sprintf("%v", args)
}
