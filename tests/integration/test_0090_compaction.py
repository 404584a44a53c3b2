"""0090: cleanup.policy=compact keeps the latest value per key, at its offset.

Usage: test_0090_compaction.py SERPENTLOG
Creates a topic with cleanup.policy=compact, segment.bytes=2048 and
min.cleanable.dirty.ratio=0.01, produces 40 values for each of 12 keys with
confluent-kafka (acks=all, one message per batch, so many small segments),
then waits for the broker's cleaner (log.cleaner.backoff.ms is 15 s). From
the beginning, confluent-kafka, kcat and kafka-python must then read a subset of what was
produced (same offset -> same key and value), every key's latest value at its
original offset, and far fewer records than were produced; `serpentlog verify`
must pass on the data directory; after a SIGTERM restart the same records are
served. A second topic with the default policy (delete) must keep everything.
A third, written by two idempotent producers (B overwrites every key of A),
keeps A's last batch as an empty batch (producer state, as Kafka), which
confluent-kafka, kcat and kafka-python must all read past.
Then issue 5: a consumer group commits 1500 offsets one by one with
__consumer_offsets altered to segment.bytes=4096; the cleaner must keep that
topic's files far below what 1500 commit records take, and after a restart
the group's committed offset is still the last one.
"""

import os
import subprocess
import time

import clients
import harness
from harness import check, log

KEYS = 12
PER_KEY = 40


def produce(bootstrap, topic, idempotent=False, tag="", per_key=PER_KEY, got=None):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "batch.num.messages": 1, "max.in.flight.requests.per.connection": 1,
                  "enable.idempotence": idempotent})
    got = {} if got is None else got  # offset -> (key, value)
    errors = []

    def dr(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            got[msg.offset()] = (msg.key().decode(), msg.value().decode())

    before = len(got)
    for i in range(per_key):
        for k in range(KEYS):
            p.produce(topic, key="key-%02d" % k,
                      value="value%s-%02d-%03d-%s" % (tag, k, i, "x" * 40), partition=0,
                      on_delivery=dr)
        p.flush(30)
    check(not errors, "produce errors: %r" % errors[:3])
    check(len(got) - before == KEYS * per_key,
          "acked %d of %d" % (len(got) - before, KEYS * per_key))
    return got


def consume_confluent(bootstrap, topic):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sl-0090-%f" % time.time(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = {}
    deadline = time.time() + 30
    try:
        while time.time() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    return out
                raise harness.TestFailure("consume: %s" % m.error())
            out[m.offset()] = (m.key().decode(), m.value().decode())
    finally:
        c.close()
    raise harness.TestFailure("confluent consumer did not reach the end in 30 s")


def consume_kcat(bootstrap, topic):
    res = clients.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o",
                       "beginning", "-e", "-q", "-f", "%o %k %s\\n"], timeout=60)
    out = {}
    for line in res.splitlines():
        if line.strip():
            off, k, v = line.split(" ", 2)
            out[int(off)] = (k, v)
    return out


def consume_kpy(bootstrap, topic):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      auto_offset_reset="earliest", consumer_timeout_ms=5000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    out = {}
    try:
        for m in c:
            out[m.offset] = (m.key.decode(), m.value.decode())
    finally:
        c.close()
    return out


def latest(produced):
    last = {}
    for off in sorted(produced):
        last[produced[off][0]] = off
    return last


def check_compacted(produced, seen, who):
    for off, kv in seen.items():
        check(produced.get(off) == kv, "%s: offset %d holds %r, produced %r" %
              (who, off, kv, produced.get(off)))
    for k, off in latest(produced).items():
        check(off in seen, "%s: latest value of %s (offset %d) is missing" % (who, k, off))
    check(len(seen) < len(produced) // 3,
          "%s: %d of %d records still there: not compacted" % (who, len(seen), len(produced)))


def wait_compacted(broker, topic, produced, timeout=90):
    deadline = time.time() + timeout
    seen = {}
    while time.time() < deadline:
        seen = consume_confluent(broker.bootstrap, topic)
        if len(seen) < len(produced) // 3:
            return seen
        time.sleep(3)
    raise harness.TestFailure("no compaction within %d s: %d of %d records remain\n%s" %
                              (timeout, len(seen), len(produced), broker.log_tail()))


def offsets_bytes(data_dir):
    total = 0
    for d in os.listdir(data_dir):
        if d.startswith("__consumer_offsets-"):
            for n in os.listdir(os.path.join(data_dir, d)):
                if n.endswith(".log"):
                    total += os.path.getsize(os.path.join(data_dir, d, n))
    return total


def committed(bootstrap, group, topic):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
    finally:
        c.close()


