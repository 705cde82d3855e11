// Package buildinfo says which proofmill this is, from what the Go build
// recorded: the module version, else the VCS revision.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

type vcs struct {
	revision, time string
	modified       bool
}

func read() (module string, v vcs) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.revision = s.Value
		case "vcs.time":
			v.time = s.Value
		case "vcs.modified":
			v.modified = s.Value == "true"
		}
	}
	if bi.Main.Version != "(devel)" {
		module = bi.Main.Version
	}
	return module, v
}

// Version is what receipts and reports state: the module version, else
// "devel-" and the first 12 digits of the VCS revision (with "-dirty" for
// uncommitted changes), else "devel".
func Version() string {
	module, v := read()
	switch {
	case module != "":
		return module
	case v.revision == "":
		return "devel"
	case v.modified:
		return "devel-" + v.revision[:min(12, len(v.revision))] + "-dirty"
	}
	return "devel-" + v.revision[:min(12, len(v.revision))]
}

// Describe is what `proofmill --version` prints: the version, the full
// VCS revision and its time, and the Go version.
func Describe() string {
	_, v := read()
	s := Version()
	if v.revision != "" {
		s += fmt.Sprintf(" (revision %s, %s", v.revision, v.time)
		if v.modified {
			s += ", modified"
		}
		s += ")"
	}
	return s + " " + runtime.Version()
}
