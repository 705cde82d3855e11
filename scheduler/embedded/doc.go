// Package embedded is the single-machine Store and Queue for the scheduler:
// jobs are journaled in a bbolt file, so every accepted job survives a crash
// or restart, and the queue is an in-memory index that Scheduler.Recover
// rebuilds from the store on start.
package embedded
