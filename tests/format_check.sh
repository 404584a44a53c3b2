#!/bin/sh
# Fails when a hand-written C file differs from what clang-format 14 makes of
# it with the repo's .clang-format. Generated code (*/gen/) is skipped: the
# generator's output is checked by regen_check instead.
set -eu
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
files=$(git ls-files '*.c' '*.h' | grep -v '/gen/')
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "format ok: $(echo "$files" | wc -l) files"
