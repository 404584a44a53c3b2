"""group_bench: the consumer-group targets of issue 5, measured on a live serpentlog.

Usage: group_bench.py SERPENTLOG [--quick] [--cores N] [--commits N] [--partitions N]
                      [--rebalances N] [--fio-seconds S] [--no-strace]
Runs one serpentlog (group.initial.rebalance.delay.ms at Kafka's 3000 ms) on a
fresh data dir and measures, in the same run:
  1. Rebalance of a 6-partition group when a third member joins:
     - protocol floor: raw JoinGroup/SyncGroup (tests/integration/groupwire.py);
       the two members rejoin as soon as the third has sent its JoinGroup, so
       the time is the broker's alone (round trips + the fsync of the group
       record), from the third member's first JoinGroup to the last SyncGroup
       answer;
     - librdkafka (confluent-kafka, range, heartbeat.interval.ms=500): from the
       third consumer's subscribe() to all three owning 2 partitions. Members
       learn of a rebalance from their next heartbeat, so the clients' round
       trip is bounded by one heartbeat interval plus the protocol floor;
     - the initial rebalance of an empty group for comparison (it waits
       group.initial.rebalance.delay.ms; a join into a Stable group does not).
  2. OffsetCommit v7 of 1,000 partitions (one topic), answered only once the
     records are fdatasynced: latency p50/p99 over --commits requests, one at
     a time, beside the same for 1 partition (what is sync, not per-partition
     work), fio's write+fdatasync p50/p99 (4 KiB and 64 KiB, about the size of
     one commit's batch, as compare.sh runs it, and 64 KiB appended to a
     growing file as the log is) in the same directory, and the broker's
     fdatasync calls per commit during a separate pass under strace -c.
Ends with RESULT key=value lines. Use a Release (no sanitizer) serpentlog.
"""

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import harness  # noqa: E402
from harness import check, log  # noqa: E402
import groupwire as gw  # noqa: E402

PARTS = 6
TOPIC = "gbench-6"
CTOPIC = "gbench-commit"
CLIENT_SETUP_S = 0.1  # a new librdkafka consumer's connect + Metadata + FindCoordinator


