#!/bin/sh
# Short libFuzzer pass for ctest: fuzzes a scratch copy of the corpus for N
# seconds; any crash, leak or sanitizer report fails the test.
set -eu
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/ 2>/dev/null || true
cd "$work"
exec "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 "$work"
