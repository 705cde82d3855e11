package prover

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	cmpcsetup "github.com/consensys/gnark-crypto/ecc/bn254/mpcsetup"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/errcode"
)

// ErrCeremony: a ceremony file is malformed, out of order, or does not
// verify.
var ErrCeremony = errcode.New(errcode.Ceremony, "ceremony")

// A ceremony is a Groth16 MPC setup of one circuit (gnark's mpcsetup),
// kept in a folder the parties pass from one to the next:
//
//	ceremony.json        the circuit, its size, the phase
//	phase1/0000.bin …    phase 1 (powers of τ for the circuit's domain);
//	                     0000 is the starting point, each later file one
//	                     party's contribution
//	srs.bin              phase 1 sealed with a public random beacon
//	phase2/0000.bin …    phase 2 (the circuit's δ), the same way
//
// Each party runs Contribute once per phase, and keeps its randomness to
// itself (gnark draws it and forgets it). The keys are sound if one party
// was honest. Anyone can rerun Verify over the folder.
type Ceremony struct {
	Dir   string
	State CeremonyState
	ccs   *cs.R1CS
	read  map[string]string // file → SHA-256 of what was read and checked
}

// CeremonyState is ceremony.json.
type CeremonyState struct {
	Circuit      string `json:"circuit"`
	Constraints  int    `json:"constraints"`
	Domain       uint64 `json:"domain"`
	Phase        int    `json:"phase"`                   // 1, then 2 once phase 1 is sealed
	Phase1Beacon string `json:"phase1_beacon,omitempty"` // hex
}

func ceremonyErr(format string, args ...any) error {
	return fmt.Errorf("prover: %w: %s", ErrCeremony, fmt.Sprintf(format, args...))
}

// NewCeremony starts a ceremony for c in dir, which must not hold one.
func NewCeremony(dir string, c *circuits.Circuit) (*Ceremony, error) {
	if _, err := os.Stat(filepath.Join(dir, "ceremony.json")); err == nil {
		return nil, ceremonyErr("%s already holds a ceremony", dir)
	}
	ccs, err := compileR1CS(c)
	if err != nil {
		return nil, err
	}
	cer := &Ceremony{Dir: dir, ccs: ccs, State: CeremonyState{Circuit: c.ID, Constraints: ccs.GetNbConstraints(),
		Domain: ecc.NextPowerOfTwo(uint64(ccs.GetNbConstraints())), Phase: 1}}
	if _, err := cer.write(cer.file(1, 0), mpcsetup.NewPhase1(cer.State.Domain)); err != nil {
		return nil, err
	}
	return cer, cer.saveState()
}

// OpenCeremony reads the ceremony in dir; c must be its circuit.
func OpenCeremony(dir string, c *circuits.Circuit) (*Ceremony, error) {
	data, err := os.ReadFile(filepath.Join(dir, "ceremony.json"))
	if err != nil {
		return nil, fmt.Errorf("prover: ceremony: %w", err)
	}
	cer := &Ceremony{Dir: dir}
	if err := json.Unmarshal(data, &cer.State); err != nil {
		return nil, ceremonyErr("ceremony.json: %v", err)
	}
	if cer.State.Circuit != c.ID {
		return nil, ceremonyErr("the ceremony in %s is for %s, not %s", dir, cer.State.Circuit, c.ID)
	}
	if cer.ccs, err = compileR1CS(c); err != nil {
		return nil, err
	}
	if n := cer.ccs.GetNbConstraints(); n != cer.State.Constraints || cer.State.Domain != ecc.NextPowerOfTwo(uint64(n)) {
		return nil, ceremonyErr("%s has %d constraints now, the ceremony was for %d", c.ID, n, cer.State.Constraints)
	}
	return cer, nil
}

func compileR1CS(c *circuits.Circuit) (*cs.R1CS, error) {
	ccs, err := Compile(c)
	if err != nil {
		return nil, err
	}
	r, ok := ccs.(*cs.R1CS)
	if !ok {
		return nil, fmt.Errorf("prover: %s is not a BN254 R1CS", c.ID)
	}
	return r, nil
}

func (c *Ceremony) saveState() error {
	data, err := json.MarshalIndent(c.State, "", "  ")
	if err != nil {
		return err
	}
	_, err = writeFile(filepath.Join(c.Dir, "ceremony.json"), func(w io.Writer) error { _, err := w.Write(data); return err })
	return err
}

func (c *Ceremony) file(phase, i int) string {
	return filepath.Join(c.Dir, fmt.Sprintf("phase%d", phase), fmt.Sprintf("%04d.bin", i))
}

// files lists a phase's files in order; the first is the starting point.
func (c *Ceremony) files(phase int) []string {
	var out []string
	for i := 0; ; i++ {
		if _, err := os.Stat(c.file(phase, i)); err != nil {
			return out
		}
		out = append(out, c.file(phase, i))
	}
}

