package abspool

import (
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"

	"github.com/proofmill/proofmill/circuits/input"
)

const (
	examplePath = "../../examples/abs-pool.json"
	capacity    = 16
)

func example(t *testing.T) Statement {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(capacity, data)
	if err != nil {
		t.Fatalf("parse example: %v", err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("example breaks a rule: %v", err)
	}
	// Own copies of the assets, so cases can edit them.
	s.Assets = append([]AssetDoc(nil), s.Assets...)
	return *s
}

func options(extra ...test.TestingOption) []test.TestingOption {
	return append([]test.TestingOption{test.WithCurves(ecc.BN254), test.WithBackends(backend.GROTH16), test.NoFuzzing()}, extra...)
}

func n(x int64) *big.Int { return big.NewInt(x) }

func TestValidPools(t *testing.T) {
	full := Sample(capacity, capacity, 3)
	if err := full.Check(); err != nil {
		t.Fatalf("sample: %v", err)
	}
	ex := example(t)
	single := Sample(capacity, 1, 4)
	single.Limits.ConcentrationLimitBps = n(maxBps)
	test.NewAssert(t).CheckCircuit(New(capacity), options(
		test.WithValidAssignment(ex.Assignment().Witness),
		test.WithValidAssignment(full.Assignment().Witness),
		test.WithValidAssignment(single.Assignment().Witness),
	)...)
}

// Each case breaks exactly one rule of the statement: the native check names
// it and the circuit rejects the witness.
func TestEachRuleIsEnforced(t *testing.T) {
	cases := []struct {
		rule   string
		break_ func(s *Statement)
	}{
		{RulePrincipal, func(s *Statement) { s.Assets[4].Principal = n(0) }},
		{RuleDaysPastDue, func(s *Statement) { s.Assets[2].DaysPastDue = n(31) }},
		{RuleRating, func(s *Statement) { s.Assets[7].Rating = n(3) }},
		{RuleMaturity, func(s *Statement) { s.Assets[5].Maturity = new(big.Int).Sub(s.Limits.MaturityFrom, n(1)) }},
		{RuleMaturity, func(s *Statement) { s.Assets[5].Maturity = new(big.Int).Add(s.Limits.MaturityTo, n(1)) }},
		{RuleOrder, func(s *Statement) { s.Assets[1], s.Assets[2] = s.Assets[2], s.Assets[1] }},
		{RuleOrder, func(s *Statement) { s.Assets[11] = s.Assets[10] }}, // the same asset twice
		{RuleConcentration, func(s *Statement) { s.Limits.ConcentrationLimitBps = n(2000) }},
		{RuleWeightedRate, func(s *Statement) { s.Limits.MinWeightedRateBps = n(700) }},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			s := example(t)
			c.break_(&s)
			var re *input.RuleError
			if err := s.Check(); !errors.As(err, &re) || re.Rule != c.rule {
				t.Fatalf("native check: got %v, want rule %s", err, c.rule)
			}
			test.NewAssert(t).CheckCircuit(New(capacity), options(test.WithInvalidAssignment(s.Assignment().Witness))...)
		})
	}
}

// The claimed pool figures must match the tape.
func TestPoolFiguresMustMatch(t *testing.T) {
	cases := []struct {
		rule string
		set  func(w *Circuit, p *Pool)
	}{
		{RuleRoot, func(w *Circuit, p *Pool) { w.Root, p.Root = n(99), n(99) }},
		{RuleActiveCount, func(w *Circuit, p *Pool) { w.ActiveCount, p.ActiveCount = n(11), n(11) }},
		{RuleTotalPrincipal, func(w *Circuit, p *Pool) {
			v := new(big.Int).Add(w.TotalPrincipal.(*big.Int), n(1))
			w.TotalPrincipal, p.TotalPrincipal = v, v
		}},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			s := example(t)
			w := s.Assignment().Witness.(*Circuit)
			c.set(w, &s.Claimed)
			var re *input.RuleError
			if err := s.Check(); !errors.As(err, &re) || re.Rule != c.rule {
				t.Fatalf("native check: got %v, want rule %s", err, c.rule)
			}
			test.NewAssert(t).CheckCircuit(New(capacity), options(test.WithInvalidAssignment(w))...)
		})
	}
}

