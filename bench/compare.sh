#!/usr/bin/env bash
# compare.sh: one run, one machine, one table. Measures the floors a Kafka broker sits on
# (loopback TCP bandwidth, sendfile from page cache, fdatasync latency, CPU s/GB of the
# unavoidable per-byte work) and then the same client workloads against librdkafka's mock
# cluster and, when built, SerpentLog, with each broker's CPU seconds per GB beside the
# sum of the unavoidable parts. Then SerpentLog alone: end-to-end latency, idle RSS with
# 100 partitions, syscalls (strace -c) and heap allocations (malloc_count shim) per record.
# Ends with the issue's targets, each with both sides, the ratio and pass/fail.
# Raw outputs of every step are kept in $OUT.
#
# Usage: bench/compare.sh            (builds bench tools in build-bench-rel, ~2-3 min)
# Env:   SL_BENCH_BUILD=dir          use/build that build directory instead
#        SL_BENCH_NO_BUILD=1         do not (re)build, use what is in the build dir
#        SL_SERPENTLOG=path          serpentlog binary (default: newest build*/broker/serpentlog)
#        SL_BENCH_CORES=1|2          --cores for serpentlog (default 1)
#        SL_BENCH_SECONDS=5          seconds per broker run
#        SL_BENCH_COUNT_RECORDS=200000 records of the strace/malloc counting runs
#        OUT=dir                     where raw outputs go (default /tmp/sl-compare-<time>)
set -u

# Consume datasets (see run_consume): C48 records of 1 KiB are about CONSUME_MB MiB on disk,
# the size of sendfile_bench's file and well inside SerpentLog's default retained tail
# (log.page.cache.retain.bytes, 64 MiB); C4 records are what the mock keeps of a partition.
CONSUME_MB=48
C48=48600
C4=4000

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SL_BENCH_BUILD:-$ROOT/build-bench-rel}
SECS=${SL_BENCH_SECONDS:-5}
CORES=${SL_BENCH_CORES:-1}
NCOUNT=${SL_BENCH_COUNT_RECORDS:-200000}
OUT=${OUT:-/tmp/sl-compare-$(date +%Y%m%d-%H%M%S)}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT"
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/sl-compare-data.XXXXXX")
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }

# Value of KEY in the "RESULT k=v ..." lines of FILE (last one wins), or "-" if absent.
kv() {
	local v
	v=$(grep '^RESULT' "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -1)
	printf '%s' "${v:--}"
}

# Like kv but from the RESULT line whose mode=MODE.
kvm() {
	local v
	v=$(grep "^RESULT mode=$2 " "$1" 2>/dev/null | tail -1 | tr ' ' '\n' | sed -n "s/^$3=//p")
	printf '%s' "${v:--}"
}

# a/b with a given printf format, "-" if either is missing or b is zero.
div() {
	awk -v a="$1" -v b="$2" -v f="${3:-%.3f}" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) { print "-"; exit }
		printf f, a / b }'
}

fmt() {
	awk -v a="$1" -v f="$2" 'BEGIN { if (a == "-" || a == "") print "-"; else printf f, a }'
}

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# CPU seconds (utime+stime, all threads) of a live process.
proc_cpu() {
	local tck
	tck=$(getconf CLK_TCK)
	awk -v t="$tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null ||
		printf -- '-'
}

# ---------------------------------------------------------------- build
build_tools() {
	if [ "${SL_BENCH_NO_BUILD:-0}" != 1 ]; then
		log "building bench tools (Release, no sanitizers) in $BUILD"
		if [ ! -f "$BUILD/build.ninja" ]; then
			cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang \
				-DCMAKE_BUILD_TYPE=Release -DSL_SANITIZE=OFF -DSL_FUZZ=OFF \
				>"$OUT/cmake.log" 2>&1 || { log "cmake failed, see $OUT/cmake.log"; exit 1; }
		fi
		cmake --build "$BUILD" --target mock_cluster loadgen sendfile_bench parts_bench sl_malloc_count \
			>"$OUT/build.log" 2>&1 || { log "build failed, see $OUT/build.log"; exit 1; }
		# SerpentLog is optional: it may not exist or may not build yet.
		cmake --build "$BUILD" --target serpentlog >"$OUT/build-serpentlog.log" 2>&1 ||
			log "serpentlog did not build here (see $OUT/build-serpentlog.log)"
	fi
	for t in mock_cluster loadgen sendfile_bench parts_bench; do
		[ -x "$BUILD/bench/$t" ] || { log "missing $BUILD/bench/$t"; exit 1; }
	done
}

find_serpentlog() {
	if [ -n "${SL_SERPENTLOG:-}" ]; then
		[ -x "$SL_SERPENTLOG" ] && printf '%s' "$SL_SERPENTLOG"
		return
	fi
	if [ -x "$BUILD/broker/serpentlog" ]; then
		printf '%s' "$BUILD/broker/serpentlog"
		return
	fi
	# shellcheck disable=SC2012
	ls -t "$ROOT"/build*/broker/serpentlog 2>/dev/null | head -1
}

