package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// cubic proves knowledge of X with X³ + X + 5 == Y and X·Y == Z.
type cubic struct {
	X frontend.Variable
	Y frontend.Variable `gnark:",public"`
	Z frontend.Variable `gnark:",public"`
}

func (c *cubic) Define(api frontend.API) error {
	api.AssertIsEqual(c.Y, api.Add(api.Mul(c.X, c.X, c.X), c.X, 5))
	api.AssertIsEqual(c.Z, api.Mul(c.X, c.Y))
	return nil
}

type fixture struct {
	vk      groth16.VerifyingKey
	proof   groth16.Proof
	witness witness.Witness // full witness for X = 3, Y = 35, Z = 105
}

var setup = sync.OnceValues(func() (fixture, error) {
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &cubic{})
	if err != nil {
		return fixture{}, err
	}
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		return fixture{}, err
	}
	w, err := frontend.NewWitness(&cubic{X: 3, Y: 35, Z: 105}, ecc.BN254.ScalarField())
	if err != nil {
		return fixture{}, err
	}
	proof, err := groth16.Prove(ccs, pk, w)
	if err != nil {
		return fixture{}, err
	}
	return fixture{vk: vk, proof: proof, witness: w}, nil
})

func newFixture(t *testing.T) fixture {
	t.Helper()
	f, err := setup()
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return f
}

// snarkjsFiles returns the proof, verifying key and public signals as the
// JSON that snarkjs reads.
func snarkjsFiles(t *testing.T, f fixture) (proofJSON, vkJSON, publicJSON []byte) {
	t.Helper()
	proof, err := FromGnarkProof(f.proof)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := FromGnarkVerifyingKey(f.vk)
	if err != nil {
		t.Fatal(err)
	}
	signals, err := PublicSignals(f.witness)
	if err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, proof), mustMarshal(t, vk), mustMarshal(t, signals)
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripVerifiesWithGnark(t *testing.T) {
	f := newFixture(t)
	proofJSON, vkJSON, publicJSON := snarkjsFiles(t, f)

	var (
		proof   Proof
		vk      VerifyingKey
		signals []string
	)
	mustUnmarshal(t, proofJSON, &proof)
	mustUnmarshal(t, vkJSON, &vk)
	mustUnmarshal(t, publicJSON, &signals)

	if want := []string{"35", "105"}; !slices.Equal(signals, want) {
		t.Fatalf("public signals = %v, want %v", signals, want)
	}
	if vk.NPublic != 2 || len(vk.IC) != 3 || vk.Protocol != "groth16" || vk.Curve != "bn128" {
		t.Fatalf("verifying key header: protocol %q curve %q nPublic %d, %d IC points", vk.Protocol, vk.Curve, vk.NPublic, len(vk.IC))
	}

	gProof, err := proof.ToGnark()
	if err != nil {
		t.Fatal(err)
	}
	gVK, err := vk.ToGnark()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PublicWitness(signals)
	if err != nil {
		t.Fatal(err)
	}
	if err := groth16.Verify(gProof, gVK, pub); err != nil {
		t.Fatalf("round-tripped proof, key and witness: %v", err)
	}
	if err := groth16.Verify(gProof, f.vk, pub); err != nil {
		t.Fatalf("round-tripped proof with original key: %v", err)
	}

	wrong, err := PublicWitness([]string{"36", "105"})
	if err != nil {
		t.Fatal(err)
	}
	if err := groth16.Verify(gProof, gVK, wrong); err == nil {
		t.Fatal("proof verified against a different public input")
	}

	// Encoding the parsed values again gives the same JSON.
	again, err := FromGnarkProof(gProof)
	if err != nil {
		t.Fatal(err)
	}
	if again != proof {
		t.Errorf("proof changed in round trip:\n got %+v\nwant %+v", again, proof)
	}
	vkAgain, err := FromGnarkVerifyingKey(gVK)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustMarshal(t, vkAgain); !bytes.Equal(got, vkJSON) {
		t.Errorf("verifying key changed in round trip:\n got %s\nwant %s", got, vkJSON)
	}
}

