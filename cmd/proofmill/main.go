// Command proofmill proves and verifies proofmill's trade-finance
// statements, runs the proving service and its workers, and talks to the
// service. `proofmill --help` shows the command tree. This package holds
// flags, environment and output only: package node runs the service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/hwaccel"
	"github.com/proofmill/proofmill/internal/buildinfo"
	"github.com/proofmill/proofmill/internal/quietlog"
	"github.com/proofmill/proofmill/prover"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("PROOFMILL_GNARK_LOG") == "" {
		hwaccel.MuteGnarkLog() // gnark's own debug lines; our slog says what matters
	}
	// A failure that repeats (Redis away, a full disk) is logged when it
	// starts, once a minute while it lasts, and when it ends.
	quiet := quietlog.New(slog.NewTextHandler(os.Stderr, nil), quietlog.Config{})
	quiet.Start()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, log: slog.New(quiet)}
	code := execute(ctx, e, os.Args[1:])
	quiet.Stop()
	os.Exit(code)
}

// env is what commands share: where output goes, the log, the key store.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	keys           prover.KeyStore // --keys, resolved before any command runs
}

// execute runs a command line; its exit status is its error's, from
// errcode's table.
func execute(ctx context.Context, e *env, args []string) int {
	root := newRoot(e)
	root.SetArgs(args)
	if cmd, err := root.ExecuteContextC(ctx); err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", cmd.CommandPath(), err)
		if errcode.Of(err) == errcode.Usage {
			fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return errcode.Of(err).Entry().Exit
	}
	return 0
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{Use: "proofmill", Short: "Zero-knowledge proofs of trade-finance statements, and the service that makes them",
		Long: `proofmill proves statements about private trade documents with Groth16 over BN254, so that banks
on a shared ledger can check them without seeing them: here, or as a service with workers.`,
		Version: buildinfo.Describe(), Args: subcommandArgs, RunE: needSubcommand, SilenceErrors: true, SilenceUsage: true,
		PersistentPreRunE: func(*cobra.Command, []string) (err error) {
			if e.keys.Dir == "" {
				e.keys.Dir, err = prover.DefaultKeyDir()
			}
			return err
		}}
	root.SetOut(e.stdout) // help and version; errors go to e.stderr
	root.SetVersionTemplate("proofmill {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	root.PersistentFlags().StringVar(&e.keys.Dir, "keys", "", "key store `dir` (default $PROOFMILL_KEYS, else proofmill/keys in the user cache dir)")
	add := func(id, title string, cmds ...*cobra.Command) {
		root.AddGroup(&cobra.Group{ID: id, Title: title})
		for _, c := range cmds {
			c.GroupID = id
			root.AddCommand(c)
		}
	}
	add("local", "Proving here:", circuitsCmd(e), proveCmd(e), verifyCmd(e), proofCmd(e), keysCmd(e))
	add("service", "Running the service:", serveCmd(e), workerCmd(e), devicesCmd(e), healthCmd(e))
	add("client", "Using a service:", submitCmd(e), jobCmd(e, "wait"), jobCmd(e, "status"), jobCmd(e, "cancel"), usageCmd(e), batchCmd(e))
	add("admin", "Operating:", tenantsCmd(e), auditCmd(e), journalCmd(e), benchCmd(e), monitorCmd(e))
	return root
}

// usage marks a misuse of the command line: exit 2, with a pointer to help.
func usage(err error) error                   { return errcode.E("", errcode.Usage, err) }
func usagef(format string, args ...any) error { return usage(fmt.Errorf(format, args...)) }

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: subcommandArgs, RunE: needSubcommand}
	c.AddCommand(subs...)
	return c
}

// subcommandArgs refuses an unknown subcommand, suggesting near ones.
func subcommandArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	c.SuggestionsMinimumDistance = 2 // cobra's default, which only its own unknown-command error sets
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
	}
	return usage(errors.New(msg))
}

func needSubcommand(c *cobra.Command, _ []string) error {
	return usagef("%s needs a command", c.CommandPath())
}

// alias accepts the names earlier releases gave a command's flags, kept
// for scripts: pairs of old name and flag.
func alias(c *cobra.Command, pairs ...string) {
	c.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, n string) pflag.NormalizedName {
		for i := 0; i+1 < len(pairs); i += 2 {
			if n == pairs[i] {
				n = pairs[i+1]
			}
		}
		return pflag.NormalizedName(n)
	})
}

// noArgs is cobra.NoArgs as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// envList is a comma-separated list in the environment; nil if unset.
func envList(name string) []string {
	if v := os.Getenv(name); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// writeOutput writes to the file at path, or stdout for "-".
func writeOutput(e *env, path string, write func(io.Writer) error) error {
	if path == "-" || path == "" {
		return write(e.stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil { // the file keeps what was written
		f.Close()
		return err
	}
	return f.Close()
}
