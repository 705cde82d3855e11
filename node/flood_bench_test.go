package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/circuits/abspool"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testkeys"
)

// BenchmarkFlood is one hostile client against a `proofmill serve`
// process: 1,000 WatchJob streams it never reads (on 20 connections), 3,000
// TCP connections that send nothing and 3,000 that send only the HTTP/2
// preface, held for 15 s; then the watched job changes (waking every
// watcher) and the client leaves. Meanwhile another client calls
// ListCircuits every 20 ms. It reports the server's peak and final RSS
// and the other client's latency.
//
//	go test ./node -run '^$' -bench Flood -benchtime 1x
func BenchmarkFlood(b *testing.B) {
	raiseOpenFiles(b, 16_000)
	data, keys, addr := b.TempDir(), manifestsOnly(b), proctest.FreeAddr(b)
	p := proctest.Start(b, "server", "serve", "--data", data, "--keys", keys, "--listen", addr,
		"--metrics", "", "--workers", "-1", "--preload", "none", "--dev-setup=false")
	c := proctest.Dial(b, p, addr)
	pid := p.Cmd.Process.Pid
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		// A queued job (no workers prove it) with the largest witness: a
		// full abs-pool-1024 tape.
		j, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "abs-pool-1024/v1", InputJson: fullPool(b, 1024, uint64(benchInput.Add(1)))})
		if err != nil {
			b.Fatal(err)
		}
		base := procStatusMiB(pid, "VmRSS")
		probe := startProbe(ctx, func(ctx context.Context) error { _, err := c.Circuits(ctx); return err })

		f := &flood{addr: addr}
		f.watch(ctx, j.GetId(), 20, 50)
		f.idle(3000, nil)
		f.idle(3000, []byte(http2.ClientPreface))
		b.Logf("flood open: %d streams (%d failed to open), %d idle connections (%d failed to dial)", f.streams.Load(), f.streamErrs.Load(), len(f.conns), f.dialErrs.Load())
		time.Sleep(15 * time.Second)
		held := procStatusMiB(pid, "VmRSS")
		if _, err := c.Cancel(ctx, j.GetId()); err != nil { // every watcher wakes
			b.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		lat, fails := probe.stop()
		closed := f.closedByServer()
		if fails > 0 {
			b.Logf("the other client failed %d of %d calls; the first: %v", fails, len(lat), probe.first)
		}
		f.close()
		time.Sleep(5 * time.Second)
		cancel()

		b.ReportMetric(base, "rss-before-MiB")
		b.ReportMetric(held, "rss-flood-MiB")
		b.ReportMetric(procStatusMiB(pid, "VmHWM"), "rss-peak-MiB")
		b.ReportMetric(procStatusMiB(pid, "VmRSS"), "rss-after-MiB")
		b.ReportMetric(float64(closed), "idle-closed-by-server")
		b.ReportMetric(float64(len(lat)), "probe-calls")
		b.ReportMetric(float64(fails), "probe-errors")
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "probe-p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "probe-p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "probe-max-ms")
		}
	}
}

