#!/usr/bin/env bash
# idempotence_bench.sh: what an idempotent producer costs, from one run on one machine.
# Starts one serpentlog and runs loadgen produce (1 KiB records, one partition, max rate)
# with enable.idempotence=true and with the same run without it, interleaved, REPS times.
# Baselines: acks=all with max.in.flight=5 (the settings idempotence implies), acks=all
# with max.in.flight=1 (the request pattern librdkafka's idempotent producer really has:
# one ProduceRequest in flight per partition), acks=all with the default in-flight, acks=1.
# Prints each variant's median records/s, client and broker CPU s/GB, the ProduceRequests
# in flight, then the ratios of idempotence to both acks=all baselines (medians of the
# ratios within each repetition) against the issue's 5% target. The raw variants
# (loadgen --raw-inflight: Produce v7 without librdkafka, 5 requests in flight, idempotent
# or not) hold the client's pipelining equal, so their ratio is what the broker's
# idempotence costs.
#
# Usage: bench/idempotence_bench.sh
# Env:   SL_BENCH_BUILD=dir        build directory with bench/loadgen (default build-bench-rel,
#                                  configured and built like compare.sh does)
#        SL_BENCH_NO_BUILD=1       do not (re)build
#        SL_SERPENTLOG=path        serpentlog binary (default: the build dir's)
#        SL_IDEM_RECORDS=500000    records per run (the same bytes for every variant)
#        SL_IDEM_REPS=5            repetitions of the whole set
#        SL_IDEM_VARIANTS="idem all5 all1 all one ridem raw5"   which variants, in order
#        SL_IDEM_PIN=1             pin serpentlog to CPU 0 and loadgen to CPU 1
#        OUT=dir                   raw outputs (default /tmp/sl-idem-<time>)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SL_BENCH_BUILD:-$ROOT/build-bench-rel}
RECORDS=${SL_IDEM_RECORDS:-500000}
REPS=${SL_IDEM_REPS:-5}
VARIANTS=${SL_IDEM_VARIANTS:-idem all5 all1 all one ridem raw5}
PIN=${SL_IDEM_PIN:-0}
OUT=${OUT:-/tmp/sl-idem-$(date +%Y%m%d-%H%M%S)}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/sl-idem-data.XXXXXX")
BPID=

cleanup() {
	if [ -n "$BPID" ]; then
		kill "$BPID" 2>/dev/null
		wait "$BPID" 2>/dev/null
	fi
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }

# The loadgen options of a variant.
variant_args() {
	case $1 in
	idem) echo "--acks -1 --conf enable.idempotence=true" ;;
	all5) echo "--acks -1 --conf max.in.flight.requests.per.connection=5" ;;
	all1) echo "--acks -1 --conf max.in.flight.requests.per.connection=1" ;;
	all) echo "--acks -1" ;;
	one) echo "--acks 1" ;;
	ridem) echo "--acks -1 --raw-inflight 5 --raw-idempotent" ;;
	raw5) echo "--acks -1 --raw-inflight 5" ;;
	*) return 1 ;;
	esac
}

variant_name() {
	case $1 in
	idem) echo "enable.idempotence=true" ;;
	all5) echo "acks=all, in-flight 5" ;;
	all1) echo "acks=all, in-flight 1" ;;
	all) echo "acks=all, default in-flight" ;;
	one) echo "acks=1, default in-flight" ;;
	ridem) echo "raw idempotent, in-flight 5" ;;
	raw5) echo "raw acks=all, in-flight 5" ;;
	esac
}

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# CPU seconds (utime+stime, all threads) of a live process.
proc_cpu() {
	awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' \
		"/proc/$1/stat" 2>/dev/null || printf -- '-'
}

# The value of key in a RESULT line.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (!NR) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for v in $VARIANTS; do
	variant_args "$v" >/dev/null || { log "unknown variant $v"; exit 2; }
done

if [ "${SL_BENCH_NO_BUILD:-0}" != 1 ]; then
	log "building loadgen and serpentlog (Release, no sanitizers) in $BUILD"
	if [ ! -f "$BUILD/build.ninja" ]; then
		cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang \
			-DCMAKE_BUILD_TYPE=Release -DSL_SANITIZE=OFF -DSL_FUZZ=OFF \
			>"$OUT/cmake.log" 2>&1 || { log "cmake failed, see $OUT/cmake.log"; exit 1; }
	fi
	cmake --build "$BUILD" --target loadgen serpentlog >"$OUT/build.log" 2>&1 ||
		{ log "build failed, see $OUT/build.log"; exit 1; }
fi
LOADGEN=$BUILD/bench/loadgen
SERPENTLOG=${SL_SERPENTLOG:-$BUILD/broker/serpentlog}
[ -x "$LOADGEN" ] || { log "missing $LOADGEN"; exit 1; }
[ -x "$SERPENTLOG" ] || { log "missing $SERPENTLOG"; exit 1; }
if nm -D "$SERPENTLOG" 2>/dev/null | grep -q __asan_init; then
	log "warning: $SERPENTLOG links ASan: its timings mean little"
fi

PIN_B=() PIN_L=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
	PIN_B=(taskset -c 0)
	PIN_L=(taskset -c 1)
fi

PORT=$(free_port)
"${PIN_B[@]}" "$SERPENTLOG" start --listen "127.0.0.1:$PORT" --data-dir "$TMPD" --cores 1 \
	>"$OUT/serpentlog.log" 2>&1 &
