package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBatchUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"batch"}, "batch submit | status | collect | run"},
		{[]string{"batch", "frobnicate"}, "batch submit | status | collect | run"},
		{[]string{"batch", "submit", "--in", "x.jsonl"}, "--redis is required"},
		{[]string{"batch", "run", "--redis", "127.0.0.1:1"}, "--in is required"},
		{[]string{"batch", "status", "--redis", "127.0.0.1:1"}, "--batch or --in is required"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		code := run(t.Context(), &env{stdout: &bytes.Buffer{}, stderr: &stderr, log: quiet}, c.args)
		if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, stderr.String(), exitUsage, c.want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	cases := []struct {
		p       batchProgress
		atStart int
		elapsed time.Duration
		want    string
	}{
		{batchProgress{total: 10, pending: 10}, 0, time.Second, "[........................] 0/10  done 0  failed 0  0.00/s  ETA ?"},
		{batchProgress{total: 10, succeeded: 4, failed: 1, pending: 5}, 0, 5 * time.Second, "[############............] 5/10  done 4  failed 1  1.00/s  ETA 5s"},
		// Lines already finished when watching began do not count toward the rate.
		{batchProgress{total: 8, succeeded: 6, pending: 2}, 4, 2 * time.Second, "[##################......] 6/8  done 6  failed 0  1.00/s  ETA 2s"},
	}
	for _, c := range cases {
		if got := progressLine(c.p, c.atStart, c.elapsed); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
