#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer, ASan + UBSan) in build-fuzz/,
# writes the seed corpora into fuzz-corpus/ and runs every target for N seconds.
#
#   tests/fuzz/run.sh [SECONDS]        (default 60 each)
#
# Environment: CHAIN_VECTORS and CHAIN_VECTORS_ED25519 (default
# ../shared/vectors.json and ../shared/vectors-ed25519.json beside the
# checkout), FUZZ_JOBS (build parallelism). A target with a dictionary
# (fuzz-corpus/<target>.dict, written by make_seeds) runs with it. Exits non-zero when the build fails
# or any target reports a crash, a leak, a timeout or an out-of-memory; the
# reproducer is then in build-fuzz/artifacts/<target>/ and the log in
# build-fuzz/logs/<target>.log.
set -u -o pipefail

secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz
corpus=$root/fuzz-corpus
vectors=${CHAIN_VECTORS:-$root/../shared/vectors.json}
vectors_ed25519=${CHAIN_VECTORS_ED25519:-$root/../shared/vectors-ed25519.json}
targets=(tx block envelope script ed25519 msgpack)

mkdir -p "$build/logs"
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFUZZ=ON -DSANITIZE=ON -DBUILD_TESTS=OFF >"$build/logs/configure.log" 2>&1 ||
    { cat "$build/logs/configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
cmake --build "$build" --target fuzz -j "${FUZZ_JOBS:-$(nproc)}" ||
    { echo "fuzz: build failed" >&2; exit 1; }

"$build/tests/fuzz/make_seeds" "$vectors" "$vectors_ed25519" "$corpus" ||
    { echo "fuzz: seeds failed" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
declare -A runs size result
failed=0
for t in "${targets[@]}"; do
    art=$build/artifacts/$t
    mkdir -p "$art" "$corpus/$t"
    log=$build/logs/$t.log
    dict=()
    [ -f "$corpus/$t.dict" ] && dict=(-dict="$corpus/$t.dict")
    echo "fuzz: fuzz_$t for ${secs}s (corpus fuzz-corpus/$t)" >&2
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$corpus/$t" >"$log" 2>&1
    rc=$?
    runs[$t]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    size[$t]=$(find "$corpus/$t" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result[$t]=ok
    else
        failed=1
        # e.g. "libFuzzer: deadly signal" (an abort: a broken invariant),
        # "AddressSanitizer: 154 byte(s) leaked", "libFuzzer: timeout"
        kind=$(sed -n 's/^SUMMARY: //p' "$log" | head -n 1 | cut -c 1-60)
        result[$t]="FAIL rc=$rc ${kind:-see log} (build-fuzz/logs/$t.log)"
        tail -n 40 "$log" >&2
    fi
done

printf '\n%-14s %12s %8s  %s\n' target runs corpus result
for t in "${targets[@]}"; do
    printf '%-14s %12s %8s  %s\n' "fuzz_$t" "${runs[$t]:-?}" "${size[$t]}" "${result[$t]}"
done
exit $failed
