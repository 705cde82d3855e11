// Package sealed seals a client's input end to end to an input key, so that
// the server and the queue (Redis, the journal) carry it without reading
// it: only a worker holding the key's private half opens it. It depends on
// nothing but the standard library and the error codes.
//
// The suite is HPKE (RFC 9180, crypto/hpke) in base mode, single shot,
// with no AAD: KEM MLKEM768-X25519 (X-Wing, draft-ietf-hpke-pq; HPKE KEM
// id 0x647A), KDF HKDF-SHA256 (0x0001), AEAD AES-256-GCM (0x0002). A sealed
// input is the encapsulated key (1120 bytes) followed by the ciphertext
// (the plaintext's length plus a 16-byte tag). The plaintext is exactly the
// circuit's JSON input, the bytes input_json would carry.
//
// HPKE's info binds the key id, the tenant and the circuit (see Info), so
// a sealed input copied into another tenant's or circuit's submission does
// not open.
//
// An input key's id is "ik1-" and the first 16 bytes of the SHA-256 of its
// public key (HPKE's SerializePublicKey, 1216 bytes), in hex. The service
// publishes the key with its receipt key's Ed25519 signature over
// KeyStatement; clients check it with VerifyKeyStatement before sealing.
//
// Key files are PEM: "PROOFMILL INPUT KEY" holds the KEM's private key
// (SerializePrivateKey, the 32-byte seed), mode 0600; "PROOFMILL INPUT
// PUBLIC KEY" holds the public key.
package sealed
