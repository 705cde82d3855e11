package scheduler

import "testing"

func TestNextPriority(t *testing.T) {
	cases := []struct {
		waiting [numPriorities]int
		streak  int
		want    Priority
		ok      bool
	}{
		{[2]int{0, 0}, 0, 0, false},
		{[2]int{3, 0}, 9, Interactive, true},
		{[2]int{0, 3}, 0, Batch, true},
		{[2]int{3, 3}, 0, Interactive, true},
		{[2]int{3, 3}, InteractiveShare - 1, Interactive, true},
		{[2]int{3, 3}, InteractiveShare, Batch, true},
	}
	for _, c := range cases {
		got, ok := NextPriority(c.waiting, c.streak)
		if got != c.want || ok != c.ok {
			t.Errorf("NextPriority(%v, %d) = %v, %v; want %v, %v", c.waiting, c.streak, got, ok, c.want, c.ok)
		}
	}
}

// Under a steady interactive load, a batch backlog still gets one start in
// every InteractiveShare+1.
func TestNoStarvation(t *testing.T) {
	streak, batch := 0, 0
	const picks = 100
	for range picks {
		p, _ := NextPriority([2]int{1000, 1000}, streak)
		if p == Batch {
			batch++
			streak = 0
		} else {
			streak++
		}
	}
	if want := picks / (InteractiveShare + 1); batch != want {
		t.Fatalf("batch got %d of %d starts, want %d", batch, picks, want)
	}
}

func TestNextTenant(t *testing.T) {
	cases := []struct {
		waiting []string
		pass    map[string]float64
		want    string
		ok      bool
	}{
		{nil, nil, "", false},
		{[]string{"a"}, nil, "a", true},
		{[]string{"b", "a"}, nil, "a", true}, // a tie goes to the name first
		{[]string{"a", "b"}, map[string]float64{"a": 2, "b": 1}, "b", true},
		{[]string{"a", "c"}, map[string]float64{"a": 2, "b": 0, "c": 3}, "a", true}, // b waits for nothing
	}
	for _, c := range cases {
		got, ok := NextTenant(c.waiting, c.pass)
		if got != c.want || ok != c.ok {
			t.Errorf("NextTenant(%v, %v) = %q %v, want %q %v", c.waiting, c.pass, got, ok, c.want, c.ok)
		}
	}
}
