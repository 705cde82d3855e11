package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/vault"
)

// dataKeyCmd manages the tenants' data keys, beside a running server or
// not: the server reads the ring again within a minute.
func dataKeyCmd(e *env) *cobra.Command {
	cfg := node.Config{}
	var tenant string
	var rewrap bool
	withVault := func(run func(cmd *cobra.Command, v *vault.Vault) error) func(cmd *cobra.Command, _ []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = e.log
			v, closeRing, err := node.DataKeys(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer closeRing()
			return run(cmd, v)
		}
	}
	printKey := func(verb string, k vault.DataKey) {
		fmt.Fprintf(e.stdout, "%s data key %s (wrapped by master key %s)\n", verb, k.Name(), k.Master)
	}
	newCmd := &cobra.Command{Use: "new", Short: "Make a tenant's first data key (one is made on its first job otherwise)", Args: noArgs,
		RunE: withVault(func(cmd *cobra.Command, v *vault.Vault) error {
			k, err := v.NewKey(cmd.Context(), tenant)
			if err == nil {
				printKey("made", k)
			}
			return err
		})}
	rotateCmd := &cobra.Command{Use: "rotate", Short: "Start a tenant's next data key (every tenant's without --tenant), or re-wrap every key under a new master key", Args: noArgs,
		Long: `rotate makes the next version of a tenant's data key: new jobs use it, queued jobs keep theirs, and the
server destroys each old version once no unfinished job uses it. With --rewrap it instead re-wraps every
data key under --master-key (the new one; give the old as --old-master-key): no job is re-encrypted.`,
		RunE: withVault(func(cmd *cobra.Command, v *vault.Vault) error {
			if rewrap {
				n, err := v.Rewrap(cmd.Context())
				fmt.Fprintf(e.stdout, "re-wrapped %d data keys under master key %s\n", n, v.MasterID())
				return err
			}
			targets := []string{tenant}
			if !cmd.Flags().Changed("tenant") {
				var err error
				if targets, err = v.Tenants(cmd.Context()); err != nil {
					return err
				}
			}
			for _, t := range targets {
				k, err := v.Rotate(cmd.Context(), t)
				if err != nil {
					return err
				}
				printKey("started", k)
			}
			return nil
		})}
	listCmd := &cobra.Command{Use: "list", Short: "List the data keys: tenant, version, master key, age", Args: noArgs,
		RunE: withVault(func(cmd *cobra.Command, v *vault.Vault) error {
			keys, err := v.Keys(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TENANT\tVERSION\tMASTER KEY\tCREATED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", tenantName(k.Tenant), k.Version, k.Master, k.Created.Format(time.RFC3339))
			}
			return w.Flush()
		})}
	for _, c := range []*cobra.Command{newCmd, rotateCmd, listCmd} {
		f := c.Flags()
		f.StringVar(&cfg.DataDir, "data", envOr("PROOFMILL_DATA", node.DefaultDataDir()), "the server's `dir` (its data-keys.json, and master.key by default) ($PROOFMILL_DATA)")
		f.StringVar(&cfg.Redis, "redis", os.Getenv("PROOFMILL_REDIS"), "the data keys in Redis at `addr`, as servers sharing it keep them ($PROOFMILL_REDIS)")
		masterKeyFlags(f, &cfg, "master.key in --data")
		if c != listCmd {
			f.StringVar(&tenant, "tenant", "", "the tenant `id` (empty: jobs of no tenant)")
		}
	}
	rotateCmd.Flags().BoolVar(&rewrap, "rewrap", false, "re-wrap every data key under --master-key instead of rotating")
	return group("data-key", "Tenants' data keys, which encrypt job inputs at rest, wrapped by the master key", newCmd, rotateCmd, listCmd)
}

func tenantName(t string) string {
	if t == "" {
		return "(none)"
	}
	return t
}

// masterKeyCmd makes a master key file, for an operator who keeps it apart
// from the data folder.
func masterKeyCmd(e *env) *cobra.Command {
	var out string
	c := &cobra.Command{Use: "new", Short: "Make a master key file (32 random bytes, base64; mode 0600); an existing file is never replaced", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			m, err := vault.WriteMasterKeyFile(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "made master key %s in %s\n", m.ID(), out)
			return nil
		}}
	c.Flags().StringVar(&out, "out", "master.key", "the `file` to write")
	return group("master-key", "The operator's master key, which wraps the data keys", c)
}
