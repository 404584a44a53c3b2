#!/usr/bin/env bash
# loadgen_smoke.sh: functional check (not a benchmark) of bench/loadgen against
# bench/mock_cluster: every produced record is delivered, consume reads back exactly
# what was produced, end-to-end mode receives every record with its embedded header,
# and bad usage fails. Registered with ctest (label integration); a few seconds.
#
# Usage: loadgen_smoke.sh MOCK_CLUSTER_BIN LOADGEN_BIN
set -u
MOCK=$1
LG=$2
OUTF=$(mktemp)
MPID=""
cleanup() {
	[ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
	rm -f "$OUTF" "$OUTF.bs"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	cat "$OUTF" >&2
	exit 1
}
kv() { grep '^RESULT' "$OUTF" | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }

"$MOCK" --brokers 2 --topic s:2 --topic e:1 --no-stdin >"$OUTF.bs" &
MPID=$!
for _ in $(seq 50); do
	BS=$(head -1 "$OUTF.bs" 2>/dev/null)
	[ -n "$BS" ] && break
	sleep 0.1
done
[ -n "$BS" ] || fail "mock_cluster printed no bootstrap address"

timeout 60 "$LG" produce --bootstrap "$BS" --topic s --records 3000 --record-size 200 \
	--acks -1 >"$OUTF" 2>&1 || fail "produce exited $?"
{ [ "$(kv records)" = 3000 ] && [ "$(kv failed)" = 0 ] && [ "$(kv bytes)" = 600000 ]; } ||
	fail "produce: expected 3000 records / 600000 bytes delivered"
[ "$(kv dr_p50_us)" != "" ] || fail "produce: no latency figures"

timeout 60 "$LG" consume --bootstrap "$BS" --topic s >"$OUTF" 2>&1 || fail "consume exited $?"
{ [ "$(kv records)" = 3000 ] && [ "$(kv bytes)" = 600000 ]; } ||
	fail "consume: expected to read back exactly 3000 records"

timeout 60 "$LG" consume --bootstrap "$BS" --topic s --passes 2 >"$OUTF" 2>&1 ||
	fail "consume --passes 2 exited $?"
[ "$(kv records)" = 6000 ] || fail "consume --passes 2: expected 6000 records"

timeout 60 "$LG" e2e --bootstrap "$BS" --topic e --records 2000 --record-size 100 \
	--rate 4000 >"$OUTF" 2>&1 || fail "e2e exited $?"
{ [ "$(kv received)" = 2000 ] && [ "$(kv records)" = 2000 ]; } ||
	fail "e2e: expected 2000 records delivered and received"
[ "$(kv e2e_max_us)" -gt 0 ] 2>/dev/null || fail "e2e: no end-to-end latency"

"$LG" produce --bootstrap "$BS" >"$OUTF" 2>&1
[ $? = 2 ] || fail "missing --topic should exit 2"
"$LG" produce --bootstrap "$BS" --topic s --acks 2 >"$OUTF" 2>&1
[ $? = 2 ] || fail "--acks 2 should exit 2"
echo "loadgen smoke: OK"
