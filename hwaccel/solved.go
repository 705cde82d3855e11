package hwaccel

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	gnarklog "github.com/consensys/gnark/logger"
	"github.com/rs/zerolog"
)

// gnark's Prove solves the witness, then runs the MSMs and FFTs, and takes
// no callback between the two. Its solver logs solverDone, through gnark's
// global logger, on the goroutine that called Prove: a hook on that logger
// tells the proof that goroutine runs its Job.Solved. The logger is set
// here, at init, before any goroutine reads it; MuteGnarkLog silences its
// output without replacing it (which would drop the hook, and race).
const solverDone = "constraint system solver done"

var (
	gnarkOut = &switchWriter{out: zerolog.ConsoleWriter{Out: os.Stdout, TimeFormat: "15:04:05"}}
	solving  sync.Map // goroutine id → func(): the proofs waiting for their solve to end
)

func init() {
	// gnark mutes itself under `go test`; keep it so.
	gnarkOut.muted.Store(gnarklog.Logger().GetLevel() == zerolog.Disabled)
	gnarklog.Set(zerolog.New(gnarkOut).With().Timestamp().Logger().Hook(solvedHook{}))
}

// MuteGnarkLog stops gnark's own debug lines (our slog says what matters),
// keeping the hook that reports solves.
func MuteGnarkLog() { gnarkOut.muted.Store(true) }

// switchWriter writes to out unless muted.
type switchWriter struct {
	out   zerolog.ConsoleWriter
	muted atomic.Bool
}

func (w *switchWriter) Write(p []byte) (int, error) {
	if w.muted.Load() {
		return len(p), nil
	}
	return w.out.Write(p)
}

type solvedHook struct{}

func (solvedHook) Run(_ *zerolog.Event, _ zerolog.Level, msg string) {
	if msg != solverDone {
		return
	}
	if f, ok := solving.LoadAndDelete(goroutineID()); ok {
		f.(func())()
	}
}

// whenSolved runs solved once the solve that the calling goroutine starts
// next ends; the returned func forgets it (call it when the proof ends).
func whenSolved(solved func()) (forget func()) {
	if solved == nil {
		return func() {}
	}
	id := goroutineID()
	solving.Store(id, solved)
	return func() { solving.Delete(id) }
}

// goroutineID is the calling goroutine's number, from its stack's header
// ("goroutine 18 [running]:"): Go gives no other way to tell the goroutine
// that gnark logs from.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
