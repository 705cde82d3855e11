package prover

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Sizes in gnark's proving-key dump (ProvingKey.WriteDump, raw points).
const (
	dumpG1       = 64 // a raw G1 point, and unsafe.Sizeof(bn254.G1Affine)
	dumpG2       = 128
	dumpDomain   = 8 + 5*fr.Bytes + 1 // cardinality, five field elements, precompute flag
	dumpMaxCard  = 1 << 28            // BN254's two-adicity: no larger FFT domain exists
	dumpPointTop = 0b11 << 6          // a point's flag bits; 0 for a raw (uncompressed) point
)

// checkDump walks the length fields of a proving-key dump without
// decoding it, and checks that each fits in what is left of the file, that
// together they account for every byte, and that the FFT domain is the
// circuit's (ReadDump precomputes its twiddles). gnark's ReadDump
// allocates whatever those fields say before reading: a corrupt one makes
// it panic (makeslice) or exhaust memory.
func checkDump(r io.ReaderAt, size int64, domain uint64) error {
	c := dumpCursor{r: r, size: size}
	c.skip(8, "marker")
	card := c.peek(8, "domain")
	if c.err != nil {
		return c.err
	}
	if n := binary.BigEndian.Uint64(card); n != domain || n > dumpMaxCard {
		return fmt.Errorf("domain of %d, the circuit's is %d", n, domain)
	}
	c.skip(dumpDomain, "domain")
	for i, n := range []int{dumpG1, dumpG1, dumpG1, dumpG2, dumpG2} {
		if p := c.peek(1, "point"); p != nil && p[0]&dumpPointTop != 0 {
			return fmt.Errorf("point %d at byte %d is not raw", i, c.off)
		}
		c.skip(uint64(n), "point")
	}
	wires := c.uint64BE("wire count")
	c.skip(16, "infinity counts")
	c.skip(wires, "infinity flags of A")
	c.skip(wires, "infinity flags of B")
	commitments := uint64(0)
	if b := c.peek(4, "commitment count"); b != nil {
		commitments = uint64(binary.BigEndian.Uint32(b))
	}
	c.skip(4, "commitment count")
	for _, s := range []struct {
		name string
		size uint64
	}{{"G1.A", dumpG1}, {"G1.B", dumpG1}, {"G1.Z", dumpG1}, {"G1.K", dumpG1}, {"G2.B", dumpG2}} {
		c.slice(s.name, s.size)
	}
	for i := uint64(0); i < commitments && c.err == nil; i++ {
		c.slice("commitment basis", dumpG1)
		c.slice("commitment basis", dumpG1)
	}
	if c.err != nil {
		return c.err
	}
	if c.off != size {
		return fmt.Errorf("%d bytes after the last field", size-c.off)
	}
	return nil
}

// dumpCursor reads length fields at an offset; the first error sticks.
type dumpCursor struct {
	r         io.ReaderAt
	off, size int64
	err       error
}

func (c *dumpCursor) fail(what string, n uint64) {
	if c.err == nil {
		c.err = fmt.Errorf("%s at byte %d: %d bytes, %d left in the file", what, c.off, n, c.size-c.off)
	}
}

func (c *dumpCursor) skip(n uint64, what string) {
	if c.err != nil {
		return
	}
	if n > math.MaxInt64 || int64(n) > c.size-c.off {
		c.fail(what, n)
		return
	}
	c.off += int64(n)
}

// peek reads n bytes at the cursor without moving it; nil after an error.
func (c *dumpCursor) peek(n int, what string) []byte {
	if c.err != nil {
		return nil
	}
	if int64(n) > c.size-c.off {
		c.fail(what, uint64(n))
		return nil
	}
	b := make([]byte, n)
	if _, err := c.r.ReadAt(b, c.off); err != nil {
		c.err = fmt.Errorf("%s at byte %d: %w", what, c.off, err)
		return nil
	}
	return b
}

func (c *dumpCursor) uint64BE(what string) uint64 {
	b := c.peek(8, what)
	c.skip(8, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// slice skips a dumped slice: a little-endian count, then count elements.
func (c *dumpCursor) slice(what string, elem uint64) {
	b := c.peek(8, what)
	c.skip(8, what)
	if b == nil {
		return
	}
	n := binary.LittleEndian.Uint64(b)
	if n > math.MaxInt64/elem {
		c.fail(what, math.MaxUint64)
		return
	}
	c.skip(n*elem, what)
}
