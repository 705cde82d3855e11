//go:build !linux

package bench

import "time"

// processCPU and threadCPU are measured on Linux only; elsewhere the
// rounds' CPU times are 0 and the check says so.
func processCPU() time.Duration { return 0 }
func threadCPU() time.Duration  { return 0 }
