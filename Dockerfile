# syntax=docker/dockerfile:1
# proofmill, CPU image: gnark's prover on the CPU, a static binary with no cgo.
#
# Build: docker build -t proofmill .
# Run (README.md, "Images", has both steps in full):
#   TLS from mounted files: -v "$PWD/tls:/etc/proofmill/tls:ro"
#     -e PROOFMILL_TLS_CERT=/etc/proofmill/tls/tls.crt -e PROOFMILL_TLS_KEY=/etc/proofmill/tls/tls.key
#     -e PROOFMILL_TLS_CA=/etc/proofmill/tls/ca.crt (the CA the health check trusts)
#   or plaintext on a trusted network: -e PROOFMILL_INSECURE=1 (the log says INSECURE at start)
#   With neither, serve refuses the 0.0.0.0 address and exits 2, saying so.
# Other commands use the same volumes, e.g. `docker run ... proofmill keys setup --all`.
# Bind-mounted folders must be writable by uid 65532.
# `docker stop -t 35` gives running proofs the 30s --shutdown-timeout.
# The health check is `proofmill health`: the gRPC health service on this container's port.

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
# start-period: loading the key store's proving keys (--preload) may take minutes.
HEALTHCHECK --interval=30s --timeout=10s --start-period=5m --retries=3 CMD ["/usr/local/bin/proofmill", "health"]
ENTRYPOINT ["/usr/local/bin/proofmill"]
CMD ["serve"]
