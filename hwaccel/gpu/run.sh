#!/usr/bin/env bash
# The GPU run: one command on the GPU machine (no Go, no network), from the
# folder hwaccel/gpu/prepare.sh made, writing report.json, README.md and
# charts/ into OUT. It builds ICICLE's CUDA backend for sm_90 with every
# core, lists the devices, then runs `proofmill bench --profile gpu`
# (MSM/NTT, the fault check, the service against raw ICICLE Prove with one
# and two device processes, then the size sweep on the CPU cores, the GPU
# and the GPU with pinned keys) in the time left, and checks the report.
#
#   ./run.sh OUT                        # on the GPU machine
#   ./run.sh --backend-src DIR OUT      # ICICLE source (with backend/cuda) from DIR, not ./icicle
#   ./run.sh --dry-run OUT              # on a development machine: ICICLE's CPU backend, smallest sizes
#
# RUN_BUDGET_S (default 530) bounds the whole run, the build included:
# what would not fit is skipped and the report says what. Progress lines
# start with "run:" and the elapsed seconds, so a cut-off run still says
# how far it got; everything is also in OUT/run.log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dry=0 backend_src=$here/icicle
while [ $# -gt 1 ]; do
	case $1 in
	--dry-run) dry=1 ;;
	--backend-src) backend_src=$2; shift ;;
	*) echo "run: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
out=${1:?usage: run.sh [--dry-run] [--backend-src DIR] OUT}
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec > >(tee -a "$out/run.log") 2>&1
budget=${RUN_BUDGET_S:-530}
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
left() { echo $((budget - $(elapsed))); }
say() { echo "run: [$(elapsed)s] $*"; }
bin=$here/proofmill
[ -x "$bin" ] || { say "no proofmill beside run.sh: run hwaccel/gpu/prepare.sh first"; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "start: budget ${budget}s, out $out, $(nproc) cores, dry run $dry"

if [ $dry = 1 ]; then
	profile=gpu-dry
	extra=(--icicle-device icicle-cpu)
	unset ICICLE_BACKEND_INSTALL_DIR
else
	profile=gpu
	extra=()
	[ -f "$backend_src/backend/cuda/CMakeLists.txt" ] || { say "no CUDA backend source in $backend_src (want backend/cuda/CMakeLists.txt)"; exit 2; }
	command -v nvcc >/dev/null || { say "nvcc is not on PATH"; exit 2; }
	command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv,noheader | sed 's/^/run: gpu: /'
	say "building ICICLE's CUDA backend for sm_90 with $(nproc) cores ($(nvcc --version | tail -1))"
	gen=()
	command -v ninja >/dev/null && gen=(-G Ninja)
	# The front-end is built again beside the backend, from the same
	# patched source: the backend links against it.
	if timeout $(($(left) - 200)) bash -c "cmake -S '$backend_src' -B '$work/build' ${gen[*]} -DCURVE=bn254 -DCPU_BACKEND=ON -DCUDA_BACKEND=ON \
		-DCUDA_ARCH=90 -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX='$work/icicle' >'$out/cuda-build.log' 2>&1 &&
		cmake --build '$work/build' -j$(nproc) --target install >>'$out/cuda-build.log' 2>&1"; then
		say "CUDA backend built: $(find "$work/icicle/lib/backend" -name '*.so' | wc -l) libraries"
	else
		say "CUDA backend build FAILED (last lines of $out/cuda-build.log follow); the run goes on, and will find no GPU"
		tail -20 "$out/cuda-build.log" | sed 's/^/run: build: /'
	fi
	export ICICLE_BACKEND_INSTALL_DIR=$work/icicle/lib/backend
	export LD_LIBRARY_PATH=$work/icicle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

say "proofmill devices"
"$bin" devices | sed 's/^/run: devices: /'
"$bin" devices --json >"$out/devices.json" 2>/dev/null

# The bench's own budget leaves time to write and check the report.
bench_budget=$(($(left) - 20))
say "proofmill bench --profile $profile, ${bench_budget}s"
rc=0
timeout --signal=INT --kill-after=10 $((bench_budget + 15)) \
	"$bin" --keys "$work/keys" bench --profile $profile "${extra[@]}" --out "$out" --time-budget "${bench_budget}s" || rc=$?
if [ $rc = 0 ]; then
	say "report complete: $out/README.md"
elif [ -f "$out/report.json" ]; then
	say "report written, its check failed (exit $rc): see $out/README.md"
else
	say "no report (exit $rc)"
fi
exit $rc