// fullPool is the JSON input of a valid pool tape of capacity assets.
func fullPool(b testing.TB, capacity int, seed uint64) string {
	s := abspool.Sample(capacity, capacity, seed)
	day := func(d *big.Int) string { return time.Unix(d.Int64()*86400, 0).UTC().Format(time.DateOnly) }
	assets := make([]map[string]string, len(s.Assets))
	for i, a := range s.Assets {
		assets[i] = map[string]string{"asset_id": a.AssetID.String(), "obligor_id": a.ObligorID.String(), "principal": a.Principal.String(),
			"rate_bps": a.RateBps.String(), "days_past_due": a.DaysPastDue.String(), "rating": a.Rating.String(),
			"maturity": day(a.Maturity), "salt": a.Salt.String()}
	}
	l := s.Limits
	data, err := json.Marshal(map[string]any{"assets": assets, "limits": map[string]string{
		"max_days_past_due": l.MaxDaysPastDue.String(), "min_rating": l.MinRating.String(), "maturity_from": day(l.MaturityFrom),
		"maturity_to": day(l.MaturityTo), "concentration_limit_bps": l.ConcentrationLimitBps.String(), "min_weighted_rate_bps": l.MinWeightedRateBps.String()}})
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// manifestsOnly is a key store holding only every circuit's manifest:
// enough for ListCircuits to answer from the manifests, as a provisioned
// server does (without one it compiles the circuit on every call).
func manifestsOnly(b testing.TB) string {
	dir := b.TempDir()
	for _, c := range circuits.All() {
		testkeys.WriteManifest(b, dir, c, 1)
	}
	return dir
}

// flood holds a hostile client's connections and streams.
type flood struct {
	addr                string
	mu                  sync.Mutex
	conns               []net.Conn
	grpcs               []*grpc.ClientConn
	streams, streamErrs atomic.Int64
	dialErrs            atomic.Int64
}

// watch opens perConn WatchJob streams of job on each of conns
// connections, and never reads them.
func (f *flood) watch(ctx context.Context, job string, conns, perConn int) {
	var wg sync.WaitGroup
	for range conns {
		cc, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			f.dialErrs.Add(1)
			continue
		}
		f.grpcs = append(f.grpcs, cc)
		rpc := pb.NewProverClient(cc)
		for range perConn {
			wg.Go(func() {
				// The stream lives until ctx ends; the timer bounds only
				// its opening (a server's stream cap may queue it).
				sctx, cancel := context.WithCancel(ctx)
				opening := time.AfterFunc(10*time.Second, cancel)
				_, err := rpc.WatchJob(sctx, &pb.WatchJobRequest{Id: job})
				if !opening.Stop() || err != nil {
					f.streamErrs.Add(1)
					cancel()
					return
				}
				f.streams.Add(1)
				context.AfterFunc(ctx, cancel)
			})
		}
	}
	wg.Wait()
}

// idle dials n connections that send first (nothing when nil) and then
// nothing more.
func (f *flood) idle(n int, first []byte) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
			if err != nil {
				f.dialErrs.Add(1)
				return
			}
			if first != nil {
				conn.Write(first)
			}
			f.mu.Lock()
			f.conns = append(f.conns, conn)
			f.mu.Unlock()
		})
	}
	wg.Wait()
}

// closedByServer counts the idle connections the server has closed.
func (f *flood) closedByServer() int {
	var closed atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(500 * time.Millisecond)
	for _, c := range f.conns {
		c.SetReadDeadline(deadline)
		wg.Go(func() {
			if _, err := io.Copy(io.Discard, c); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
				closed.Add(1) // EOF or reset, not a timeout
			}
		})
	}
	wg.Wait()
	return int(closed.Load())
}

func (f *flood) close() {
	for _, c := range f.conns {
		c.Close()
	}
	for _, c := range f.grpcs {
		c.Close()
	}
}

// probe is another client calling the server at a steady pace.
type probe struct {
	stopCh chan struct{}
	done   chan struct{}
	lat    []time.Duration
	fails  int
	first  error // the first failure, for the log
}

func startProbe(ctx context.Context, call func(context.Context) error) *probe {
	p := &probe{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stopCh:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			start := time.Now()
			err := call(cctx)
			cancel()
			p.lat = append(p.lat, time.Since(start)) // a failure counts at its own latency
			if err != nil {
				if p.fails++; p.first == nil {
					p.first = err
				}
			}
		}
	}()
	return p
}

// stop ends the probe and returns its latencies, sorted, and its failures.
func (p *probe) stop() ([]time.Duration, int) {
	close(p.stopCh)
	<-p.done
	slices.Sort(p.lat)
	return p.lat, p.fails
}

// procStatusMiB reads a kB field (VmRSS, VmHWM) of /proc/PID/status.
func procStatusMiB(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// raiseOpenFiles lifts this process's open-files limit to at least n (a
// child inherits it), or skips when the hard limit is lower.
func raiseOpenFiles(b testing.TB, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		b.Skipf("open-files hard limit %d is below the %d this needs (ulimit -Hn)", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(errors.Join(errors.New("raise the open-files limit"), err))
	}
}
