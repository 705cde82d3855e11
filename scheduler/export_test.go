package scheduler

// Watches is how many jobs have registered watchers, for leak tests.
func (s *Scheduler) Watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.changed)
}
