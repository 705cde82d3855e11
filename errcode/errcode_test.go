package errcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

var errSentinel = New(InvalidInput, "malformed JSON")

func TestOf(t *testing.T) {
	cases := []struct {
		err  error
		want Code
	}{
		{nil, ""},
		{errSentinel, InvalidInput},
		{fmt.Errorf("decode: %w: at 3", errSentinel), InvalidInput},
		{E("scheduler.Submit", Unavailable, fmt.Errorf("redis: %w", errSentinel)), Unavailable}, // the outermost wins
		{Errorf(Unsatisfied, "rule %s", "x"), Unsatisfied},
		{errors.Join(errors.New("plain"), Errorf(QueueFull, "full")), QueueFull},
		{fmt.Errorf("call: %w", context.Canceled), Interrupted},
		{context.DeadlineExceeded, DeadlineExceeded},
		{errors.New("disk on fire"), Internal},
	}
	for _, c := range cases {
		if got := Of(c.err); got != c.want {
			t.Errorf("Of(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", errSentinel), errSentinel) {
		t.Error("errors.Is lost the sentinel")
	}
	if got := errSentinel.Error(); got != "malformed JSON" {
		t.Errorf("a sentinel reads %q", got)
	}
	if got := E("op", Internal, errors.New("why")).Error(); got != "op: why" {
		t.Errorf("E reads %q", got)
	}
}

// Every code is in the table once, with an exit status the README's
// table explains, and each gRPC status without a reason means a code.
func TestTable(t *testing.T) {
	exits := map[int]bool{}
	for _, e := range Exits {
		if exits[e.Status] {
			t.Errorf("exit %d listed twice", e.Status)
		}
		exits[e.Status] = true
	}
	used := map[int]bool{0: true}
	for _, e := range Table {
		if !exits[e.Exit] {
			t.Errorf("%s exits %d, which Exits does not explain", e.Code, e.Exit)
		}
		used[e.Exit] = true
		if e.Code.Entry() != e {
			t.Errorf("%s: lookup gives %+v", e.Code, e.Code.Entry())
		}
	}
	for s := range exits {
		if !used[s] {
			t.Errorf("exit %d is explained but no code exits with it", s)
		}
	}
	if Code("nonsense").Entry().Code != Internal || Code("nonsense").Known() {
		t.Error("an unknown code is not internal")
	}
	for status, want := range map[Status]Code{
		StatusInvalidArgument: BadRequest, StatusResourceExhausted: TooLarge, StatusUnavailable: Unavailable,
		StatusNotFound: UnknownCircuit, StatusUnauthenticated: Unauthenticated, StatusFailedPrecondition: Unsatisfied,
		StatusDeadlineExceeded: DeadlineExceeded, StatusCanceled: Interrupted, StatusAborted: Conflict,
		StatusUnknown: Internal, StatusUnimplemented: Internal, StatusOK: Internal,
	} {
		if got := ForStatus(status); got != want {
			t.Errorf("ForStatus(%d) = %s, want %s", status, got, want)
		}
	}
	for _, c := range []struct {
		code Code
		want bool
	}{{Unsatisfied, false}, {DevelopmentKeys, false}, {KeyMismatch, true}, {Unavailable, true}, {Internal, true}} {
		if got := Retryable(E("", c.code, errors.New("x"))); got != c.want {
			t.Errorf("Retryable(%s) = %v", c.code, got)
		}
	}
}