// write writes a new file and returns its SHA-256.
func (c *Ceremony) write(path string, v io.WriterTo) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("prover: ceremony: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return "", ceremonyErr("%s exists: another party contributed meanwhile", path)
	}
	return writeFile(path, func(w io.Writer) error { _, err := v.WriteTo(w); return err })
}

// Contribute adds this party's randomness to the current phase, after
// checking the latest contribution against the one before it, and returns
// the new file and its SHA-256 (for the party to publish).
func (c *Ceremony) Contribute() (string, string, error) {
	files := c.files(c.State.Phase)
	if len(files) == 0 {
		return "", "", ceremonyErr("phase %d has no starting point", c.State.Phase)
	}
	last := files[len(files)-1]
	files2 := files[max(0, len(files)-2):] // the latest, and the one it follows
	var next io.WriterTo
	switch c.State.Phase {
	case 1:
		chain, err := c.readPhase1(files2)
		if err != nil {
			return "", "", err
		}
		if next, err = extend(chain, last); err != nil {
			return "", "", err
		}
	case 2:
		_, start, err := c.phase2Start()
		if err != nil {
			return "", "", err
		}
		chain, err := c.readPhase2(files2, start)
		if err != nil {
			return "", "", err
		}
		if next, err = extend(chain, last); err != nil {
			return "", "", err
		}
	default:
		return "", "", ceremonyErr("phase %d", c.State.Phase)
	}
	path := c.file(c.State.Phase, len(files))
	sum, err := c.write(path, next)
	return path, sum, err
}

// extend checks the latest contribution against the one before it (when
// there is one), then adds this party's.
func extend[T interface {
	Verify(T) error
	Contribute()
}](chain []T, last string) (T, error) {
	next := chain[len(chain)-1]
	if len(chain) == 2 {
		if err := chain[0].Verify(next); err != nil {
			var none T
			return none, ceremonyErr("%s: %v", last, err)
		}
	}
	next.Contribute()
	return next, nil
}

// SealPhase1 verifies every phase-1 contribution, seals phase 1 with a
// public random beacon (chosen after the last contribution, e.g. a future
// block hash), writes srs.bin and phase 2's starting point.
func (c *Ceremony) SealPhase1(beacon []byte) error {
	if c.State.Phase != 1 {
		return ceremonyErr("phase 1 is sealed already")
	}
	commons, err := c.phase1(beacon)
	if err != nil {
		return err
	}
	if _, err := c.write(filepath.Join(c.Dir, "srs.bin"), &commons); err != nil {
		return err
	}
	var start mpcsetup.Phase2
	start.Initialize(c.ccs, &commons)
	if _, err := c.write(c.file(2, 0), &start); err != nil {
		return err
	}
	c.State.Phase, c.State.Phase1Beacon = 2, hex.EncodeToString(beacon)
	return c.saveState()
}

// phase1 verifies the phase-1 chain and seals it.
func (c *Ceremony) phase1(beacon []byte) (mpcsetup.SrsCommons, error) {
	files := c.files(1)
	if len(files) < 2 {
		return mpcsetup.SrsCommons{}, ceremonyErr("phase 1 has no contribution yet")
	}
	chain, err := c.readPhase1(files)
	if err != nil {
		return mpcsetup.SrsCommons{}, err
	}
	if !bytes.Equal(encode(chain[0]), encode(mpcsetup.NewPhase1(c.State.Domain))) {
		return mpcsetup.SrsCommons{}, ceremonyErr("%s is not phase 1's starting point", files[0])
	}
	commons, err := mpcsetup.VerifyPhase1(c.State.Domain, beacon, chain[1:]...)
	if err != nil {
		return mpcsetup.SrsCommons{}, ceremonyErr("phase 1: %v", err)
	}
	return commons, nil
}

