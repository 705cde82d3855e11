package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/prover/export"
)

func (e *env) prover(devSetup bool) (*prover.Prover, error) {
	return prover.New(prover.Config{Store: e.keys, DevSetup: devSetup, Logger: e.log})
}

func lookup(id string) (*circuits.Circuit, error) {
	if id == "" {
		return nil, usagef("--circuit is required (see `proofmill circuits`)")
	}
	return circuits.Lookup(id)
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func circuitsCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{Use: "circuits", Short: "List the circuits: id, constraints, key origin, public inputs", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			infos := e.keys.Catalog()
			if asJSON {
				return encodeJSON(e.stdout, infos)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CIRCUIT\tCONSTRAINTS\tKEYS\tPUBLIC INPUTS")
			for _, c := range infos {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", c.ID, c.Summary.Constraints, c.Origin, strings.Join(c.PublicInputs, ", "))
			}
			return tw.Flush()
		}}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON, with each circuit's input schema")
	return c
}

func proveCmd(e *env) *cobra.Command {
	var out string
	var noSetup bool
	req, r := &requestFlags{}, &remote{}
	c := &cobra.Command{Use: "prove", Short: "Prove a JSON input, here or on a server (--server), and write the proof file", Args: noArgs,
		Example: "  proofmill prove --circuit invoice-consistency/v1 --input examples/invoice-consistency.json --out proof.json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			pr, err := req.request()
			if err != nil {
				return err
			} else if r.Server != "" {
				return r.onJob(cmd, e, proveRemote(e, req, pr), writeProof(e, out))
			} else if req.seal {
				return usagef("--seal needs --server: a proof made here reads the input here")
			}
			p, err := e.prover(!noSetup)
			if err != nil {
				return err
			}
			c, _ := circuits.Lookup(pr.Circuit)
			proof, err := p.Prove(cmd.Context(), c, []byte(pr.InputJson))
			if err != nil {
				return err
			}
			f, err := proof.File()
			if err != nil {
				return err
			}
			e.log.Info("proved and verified", "circuit", c.ID, "backend", proof.Backend, "took", proof.Took.Round(time.Millisecond))
			return writeOutput(e, out, func(w io.Writer) error { return encodeJSON(w, f) })
		}}
	req.add(c)
	c.Flags().StringVar(&out, "out", "-", "proof `file` (- for stdout)")
	c.Flags().BoolVar(&noSetup, "no-dev-setup", false, "fail instead of making development keys when the store has none")
	r.add(c, "") // empty: prove here
	return c
}

func verifyCmd(e *env) *cobra.Command {
	var id, path string
	c := &cobra.Command{Use: "verify", Short: "Verify a proof file against the key store", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			data, err := readProofFlag(path)
			if err != nil {
				return err
			}
			p, err := e.prover(false)
			if err != nil {
				return err
			}
			f, err := p.VerifyFile(data)
			if err != nil {
				return err
			}
			if id != "" && f.Circuit != id {
				return fmt.Errorf("%w: the proof is for %s, not %s", prover.ErrProofRejected, f.Circuit, id)
			}
			fmt.Fprintf(e.stdout, "OK: valid proof for %s\n", f.Circuit)
			for _, in := range f.PublicInputs {
				fmt.Fprintf(e.stdout, "  %-26s %s\n", in.Name, in.Value)
			}
			return nil
		}}
	c.Flags().StringVar(&id, "circuit", "", "circuit `id` the proof must be for (default: the one it names)")
	c.Flags().StringVar(&path, "proof", "", "proof `file` written by prove (- for stdin)")
	return c
}

func keysCmd(e *env) *cobra.Command {
	keys := group("keys", "Development keys, verifying-key exports, MPC ceremonies and their import; input, data and master keys", keysSetupCmd(e), keysExportCmd(e),
		ceremonyStep(e, "import", "Verify a ceremony and save its keys in the key store (origin: ceremony)"), inputKeyCmd(e), dataKeyCmd(e), masterKeyCmd(e))
	ceremony := group("ceremony", "A Groth16 MPC ceremony of one circuit, over a folder passed between the parties")
	for _, step := range prover.CeremonySteps {
		ceremony.AddCommand(ceremonyStep(e, step.Name, step.Does))
	}
	keys.AddCommand(ceremony)
	return keys
}

