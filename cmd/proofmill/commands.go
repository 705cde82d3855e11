package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/input"
	"github.com/proofmill/proofmill/prover"
	"github.com/proofmill/proofmill/prover/export"
)

var errHelp = flag.ErrHelp

// flags returns a FlagSet that reports errors instead of exiting, with the
// --keys flag every command takes.
func flags(e *env, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("proofmill "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	keys := fs.String("keys", "", "key store `dir` (default $PROOFMILL_KEYS, else the user cache dir)")
	return fs, keys
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func newProver(e *env, keysDir string, devSetup bool) (*prover.Prover, error) {
	return prover.New(prover.Config{Store: prover.KeyStore{Dir: keysDir}, DevSetup: devSetup, Logger: e.log})
}

func lookup(id string) (*circuits.Circuit, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: --circuit is required (see `proofmill circuits`)", errUsage)
	}
	return circuits.Lookup(id)
}

func runCircuits(_ context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "circuits")
	asJSON := fs.Bool("json", false, "print JSON, with each circuit's input schema")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := newProver(e, *keysDir, false)
	if err != nil {
		return err
	}
	type row struct {
		ID           string        `json:"id"`
		Description  string        `json:"description"`
		Constraints  int           `json:"constraints"`
		Keys         string        `json:"keys"`
		PublicInputs []string      `json:"public_inputs"`
		Schema       []input.Field `json:"schema,omitempty"`
	}
	var rows []row
	for _, c := range circuits.All() {
		sum, err := p.Store().Summary(c)
		if err != nil {
			return err
		}
		r := row{ID: c.ID, Description: c.Description, PublicInputs: c.PublicInputs, Constraints: sum.Constraints, Keys: sum.Origin}
		if *asJSON {
			r.Schema = c.Schema
		}
		rows = append(rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CIRCUIT\tCONSTRAINTS\tKEYS\tPUBLIC INPUTS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", r.ID, r.Constraints, r.Keys, strings.Join(r.PublicInputs, ", "))
	}
	return tw.Flush()
}

func runKeys(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: keys setup | export | ceremony | import", errUsage)
	}
	switch args[0] {
	case "setup":
		return runKeysSetup(ctx, e, args[1:])
	case "export":
		return runKeysExport(ctx, e, args[1:])
	case "ceremony":
		return runCeremony(ctx, e, args[1:])
	case "import":
		return runCeremony(ctx, e, args) // keys import = the ceremony's last step
	}
	return fmt.Errorf("%w: unknown keys command %q (setup, export, ceremony, import)", errUsage, args[0])
}

func runKeysSetup(ctx context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "keys setup")
	id := fs.String("circuit", "", "circuit `id`")
	all := fs.Bool("all", false, "every registered circuit (abs-pool-1024 takes minutes)")
	force := fs.Bool("force", false, "replace existing keys")
	if err := parse(fs, args); err != nil {
		return err
	}
	var targets []*circuits.Circuit
	switch {
	case *all && *id != "":
		return fmt.Errorf("%w: give --circuit or --all, not both", errUsage)
	case *all:
		targets = circuits.All()
	default:
		c, err := lookup(*id)
		if err != nil {
			return err
		}
		targets = []*circuits.Circuit{c}
	}
	p, err := newProver(e, *keysDir, false)
	if err != nil {
		return err
	}
	store := p.Store()
	for _, c := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := store.Manifest(c.ID); err == nil && !*force {
			fmt.Fprintf(e.stdout, "%s: keys already in %s (use --force to replace)\n", c.ID, store.Dir)
			continue
		}
		start := time.Now()
		k, err := prover.Setup(c, e.log)
		if err != nil {
			return err
		}
		if *force {
			if err := store.Remove(c.ID); err != nil {
				return err
			}
		}
		if err := store.Save(c.ID, k); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: %d constraints, development keys saved in %s (%s)\n",
			c.ID, k.Manifest.Constraints, store.Dir, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func runKeysExport(_ context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "keys export")
	id := fs.String("circuit", "", "circuit `id`")
	format := fs.String("format", "json", "solidity | json (snarkjs verification_key.json) | gnark (binary)")
	out := fs.String("out", "-", "output `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := lookup(*id)
	if err != nil {
		return err
	}
	p, err := newProver(e, *keysDir, false)
	if err != nil {
		return err
	}
	vk, _, err := p.Store().LoadVerifyingKey(c.ID)
	if err != nil {
		return err
	}
	var write func(io.Writer) error
	switch *format {
	case "solidity":
		write = func(w io.Writer) error { return export.Solidity(w, vk) }
	case "json":
		write = func(w io.Writer) error {
			j, err := export.FromGnarkVerifyingKey(vk)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(j)
		}
	case "gnark":
		write = func(w io.Writer) error { _, err := vk.WriteTo(w); return err }
	default:
		return fmt.Errorf("%w: --format %q: want solidity, json or gnark", errUsage, *format)
	}
	return writeOutput(e, *out, write)
}

func runProve(ctx context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "prove")
	request := submitRequest(fs)
	out := fs.String("out", "-", "proof `file`")
	noSetup := fs.Bool("no-dev-setup", false, "fail instead of making development keys when the store has none")
	server := remoteFlags(fs, "") // empty: prove here
	if err := parse(fs, args); err != nil {
		return err
	}
	req, err := request()
	if err != nil {
		return err
	}
	if server.addr != "" {
		return proveRemote(ctx, e, server, req, *out)
	}
	c, err := lookup(req.Circuit)
	if err != nil {
		return err
	}
	p, err := newProver(e, *keysDir, !*noSetup)
	if err != nil {
		return err
	}
	proof, err := p.Prove(ctx, c, []byte(req.InputJson))
	if err != nil {
		return err
	}
	f, err := proof.File()
	if err != nil {
		return err
	}
	e.log.Info("proved and verified", "circuit", c.ID, "backend", proof.Backend, "took", proof.Took.Round(time.Millisecond))
	return writeOutput(e, *out, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	})
}

func runVerify(_ context.Context, e *env, args []string) error {
	fs, keysDir := flags(e, "verify")
	id := fs.String("circuit", "", "circuit `id` the proof must be for (default: the one it names)")
	path := fs.String("proof", "", "proof `file` written by prove (- for stdin)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("%w: --proof is required", errUsage)
	}
	data, err := readInput(*path)
	if err != nil {
		return err
	}
	p, err := newProver(e, *keysDir, false)
	if err != nil {
		return err
	}
	f, err := p.VerifyFile(data)
	if err != nil {
		return err
	}
	if *id != "" && f.Circuit != *id {
		return fmt.Errorf("%w: the proof is for %s, not %s", prover.ErrProofRejected, f.Circuit, *id)
	}
	fmt.Fprintf(e.stdout, "OK: valid proof for %s\n", f.Circuit)
	for _, in := range f.PublicInputs {
		fmt.Fprintf(e.stdout, "  %-26s %s\n", in.Name, in.Value)
	}
	return nil
}

func readInput(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, input.MaxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func writeOutput(e *env, path string, write func(io.Writer) error) error {
	if path == "-" {
		return write(e.stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := errors.Join(write(f), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