BPID=$!
for _ in $(seq 100); do
	"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
	sleep 0.1
done
kill -0 "$BPID" 2>/dev/null || { log "serpentlog did not start, see $OUT/serpentlog.log"; exit 1; }

{
	echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine:  $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r)"
	echo "data dir: $TMPD ($(df -T "$TMPD" | awk 'NR == 2 { print $2 }'))"
	echo "client:   loadgen produce, librdkafka $("$PY" -c 'import ctypes; l=ctypes.CDLL("librdkafka.so.1"); l.rd_kafka_version_str.restype=ctypes.c_char_p; print(l.rd_kafka_version_str().decode())' 2>/dev/null || echo '?'), $RECORDS x 1 KiB records, 1 partition, max rate"
	echo "pinning:  $([ ${#PIN_B[@]} -gt 0 ] && echo 'serpentlog CPU 0, loadgen CPU 1' || echo none)"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) before"
} | tee "$OUT/machine.txt"

# One run per variant and repetition; the order rotates between repetitions.
set -- $VARIANTS
NV=$#
for r in $(seq "$REPS"); do
	for i in $(seq 0 $((NV - 1))); do
		k=$(((i + r - 1) % NV + 1))
		v=${!k}
		sync
		load=$(cut -d' ' -f1 /proc/loadavg)
		c0=$(proc_cpu "$BPID")
		# shellcheck disable=SC2046
		"${PIN_L[@]}" "$LOADGEN" produce --bootstrap "127.0.0.1:$PORT" --topic "idem-$v-$r" \
			--partitions 1 --records "$RECORDS" --record-size 1024 $(variant_args "$v") \
			>"$OUT/$v-$r.txt" 2>&1
		rc=$?
		c1=$(proc_cpu "$BPID")
		res=$(grep '^RESULT' "$OUT/$v-$r.txt")
		if [ $rc -ne 0 ] || [ -z "$res" ]; then
			log "$v rep $r failed (rc $rc), see $OUT/$v-$r.txt"
			continue
		fi
		gb=$(awk -v b="$(field "$res" bytes)" 'BEGIN { print b / 1e9 }')
		printf '%s %s %s %s %s %s %s %s %s\n' "$v" "$r" "$(field "$res" rec_per_s)" \
			"$(awk -v c="$(field "$res" cpu_s)" -v g="$gb" 'BEGIN { printf "%.3f", c / g }')" \
			"$(awk -v a="$c0" -v b="$c1" -v g="$gb" 'BEGIN { printf "%.3f", (b - a) / g }')" \
			"$(field "$res" inflight_max)" "$(field "$res" inflight_mean)" \
			"$(field "$res" rtt_us)" "$load" >>"$OUT/runs.txt"
		log "rep $r $(variant_name "$v"): $(field "$res" rec_per_s) rec/s, load $load"
	done
done
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) after" | tee -a "$OUT/machine.txt"
if awk -v n="$(nproc)" '$NF > n { f = 1 } END { exit !f }' "$OUT/runs.txt"; then
	echo "warning:  the 1-minute load exceeded $(nproc) during some runs: other processes" \
		"competed for the CPUs, and single runs may differ by tens of percent"
fi
[ -s "$OUT/runs.txt" ] || { log "no run succeeded"; exit 1; }

col() { awk -v v="$1" -v c="$2" '$1 == v { print $c }' "$OUT/runs.txt"; }

echo
printf '%-28s %10s %14s %13s %13s %9s %8s\n' variant "rec/s" "(min-max)" "client s/GB" \
	"broker s/GB" "in flight" "rtt ms"
for v in $VARIANTS; do
	[ -n "$(col "$v" 3)" ] || continue
	printf '%-28s %10.0f %14s %13.3f %13.3f %9s %8.2f\n' "$(variant_name "$v")" \
		"$(col "$v" 3 | median)" "$(col "$v" 3 | sort -g | sed -n '1p;$p' | paste -sd-)" \
		"$(col "$v" 4 | median)" "$(col "$v" 5 | median)" \
		"$(col "$v" 7 | median)/$(col "$v" 6 | sort -g | tail -1)" \
		"$(awk -v u="$(col "$v" 8 | median)" 'BEGIN { print u / 1000 }')"
done
echo "(in flight: mean ProduceRequests in flight while any was / largest; rtt: librdkafka's mean)"

# Ratio of one variant to another: the median of the per-repetition ratios, so each
# pair of runs saw the same minute of machine load.
ratio() {
	awk -v a="$1" -v b="$2" '$1 == a { i[$2] = $3 } $1 == b { x[$2] = $3 }
		END { for (r in i) if (r in x && x[r] > 0) print i[r] / x[r] }' "$OUT/runs.txt" | median
}

echo
for pair in "idem all5" "idem all1" "ridem raw5"; do
	set -- $pair
	case " $VARIANTS " in *" $1 "*) ;; *) continue ;; esac
	case " $VARIANTS " in *" $2 "*) ;; *) continue ;; esac
	q=$(ratio "$1" "$2")
	[ "$q" = "-" ] && continue
	printf '%-28s / %-28s %.3f  %s (target >= 0.95)\n' "$(variant_name "$1")" \
		"$(variant_name "$2")" "$q" \
		"$(awk -v q="$q" 'BEGIN { print (q >= 0.95 ? "PASS" : "FAIL") }')"
done
echo "raw outputs: $OUT"