func TestJSONFieldNames(t *testing.T) {
	f := newFixture(t)
	proofJSON, vkJSON, _ := snarkjsFiles(t, f)
	for _, tc := range []struct {
		name string
		data []byte
		keys []string
	}{
		{"proof", proofJSON, []string{"pi_a", "pi_b", "pi_c", "protocol", "curve"}},
		{"vk", vkJSON, []string{"protocol", "curve", "nPublic", "vk_alpha_1", "vk_beta_2", "vk_gamma_2", "vk_delta_2", "vk_alphabeta_12", "IC"}},
	} {
		var m map[string]json.RawMessage
		mustUnmarshal(t, tc.data, &m)
		if len(m) != len(tc.keys) {
			t.Errorf("%s: %d keys, want %d", tc.name, len(m), len(tc.keys))
		}
		for _, k := range tc.keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: missing key %q", tc.name, k)
			}
		}
	}
}

// Reference values printed by snarkjs 0.7.6 (ffjavascript buildBn128):
// G2.toObject(G2.g) and Gt.toObject(pairing(G1.g, G2.g)).
var (
	snarkjsG2Gen = [3][2]string{
		{"10857046999023057135944570762232829481370756359578518086990519993285655852781", "11559732032986387107991004021392285783925812861821192530917403151452391805634"},
		{"8495653923123431417604973247489272438418190587263600148770280649306958101930", "4082367875863433681332203403145435568316851327593401208105741076214120093531"},
		{"1", "0"},
	}
	snarkjsPairingGen = [2][3][2]string{
		{
			{"17264119758069723980713015158403419364912226240334615592005620718956030922389", "1300711225518851207585954685848229181392358478699795190245709208408267917898"},
			{"8894217292938489450175280157304813535227569267786222825147475294561798790624", "1829859855596098509359522796979920150769875799037311140071969971193843357227"},
			{"4968700049505451466697923764727215585075098085662966862137174841375779106779", "12814315002058128940449527172080950701976819591738376253772993495204862218736"},
		},
		{
			{"4233474252585134102088637248223601499779641130562251948384759786370563844606", "9420544134055737381096389798327244442442230840902787283326002357297404128074"},
			{"13457906610892676317612909831857663099224588803620954529514857102808143524905", "5122435115068592725432309312491733755581898052459744089947319066829791570839"},
			{"8891987925005301465158626530377582234132838601606565363865129986128301774627", "440796048150724096437130979851431985500142692666486515369083499585648077975"},
		},
	}
)

func TestEncodingMatchesSnarkjs(t *testing.T) {
	_, _, g1, g2 := bn254.Generators()
	if got, want := formatG1(&g1), [3]string{"1", "2", "1"}; got != want {
		t.Errorf("G1 generator = %v, want %v", got, want)
	}
	if got := formatG2(&g2); got != snarkjsG2Gen {
		t.Errorf("G2 generator = %v, want %v", got, snarkjsG2Gen)
	}
	var negG1 bn254.G1Affine
	negG1.Neg(&g1)
	pMinus2 := new(big.Int).Sub(fp.Modulus(), big.NewInt(2)).String()
	if got, want := formatG1(&negG1), [3]string{"1", pMinus2, "1"}; got != want {
		t.Errorf("-G1 = %v, want %v", got, want)
	}
	var inf1 bn254.G1Affine
	if got := formatG1(&inf1); got != [3]string{"0", "1", "0"} {
		t.Errorf("G1 infinity = %v", got)
	}
	var inf2 bn254.G2Affine
	if got := formatG2(&inf2); got != [3][2]string{{"0", "0"}, {"1", "0"}, {"0", "0"}} {
		t.Errorf("G2 infinity = %v", got)
	}
	e, err := bn254.Pair([]bn254.G1Affine{g1}, []bn254.G2Affine{g2})
	if err != nil {
		t.Fatal(err)
	}
	if got := formatGT(&e); got != snarkjsPairingGen {
		t.Errorf("e(G1, G2) = %v, want %v", got, snarkjsPairingGen)
	}
}

