#!/usr/bin/env bash
# Builds ICICLE's C++ libraries for BN254 from the icicle-gnark module
# source at the version go.mod names, and prints the CGO_LDFLAGS that link
# `go build -tags icicle` against them.
#
#   bash hwaccel/build-icicle.sh           # CPU backend only: enough to compile and link
#   bash hwaccel/build-icicle.sh --cuda    # with the CUDA backend (needs nvcc)
#
# The result is cached in $ICICLE_PREFIX (default
# ~/.cache/proofmill/icicle/VERSION-cpu or -cuda); a second run is instant.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=cpu
[ "${1:-}" = "--cuda" ] && backend=cuda
module=github.com/ingonyama-zk/icicle-gnark/v3
version=$(go list -m -f '{{.Version}}' "$module")
# -p2: with the patches below (a folder of its own, so an unpatched cache is
# not taken for a patched one).
prefix=${ICICLE_PREFIX:-$HOME/.cache/proofmill/icicle/$version-$backend-p2}

if [ ! -f "$prefix/lib/libicicle_curve_bn254.so" ]; then
	command -v cmake >/dev/null || { echo "build-icicle: cmake is not installed (apt-get install -y cmake)" >&2; exit 1; }
	go mod download "$module"
	src=$(go list -m -f '{{.Dir}}' "$module")/icicle
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	cp -r "$src" "$work/icicle" && chmod -R u+w "$work/icicle" # the module cache is read-only
	bash hwaccel/patch-icicle.sh "$work/icicle" # the CPU backend's two faults gnark meets
	cuda=OFF cpu=ON
	[ "$backend" = cuda ] && cuda=ON cpu=OFF
	echo "build-icicle: building ICICLE $version ($backend backend) into $prefix" >&2
	cmake -S "$work/icicle" -B "$work/build" -DCURVE=bn254 -DCPU_BACKEND=$cpu -DCUDA_BACKEND=$cuda \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" >&2
	cmake --build "$work/build" -j"$(nproc)" --target install >&2
fi
echo "-L$prefix/lib -Wl,-rpath,$prefix/lib"
