// Package bench is proofmill's benchmark harness: `proofmill bench` runs it
// and writes a report folder (report.json, README.md, charts/*.svg).
//
// Sections, each measured the same way on a laptop, a CI box or a GPU
// server:
//
//   - sweep: compile, setup, key-load, solve and prove times, and peak
//     memory, for the registered circuits and a synthetic circuit scaled by
//     constraint count, on the CPU and on each GPU;
//   - service: proofs through the embedded server over gRPC against raw
//     groth16.Prove in the same run, interleaved round by round, at
//     concurrency 1 to 2× cores;
//   - primitives: G1 MSM and NTT from 2^12 upwards, on the CPU and, in an
//     icicle build, on GPUs with inputs on the host and on the device;
//   - load: submissions per second and memory with 10,000 jobs queued, and
//     1,000 concurrent WatchJob streams.
//
// A Profile sets the sizes and counts (Quick for CI, Full for GPU servers).
// The harness starts the service as a node.Node, so it measures
// the same wiring `proofmill serve` runs. CheckComplete says whether a
// report is complete; CheckSpeeds is the performance gate (the service's
// CPU time against raw gnark's, sizes that scale).
package bench
