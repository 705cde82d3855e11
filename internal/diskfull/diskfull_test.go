package diskfull

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestIs(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&fs.PathError{Op: "write", Path: "jobs.db", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("file resize error: %s", syscall.EDQUOT), true}, // bbolt's flattened form
		{&fs.PathError{Op: "write", Path: "jobs.db", Err: syscall.EIO}, false},
		{errors.New("timeout"), false},
		{nil, false},
	} {
		if got := Is(c.err); got != c.want {
			t.Errorf("Is(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
