package bench

import (
	"bufio"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/proofmill/proofmill/hwaccel"
)

// Machine is what the figures were measured on.
type Machine struct {
	CPU         string   `json:"cpu"`
	Cores       int      `json:"cores"`
	MemoryBytes uint64   `json:"memory_bytes"`
	OS          string   `json:"os"`
	GPUs        []GPU    `json:"gpus"`
	GPUSupport  bool     `json:"gpu_support"` // built with the icicle tag
	Go          string   `json:"go"`
	Gnark       string   `json:"gnark"`
	GnarkCrypto string   `json:"gnark_crypto"`
	ICICLE      string   `json:"icicle_gnark,omitempty"`
	Proofmill   string   `json:"proofmill"` // the version the caller states (Config.Version)
	BuildTags   []string `json:"build_tags,omitempty"`
}

// GPU is one accelerator the harness found.
type GPU struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	MemoryBytes uint64 `json:"memory_bytes"`
}

// readBuildInfo is debug.ReadBuildInfo; a library's test binary records no
// module versions, so its tests supply them.
var readBuildInfo = debug.ReadBuildInfo

// describeMachine collects Machine, and notes about what it could not.
func describeMachine(version string) (Machine, []string) {
	m := Machine{CPU: cpuModel(), Cores: runtime.NumCPU(), MemoryBytes: kbField("/proc/meminfo", "MemTotal"), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Go: runtime.Version(), Proofmill: version}
	if bi, ok := readBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/consensys/gnark":
				m.Gnark = d.Version
			case "github.com/consensys/gnark-crypto":
				m.GnarkCrypto = d.Version
			case "github.com/ingonyama-zk/icicle-gnark/v3":
				m.ICICLE = d.Version
			}
		}
		for _, s := range bi.Settings {
			if s.Key == "-tags" {
				m.BuildTags = strings.Split(s.Value, ",")
			}
		}
	}
	var notes []string
	ds, err := hwaccel.Discover()
	m.GPUSupport = !errors.Is(err, hwaccel.ErrNoGPUSupport)
	switch {
	case !m.GPUSupport:
		notes = append(notes, "GPU: "+err.Error())
	case err != nil:
		notes = append(notes, "GPU discovery: "+err.Error())
	case len(ds) == 0:
		notes = append(notes, "GPU: built with icicle, but no GPU found")
	}
	for _, d := range ds {
		m.GPUs = append(m.GPUs, GPU{ID: d.ID, Name: d.Name, MemoryBytes: d.MemoryTotal})
	}
	return m, notes
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
