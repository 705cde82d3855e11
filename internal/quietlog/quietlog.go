// Package quietlog keeps a failure from flooding the log: a slog.Handler
// that writes a repeated warning or error once when it starts, once a
// minute while it goes on (with how often it recurred), and once when it
// ends (with how long it lasted), instead of every time.
package quietlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Config tunes a Handler. The zero value is usable.
type Config struct {
	// Settle is how long a repeated record must stay away before it is
	// reported ended; 0 means 5 s.
	Settle time.Duration
	// Every is how often a record that keeps recurring is written again,
	// with its count; 0 means one minute.
	Every time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler quiets repeats of warnings and errors: the same level, message
// and attributes (time aside). Records below slog.LevelWarn pass through
// unchanged. Start runs the sweep that reports ended repeats; Stop ends
// it, reporting what was still repeating.
type Handler struct {
	next   slog.Handler
	shared *shared
	scope  string // the attributes and groups added with WithAttrs and WithGroup, for the key
}

type shared struct {
	cfg     Config
	mu      sync.Mutex
	repeats map[string]*repeat
	stop    chan struct{}
	done    chan struct{}
}

// repeat is one record that recurs.
type repeat struct {
	next      slog.Handler // the handler (scope included) its lines go to
	record    slog.Record  // its first occurrence
	first     time.Time
	last      time.Time // when it last recurred
	reported  time.Time // when a line last went out for it
	sinceLine int       // occurrences since that line
	total     int
}

// New returns a Handler writing to next.
func New(next slog.Handler, cfg Config) *Handler {
	if cfg.Settle <= 0 {
		cfg.Settle = 5 * time.Second
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{next: next, shared: &shared{cfg: cfg, repeats: map[string]*repeat{}}}
}

// Start runs the sweep that reports repeats that have ended, every half
// Settle, until Stop. Starting twice does nothing.
func (h *Handler) Start() {
	s := h.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	stop, done := make(chan struct{}), make(chan struct{})
	s.stop, s.done = stop, done
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.Settle / 2)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.sweep(false)
			case <-stop:
				return
			}
		}
	}()
}

// Stop ends the sweep and reports every repeat still going on (with its
// count so far). It is safe to call without Start, and more than once.
func (h *Handler) Stop() {
	s := h.shared
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	s.sweep(true)
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range as {
		b.WriteString(a.String())
		b.WriteByte(' ')
	}
	return &Handler{next: h.next.WithAttrs(as), shared: h.shared, scope: h.scope + b.String()}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), shared: h.shared, scope: h.scope + name + "{"}
}

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	k := h.key(r)
	s := h.shared
	now := s.cfg.Now()
	s.mu.Lock()
	rep := s.repeats[k]
	if rep == nil {
		s.repeats[k] = &repeat{next: h.next, record: r.Clone(), first: now, last: now, reported: now, total: 1}
		s.mu.Unlock()
		return h.next.Handle(ctx, r)
	}
	rep.last = now
	rep.total++
	rep.sinceLine++
	if now.Sub(rep.reported) < s.cfg.Every {
		s.mu.Unlock()
		return nil
	}
	line := rep.line(r.Level, r.Message, now, "still happening", rep.sinceLine)
	line.AddAttrs(slog.Duration("for", now.Sub(rep.first).Round(time.Millisecond)))
	rep.reported, rep.sinceLine = now, 0
	s.mu.Unlock()
	return h.next.Handle(ctx, line)
}

// key is what makes two records the same: level, scope, message and
// attributes, not time.
func (h *Handler) key(r slog.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s", r.Level, h.scope, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteByte(0)
		b.WriteString(a.String())
		return true
	})
	return b.String()
}

// line is a report on the repeat: its first record's attributes, with how
// often it recurred since the last line and in all.
func (rep *repeat) line(level slog.Level, msg string, now time.Time, what string, count int) slog.Record {
	out := slog.NewRecord(now, level, msg+" ("+what+")", 0)
	rep.record.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	out.AddAttrs(slog.Int("repeated", count), slog.Int("times_in_all", rep.total))
	return out
}

// sweep reports the repeats that have stayed away for Settle (all of them
// when final) and forgets them. A record seen only once has nothing to
// report.
func (s *shared) sweep(final bool) {
	now := s.cfg.Now()
	type out struct {
		next slog.Handler
		r    slog.Record
	}
	var lines []out
	s.mu.Lock()
	for k, rep := range s.repeats {
		if !final && now.Sub(rep.last) < s.cfg.Settle {
			continue
		}
		delete(s.repeats, k)
		if rep.total < 2 {
			continue
		}
		what, level := "ended", slog.LevelInfo
		if final && now.Sub(rep.last) < s.cfg.Settle {
			what, level = "still happening at exit", rep.record.Level
		}
		r := rep.line(level, rep.record.Message, now, what, rep.sinceLine)
		r.AddAttrs(slog.Duration("lasted", rep.last.Sub(rep.first).Round(time.Millisecond)))
		lines = append(lines, out{rep.next, r})
	}
	s.mu.Unlock()
	for _, l := range lines {
		l.next.Handle(context.Background(), l.r)
	}
}