# ---------------------------------------------------------------- environment
machine() {
	{
		echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
		echo "cpu:     $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
		echo "cores:   $(nproc) online ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s)/core)"
		echo "kernel:  $(uname -r)"
		echo "memory:  $(free -m | awk '/^Mem:/ { print $2 " MiB" }')"
		echo "fs:      $(df -T "$TMPD" | awk 'NR == 2 { print $2 " on " $1 }') (data dir $TMPD)"
		echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
	} | tee "$OUT/machine.txt"
	top -bn1 | head -15 >"$OUT/top-before.txt"
}

# ---------------------------------------------------------------- floors
run_iperf() {
	local port spid
	port=$(free_port)
	iperf3 -s -1 -p "$port" >"$OUT/iperf3-server.txt" 2>&1 &
	spid=$!
	PIDS+=("$spid")
	sleep 0.3
	iperf3 -c 127.0.0.1 -p "$port" -t 3 -O 1 -J >"$OUT/iperf3.json" 2>&1
	wait "$spid" 2>/dev/null
	"$PY" - "$OUT/iperf3.json" <<'EOF' >"$OUT/iperf3.result"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    e = d["end"]
    print("RESULT gbit_per_s=%.2f sender_cpu_pct=%.0f receiver_cpu_pct=%.0f" % (
        e["sum_received"]["bits_per_second"] / 1e9,
        e["cpu_utilization_percent"]["host_total"],
        e["cpu_utilization_percent"]["remote_total"]))
except Exception as ex:
    print("iperf3 parse failed:", ex)
EOF
}

run_fio() {
	local bs
	for bs in 4k 16k; do
		fio --name="fdatasync-$bs" --directory="$TMPD" --rw=write --bs="$bs" --size=64m \
			--fdatasync=1 --runtime=3 --time_based --output-format=json \
			>"$OUT/fio-$bs.json" 2>"$OUT/fio-$bs.err"
		"$PY" - "$OUT/fio-$bs.json" <<'EOF' >"$OUT/fio-$bs.result"
import json, sys
try:
    j = json.load(open(sys.argv[1]))["jobs"][0]
    p = j["sync"]["lat_ns"]["percentile"]
    print("RESULT p50_us=%.0f p99_us=%.0f syncs_per_s=%.0f" % (
        p["50.000000"] / 1e3, p["99.000000"] / 1e3, j["write"]["iops"]))
except Exception as ex:
    print("fio parse failed:", ex)
EOF
		rm -f "$TMPD"/fdatasync-*
	done
}

# ---------------------------------------------------------------- brokers
BS=""
BPID=""

start_mock() {
	"$BUILD/bench/mock_cluster" --brokers 1 --topic p1:1 --topic warm:1 --topic p20k:1 \
		--topic c48:1 --topic c4:1 --no-stdin \
		>"$OUT/mock.bootstrap" 2>"$OUT/mock.err" &
	BPID=$!
	PIDS+=("$BPID")
	for _ in $(seq 50); do
		BS=$(head -1 "$OUT/mock.bootstrap" 2>/dev/null)
		[ -n "$BS" ] && return 0
		sleep 0.1
	done
	return 1
}

