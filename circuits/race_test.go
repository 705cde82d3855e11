//go:build race

package circuits_test

// raceEnabled: this test binary was built with -race.
const raceEnabled = true
