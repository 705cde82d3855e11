// Package diskfull tells a write that failed for want of room (ENOSPC, or
// a quota: EDQUOT) from other failures, so that callers can make it a
// retryable error: the same write succeeds once there is room.
package diskfull

import (
	"errors"
	"strings"
	"syscall"
)

// Is reports whether err is a write that did not fit. Some libraries
// (bbolt, resizing its file) flatten the cause with %s, so the errno's text
// is matched too.
func Is(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		if errors.Is(err, e) || strings.Contains(err.Error(), e.Error()) {
			return true
		}
	}
	return false
}