# start_serpentlog BIN [DATA-SUBDIR [LD_PRELOAD-LIB [CONFIG-FILE]]]
start_serpentlog() {
	local bin=$1 dir=$TMPD/${2:-serpentlog} pre=${3:-} cfg=() port
	[ -n "${4:-}" ] && cfg=(--config "$4")
	port=$(free_port)
	mkdir -p "$dir"
	if [ -n "$pre" ]; then
		SL_MALLOC_COUNT_FILE="$OUT/malloc.counts" LD_PRELOAD="$pre" \
			"$bin" start "${cfg[@]}" --listen "127.0.0.1:$port" --data-dir "$dir" \
			--cores "$CORES" >>"$OUT/serpentlog.log" 2>&1 &
	else
		"$bin" start "${cfg[@]}" --listen "127.0.0.1:$port" --data-dir "$dir" --cores "$CORES" \
			>>"$OUT/serpentlog.log" 2>&1 &
	fi
	BPID=$!
	PIDS+=("$BPID")
	BS="127.0.0.1:$port"
	for _ in $(seq 100); do
		if ! kill -0 "$BPID" 2>/dev/null; then
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

stop_broker() {
	kill "$BPID" 2>/dev/null
	wait "$BPID" 2>/dev/null
	BPID=""
}

# cache_residency NAME TOPIC: page-cache residency of TOPIC's segment files (fincore), as
# RESULT TOPIC_cached_pct appended to NAME-consume-cache.txt. Only for a broker with a data dir.
cache_residency() {
	local d=$TMPD/serpentlog/$2-0
	[ -d "$d" ] && command -v fincore >/dev/null || return 0
	fincore -b -n -o RES,SIZE "$d"/*.log >"$OUT/$1-$2-fincore.txt" 2>&1
	echo "RESULT $2_cached_pct=$(awk '{ r += $1; s += $2 } END {
		if (s > 0) printf "%.1f", 100 * r / s; else print "-" }' "$OUT/$1-$2-fincore.txt")" \
		"$2_bytes=$(awk '{ s += $2 } END { print s + 0 }' "$OUT/$1-$2-fincore.txt")" \
		>>"$OUT/$1-consume-cache.txt"
}

# consume_run NAME RUN TOPIC PASSES: a timed consume of TOPIC read PASSES times into
# NAME-RUN.txt, with the broker's CPU seconds appended. fetch.wait.max.ms=10: a Fetch at
# the end of the partition is long-polled, and the rewind to the next pass waits for it
# (the gaps between passes are not timed, this only shortens the run).
consume_run() {
	local c0 c1
	c0=$(proc_cpu "$BPID")
	"$BUILD/bench/loadgen" consume --bootstrap "$BS" --topic "$3" --passes "$4" \
		--records 3000000 --seconds $((SECS * 2)) --conf fetch.wait.max.ms=10 \
		>"$OUT/$1-$2.txt" 2>&1
	c1=$(proc_cpu "$BPID")
	echo "RESULT broker_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')" \
		>>"$OUT/$1-$2.txt"
}

# run_broker NAME: the three client workloads against the running broker at $BS.
run_broker() {
	local name=$1 lg="$BUILD/bench/loadgen" c0 c1
	local common=(--bootstrap "$BS" --record-size 1024 --partitions 1)

	"$lg" produce "${common[@]}" --topic warm --seconds 1 >"$OUT/$name-warm.txt" 2>&1

	# Each workload starts with no dirty page cache left by the one before: on ext4
	# (data=ordered) an fdatasync also waits for other files' delayed writeback, so
	# gigabytes left dirty by the max-rate run would be charged to the acks=-1 run.
	sync
	c0=$(proc_cpu "$BPID")
	"$lg" produce "${common[@]}" --topic p1 --acks 1 --seconds "$SECS" \
		>"$OUT/$name-produce.txt" 2>&1
	c1=$(proc_cpu "$BPID")
	echo "RESULT broker_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')" \
		>>"$OUT/$name-produce.txt"

	sync
	"$lg" produce "${common[@]}" --topic p20k --acks -1 --rate 20000 --seconds "$SECS" \
		>"$OUT/$name-acksall.txt" 2>&1

	# End to end: linger 0 (a 5 ms linger alone would exceed the 1 ms target). Not run
	# against the mock: its Fetch lags by hundreds of ms (it parks fetches), no reference.
	if [ "$name" != mock ]; then
		sync
		"$lg" e2e "${common[@]}" --topic e2e --acks 1 --rate 20000 --linger-ms 0 \
			--seconds "$SECS" >"$OUT/$name-e2e.txt" 2>&1
	fi

	# Consume from the page cache (the issue's target), the same datasets on both brokers:
	# - c48: CONSUME_MB MiB, the size of sendfile_bench's file (the 0.8 x sendfile target).
	#   It lies inside SerpentLog's retained tail, so its pages are the ones the broker
	#   wrote and never dropped. The mock keeps only the last 5 MiB of a partition, so
	#   c48 is read from SerpentLog only.
	# - c4: C4 records, all of which the mock keeps too (the 1.2 x mock target).
	# Then a lagging consumer: p1 (gigabytes, dropped behind by SerpentLog while it was
	# produced) read once from the start, mostly from disk. Residency (fincore) of p1 and
	# c48 is recorded before the consume runs.
	"$lg" produce "${common[@]}" --topic c48 --records "$C48" >"$OUT/$name-c48-load.txt" 2>&1
	"$lg" produce "${common[@]}" --topic c4 --records "$C4" >"$OUT/$name-c4-load.txt" 2>&1
	: >"$OUT/$name-consume-cache.txt"
	cache_residency "$name" c48
	cache_residency "$name" p1
	[ "$name" != mock ] && consume_run "$name" consume c48 20
	consume_run "$name" consume4 c4 200
	consume_run "$name" readback p1 1
}

# Page-cache write into memory the hypervisor may have taken back: on this kind of VM
# (virtio_balloon free page reporting) the first touch of a freed page costs about 1 s/GB
# more than parts_bench's write, which recycles 256 MiB of page cache. A broker appending
# gigabytes right after the mock freed its memory meets those pages, so this is measured
# at the same point of the run (just before serpentlog starts): dd of 2 GiB to a new file.
run_fresh_write() {
	local t TIMEFORMAT='%S %U'
	{ time dd if=/dev/zero of="$TMPD/fresh-write" bs=1M count=2048 2>/dev/null; } \
		2>"$OUT/fresh-write.time"
	t=$(tail -1 "$OUT/fresh-write.time" 2>/dev/null)
	rm -f "$TMPD/fresh-write"
	echo "RESULT fresh_write_s_per_gb=$(awk -v a="$t" 'BEGIN { split(a, x, " ");
		if (x[1] == "") print "-"; else printf "%.4f", (x[1] + x[2]) / 2.147483648 }')" \
		>"$OUT/fresh-write.txt"
}

# ---------------------------------------------------------------- serpentlog only
# Resident set size (KiB) of a live process.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || printf -- '-'; }

# Idle RSS: a fresh broker, one topic of 100 partitions holding a few records each.
run_idle_rss() {
	local bin=$1 lg="$BUILD/bench/loadgen" r0
	start_serpentlog "$bin" rss || return 1
	sleep 1
	r0=$(rss_kib "$BPID")
	"$lg" produce --bootstrap "$BS" --topic rss100 --partitions 100 --records 10000 \
		--record-size 1024 >"$OUT/serpentlog-rss-load.txt" 2>&1
	sleep 3
	echo "RESULT rss_start_kib=$r0 rss_idle_kib=$(rss_kib "$BPID") \
partitions=$(find "$TMPD/rss" -mindepth 1 -maxdepth 1 -type d -name 'rss100-*' | wc -l)" \
		>"$OUT/serpentlog-rss.txt"
	stop_broker
}

# Total calls and its "total" row from an strace -c summary.
strace_total() { awk '$NF == "total" { print $(NF-2) }' "$1" 2>/dev/null; }

# count_run NAME CMD...: run a loadgen command while strace counts every broker thread's
# syscalls and the malloc shim counts allocations; appends RESULT syscalls/allocs.
count_run() {
	local name=$1 spid a0 a1 tids=()
	shift
	for t in /proc/"$BPID"/task/*; do tids+=(-p "${t##*/}"); done
	strace -c -f -o "$OUT/strace-serpentlog-$name.log" "${tids[@]}" 2>/dev/null &
	spid=$!
	sleep 1
	a0=$(od -An -t u8 -N 40 "$OUT/malloc.counts" 2>/dev/null | awk '{ print $1 + $2 + $3 + $5 }')
	"$@" >"$OUT/serpentlog-count-$name.txt" 2>&1
	a1=$(od -An -t u8 -N 40 "$OUT/malloc.counts" 2>/dev/null | awk '{ print $1 + $2 + $3 + $5 }')
	kill -INT "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	echo "RESULT syscalls=$(strace_total "$OUT/strace-serpentlog-$name.log") \
allocs=$(awk -v a="${a0:-}" -v b="${a1:-}" 'BEGIN { if (a == "" || b == "") print "-"; else print b - a }')" \
		>>"$OUT/serpentlog-count-$name.txt"
}

