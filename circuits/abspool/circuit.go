package abspool

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark/frontend"

	"github.com/proofmill/proofmill/circuits/gadget"
)

// Bit widths of the leaf fields and public parameters.
const (
	idBits        = 64 // asset and obligor ids
	principalBits = 64 // minor currency units
	rateBits      = 16 // basis points
	dpdBits       = 16 // days past due
	ratingBits    = 8  // higher is better
	dateBits      = 32 // days since 1970-01-01
	bpsBits       = 14 // basis points, at most 10 000
	maxBps        = 10000
	countBits     = 32
	totalBits     = principalBits + 16 // principal summed over up to 2^16 assets
	weightedBits  = totalBits + rateBits + 1
	keyBits       = 2 * idBits
)

// Offsets of the fields packed into a leaf's terms element (136 bits).
const (
	rateShift     = principalBits
	dpdShift      = rateShift + rateBits
	ratingShift   = dpdShift + dpdBits
	maturityShift = ratingShift + ratingBits
)

var tagLeaf = gadget.Tag("proofmill/abs-asset/v1")

// Asset is one slot of the pool tape. Active is 1 for an asset, 0 for padding.
type Asset struct {
	AssetID, ObligorID, Principal, RateBps, DaysPastDue, Rating, Maturity, Salt, Active frontend.Variable
}

// Circuit is the abs-pool statement for a pool of len(Assets) slots. The
// public inputs come first, in the order listed in PublicInputs.
type Circuit struct {
	Root                  frontend.Variable `gnark:",public"`
	ActiveCount           frontend.Variable `gnark:",public"`
	TotalPrincipal        frontend.Variable `gnark:",public"`
	MaxDaysPastDue        frontend.Variable `gnark:",public"`
	MinRating             frontend.Variable `gnark:",public"`
	MaturityFrom          frontend.Variable `gnark:",public"`
	MaturityTo            frontend.Variable `gnark:",public"`
	ConcentrationLimitBps frontend.Variable `gnark:",public"`
	MinWeightedRateBps    frontend.Variable `gnark:",public"`

	Assets []Asset
}

// MaxCapacity bounds the pool size: totals are sized for 2^16 assets.
const MaxCapacity = 1 << 16

// New returns an empty circuit of the given capacity, for compiling. The
// capacity must be a power of two from 2 to MaxCapacity, so that every slot
// sits in the fixed-depth Merkle tree.
func New(capacity int) *Circuit {
	if capacity < 2 || capacity > MaxCapacity || capacity&(capacity-1) != 0 {
		panic(fmt.Sprintf("abspool: capacity %d is not a power of two in [2, %d]", capacity, MaxCapacity))
	}
	return &Circuit{Assets: make([]Asset, capacity)}
}

// Define declares the constraints.
func (c *Circuit) Define(api frontend.API) error {
	h, err := gadget.NewHasher(api)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		v    frontend.Variable
		bits int
	}{
		{c.ActiveCount, countBits}, {c.TotalPrincipal, totalBits}, {c.MaxDaysPastDue, dpdBits},
		{c.MinRating, ratingBits}, {c.MaturityFrom, dateBits}, {c.MaturityTo, dateBits},
		{c.ConcentrationLimitBps, bpsBits}, {c.MinWeightedRateBps, rateBits},
	} {
		gadget.AssertBits(api, f.v, f.bits)
	}
	gadget.AssertLE(api, c.ConcentrationLimitBps, maxBps, bpsBits)
	gadget.AssertLE(api, 1, c.ActiveCount, countBits) // a pool has at least one asset
	concentrationCap := api.Mul(c.ConcentrationLimitBps, c.TotalPrincipal)

	leaves := make([]frontend.Variable, len(c.Assets))
	var count, total, weighted frontend.Variable = 0, 0, 0
	var prevKey, prevActive, prevObligor, running frontend.Variable
	for i := range c.Assets {
		a := &c.Assets[i]
		for _, f := range []struct {
			v    frontend.Variable
			bits int
		}{
			{a.AssetID, idBits}, {a.ObligorID, idBits}, {a.Principal, principalBits}, {a.RateBps, rateBits},
			{a.DaysPastDue, dpdBits}, {a.Rating, ratingBits}, {a.Maturity, dateBits},
		} {
			gadget.AssertBits(api, f.v, f.bits)
		}
		api.AssertIsBoolean(a.Active)
		key := api.Add(api.Mul(a.ObligorID, pow2(idBits)), a.AssetID)
		terms := api.Add(a.Principal, api.Mul(a.RateBps, pow2(rateShift)), api.Mul(a.DaysPastDue, pow2(dpdShift)),
			api.Mul(a.Rating, pow2(ratingShift)), api.Mul(a.Maturity, pow2(maturityShift)))
		leaves[i] = h.Hash(tagLeaf, key, terms, a.Salt)

		// Padding is explicit: an inactive slot holds only zeros, and
		// active slots form a prefix of the tape.
		inactive := api.Sub(1, a.Active)
		api.AssertIsEqual(api.Mul(inactive, key), 0)
		api.AssertIsEqual(api.Mul(inactive, terms), 0)
		api.AssertIsEqual(api.Mul(inactive, a.Salt), 0)

		// Eligibility of active assets (padding passes trivially).
		gadget.AssertBits(api, api.Mul(a.Active, api.Sub(a.Principal, 1)), principalBits)
		gadget.AssertLE(api, a.DaysPastDue, c.MaxDaysPastDue, dpdBits)
		gadget.AssertLE(api, api.Mul(a.Active, c.MinRating), a.Rating, ratingBits)
		gadget.AssertLE(api, api.Mul(a.Active, c.MaturityFrom), a.Maturity, dateBits)
		gadget.AssertLE(api, a.Maturity, c.MaturityTo, dateBits)

		count = api.Add(count, a.Active)
		total = api.Add(total, a.Principal)
		weighted = api.Add(weighted, api.Mul(a.Principal, a.RateBps))

		if i == 0 {
			running = a.Principal
		} else {
			api.AssertIsEqual(api.Mul(a.Active, api.Sub(1, prevActive)), 0)
			// Strictly increasing (obligor, asset) keys among active slots.
			gadget.AssertBits(api, api.Mul(a.Active, api.Sub(api.Sub(key, prevKey), 1)), keyBits)
			// Running principal of the current obligor's contiguous run.
			same := api.IsZero(api.Sub(a.ObligorID, prevObligor))
			running = api.Add(a.Principal, api.Mul(same, running))
		}
		// running·10000 ≤ limit·total, both below 2^(totalBits+bpsBits).
		gadget.AssertLE(api, api.Mul(running, maxBps), concentrationCap, totalBits+bpsBits)
		prevKey, prevActive, prevObligor = key, a.Active, a.ObligorID
	}

	api.AssertIsEqual(c.Root, merkleRoot(h, leaves))
	api.AssertIsEqual(c.ActiveCount, count)
	api.AssertIsEqual(c.TotalPrincipal, total)
	// Σ principal·rate ≥ minimum rate · total.
	gadget.AssertLE(api, api.Mul(c.MinWeightedRateBps, c.TotalPrincipal), weighted, weightedBits)
	return nil
}

func merkleRoot(h *gadget.Hasher, level []frontend.Variable) frontend.Variable {
	for len(level) > 1 {
		next := make([]frontend.Variable, len(level)/2)
		for i := range next {
			next[i] = h.Compress(level[2*i], level[2*i+1])
		}
		level = next
	}
	return level[0]
}

func pow2(n int) *big.Int { return new(big.Int).Lsh(big.NewInt(1), uint(n)) }