// Witness-level attacks the JSON decoder cannot express: broken padding,
// gaps between active slots, non-boolean flags and values that wrap around
// the field. The pool figures are recomputed from the edited witness, so the
// only rule broken is the one under test.
func TestWitnessAttacksAreRejected(t *testing.T) {
	p := fr.Modulus()
	pMinus := func(x int64) *big.Int { return new(big.Int).Sub(p, n(x)) }
	last := capacity - 1
	cases := []struct {
		name string
		edit func(w *Circuit)
	}{
		{"padding with a salt", func(w *Circuit) { w.Assets[last].Salt = n(5) }},
		{"hidden inactive asset", func(w *Circuit) { w.Assets[last] = w.Assets[0]; w.Assets[last].Active = 0 }},
		{"gap between active slots", func(w *Circuit) {
			w.Assets[last], w.Assets[11] = w.Assets[11], Asset{0, 0, 0, 0, 0, 0, 0, 0, 0}
		}},
		{"active flag 2", func(w *Circuit) { w.Assets[3].Active = 2 }},
		{"negative principal p-1000", func(w *Circuit) { w.Assets[3].Principal = pMinus(1000) }},
		{"principal 2^64", func(w *Circuit) { w.Assets[3].Principal = new(big.Int).Lsh(n(1), 64) }},
		{"rate p-1", func(w *Circuit) { w.Assets[3].RateBps = pMinus(1) }},
		{"rating p-x above minimum", func(w *Circuit) { w.Assets[3].Rating = pMinus(3) }},
		{"days past due p-1", func(w *Circuit) { w.Assets[3].DaysPastDue = pMinus(1) }},
		{"maturity 2^32", func(w *Circuit) { w.Assets[3].Maturity = new(big.Int).Lsh(n(1), 32) }},
		{"obligor id 2^64", func(w *Circuit) { w.Assets[11].ObligorID = new(big.Int).Lsh(n(1), 64) }},
		{"concentration limit p-1", func(w *Circuit) { w.ConcentrationLimitBps = pMinus(1) }},
		{"concentration limit above 10000", func(w *Circuit) { w.ConcentrationLimitBps = n(10001) }},
		{"max days past due p-1", func(w *Circuit) { w.MaxDaysPastDue = pMinus(1) }},
		{"empty pool: all padding", func(w *Circuit) {
			for i := range w.Assets {
				w.Assets[i] = Asset{0, 0, 0, 0, 0, 0, 0, 0, 0}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := example(t)
			w := s.Assignment().Witness.(*Circuit)
			c.edit(w)
			recompute(w)
			test.NewAssert(t).CheckCircuit(New(capacity), options(test.WithInvalidAssignment(w))...)
		})
	}
}

// recompute sets root, count and total from the witness as it stands.
func recompute(w *Circuit) {
	b := func(v frontend.Variable) *big.Int {
		switch x := v.(type) {
		case int:
			return n(int64(x))
		case *big.Int:
			return new(big.Int).Mod(x, fr.Modulus())
		}
		panic("unexpected witness value")
	}
	s := Statement{Capacity: len(w.Assets)}
	count, total := new(big.Int), new(big.Int)
	for _, a := range w.Assets {
		s.Assets = append(s.Assets, AssetDoc{b(a.AssetID), b(a.ObligorID), b(a.Principal), b(a.RateBps),
			b(a.DaysPastDue), b(a.Rating), b(a.Maturity), b(a.Salt)})
		count.Add(count, b(a.Active))
		total.Add(total, b(a.Principal))
	}
	w.Root, w.ActiveCount, w.TotalPrincipal = s.Root(), count.Mod(count, fr.Modulus()), total.Mod(total, fr.Modulus())
}

// recompute must keep an unedited witness valid, or the attack tests above
// would pass for the wrong reason.
func TestRecomputeKeepsValidWitnessValid(t *testing.T) {
	s := example(t)
	w := s.Assignment().Witness.(*Circuit)
	w.Root, w.TotalPrincipal = n(1), n(2)
	recompute(w)
	test.NewAssert(t).CheckCircuit(New(capacity), options(test.WithValidAssignment(w))...)
}

func TestPaddingLeafMatchesCircuitPadding(t *testing.T) {
	s := example(t)
	padded := s.Root()
	s.Capacity = 32
	if s.Root().Cmp(padded) == 0 {
		t.Fatal("roots of different capacities must differ")
	}
}

func TestCapacityMustBeAPowerOfTwo(t *testing.T) {
	for _, n := range []int{0, 1, 3, 24, MaxCapacity * 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d) did not panic", n)
				}
			}()
			New(n)
		}()
	}
}

func TestParseErrors(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	cases := []struct {
		name     string
		capacity int
		json     string
		kind     error
		mention  string
	}{
		{"over capacity", 8, good, input.ErrOutOfRange, "assets: out of range: more than 8 items: the pool capacity is 8"},
		{"no assets", capacity, `{"assets": [], "limits": {}}`, input.ErrMissingField, "assets"},
		{"asset field wrong width", capacity, strings.Replace(good, `"rating": 8`, `"rating": 256`, 1), input.ErrOutOfRange, "assets[0].rating"},
		{"missing limit", capacity, strings.Replace(good, `"min_rating": 4,`, ``, 1), input.ErrMissingField, "limits.min_rating"},
		{"limit above 10000", capacity, strings.Replace(good, `"concentration_limit_bps": 2500`, `"concentration_limit_bps": 12000`, 1), input.ErrOutOfRange, "limits.concentration_limit_bps"},
		{"unknown asset field", capacity, strings.Replace(good, `"rating": 7`, `"rating": 7, "grade": 1`, 1), input.ErrUnknownField, "grade"},
		{"assets not a list", capacity, `{"assets": {}}`, input.ErrInvalidValue, "assets"},
		{"bad field inside an asset", capacity, strings.Replace(good, `"days_past_due": 12`, `"days_past_due": "twelve"`, 1), input.ErrInvalidValue, "].days_past_due"},
		{"unknown field inside an asset", capacity, strings.Replace(good, `"rating": 8`, `"rating": 8, "note": "x"`, 1), input.ErrUnknownField, "note"},
		{"case-variant key", capacity, strings.Replace(good, `"principal"`, `"PRINCIPAL"`, 1), input.ErrUnknownField, "assets[0].PRINCIPAL"},
		{"repeated key", capacity, strings.Replace(good, `"principal"`, `"principal": "1", "principal"`, 1), input.ErrMalformed, "assets[0].principal: malformed JSON: field given twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.json == good && c.capacity == capacity {
				t.Fatal("test case did not change anything")
			}
			_, err := Assigner(c.capacity)([]byte(c.json))
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("got %v, want kind %v mentioning %q", err, c.kind, c.mention)
			}
		})
	}
}