# The consume datasets again with fetch.send.mode: sendfile, what a client on another host
# gets (the default, auto, copies Fetch bytes to clients on this host: broker/send_mode.c).
run_consume_sendfile() {
	local bin=$1 lg="$BUILD/bench/loadgen" cfg="$TMPD/sendfile.yaml"
	local common=(--record-size 1024 --partitions 1)
	echo "fetch.send.mode: sendfile" >"$cfg"
	start_serpentlog "$bin" sf "" "$cfg" || return 1
	"$lg" produce --bootstrap "$BS" "${common[@]}" --topic c48 --records "$C48" \
		>"$OUT/serpentlog-sf-c48-load.txt" 2>&1
	"$lg" produce --bootstrap "$BS" "${common[@]}" --topic c4 --records "$C4" \
		>"$OUT/serpentlog-sf-c4-load.txt" 2>&1
	consume_run serpentlog-sf consume c48 20
	consume_run serpentlog-sf consume4 c4 200
	stop_broker
}

# Per-record syscalls and allocations: fixed-size produce and consume runs.
run_counts() {
	local bin=$1 lg="$BUILD/bench/loadgen" pre="$BUILD/bench/libsl_malloc_count.so"
	[ -f "$pre" ] || pre=""
	command -v strace >/dev/null || log "strace missing: syscall counts skipped"
	start_serpentlog "$bin" counts "$pre" || return 1
	"$lg" produce --bootstrap "$BS" --topic cwarm --record-size 1024 --partitions 1 \
		--records 20000 >/dev/null 2>&1
	count_run produce "$lg" produce --bootstrap "$BS" --topic cnt --record-size 1024 \
		--partitions 1 --acks 1 --records "$NCOUNT"
	count_run consume "$lg" consume --bootstrap "$BS" --topic cnt --records "$NCOUNT"
	stop_broker
}

