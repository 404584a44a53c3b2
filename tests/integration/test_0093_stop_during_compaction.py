"""0093: SIGTERM and kill -9 while the cleaner is rewriting a compacted topic.

Usage: test_0093_stop_during_compaction.py SERPENTLOG [RECORDS]
A two-shard broker gets a topic with cleanup.policy=compact, 16 KiB segments
(a cleaning writes and fdatasyncs one output per segment, so it lasts a
couple of seconds), min.cleanable.dirty.ratio 0.01 and segment.ms 1 s;
confluent-kafka writes RECORDS (600,000) lz4-compressed records over 4,000
keys with acks=all. The cleaner looks at a partition when the broker starts,
so each round restarts the broker and waits for the cleaner's output:
1. while an acks=all producer streams further versions (1a), then without
   it (1b), SIGTERM as soon as the cleaning's thread exists (or a
   `*.log.cleaned` file): exit 0 within 5 s, without the shutdown barrier's
   timeout (the running cleaning is cancelled at the partition's close, or
   swapped in there when it ended first: both happen, the log says which);
2. at the next cleaning's first `.cleaned`, kill -9;
3. the same, 0.15 s later (many outputs written, none swapped);
4. at the first `.log.swap` (the swap on the shard, when it can be caught),
   kill -9;
5. the cleaning runs to its end; SIGTERM; no `.cleaned`/`.swap` left.
After every stop `serpentlog verify` passes on the data dir (it reads a
directory with leftovers the way the next open leaves it). After the
restarts, while and after the cleaning runs, the partition holds every key's
latest value at its offset, every other record only with its produced key and
value, and nothing that no later record of its key superseded; the finished
cleaning removed most records and a last restart serves the same ones.
"""

import array
import gc
import os
import subprocess
import sys
import threading
import time

import harness
from harness import check, log

PARTS = 1
KEYS = 4000
SEGMENT = 16 << 10  # many outputs: each is written and fdatasync'd, so a cleaning lasts
STOP_WITHIN = 5.0  # seconds from SIGTERM to exit
FILL = bytes(range(32, 127)) * 4


def key(k):
    return b"key-%06d" % k


def value(k, ver):
    head = b"%d:%d:" % (k, ver)
    n = 40 + (k * 7 + ver) % 60
    s = (k + ver) % 64
    return head + FILL[s:s + n]


class Produced:
    """Per partition, for each offset: the key index and version written there."""

    def __init__(self):
        self.k = [array.array("i") for _ in range(PARTS)]
        self.v = [array.array("i") for _ in range(PARTS)]

    def put(self, p, off, k, ver):
        ka, va = self.k[p], self.v[p]
        while len(ka) <= off:
            ka.append(-1)
            va.append(-1)
        ka[off] = k
        va[off] = ver

    def count(self):
        return sum(len(a) - a.count(-1) for a in self.k)


def produce(bootstrap, topic, records, produced, start=0):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20,
                  "batch.size": min(60000, SEGMENT - 1024), "compression.type": "lz4",
                  "queue.buffering.max.messages": 500000, "enable.idempotence": False,
                  "max.in.flight.requests.per.connection": 5, "message.timeout.ms": 120000})
    errors = []

    def dr(err, msg):
        if err is not None:
            errors.append(str(err))
            return
        k, ver = (int(x) for x in msg.value().split(b":", 2)[:2])
        produced.put(msg.partition(), msg.offset(), k, ver)

    before = produced.count()
    for i in range(start, start + records):
        k = (i * 7919) % KEYS
        ver = i // KEYS
        while True:
            try:
                p.produce(topic, key=key(k), value=value(k, ver), partition=k % PARTS,
                          on_delivery=dr)
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(120)
    check(left == 0 and not errors, "%d unflushed, errors %r" % (left, errors[:3]))
    check(produced.count() - before == records, "%d of %d acknowledged" %
          (produced.count() - before, records))
    for pa in range(PARTS):
        check(start > 0 or -1 not in produced.k[pa], "p%d: an offset was never acknowledged"
              % pa)


