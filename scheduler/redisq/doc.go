// Package redisq is the shared Store and Queue for the scheduler, on Redis:
// any number of servers submit and read jobs, and worker processes on any
// machine take them through github.com/hibiken/asynq.
//
// Jobs live in Redis hashes under "proofmill:{j}:", written only by Lua
// scripts that check the job's version, so concurrent writers from
// different processes cannot overwrite each other. Finished jobs expire
// after the retention period. Each change is published on the
// "proofmill:changed" channel, so every server can wake its watchers.
//
// The queue is two asynq queues, proofmill.interactive and proofmill.batch,
// weighted 4:1 like the embedded queue's policy. The task ID is the job ID,
// so a job is never in line twice. A worker holds a task (asynq keeps its
// lease alive) for as long as the proof runs; if the worker dies, the lease
// lapses and asynq hands the task to another worker, which counts another
// attempt. Only this package imports asynq and go-redis.
package redisq
