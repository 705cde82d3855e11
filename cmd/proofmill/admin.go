package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/proofmill/proofmill/audit"
	"github.com/proofmill/proofmill/bench"
	"github.com/proofmill/proofmill/internal/buildinfo"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/scheduler/embedded"
	"github.com/proofmill/proofmill/tenants"
)

func tenantsCmd(e *env) *cobra.Command {
	token := &cobra.Command{Use: "token", Short: "Make an API token and the digest that goes in the tenant table", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			t, err := tenants.NewToken()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "token: %s\ntokens_sha256 entry: %s\n", t, tenants.Digest(t))
			fmt.Fprintln(e.stderr, "Give the token to the tenant (PROOFMILL_TOKEN); put only the digest in the tenant table.")
			return nil
		}}
	var file string
	check := &cobra.Command{Use: "check", Short: "Read a tenant table and list its tenants", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			ts, err := tenants.Load(file)
			for _, t := range ts.All() { // none after an error
				fmt.Fprintln(e.stdout, t)
			}
			return err
		}}
	check.Flags().StringVar(&file, "tenants", os.Getenv("PROOFMILL_TENANTS"), "tenant table `file` ($PROOFMILL_TENANTS)")
	alias(check, "file", "tenants")
	return group("tenants", "API tokens and the tenant table", token, check)
}

func auditCmd(e *env) *cobra.Command {
	var file string
	verify := &cobra.Command{Use: "verify", Short: "Check the audit log's hash chain and print its last line's hash", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			last, lines, err := audit.VerifyFile(file)
			if err != nil {
				return err
			}
			// The chain protects every line but the last: keep this hash
			// elsewhere to protect that one too.
			fmt.Fprintf(e.stdout, "%s: %d records, chain intact; last record sha256 %s\n", file, lines, last)
			return nil
		}}
	verify.Flags().StringVar(&file, "audit", os.Getenv("PROOFMILL_AUDIT"), "audit log `file` ($PROOFMILL_AUDIT)")
	alias(verify, "file", "audit")
	return group("audit", "The audit log", verify)
}

func journalCmd(e *env) *cobra.Command {
	var data string
	check := &cobra.Command{Use: "check", Short: "Check the job journal (jobs.db) for damage: its file structure and every record's checksum", Args: noArgs,
		Long: `check reads the journal in --data without changing it: bbolt's consistency check of the file,
then every record's checksum. Exit 0: sound; 1: damaged (the report says which jobs, and what to do);
7: a server has it open (stop it first, or check a copy).`,
		RunE: func(*cobra.Command, []string) error {
			r, err := embedded.Inspect(node.JournalPath(data), embedded.Options{Logger: e.log, LockTimeout: time.Second})
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, r)
			return r.Err()
		}}
	check.Flags().StringVar(&data, "data", envOr("PROOFMILL_DATA", node.DefaultDataDir()), "`dir` holding jobs.db, as serve's --data ($PROOFMILL_DATA)")
	alias(check, "data-dir", "data")
	return group("journal", "The embedded job journal", check)
}

func benchCmd(e *env) *cobra.Command {
	var check string
	var quick bool
	var plan bench.Plan
	c := &cobra.Command{Use: "bench", Short: "Measure proving, the service against raw gnark, MSM/NTT and the scheduler; write a report", Args: noArgs,
		Long: `bench measures, and writes a report folder (report.json, README.md, charts): --profile quick
(the default) takes about 2 minutes on 2 cores; --profile full measures every size and is for GPU
servers (an hour or more on a small CPU). --check DIR checks a report instead.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if check != "" {
				if err := bench.CheckReport(check, e.stderr); err != nil {
					return err
				}
				_, err := fmt.Fprintf(e.stdout, "%s: complete\n", check)
				return err
			}
			if quick {
				plan.Profile = "quick"
			}
			cfg, err := plan.Config()
			if err != nil {
				return err
			}
			cfg.KeysDir, cfg.Version, cfg.Logger = e.keys.Dir, buildinfo.Version(), e.log
			cfg.ServiceLog = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			e.log.Info("benchmark", "profile", plan.Profile, "takes", bench.ProfileTimes[plan.Profile], "out", cfg.Out)
			r, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			for _, h := range r.Headline() {
				fmt.Fprintln(e.stdout, h)
			}
			fmt.Fprintf(e.stdout, "report: %s/README.md (%.0f s)\n", cfg.Out, r.Seconds)
			return bench.CheckReport(cfg.Out, e.stderr)
		}}
	f := c.Flags()
	f.StringVar(&check, "check", "", "only check the report in `dir`: complete, with sane ratios")
	f.BoolVar(&quick, "quick", false, "the quick profile (the same as --profile quick)")
	f.StringVar(&plan.Profile, "profile", "quick", "what to measure: quick ("+bench.ProfileTimes["quick"]+"), full ("+bench.ProfileTimes["full"]+"), "+
		"gpu ("+bench.ProfileTimes["gpu"]+") or gpu-dry ("+bench.ProfileTimes["gpu-dry"]+"); hwaccel/gpu/run.sh runs the last two")
	f.StringVar(&plan.Out, "out", "", "report `dir` (default proofmill-bench-PROFILE-DATE)")
	f.StringVar(&plan.ServiceCircuit, "service-circuit", "", "circuit `id` the service section proves (default: the profile's)")
	f.DurationVar(&plan.Budget, "budget", 0, "time the synthetic size sweep may take before it stops doubling; 0: the profile's")
	f.StringSliceVar(&plan.Only, "only", nil, "run only these `sections` of the profile: sweep, service, primitives, load, admission, device-service, fault")
	f.DurationVar(&plan.TimeBudget, "time-budget", 0, "the whole run's time: sections, circuits and sizes that would not fit are skipped and the report says which; 0: no limit")
	f.StringSliceVar(&plan.ICICLEDevices, "icicle-device", nil, "also measure MSM and NTT through ICICLE on these devices, e.g. icicle-cpu: ICICLE's CPU backend, a slow reference for checking the GPU code path without a GPU; needs -tags icicle")
	return c
}
