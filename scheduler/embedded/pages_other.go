//go:build !linux

package embedded

import bolt "go.etcd.io/bbolt"

// releasePages is Linux's only (see pages_linux.go).
func releasePages(*bolt.DB, *bolt.Tx) {}
