package main

import (
	"io"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/proofmill/proofmill/node"
)

// traceFlags say where a node's OpenTelemetry spans go: off by default.
func traceFlags(f *pflag.FlagSet, t *node.Tracing, stdout io.Writer) {
	f.StringVar(&t.OTLPEndpoint, "otlp-endpoint", os.Getenv("PROOFMILL_OTLP_ENDPOINT"), "send OpenTelemetry traces (one per job) to a collector's OTLP/gRPC `host:port`; empty: none ($PROOFMILL_OTLP_ENDPOINT)")
	f.BoolVar(&t.OTLPInsecure, "otlp-insecure", os.Getenv("PROOFMILL_OTLP_INSECURE") == "1", "speak plaintext to --otlp-endpoint (a collector on this machine); default TLS (PROOFMILL_OTLP_INSECURE=1)")
	f.Var(writerFlag{dst: &t.Stdout, to: stdout}, "trace-stdout", "print every span to stdout as JSON, a batch every few seconds and at shutdown: a trace without a collector")
	f.Lookup("trace-stdout").NoOptDefVal = "true"
}

// writerFlag is a boolean flag that, when true, sets dst to to.
type writerFlag struct {
	dst *io.Writer
	to  io.Writer
}

func (w writerFlag) String() string {
	if w.dst == nil {
		return "false"
	}
	return strconv.FormatBool(*w.dst != nil)
}

func (w writerFlag) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*w.dst = nil
	if on {
		*w.dst = w.to
	}
	return nil
}

func (writerFlag) Type() string { return "bool" }
