"""0092: segment rolls exactly at segment.bytes under concurrent produce and fetch.

Usage: test_0092_roll_at_boundary.py SERPENTLOG [CYCLES]
A two-shard broker gets a 4-partition topic with segment.bytes 10000 (not a
multiple of a page). One thread per partition sends single-batch Produce v3
requests over its own connection (acks alternating all / 1) whose batch sizes
are chosen byte-exactly against the roll rule (a segment's 64-byte header
plus its batches may reach segment.bytes; its 64-byte seal follows):
- a batch that fills the active segment's remaining space exactly (stays);
- one byte more than the remaining space (rolls);
- the largest batch a segment can hold (segment.bytes - 128), sent when the
  active segment has data, so it is larger than the remaining space (rolls
  and fills a fresh segment exactly), then another one (rolls again);
- one byte larger than that: refused with RECORD_LIST_TOO_LARGE, nothing
  stored, the partition goes on;
- small batches of random sizes in between.
Meanwhile a confluent-kafka consumer (small per-partition fetch size, CRC
check on) tails all four partitions and checks each record's offset, key and
value as it arrives. Then SIGTERM, and on disk each partition's segment files
must be exactly the predicted ones (bases, and each sealed file's size = its
predicted end + seal); `serpentlog verify` passes; after a restart everything
is read again, and more records after it append in order. Last, five stops
with an idle client connected must each take well under a maintenance tick
(median < 0.25 s).
"""

import hashlib
import os
import random
import subprocess
import sys
import threading
import time

import harness
from harness import check, log

PARTS = 4
SEG = 10000
HDR = 64  # segment header and seal
MAX_BATCH = SEG - 2 * HDR
ERR_RECORD_LIST_TOO_LARGE = 18


def uvarint_len(n):
    n = (n << 1) ^ (n >> 63)  # zigzag, as the record fields
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def batch_size(klen, vlen, hvlen):
    """Size of a one-record batch built by harness.build_batch; hvlen < 0: no header."""
    r = 1 + 1 + 1 + uvarint_len(klen) + klen + uvarint_len(vlen) + vlen
    if hvlen < 0:
        r += 1
    else:
        r += 1 + 1 + 1 + uvarint_len(hvlen) + hvlen  # one header, key b"h"
    return 61 + uvarint_len(r) + r


def key(p, seq):
    return b"p%d-%07d" % (p, seq)