func keysSetupCmd(e *env) *cobra.Command {
	var id string
	var all, force bool
	c := &cobra.Command{Use: "setup", Short: "Make development keys (groth16.Setup) for a circuit, or all", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets := circuits.All()
			if all == (id != "") {
				return usagef("give --circuit or --all")
			} else if !all {
				c, err := lookup(id)
				if err != nil {
					return err
				}
				targets = []*circuits.Circuit{c}
			}
			for _, c := range targets {
				if all && c.KeysOnlyWhenAsked() {
					fmt.Fprintf(e.stdout, "%s: skipped: %d constraints, above %d, so its keys are made only when asked (keys setup --circuit %s)\n",
						c.ID, c.Constraints, circuits.ImplicitKeysLimit, c.ID)
					continue
				}
				start := time.Now()
				k, made, err := prover.SetupKeys(e.keys, c, force, e.log)
				switch {
				case err != nil || cmd.Context().Err() != nil:
					return errors.Join(err, cmd.Context().Err())
				case !made:
					fmt.Fprintf(e.stdout, "%s: keys already in %s (use --force to replace)\n", c.ID, e.keys.Dir)
				default:
					fmt.Fprintf(e.stdout, "%s: %d constraints, development keys saved in %s (%s)\n",
						c.ID, k.Manifest.Constraints, e.keys.Dir, time.Since(start).Round(time.Millisecond))
				}
			}
			return nil
		}}
	c.Flags().StringVar(&id, "circuit", "", "circuit `id`")
	c.Flags().BoolVar(&all, "all", false, fmt.Sprintf("every registered circuit of up to %d constraints (abs-pool-1024 takes minutes; larger ones, abs-pool-4096, only by --circuit)", circuits.ImplicitKeysLimit))
	c.Flags().BoolVar(&force, "force", false, "replace existing keys")
	return c
}

func keysExportCmd(e *env) *cobra.Command {
	var id, format, out string
	c := &cobra.Command{Use: "export", Short: "Write a circuit's verifying key for other verifiers (solidity, snarkjs json, gnark)", Args: noArgs,
		Long: `export writes a circuit's verifying key, byte for byte as GetVerifyingKey serves it in that format,
so its sha256sum is the digest a job lists for the format (verifying_key_digests); the gnark
format is the key file itself, whose digest names the key (verifying_key_sha256).`,
		RunE: func(*cobra.Command, []string) error {
			c, err := lookup(id)
			if err != nil {
				return err
			} else if !slices.Contains(export.Formats, format) {
				return usagef("--format %q: want one of %v", format, export.Formats)
			}
			key, err := e.keys.ExportVerifyingKey(c.ID, format)
			if err != nil {
				return err
			}
			return writeOutput(e, out, func(w io.Writer) error { _, err := w.Write(key.Data); return err })
		}}
	c.Flags().StringVar(&id, "circuit", "", "circuit `id`")
	c.Flags().StringVar(&format, "format", "json", "solidity | json (snarkjs verification_key.json) | gnark (binary)")
	c.Flags().StringVar(&out, "out", "-", "output `file` (- for stdout)")
	return c
}

// ceremonyStep is one step of `keys ceremony`, or `keys import`: verify,
// then save the ceremony's keys in the key store.
func ceremonyStep(e *env, step, does string) *cobra.Command {
	var id, dir, beacon string
	var force bool
	needsBeacon := step == "seal" || step == "verify" || step == "import"
	c := &cobra.Command{Use: step, Short: does, Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := lookup(id)
			if err != nil {
				return err
			}
			b, err := hex.DecodeString(beacon)
			switch {
			case dir == "":
				return usagef("--dir is required")
			case needsBeacon && (err != nil || len(b) < 16):
				return usagef("--beacon: at least 16 bytes in hex")
			}
			said, k, err := prover.CeremonyStep(strings.Replace(step, "import", "verify", 1), dir, c, b)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, said)
			if step != "import" {
				return nil
			}
			if err := e.keys.Put(c.ID, k, force); err != nil {
				return fmt.Errorf("%w (use --force to replace them)", err)
			}
			_, err = fmt.Fprintf(e.stdout, "%s: ceremony keys saved in %s\n", c.ID, e.keys.Dir)
			return err
		}}
	c.Flags().StringVar(&id, "circuit", "", "circuit `id`")
	c.Flags().StringVar(&dir, "dir", "", "ceremony `folder`")
	if needsBeacon {
		c.Flags().StringVar(&beacon, "beacon", "", "public random beacon, in `hex`, fixed after the last contribution of the phase")
	}
	if step == "import" {
		c.Flags().BoolVar(&force, "force", false, "replace keys already in the key store")
	}
	return c
}
