package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/proofmill/proofmill/tenants"
)

// identify names the caller's tenant: by a verified client certificate's
// common name, else by its bearer token.
func identify(ctx context.Context, table *tenants.Table) (*tenants.Tenant, error) {
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			for _, chain := range info.State.VerifiedChains {
				if len(chain) > 0 {
					if t, ok := table.ByCertName(chain[0].Subject.CommonName); ok {
						return t, nil
					}
				}
			}
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if token, ok := strings.CutPrefix(v, "Bearer "); ok {
			return table.ByToken(token)
		}
	}
	return nil, fmt.Errorf("%w: present a client certificate or an API token (authorization: Bearer ...)", tenants.ErrUnauthenticated)
}

// open is what anyone may call without credentials.
var open = map[string]bool{"/grpc.health.v1.Health/Check": true, "/grpc.health.v1.Health/Watch": true}

// Authenticate returns interceptors that reject calls from no tenant with
// UNAUTHENTICATED and run the others as their caller's tenant.
func Authenticate(table *tenants.Table) []grpc.ServerOption {
	auth := func(ctx context.Context, method string) (context.Context, error) {
		if open[method] {
			return ctx, nil
		}
		t, err := identify(ctx, table)
		if err != nil {
			return nil, toStatus(slog.Default(), method, err) // identify fails with codes only

		}
		return tenants.With(ctx, t), nil
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			ctx, err := auth(ctx, info.FullMethod)
			if err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			ctx, err := auth(ss.Context(), info.FullMethod)
			if err != nil {
				return err
			}
			return handler(srv, &tenantStream{ServerStream: ss, ctx: ctx})
		}),
	}
}

type tenantStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *tenantStream) Context() context.Context { return s.ctx }
