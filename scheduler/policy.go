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

// StartsAhead is how many jobs start before one newly queued at p, given
// how many wait at each priority, as NextPriority orders them: every job
// waiting at its own priority, and those of the other that NextPriority
// lets in meanwhile (one batch job per InteractiveShare interactive ones).
// Tenants' shares within a priority are not modelled.
func StartsAhead(waiting [numPriorities]int, p Priority) int {
	i, b := waiting[Interactive], waiting[Batch]
	if p == Interactive {
		return i + min(b, i/InteractiveShare)
	}
	return b + min(i, InteractiveShare*(b+1))
}

// NextTenant picks whose job starts next among the tenants with jobs
// waiting at the chosen priority: the one that has received the least
// service per unit of weight (its pass), ties going to the name that sorts
// first. Each start adds 1/weight to the tenant's pass (stride
// scheduling), so over any stretch where tenants all have work, their
// starts are in proportion to their weights, and a tenant with one job
// waits for at most one start per other tenant with work.
func NextTenant(waiting []string, pass map[string]float64) (string, bool) {
	best, ok := "", false
	for _, t := range waiting {
		if !ok || pass[t] < pass[best] || pass[t] == pass[best] && t < best {
			best, ok = t, true
		}
	}
	return best, ok
}
