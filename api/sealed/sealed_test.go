package sealed

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/proofmill/proofmill/errcode"
)

const (
	tenant  = "bank-a"
	circuit = "invoice-consistency/v1"
)

var document = []byte(`{"invoice": {"number": "20260302117", "salt": "1316"}}`)

func newKey(t testing.TB) *PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t testing.TB, pub *PublicKey, tenant, circuit string) []byte {
	t.Helper()
	out, err := Seal(pub, tenant, circuit, document)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The constants the README states are crypto/hpke's own.
func TestSuiteIDs(t *testing.T) {
	if got := hpke.MLKEM768X25519().ID(); got != KEMID || KEMID != 0x647A {
		t.Errorf("KEM id %#04x, documented %#04x", got, KEMID)
	}
	if got := hpke.HKDFSHA256().ID(); got != KDFID || KDFID != 0x0001 {
		t.Errorf("KDF id %#04x, documented %#04x", got, KDFID)
	}
	if got := hpke.AES256GCM().ID(); got != AEADID || AEADID != 0x0002 {
		t.Errorf("AEAD id %#04x, documented %#04x", got, AEADID)
	}
	k := newKey(t)
	if got := len(seal(t, k.Public(), tenant, circuit)) - len(document); got != Overhead {
		t.Errorf("sealing adds %d bytes, Overhead says %d", got, Overhead)
	}
	if n := len(k.Public().Bytes()); n != 1216 {
		t.Errorf("public key of %d bytes, documented 1216", n)
	}
}

// The bytes a client in another language must build, as the README shows them.
func TestInfoAndStatementBytes(t *testing.T) {
	if got, want := string(Info("ik1-ab", "bank-a", circuit)), "proofmill sealed input v1\nkey_id: ik1-ab\ntenant: bank-a\ncircuit: invoice-consistency/v1\n"; got != want {
		t.Errorf("info %q, want %q", got, want)
	}
	pub := []byte("public key bytes")
	sum := sha256.Sum256(pub)
	want := "proofmill input key v1\nkey_id: ik1-ab\nsuite: " + Suite + "\npublic_key_sha256: " + hex.EncodeToString(sum[:]) + "\ntenant: \n"
	if got := string(KeyStatement("ik1-ab", Suite, pub, "")); got != want {
		t.Errorf("statement %q, want %q", got, want)
	}
}

func TestKeyID(t *testing.T) {
	k := newKey(t)
	sum := sha256.Sum256(k.Public().Bytes())
	if want := "ik1-" + hex.EncodeToString(sum[:16]); k.ID() != want || k.Public().ID() != want {
		t.Fatalf("id %s (public %s), want %s", k.ID(), k.Public().ID(), want)
	}
	if newKey(t).ID() == k.ID() {
		t.Fatal("two new keys share an id")
	}
}

func TestRoundTrip(t *testing.T) {
	k := newKey(t)
	for _, tenant := range []string{tenant, ""} {
		sealed := seal(t, k.Public(), tenant, circuit)
		if bytes.Contains(sealed, []byte("20260302117")) {
			t.Fatal("the sealed bytes hold the plaintext")
		}
		got, err := k.Open(tenant, circuit, sealed)
		if err != nil || !bytes.Equal(got, document) {
			t.Fatalf("tenant %q: opened %q, %v", tenant, got, err)
		}
	}
	if a, b := seal(t, k.Public(), tenant, circuit), seal(t, k.Public(), tenant, circuit); bytes.Equal(a, b) {
		t.Fatal("sealing twice gave the same bytes")
	}
}

// Whatever is wrong, Open says ErrInvalid, with its code, and never the
// plaintext.
func TestOpenRefuses(t *testing.T) {
	k, other := newKey(t), newKey(t)
	good := seal(t, k.Public(), tenant, circuit)
	flipped := func(i int) []byte {
		c := bytes.Clone(good)
		c[i] ^= 1
		return c
	}
	for _, tc := range []struct {
		name            string
		tenant, circuit string
		data            []byte
	}{
		{"sealed to another key", tenant, circuit, seal(t, other.Public(), tenant, circuit)},
		{"a byte of the encapsulated key flipped", tenant, circuit, flipped(10)},
		{"a byte of the ciphertext flipped", tenant, circuit, flipped(Overhead - 16 + 3)},
		{"a byte of the tag flipped", tenant, circuit, flipped(len(good) - 1)},
		{"truncated", tenant, circuit, good[:len(good)-1]},
		{"shorter than the overhead", tenant, circuit, good[:100]},
		{"empty", tenant, circuit, nil},
		{"another tenant", "bank-b", circuit, good},
		{"no tenant", "", circuit, good},
		{"another circuit", tenant, "abs-pool-16/v1", good},
		{"a line break in the tenant", tenant + "\ncircuit: x", circuit, good},
	} {
		got, err := k.Open(tc.tenant, tc.circuit, tc.data)
		if !errors.Is(err, ErrInvalid) || errcode.Of(err) != errcode.SealedInvalid || got != nil {
			t.Errorf("%s: %q, %v; want ErrInvalid", tc.name, got, err)
			continue
		}
		if strings.Contains(err.Error(), "20260302117") || !strings.Contains(err.Error(), "another tenant or circuit") {
			t.Errorf("%s: message %q", tc.name, err)
		}
	}
}

func TestSealRefusesLineBreaks(t *testing.T) {
	k := newKey(t)
	for _, f := range [][2]string{{"bank-a\n", circuit}, {tenant, circuit + "\r"}} {
		if _, err := Seal(k.Public(), f[0], f[1], document); errcode.Of(err) != errcode.BadRequest || !strings.Contains(err.Error(), "line break") {
			t.Errorf("Seal(%q, %q): %v", f[0], f[1], err)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "input.key")
	if _, err := LoadKey(path); errcode.Of(err) != errcode.InputKeyMissing || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("a missing file: %v", err)
	}
	k, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
			if info, err := os.Stat(p); err != nil || info.Mode().Perm() != want {
				t.Errorf("%s: %v %v, want mode %04o", p, info.Mode(), err, want)
			}
		}
	}
	again, created, err := LoadOrCreateKey(path)
	if err != nil || created || again.ID() != k.ID() {
		t.Fatalf("load: %v %v %v", again, created, err)
	}
	opened, err := again.Open(tenant, circuit, seal(t, k.Public(), tenant, circuit))
	if err != nil || !bytes.Equal(opened, document) {
		t.Fatalf("the loaded key does not open what the created one's public key sealed: %v", err)
	}
	if _, err := CreateKey(path); errcode.Of(err) != errcode.KeysExist {
		t.Fatalf("create over an existing key: %v", err)
	}
	if loaded, err := LoadKey(path); err != nil || loaded.ID() != k.ID() {
		t.Fatalf("the existing key was replaced: %v", err)
	}
}

