"""0091: write-behind / drop-behind with many partitions, every record checked.

Usage: test_0091_cache_many_partitions.py SERPENTLOG [PARTITIONS]
A broker with two shards, log.page.cache.retain.bytes 1 MiB and 1 MiB
segments gets a PARTITIONS-partition topic (200 by default). confluent-kafka
writes 16 KiB records to every partition, first with acks=1 until each one is
past the 8 MiB write-behind trigger, then with acks=all. Then:
- every partition has rolled segments, and its old segments have left the
  page cache (fincore) while the broker ran: drop-behind happened per
  partition, not only on some;
- the broker's RSS and open fds stayed bounded while it wrote and served
  (fds: one per segment plus a constant; RSS under a fixed cap);
- a consumer of all partitions reads every record back: content, order,
  offsets 0..n-1 without holes;
- an acks=all stream to every partition is cut by kill -9 half way;
  `serpentlog verify` passes on the data dir; after a restart every partition
  holds everything written before plus every acknowledged record of the
  stream, offsets without holes, content right (a record whose ack never came
  may be there too); a SIGTERM stop and a second verify end the test.
"""

import hashlib
import os
import subprocess
import sys
import threading
import time

import harness
from harness import check, log

VALUE = 16 << 10
SEGMENT = 1 << 20
RETAIN = 1 << 20
TRIGGER = 8 << 20  # the broker's write-behind step (storage: writeback_bytes)
PER_PART_ACKS1 = TRIGGER // VALUE + 24  # past the trigger with room to spare
PER_PART_ACKSALL = 16
PER_PART_KILL = 8  # acks=all records per partition in the stream cut by kill -9
FD_SLACK = 256
RSS_CAP = 512 << 20  # ASan included (peak ~60 MiB here); far below the 1.7 GB written


def value(p, i):
    d = hashlib.blake2b(b"%d/%d" % (p, i), digest_size=32).digest()
    head = b"p%03d-i%05d|" % (p, i)
    return head + d * ((VALUE - len(head)) // 32) + d[:(VALUE - len(head)) % 32]


def key(p, i):
    return b"k%03d-%05d" % (p, i)


class Sampler(threading.Thread):
    """Samples the broker's VmRSS and open fds every 0.25 s."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop_ev = threading.Event()
        self.max_rss = 0
        self.max_fds = 0

    def run(self):
        while not self.stop_ev.is_set():
            try:
                with open("/proc/%d/status" % self.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.max_rss = max(self.max_rss, int(line.split()[1]) * 1024)
                self.max_fds = max(self.max_fds, len(os.listdir("/proc/%d/fd" % self.pid)))
            except OSError:
                return
            self.stop_ev.wait(0.25)

    def stop(self):
        self.stop_ev.set()
        self.join()


def produce(bootstrap, topic, parts, start, count, acks):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5,
                  "batch.size": 256 << 10, "queue.buffering.max.kbytes": 256 << 10,
                  "compression.type": "none", "enable.idempotence": False,
                  "max.in.flight.requests.per.connection": 1,
                  "message.timeout.ms": 120000})
    acked = {}
    errors = []

    def dr(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked[(msg.partition(), int(msg.key()[5:]))] = msg.offset()

    for i in range(start, start + count):
        for part in range(parts):
            while True:
                try:
                    p.produce(topic, key=key(part, i), value=value(part, i), partition=part,
                              on_delivery=dr)
                    break
                except BufferError:
                    p.poll(0.05)
        p.poll(0)
    left = p.flush(120)
    check(left == 0 and not errors, "acks=%s: %d unflushed, errors %r" % (acks, left, errors[:3]))
    check(len(acked) == parts * count, "acks=%s: %d of %d acknowledged" %
          (acks, len(acked), parts * count))
    return acked


def produce_until_kill(broker, topic, parts, start, count, kill_after):
    """acks=all records start.. to every partition; kill -9 once kill_after
    acks came. Returns each partition's first index not acknowledged."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 2,
                  "compression.type": "none", "enable.idempotence": False, "retries": 0,
                  "max.in.flight.requests.per.connection": 1, "message.timeout.ms": 10000})
    acked = [start] * parts
    n = [0]

    def dr(err, msg):
        if err is None:
            i = int(msg.key()[5:])
            check(msg.offset() == i, "acks=all: p%d record %d acked at offset %d" %
                  (msg.partition(), i, msg.offset()))
            acked[msg.partition()] = max(acked[msg.partition()], i + 1)
            n[0] += 1

    for i in range(start, start + count):
        for part in range(parts):
            while True:
                try:
                    p.produce(topic, key=key(part, i), value=value(part, i), partition=part,
                              on_delivery=dr)
                    break
                except BufferError:
                    p.poll(0.01)
            p.poll(0)
            if n[0] >= kill_after and broker.alive():
                broker.kill9()
    deadline = time.time() + 120
    while n[0] < kill_after and broker.alive():
        check(time.time() < deadline, "acks=all: only %d acknowledgements in 120 s" % n[0])
        p.poll(0.01)
    broker.kill9()
    p.poll(0.5)
    p.purge()
    p.flush(2)
    log("kill -9 after %d acks=all acknowledgements" % n[0])
    return acked