// The types below and verifySnarkjs deliberately share no code with the
// package: they read the JSON the way a snarkjs-style verifier does.
type jsonProof struct {
	PiA []string   `json:"pi_a"`
	PiB [][]string `json:"pi_b"`
	PiC []string   `json:"pi_c"`
}

type jsonVK struct {
	Alpha     []string     `json:"vk_alpha_1"`
	Beta      [][]string   `json:"vk_beta_2"`
	Gamma     [][]string   `json:"vk_gamma_2"`
	Delta     [][]string   `json:"vk_delta_2"`
	AlphaBeta [][][]string `json:"vk_alphabeta_12"`
	IC        [][]string   `json:"IC"`
}

func fpOf(t *testing.T, s string) fp.Element {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad number %q", s)
	}
	var e fp.Element
	e.SetBigInt(v)
	return e
}

func g1Of(t *testing.T, c []string) bn254.G1Affine {
	t.Helper()
	return bn254.G1Affine{X: fpOf(t, c[0]), Y: fpOf(t, c[1])}
}

func g2Of(t *testing.T, c [][]string) bn254.G2Affine {
	t.Helper()
	var p bn254.G2Affine
	p.X.A0, p.X.A1 = fpOf(t, c[0][0]), fpOf(t, c[0][1])
	p.Y.A0, p.Y.A1 = fpOf(t, c[1][0]), fpOf(t, c[1][1])
	return p
}

