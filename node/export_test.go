package node

import "github.com/proofmill/proofmill/hwaccel"

// HoldWorkers makes Start leave the worker pool stopped until
// StartWorkers: tests hold the queue still.
func HoldWorkers(c *Config) { c.holdWorkers = true }

// StartWorkers starts a held pool.
func (n *Node) StartWorkers() error { return n.startWorkers() }

// PlainInputsAtRest stores witnesses in the clear: the control of the
// tests that look for documents at rest, and the baseline of the
// encryption benchmark.
func PlainInputsAtRest(c *Config) { c.plainInputs = true }

// BeforeRecovery runs hold before the start's recovery of unfinished jobs.
func BeforeRecovery(c *Config, hold func()) { c.beforeRecovery = hold }

// StartIsolatedCPUs starts n supervised CPU worker processes, as
// IsolateCPU does.
func StartIsolatedCPUs(cfg Config, n int) ([]*hwaccel.Isolated, error) {
	cfg.IsolateCPU = true
	return startCPUs(cfg, n)
}
