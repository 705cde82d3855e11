package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/errcode"
	"github.com/proofmill/proofmill/examples"
)

// admission measures SubmitProof as a client sees it: a separate
// `proofmill serve --workers none` process per backend (the embedded
// journal, and Redis when a redis-server is at hand), driven over gRPC by
// AdmissionCallers concurrent callers, each submission a distinct invoice,
// against the gRPC health check (the no-op RPC, the ceiling) on the same
// connection, window by window, interleaved.
func (h *harness) admission(ctx context.Context) error {
	inputs, err := distinctInvoices(h.profile.AdmissionInputs())
	if err != nil {
		return fmt.Errorf("bench: admission: inputs: %w", err)
	}
	var errs []error
	for _, backend := range []string{"embedded", "redis"} {
		r, err := h.admissionOn(ctx, backend, inputs)
		switch {
		case errors.Is(err, errNoRedis):
			h.report.Notes = append(h.report.Notes, "admission on Redis: not measured (no redis-server on PATH)")
		case err != nil:
			errs = append(errs, fmt.Errorf("bench: admission on %s: %w", backend, err))
		default:
			h.report.Admission = append(h.report.Admission, *r)
		}
	}
	return errors.Join(errs...)
}

var errNoRedis = errors.New("no redis-server on PATH")

func (h *harness) admissionOn(ctx context.Context, backend string, inputs []string) (*AdmissionReport, error) {
	p := h.profile
	dir, err := os.MkdirTemp("", "proofmill-bench-admission-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{"serve", "--workers", "none", "--metrics", "", "--data", filepath.Join(dir, "data"),
		"--preload", "none", "--max-queued", "10000000"}
	if h.cfg.KeysDir != "" {
		args = append(args, "--keys", h.cfg.KeysDir)
	}
	if backend == "redis" {
		addr, stop, err := startRedis(ctx, filepath.Join(dir, "redis"))
		if err != nil {
			return nil, err
		}
		defer stop()
		args = append(args, "--redis", addr)
	}
	h.logf("admission: %s: starting serve --workers none", backend)
	addr, stop, err := h.startServe(ctx, args)
	if err != nil {
		return nil, err
	}
	defer stop()
	cl, err := client.Dial(addr, client.Options{})
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var next atomic.Int64
	nonce := time.Now().UnixNano()
	submit := func(ctx context.Context) error {
		k := next.Add(1)
		_, _, err := cl.Submit(ctx, &pb.SubmitProofRequest{Circuit: loadCircuit, InputJson: inputs[int(k)%len(inputs)],
			IdempotencyKey: fmt.Sprintf("bench-%d-%d", nonce, k)})
		return err
	}
	noop := func(ctx context.Context) error { return cl.Health(ctx) }
	// Warm up, untimed: the first submission reads the circuit's keys.
	if err := submit(ctx); err != nil {
		return nil, fmt.Errorf("first submission: %w", err)
	}
	var subRate, noopRate []float64
	var lat []time.Duration
	for round := range p.AdmissionRounds {
		h.logf("admission: %s: round %d of %d", backend, round+1, p.AdmissionRounds)
		n, _, err := drive(ctx, p.AdmissionCallers, p.AdmissionWindow, noop)
		if err != nil {
			return nil, fmt.Errorf("health check: %w", err)
		}
		noopRate = append(noopRate, n)
		n, l, err := drive(ctx, p.AdmissionCallers, p.AdmissionWindow, submit)
		if err != nil {
			return nil, fmt.Errorf("submit: %w", err)
		}
		subRate = append(subRate, n)
		lat = append(lat, l...)
	}
	if len(lat) == 0 {
		return nil, errors.New("no submission completed")
	}
	slices.Sort(lat)
	r := &AdmissionReport{Backend: backend, Callers: p.AdmissionCallers, Submissions: len(lat),
		SubmitPerSecond: rateStat(subRate), NoopPerSecond: rateStat(noopRate),
		SubmitP50: seconds(lat[len(lat)/2]), SubmitP99: seconds(lat[len(lat)*99/100])}
	r.Ratio = r.SubmitPerSecond.Median / r.NoopPerSecond.Median
	return r, nil
}

