// Package redisq is the shared Store and Queue for the scheduler, on Redis:
// any number of servers submit and read jobs, and worker processes on any
// machine take them through github.com/hibiken/asynq.
//
// Jobs live in Redis hashes under "proofmill:{j}:", written only by Lua
// scripts that check the job's version, so concurrent writers from
// different processes cannot overwrite each other; the same scripts keep
// the indexes of unfinished jobs (per tenant) and of waiting jobs (per
// priority) that quotas and admission count. Finished jobs expire after the
// retention period. Each change is published on the "proofmill:changed"
// channel, so every server can wake its watchers.
//
// The queue is a pair of asynq queues per class of job: proofmill.interactive
// and proofmill.batch for jobs of no configured tenant, and
// proofmill.TENANT.interactive and proofmill.TENANT.batch for each tenant,
// weighted 4:1 between priorities (as the embedded queue's policy) and by
// each tenant's weight. The task ID is the job ID, so a job is never in line
// twice. A worker holds a task (asynq keeps its lease alive) for as long as
// the proof runs; if the worker dies, the lease lapses and asynq hands the
// task to another worker, which counts another attempt.
//
// asynq's view (its CLI, its Inspector) tells how jobs went: every queue is
// declared at start; a task's payload names job, circuit, tenant and
// priority; its MaxRetry is MaxAttempts−1 and only failed attempts count as
// its retries, each with its reason as the last error; a succeeded job's
// task stays completed for the retention; a failed job's (held, or in line
// at its deadline) is archived, a failure of asynq's, with the job's error
// kind and message, which hold no input. A job run again under its ID
// replaces its ended task.
//
// Consumers, the Inspector and lengths use asynq's public API. Tasks are
// put in line by proofmill's own scripts, writing the keys and message
// asynq's Client.Enqueue writes (tasks.go; a test holds them to asynq's
// byte for byte): so on one Redis server a submission is one script that
// finds an existing job, checks the bounds, stores the job and queues its
// task (Admitter). On a Cluster the job and its task are on different
// slots: the job is stored marked not yet in line (proofmill:{j}:unqueued),
// its task pushed, then the mark cleared; the minutely reconciliation
// pushes only what is still marked, and the unfinished jobs whose tasks
// asynq archived since its last look (Queue.Archived: asynq archives a
// task whose retries are spent on any error, a lapsed lease or a
// hand-back too). Only this package imports asynq and
// go-redis.
package redisq
