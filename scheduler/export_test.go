package scheduler

// Watches is how many jobs have registered watchers, for leak tests.
func (s *Scheduler) Watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.changed)
}

// Watching is how many callers wait on a job's changes.
func (s *Scheduler) Watching(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.changed[id]; ok {
		return w.n
	}
	return 0
}
