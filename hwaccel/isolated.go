package hwaccel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
)

// IsolatedConfig configures an Isolated device. Zero durations and counts
// take the defaults named.
type IsolatedConfig struct {
	Device string // e.g. "cuda:0"
	// Command makes the child process: it must speak ServeIsolated's
	// protocol on stdin and stdout (`proofmill worker --device ID --stdio`).
	Command      func() *exec.Cmd
	StartTimeout time.Duration // to start and say hello; 0 means 2m
	ProofTimeout time.Duration // a proof running longer means the device hung; 0 means 15m
	MaxFailures  int           // failures in a row that make the device unhealthy; 0 means 3
	Cooldown     time.Duration // an unhealthy device's rest before one probe job; 0 means 1m
	MaxBackoff   time.Duration // the longest wait between restarts; 0 means 30s
	Logger       *slog.Logger  // nil means slog.Default()
}

// Isolated is a device served by a supervised child process. gnark's GPU
// prover can panic in goroutines no recover reaches, or hang, and Prove
// takes no context: a child process contains all three. The supervisor
// restarts a child that exits, with backoff; a proof that crashes the
// child, outlives ProofTimeout (the child is killed) or fails verification
// is a DeviceError, so the caller proves it elsewhere. A proof whose ctx
// ends (its job cancelled) kills the child: the device is free at once and
// a fresh child starts, with no failure counted. After MaxFailures
// failures in a row the device is unhealthy and refuses jobs until a probe
// after Cooldown succeeds. One proof runs on the device at a time.
type Isolated struct {
	cfg IsolatedConfig
	log *slog.Logger
	sem chan struct{} // one proof at a time

	mu          sync.Mutex
	child       *child // nil while down
	info        Device
	failures    int // in a row
	lastFailure time.Time
	restarts    int
	proofs      int
	changed     chan struct{} // closed when child changes

	stop context.CancelFunc
	done chan struct{}
}

// NewIsolated returns a device; Start starts its supervisor.
func NewIsolated(cfg IsolatedConfig) *Isolated {
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.ProofTimeout == 0 {
		cfg.ProofTimeout = 15 * time.Minute
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 3
	}
	if cfg.Cooldown == 0 {
		cfg.Cooldown = time.Minute
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Isolated{cfg: cfg, log: cfg.Logger.With("device", cfg.Device), sem: make(chan struct{}, 1),
		info: Device{ID: cfg.Device}, changed: make(chan struct{})}
}

func (d *Isolated) Name() string { return d.cfg.Device }

func (d *Isolated) kind() string {
	kind, _, _ := strings.Cut(d.cfg.Device, ":")
	return kind
}

// DeviceStatus is a device's state, for ListDevices and metrics.
type DeviceStatus struct {
	Device
	Up       bool // a child is running and has said hello
	PID      int  // the running child's; 0 while down
	Healthy  bool
	Busy     bool
	Failures int // in a row
	Restarts int
	Proofs   int
}

// Status reports the device's state.
func (d *Isolated) Status() DeviceStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	pid := 0
	if d.child != nil {
		pid = d.child.cmd.Process.Pid
	}
	return DeviceStatus{Device: d.info, Up: d.child != nil, PID: pid, Healthy: d.failures < d.cfg.MaxFailures,
		Busy: len(d.sem) > 0, Failures: d.failures, Restarts: d.restarts, Proofs: d.proofs}
}

// Start starts the supervisor.
func (d *Isolated) Start() {
	ctx, stop := context.WithCancel(context.Background())
	d.stop, d.done = stop, make(chan struct{})
	go func() {
		defer close(d.done)
		d.supervise(ctx)
	}()
}

// Shutdown waits for a running proof (or ctx), then stops the child and
// the supervisor.
func (d *Isolated) Shutdown(ctx context.Context) error {
	if d.stop == nil {
		return nil
	}
	var err error
	select {
	case d.sem <- struct{}{}: // no proof runs now, and none will start
	case <-ctx.Done():
		err = fmt.Errorf("hwaccel: %s: shutdown with a proof running: %w", d.cfg.Device, ctx.Err())
	}
	d.stop()
	<-d.done
	return err
}

