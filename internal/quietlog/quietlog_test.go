package quietlog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// clock is a scripted clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func newTest() (*Handler, *slog.Logger, *bytes.Buffer, *clock) {
	var out bytes.Buffer
	c := &clock{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	text := slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	h := New(text, Config{Settle: 5 * time.Second, Every: time.Minute, Now: c.Now})
	return h, slog.New(h), &out, c
}

func lines(b *bytes.Buffer) []string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// An outage: the same warning every quarter second for 8 s is written
// once when it starts and once when it ends, with its count and length.
func TestOutageIsReportedAtItsStartAndEnd(t *testing.T) {
	h, log, out, c := newTest()
	refused := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	for range 33 {
		log.Warn("batch: cannot read progress; retrying", "err", refused)
		c.advance(250 * time.Millisecond)
	}
	if got := lines(out); len(got) != 1 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], "connection refused") {
		t.Fatalf("during the outage: %q, want the first warning alone", got)
	}
	c.advance(2 * time.Second)
	h.shared.sweep(false) // not settled yet
	if got := lines(out); len(got) != 1 {
		t.Fatalf("before it settled: %q", got)
	}
	c.advance(4 * time.Second)
	h.shared.sweep(false)
	got := lines(out)
	if len(got) != 2 {
		t.Fatalf("after it settled: %q, want the start and the end", got)
	}
	for _, want := range []string{"level=INFO", "(ended)", "repeated=32", "times_in_all=33", "lasted=8s", "connection refused"} {
		if !strings.Contains(got[1], want) {
			t.Errorf("the end line %q lacks %q", got[1], want)
		}
	}
	log.Warn("batch: cannot read progress; retrying", "err", refused) // a new outage starts afresh
	if got := lines(out); len(got) != 3 || !strings.Contains(got[2], "level=WARN") {
		t.Fatalf("a second outage: %q", got)
	}
}

// A warning that keeps recurring is written again once a minute, with
// its count since the last line.
func TestLongRepeatIsWrittenOnceAMinute(t *testing.T) {
	_, log, out, c := newTest()
	for range 150 { // 150 s, one a second
		log.Error("asynq: Failed to write server state data", "err", "UNKNOWN: redis command error")
		c.advance(time.Second)
	}
	got := lines(out)
	if len(got) != 3 {
		t.Fatalf("150 s of a recurring error: %d lines %q, want 3 (start, 60 s, 120 s)", len(got), got)
	}
	if !strings.Contains(got[1], "(still happening)") || !strings.Contains(got[1], "repeated=60") || !strings.Contains(got[1], "for=1m0s") || !strings.Contains(got[1], "level=ERROR") {
		t.Fatalf("the minute line %q", got[1])
	}
}

// Different records are not merged: other attributes, another message,
// another level or another scope are each written; below Warn nothing is
// held back.
func TestOnlyIdenticalWarningsAreQuieted(t *testing.T) {
	h, log, out, _ := newTest()
	log.Warn("job failed; retrying", "job", "a")
	log.Warn("job failed; retrying", "job", "b")
	log.Error("job failed; retrying", "job", "a")
	log.Warn("job failed", "job", "a")
	slog.New(h.WithAttrs([]slog.Attr{slog.String("worker", "w1")})).Warn("job failed; retrying", "job", "a")
	slog.New(h.WithGroup("g")).Warn("job failed; retrying", "job", "a")
	for range 3 {
		log.Info("recovered unfinished jobs")
	}
	if got := lines(out); len(got) != 9 {
		t.Fatalf("%d lines, want 9: %q", len(got), got)
	}
	log.Warn("job failed; retrying", "job", "a")
	if got := lines(out); len(got) != 9 {
		t.Fatalf("an identical repeat was written: %q", got[len(got)-1])
	}
}

// Stop reports what is still repeating, at its level; a record seen once
// has nothing to report.
func TestStopReportsOngoingRepeats(t *testing.T) {
	h, log, out, c := newTest()
	h.Start()
	log.Warn("once")
	for range 4 {
		log.Warn("redis unreachable", "addr", "127.0.0.1:6379")
		c.advance(time.Second)
	}
	h.Stop()
	h.Stop() // twice is fine
	got := lines(out)
	if len(got) != 3 || !strings.Contains(got[2], "(still happening at exit)") || !strings.Contains(got[2], "level=WARN") || !strings.Contains(got[2], "times_in_all=4") {
		t.Fatalf("after Stop: %q", got)
	}
}
