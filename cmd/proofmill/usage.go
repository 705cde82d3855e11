package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
)

func usageCmd(e *env) *cobra.Command {
	var since, tenant string
	var asJSON bool
	r := &remote{}
	c := &cobra.Command{Use: "usage", Short: "Show proving usage per UTC day, tenant, circuit and backend (GetUsage)", Args: noArgs,
		Long: `usage prints what the service proved for your tenant, per UTC day, circuit and backend:
proofs (succeeded and verified), proof-seconds (worker time of every attempt, failed ones too:
what daily_proof_seconds quotas count), constraints proved and bytes of proof files stored.
A tenant sees its own figures; an operator tenant (the tenant table's "operator": true) sees
every tenant's, or one tenant's with --tenant. Days are kept 400 days.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != "" {
				if _, err := time.Parse("2006-01-02", since); err != nil {
					return usagef("--since %q: want a UTC date as 2026-11-01", since)
				}
			}
			cl, err := r.dial()
			if err != nil {
				return err
			}
			defer cl.Close()
			recs, err := cl.Usage(cmd.Context(), since, tenant)
			if err != nil {
				return err
			}
			if asJSON {
				out, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(&pb.GetUsageResponse{Records: recs})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.stdout, string(out))
				return err
			}
			return writeUsage(e, recs)
		}}
	c.Flags().StringVar(&since, "since", "", "first UTC `day` to show, as 2026-11-01 (default: every day kept)")
	c.Flags().StringVar(&tenant, "tenant", "", "tenant `id` whose usage to show (default: your own; an operator's: every tenant's)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the GetUsage response as JSON")
	r.add(c, envOr("PROOFMILL_SERVER", "127.0.0.1:7420"))
	return c
}

// writeUsage prints the records as a table, with their total.
func writeUsage(e *env, recs []*pb.UsageRecord) error {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DAY\tTENANT\tCIRCUIT\tBACKEND\tPROOFS\tPROOF-SECONDS\tCONSTRAINTS\tSTORED BYTES")
	var total pb.UsageRecord
	for _, u := range recs {
		tenant := u.GetTenant()
		if tenant == "" {
			tenant = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%.1f\t%d\t%d\n", u.GetDay(), tenant, u.GetCircuit(), u.GetBackend(),
			u.GetProofs(), u.GetProofSeconds(), u.GetConstraints(), u.GetStoredBytes())
		total.Proofs += u.GetProofs()
		total.ProofSeconds += u.GetProofSeconds()
		total.Constraints += u.GetConstraints()
		total.StoredBytes += u.GetStoredBytes()
	}
	fmt.Fprintf(w, "total\t\t\t\t%d\t%.1f\t%d\t%d\n", total.Proofs, total.ProofSeconds, total.Constraints, total.StoredBytes)
	return w.Flush()
}