def value_of(p, seq, n):
    d = hashlib.blake2b(b"%d.%d" % (p, seq), digest_size=32).digest()
    return (d * (n // 32 + 1))[:n]


def plan_record(p, seq, size):
    """(key, value, headers) of a one-record batch of exactly size bytes."""
    k = key(p, seq)
    for hv in [-1] + list(range(0, 8)):
        base = batch_size(len(k), 0, hv)
        for vlen in range(max(0, size - base - 8), size - base + 1):
            if batch_size(len(k), vlen, hv) == size:
                hdrs = [] if hv < 0 else [(b"h", b"x" * hv)]
                return k, value_of(p, seq, vlen), hdrs
    raise harness.TestFailure("no one-record batch of %d bytes" % size)


MIN_BATCH = batch_size(len(key(0, 0)), 0, -1)


class PartitionWriter(threading.Thread):
    """Produces one partition's planned batches and predicts its segments."""

    def __init__(self, bootstrap, topic, p, cycles, seed, first_seq=0, data_end=HDR,
                 seg_nonempty=False):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.p, self.cycles = bootstrap, topic, p, cycles
        self.rnd = random.Random(seed)
        self.seq = first_seq
        self.data_end = data_end
        self.nonempty = seg_nonempty
        self.bases = []  # offsets where a roll must start a segment
        self.ends = {}  # segment base -> predicted data end
        self.cur_base = first_seq
        self.records = []  # (key, value, headers) at offsets first_seq...
        self.refused = 0
        self.error = None

    def send(self, conn, size, acks):
        k, v, hdrs = plan_record(self.p, self.seq, size)
        ts = int(time.time() * 1000)
        batch = harness.build_batch([(k, v, hdrs, ts)], ts)
        check(len(batch) == size, "planned %d bytes, built %d" % (size, len(batch)))
        if size <= MAX_BATCH:
            self.records.append((k, v, hdrs))  # a reader may see it before the ack
        err, base = conn.produce(self.topic, self.p, batch, acks=acks)
        if size > MAX_BATCH:
            check(err == ERR_RECORD_LIST_TOO_LARGE, "p%d: a %d-byte batch got error %d, not 18" %
                  (self.p, size, err))
            self.refused += 1
            return
        check(err == 0, "p%d: produce of %d bytes: error %d" % (self.p, size, err))
        check(base == self.seq, "p%d: batch stored at offset %d, expected %d" %
              (self.p, base, self.seq))
        if self.nonempty and self.data_end + size > SEG:
            self.ends[self.cur_base] = self.data_end
            self.cur_base = self.seq
            self.bases.append(self.seq)
            self.data_end = HDR
        self.data_end += size
        self.nonempty = True
        self.seq += 1

    def small(self):
        return self.rnd.randrange(MIN_BATCH, 1500)

    def run(self):
        try:
            conn = harness.Conn(self.bootstrap, timeout=30)
            n = 0
            for _ in range(self.cycles):
                moves = ["small", "small", "fill", "small", "over1", "max", "max", "small",
                         "toolarge", "small", "fill", "small"]
                for mv in moves:
                    left = SEG - self.data_end
                    if mv == "fill":
                        size = left if left >= MIN_BATCH else self.small()
                    elif mv == "over1":
                        size = left + 1 if MIN_BATCH <= left + 1 <= MAX_BATCH else self.small()
                    elif mv == "max":
                        size = MAX_BATCH
                    elif mv == "toolarge":
                        size = MAX_BATCH + 1
                    else:
                        size = self.small()
                    self.send(conn, size, -1 if n % 2 == 0 else 1)
                    n += 1
            conn.close()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e


def consume(bootstrap, topic, expected, stop_at, label, timeout=120):
    """Tails every partition from 0 until each holds len(expected[p]) records
    (expected lists may still grow while this runs: stop_at() says when the
    writers are done) and checks offset, key, value and headers of each."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sl-0092", "enable.auto.commit":
                  False, "check.crcs": True, "fetch.wait.max.ms": 50,
                  "max.partition.fetch.bytes": SEG // 3, "fetch.max.bytes": 2 * SEG,
                  "message.max.bytes": 2 * SEG})
    c.assign([TopicPartition(topic, p, 0) for p in range(PARTS)])
    nxt = [0] * PARTS
    early = 0  # records read while the writers were still writing
    deadline = time.time() + timeout
    try:
        while True:
            writing = not stop_at()
            if not writing and all(nxt[p] == len(expected[p]) for p in range(PARTS)):
                break
            check(time.time() < deadline, "%s: consume stuck at %r of %r" %
                  (label, nxt, [len(e) for e in expected]))
            for m in c.consume(200, 0.2):
                if m.error():
                    raise harness.TestFailure("%s: consume: %s" % (label, m.error()))
                p, o = m.partition(), m.offset()
                check(o == nxt[p], "%s: p%d: offset %d after %d" % (label, p, o, nxt[p] - 1))
                check(o < len(expected[p]), "%s: p%d: offset %d was never acknowledged" %
                      (label, p, o))
                k, v, hdrs = expected[p][o]
                got_h = [(hk.encode(), hv) for hk, hv in (m.headers() or [])]
                check(m.key() == k and m.value() == v and got_h == hdrs,
                      "%s: p%d o%d: wrong key, value or headers" % (label, p, o))
                nxt[p] = o + 1
                early += writing
    finally:
        c.close()
    log("%s: %d records read back in order (offsets, keys, values, headers), %d of them "
        "while the writers wrote" % (label, sum(nxt), early))
    return early


def check_segments(data_dir, topic, writers):
    for w in writers:
        d = os.path.join(data_dir, "%s-%d" % (topic, w.p))
        logs = sorted(n for n in os.listdir(d) if n.endswith(".log"))
        bases = [int(n[:-4]) for n in logs]
        want = [0] + w.bases
        check(bases == want, "p%d: segments start at %r, predicted %r" % (w.p, bases, want))
        for n, b in zip(logs, bases):
            size = os.path.getsize(os.path.join(d, n))
            if b != bases[-1]:
                check(size == w.ends[b] + HDR, "p%d: %s is %d bytes, predicted %d + seal" %
                      (w.p, n, size, w.ends[b]))
            else:
                check(size in (w.data_end, w.data_end + HDR), "p%d: active %s is %d bytes, "
                      "predicted %d" % (w.p, n, size, w.data_end))
    full = sum(1 for w in writers for b, e in w.ends.items() if e == SEG)
    log("segment files as predicted: %d rolls, %d segments filled to exactly %d bytes, "
        "%d batches refused" % (sum(len(w.bases) for w in writers), full, SEG,
                                sum(w.refused for w in writers)))
    check(full >= PARTS, "too few exact fills to test the boundary")


def run_writers(broker, topic, writers, label):
    expected = [w.records for w in writers]
    done = []
    for w in writers:
        w.start()
    reader_err = []

    def reader():
        try:
            early = consume(broker.bootstrap, topic, expected, lambda: bool(done), label)
            check(early > 0, "%s: the reader read nothing while the writers wrote" % label)
        except Exception as e:  # noqa: BLE001
            reader_err.append(e)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    for w in writers:
        w.join(240)
        check(not w.is_alive(), "p%d: writer did not finish" % w.p)
        if w.error:
            raise w.error
    done.append(True)
    t.join(240)
    check(not t.is_alive(), "%s: reader did not finish" % label)
    if reader_err:
        raise reader_err[0]


def check_stop_with_idle_client(broker, rounds=5):
    """SIGTERM with an idle client connection open: the drain closes it and
    the broker exits at once, not at its next timer (up to a 1 s maintenance
    tick: without that, the median of five stops would be ~0.5 s)."""
    took = []
    for _ in range(rounds):
        broker.start()
        c = harness.Conn(broker.bootstrap)
        err, _versions = c.api_versions()
        check(err == 0, "ApiVersions: error %d" % err)
        time.sleep(0.3)
        t0 = time.time()
        broker.stop()
        took.append(time.time() - t0)
        c.close()
    took.sort()
    log("SIGTERM with an idle client: exits after %s s" % ", ".join("%.2f" % t for t in took))
    check(took[rounds // 2] < 0.25, "stopping with an idle client connected takes %.2f s "
          "(median): the drain waits for a timer" % took[rounds // 2])


def main(exe, args):
    cycles = int(args[0]) if args else 40
    broker = harness.Broker(exe, cores=2)
    topic = "roll-edge"
    try:
        broker.start()
        from confluent_kafka.admin import AdminClient, NewTopic
        a = AdminClient({"bootstrap.servers": broker.bootstrap})
        for f in a.create_topics([NewTopic(topic, PARTS, 1, config={
                "segment.bytes": str(SEG), "max.message.bytes": str(SEG)})],
                operation_timeout=30).values():
            f.result(30)
        writers = [PartitionWriter(broker.bootstrap, topic, p, cycles, 92 + p)
                   for p in range(PARTS)]
        t0 = time.time()
        run_writers(broker, topic, writers, "while producing")
        log("%d batches produced and tailed in %.1f s" %
            (sum(len(w.records) for w in writers), time.time() - t0))
        broker.stop()
        check_segments(broker.data_dir, topic, writers)
        out = subprocess.run([exe, "verify", broker.data_dir], capture_output=True, text=True,
                             timeout=120)
        check(out.returncode == 0, "serpentlog verify failed:\n%s%s" % (out.stdout, out.stderr))
        log("serpentlog verify clean")
        broker.start()
        expected = [w.records for w in writers]
        consume(broker.bootstrap, topic, expected, lambda: True, "after restart")
        # Appends after the restart go on in order (whether the closed active
        # segment is reused or a new one starts is the broker's business).
        more = [PartitionWriter(broker.bootstrap, topic, w.p, 1, 192 + w.p, first_seq=w.seq)
                for w in writers]
        for w, old in zip(more, writers):
            w.records = list(old.records)
            w.data_end = HDR  # the prediction no longer matters; offsets and content do
        run_writers(broker, topic, more, "after restart, more")
        broker.stop()
        check_stop_with_idle_client(broker)
    finally:
        broker.close()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    harness.run_test(main)
