package abspool

import (
	"fmt"

	"github.com/proofmill/proofmill/circuits/input"
)

// Request is the JSON input of abs-pool-N/v1.
type Request struct {
	Assets input.List[AssetJSON] `json:"assets"`
	Limits LimitsJSON            `json:"limits"`
	Pool   PoolJSON              `json:"pool"`
}

type AssetJSON struct {
	AssetID     input.Value `json:"asset_id"`
	ObligorID   input.Value `json:"obligor_id"`
	Principal   input.Value `json:"principal"`
	RateBps     input.Value `json:"rate_bps"`
	DaysPastDue input.Value `json:"days_past_due"`
	Rating      input.Value `json:"rating"`
	Maturity    input.Value `json:"maturity"`
	Salt        input.Value `json:"salt"`
}

type LimitsJSON struct {
	MaxDaysPastDue        input.Value `json:"max_days_past_due"`
	MinRating             input.Value `json:"min_rating"`
	MaturityFrom          input.Value `json:"maturity_from"`
	MaturityTo            input.Value `json:"maturity_to"`
	ConcentrationLimitBps input.Value `json:"concentration_limit_bps"`
	MinWeightedRateBps    input.Value `json:"min_weighted_rate_bps"`
}

type PoolJSON struct {
	Root           input.Value `json:"root,omitempty"`
	ActiveCount    input.Value `json:"active_count,omitempty"`
	TotalPrincipal input.Value `json:"total_principal,omitempty"`
}

// Parse decodes and range-checks a request for a pool of the given capacity;
// it does not check the rules.
func Parse(capacity int, data []byte) (*Statement, error) {
	r := Request{Assets: input.List[AssetJSON]{Field: "assets", Max: capacity,
		Hint: fmt.Sprintf(": the pool capacity is %d; use a larger abs-pool circuit", capacity)}}
	if err := input.Decode(data, &r); err != nil {
		return nil, err
	}
	if len(r.Assets.Items) == 0 {
		return nil, &input.FieldError{Field: "assets", Kind: input.ErrMissingField, Reason: "at least one asset is required"}
	}
	var c input.Checker
	s := &Statement{Capacity: capacity, Assets: make([]AssetDoc, len(r.Assets.Items))}
	for i, a := range r.Assets.Items {
		f := func(name string) string { return fmt.Sprintf("assets[%d].%s", i, name) }
		s.Assets[i] = AssetDoc{
			AssetID:     c.Uint(f("asset_id"), a.AssetID, idBits),
			ObligorID:   c.Uint(f("obligor_id"), a.ObligorID, idBits),
			Principal:   c.Uint(f("principal"), a.Principal, principalBits),
			RateBps:     c.Uint(f("rate_bps"), a.RateBps, rateBits),
			DaysPastDue: c.Uint(f("days_past_due"), a.DaysPastDue, dpdBits),
			Rating:      c.Uint(f("rating"), a.Rating, ratingBits),
			Maturity:    c.Date(f("maturity"), a.Maturity),
			Salt:        c.Element(f("salt"), a.Salt),
		}
	}
	l := &r.Limits
	s.Limits = Limits{
		MaxDaysPastDue:        c.Uint("limits.max_days_past_due", l.MaxDaysPastDue, dpdBits),
		MinRating:             c.Uint("limits.min_rating", l.MinRating, ratingBits),
		MaturityFrom:          c.Date("limits.maturity_from", l.MaturityFrom),
		MaturityTo:            c.Date("limits.maturity_to", l.MaturityTo),
		ConcentrationLimitBps: c.Max("limits.concentration_limit_bps", l.ConcentrationLimitBps, bpsBits, maxBps),
		MinWeightedRateBps:    c.Uint("limits.min_weighted_rate_bps", l.MinWeightedRateBps, rateBits),
	}
	s.Claimed = Pool{
		Root:           c.OptionalElement("pool.root", r.Pool.Root),
		ActiveCount:    c.OptionalUint("pool.active_count", r.Pool.ActiveCount, countBits),
		TotalPrincipal: c.OptionalUint("pool.total_principal", r.Pool.TotalPrincipal, totalBits),
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Assigner returns the Assign function for a pool of the given capacity:
// parse, check every rule natively, and build the witness.
func Assigner(capacity int) func([]byte) (*input.Assignment, error) {
	return func(data []byte) (*input.Assignment, error) {
		s, err := Parse(capacity, data)
		if err != nil {
			return nil, err
		}
		if err := s.checkCount(); err != nil {
			return nil, err
		}
		d := s.Derive() // once: the rules and the witness share the hashes
		if err := s.check(d); err != nil {
			return nil, err
		}
		return s.assignment(d), nil
	}
}

// Schema describes Request for a pool of the given capacity.
func Schema(capacity int) []input.Field {
	assets := input.Field{Name: "assets", Type: "array", MaxItems: capacity,
		Doc: "the pool tape: active assets ordered by obligor_id, then asset_id; padding is added", Fields: []input.Field{
			input.UintField("asset_id", idBits, "asset id"),
			input.UintField("obligor_id", idBits, "obligor id"),
			input.UintField("principal", principalBits, "outstanding principal, in minor currency units (> 0)"),
			input.UintField("rate_bps", rateBits, "interest rate, in basis points"),
			input.UintField("days_past_due", dpdBits, "days past due"),
			input.UintField("rating", ratingBits, "credit rating score, higher is better"),
			input.DateField("maturity", "maturity date"),
			input.SaltField(),
		}}
	return []input.Field{
		assets,
		input.ObjectField("limits", "public eligibility and pool limits",
			input.UintField("max_days_past_due", dpdBits, "most days past due an eligible asset may have"),
			input.UintField("min_rating", ratingBits, "lowest eligible rating"),
			input.DateField("maturity_from", "earliest eligible maturity"),
			input.DateField("maturity_to", "latest eligible maturity"),
			input.UintField("concentration_limit_bps", bpsBits, "most any one obligor may hold, in bps of total principal (≤ 10000)"),
			input.UintField("min_weighted_rate_bps", rateBits, "lowest principal-weighted average rate, in bps")),
		input.ObjectField("pool", "public pool figures: derived when absent, checked when given",
			input.DerivedField("root", "Merkle root of the padded tape"),
			input.Field{Name: "active_count", Type: "uint", Bits: countBits, Optional: true, Doc: "number of active assets"},
			input.Field{Name: "total_principal", Type: "uint", Bits: totalBits, Optional: true, Doc: "sum of outstanding principal"}),
	}
}

// Description is a one-line summary for listings.
const Description = "an asset-backed pool's Merkle root, totals, eligibility, concentration and weighted rate"
