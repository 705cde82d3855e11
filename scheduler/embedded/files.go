package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/proofmill/proofmill/errcode"
)

// Beside the journal (jobs.db) lie two small files:
//
//   - jobs.db.marker, written once when the journal is made: the evidence
//     that a journal existed here, so a missing or emptied one is refused
//     instead of silently started empty. A journal from before markers
//     gets one at its next open.
//   - jobs.db.owner, the process that has the journal open (pid, host,
//     start time), written after taking bbolt's lock and removed on close,
//     so a second process can say who holds the folder.
func markerPath(path string) string { return path + ".marker" }
func ownerPath(path string) string  { return path + ".owner" }

type marker struct {
	Created time.Time `json:"created"`
	About   string    `json:"about"`
}

const markerAbout = "proofmill made a job journal (jobs.db) in this folder; while this file is here, a missing or empty jobs.db is refused, not started afresh"

// hasMarker reports whether the journal at path was made here before.
func hasMarker(path string) (bool, error) {
	_, err := os.Stat(markerPath(path))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("embedded: %w", err)
}

func writeMarker(path string) error {
	data, _ := json.Marshal(marker{Created: time.Now().UTC(), About: markerAbout})
	return writeFileSync(markerPath(path), append(data, '\n'))
}

// writeFileSync writes a file whole (through a temporary file and a rename)
// and syncs it and its folder.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		defer d.Close()
		return d.Sync()
	}
	return nil
}

// owner is who has a journal open.
type owner struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Program string    `json:"program"`
	Since   time.Time `json:"since"`
}

func writeOwner(path string) error {
	host, _ := os.Hostname()
	program := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		program += " " + os.Args[1] // the subcommand; no other argument
	}
	data, _ := json.Marshal(owner{PID: os.Getpid(), Host: host, Program: program, Since: time.Now().UTC()})
	return writeFileSync(ownerPath(path), append(data, '\n'))
}

// inUse is the error for a journal another process holds: it names that
// process where it left its owner file.
func inUse(path string, readOnly bool) error {
	who := "another process (it left no " + ownerPath(path) + " saying which)"
	if data, err := os.ReadFile(ownerPath(path)); err == nil {
		var o owner
		if json.Unmarshal(data, &o) == nil && o.PID > 0 {
			who = fmt.Sprintf("pid %d on host %s (%s, since %s)", o.PID, o.Host, o.Program, o.Since.Local().Format(time.RFC3339))
			if host, _ := os.Hostname(); host == o.Host && gone(o.PID) {
				who += "; no such process runs here, so it may be in another container sharing this folder"
			}
		}
	}
	do := "stop it, or give this process another data folder (--data)"
	if readOnly {
		do = "stop it first, or check a copy of the folder taken while it was stopped"
	}
	return errcode.Errorf(errcode.Unavailable, "embedded: journal %s is in use by %s: %s", path, who, do)
}

// damagedJournal is the error for a journal that cannot be trusted as a
// whole: it says how to restore and how to start afresh.
func damagedJournal(path, what string) error {
	dir := filepath.Dir(path)
	return errcode.Errorf(errcode.CorruptRecord, "embedded: journal %s is damaged: %s; nothing was served from it. "+
		"To restore: stop every process using %s, copy your backup of %s there, check it with `proofmill journal check --data %s`, and start again. "+
		"To start afresh on purpose, losing every job it held: move %s and %s out of %s",
		path, what, dir, filepath.Base(path), dir, filepath.Base(path), filepath.Base(markerPath(path)), dir)
}

// noSpace is the retryable error for a write that did not fit.
func noSpace(path string, err error) error {
	return errcode.Errorf(errcode.Unavailable, "the journal is out of space: %s is full; the write was not made, and the same request succeeds once there is room (%w)",
		filepath.Dir(path), err)
}
