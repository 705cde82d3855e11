package scheduler

import (
	"fmt"
	"sync"
	"time"

	"github.com/proofmill/proofmill/errcode"
)

// ErrDeadlineUnmeetable: the job is predicted to start after its deadline.
var ErrDeadlineUnmeetable = errcode.New(errcode.DeadlineUnmeetable, "deadline cannot be met")

const (
	// forecastSamples is how many proofs this process must have seen
	// before a forecast refuses anything.
	forecastSamples = 3
	// forecastWeight is the weight of the newest proof in the mean.
	forecastWeight = 0.2
	// forecastTracked bounds the admitted jobs whose predicted start is
	// kept for ForecastError.
	forecastTracked = 10_000
)

// forecast predicts when a job admitted now would start: the starts ahead
// of it (StartsAhead), spread over the slots proving, each taking the mean
// run time of the recent proofs this process saw.
type forecast struct {
	mu        sync.Mutex
	mean      time.Duration // exponentially weighted, all circuits
	samples   int
	predicted map[string]time.Time // admitted job → its predicted start
}

// observe takes a finished proof's run time into the mean.
func (f *forecast) observe(run time.Duration) {
	if run <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.samples == 0 {
		f.mean = run
	} else {
		f.mean = time.Duration(forecastWeight*float64(run) + (1-forecastWeight)*float64(f.mean))
	}
	f.samples++
}

// Prediction is a forecast job start.
type Prediction struct {
	Start time.Time
	Ahead int           // jobs that start before it
	Slots int           // proofs running at once
	Mean  time.Duration // a recent proof's run time
}

// predict forecasts the start of a job queued now behind ahead others, on
// slots; ok is false without slots or enough proofs seen to say.
func (f *forecast) predict(now time.Time, ahead, slots int) (Prediction, bool) {
	f.mu.Lock()
	mean, samples := f.mean, f.samples
	f.mu.Unlock()
	if slots <= 0 || samples < forecastSamples {
		return Prediction{}, false
	}
	wait := time.Duration(float64(ahead) / float64(slots) * float64(mean))
	return Prediction{Start: now.Add(wait), Ahead: ahead, Slots: slots, Mean: mean}, true
}

// track keeps a job's predicted start until it starts.
func (f *forecast) track(id string, start time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.predicted == nil {
		f.predicted = map[string]time.Time{}
	}
	if len(f.predicted) < forecastTracked {
		f.predicted[id] = start
	}
}

// started returns how much later than predicted a tracked job started
// (negative: earlier), and forgets it.
func (f *forecast) started(id string, at time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.predicted[id]
	delete(f.predicted, id)
	return at.Sub(p), ok
}

// forget drops a job that will not start here (cancelled, failed late).
func (f *forecast) forget(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.predicted, id)
}

// checkDeadline refuses a job whose predicted start is past its deadline.
func (s *Scheduler) checkDeadline(job *Job, waiting map[Priority]int) (Prediction, bool, error) {
	if s.cfg.Slots == nil {
		return Prediction{}, false, nil
	}
	var w [numPriorities]int
	for _, p := range Priorities {
		w[p] = waiting[p]
	}
	pred, ok := s.forecast.predict(s.cfg.Now(), StartsAhead(w, job.Priority), s.cfg.Slots())
	if !ok || job.Deadline.IsZero() || !pred.Start.After(job.Deadline) {
		return pred, ok, nil
	}
	return pred, ok, fmt.Errorf("scheduler: %w: predicted to start at %s (%d jobs ahead on %d slots, %s a proof lately), after its deadline %s",
		ErrDeadlineUnmeetable, pred.Start.UTC().Format(time.RFC3339), pred.Ahead, pred.Slots, pred.Mean.Round(time.Millisecond), job.Deadline.UTC().Format(time.RFC3339))
}