// verifySnarkjs checks e(A, B) = e(α, β)·e(vk_x, γ)·e(C, δ) with
// vk_x = IC[0] + Σ sᵢ·IC[i+1], as snarkjs's groth16 verify does.
func verifySnarkjs(t *testing.T, vkJSON, proofJSON, publicJSON []byte) bool {
	t.Helper()
	var (
		vk      jsonVK
		proof   jsonProof
		signals []string
	)
	mustUnmarshal(t, vkJSON, &vk)
	mustUnmarshal(t, proofJSON, &proof)
	mustUnmarshal(t, publicJSON, &signals)
	if len(vk.IC) != len(signals)+1 {
		t.Fatalf("%d IC points for %d signals", len(vk.IC), len(signals))
	}

	var vkX bn254.G1Jac
	ic0 := g1Of(t, vk.IC[0])
	vkX.FromAffine(&ic0)
	for i, s := range signals {
		v, ok := new(big.Int).SetString(s, 10)
		if !ok {
			t.Fatalf("bad signal %q", s)
		}
		var term bn254.G1Jac
		ic := g1Of(t, vk.IC[i+1])
		term.FromAffine(&ic)
		term.ScalarMultiplication(&term, v)
		vkX.AddAssign(&term)
	}
	var vkXAff, negA bn254.G1Affine
	vkXAff.FromJacobian(&vkX)
	a, b, c := g1Of(t, proof.PiA), g2Of(t, proof.PiB), g1Of(t, proof.PiC)
	if !a.IsOnCurve() || !b.IsOnCurve() || !c.IsOnCurve() || !b.IsInSubGroup() {
		return false
	}
	negA.Neg(&a)
	ok, err := bn254.PairingCheck(
		[]bn254.G1Affine{negA, g1Of(t, vk.Alpha), vkXAff, c},
		[]bn254.G2Affine{b, g2Of(t, vk.Beta), g2Of(t, vk.Gamma), g2Of(t, vk.Delta)},
	)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestIndependentVerifier(t *testing.T) {
	f := newFixture(t)
	proofJSON, vkJSON, publicJSON := snarkjsFiles(t, f)

	swapped := func() []byte {
		var p jsonProof
		mustUnmarshal(t, proofJSON, &p)
		var m map[string]any
		mustUnmarshal(t, proofJSON, &m)
		m["pi_b"] = [][]string{{p.PiB[0][1], p.PiB[0][0]}, {p.PiB[1][1], p.PiB[1][0]}, p.PiB[2]}
		return mustMarshal(t, m)
	}()

	for _, tc := range []struct {
		name          string
		proof, public []byte
		want          bool
	}{
		{"real proof", proofJSON, publicJSON, true},
		{"different first input", proofJSON, []byte(`["36","105"]`), false},
		{"different second input", proofJSON, []byte(`["35","106"]`), false},
		{"pi_b with c0 and c1 swapped", swapped, publicJSON, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verifySnarkjs(t, vkJSON, tc.proof, tc.public); got != tc.want {
				t.Errorf("verify = %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("vk_alphabeta_12", func(t *testing.T) {
		var vk jsonVK
		mustUnmarshal(t, vkJSON, &vk)
		want, err := bn254.Pair([]bn254.G1Affine{g1Of(t, vk.Alpha)}, []bn254.G2Affine{g2Of(t, vk.Beta)})
		if err != nil {
			t.Fatal(err)
		}
		var got bn254.GT
		dst := [2][3]*bn254.E2{{&got.C0.B0, &got.C0.B1, &got.C0.B2}, {&got.C1.B0, &got.C1.B1, &got.C1.B2}}
		for i := range dst {
			for j := range dst[i] {
				dst[i][j].A0 = fpOf(t, vk.AlphaBeta[i][j][0])
				dst[i][j].A1 = fpOf(t, vk.AlphaBeta[i][j][1])
			}
		}
		if !got.Equal(&want) {
			t.Error("vk_alphabeta_12 is not e(vk_alpha_1, vk_beta_2)")
		}
	})
}

// g2OffSubgroup returns a point on the G2 twist outside the prime-order
// subgroup.
func g2OffSubgroup(t *testing.T) bn254.G2Affine {
	t.Helper()
	_, _, _, gen := bn254.Generators()
	var b, x3 bn254.E2 // twist coefficient b = y² - x³ of the generator
	b.Square(&gen.Y)
	x3.Square(&gen.X).Mul(&x3, &gen.X)
	b.Sub(&b, &x3)
	for i := uint64(1); i < 100; i++ {
		var p bn254.G2Affine
		p.X.A0.SetUint64(i)
		var rhs bn254.E2
		rhs.Square(&p.X).Mul(&rhs, &p.X).Add(&rhs, &b)
		if rhs.Legendre() != 1 {
			continue
		}
		p.Y.Sqrt(&rhs)
		if p.IsOnCurve() && !p.IsInSubGroup() {
			return p
		}
	}
	t.Fatal("no point found")
	return bn254.G2Affine{}
}

func TestProofToGnarkRejects(t *testing.T) {
	f := newFixture(t)
	valid, err := FromGnarkProof(f.proof)
	if err != nil {
		t.Fatal(err)
	}
	modulus := fp.Modulus().String()
	pPlus1 := new(big.Int).Add(fp.Modulus(), big.NewInt(1)).String()
	yPlus1 := func() string {
		v, _ := new(big.Int).SetString(valid.PiA[1], 10)
		return v.Add(v, big.NewInt(1)).String()
	}()
	offSubgroup := g2OffSubgroup(t)

	for _, tc := range []struct {
		name   string
		mutate func(*Proof)
		want   error  // nil: any error
		field  string // must appear in the message
	}{
		{"letters", func(p *Proof) { p.PiA[0] = "12ab" }, ErrNotDecimal, "pi_a[0]"},
		{"hex", func(p *Proof) { p.PiA[0] = "0x1" }, ErrNotDecimal, "pi_a[0]"},
		{"negative", func(p *Proof) { p.PiC[1] = "-1" }, ErrNotDecimal, "pi_c[1]"},
		{"plus sign", func(p *Proof) { p.PiC[1] = "+1" }, ErrNotDecimal, "pi_c[1]"},
		{"space", func(p *Proof) { p.PiC[0] = " 1" }, ErrNotDecimal, "pi_c[0]"},
		{"empty", func(p *Proof) { p.PiB[0][1] = "" }, ErrNotDecimal, "pi_b[0][1]"},
		{"equal to modulus", func(p *Proof) { p.PiA[1] = modulus }, ErrOutOfRange, "pi_a[1]"},
		{"above modulus", func(p *Proof) { p.PiB[1][0] = pPlus1 }, ErrOutOfRange, "pi_b[1][0]"},
		{"huge", func(p *Proof) { p.PiB[1][1] = strings.Repeat("9", 5000) }, ErrOutOfRange, "pi_b[1][1]"},
		{"not on curve", func(p *Proof) { p.PiA[1] = yPlus1 }, ErrNotOnCurve, "pi_a"},
		{"origin", func(p *Proof) { p.PiC = [3]string{"0", "0", "1"} }, ErrNotOnCurve, "pi_c"},
		{"G2 not on curve", func(p *Proof) { p.PiB[0][0], p.PiB[0][1] = p.PiB[0][1], p.PiB[0][0] }, ErrNotOnCurve, "pi_b"},
		{"G2 not in subgroup", func(p *Proof) { p.PiB = formatG2(&offSubgroup) }, ErrNotInSubgroup, "pi_b"},
		{"G1 third coordinate", func(p *Proof) { p.PiA[2] = "2" }, ErrNotAffine, "pi_a[2]"},
		{"G1 infinity", func(p *Proof) { p.PiA = g1Infinity }, ErrNotAffine, "pi_a[2]"},
		{"G2 third coordinate", func(p *Proof) { p.PiB[2] = [2]string{"1", "1"} }, ErrNotAffine, "pi_b[2]"},
		{"G2 infinity", func(p *Proof) { p.PiB = g2Infinity }, ErrNotAffine, "pi_b[2]"},
		{"protocol", func(p *Proof) { p.Protocol = "plonk" }, nil, "protocol"},
		{"curve", func(p *Proof) { p.Curve = "bls12381" }, nil, "curve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := valid
			tc.mutate(&bad)
			_, err := bad.ToGnark()
			checkErr(t, err, tc.want, "export: parse proof: "+tc.field)
		})
	}
}

func TestVerifyingKeyToGnarkRejects(t *testing.T) {
	f := newFixture(t)
	valid, err := FromGnarkVerifyingKey(f.vk)
	if err != nil {
		t.Fatal(err)
	}
	offSubgroup := g2OffSubgroup(t)

	for _, tc := range []struct {
		name   string
		mutate func(*VerifyingKey)
		want   error
		field  string
	}{
		{"IC count", func(vk *VerifyingKey) { vk.NPublic = 3 }, nil, "IC"},
		{"negative nPublic", func(vk *VerifyingKey) { vk.NPublic, vk.IC = -1, nil }, nil, "IC"},
		{"IC not decimal", func(vk *VerifyingKey) { vk.IC = append([][3]string(nil), vk.IC...); vk.IC[2][0] = "x" }, ErrNotDecimal, "IC[2][0]"},
		{"alpha not affine", func(vk *VerifyingKey) { vk.Alpha1[2] = "0" }, ErrNotAffine, "vk_alpha_1[2]"},
		{"gamma not in subgroup", func(vk *VerifyingKey) { vk.Gamma2 = formatG2(&offSubgroup) }, ErrNotInSubgroup, "vk_gamma_2"},
		{"delta out of range", func(vk *VerifyingKey) { vk.Delta2[0][1] = fp.Modulus().String() }, ErrOutOfRange, "vk_delta_2[0][1]"},
		{"alphabeta bad number", func(vk *VerifyingKey) { vk.AlphaBeta12[1][2][0] = "1e3" }, ErrNotDecimal, "vk_alphabeta_12[1][2][0]"},
		{"alphabeta mismatch", func(vk *VerifyingKey) { vk.AlphaBeta12[0][0][0] = "1" }, nil, "vk_alphabeta_12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := valid
			tc.mutate(&bad)
			_, err := bad.ToGnark()
			checkErr(t, err, tc.want, "export: parse verifying key: "+tc.field)
		})
	}

	t.Run("optional alphabeta and infinite IC", func(t *testing.T) {
		vk := valid
		vk.AlphaBeta12 = [2][3][2]string{}
		vk.IC = append([][3]string(nil), vk.IC...)
		vk.IC[1] = g1Infinity
		key, err := vk.ToGnark()
		if err != nil {
			t.Fatal(err)
		}
		if k := key.(*groth16bn254.VerifyingKey).G1.K[1]; !k.IsInfinity() {
			t.Errorf("IC[1] = %v, want infinity", k)
		}
	})
}

func TestPublicWitness(t *testing.T) {
	r := fr.Modulus()
	rMinus1 := new(big.Int).Sub(r, big.NewInt(1)).String()

	for _, tc := range []struct {
		name    string
		signals []string
		want    error // nil: valid
	}{
		{"valid", []string{"0", "35", rMinus1}, nil},
		{"none", []string{}, nil},
		{"letters", []string{"1", "abc"}, ErrNotDecimal},
		{"negative", []string{"1", "-5"}, ErrNotDecimal},
		{"empty", []string{"1", ""}, ErrNotDecimal},
		{"equal to r", []string{"1", r.String()}, ErrOutOfRange},
		{"above r", []string{"1", fp.Modulus().String()}, ErrOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := PublicWitness(tc.signals)
			if tc.want != nil {
				checkErr(t, err, tc.want, "export: public witness: signal 1")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := PublicSignals(w)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back, tc.signals) {
				t.Errorf("signals = %v, want %v", back, tc.signals)
			}
		})
	}
}

