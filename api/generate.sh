#!/usr/bin/env bash
# Regenerates the Go code for api/proofmill/v1 with pinned generators.
#   bash api/generate.sh          regenerate in place
#   bash api/generate.sh --check  fail if the committed code is stale
# Needs protoc 3.21.12 (Debian bookworm's protobuf-compiler); installs the
# Go plugins at the pinned versions into a private GOBIN.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.2

gobin="${PROOFMILL_GOBIN:-$HOME/.cache/proofmill/gobin}"
GOBIN="$gobin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
GOBIN="$gobin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"

out=api
if [ "${1:-}" = "--check" ]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
PATH="$gobin:$PATH" protoc -I api -I /usr/include \
	--go_out="$out" --go_opt=paths=source_relative \
	--go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
	api/proofmill/v1/*.proto
if [ "${1:-}" = "--check" ]; then
	if ! diff -r -q "$out/proofmill/v1" api/proofmill/v1 --exclude='*.proto'; then
		echo "api: generated code is stale; run bash api/generate.sh" >&2
		exit 1
	fi
	echo "api: generated code is up to date"
fi