class Stream(threading.Thread):
    """acks=all producer of further versions while the broker is stopped: its
    acknowledgements go into produced (an offset whose ack never came stays
    unknown there)."""

    def __init__(self, bootstrap, topic, produced, start):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.produced, self.i = bootstrap, topic, produced, start
        self.stop_ev = threading.Event()
        self.acked = 0

    def run(self):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 5,
                      "batch.size": min(60000, SEGMENT - 1024), "compression.type": "lz4",
                      "enable.idempotence": False, "retries": 0,
                      "max.in.flight.requests.per.connection": 5, "message.timeout.ms": 5000})

        def dr(err, msg):
            if err is None:
                k, ver = (int(x) for x in msg.value().split(b":", 2)[:2])
                self.produced.put(msg.partition(), msg.offset(), k, ver)
                self.acked += 1

        while not self.stop_ev.is_set():
            k = (self.i * 7919) % KEYS
            ver = self.i // KEYS
            try:
                p.produce(self.topic, key=key(k), value=value(k, ver), partition=k % PARTS,
                          on_delivery=dr)
                self.i += 1
            except BufferError:
                pass
            p.poll(0.0005 if self.i % 100 else 0.002)
        # The broker has exited: no ack can come any more.
        p.purge()
        p.flush(1)


def consume(bootstrap, topic):
    """{partition: {offset: (key, value)}} of everything stored."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sl-0093", "enable.auto.commit":
                  False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTS)])
    hw = {}
    for p in range(PARTS):
        hw[p] = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
    out = {p: {} for p in range(PARTS)}
    done = set(p for p in range(PARTS) if hw[p] == 0)
    deadline = time.time() + 120
    try:
        while len(done) < PARTS:
            check(time.time() < deadline, "consume did not reach the end in 120 s")
            for m in c.consume(1000, 1.0):
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        done.add(m.partition())
                        continue
                    raise harness.TestFailure("consume: %s" % m.error())
                out[m.partition()][m.offset()] = (m.key(), m.value())
                if m.offset() + 1 >= hw[m.partition()]:
                    done.add(m.partition())
    finally:
        c.close()
    return out


def parse(v):
    k, ver = (int(x) for x in v.split(b":", 2)[:2])
    return k, ver


def check_log(bootstrap, topic, produced, label):
    """Every present record is one that was produced (at its acknowledged
    offset, or self-consistent when its ack never came); an acknowledged
    record may be missing only when a later record of its key is there."""
    seen = consume(bootstrap, topic)
    kept = unacked = 0
    for p in range(PARTS):
        ks, vs, got = produced.k[p], produced.v[p], seen[p]
        last = {}
        for off in range(len(ks)):
            if ks[off] >= 0:
                last[ks[off]] = off
        for off, (k, v) in sorted(got.items()):
            if off < len(ks) and ks[off] >= 0:
                check(k == key(ks[off]) and v == value(ks[off], vs[off]),
                      "%s: p%d o%d holds %r, produced %r" % (label, p, off, k, key(ks[off])))
                kk = ks[off]
            else:
                kk, ver = parse(v)
                check(k == key(kk) and v == value(kk, ver) and kk % PARTS == p,
                      "%s: p%d o%d holds %r=%r, never produced" % (label, p, off, k, v[:20]))
                unacked += 1
            last[kk] = max(last.get(kk, -1), off)
        for off in range(len(ks)):
            if ks[off] >= 0 and off not in got:
                check(last[ks[off]] > off, "%s: p%d: latest value of %r (offset %d) is gone" %
                      (label, p, key(ks[off]), off))
        kept += len(got)
    log("%s: %d of %d records stored (%d without an ack); every key's latest value there, "
        "nothing unsuperseded lost" % (label, kept, produced.count(), unacked))
    return kept


def part_dirs(broker, topic):
    return [os.path.join(broker.data_dir, "%s-%d" % (topic, p)) for p in range(PARTS)]


def leftovers(broker, topic):
    out = []
    for d in part_dirs(broker, topic):
        out += [n for n in os.listdir(d) if n.endswith((".cleaned", ".swap"))]
    return out


def log_bytes(broker, topic):
    total = 0
    for d in part_dirs(broker, topic):
        for n in os.listdir(d):
            if n.endswith(".log"):
                try:
                    total += os.path.getsize(os.path.join(d, n))
                except OSError:
                    pass
    return total


def summary(names):
    by = {}
    for n in names:
        ext = n.split(".", 1)[1]
        by[ext] = by.get(ext, 0) + 1
    return ", ".join("%d %s" % (c, e) for e, c in sorted(by.items())) or "nothing"


def threads(broker):
    return len(os.listdir("/proc/%d/task" % broker.proc.pid))


def wait_cleaning(broker, topic, timeout, suffix=".log.cleaned", base_threads=None):
    """Until a `.log.cleaned` exists (the cleaner is writing its output), or
    with suffix ".log.swap" a swap is under way (None if the cleaning ended
    without one being seen). With base_threads, also returns "thread" as soon
    as the broker has one more thread (the cleaning's: it starts with the
    offset map, before any file is written)."""
    deadline = time.time() + timeout
    logs = broker._log_path()
    while time.time() < deadline:
        for d in part_dirs(broker, topic):
            try:
                names = os.listdir(d)
            except OSError:
                continue
            hit = [n for n in names if n.endswith(suffix)]
            if hit:
                return os.path.join(d, hit[0])
        check(broker.alive(), "broker died:\n" + broker.log_tail())
        if base_threads is not None and threads(broker) > base_threads:
            return "thread"
        if suffix == ".log.swap":
            with open(logs, "rb") as lf:
                if b"compacted offsets" in lf.read():
                    return None
        time.sleep(0.005 if suffix == ".log.swap" else 0.02)
    if suffix == ".log.swap":
        return None  # nothing left to clean (an earlier kill came after the commit)
    raise harness.TestFailure("no %s within %d s\n%s" % (suffix, timeout, broker.log_tail()))


def verify(exe, broker, label):
    out = subprocess.run([exe, "verify", broker.data_dir], capture_output=True, text=True,
                         timeout=120)
    check(out.returncode == 0, "%s: serpentlog verify failed:\n%s%s" %
          (label, out.stdout[-3000:], out.stderr[-3000:]))


def sigterm(broker):
    t0 = time.time()
    broker.stop(timeout=STOP_WITHIN)
    return time.time() - t0


def main(exe, args):
    records = int(args[0]) if args else 600000
    from confluent_kafka.admin import AdminClient, NewTopic
    broker = harness.Broker(exe, cores=2)
    topic = "compact-stop"
    produced = Produced()
    try:
        broker.start()
        a = AdminClient({"bootstrap.servers": broker.bootstrap})
        cfg = {"cleanup.policy": "compact", "segment.bytes": str(SEGMENT), "segment.ms": "1000",
               "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1000",
               "min.compaction.lag.ms": "0"}
        for f in a.create_topics([NewTopic(topic, PARTS, 1, config=cfg)],
                                 operation_timeout=30).values():
            f.result(30)
        # No idle client connection left: a stop then drains at once (an idle
        # connection delays the drain by up to a maintenance tick).
        del a, f
        gc.collect()
        t0 = time.time()
        produce(broker.bootstrap, topic, records, produced)
        log("produced %d records over %d keys in %.1f s" % (records, KEYS, time.time() - t0))

        # The cleaner looks at a partition when the broker starts, then once
        # per backoff (15 s): a restart starts the cleaning at once.
        broker.stop()
        broker.start()
        # 1a. SIGTERM as the cleaning starts, while an acks=all producer
        # writes; 1b. the same without the producer (a quicker close).
        nxt = records
        for rnd, streaming in (("1a", True), ("1b", False)):
            base = threads(broker)
            stream = Stream(broker.bootstrap, topic, produced, nxt)
            if streaming:
                stream.start()
                deadline = time.time() + 15
                while stream.acked == 0 and time.time() < deadline:
                    time.sleep(0.002)
            f = wait_cleaning(broker, topic, 30, base_threads=base)
            took = sigterm(broker)
            if streaming:
                stream.stop_ev.set()
                stream.join(30)
                check(stream.acked > 0, "round 1a: no record acknowledged while the cleaner ran")
                nxt = stream.i
            with open(os.path.join(broker.tmp, "broker-%d.log" % broker.starts), "rb") as lf:
                text = lf.read()
            check(b"shutdown barrier" not in text, "round %s: the stop needed the barrier's "
                  "timeout" % rnd)
            # The cleaner stops at the partition's close: a cleaning that
            # ended before it (the drain of a producer's connection, a loaded
            # machine) is swapped in there.
            finished = b"compacted offsets" in text
            log("round %s: SIGTERM at %s: exit 0 after %.2f s, the cleaning %s; %d records acked "
                "meanwhile" % (rnd, os.path.basename(f), took,
                               "finished at the close" if finished else "cancelled",
                               stream.acked))
            verify(exe, broker, "round %s" % rnd)
            broker.start()
            if finished:
                # More versions of every key: the next start has cleaning to do.
                produce(broker.bootstrap, topic, records // 2, produced, start=nxt)
                nxt += records // 2
                broker.stop()
                broker.start()
        broker.stop()
        # 2., 3. kill -9 at the next cleaning's output, then a little later.
        for rnd, delay in ((2, 0.0), (3, 0.15)):
            broker.start()
            f = wait_cleaning(broker, topic, 30)
            time.sleep(delay)
            broker.kill9()
            log("round %d: kill -9 %.2f s after %s appeared; left: %s" %
                (rnd, delay, os.path.basename(f), summary(leftovers(broker, topic))))
            verify(exe, broker, "round %d" % rnd)
        # 4. kill -9 during the swap (a `.log.swap` exists), when it can be
        # caught (the swap runs on the shard, between two of its ticks).
        broker.start()
        full = log_bytes(broker, topic)
        f = wait_cleaning(broker, topic, 20, ".log.swap")
        if f:
            broker.kill9()
            log("round 4: kill -9 during the swap; left: %s" %
                summary(leftovers(broker, topic)))
            verify(exe, broker, "round 4")
            broker.start()
            # Open finished the committed swap before the broker reported
            # ready (a new swap needs a whole new cleaning first).
            deadline = time.time() + 30
            while time.time() < deadline:
                with open(broker._log_path(), "rb") as lf:
                    if b"serpentlog ready" in lf.read():
                        break
                time.sleep(0.01)
            swaps = [n for n in leftovers(broker, topic) if n.endswith(".swap")]
            check(not swaps, "round 4: open left %s" % summary(swaps))
        else:
            log("round 4: no swap seen (the cleaning ended first, or had nothing to do)")
        # 5. the restart serves what it must while the cleaning runs to its end.
        check_log(broker.bootstrap, topic, produced, "after kill -9")
        deadline = time.time() + 40
        while log_bytes(broker, topic) > full // 4 and time.time() < deadline:
            time.sleep(0.2)
        kept = check_log(broker.bootstrap, topic, produced, "after a whole cleaning")
        total = produced.count()
        check(kept < total // 4, "only %d of %d records removed: not compacted\n%s" %
              (total - kept, total, broker.log_tail()))
        sigterm(broker)
        check(not leftovers(broker, topic), "leftovers after a clean stop: %r" %
              leftovers(broker, topic))
        verify(exe, broker, "round 5")
        broker.start()
        again = check_log(broker.bootstrap, topic, produced, "after the last restart")
        check(again == kept, "the restart serves %d records, before it %d" % (again, kept))
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    harness.run_test(main)