// drive calls one from conc goroutines for the window and returns the
// completed calls per second and their latencies. A call the window's end
// cuts short is not a failure; any other error is.
func drive(ctx context.Context, conc int, window time.Duration, one func(context.Context) error) (float64, []time.Duration, error) {
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var (
		mu    sync.Mutex
		lat   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			var mine []time.Duration
			for wctx.Err() == nil {
				t := time.Now()
				if err := one(wctx); err != nil {
					if c := errcode.Of(err); wctx.Err() == nil && c != errcode.DeadlineExceeded && c != errcode.Interrupted {
						mu.Lock()
						first = cmp(first, err)
						mu.Unlock()
					}
					break
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		return 0, nil, first
	}
	return float64(len(lat)) / time.Since(start).Seconds(), lat, ctx.Err()
}

func cmp(kept, err error) error {
	if kept != nil {
		return kept
	}
	return err
}

// rateStat summarizes rates (not durations).
func rateStat(xs []float64) Stat {
	s := slices.Clone(xs)
	slices.Sort(s)
	return Stat{Median: s[len(s)/2], Min: s[0], Max: s[len(s)-1], Runs: len(s)}
}

// distinctInvoices are n copies of the example invoice, each with its own
// invoice number: n distinct statements.
func distinctInvoices(n int) ([]string, error) {
	c, err := circuits.Lookup(loadCircuit)
	if err != nil {
		return nil, err
	}
	data, err := examples.Read(c.Example)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil, err
		}
		inv, ok := doc["invoice"].(map[string]any)
		if !ok {
			return nil, errors.New("the example has no invoice object")
		}
		num, ok := inv["number"].(string) // a decimal string, as in every example
		if !ok {
			return nil, fmt.Errorf("the example invoice number is %T, not a string", inv["number"])
		}
		base, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the example invoice number: %w", err)
		}
		inv["number"] = strconv.FormatInt(base+1_000_000+int64(i), 10)
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		out[i] = string(b)
	}
	return out, nil
}

// startServe runs `proofmill serve` with args on a free loopback port
// and waits until its health check says SERVING; stop kills it. Its log
// goes to the harness's service log.
func (h *harness) startServe(ctx context.Context, args []string) (addr string, stop func(), err error) {
	bin := h.cfg.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return "", nil, err
		}
	}
	if addr, err = freeAddr(); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, append(args, "--listen", addr)...)
	var logTail tail
	cmd.Stdout, cmd.Stderr = &logTail, &logTail
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		cmd.Process.Kill()
		<-exited
	}
	cl, err := client.Dial(addr, client.Options{})
	if err != nil {
		stop()
		return "", nil, err
	}
	defer cl.Close()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			stop()
			return "", nil, fmt.Errorf("serve exited (%v): %s", err, logTail.String())
		default:
		}
		if cl.Health(ctx) == nil {
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("serve not SERVING in 2 minutes: %s", logTail.String())
		}
	}
}

// startRedis runs a redis-server from PATH on a free loopback port,
// durable as proofmill wants it (AOF, fsync on every write), its files in
// dir; stop kills it.
func startRedis(ctx context.Context, dir string) (addr string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errNoRedis
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	if addr, err = freeAddr(); err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always")
	var logTail tail
	cmd.Stdout, cmd.Stderr = &logTail, &logTail
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if pong(addr) {
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("redis-server not answering in 30 s: %s", logTail.String())
		}
	}
}

// pong reports whether a Redis at addr answers PING.
func pong(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// freeAddr is a loopback address with a port free now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tail keeps the last few KiB a process wrote, for its error.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 4096; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
