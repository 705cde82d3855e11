// Package node is proofmill's composition root: it builds a running
// process from a Config and owns its life.
//
// A node has a Role. A server (Serve) runs the gRPC API over the scheduler,
// with jobs in the embedded journal (and in-process CPU workers) or in
// Redis (and workers elsewhere, unless Workers says otherwise). A worker
// (Worker) takes jobs from Redis and proves them. Either may prove on GPUs:
// a server runs one supervised worker process per GPU (GPUs), a worker
// proves on one device in its own process (Device).
//
// New checks the Config; Start opens everything in a fixed order and
// Shutdown closes it in the order its comment lists. A node moves from new
// to running to stopped, once: Start on a running or stopped node and
// Shutdown on one that is not running fail with ErrState. A failed Start
// closes what it opened by the same path as Shutdown.
//
// Besides wiring, the node owns what belongs to no one package: the
// service's metrics, ListDevices' view of every process proving, the
// discovery of GPUs in a child process, the child side of an isolated
// device (ServeDevice), the audit adapter from scheduler events to the
// audit log, and the housekeeping loop.
package node
