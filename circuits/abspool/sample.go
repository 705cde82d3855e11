package abspool

import (
	"math/big"
	"math/rand/v2"
)

// Sample returns a valid pool tape of n assets in a pool of the given
// capacity, the same for the same seed. Benchmarks and tests use it to fill
// pools of any size.
func Sample(capacity, n int, seed uint64) *Statement {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	s := &Statement{
		Capacity: capacity,
		Assets:   make([]AssetDoc, n),
		Limits: Limits{
			MaxDaysPastDue:        big.NewInt(30),
			MinRating:             big.NewInt(4),
			MaturityFrom:          big.NewInt(20089), // 2025-01-01
			MaturityTo:            big.NewInt(24106), // 2035-12-31
			ConcentrationLimitBps: big.NewInt(maxBps),
			MinWeightedRateBps:    big.NewInt(400),
		},
	}
	obligor := uint64(1000)
	for i := range s.Assets {
		if rng.IntN(3) > 0 { // about three assets per obligor
			obligor++
		}
		salt := new(big.Int).SetUint64(rng.Uint64())
		salt.Lsh(salt, 64).Or(salt, new(big.Int).SetUint64(rng.Uint64()))
		s.Assets[i] = AssetDoc{
			AssetID:     big.NewInt(int64(100000 + i)),
			ObligorID:   new(big.Int).SetUint64(obligor),
			Principal:   big.NewInt(int64(100_000 + rng.IntN(10_000_000))),
			RateBps:     big.NewInt(int64(450 + rng.IntN(500))),
			DaysPastDue: big.NewInt(int64(rng.IntN(31))),
			Rating:      big.NewInt(int64(4 + rng.IntN(6))),
			Maturity:    big.NewInt(int64(20089 + rng.IntN(4000))),
			Salt:        salt,
		}
	}
	return s
}
