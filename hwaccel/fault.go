package hwaccel

import (
	"context"
	"fmt"
	"os"
	"syscall"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// Fault is a test backend that fails the way GPU provers do, for
// fault-injection tests of isolated devices. Binaries built with the
// faultinject tag offer it as device "fault:MODE".
type Fault struct{ Mode string }

// FaultModes are Fault's modes.
var FaultModes = []string{"ok", "panic", "abort", "hang", "corrupt"}

func (f Fault) Name() string { return "fault:" + f.Mode }

func (f Fault) Prove(ctx context.Context, job Job) (Result, error) {
	switch f.Mode {
	case "panic": // on another goroutine, where no recover reaches
		crashed := make(chan struct{})
		go func() { defer close(crashed); panic("injected fault: device fell over") }()
		<-crashed
		select {}
	case "abort":
		syscall.Kill(os.Getpid(), syscall.SIGABRT)
		select {}
	case "hang":
		select {}
	}
	res, err := CPU{}.Prove(ctx, job)
	res.Device = f.Name()
	if err != nil || f.Mode != "corrupt" {
		return res, err
	}
	p := res.Proof.(*groth16bn254.Proof)
	p.Ar, p.Krs = p.Krs, p.Ar
	return res, nil
}

func openFault(mode string, _ DeviceOptions) (Backend, Device, error) {
	for _, m := range FaultModes {
		if m == mode {
			return Fault{Mode: mode}, Device{ID: "fault:" + mode, Kind: "fault", Name: "fault injection: " + mode}, nil
		}
	}
	return nil, Device{}, fmt.Errorf("hwaccel: fault mode %q: want one of %v", mode, FaultModes)
}