def consume_check(bootstrap, topic, parts, per_part, label, upto=None):
    """Reads every partition from 0 and checks each record's offset, key and
    value. Each partition must end at per_part[p] records, or anywhere in
    [per_part[p], upto[p]] (records whose acks never came may be there)."""
    if isinstance(per_part, int):
        per_part = [per_part] * parts
    upto = upto or per_part
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sl-0091", "enable.auto.commit":
                  False, "enable.partition.eof": True, "fetch.max.bytes": 32 << 20,
                  "max.partition.fetch.bytes": 2 << 20, "queued.max.messages.kbytes": 128 << 10})
    c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
    nxt = [0] * parts
    eof = set()
    deadline = time.time() + 240
    try:
        while len(eof) < parts:
            check(time.time() < deadline, "%s: consume did not finish (%d partitions at end)" %
                  (label, len(eof)))
            for m in c.consume(500, 1.0):
                p = m.partition()
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        if nxt[p] >= per_part[p]:
                            eof.add(p)
                        continue
                    raise harness.TestFailure("%s: consume: %s" % (label, m.error()))
                i = nxt[p]
                check(m.offset() == i, "%s: p%d: offset %d where %d was expected" %
                      (label, p, m.offset(), i))
                check(m.key() == key(p, i) and m.value() == value(p, i),
                      "%s: p%d o%d: wrong key or value (key %r)" % (label, p, i, m.key()))
                nxt[p] = i + 1
    finally:
        c.close()
    for p in range(parts):
        check(per_part[p] <= nxt[p] <= upto[p], "%s: p%d ends at %d, expected %d..%d" %
              (label, p, nxt[p], per_part[p], upto[p]))
    log("%s: %d records in %d partitions read back, content/order/offsets right" %
        (label, sum(nxt), parts))


def segment_files(data_dir, topic, parts):
    out = {}
    for p in range(parts):
        d = os.path.join(data_dir, "%s-%d" % (topic, p))
        out[p] = sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".log"))
    return out


def resident(paths):
    """Bytes of each file in the page cache (fincore)."""
    res = {}
    for i in range(0, len(paths), 500):
        chunk = paths[i:i + 500]
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "-o", "RES,FILE"] +
                             chunk, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            r, f = line.split(" ", 1)
            res[f] = int(r)
    return res


