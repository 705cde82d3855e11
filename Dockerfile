# syntax=docker/dockerfile:1
# proofmill, CPU image: gnark's prover on the CPU, a static binary with no cgo.
#
# Build: docker build -t proofmill .
# Run:   docker run -p 7420:7420 -p 7421:7421 \
#          -v proofmill-data:/var/lib/proofmill/data \
#          -v proofmill-keys:/var/lib/proofmill/keys proofmill
# Other commands use the same volumes, e.g. `docker run ... proofmill keys setup --all`.
# Bind-mounted folders must be writable by uid 65532.
# `docker stop -t 35` gives running proofs the 30s --shutdown-timeout.
#
# The container listens on all interfaces (gRPC 7420, metrics 7421) without TLS.
# Until proofmill supports TLS, the operator must handle TLS and network policy.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -o /out/proofmill ./cmd/proofmill
# Volume mount points, owned by the runtime user (distroless has no shell to make them).
RUN mkdir -p /rootfs/var/lib/proofmill/data /rootfs/var/lib/proofmill/keys

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/proofmill /usr/local/bin/proofmill
COPY --from=build --chown=65532:65532 /rootfs/var/lib/proofmill /var/lib/proofmill
ENV PROOFMILL_LISTEN=0.0.0.0:7420 \
    PROOFMILL_METRICS=0.0.0.0:7421 \
    PROOFMILL_DATA=/var/lib/proofmill/data \
    PROOFMILL_KEYS=/var/lib/proofmill/keys
USER 65532:65532
WORKDIR /var/lib/proofmill
VOLUME ["/var/lib/proofmill/data", "/var/lib/proofmill/keys"]
EXPOSE 7420 7421
ENTRYPOINT ["/usr/local/bin/proofmill"]
CMD ["serve"]
