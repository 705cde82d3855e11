package abspool

import (
	"math/big"

	"github.com/proofmill/proofmill/circuits/gadget"
	"github.com/proofmill/proofmill/circuits/input"
)

// Rule ids, as named in errors and tests.
const (
	RuleRoot             = "merkle-root"
	RuleActiveCount      = "active-count"
	RuleTotalPrincipal   = "total-principal"
	RuleOrder            = "order"
	RulePadding          = "padding"
	RulePrincipal        = "positive-principal"
	RuleDaysPastDue      = "days-past-due"
	RuleRating           = "rating"
	RuleMaturity         = "maturity"
	RuleConcentration    = "concentration"
	RuleWeightedRate     = "weighted-rate"
	RuleLimitsConsistent = "limits"
)

// AssetDoc is one asset of the pool tape, natively.
type AssetDoc struct {
	AssetID, ObligorID, Principal, RateBps, DaysPastDue, Rating, Maturity, Salt *big.Int
}

// Limits are the public eligibility and pool limits.
type Limits struct {
	MaxDaysPastDue, MinRating, MaturityFrom, MaturityTo, ConcentrationLimitBps, MinWeightedRateBps *big.Int
}

// Pool are the public pool figures, derived from the tape.
type Pool struct {
	Root, ActiveCount, TotalPrincipal *big.Int
}

// Statement is a pool tape of a given capacity, its limits, and the pool
// figures a client claimed (nil members were not given).
type Statement struct {
	Capacity int
	Assets   []AssetDoc // active assets; the rest of the capacity is padding
	Limits   Limits
	Claimed  Pool
}

func (a *AssetDoc) key() *big.Int {
	return new(big.Int).Add(new(big.Int).Lsh(a.ObligorID, idBits), a.AssetID)
}

func (a *AssetDoc) terms() *big.Int {
	t := new(big.Int).Set(a.Principal)
	t.Or(t, new(big.Int).Lsh(a.RateBps, rateShift))
	t.Or(t, new(big.Int).Lsh(a.DaysPastDue, dpdShift))
	t.Or(t, new(big.Int).Lsh(a.Rating, ratingShift))
	return t.Or(t, new(big.Int).Lsh(a.Maturity, maturityShift))
}

// Leaf is the Merkle leaf of an asset, as the circuit computes it.
func (a *AssetDoc) Leaf() *big.Int { return gadget.Hash(tagLeaf, a.key(), a.terms(), a.Salt) }

// PaddingLeaf is the leaf of an unused slot: the hash of zeros.
var PaddingLeaf = gadget.Hash(tagLeaf, new(big.Int), new(big.Int), new(big.Int))

// Root is the Merkle root of the tape padded to capacity.
func (s *Statement) Root() *big.Int {
	level := make([]*big.Int, s.Capacity)
	for i := range level {
		if i < len(s.Assets) {
			level[i] = s.Assets[i].Leaf()
		} else {
			level[i] = PaddingLeaf
		}
	}
	for len(level) > 1 {
		next := make([]*big.Int, len(level)/2)
		for i := range next {
			next[i] = gadget.Compress(level[2*i], level[2*i+1])
		}
		level = next
	}
	return level[0]
}

// Derive computes the public pool figures exactly as the circuit does.
func (s *Statement) Derive() Pool {
	total := new(big.Int)
	for i := range s.Assets {
		total.Add(total, s.Assets[i].Principal)
	}
	return Pool{Root: s.Root(), ActiveCount: big.NewInt(int64(len(s.Assets))), TotalPrincipal: total}
}

// Check tests every rule natively, naming the asset and the rule it breaks.
// Field widths are checked by Parse; a Statement built in code must respect
// them. The circuit remains the authority.
func (s *Statement) Check() error {
	if err := s.checkCount(); err != nil {
		return err
	}
	return s.check(s.Derive())
}

// checkCount comes first: a tape of another size has no root to derive.
func (s *Statement) checkCount() error {
	switch {
	case len(s.Assets) == 0:
		return input.Rule(RuleActiveCount, "a pool has at least one asset")
	case len(s.Assets) > s.Capacity:
		return input.Rule(RuleActiveCount, "%d assets exceed the pool capacity %d", len(s.Assets), s.Capacity)
	}
	return nil
}

