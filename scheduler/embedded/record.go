package embedded

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/proofmill/proofmill/errcode"
)

// A record is a job's JSON in an envelope: a version byte, the CRC-32C of
// the key and the JSON, then the JSON. The key is in the sum, so a record
// moved under another job's key fails it too. Records written before
// envelopes are bare JSON (they start with '{') and still read, with no
// sum to check; rewriting a job seals it.
const envelopeV1 = 0x01

const headerLen = 1 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func sum(key, payload []byte) uint32 {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(key)))
	h := crc32.Update(0, castagnoli, n[:])
	h = crc32.Update(h, castagnoli, key)
	return crc32.Update(h, castagnoli, payload)
}

// seal puts a job's JSON in its envelope.
func seal(key, payload []byte) []byte {
	out := make([]byte, headerLen, headerLen+len(payload))
	out[0] = envelopeV1
	binary.BigEndian.PutUint32(out[1:], sum(key, payload))
	return append(out, payload...)
}

// unseal checks a record and returns its JSON; legacy reports a record
// from before envelopes, which has no sum.
func unseal(key, value []byte) (payload []byte, legacy bool, err error) {
	switch {
	case len(value) == 0:
		return nil, false, errors.New("empty record")
	case value[0] == '{':
		return value, true, nil
	case value[0] != envelopeV1:
		return nil, false, fmt.Errorf("unknown record format %#02x", value[0])
	case len(value) < headerLen:
		return nil, false, fmt.Errorf("record cut short at %d bytes", len(value))
	}
	payload = value[headerLen:]
	if want, got := binary.BigEndian.Uint32(value[1:]), sum(key, payload); want != got {
		return nil, false, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	return payload, false, nil
}

// decode checks a record and decodes its JSON into v: a damaged record is
// a CorruptRecord error naming the job.
func decode(key, value []byte, v any) (legacy bool, err error) {
	payload, legacy, err := unseal(key, value)
	if err == nil {
		err = json.Unmarshal(payload, v)
	}
	if err != nil {
		return legacy, damagedRecord(string(key), err)
	}
	return legacy, nil
}

// ErrDamagedRecord is what every damaged record's error matches.
var ErrDamagedRecord = errcode.New(errcode.CorruptRecord, "damaged journal record")

func damagedRecord(id string, why error) error {
	return errcode.Errorf(errcode.CorruptRecord, "job %s: %w: %v; it is not served (`proofmill journal check` lists every damaged record)", id, ErrDamagedRecord, why)
}