// Verify checks the whole ceremony (both chains, srs.bin and both
// beacons), seals phase 2 with beacon, and returns the circuit's keys,
// their manifest naming the transcript's hash.
func (c *Ceremony) Verify(beacon []byte) (*Keys, error) {
	if c.State.Phase != 2 {
		return nil, ceremonyErr("phase 1 is not sealed yet")
	}
	beacon1, err := hex.DecodeString(c.State.Phase1Beacon)
	if err != nil {
		return nil, ceremonyErr("phase1_beacon: %v", err)
	}
	commons, err := c.phase1(beacon1)
	if err != nil {
		return nil, err
	}
	srs, start, err := c.phase2Start()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(encode(srs), encode(&commons)) {
		return nil, ceremonyErr("srs.bin is not phase 1 sealed with its beacon")
	}
	files := c.files(2)
	if len(files) < 2 {
		return nil, ceremonyErr("phase 2 has no contribution yet")
	}
	chain, err := c.readPhase2(files, start)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(encode(chain[0]), encode(start)) {
		return nil, ceremonyErr("%s is not phase 2's starting point", files[0])
	}
	pk, vk, err := mpcsetup.VerifyPhase2(c.ccs, &commons, beacon, chain[1:]...)
	if err != nil {
		return nil, ceremonyErr("phase 2: %v", err)
	}
	transcript, err := c.transcript(beacon)
	if err != nil {
		return nil, err
	}
	return &Keys{CCS: c.ccs, PK: pk, VK: vk, transcript: c.transcriptFiles(), Manifest: Manifest{Origin: OriginCeremony, Created: time.Now().UTC(),
		Ceremony: &CeremonyRecord{Transcript: transcript, Beacon: hex.EncodeToString(beacon),
			Contributions: [2]int{len(c.files(1)) - 1, len(files) - 1}}}}, nil
}

// transcriptFiles are the files Verify reads, by path relative to Dir: what
// the key store keeps so that production can verify the keys again.
func (c *Ceremony) transcriptFiles() map[string]string {
	out := map[string]string{"ceremony.json": filepath.Join(c.Dir, "ceremony.json")}
	for _, f := range append(append(c.files(1), filepath.Join(c.Dir, "srs.bin")), c.files(2)...) {
		if rel, err := filepath.Rel(c.Dir, f); err == nil {
			out[filepath.ToSlash(rel)] = f
		}
	}
	return out
}

// CeremonyRecord is what a key store manifest says of a ceremony.
type CeremonyRecord struct {
	Transcript    string `json:"transcript_sha256"` // of every file in order, and the beacons
	Contributions [2]int `json:"contributions"`     // per phase
	// Beacon is phase 2's beacon, in hex (phase 1's is in ceremony.json):
	// with the transcript kept in the key store's ceremony/ folder, enough
	// to verify the keys again.
	Beacon string `json:"beacon,omitempty"`
}

