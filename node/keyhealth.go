package node

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/proofmill/proofmill/api/proofmill/v1"
	"github.com/proofmill/proofmill/circuits"
	"github.com/proofmill/proofmill/prover"
)

// keyHealth reports on gRPC health whether each circuit's keys can be
// used: one service per circuit id, NOT_SERVING while its keys are
// missing, corrupt or refused; and the server as a whole ("" and
// proofmill.v1.Prover) SERVING while at least one circuit is usable, since
// one circuit's broken keys should not take the others out of a load
// balancer.
type keyHealth struct {
	log *slog.Logger
	// lost, when set, reports a fault of the whole server (Redis lost its
	// data) that keeps it NOT_SERVING whatever its keys.
	lost func() bool
	// recovering keeps the server NOT_SERVING while it puts back in line
	// the jobs a previous process left.
	recovering atomic.Bool

	mu     sync.Mutex
	prover *prover.Prover  // nil until the prover is made
	health *health.Server  // nil until the API starts
	down   map[string]bool // circuits reported unusable, to log changes once
	none   bool            // no circuit usable, as last reported
}

// attach starts reporting on hs.
func (h *keyHealth) attach(p *prover.Prover, hs *health.Server) {
	h.mu.Lock()
	h.prover, h.health = p, hs
	h.mu.Unlock()
	h.refresh()
}

// refresh reports every circuit's state as the prover knows it now.
func (h *keyHealth) refresh() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.prover == nil {
		return
	}
	if h.down == nil {
		h.down = map[string]bool{}
	}
	usable := 0
	for _, c := range circuits.All() {
		status := healthpb.HealthCheckResponse_SERVING
		err := h.prover.KeysStatus(c)
		if err != nil {
			status = healthpb.HealthCheckResponse_NOT_SERVING
		} else {
			usable++
		}
		if down := err != nil; down != h.down[c.ID] {
			h.down[c.ID] = down
			switch {
			case down && c.KeysOnlyWhenAsked() && errors.Is(err, prover.ErrNoKeys):
				// Expected on a development server: nothing makes these keys
				// until someone asks (circuits.ImplicitKeysLimit).
				h.log.Info("circuit unavailable until its keys are made: `proofmill keys setup --circuit` it; submissions for it are refused", "circuit", c.ID)
			case down:
				h.log.Error("circuit unavailable: its keys cannot be used; submissions for it are refused", "circuit", c.ID, "err", err)
			default:
				h.log.Info("circuit available again", "circuit", c.ID)
			}
		}
		if h.health != nil {
			h.health.SetServingStatus(c.ID, status)
		}
	}
	overall := healthpb.HealthCheckResponse_SERVING
	if usable == 0 || h.lost != nil && h.lost() || h.recovering.Load() {
		overall = healthpb.HealthCheckResponse_NOT_SERVING
	}
	if none := usable == 0; none != h.none {
		h.none = none
		if none {
			h.log.Error("no circuit has usable keys: health NOT_SERVING")
		}
	}
	if h.health != nil {
		h.health.SetServingStatus("", overall)
		h.health.SetServingStatus(pb.Prover_ServiceDesc.ServiceName, overall)
	}
}
