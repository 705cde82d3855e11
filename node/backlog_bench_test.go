package node_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/client"
	"github.com/proofmill/proofmill/examples"
	"github.com/proofmill/proofmill/internal/proctest"
	"github.com/proofmill/proofmill/internal/testinput"
	"github.com/proofmill/proofmill/internal/testkeys"
	"github.com/proofmill/proofmill/node"
	"github.com/proofmill/proofmill/scheduler"
	"github.com/proofmill/proofmill/scheduler/embedded"
)

var backlogSizes = flag.String("backlog", "10000,100000", "queued jobs BenchmarkBacklog restarts a server over, comma-separated")

// BenchmarkBacklog restarts a `serve --workers none` process over an
// embedded journal holding N queued jobs (written straight into the
// journal, each with an invoice-sized witness) and measures, per N: the
// time from exec to a listening gRPC server, and to health SERVING
// (recovery done); the server's RSS then (anonymous, and the journal's
// mapped file pages apart); SubmitProof latency (200 in a row); and its
// CPU over 10 idle seconds.
//
//	go test ./node -run '^$' -bench Backlog -benchtime 1x -backlog 10000,100000,1000000
func BenchmarkBacklog(b *testing.B) {
	c, err := circuits.Lookup("invoice-consistency/v1")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := testkeys.Prover(b).Keys(c); err != nil {
		b.Fatal(err)
	}
	example, err := examples.Read(c.Example)
	if err != nil {
		b.Fatal(err)
	}
	st, err := c.Admit(example)
	if err != nil {
		b.Fatal(err)
	}
	for _, field := range strings.Split(*backlogSizes, ",") {
		n, err := strconv.Atoi(field)
		if err != nil {
			b.Fatalf("-backlog %q: %v", field, err)
		}
		b.Run(fmt.Sprintf("queued-%d", n), func(b *testing.B) {
			data := b.TempDir()
			fillJournal(b, node.JournalPath(data), n, st.Witness)
			proctest.Binary(b) // built before the clock starts
			for b.Loop() {
				addr := proctest.FreeAddr(b)
				start := time.Now()
				p := proctest.Start(b, "server", append([]string{"serve", "--workers", "none", "--metrics", "", "--data", data,
					"--keys", testkeys.Dir(), "--preload", "none", "--dev-setup=false", "--max-queued", fmt.Sprint(2 * n), "--listen", addr},
					proctest.ServiceKeyFlags(b)...)...)
				listening := waitFor(b, func() bool {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						return false
					}
					c.Close()
					return true
				})
				conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				serving := waitFor(b, func() bool {
					r, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
					return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING
				})
				conn.Close()
				pid := p.Cmd.Process.Pid
				rss, anon, file := procStatus(b, pid, "VmRSS:"), procStatus(b, pid, "RssAnon:"), procStatus(b, pid, "RssFile:")
				cl, err := client.Dial(addr, client.Options{})
				if err != nil {
					b.Fatal(err)
				}
				var lat []time.Duration
				for i := range 200 {
					t := time.Now()
					if _, _, err := cl.Submit(context.Background(), &pb.SubmitProofRequest{Circuit: c.ID, InputJson: testinput.Invoice(b, 9_000_000+i)}); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t))
				}
				cl.Close()
				slices.Sort(lat)
				cpu0 := procCPU(b, p.Cmd.Process.Pid)
				time.Sleep(10 * time.Second)
				idle := procCPU(b, p.Cmd.Process.Pid) - cpu0
				b.ReportMetric(listening.Sub(start).Seconds(), "s-to-listen")
				b.ReportMetric(serving.Sub(start).Seconds(), "s-to-serving")
				b.ReportMetric(float64(rss)/1024, "rss-MiB")
				b.ReportMetric(float64(anon)/1024, "rss-anon-MiB") // the heap and stacks
				b.ReportMetric(float64(file)/1024, "rss-file-MiB") // the journal's mapped pages, read at start
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "submit-p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "submit-p99-ms")
				b.ReportMetric(idle.Seconds()/10*100, "idle-cpu-%")
				p.Cmd.Process.Kill()
				<-p.Exited
			}
		})
	}
}

// fillJournal writes n queued jobs into the journal at path, 64 writers at
// a time (so they share commits).
func fillJournal(b *testing.B, path string, n int, witness []byte) {
	s, err := embedded.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 64 {
		wg.Go(func() {
			for i := range next {
				j := &scheduler.Job{ID: fmt.Sprintf("backlog-%08d", i), Circuit: "invoice-consistency/v1", State: scheduler.Queued,
					Priority: scheduler.Priority(i % 2), Version: 1, Submitted: time.Now(), Witness: witness}
				if _, _, err := s.Create(context.Background(), j); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// waitFor polls ok, bounded, and returns when it first held.
func waitFor(b *testing.B, ok func() bool) time.Time {
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return time.Now()
		}
	}
	b.Fatal("not in 5 minutes")
	return time.Time{}
}

// procStatus reads a kB figure from /proc/PID/status.
func procStatus(b *testing.B, pid int, field string) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// procCPU is the user and system CPU time of a process so far.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}