def pct(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def ms(x):
    return "%.2f" % (x * 1e3)


# ---- 1. rebalance ---------------------------------------------------------------------

def sub():
    return [("range", gw.subscription([TOPIC]))]


def raw_rebalance(boot, rounds):
    """Protocol floor: seconds from the third member's first JoinGroup to the
    last SyncGroup answer, `rounds` times (the third leaves between rounds)."""
    group = "gbench-raw"
    a, b, c = (gw.GroupConn(boot, timeout=30) for _ in range(3))
    ja = a.join_new(group, protocols=sub(), session_ms=30000)
    check(ja["error"] == 0, "first member: %r" % (ja,))
    err, _ = a.sync(group, ja["generation"], ja["member"],
                    [(ja["member"], gw.assignment({TOPIC: list(range(PARTS))}))])
    check(err == 0, "first sync %d" % err)
    ids = {"a": ja["member"]}
    gen = ja["generation"]

    def rejoin_all(conns, new=None):
        """Every member in conns rejoins (new: (name, conn) joining fresh)."""
        nonlocal gen
        if new:
            name, conn = new
            first = conn.join(group, protocols=sub(), session_ms=30000)
            check(first["error"] == gw.MEMBER_ID_REQUIRED, "new member %r" % (first,))
            ids[name] = first["member"]
            conn.send_join(group, member=ids[name], protocols=sub(), session_ms=30000)
        for name, conn in conns:
            e = conn.heartbeat(group, gen, ids[name])
            check(e in (0, gw.REBALANCE_IN_PROGRESS), "heartbeat %d" % e)
            conn.send_join(group, member=ids[name], protocols=sub(), session_ms=30000)
        everyone = list(conns) + ([new] if new else [])
        answers = {name: conn.recv_join() for name, conn in everyone}
        for name, j in answers.items():
            check(j["error"] == 0, "%s rejoin %r" % (name, j))
        gen = answers[everyone[0][0]]["generation"]
        leader = answers[everyone[0][0]]["leader"]
        names = sorted(ids[n] for n, _ in everyone)
        split = {m: [p for p in range(PARTS) if p * len(names) // PARTS == i]
                 for i, m in enumerate(names)}
        lead = [(n, k) for n, k in everyone if ids[n] == leader][0]
        rest = [(n, k) for n, k in everyone if ids[n] != leader]
        for n, k in rest:  # followers park their SyncGroup first
            k.send(14, 3, harness.string(group) + harness.i32(gen) + harness.string(ids[n]) +
                   harness.string(None) + harness.array([]))
        err, _ = lead[1].sync(group, gen, leader,
                              [(m, gw.assignment({TOPIC: p})) for m, p in split.items()])
        check(err == 0, "leader sync %d" % err)
        for n, k in rest:
            r = harness.Reader(k.recv_frame())
            r.i32()
            r.i32()
            check(r.i16() == 0, "follower sync failed")

    rejoin_all([("a", a)], new=("b", b))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        rejoin_all([("a", a), ("b", b)], new=("c", c))
        times.append(time.perf_counter() - t0)
        err, _per = c.leave(group, [ids.pop("c")])
        check(err == 0, "leave %d" % err)
        rejoin_all([("a", a), ("b", b)])
    for k in (a, b, c):
        k.close()
    return times


def rdk_consumer(boot, group, hb_ms):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": boot, "group.id": group,
                  "partition.assignment.strategy": "range", "session.timeout.ms": 10000,
                  "heartbeat.interval.ms": hb_ms, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    c.subscribe([TOPIC])
    return c


def settled(cs, each):
    for c in cs:
        c.poll(0.005)
    a = [sorted(tp.partition for tp in c.assignment()) for c in cs]
    return sorted(p for x in a for p in x) == list(range(PARTS)) and \
        all(len(x) == each for x in a)


def wait_settled(cs, each, timeout=60):
    deadline = time.time() + timeout
    while not settled(cs, each):
        check(time.time() < deadline, "librdkafka group did not settle")


def rdk_rebalance(boot, rounds, hb_ms):
    """(initial formation of 2 members, [third member join times]) in seconds."""
    group = "gbench-rdk"
    t0 = time.perf_counter()
    cs = [rdk_consumer(boot, group, hb_ms), rdk_consumer(boot, group, hb_ms)]
    wait_settled(cs, 3)
    initial = time.perf_counter() - t0
    times = []
    rnd = random.Random(5)
    for _ in range(rounds):
        # a random phase against the members' heartbeats, which are in step
        # since the last rebalance
        deadline = time.time() + 0.5 + rnd.random() * hb_ms / 1e3
        while time.time() < deadline:
            for c in cs:
                c.poll(0.01)
        t0 = time.perf_counter()
        cs.append(rdk_consumer(boot, group, hb_ms))
        wait_settled(cs, 2)
        times.append(time.perf_counter() - t0)
        cs.pop().close()
        wait_settled(cs, 3)
    for c in cs:
        c.close()
    return initial, times


# ---- 2. OffsetCommit of 1,000 partitions ----------------------------------------------

def commit_body(group, nparts, base):
    parts = b"".join(harness.i32(p) + harness.i64(base + p) + harness.i32(-1) +
                     harness.string(None) for p in range(nparts))
    return (harness.string(group) + harness.i32(-1) + harness.string("") +
            harness.string(None) + harness.i32(1) + harness.string(CTOPIC) +
            harness.i32(nparts) + parts)


def commit_once(conn, group, nparts, base):
    body = commit_body(group, nparts, base)
    t0 = time.perf_counter()
    r = conn.call(8, 7, body)
    dt = time.perf_counter() - t0
    r.i32()
    topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
    errs = [e for _t, ps in topics for _p, e in ps if e]
    check(not errs and sum(len(ps) for _t, ps in topics) == nparts,
          "commit errors %r" % errs[:5])
    return dt


WARMUP = 20


def commits(boot, nparts, n, group="gbench-commit"):
    conn = gw.GroupConn(boot, timeout=30)
    conn.find_coordinator(group)
    for i in range(WARMUP):
        commit_once(conn, group, nparts, i * nparts)
    lat = [commit_once(conn, group, nparts, (WARMUP + i) * nparts) for i in range(n)]
    conn.close()
    return lat


def strace_syncs(boot, pid, nparts, n):
    """fdatasync/fsync calls of the broker per commit (n commits + the warm-up),
    under strace -c."""
    if not shutil.which("strace"):
        return None
    out = tempfile.mktemp(prefix="sl-gbench-strace-")
    st = subprocess.Popen(["strace", "-f", "-c", "-e", "trace=fdatasync,fsync", "-o", out,
                           "-p", str(pid)], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    commits(boot, nparts, n, group="gbench-strace")
    st.send_signal(signal.SIGINT)
    st.wait(30)
    calls = 0
    with open(out) as f:
        for line in f:
            w = line.split()
            if w and w[-1] in ("fdatasync", "fsync") and len(w) >= 4:
                calls += int(w[3])
    os.unlink(out)
    return calls / float(n + WARMUP)


def fio(directory, bs, seconds, append=False):
    """write+fdatasync p50/p99 (s). Default: compare.sh's, a 64 MiB file that
    the run wraps around, so most writes overwrite allocated blocks; append: a
    1 GiB file preallocated with FALLOC_FL_KEEP_SIZE as the broker's segments
    are, written once front to back, so every fdatasync also commits the new
    file size (an ext4 journal commit, shared with every other writer)."""
    size = ["--size=1g", "--fallocate=keep"] if append else ["--size=64m"]
    if not shutil.which("fio"):
        return None
    r = subprocess.run(["fio", "--name=gbench-" + bs, "--directory=" + directory, "--rw=write",
                        "--bs=" + bs, "--fdatasync=1", "--runtime=%d" % seconds,
                        "--time_based", "--output-format=json"] + size,
                       capture_output=True, text=True)
    for f in os.listdir(directory):
        if f.startswith("gbench-"):
            os.unlink(os.path.join(directory, f))
    if r.returncode != 0:
        return None
    p = json.loads(r.stdout)["jobs"][0]["sync"]["lat_ns"]["percentile"]
    return p["50.000000"] / 1e9, p["99.000000"] / 1e9


def cpu_s(pid):
    """utime + stime of a process, all threads, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        w = f.read().rsplit(")", 1)[1].split()
    return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("serpentlog")
    ap.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=1000)
    ap.add_argument("--rebalances", type=int, default=10)
    ap.add_argument("--fio-seconds", type=int, default=3)
    ap.add_argument("--no-strace", action="store_true")
    o = ap.parse_args()
    if o.quick:
        o.commits, o.partitions, o.rebalances, o.fio_seconds = 20, 50, 2, 1
    hb_ms = 500
    delay_ms = 3000
    broker = harness.Broker(o.serpentlog, cores=o.cores, extra_args=[
        "--set", "group.initial.rebalance.delay.ms=%d" % delay_ms])
    try:
        broker.start()
        boot = broker.bootstrap
        load0 = loadavg()
        c = gw.GroupConn(boot, timeout=60)
        res = c.create_topics([(TOPIC, PARTS), (CTOPIC, o.partitions)], timeout_ms=60000)
        check(all(e == 0 for e, _m in res.values()), "create topics %r" % (res,))
        c.find_coordinator("gbench")
        c.close()
        log("rebalance, protocol floor (%d rounds)" % o.rebalances)
        raw = raw_rebalance(boot, o.rebalances)
        log("rebalance, librdkafka (%d rounds)" % o.rebalances)
        initial, rdk = rdk_rebalance(boot, o.rebalances, hb_ms)
        log("OffsetCommit of %d partitions x %d" % (o.partitions, o.commits))
        cpu0 = cpu_s(broker.proc.pid)
        lat = commits(boot, o.partitions, o.commits)
        cpu_commit = (cpu_s(broker.proc.pid) - cpu0) / (o.commits + WARMUP)
        log("OffsetCommit of 1 partition x %d" % o.commits)
        cpu0 = cpu_s(broker.proc.pid)
        lat1 = commits(boot, 1, o.commits, group="gbench-commit1")
        cpu_commit1 = (cpu_s(broker.proc.pid) - cpu0) / (o.commits + WARMUP)
        syncs = None if o.no_strace else strace_syncs(boot, broker.proc.pid, o.partitions,
                                                      min(100, o.commits))
        log("fio write + fdatasync")
        f4 = fio(broker.tmp, "4k", o.fio_seconds)
        f64 = fio(broker.tmp, "64k", o.fio_seconds)
        f64a = fio(broker.tmp, "64k", o.fio_seconds, append=True)
        load1 = loadavg()
        broker.stop()
    finally:
        broker.close()

    # the clients' round trip: existing members hear of the rebalance at their
    # next heartbeat, then JoinGroup + SyncGroup (the floor); the new consumer
    # first connects, reads Metadata and finds the coordinator (allowance 100 ms)
    bound = hb_ms / 1e3 + max(raw) + CLIENT_SETUP_S
    print()
    print("group_bench: %s, %d cores, load average %s before / %s after" %
          (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), o.cores, load0, load1))
    print("rebalance when a 3rd member joins a 6-partition group (s -> ms):")
    print("  protocol floor (raw frames)  median %s  max %s ms  (%d rounds)" %
          (ms(statistics.median(raw)), ms(max(raw)), len(raw)))
    print("  librdkafka, heartbeat %d ms   median %s  max %s ms  (bound: heartbeat + floor max "
          "+ %d ms client setup = %s ms)" % (hb_ms, ms(statistics.median(rdk)), ms(max(rdk)),
                                             CLIENT_SETUP_S * 1e3, ms(bound)))
    print("  initial 2-member formation   %s ms  (group.initial.rebalance.delay.ms=%d)" %
          (ms(initial), delay_ms))
    print("OffsetCommit of %d partitions, durable answer, %d requests one at a time:" %
          (o.partitions, len(lat)))
    print("  p50 %s  p90 %s  p99 %s  max %s ms" % (ms(pct(lat, .5)), ms(pct(lat, .9)),
                                                   ms(pct(lat, .99)), ms(max(lat))))
    print("  (1 partition:  p50 %s  p90 %s  p99 %s  max %s ms)" % (
        ms(pct(lat1, .5)), ms(pct(lat1, .9)), ms(pct(lat1, .99)), ms(max(lat1))))
    print("  broker CPU per commit: %s ms (1,000 partitions), %s ms (1 partition)" %
          (ms(cpu_commit), ms(cpu_commit1)))
    for name, f in (("4 KiB", f4), ("64 KiB", f64), ("64 KiB appended", f64a)):
        if f:
            print("  fio write %-15s + fdatasync  p50 %s  p99 %s ms" % (name, ms(f[0]),
                                                                      ms(f[1])))
    if syncs is not None:
        print("  broker fdatasync/fsync calls per commit (strace -c, %d commits): %.2f" %
              (min(100, o.commits) + WARMUP, syncs))
    print("RESULT rebalance_raw_median_ms=%s rebalance_raw_max_ms=%s rebalance_rdk_median_ms=%s "
          "rebalance_rdk_max_ms=%s heartbeat_ms=%d initial_ms=%s initial_delay_ms=%d" %
          (ms(statistics.median(raw)), ms(max(raw)), ms(statistics.median(rdk)), ms(max(rdk)),
           hb_ms, ms(initial), delay_ms))
    print("RESULT commit_partitions=%d commits=%d commit_p50_ms=%s commit_p99_ms=%s "
          "commit1_p50_ms=%s commit1_p99_ms=%s fio4k_p99_ms=%s fio64k_p99_ms=%s "
          "fio64k_append_p99_ms=%s "
          "syncs_per_commit=%s cpu_ms_per_commit=%s load=%s" %
          (o.partitions, len(lat), ms(pct(lat, .5)), ms(pct(lat, .99)), ms(pct(lat1, .5)),
           ms(pct(lat1, .99)), ms(f4[1]) if f4 else "-", ms(f64[1]) if f64 else "-",
           ms(f64a[1]) if f64a else "-",
           "%.2f" % syncs if syncs is not None else "-", ms(cpu_commit), load1))
    ok = max(rdk) <= bound
    print("RESULT rebalance_within_heartbeat_plus_floor=%s commit_p99_under_5ms=%s" %
          ("yes" if ok else "no", "yes" if pct(lat, .99) < 0.005 else "no"))


if __name__ == "__main__":
    main()