func TestMalformedKeyFiles(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.key")
	if _, err := CreateKey(good); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		says          string
	}{
		{"not PEM", "hello", 0o600, "want one PEM"},
		{"a public key", string(newKey(t).Public().PEM()), 0o600, "want one PEM"},
		{"a short key", "-----BEGIN PROOFMILL INPUT KEY-----\nAAAA\n-----END PROOFMILL INPUT KEY-----\n", 0o600, "not a " + Suite + " private key (3 bytes)"},
		{"two keys", string(data) + string(data), 0o600, "want one PEM"},
		{"readable by others", string(data), 0o644, "chmod 600"},
	} {
		if tc.mode&0o077 != 0 && runtime.GOOS == "windows" {
			continue
		}
		path := filepath.Join(t.TempDir(), "input.key")
		if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil { // past the umask
			t.Fatal(err)
		}
		_, err := LoadKey(path)
		if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want ErrKeyFile naming %s and saying %q", tc.name, err, path, tc.says)
		}
		if _, _, err := LoadOrCreateKey(path); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: LoadOrCreateKey replaced or took it: %v", tc.name, err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	k := newKey(t)
	for name, data := range map[string][]byte{"PEM": k.Public().PEM(), "raw": k.Public().Bytes()} {
		pub, err := ParsePublicKey(data)
		if err != nil || pub.ID() != k.ID() || !bytes.Equal(pub.Bytes(), k.Public().Bytes()) {
			t.Errorf("%s: %v %v", name, pub, err)
		}
	}
	privatePEM, err := os.ReadFile(mustCreate(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"short": k.Public().Bytes()[:100], "a private key file": privatePEM, "empty": nil} {
		if _, err := ParsePublicKey(data); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustCreate(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input.key")
	if _, err := CreateKey(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A published key verifies under the key that signed its statement, and
// fails when any field, the signature or the signer changes.
func TestVerifyKeyStatement(t *testing.T) {
	signer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	signerPub := signer.Public().(ed25519.PublicKey)
	k, other := newKey(t), newKey(t)
	type published struct {
		id, suite string
		public    []byte
		tenant    string
		sig       []byte
		signer    ed25519.PublicKey
	}
	sign := func(p published) published {
		p.sig = ed25519.Sign(signer, KeyStatement(p.id, p.suite, p.public, p.tenant))
		return p
	}
	good := sign(published{id: k.ID(), suite: Suite, public: k.Public().Bytes(), tenant: tenant, signer: signerPub})
	pub, err := VerifyKeyStatement(good.id, good.suite, good.public, good.tenant, good.sig, good.signer)
	if err != nil || pub.ID() != k.ID() {
		t.Fatalf("a good statement: %v %v", pub, err)
	}
	flipped := bytes.Clone(good.sig)
	flipped[5] ^= 1
	_, wrongSigner, _ := ed25519.GenerateKey(nil)
	for _, tc := range []struct {
		name string
		edit func(p published) published
	}{
		{"key id", func(p published) published { p.id = other.ID(); return p }},
		{"suite", func(p published) published { p.suite = "DHKEM-X25519/HKDF-SHA256/AES-256-GCM"; return p }},
		{"public key", func(p published) published { p.public = other.Public().Bytes(); return p }},
		{"tenant", func(p published) published { p.tenant = "bank-b"; return p }},
		{"signature", func(p published) published { p.sig = flipped; return p }},
		{"signer", func(p published) published { p.signer = wrongSigner.Public().(ed25519.PublicKey); return p }},
		{"no signer", func(p published) published { p.signer = nil; return p }},
		// Signed, but inconsistent: the service signed what it should not.
		{"signed with another key's id", func(p published) published { p.id = other.ID(); return sign(p) }},
		{"signed in another suite", func(p published) published { p.suite = "other"; return sign(p) }},
		{"signed over malformed key bytes", func(p published) published { p.public = p.public[:10]; return sign(p) }},
		{"signed with a line break", func(p published) published { p.tenant = "bank-a\nsuite: x"; return sign(p) }},
	} {
		p := tc.edit(good)
		_, err := VerifyKeyStatement(p.id, p.suite, p.public, p.tenant, p.sig, p.signer)
		if !errors.Is(err, ErrStatement) || errcode.Of(err) != errcode.ReceiptInvalid {
			t.Errorf("%s changed: %v; want ErrStatement", tc.name, err)
		}
	}
}

// An invoice-sized input (about 4 KB), sealed and opened:
//
//	go test ./api/sealed -run '^$' -bench 'Seal|Open'
func BenchmarkSeal(b *testing.B) {
	k := newKey(b)
	doc := bytes.Repeat([]byte("x"), 4096)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Seal(k.Public(), tenant, circuit, doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := newKey(b)
	doc := bytes.Repeat([]byte("x"), 4096)
	sealed, err := Seal(k.Public(), tenant, circuit, doc)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := k.Open(tenant, circuit, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// The README's wire format is this package's: the header lines, the suite,
// the ids and the overhead.
func TestReadmeStatesTheWireFormat(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	indent := func(text string) string {
		return "   " + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n   ") + "\n"
	}
	statement := strings.SplitAfter(string(KeyStatement("<key_id>", Suite, nil, "<tenant>")), "\n")
	info := strings.SplitAfter(string(Info("<key_id>", "", "")), "\n")
	for _, want := range []string{
		indent(strings.Join(statement[:3], "")) + "   public_key_sha256: <hex of SHA-256 over public_key>\n" + indent(statement[4]),
		indent(strings.Join(info[:2], "")) + "   tenant: <",
		"`" + Suite + "`",
		fmt.Sprintf("KEM `0x%04X`", KEMID), fmt.Sprintf("KDF `0x%04X`", KDFID), fmt.Sprintf("AEAD `0x%04X`", AEADID),
		fmt.Sprintf("those %d bytes", Overhead),
	} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("the README does not say:\n%s", want)
		}
	}
}