// check is Check past the count, given the derived figures, so that
// Assign hashes the tape once.
func (s *Statement) check(derived Pool) error {
	if err := input.CheckClaims(
		input.Claim{Rule: RuleRoot, What: "pool root", Claimed: s.Claimed.Root, Derived: derived.Root},
		input.Claim{Rule: RuleActiveCount, What: "active asset count", Claimed: s.Claimed.ActiveCount, Derived: derived.ActiveCount},
		input.Claim{Rule: RuleTotalPrincipal, What: "total principal", Claimed: s.Claimed.TotalPrincipal, Derived: derived.TotalPrincipal},
	); err != nil {
		return err
	}

	l := &s.Limits
	if l.MaturityFrom.Cmp(l.MaturityTo) > 0 {
		return input.Rule(RuleLimitsConsistent, "maturity window is empty: %s is after %s",
			input.FormatDate(l.MaturityFrom.Uint64()), input.FormatDate(l.MaturityTo.Uint64()))
	}
	tenThousand := big.NewInt(maxBps)
	concentrationCap := new(big.Int).Mul(l.ConcentrationLimitBps, derived.TotalPrincipal)
	weighted := new(big.Int)
	running := new(big.Int)
	for i := range s.Assets {
		a := &s.Assets[i]
		switch {
		case a.Principal.Sign() == 0:
			return input.Rule(RulePrincipal, "assets[%d]: an active asset has positive principal; remove paid-off assets from the tape", i)
		case a.DaysPastDue.Cmp(l.MaxDaysPastDue) > 0:
			return input.Rule(RuleDaysPastDue, "assets[%d]: %s days past due exceeds the limit of %s", i, a.DaysPastDue, l.MaxDaysPastDue)
		case a.Rating.Cmp(l.MinRating) < 0:
			return input.Rule(RuleRating, "assets[%d]: rating %s is below the minimum %s", i, a.Rating, l.MinRating)
		case a.Maturity.Cmp(l.MaturityFrom) < 0 || a.Maturity.Cmp(l.MaturityTo) > 0:
			return input.Rule(RuleMaturity, "assets[%d]: maturity %s is outside %s..%s", i, input.FormatDate(a.Maturity.Uint64()),
				input.FormatDate(l.MaturityFrom.Uint64()), input.FormatDate(l.MaturityTo.Uint64()))
		}
		if i > 0 {
			prev := &s.Assets[i-1]
			if a.key().Cmp(prev.key()) <= 0 {
				return input.Rule(RuleOrder, "assets[%d] (obligor %s, asset %s) must come after assets[%d] (obligor %s, asset %s): the tape is ordered by obligor id, then asset id, without repeats",
					i, a.ObligorID, a.AssetID, i-1, prev.ObligorID, prev.AssetID)
			}
			if a.ObligorID.Cmp(prev.ObligorID) != 0 {
				running.SetInt64(0)
			}
		}
		running.Add(running, a.Principal)
		if new(big.Int).Mul(running, tenThousand).Cmp(concentrationCap) > 0 {
			return input.Rule(RuleConcentration, "obligor %s holds principal %s, above %s bps of the pool total %s",
				a.ObligorID, running, l.ConcentrationLimitBps, derived.TotalPrincipal)
		}
		weighted.Add(weighted, new(big.Int).Mul(a.Principal, a.RateBps))
	}
	if min := new(big.Int).Mul(l.MinWeightedRateBps, derived.TotalPrincipal); weighted.Cmp(min) < 0 {
		avg := new(big.Rat).SetFrac(weighted, derived.TotalPrincipal)
		return input.Rule(RuleWeightedRate, "principal-weighted average rate %s bps is below the minimum %s bps",
			avg.FloatString(1), l.MinWeightedRateBps)
	}
	return nil
}

// Assignment returns the full witness and the named public inputs. It does
// not check the rules: tests use it to build statements that break one.
func (s *Statement) Assignment() *input.Assignment { return s.assignment(s.Derive()) }

func (s *Statement) assignment(d Pool) *input.Assignment {
	w := New(s.Capacity)
	w.Root, w.ActiveCount, w.TotalPrincipal = d.Root, d.ActiveCount, d.TotalPrincipal
	l := &s.Limits
	w.MaxDaysPastDue, w.MinRating, w.MaturityFrom, w.MaturityTo = l.MaxDaysPastDue, l.MinRating, l.MaturityFrom, l.MaturityTo
	w.ConcentrationLimitBps, w.MinWeightedRateBps = l.ConcentrationLimitBps, l.MinWeightedRateBps
	for i := range w.Assets {
		if i >= len(s.Assets) {
			w.Assets[i] = Asset{0, 0, 0, 0, 0, 0, 0, 0, 0}
			continue
		}
		a := &s.Assets[i]
		w.Assets[i] = Asset{a.AssetID, a.ObligorID, a.Principal, a.RateBps, a.DaysPastDue, a.Rating, a.Maturity, a.Salt, 1}
	}
	values := []*big.Int{d.Root, d.ActiveCount, d.TotalPrincipal, l.MaxDaysPastDue, l.MinRating,
		l.MaturityFrom, l.MaturityTo, l.ConcentrationLimitBps, l.MinWeightedRateBps}
	public := make([]input.PublicInput, len(PublicInputs))
	for i, name := range PublicInputs {
		public[i] = input.PublicInput{Name: name, Value: values[i]}
	}
	return &input.Assignment{Witness: w, Public: public}
}

// PublicInputs names the public inputs in circuit order.
var PublicInputs = []string{
	"root", "active_count", "total_principal", "max_days_past_due", "min_rating",
	"maturity_from", "maturity_to", "concentration_limit_bps", "min_weighted_rate_bps",
}
