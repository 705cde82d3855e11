package prover

import "context"

// Stage is what a proof is doing now; the values are scheduler.Stage's.
type Stage string

const (
	StageWaitingForKeys Stage = "waiting_for_keys"
	StageMakingKeys     Stage = "making_development_keys"
	StageSolving        Stage = "solving"
	StageProving        Stage = "proving"
	StageVerifying      Stage = "verifying"
)

type progressKey struct{}

// WithProgress returns a context under which LoadKeys and ProveWitness
// tell report each stage they reach, as net/http/httptrace does for a
// request: a proof's stages without a change to every signature on the
// way. report must return quickly (it runs on the proving goroutine).
func WithProgress(ctx context.Context, report func(Stage)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

// progress reports stage to ctx's WithProgress, if any.
func progress(ctx context.Context, stage Stage) {
	if report, ok := ctx.Value(progressKey{}).(func(Stage)); ok {
		report(stage)
	}
}