# ---------------------------------------------------------------- main
build_tools
SLBIN=$(find_serpentlog)
SLNOTE="not built"
log "raw outputs: $OUT"
echo "== SerpentLog compare: floors of this machine, then brokers under the same load"
machine

log "loopback TCP (iperf3, 3 s)"
run_iperf
log "sendfile / copy of a $CONSUME_MB MiB cached file to loopback (2 x 2 s)"
"$BUILD/bench/sendfile_bench" --seconds 2 --file-mb "$CONSUME_MB" --dir "$TMPD" >"$OUT/sendfile.txt" 2>&1
log "fdatasync latency (fio, 2 x 3 s)"
run_fio
log "unavoidable parts (4 x 1 s)"
"$BUILD/bench/parts_bench" --seconds 1 --dir "$TMPD" >"$OUT/parts.txt" 2>&1

log "librdkafka mock cluster (load $(cut -d' ' -f1-3 /proc/loadavg))"
if start_mock; then
	run_broker mock
	stop_broker
else
	log "mock cluster did not start (see $OUT/mock.err)"
fi

log "page-cache write to first-touch memory (dd 2 GiB)"
run_fresh_write

if [ -n "$SLBIN" ]; then
	SLNOTE=""
	if ldd "$SLBIN" 2>/dev/null | grep -q asan; then
		SLNOTE=" (ASan build: slow)"
	fi
	log "serpentlog: $SLBIN$SLNOTE (load $(cut -d' ' -f1-3 /proc/loadavg))"
	if start_serpentlog "$SLBIN"; then
		run_broker serpentlog
		stop_broker
		SLNOTE="ran$SLNOTE"
		log "serpentlog consume with fetch.send.mode: sendfile"
		run_consume_sendfile "$SLBIN" || log "sendfile-mode consume run failed"
		log "serpentlog idle RSS, 100 partitions"
		run_idle_rss "$SLBIN" || log "idle RSS run failed"
		log "serpentlog syscalls and allocations per record ($NCOUNT records each way)"
		run_counts "$SLBIN" || log "counting run failed"
	else
		log "serpentlog did not start (see $OUT/serpentlog.log)"
		SLNOTE="failed to start"
		stop_broker
	fi
fi
top -bn1 | head -15 >"$OUT/top-after.txt"

# ---------------------------------------------------------------- table
P="$OUT/parts.txt"
echo
echo "-- floors (this machine, this run)"
printf '%-46s %s\n' "loopback TCP, iperf3 1 stream" \
	"$(kv "$OUT/iperf3.result" gbit_per_s) Gbit/s (CPU sender $(kv "$OUT/iperf3.result" sender_cpu_pct)%, receiver $(kv "$OUT/iperf3.result" receiver_cpu_pct)%)"
for m in sendfile copy; do
	printf '%-46s %s GB/s, CPU s/GB sender %s receiver %s\n' \
		"page cache -> loopback socket ($m)" "$(kvm "$OUT/sendfile.txt" $m gb_per_s)" \
		"$(kvm "$OUT/sendfile.txt" $m send_cpu_s_per_gb)" \
		"$(kvm "$OUT/sendfile.txt" $m recv_cpu_s_per_gb)"
done
for bs in 4k 16k; do
	printf '%-46s p50 %s us  p99 %s us  (%s syncs/s)\n' "write $bs + fdatasync (fio)" \
		"$(kv "$OUT/fio-$bs.result" p50_us)" "$(kv "$OUT/fio-$bs.result" p99_us)" \
		"$(kv "$OUT/fio-$bs.result" syncs_per_s)"
done
printf '%-46s recv %s + write %s + crc32c %s + xxh3 %s = %s\n' "unavoidable parts, CPU s/GB" \
	"$(kv "$P" recv_s_per_gb)" "$(kv "$P" write_s_per_gb)" "$(kv "$P" crc32c_s_per_gb)" \
	"$(kv "$P" xxh3_s_per_gb)" "$(kv "$P" sum_s_per_gb)"
FRESHW=$(kv "$OUT/fresh-write.txt" fresh_write_s_per_gb)
PSUM_FRESH=$(awk -v s="$(kv "$P" sum_s_per_gb)" -v w="$(kv "$P" write_s_per_gb)" -v f="$FRESHW" \
	'BEGIN { if (s == "-" || w == "-" || f == "-") print "-"; else printf "%.4f", s - w + f }')
printf '%-46s %s CPU s/GB (parts sum with it: %s)\n' "write to first-touch page cache (dd 2 GiB)" \
	"$FRESHW" "$PSUM_FRESH"
printf '%-46s %s CPU s/GB (parts sum with it: %s)\n' "write with write-behind + drop-behind" \
	"$(kv "$P" write_wb_s_per_gb)" "$(kv "$P" sum_wb_s_per_gb)"