// transcript hashes every file's hash in order, then the beacons. Verify
// has read and checked every file; their hashes are of those very bytes.
func (c *Ceremony) transcript(beacon []byte) (string, error) {
	h := sha256.New()
	files := append(c.files(1), filepath.Join(c.Dir, "srs.bin"))
	for _, f := range append(files, c.files(2)...) {
		sum, ok := c.read[f]
		if !ok {
			return "", ceremonyErr("%s was not verified", f)
		}
		rel, err := filepath.Rel(c.Dir, f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %s\n", filepath.ToSlash(rel), sum)
	}
	fmt.Fprintf(h, "beacon1 %s\nbeacon2 %s\n", c.State.Phase1Beacon, hex.EncodeToString(beacon))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func encode(v io.WriterTo) []byte {
	var b bytes.Buffer
	if _, err := v.WriteTo(&b); err != nil {
		panic(err) // writing to memory
	}
	return b.Bytes()
}

// Reading ceremony files: gnark's decoders allocate what length fields
// inside a file say before reading the data, so each file is first checked
// against the shape of the starting point (the same size but for the
// challenge, and the same length fields); only then is it decoded.

// challengeSize is the hash each contribution records of the one before.
const challengeSize = sha256.Size

// sameShape checks data against ref, a starting point (no challenge) of
// the same kind: data has no challenge or a 32-byte one, and the bytes at
// each length field are ref's.
func sameShape(name string, data, ref []byte, fields [][2]int) error {
	body := len(ref)
	if len(data) != body && len(data) != body+challengeSize {
		return ceremonyErr("%s: %d bytes, want %d or %d", name, len(data), body, body+challengeSize)
	}
	for _, f := range fields {
		if !bytes.Equal(data[f[0]:f[0]+f[1]], ref[f[0]:f[0]+f[1]]) {
			return ceremonyErr("%s: a length field at byte %d differs from the ceremony's", name, f[0])
		}
	}
	return nil
}

// phase1DomainAt is where a phase-1 file holds its domain size: after
// three fixed-size update proofs.
var phase1DomainAt = 3 * len(encode(&cmpcsetup.UpdateProof{}))

func (c *Ceremony) readPhase1(files []string) ([]*mpcsetup.Phase1, error) {
	ref := encode(mpcsetup.NewPhase1(c.State.Domain))
	out := make([]*mpcsetup.Phase1, 0, len(files))
	for _, f := range files {
		data, err := c.readBounded(f, len(ref)+challengeSize)
		if err != nil {
			return nil, err
		}
		if err := sameShape(f, data, ref, [][2]int{{phase1DomainAt, 8}}); err != nil {
			return nil, err
		}
		p := new(mpcsetup.Phase1)
		if _, err := p.ReadFrom(bytes.NewReader(data)); err != nil {
			return nil, ceremonyErr("%s: %v", f, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// phase2Start is phase 2's starting point, from srs.bin and the circuit.
func (c *Ceremony) phase2Start() (*mpcsetup.SrsCommons, *mpcsetup.Phase2, error) {
	path := filepath.Join(c.Dir, "srs.bin")
	// Phase 1's encoding without its proofs and its (empty, one-byte) challenge.
	size := len(encode(mpcsetup.NewPhase1(c.State.Domain))) - phase1DomainAt - 1
	data, err := c.readBounded(path, size)
	if err != nil {
		return nil, nil, err
	}
	if len(data) != size || binary.BigEndian.Uint64(data) != c.State.Domain {
		return nil, nil, ceremonyErr("srs.bin: not phase 1's result for a domain of %d", c.State.Domain)
	}
	commons := new(mpcsetup.SrsCommons)
	if _, err := commons.ReadFrom(bytes.NewReader(data)); err != nil {
		return nil, nil, ceremonyErr("srs.bin: %v", err)
	}
	start := new(mpcsetup.Phase2)
	start.Initialize(c.ccs, commons)
	return commons, start, nil
}

// readPhase2 reads phase-2 files shaped like start.
func (c *Ceremony) readPhase2(files []string, start *mpcsetup.Phase2) ([]*mpcsetup.Phase2, error) {
	ref := encode(start)
	// Layout without commitments: count (2), δ₁ (32), |PKK| (4), PKK, |Z| (4), Z, …
	// (the challenge at the end has a one-byte length, so at most 255 bytes)
	if binary.BigEndian.Uint16(ref) != 0 {
		return nil, ceremonyErr("%s has commitments; proofmill's circuits have none", c.State.Circuit)
	}
	zAt := 38 + 32*int(binary.BigEndian.Uint32(ref[34:]))
	out := make([]*mpcsetup.Phase2, 0, len(files))
	for _, f := range files {
		data, err := c.readBounded(f, len(ref)+challengeSize)
		if err != nil {
			return nil, err
		}
		if err := sameShape(f, data, ref, [][2]int{{0, 2}, {34, 4}, {zAt, 4}}); err != nil {
			return nil, err
		}
		p := new(mpcsetup.Phase2)
		if _, err := p.ReadFrom(bytes.NewReader(data)); err != nil {
			return nil, ceremonyErr("%s: %v", f, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// readBounded reads a file of at most limit bytes, and notes its hash.
func (c *Ceremony) readBounded(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prover: ceremony: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("prover: ceremony: %w", err)
	}
	if len(data) > limit {
		return nil, ceremonyErr("%s: over %d bytes", path, limit)
	}
	if c.read == nil {
		c.read = map[string]string{}
	}
	sum := sha256.Sum256(data)
	c.read[path] = hex.EncodeToString(sum[:])
	return data, nil
}

// CeremonySteps are the steps of a ceremony, in order; each names what it does.
var CeremonySteps = []struct{ Name, Does string }{
	{"init", "Start a ceremony for a circuit in an empty folder"},
	{"contribute", "Add this party's contribution to the current phase"},
	{"seal", "Verify phase 1 and seal it with a public random beacon; phase 2 follows"},
	{"verify", "Verify the whole ceremony, sealed with the phase 2 beacon"},
}

// CeremonyStep runs one step of the ceremony of c in dir and says what it
// did, for a person. beacon is for seal (phase 1's) and verify (phase
// 2's); verify returns the keys the ceremony made.
func CeremonyStep(step, dir string, c *circuits.Circuit, beacon []byte) (string, *Keys, error) {
	start := time.Now()
	took := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	if step == "init" {
		cer, err := NewCeremony(dir, c)
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("%s: ceremony started in %s: %d constraints, domain %d; now each party runs keys ceremony contribute",
			c.ID, dir, cer.State.Constraints, cer.State.Domain), nil, nil
	}
	cer, err := OpenCeremony(dir, c)
	if err != nil {
		return "", nil, err
	}
	switch step {
	case "contribute":
		path, sum, err := cer.Contribute()
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("phase %d contribution %s, sha256 %s (%s); publish the hash, pass the folder on", cer.State.Phase, path, sum, took()), nil, nil
	case "seal":
		if err := cer.SealPhase1(beacon); err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("phase 1 verified and sealed (%s); phase 2 contributions next", took()), nil, nil
	case "verify":
		k, err := cer.Verify(beacon)
		if err != nil {
			return "", nil, err
		}
		rec := k.Manifest.Ceremony
		return fmt.Sprintf("%s: ceremony verified: %d + %d contributions, transcript sha256 %s (%s)",
			c.ID, rec.Contributions[0], rec.Contributions[1], rec.Transcript, took()), k, nil
	}
	return "", nil, fmt.Errorf("prover: unknown ceremony step %q", step)
}
