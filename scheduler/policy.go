package scheduler

// InteractiveShare is how many interactive jobs start for each batch job
// while both kinds wait.
const InteractiveShare = 4

// NextPriority picks the priority to serve next, given how many jobs wait at
// each and how many interactive jobs have started since the last batch job.
// Interactive jobs win, but every InteractiveShare-th pick goes to a waiting
// batch job, so a steady interactive load never starves batch work and a
// batch backlog never delays interactive work by more than one job in five.
// ok is false when nothing waits.
func NextPriority(waiting [numPriorities]int, interactiveStreak int) (p Priority, ok bool) {
	switch {
	case waiting[Interactive] == 0 && waiting[Batch] == 0:
		return 0, false
	case waiting[Batch] == 0:
		return Interactive, true
	case waiting[Interactive] == 0 || interactiveStreak >= InteractiveShare:
		return Batch, true
	}
	return Interactive, true
}