// supervise keeps a child running, restarting it with backoff, until ctx
// ends.
func (d *Isolated) supervise(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if wait := d.backoff(attempt); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
		}
		c, err := d.spawn(ctx)
		if err != nil {
			d.log.Error("device worker did not start", "err", err)
			d.noteFailure("start")
			continue
		}
		d.setChild(c)
		select {
		case <-c.exited:
		case <-ctx.Done():
			c.stop()
		}
		d.setChild(nil)
		if ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		d.restarts++
		d.mu.Unlock()
		if !c.cancelled.Load() {
			d.log.Warn("device worker exited; restarting", "exit", c.exitErr, "stderr", c.stderrTail())
		}
		if c.healthyRun() || c.cancelled.Load() {
			attempt = 0 // it ran a while: start again promptly
		}
	}
}

// backoff is the wait before start number attempt: none for the first,
// then doubling from 100 ms to MaxBackoff, or Cooldown while unhealthy.
func (d *Isolated) backoff(attempt int) time.Duration {
	if attempt == 0 {
		return 0
	}
	d.mu.Lock()
	unhealthy := d.failures >= d.cfg.MaxFailures
	d.mu.Unlock()
	if unhealthy {
		return d.cfg.Cooldown
	}
	return min(100*time.Millisecond<<min(attempt-1, 20), d.cfg.MaxBackoff)
}

func (d *Isolated) setChild(c *child) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.child = c
	if c != nil {
		d.info = c.hello.Device
		d.info.ID = d.cfg.Device
	}
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *Isolated) noteFailure(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures++
	d.lastFailure = time.Now()
	if d.failures == d.cfg.MaxFailures {
		d.log.Error("device unhealthy: jobs go to the CPU", "failures", d.failures, "last", reason, "probe_after", d.cfg.Cooldown)
	}
}

// usable reports whether the device takes a job: it is healthy, or
// unhealthy but rested (a probe).
func (d *Isolated) usable() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failures < d.cfg.MaxFailures || time.Since(d.lastFailure) >= d.cfg.Cooldown
}

// up returns the running child, waiting up to StartTimeout for one.
func (d *Isolated) up(ctx context.Context) *child {
	deadline := time.NewTimer(d.cfg.StartTimeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		c, changed := d.child, d.changed
		d.mu.Unlock()
		if c != nil && !c.dead() {
			return c
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// Prove sends the job to the device worker. The proof comes back
// unverified: the caller verifies it and reports through the result's
// Verified, which ends the device's run of failures or adds to it.
func (d *Isolated) Prove(ctx context.Context, job Job) (Result, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-d.sem }()
	fail := func(reason string, err error) (Result, error) {
		d.noteFailure(reason)
		return Result{}, &DeviceError{Device: d.cfg.Device, Reason: reason, Err: err}
	}
	if !d.usable() {
		return Result{}, &DeviceError{Device: d.cfg.Device, Reason: "unhealthy"}
	}
	c := d.up(ctx)
	if c == nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return fail("unavailable", errors.New("the device worker is not running"))
	}
	var wit bytes.Buffer
	if _, err := job.Witness.WriteTo(&wit); err != nil {
		return Result{}, fmt.Errorf("hwaccel: witness: %w", err)
	}
	resp, err := c.roundTrip(ctx, request{Circuit: job.Circuit, Witness: wit.Bytes()}, d.cfg.ProofTimeout)
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// Cancelled: only killing the worker stops gnark's prover. It
		// is no failure of the device; the supervisor starts another.
		c.cancelled.Store(true)
		c.kill()
		<-c.exited
		d.log.Info("device worker killed: its job was cancelled", "pid", c.cmd.Process.Pid)
		return Result{}, fmt.Errorf("hwaccel: %s: proof stopped, worker killed: %w", d.cfg.Device, err)
	case errors.Is(err, errHung):
		c.kill()
		<-c.exited
		return fail("hung", fmt.Errorf("no proof after %s; the worker was killed", d.cfg.ProofTimeout))
	case err != nil:
		c.kill()
		<-c.exited
		return fail("crashed", fmt.Errorf("%v (exit %v): %s", err, c.exitErr, c.stderrTail()))
	case resp.Unsatisfied:
		return Result{}, errors.New(resp.Error)
	case resp.Error != "":
		return fail("failed", errors.New(resp.Error))
	}
	proof := groth16.NewProof(ecc.BN254)
	if _, err := proof.ReadFrom(bytes.NewReader(resp.Proof)); err != nil {
		return fail("rejected", fmt.Errorf("undecodable proof: %w", err))
	}
	d.mu.Lock()
	d.proofs++
	d.mu.Unlock()
	return Result{Proof: proof, Device: d.cfg.Device, Verified: d.verified}, nil
}

