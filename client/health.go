package client

import (
	"context"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/proofmill/proofmill/errcode"
)

// Health asks the server's gRPC health service whether it serves (service
// ""): nil when SERVING, an errcode.Unavailable naming the status
// otherwise (starting, draining). No retries: a health check answers now.
func (c *Client) Health(ctx context.Context) error {
	resp, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return coded(err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return errcode.Errorf(errcode.Unavailable, "server health: %s", s)
	}
	return nil
}
