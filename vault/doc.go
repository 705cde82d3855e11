// Package vault keeps jobs' inputs encrypted at rest: envelope encryption
// with AES-256-GCM.
//
//   - The operator's master key (32 bytes, a file or an environment
//     variable) wraps the data keys and nothing else; it is never stored
//     beside them.
//   - Each tenant has data keys, numbered versions, stored wrapped in a Ring
//     (a file beside the embedded journal, or a hash in Redis) so that every
//     server and worker sharing the jobs shares them. New jobs use the
//     newest version; older ones stay until no unfinished job needs them.
//   - Each job's witness is encrypted under a key of its own, which the
//     tenant's data key wraps; the job's id and tenant are the associated
//     data of both, so a ciphertext moved to another job or tenant does not
//     open. When the job ends the scheduler drops both.
//
// Rotating a tenant's data key (Rotate) starts a new version for new jobs;
// Retire then destroys the versions no unfinished job uses, which makes any
// stale copy of an old job's ciphertext (an AOF rewrite's history, a
// replica's backlog, a free page of the journal) undecryptable. Rotating
// the master key (Rewrap) re-wraps the data keys and re-encrypts no job.
package vault
