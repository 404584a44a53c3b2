#!/bin/sh
# protocol/tests/regen_check.sh — checks that protocol/gen/ (and the generated
# round-trip table in protocol/tests/gen/) is exactly what codegen/kpgen.py
# produces from Kafka's specs, so nobody edits generated code by hand and the
# committed output never drifts from the generator.
# Usage: regen_check.sh PROJECT_SOURCE_DIR. The specs are looked up in
# PROJECT_SOURCE_DIR/../shared/kafka-protocol/messages; without them the check
# is skipped (exit 77, ctest SKIP_RETURN_CODE).
set -eu
root=$1
specs=$root/../shared/kafka-protocol/messages
if [ ! -d "$specs" ]; then
	echo "regen_check: specs absent ($specs): skipped"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/protocol/codegen/kpgen.py" "$specs" "$tmp/gen" "$tmp/tests_gen"
rc=0
diff -r -x .clang-format "$root/protocol/gen" "$tmp/gen" >"$tmp/diff" || rc=1
diff -r "$root/protocol/tests/gen" "$tmp/tests_gen" >>"$tmp/diff" || rc=1
if [ $rc -ne 0 ]; then
	head -n 60 "$tmp/diff"
	echo "regen_check: protocol/gen differs from kpgen.py output; regenerate with"
	echo "  python3 protocol/codegen/kpgen.py $specs protocol/gen protocol/tests/gen"
	exit 1
fi
echo "regen_check: $(ls "$tmp/gen" | wc -l) generated files match"