def check_offsets_bounded(broker):
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    for f in a.create_topics([NewTopic("offs-src", 1, 1)], operation_timeout=30).values():
        f.result(30)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "g-0090",
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition("offs-src", 0, 1)], asynchronous=False)
        res = ConfigResource("TOPIC", "__consumer_offsets", set_config={
            "cleanup.policy": "compact", "retention.ms": "-1", "segment.bytes": "4096",
            "min.cleanable.dirty.ratio": "0.01"})
        for f in a.alter_configs([res]).values():
            f.result(30)
        n = 1500
        for i in range(2, n + 1):
            c.commit(offsets=[TopicPartition("offs-src", 0, i)], asynchronous=False)
    finally:
        c.close()
    log("committed %d offsets; __consumer_offsets holds %d bytes" %
        (n, offsets_bytes(broker.data_dir)))
    deadline = time.time() + 60
    size = offsets_bytes(broker.data_dir)
    while time.time() < deadline and size > 40000:
        time.sleep(2)
        size = offsets_bytes(broker.data_dir)
    check(size <= 40000, "__consumer_offsets still holds %d bytes after 60 s\n%s" %
          (size, broker.log_tail()))
    log("__consumer_offsets compacted to %d bytes" % size)
    broker.restart()
    got = committed(broker.bootstrap, "g-0090", "offs-src")
    check(got == n, "after restart the committed offset is %r, not %d" % (got, n))
    log("after restart the group's committed offset is %d" % got)


def empty_producer_batches(part_dir):
    """Batches with a producer id and no records in a partition's segments."""
    import struct
    n = 0
    for name in sorted(os.listdir(part_dir)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(part_dir, name), "rb") as f:
            data = f.read()
        p = 64
        while len(data) - p >= 61:
            base, blen = struct.unpack(">qi", data[p:p + 12])
            if base < 0:
                break  # the seal
            pid = struct.unpack(">q", data[p + 43:p + 51])[0]
            count = struct.unpack(">i", data[p + 57:p + 61])[0]
            n += pid >= 0 and count == 0
            p += 12 + blen
    return n


def check_idempotent(broker, admin, cfg):
    """Producer A's last batch loses every record to producer B: its header
    stays as an empty batch (producer state), which every client must skip."""
    from confluent_kafka.admin import NewTopic
    for f in admin.create_topics([NewTopic("compacted-idem", 1, 1, config=cfg)],
                                 operation_timeout=30).values():
        f.result(30)
    produced = produce(broker.bootstrap, "compacted-idem", idempotent=True, tag="A",
                       per_key=20)
    produce(broker.bootstrap, "compacted-idem", idempotent=True, tag="B", per_key=20,
            got=produced)
    seen = wait_compacted(broker, "compacted-idem", produced)
    for who, got in (("confluent", seen),
                     ("kcat", consume_kcat(broker.bootstrap, "compacted-idem")),
                     ("kafka-python", consume_kpy(broker.bootstrap, "compacted-idem"))):
        check_compacted(produced, got, who + " (idempotent)")
    log("idempotent producers: %d records read by three clients" % len(seen))


def main(exe, _args):
    from confluent_kafka.admin import AdminClient, NewTopic
    broker = harness.Broker(exe)
    broker.start()
    try:
        a = AdminClient({"bootstrap.servers": broker.bootstrap})
        cfg = {"cleanup.policy": "compact", "segment.bytes": "2048",
               "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "1000"}
        futs = a.create_topics([NewTopic("compacted", 1, 1, config=cfg),
                                NewTopic("plain", 1, 1, config={"segment.bytes": "2048"})],
                               operation_timeout=30)
        for t, f in futs.items():
            f.result(30)
        produced = produce(broker.bootstrap, "compacted")
        plain = produce(broker.bootstrap, "plain")
        log("produced %d records to each topic" % len(produced))
        seen = wait_compacted(broker, "compacted", produced)
        check_compacted(produced, seen, "confluent")
        log("confluent reads %d records, latest per key at its offset" % len(seen))
        check_compacted(produced, consume_kcat(broker.bootstrap, "compacted"), "kcat")
        check_compacted(produced, consume_kpy(broker.bootstrap, "compacted"), "kafka-python")
        check(consume_confluent(broker.bootstrap, "plain") == plain,
              "the delete-policy topic lost records")
        check_idempotent(broker, a, cfg)
        broker.stop()
        out = subprocess.run([exe, "verify", broker.data_dir], capture_output=True, text=True,
                             timeout=60)
        check(out.returncode == 0, "serpentlog verify failed:\n%s%s" % (out.stdout, out.stderr))
        empty = empty_producer_batches(os.path.join(broker.data_dir, "compacted-idem-0"))
        check(empty >= 1, "producer A's last batch was not kept (empty) for producer state")
        log("%d empty batch(es) keep a producer's state" % empty)
        names = os.listdir(os.path.join(broker.data_dir, "compacted-0"))
        check(not [n for n in names if n.endswith((".cleaned", ".swap"))],
              "swap leftovers: %r" % names)
        broker.start()
        again = consume_confluent(broker.bootstrap, "compacted")
        check(again == seen, "after restart %d records, before %d" % (len(again), len(seen)))
        log("verify passes; the restart serves the same %d records" % len(again))
        check_offsets_bounded(broker)
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
