package node

// HoldWorkers makes Start leave the worker pool stopped until
// StartWorkers: tests hold the queue still.
func HoldWorkers(c *Config) { c.holdWorkers = true }

// StartWorkers starts a held pool.
func (n *Node) StartWorkers() error { return n.startWorkers() }
