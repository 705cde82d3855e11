package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/proofmill/proofmill/prover"
)

// runCeremony is `keys ceremony init|contribute|seal|verify`: a Groth16
// MPC setup of one circuit, over a folder passed between the parties.
func runCeremony(_ context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: keys ceremony init | contribute | seal | verify", errUsage)
	}
	step := args[0]
	fs, keysDir := flags(e, "keys ceremony "+step)
	id := fs.String("circuit", "", "circuit `id`")
	dir := fs.String("dir", "", "ceremony `folder`")
	beacon := fs.String("beacon", "", "public random beacon, in hex, fixed after the last contribution (seal: for phase 1; verify, import: for phase 2)")
	force := fs.Bool("force", false, "import: replace keys already in the key store")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	c, err := lookup(*id)
	if err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("%w: --dir is required", errUsage)
	}
	readBeacon := func() ([]byte, error) {
		b, err := hex.DecodeString(*beacon)
		if err != nil || len(b) < 16 {
			return nil, fmt.Errorf("%w: --beacon: at least 16 bytes in hex", errUsage)
		}
		return b, nil
	}
	start := time.Now()
	if step == "init" {
		cer, err := prover.NewCeremony(*dir, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ceremony started in %s: %d constraints, domain %d; now each party runs keys ceremony contribute\n",
			c.ID, *dir, cer.State.Constraints, cer.State.Domain)
		return nil
	}
	cer, err := prover.OpenCeremony(*dir, c)
	if err != nil {
		return err
	}
	switch step {
	case "contribute":
		path, sum, err := cer.Contribute()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "phase %d contribution %s, sha256 %s (%s); publish the hash, pass the folder on\n",
			cer.State.Phase, path, sum, time.Since(start).Round(time.Millisecond))
	case "seal":
		b, err := readBeacon()
		if err != nil {
			return err
		}
		if err := cer.SealPhase1(b); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "phase 1 verified and sealed (%s); phase 2 contributions next\n", time.Since(start).Round(time.Millisecond))
	case "verify", "import":
		b, err := readBeacon()
		if err != nil {
			return err
		}
		k, err := cer.Verify(b)
		if err != nil {
			return err
		}
		rec := k.Manifest.Ceremony
		fmt.Fprintf(e.stdout, "%s: ceremony verified: %d + %d contributions, transcript sha256 %s (%s)\n",
			c.ID, rec.Contributions[0], rec.Contributions[1], rec.Transcript, time.Since(start).Round(time.Millisecond))
		if step == "verify" {
			return nil
		}
		p, err := newProver(e, *keysDir, false)
		if err != nil {
			return err
		}
		store := p.Store()
		if *force {
			if err := store.Remove(c.ID); err != nil {
				return err
			}
		}
		if err := store.Save(c.ID, k); err != nil {
			return fmt.Errorf("%w (use --force to replace them)", err)
		}
		fmt.Fprintf(e.stdout, "%s: ceremony keys saved in %s\n", c.ID, store.Dir)
	default:
		return fmt.Errorf("%w: unknown step keys ceremony %s (init, contribute, seal, verify, import)", errUsage, step)
	}
	return nil
}
