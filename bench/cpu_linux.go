package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPU is the CPU time (user and system) of this process so far.
func processCPU() time.Duration { return rusage(unix.RUSAGE_SELF) }

// threadCPU is the CPU time of the calling OS thread so far.
func threadCPU() time.Duration { return rusage(unix.RUSAGE_THREAD) }

func rusage(who int) time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(who, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
