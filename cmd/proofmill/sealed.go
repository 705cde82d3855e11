package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/api/sealed"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/internal/newfile"
)

// sealIfAsked replaces req's input_json by the input sealed to the
// server's input key, when --seal asks for it.
func (q *requestFlags) sealIfAsked(ctx context.Context, cl *client.Client, req *pb.SubmitProofRequest) error {
	if !q.seal {
		return nil
	}
	c, err := circuits.Lookup(req.GetCircuit())
	if err != nil {
		return err
	}
	// The server cannot check a sealed statement: checked here, a false
	// one fails now, naming its rule, rather than later on a worker.
	if _, err := c.Admit([]byte(req.GetInputJson())); err != nil {
		return err
	}
	in, err := cl.Seal(ctx, c.ID, []byte(req.GetInputJson()))
	if err != nil {
		return err
	}
	req.InputJson, req.SealedInput = "", in
	return nil
}

func inputKeyCmd(e *env) *cobra.Command {
	var out string
	newKey := &cobra.Command{Use: "new", Short: "Make an input key: FILE for the workers that open sealed inputs (mode 0600), FILE.pub to publish", Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			pubPath := out + ".pub"
			if _, err := os.Lstat(pubPath); err == nil {
				return errcode.Errorf(errcode.KeysExist, "%s exists; not replaced", pubPath)
			}
			k, err := sealed.CreateKey(out)
			if err != nil {
				return err
			}
			if err := writeNewFile(pubPath, k.Public().PEM()); err != nil {
				os.Remove(out) // a private key without its public half is of no use
				return err
			}
			fmt.Fprintf(e.stdout, "key_id: %s\nprivate key: %s\npublic key: %s\n", k.ID(), out, pubPath)
			fmt.Fprintln(e.stderr, "Give the private key only to the workers that are to read inputs sealed to it; the .pub file is public.")
			return nil
		}}
	newKey.Flags().StringVar(&out, "out", "", "private key `file` to write (mode 0600); the public key goes to FILE.pub")
	return group("input-key", "Input keys: clients seal inputs to them end to end (HPKE), and only workers holding them read those", newKey)
}

// writeNewFile writes data to a file that must not exist yet.
func writeNewFile(path string, data []byte) error {
	err := newfile.Write(path, data, 0o644)
	if errors.Is(err, os.ErrExist) {
		return errcode.Errorf(errcode.KeysExist, "%s exists; not replaced", path)
	}
	return err
}