def check_dropped(data_dir, topic, parts):
    """Every partition rolled, and its segments older than the retained tail
    plus one write-behind step are out of the page cache."""
    segs = segment_files(data_dir, topic, parts)
    res = resident([f for fs in segs.values() for f in fs])
    total_res = total = 0
    for p, files in segs.items():
        check(len(files) >= 8, "p%d has only %d segments: no rolls" % (p, len(files)))
        sizes = [os.path.getsize(f) for f in files]
        # The first write-behind step (TRIGGER bytes appended) drops whole
        # segments more than RETAIN behind the end at that time: at least
        # those ending before TRIGGER - RETAIN - one segment.
        pos = 0
        old = []
        for f, s in zip(files, sizes):
            pos += s
            if pos <= TRIGGER - RETAIN - SEGMENT:
                old.append(f)
        check(len(old) >= 4, "p%d: %d segments old enough to be dropped (%d bytes)" %
              (p, len(old), sum(sizes)))
        for f in old:
            check(res[f] <= 8192, "p%d: %s still has %d bytes in the page cache (drop-behind)" %
                  (p, os.path.basename(f), res[f]))
        total_res += sum(res[f] for f in files)
        total += sum(sizes)
    log("every partition rolled (>= 8 segments) and dropped behind: %d of %d MiB cached" %
        (total_res >> 20, total >> 20))
    return sum(len(fs) for fs in segs.values())


def verify(exe, data_dir, label):
    out = subprocess.run([exe, "verify", data_dir], capture_output=True, text=True, timeout=240)
    check(out.returncode == 0, "%s: serpentlog verify failed:\n%s%s" %
          (label, out.stdout[-3000:], out.stderr[-3000:]))
    log("%s: serpentlog verify clean" % label)


def main(exe, args):
    parts = int(args[0]) if args else 200
    from confluent_kafka.admin import AdminClient, NewTopic
    tmpcfg = os.path.join(os.environ.get("SL_IT_WORK") or "/tmp",
                          "0091-%d.yaml" % os.getpid())
    with open(tmpcfg, "w") as f:
        f.write("log.page.cache.retain.bytes: %d\nadmin.listen: off\n" % RETAIN)
    broker = harness.Broker(exe, cores=2, extra_args=["--config", tmpcfg])
    topic = "cache-many"
    try:
        broker.start()
        a = AdminClient({"bootstrap.servers": broker.bootstrap})
        for f in a.create_topics([NewTopic(topic, parts, 1, config={
                "segment.bytes": str(SEGMENT)})], operation_timeout=60).values():
            f.result(60)
        sampler = Sampler(broker.proc.pid)
        sampler.start()
        t0 = time.time()
        produce(broker.bootstrap, topic, parts, 0, PER_PART_ACKS1, "1")
        produce(broker.bootstrap, topic, parts, PER_PART_ACKS1, PER_PART_ACKSALL, "all")
        per_part = PER_PART_ACKS1 + PER_PART_ACKSALL
        mib = parts * per_part * VALUE >> 20
        log("produced %d MiB (%d records, acks=1 then acks=all) in %.1f s" %
            (mib, parts * per_part, time.time() - t0))
        nsegs = check_dropped(broker.data_dir, topic, parts)
        t0 = time.time()
        consume_check(broker.bootstrap, topic, parts, per_part, "before kill -9")
        log("consumed in %.1f s" % (time.time() - t0))
        sampler.stop()
        fd_cap = nsegs + 3 * parts + FD_SLACK
        log("broker peak RSS %d MiB, peak fds %d (%d segments; cap %d)" %
            (sampler.max_rss >> 20, sampler.max_fds, nsegs, fd_cap))
        check(sampler.max_fds <= fd_cap, "broker held %d fds for %d segments" %
              (sampler.max_fds, nsegs))
        check(sampler.max_rss <= RSS_CAP, "broker RSS reached %d MiB" % (sampler.max_rss >> 20))
        # kill -9 in the middle of an acks=all stream to every partition.
        acked = produce_until_kill(broker, topic, parts, per_part, PER_PART_KILL,
                                   parts * PER_PART_KILL // 2)
        verify(exe, broker.data_dir, "after kill -9")
        broker.start()
        consume_check(broker.bootstrap, topic, parts, acked, "after restart",
                      upto=[per_part + PER_PART_KILL] * parts)
        broker.stop()
        verify(exe, broker.data_dir, "after SIGTERM")
    finally:
        broker.close()
        os.unlink(tmpcfg)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    harness.run_test(main)