col() { # col NAME FILE KEY FORMAT
	if [ -f "$OUT/$1-$2.txt" ]; then fmt "$(kv "$OUT/$1-$2.txt" "$3")" "$4"; else printf 'not run'; fi
}
cpu_per_gb() { # cpu_per_gb NAME RUN
	if [ -f "$OUT/$1-$2.txt" ]; then
		div "$(kv "$OUT/$1-$2.txt" broker_cpu_s)" \
			"$(grep '^RESULT mode' "$OUT/$1-$2.txt" | tail -1 | tr ' ' '\n' |
				sed -n 's/^bytes=//p' | awk '{ print $1 / 1e9 }')" "%.3f"
	else
		printf 'not run'
	fi
}
row() { # row LABEL MOCKVAL SLVAL
	printf '%-46s %-16s %s\n' "$1" "$2" "$3"
}
sl() { # value for the serpentlog column
	if [ -z "$SLBIN" ]; then printf 'not built'; elif [ "${SLNOTE#ran}" = "$SLNOTE" ]; then
		printf '%s' "$SLNOTE"; else "$@"; fi
}

echo
echo "-- brokers (1 KiB records, 1 partition, loadgen on the same machine)"
SLHEAD=serpentlog
[ "${SLNOTE#ran}" != "$SLNOTE" ] && SLHEAD="serpentlog${SLNOTE#ran}"
row "" "mock" "$SLHEAD"
row "produce acks=1 max rate: records/s" "$(col mock produce rec_per_s %.0f)" \
	"$(sl col serpentlog produce rec_per_s %.0f)"
row "  MB/s" "$(col mock produce mb_per_s %.1f)" "$(sl col serpentlog produce mb_per_s %.1f)"
row "  delivery p99 us (queue-bound at max rate)" "$(col mock produce dr_p99_us %.0f)" \
	"$(sl col serpentlog produce dr_p99_us %.0f)"
row "  broker CPU s/GB" "$(cpu_per_gb mock produce)" "$(sl cpu_per_gb serpentlog produce)"
row "  loadgen CPU s" "$(col mock produce cpu_s %.2f)" "$(sl col serpentlog produce cpu_s %.2f)"
row "produce acks=-1 @20000/s: achieved records/s" "$(col mock acksall rec_per_s %.0f)" \
	"$(sl col serpentlog acksall rec_per_s %.0f)"
row "  delivery p50 us" "$(col mock acksall dr_p50_us %.0f)" \
	"$(sl col serpentlog acksall dr_p50_us %.0f)"
row "  delivery p99 us" "$(col mock acksall dr_p99_us %.0f)" \
	"$(sl col serpentlog acksall dr_p99_us %.0f)"
row "  delivery p99.9 us" "$(col mock acksall dr_p999_us %.0f)" \
	"$(sl col serpentlog acksall dr_p999_us %.0f)"
row "e2e acks=1 @20000/s linger 0: p50 us" "$(col mock e2e e2e_p50_us %.0f)" \
	"$(sl col serpentlog e2e e2e_p50_us %.0f)"
row "  p99 us" "$(col mock e2e e2e_p99_us %.0f)" "$(sl col serpentlog e2e e2e_p99_us %.0f)"
row "  p99.9 us" "$(col mock e2e e2e_p999_us %.0f)" "$(sl col serpentlog e2e e2e_p999_us %.0f)"
row "  received" "$(col mock e2e received %.0f)" "$(sl col serpentlog e2e received %.0f)"
row "consume c48 ($CONSUME_MB MiB, cached as written) x20: rec/s" "-" \
	"$(sl col serpentlog consume rec_per_s %.0f)"
row "  MB/s" "-" "$(sl col serpentlog consume mb_per_s %.1f)"
row "  broker CPU s/GB" "-" "$(sl cpu_per_gb serpentlog consume)"
row "  segment bytes, % in page cache before" "-" \
	"$(sl col serpentlog consume-cache c48_bytes %.0f), $(sl col serpentlog consume-cache c48_cached_pct %.1f)"
row "consume c4 ($C4 records) x200: records/s" "$(col mock consume4 rec_per_s %.0f)" \
	"$(sl col serpentlog consume4 rec_per_s %.0f)"
row "  MB/s" "$(col mock consume4 mb_per_s %.1f)" "$(sl col serpentlog consume4 mb_per_s %.1f)"
row "  records read" "$(col mock consume4 records %.0f)" "$(sl col serpentlog consume4 records %.0f)"
row "  broker CPU s/GB" "$(cpu_per_gb mock consume4)" "$(sl cpu_per_gb serpentlog consume4)"
row "fetch.send.mode sendfile: c48 MB/s" "-" "$(sl col serpentlog-sf consume mb_per_s %.1f)"
row "  c4 records/s" "-" "$(sl col serpentlog-sf consume4 rec_per_s %.0f)"
row "  broker CPU s/GB c48 / c4" "-" \
	"$(sl cpu_per_gb serpentlog-sf consume) / $(sl cpu_per_gb serpentlog-sf consume4)"
