package bench

import (
	"os"
	"runtime/debug"
	"strings"
)

// A test binary of this package records no module versions: take them
// from go.mod, as a program's build would record them.
func init() {
	real := readBuildInfo
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		bi, ok := real()
		if !ok || len(bi.Deps) > 0 {
			return bi, ok
		}
		mod, err := os.ReadFile("../go.mod")
		if err != nil {
			return bi, ok
		}
		for _, line := range strings.Split(string(mod), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "github.com/consensys/") {
				bi.Deps = append(bi.Deps, &debug.Module{Path: f[0], Version: f[1]})
			}
		}
		return bi, ok
	}
}
