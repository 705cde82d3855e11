package hwaccel

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
)

// The isolated-device protocol: length-prefixed JSON frames over the
// child's stdin and stdout. The child first sends a hello naming its
// device; then, one at a time, the parent sends a request and the child a
// response.

const maxFrame = 256 << 20

type hello struct {
	Device Device `json:"device"`
}

type request struct {
	Circuit string `json:"circuit"`
	Witness []byte `json:"witness"` // gnark's binary full witness
}

type response struct {
	Proof       []byte `json:"proof,omitempty"` // gnark's binary proof
	Error       string `json:"error,omitempty"`
	Unsatisfied bool   `json:"unsatisfied,omitempty"` // the error is the statement's, not the device's
}

func writeFrame(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	if _, err := w.Write(append(n[:], data...)); err != nil {
		return err
	}
	return nil
}

func readFrame(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return fmt.Errorf("frame of %d bytes, over %d", size, maxFrame)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// KeyPair is what a device worker proves a circuit with.
type KeyPair struct {
	CCS constraint.ConstraintSystem
	PK  groth16.ProvingKey
}

// KeySource gives a device worker a circuit's constraint system and
// proving key.
type KeySource func(circuit string) (KeyPair, error)

// ServeIsolated is the child's side: it says hello, then proves each
// request on b until in ends or ctx is done. Proofs are not verified here;
// the parent does that on its CPU.
func ServeIsolated(ctx context.Context, in io.Reader, out io.Writer, b Backend, dev Device, keys KeySource) error {
	if err := writeFrame(out, hello{Device: dev}); err != nil {
		return fmt.Errorf("hwaccel: hello: %w", err)
	}
	for ctx.Err() == nil {
		var req request
		if err := readFrame(in, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the parent is done with us
			}
			return fmt.Errorf("hwaccel: read request: %w", err)
		}
		if err := writeFrame(out, prove(ctx, b, keys, req)); err != nil {
			return fmt.Errorf("hwaccel: write response: %w", err)
		}
	}
	return ctx.Err()
}

func prove(ctx context.Context, b Backend, keys KeySource, req request) response {
	k, err := keys(req.Circuit)
	if err != nil {
		return response{Error: fmt.Sprintf("keys for %s: %v", req.Circuit, err)}
	}
	full, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return response{Error: err.Error()}
	}
	if err := full.UnmarshalBinary(req.Witness); err != nil {
		return response{Error: fmt.Sprintf("witness: %v", err)}
	}
	res, err := b.Prove(ctx, Job{Circuit: req.Circuit, CCS: k.CCS, PK: k.PK, Witness: full})
	if err != nil {
		return response{Error: err.Error(), Unsatisfied: !errors.Is(err, ErrDevice)}
	}
	var buf bytes.Buffer
	if _, err := res.Proof.WriteTo(&buf); err != nil {
		return response{Error: fmt.Sprintf("encode proof: %v", err)}
	}
	return response{Proof: buf.Bytes()}
}
