// Package receipt defines proofmill's signed proof receipts: the bytes the
// service signs with Ed25519 for every succeeded job, and their check. Both
// the server and the client use it; it depends on nothing but the API and
// the error codes.
package receipt

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/newfile"
)

var (
	// ErrMissing: the job has no receipt (it did not succeed, or the server
	// signs none).
	ErrMissing = errcode.New(errcode.ReceiptInvalid, "receipt: missing")
	// ErrInvalid: the receipt does not match the job, or its signature does
	// not verify under the key.
	ErrInvalid = errcode.New(errcode.ReceiptInvalid, "receipt: invalid")
)

// header starts every signed payload; it names the format's version.
const header = "proofmill receipt v2"

// Statement is what a receipt vouches for: a proof that its signer verified,
// for one job. The signer states the time and its version.
type Statement struct {
	Job, Tenant, Circuit string
	VerifyingKey         string // hex SHA-256 of the verifying key the proof verified against
	Backend              string // the device that proved it
	PublicInputs         []*pb.PublicInput
	Proof                []byte // the proof file, as served
}

// fields are what a receipt covers, in the order they are signed.
type fields struct {
	job, tenant, circuit, verifyingKey, publicInputs, proof, backend, signedAt, version string
}

// payload is the exact byte string signed: the header, then one
// "name: value" line per field. Values may not hold line breaks, so the
// encoding is unambiguous; only the tenant may be empty.
func (f fields) payload() ([]byte, error) {
	lines := []string{header}
	for _, kv := range [][2]string{
		{"job", f.job}, {"tenant", f.tenant}, {"circuit", f.circuit}, {"verifying_key_sha256", f.verifyingKey},
		{"public_inputs_sha256", f.publicInputs}, {"proof_sha256", f.proof}, {"backend", f.backend},
		{"signed_at", f.signedAt}, {"proofmill_version", f.version},
	} {
		if (kv[1] == "" && kv[0] != "tenant") || strings.ContainsAny(kv[1], "\r\n") {
			return nil, fmt.Errorf("%w: %s is empty or holds a line break", ErrInvalid, kv[0])
		}
		lines = append(lines, kv[0]+": "+kv[1])
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

func statementFields(st Statement, r *pb.Receipt) fields {
	return fields{job: st.Job, tenant: st.Tenant, circuit: st.Circuit, verifyingKey: st.VerifyingKey,
		publicInputs: PublicInputsHash(st.PublicInputs), proof: ProofHash(st.Proof), backend: st.Backend,
		signedAt: r.GetSignedAt(), version: r.GetProofmillVersion()}
}

// JobStatement is the statement a served job claims, with the tenant its
// receipt names.
func JobStatement(j *pb.Job) Statement {
	return Statement{Job: j.GetId(), Tenant: j.GetReceipt().GetTenant(), Circuit: j.GetCircuit(),
		VerifyingKey: j.GetVerifyingKeySha256(), Backend: j.GetBackend(), PublicInputs: j.GetPublicInputs(),
		Proof: j.GetProofJson()}
}

// PublicInputsHash is the hex SHA-256 of "name=value\n" per input, in order.
func PublicInputsHash(in []*pb.PublicInput) string {
	h := sha256.New()
	for _, p := range in {
		fmt.Fprintf(h, "%s=%s\n", p.GetName(), p.GetValue())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ProofHash is the hex SHA-256 of the proof file as sent.
func ProofHash(proofJSON []byte) string {
	sum := sha256.Sum256(proofJSON)
	return hex.EncodeToString(sum[:])
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Signer signs receipts with the service's key.
type Signer struct {
	key     ed25519.PrivateKey
	id      string
	version string
}

// NewSigner signs as key, stating version as the proofmill version.
func NewSigner(key ed25519.PrivateKey, version string) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey)), version: version}
}

// PublicKey is the key receipts verify under.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// KeyID names the signing key.
func (s *Signer) KeyID() string { return s.id }

// Sign makes the receipt for a statement whose proof was just verified,
// dated at.
func (s *Signer) Sign(st Statement, at time.Time) (*pb.Receipt, error) {
	r := &pb.Receipt{KeyId: s.id, ProofmillVersion: s.version, Tenant: st.Tenant,
		SignedAt: at.UTC().Format(time.RFC3339Nano)}
	f := statementFields(st, r)
	payload, err := f.payload()
	if err != nil {
		return nil, err
	}
	r.PublicInputsSha256, r.ProofSha256, r.Signature = f.publicInputs, f.proof, ed25519.Sign(s.key, payload)
	return r, nil
}

// SignMessage signs msg, a statement other than a receipt (a published
// input key, package api/sealed), with the service key. Each such format
// has a first line of its own, so nothing signed here reads as a receipt;
// a message starting like one is refused with a panic, as a bug.
func (s *Signer) SignMessage(msg []byte) []byte {
	if strings.HasPrefix(string(msg), "proofmill receipt ") {
		panic("receipt: SignMessage of a message that starts as a receipt")
	}
	return ed25519.Sign(s.key, msg)
}

// Verify checks j's receipt under pub: the hashes are recomputed from the
// job's public inputs and proof, so a changed proof, input, circuit, key
// hash, backend or job id fails as surely as a changed signature.
func Verify(j *pb.Job, pub ed25519.PublicKey) error {
	if j.GetReceipt() == nil {
		return fmt.Errorf("%w for job %s", ErrMissing, j.GetId())
	}
	return Check(JobStatement(j), j.GetReceipt(), pub)
}

// Check verifies that r, signed under pub, vouches for st.
func Check(st Statement, r *pb.Receipt, pub ed25519.PublicKey) error {
	if r == nil {
		return fmt.Errorf("%w for job %s", ErrMissing, st.Job)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key of %d bytes", ErrInvalid, len(pub))
	}
	if r.GetKeyId() != KeyID(pub) {
		return fmt.Errorf("%w: signed by key %s, not %s", ErrInvalid, r.GetKeyId(), KeyID(pub))
	}
	if r.GetTenant() != st.Tenant {
		return fmt.Errorf("%w: signed for tenant %q, not %q", ErrInvalid, r.GetTenant(), st.Tenant)
	}
	f := statementFields(st, r)
	if f.publicInputs != r.GetPublicInputsSha256() || f.proof != r.GetProofSha256() {
		return fmt.Errorf("%w: the job's proof or public inputs differ from the ones signed", ErrInvalid)
	}
	payload, err := f.payload()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, payload, r.GetSignature()) {
		return fmt.Errorf("%w: bad signature on job %s", ErrInvalid, st.Job)
	}
	return nil
}

// LoadOrCreateKey reads an Ed25519 private key (PKCS #8 PEM) from path, or
// creates one there (mode 0600) if the file does not exist.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, false, fmt.Errorf("receipt: key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, false, fmt.Errorf("receipt: key: %w", err)
		}
		if err := newfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, false, fmt.Errorf("receipt: key: %w", err)
		}
		return key, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("receipt: key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, false, fmt.Errorf("receipt: key %s: not a PEM private key", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, false, fmt.Errorf("receipt: key %s: %w", path, err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, false, fmt.Errorf("receipt: key %s: not an Ed25519 key", path)
	}
	return key, false, nil
}

// ParsePublicKey reads a public key as GetServiceKey's bytes written in
// hex, or as a PKIX PEM block.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("receipt: public key: %w", err)
		}
		if pub, ok := parsed.(ed25519.PublicKey); ok {
			return pub, nil
		}
		return nil, errors.New("receipt: public key: not Ed25519")
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("receipt: public key: want %d bytes in hex, or PEM", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}