// verified records the caller's check of a proof the device made.
func (d *Isolated) verified(ok bool) {
	if !ok {
		d.noteFailure("rejected")
		return
	}
	d.mu.Lock()
	d.failures = 0
	d.mu.Unlock()
}

var errHung = errors.New("hung")

// child is one running device worker process.
type child struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	hello   hello
	started time.Time
	exited  chan struct{} // closed after Wait; then exitErr is set
	exitErr error
	// cancelled: killed because its job was cancelled, which says nothing
	// of the next start.
	cancelled atomic.Bool

	mu     sync.Mutex
	stderr []string // the last lines
}

func (d *Isolated) spawn(ctx context.Context) (*child, error) {
	cmd := d.cfg.Command()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewReader(out), started: time.Now(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	logDone := make(chan struct{})
	go func() { // the child's log, into ours
		defer close(logDone)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			c.noteStderr(sc.Text())
			d.log.Info("device worker: " + sc.Text())
		}
	}()
	go func() {
		<-logDone // Wait closes the pipes: read them out first
		c.exitErr = cmd.Wait()
		close(c.exited)
	}()
	got := make(chan error, 1)
	go func() { got <- readFrame(c.out, &c.hello) }()
	select {
	case err = <-got:
	case <-time.After(d.cfg.StartTimeout):
		err = fmt.Errorf("no hello within %s", d.cfg.StartTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.kill()
		<-c.exited
		return nil, fmt.Errorf("%v (exit %v): %s", err, c.exitErr, c.stderrTail())
	}
	d.log.Info("device worker up", "pid", cmd.Process.Pid, "name", c.hello.Device.Name)
	return c, nil
}

func (c *child) roundTrip(ctx context.Context, req request, timeout time.Duration) (response, error) {
	type result struct {
		resp response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		if r.err = writeFrame(c.in, req); r.err == nil {
			r.err = readFrame(c.out, &r.resp)
		}
		done <- r
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-c.exited:
		r := <-done // the pipes are closed: the reader returns
		if r.err == nil {
			return r.resp, nil
		}
		return response{}, r.err
	case <-time.After(timeout):
		return response{}, errHung
	case <-ctx.Done():
		return response{}, ctx.Err()
	}
}

// stop asks the child to finish (stdin closed), then kills it after a grace period.
func (c *child) stop() {
	c.in.Close()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.kill()
		<-c.exited
	}
}

func (c *child) kill() { c.cmd.Process.Kill() }

func (c *child) dead() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// healthyRun: the child lived long enough that its exit says nothing about
// the next start.
func (c *child) healthyRun() bool { return time.Since(c.started) > time.Minute }

func (c *child) noteStderr(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stderr = append(c.stderr, line)
	if len(c.stderr) > 8 {
		c.stderr = c.stderr[len(c.stderr)-8:]
	}
}

func (c *child) stderrTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.stderr, " | ")
}
