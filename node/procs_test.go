package node

import (
	"slices"
	"testing"

	"github.com/proofmill/proofmill/errcode"
)

func TestProcessNames(t *testing.T) {
	for _, tc := range []struct {
		id    string
		procs int
		want  []string
	}{
		{"cuda:0", 0, []string{"cuda:0"}},
		{"cuda:0", 1, []string{"cuda:0"}},
		{"cuda:1", 2, []string{"cuda:1/1", "cuda:1/2"}},
		{"fault:ok", 3, []string{"fault:ok/1", "fault:ok/2", "fault:ok/3"}},
	} {
		if got := processNames(tc.id, tc.procs); !slices.Equal(got, tc.want) {
			t.Errorf("processNames(%s, %d) = %v, want %v", tc.id, tc.procs, got, tc.want)
		}
	}
}

func TestProcsPerGPUConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", Config{Role: Serve, Listen: "x"}, true},
		{"serve two", Config{Role: Serve, Listen: "x", GPUs: "all", ProcsPerGPU: 2}, true},
		{"worker two", Config{Role: Worker, Redis: "x", Device: "cuda:0", ProcsPerGPU: 2}, true},
		{"negative", Config{Role: Serve, Listen: "x", GPUs: "all", ProcsPerGPU: -1}, false},
		{"too many", Config{Role: Serve, Listen: "x", GPUs: "all", ProcsPerGPU: MaxProcsPerGPU + 1}, false},
		{"no GPUs", Config{Role: Serve, Listen: "x", ProcsPerGPU: 2}, false},
	} {
		_, err := tc.cfg.resolved()
		if tc.ok != (err == nil) {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if err != nil && errcode.Of(err) != errcode.Usage {
			t.Errorf("%s: %v is not a usage error", tc.name, err)
		}
	}
}
