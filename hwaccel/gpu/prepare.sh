#!/usr/bin/env bash
# Prepares the GPU run's folder on a development machine (Go, cmake, g++):
# the GPU machine has no Go and no network, so everything its one command
# needs is made here.
#
#   bash hwaccel/gpu/prepare.sh OUTDIR
#
# OUTDIR gets:
#   proofmill      built with -tags icicle, stripped (-ldflags '-s -w'),
#                  finding its libraries in lib/ beside it ($ORIGIN/lib)
#   lib/           ICICLE's front-end libraries (CPU backend built in),
#                  from hwaccel/build-icicle.sh's cache
#   icicle/        ICICLE's source from the icicle-gnark module go.mod
#                  names, patched as the libraries were
#                  (hwaccel/patch-icicle.sh): run.sh builds its CUDA
#                  backend (icicle/backend/cuda) on the GPU machine
#   run.sh         the device run (hwaccel/gpu/run.sh)
#   MANIFEST       versions, sizes and sha256 sums
# and fails when the folder is not well under the 64 MiB a device run may
# carry (PREPARE_MAX_MIB, default 48). No keys: the circuits' keys are
# made on the GPU machine (see run.sh).
set -euo pipefail
out=${1:?usage: prepare.sh OUTDIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export GOFLAGS=${GOFLAGS:--buildvcs=false}
max_mib=${PREPARE_MAX_MIB:-48}

module=github.com/ingonyama-zk/icicle-gnark/v3
version=$(go list -m -f '{{.Version}}' "$module")
go mod download "$module"
src=$(go list -m -f '{{.Dir}}' "$module")/icicle
for need in CMakeLists.txt backend/cuda/CMakeLists.txt backend/cuda/src/msm/cuda_msm.cu backend/cuda/src/ntt/cuda_ntt.cu; do
	[ -f "$src/$need" ] || { echo "prepare: $module $version has no icicle/$need: its CUDA backend source is missing; give run.sh a backend source folder with --backend-src" >&2; exit 1; }
done

ldflags=$(bash hwaccel/build-icicle.sh) # CPU front-end, cached
prefix=${ldflags#-L}
prefix=${prefix%% *}
prefix=${prefix%/lib}

rm -rf "$out"
mkdir -p "$out/lib"
cp "$prefix"/lib/libicicle_*.so "$out/lib/"
echo "prepare: building proofmill (-tags icicle, stripped)" >&2
CGO_LDFLAGS="-L$prefix/lib -Wl,-rpath,\$ORIGIN/lib" go build -tags icicle -trimpath -ldflags '-s -w' -o "$out/proofmill" ./cmd/proofmill
cp -r "$src" "$out/icicle"
chmod -R u+w "$out/icicle"
bash hwaccel/patch-icicle.sh "$out/icicle"
cp hwaccel/gpu/run.sh "$out/run.sh"
chmod +x "$out/run.sh"

{
	echo "proofmill $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown), prepared $(date -u +%FT%TZ) on $(uname -m)"
	echo "$module $version (icicle/ patched by hwaccel/patch-icicle.sh)"
	go version
	(cd "$out" && find . -type f ! -path './icicle/*' ! -name MANIFEST | sort | xargs sha256sum)
} >"$out/MANIFEST"
kib=$(du -sk "$out" | cut -f1)
echo "prepare: $out: $((kib / 1024)) MiB ($kib KiB); binary $(($(stat -c %s "$out/proofmill") / 1024)) KiB, lib $(du -sk "$out/lib" | cut -f1) KiB, icicle source $(du -sk "$out/icicle" | cut -f1) KiB"
if [ "$kib" -gt $((max_mib * 1024)) ]; then
	echo "prepare: $out is over $max_mib MiB: a device run carries 64 MiB at most" >&2
	exit 1
fi
