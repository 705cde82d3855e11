package hwaccel

import "testing"

func TestPinPolicy(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		which          string
		budget         int
		circuit        string
		bytes, pinned  uint64
		want, wantNone bool
	}{
		{which: "none", wantNone: true},
		{which: "", wantNone: true},
		{which: "all", circuit: "abs-pool-64/v1", bytes: 100 * mib, want: true},
		{which: "all", budget: 150, circuit: "abs-pool-64/v1", bytes: 100 * mib, pinned: 100 * mib, want: false}, // over the budget
		{which: "all", budget: 200, circuit: "abs-pool-64/v1", bytes: 100 * mib, pinned: 100 * mib, want: true},
		{which: "abs-pool-64/v1, invoice-consistency/v1", circuit: "invoice-consistency/v1", bytes: mib, want: true},
		{which: "abs-pool-64/v1", circuit: "invoice-consistency/v1", bytes: mib, want: false},
	}
	for _, c := range cases {
		pin := PinPolicy(c.which, c.budget)
		if c.wantNone {
			if pin != nil {
				t.Errorf("%q: a policy that pins", c.which)
			}
			continue
		}
		if got := pin(c.circuit, c.bytes, c.pinned); got != c.want {
			t.Errorf("%q budget %d: pin %s (%d bytes, %d pinned) = %v, want %v", c.which, c.budget, c.circuit, c.bytes, c.pinned, got, c.want)
		}
	}
}