row "read-back p1 from the start, 1 pass: MB/s" "$(col mock readback mb_per_s %.1f)" \
	"$(sl col serpentlog readback mb_per_s %.1f)"
row "  records read" "$(col mock readback records %.0f)" "$(sl col serpentlog readback records %.0f)"
row "  broker CPU s/GB" "$(cpu_per_gb mock readback)" "$(sl cpu_per_gb serpentlog readback)"
row "  p1 in page cache before it %" "-" "$(sl col serpentlog consume-cache p1_cached_pct %.1f)"
row "unavoidable produce parts CPU s/GB (sum)" "$(kv "$P" sum_s_per_gb)" "$(kv "$P" sum_s_per_gb)"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "what else ran (top before; full snapshots $OUT/top-before.txt, top-after.txt):"
sed -n '3p;7,12p' "$OUT/top-before.txt"
echo "notes: the mock keeps records in memory (a few MB per partition, no file write, no"
echo "  fsync), so its CPU s/GB compares with recv + crc32c, not with the full sum; max-rate"
echo "  delivery latency is the depth of the client queue, use the 20000/s run for latency;"
echo "  loadgen and broker share this machine's $(nproc) cores."

# ---------------------------------------------------------------- targets
# verdict VALUE OP LIMIT: PASS/FAIL/- ("le" or "ge" or "lt").
verdict() {
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "") { print "-"; exit }
		ok = (op == "le") ? (a + 0 <= b + 0) : (op == "lt") ? (a + 0 < b + 0) : (a + 0 >= b + 0)
		print ok ? "PASS" : "FAIL" }'
}
trow() { # trow TARGET SERPENTLOG REFERENCE RATIO VERDICT
	printf '%-44s %-14s %-22s %-8s %s\n' "$1" "$2" "$3" "$4" "$5"
}
SLF=$OUT/serpentlog
m_rps=$(kv "$OUT/mock-produce.txt" rec_per_s)
s_rps=$(kv "$SLF-produce.txt" rec_per_s)
psum=$(kv "$P" sum_s_per_gb)
s_cpu=$(cpu_per_gb serpentlog produce)
lim_cpu=$(awk -v a="$psum" 'BEGIN { if (a == "-") print "-"; else printf "%.3f", 1.25 * a }')
fio99=$(awk -v a="$(kv "$OUT/fio-4k.result" p99_us)" -v b="$(kv "$OUT/fio-16k.result" p99_us)" \
	'BEGIN { if (a == "-" && b == "-") print "-"; else if (b == "-" || a + 0 > b + 0) print a; else print b }')
m_all99=$(kv "$OUT/mock-acksall.txt" dr_p99_us)
s_all99=$(kv "$SLF-acksall.txt" dr_p99_us)
lim_all=$(awk -v a="$m_all99" -v b="$fio99" 'BEGIN { if (a == "-" || b == "-") print "-"; else print a + b }')
s_e2e50=$(kv "$SLF-e2e.txt" e2e_p50_us)
s_e2e99=$(kv "$SLF-e2e.txt" e2e_p99_us)
s_e2e999=$(kv "$SLF-e2e.txt" e2e_p999_us)
sf_mb=$(awk -v a="$(kvm "$OUT/sendfile.txt" sendfile gb_per_s)" 'BEGIN { if (a == "-") print "-"; else print a * 1000 }')
s_cmb=$(kv "$SLF-consume.txt" mb_per_s)
m_crps=$(kv "$OUT/mock-consume4.txt" rec_per_s)
s_crps=$(kv "$SLF-consume4.txt" rec_per_s)
s_rbmb=$(kv "$SLF-readback.txt" mb_per_s)
rss=$(kv "$SLF-rss.txt" rss_idle_kib)
rss_mib=$(div "$rss" 1024 "%.1f")
per_rec() { # per_rec RUN KEY
	div "$(kv "$SLF-count-$1.txt" "$2")" "$(kv "$SLF-count-$1.txt" records)" "%.4f"
}
sc_p=$(per_rec produce syscalls)
sc_c=$(per_rec consume syscalls)
al_p=$(per_rec produce allocs)
al_c=$(per_rec consume allocs)
echo
echo "-- targets (serpentlog vs reference, this run)"
trow "target" "serpentlog" "reference" "ratio" "verdict"
trow "produce acks=1 rec/s >= mock" "$(fmt "$s_rps" %.0f)" "mock $(fmt "$m_rps" %.0f)" \
	"$(div "$s_rps" "$m_rps" %.2f)" "$(verdict "$s_rps" ge "$m_rps")"
