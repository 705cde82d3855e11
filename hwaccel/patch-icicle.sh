#!/usr/bin/env bash
# Patches a copy of ICICLE v3.2.2's source (DIR, the icicle/ folder of the
# icicle-gnark module) where its CPU backend fails gnark's ICICLE prover.
# build-icicle.sh and the GPU run's prepare.sh both build from a patched
# copy, so the front-end libraries the binary links are the same ones the
# CUDA backend is built against on the GPU machine. Fails, naming the file,
# when a patch no longer applies (ICICLE changed).
#
#   bash hwaccel/patch-icicle.sh DIR
set -euo pipefail
dir=${1:?usage: patch-icicle.sh ICICLE_SOURCE_DIR}
fail() { echo "patch-icicle: $* no longer matches: ICICLE changed; check the patch" >&2; exit 1; }

# 1. The CPU vector ops start hardware_concurrency()-2 helper threads and
# assert there is at least one: on a machine with two hardware threads
# (CI's) every Montgomery conversion, so every proof gnark makes on the
# CPU backend, aborts. Keep one at least.
ops="$dir/backend/cpu/src/field/cpu_vec_ops.cpp"
grep -q 'task_manager(get_nof_workers(config) - 1)' "$ops" || fail "$ops"
sed -i 's/task_manager(get_nof_workers(config) - 1)/task_manager(std::max(1, get_nof_workers(config) - 1))/' "$ops"

# 2. Its device API does not report memory (API_NOT_IMPLEMENTED): gnark's
# ICICLE prover then sizes its MSM chunks for 0 bytes free, and its chunked
# G2 MSM panics on an empty chunk. Report the host's memory.
api="$dir/backend/cpu/src/cpu_device_api.cpp"
[ "$(grep -c 'TODO implement this' "$api")" = 1 ] || fail "$api"
sed -i -e '1i #include <unistd.h>' \
	-e 's|// TODO implement this|const long page = sysconf(_SC_PAGESIZE); total = size_t(sysconf(_SC_PHYS_PAGES)) * page; free = size_t(sysconf(_SC_AVPHYS_PAGES)) * page;|' \
	-e '/sysconf(_SC_AVPHYS_PAGES)/{n;s|API_NOT_IMPLEMENTED|SUCCESS|}' "$api"
grep -q 'return eIcicleError::SUCCESS;' "$api" || fail "$api"