func TestRejectsUnsupportedGnarkValues(t *testing.T) {
	_, _, g1, _ := bn254.Generators()
	for _, tc := range []struct {
		name string
		err  func() error
		want error
	}{
		{"proof with commitments", func() error {
			_, err := FromGnarkProof(&groth16bn254.Proof{Commitments: []bn254.G1Affine{g1}})
			return err
		}, ErrCommitments},
		{"proof with commitment PoK", func() error {
			_, err := FromGnarkProof(&groth16bn254.Proof{CommitmentPok: g1})
			return err
		}, ErrCommitments},
		{"key with commitments", func() error {
			vk := &groth16bn254.VerifyingKey{PublicAndCommitmentCommitted: [][]int{{}}}
			vk.G1.K = []bn254.G1Affine{g1}
			_, err := FromGnarkVerifyingKey(vk)
			return err
		}, ErrCommitments},
		{"BLS12-381 proof", func() error {
			_, err := FromGnarkProof(groth16.NewProof(ecc.BLS12_381))
			return err
		}, nil},
		{"nil proof", func() error { _, err := FromGnarkProof(nil); return err }, nil},
		{"nil BN254 proof", func() error { _, err := FromGnarkProof((*groth16bn254.Proof)(nil)); return err }, nil},
		{"BLS12-381 key", func() error {
			_, err := FromGnarkVerifyingKey(groth16.NewVerifyingKey(ecc.BLS12_381))
			return err
		}, nil},
		{"key without IC", func() error { _, err := FromGnarkVerifyingKey(&groth16bn254.VerifyingKey{}); return err }, nil},
		{"nil witness", func() error { _, err := PublicSignals(nil); return err }, nil},
		{"BLS12-381 witness", func() error {
			w, err := witness.New(ecc.BLS12_381.ScalarField())
			if err != nil {
				return nil
			}
			_, err = PublicSignals(w)
			return err
		}, nil},
		{"BLS12-381 solidity", func() error {
			return Solidity(&bytes.Buffer{}, groth16.NewVerifyingKey(ecc.BLS12_381), "V")
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.err(), tc.want, "export: ")
		})
	}
}

func TestSolidity(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if err := Solidity(&buf, f.vk, ContractName("invoice-consistency/v1")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pragma solidity " + SolidityPragma + ";", "contract InvoiceConsistencyV1Verifier {", `assembly ("memory-safe")`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("Solidity output lacks %q", want)
		}
	}
	if strings.Contains(buf.String(), "contract Verifier") || strings.Contains(buf.String(), "^0.8.0") {
		t.Error("the contract keeps gnark's generic name or its too-low pragma")
	}
}

// checkErr fails unless err wraps want (when want is not nil) and its
// message starts with prefix.
func checkErr(t *testing.T, err, want error, prefix string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("no error, want %q…", prefix)
	case want != nil && !errors.Is(err, want):
		t.Errorf("error %q does not wrap %q", err, want)
	case !strings.HasPrefix(err.Error(), prefix):
		t.Errorf("error %q does not start with %q", err, prefix)
	}
}
