package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/proofmill/proofmill/batch"
)

var batchSteps = map[string]string{
	"submit":  "Submit every line of a JSONL file at batch priority; print the batch id",
	"status":  "Count a batch's lines: succeeded, failed, pending",
	"collect": "Write one result per line, in order; fail if a line did not succeed",
	"run":     "Submit, show progress until every line is done, and collect",
}

func batchCmd(e *env) *cobra.Command {
	c := group("batch", "Prove a JSONL file of requests through a server")
	c.Long = `A batch is a JSONL file, one request per line, each submitted like any SubmitProof:
  {"circuit": "invoice-consistency/v1", "input": {...}, "idempotency_key": "optional"}
Its record (which line became which job) is kept in --records under the batch id.`
	for _, step := range []string{"submit", "status", "collect", "run"} {
		c.AddCommand(batchStep(e, step))
	}
	return c
}

func batchStep(e *env, step string) *cobra.Command {
	var in, id, out, dir string
	r := &remote{}
	submits := step == "submit" || step == "run"
	c := &cobra.Command{Use: step, Short: batchSteps[step], Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			records, rec, data, err := batch.Open(dir, id, in, r.Server, submits)
			if err != nil {
				return err
			}
			cl, err := r.dial()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, t := cmd.Context(), batch.NewTracker(cl, rec)
			if submits {
				n, err := batch.Submit(ctx, cl, rec, data, e.log)
				if err == nil {
					err = records.Save(rec)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "batch %s: %d lines: %s\n", rec.ID, len(rec.Lines), n)
			}
			switch step {
			case "submit":
				_, err = fmt.Fprintf(e.stdout, "batch %s\n", rec.ID)
				return err
			case "status":
				p, err := t.Poll(ctx)
				if err == nil {
					fmt.Fprintf(e.stdout, "batch %s (%s): %s\n", rec.ID, rec.Source, p)
				}
				return err
			case "run":
				if err := t.Watch(ctx, e.stderr, isTerminal(e.stderr), e.log); err != nil {
					return err
				}
			}
			var p batch.Progress
			err = writeOutput(e, out, func(w io.Writer) (err error) { p, err = t.Collect(ctx, w); return err })
			fmt.Fprintf(e.stderr, "batch %s: %s\n", rec.ID, p)
			return err
		}}
	f := c.Flags()
	f.StringVar(&in, "in", "", "the requests, one JSON object per line (`file.jsonl`); for status and collect, to find its batch")
	f.StringVar(&id, "batch", "", "batch `id` (default: derived from the --in file)")
	f.StringVar(&dir, "records", os.Getenv("PROOFMILL_BATCHES"), "`dir` of batch records (default proofmill/batches in the user cache dir) ($PROOFMILL_BATCHES)")
	if step == "collect" || step == "run" {
		f.StringVar(&out, "out", "-", "write results to `file.jsonl` (- for stdout)")
	}
	r.add(c, envOr("PROOFMILL_SERVER", "127.0.0.1:7420"))
	return c
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
