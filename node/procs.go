package node

import "strconv"

// MaxProcsPerGPU bounds --procs-per-gpu: each process holds its own copy
// of every key it has set up on the device, so a few already double or
// triple the device memory keys take.
const MaxProcsPerGPU = 8

// processNames names the supervised processes of one GPU: the GPU's id
// alone for one process (as before the option existed), "cuda:0/1",
// "cuda:0/2", … for more, so that jobs, ListDevices and the fallback
// metric tell them apart.
func processNames(id string, procs int) []string {
	if procs <= 1 {
		return []string{id}
	}
	names := make([]string, procs)
	for i := range names {
		names[i] = id + "/" + strconv.Itoa(i+1)
	}
	return names
}