trow "broker CPU s/GB <= 1.25 x parts sum" "$s_cpu" "sum $psum (x1.25 $lim_cpu)" \
	"$(div "$s_cpu" "$psum" %.2f)" "$(verdict "$s_cpu" le "$lim_cpu")"
PSUM_WB=$(kv "$P" sum_wb_s_per_gb)
trow "  same, parts with write-behind write (like-for-like)" "$s_cpu" "sum $PSUM_WB" \
	"$(div "$s_cpu" "$PSUM_WB" %.2f)" \
	"$(verdict "$s_cpu" le "$(awk -v a="$PSUM_WB" 'BEGIN { if (a == "-") print "-"; else print 1.25 * a }')")"
trow "  same, parts with first-touch write" "$s_cpu" "sum $PSUM_FRESH" \
	"$(div "$s_cpu" "$PSUM_FRESH" %.2f)" \
	"$(verdict "$s_cpu" le "$(awk -v a="$PSUM_FRESH" 'BEGIN { if (a == "-") print "-"; else print 1.25 * a }')")"
trow "acks=-1 @20k/s p99 <= mock p99 + fsync p99" "$(fmt "$s_all99" %.0f) us" \
	"$(fmt "$m_all99" %.0f) + $(fmt "$fio99" %.0f) us" "$(div "$s_all99" "$lim_all" %.2f)" \
	"$(verdict "$s_all99" le "$lim_all")"
trow "e2e acks=1 @20k/s p99 < 1 ms" "$(fmt "$s_e2e99" %.0f) us" "1000 us" \
	"$(div "$s_e2e99" 1000 %.2f)" "$(verdict "$s_e2e99" lt 1000)"
trow "  (e2e p50 / p99.9)" "$(fmt "$s_e2e50" %.0f) / $(fmt "$s_e2e999" %.0f) us" "" "" ""
trow "consume MB/s >= 0.8 x sendfile ($CONSUME_MB MiB)" "$(fmt "$s_cmb" %.0f) MB/s" "sendfile $(fmt "$sf_mb" %.0f) MB/s" \
	"$(div "$s_cmb" "$sf_mb" %.2f)" "$(verdict "$(div "$s_cmb" "$sf_mb" %.4f)" ge 0.8)"
trow "consume rec/s >= 1.2 x mock ($C4 records)" "$(fmt "$s_crps" %.0f)" "mock $(fmt "$m_crps" %.0f)" \
	"$(div "$s_crps" "$m_crps" %.2f)" "$(verdict "$(div "$s_crps" "$m_crps" %.4f)" ge 1.2)"
s_sfmb=$(kv "$SLF-sf-consume.txt" mb_per_s)
s_sfrps=$(kv "$SLF-sf-consume4.txt" rec_per_s)
trow "  (same two, fetch.send.mode sendfile)" "$(fmt "$s_sfmb" %.0f) MB/s, $(fmt "$s_sfrps" %.0f)" \
	"" "$(div "$s_sfmb" "$sf_mb" %.2f), $(div "$s_sfrps" "$m_crps" %.2f)" ""
trow "  (read-back from disk, lagging consumer)" "$(fmt "$s_rbmb" %.0f) MB/s" "sendfile $(fmt "$sf_mb" %.0f) MB/s" \
	"$(div "$s_rbmb" "$sf_mb" %.2f)" ""
trow "idle RSS, 100 partitions <= 16 MiB" "$rss_mib MiB" "16 MiB" "$(div "$rss_mib" 16 %.2f)" \
	"$(verdict "$rss_mib" le 16)"
trow "produce syscalls / record (< 0.1)" "$sc_p" "per-batch only" "" "$(verdict "$sc_p" lt 0.1)"
trow "fetch syscalls / record (< 0.1)" "$sc_c" "per-batch only" "" "$(verdict "$sc_c" lt 0.1)"
trow "produce heap allocations / record (< 0.01)" "$al_p" "none per record" "" \
	"$(verdict "$al_p" lt 0.01)"
trow "fetch heap allocations / record (< 0.01)" "$al_c" "none per record" "" \
	"$(verdict "$al_c" lt 0.01)"
echo "(fsync p99 is the larger of fio's 4 KiB and 16 KiB write+fdatasync p99; counts from"
echo " $NCOUNT-record runs, strace -c over every broker thread, malloc_count LD_PRELOAD shim;"
echo " top syscalls in $OUT/strace-serpentlog-*.log)"
for f in "$OUT"/{mock,serpentlog,serpentlog-sf}-{produce,acksall,e2e,consume,consume4,readback}.txt; do
	[ -f "$f" ] || continue
	if grep -q 'error' "$f"; then
		echo "note: $(basename "$f"): $(grep -m1 'error' "$f")"
	fi
done
