package node_test

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/internal/redistest"
	"github.com/proofmill/proofmill/internal/testinput"
)

// A SubmitProof to `serve --redis` sends Redis two commands (two round
// trips): a script reading the job and the bounds, since the audit log
// records a new job before it is stored, then the script that stores and
// queues it. Counted with MONITOR, as Redis sees them.
func TestRedisSubmitCommands(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	c := startRedisServe(t, redis.Addr)
	ctx := timeout(t, time.Minute)
	submit := func(n int) {
		t.Helper()
		if _, _, err := c.Submit(ctx, &pb.SubmitProofRequest{Circuit: "invoice-consistency/v1", InputJson: testinput.Invoice(t, 9000+n)}); err != nil {
			t.Fatal(err)
		}
	}
	submit(0) // warm: data keys made, scripts loaded
	_, port, _ := strings.Cut(redis.Addr, ":")
	mon := exec.Command("redis-cli", "-p", port, "monitor")
	out, err := mon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	counts := map[string]int{}
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			line := sc.Text()
			if line == "OK" {
				close(started)
				continue
			}
			_, rest, ok := strings.Cut(line, "] ")
			if !ok || strings.Contains(line, " lua] ") { // a script's own commands
				continue
			}
			name, _, _ := strings.Cut(rest, " ")
			mu.Lock()
			counts[strings.ToLower(strings.Trim(name, `"`))]++
			mu.Unlock()
		}
	}()
	<-started
	const N = 50
	for i := 1; i <= N; i++ {
		submit(i)
	}
	time.Sleep(200 * time.Millisecond) // MONITOR's last lines
	mon.Process.Kill()
	mon.Wait()
	<-done
	mu.Lock()
	defer mu.Unlock()
	total := 0
	var seen []string
	for name, n := range counts {
		total += n
		seen = append(seen, fmt.Sprintf("%s %d", name, n))
	}
	t.Logf("%d submissions: %d commands (%.2f each): %s", N, total, float64(total)/N, strings.Join(seen, ", "))
	if total > 2*N+5 { // a few from background loops (the generation check)
		t.Fatalf("%d submissions sent Redis %d commands; want about 2 each", N, total)
	}
}
