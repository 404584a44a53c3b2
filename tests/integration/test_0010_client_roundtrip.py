"""0010: one real client end to end against one serpentlog process.

Usage: test_0010_client_roundtrip.py SERPENTLOG CLIENT [TOTAL]
Create a 6-partition topic; produce TOTAL (10,000) keyed records with headers,
split over every codec the client supports; consume them back (assign, from the
beginning) checking key, value, headers, timestamp, offset and per-partition
order against what the producer acknowledged; list earliest/latest offsets and
offsets by timestamp; restart the broker (SIGTERM, exit 0) and read everything
again; delete the topic and check Metadata no longer has it.
"""

import sys
import time

import clients
import dataset
import harness
from harness import check, log

PARTITIONS = 6


def check_offsets(cl, topic, by_part, by_time=True):
    for p in range(PARTITIONS):
        recs = by_part[p]
        lo = cl.offset(topic, p, -2)
        hi = cl.offset(topic, p, -1)
        check(lo == 0, "%s: earliest offset of p%d is %r, expected 0" % (cl.name, p, lo))
        check(hi == len(recs), "%s: latest offset of p%d is %r, expected %d" %
              (cl.name, p, hi, len(recs)))
        if not (by_time and cl.offsets_for_times):
            continue
        picks = sorted({0, len(recs) // 3, len(recs) // 2, len(recs) - 1})
        for j in picks:
            ts = recs[j]["ts"]
            want = dataset.expected_offset_for_time(recs, ts)
            got = cl.offset(topic, p, ts)
            check(got == want, "%s: offset for time %d in p%d is %r, expected %r" %
                  (cl.name, ts, p, got, want))
        late = max(r["ts"] for r in recs) + 1
        got = cl.offset(topic, p, late)
        check(got is None, "%s: offset for a time after every record in p%d is %r, expected none" %
              (cl.name, p, got))


def check_codecs(bootstrap, topic, plan, by_part):
    """The stored batches really use each phase's codec (a client may send a batch
    uncompressed when compression would not shrink it, never with another codec)."""
    codec_ids = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
    c = harness.Conn(bootstrap)
    stored = {}
    try:
        for p in range(PARTITIONS):
            for base, span, codec in c.batch_codecs(topic, p):
                for o in range(base, base + span):
                    stored[(p, o)] = codec
    finally:
        c.close()
    for start, count, name in plan:
        want = codec_ids[name]
        seen = {}
        for p, recs in by_part.items():
            for r in recs:
                if start <= int(r["k"][1:]) < start + count:
                    got = stored.get((p, r["o"]))
                    check(got in (want, 0), "record %s at p%d o%d stored with codec %r, "
                          "produced as %s" % (r["k"], p, r["o"], got, name))
                    seen[got] = seen.get(got, 0) + 1
        check(seen.get(want, 0) * 2 >= count, "%s phase: only %d of %d records compressed" %
              (name, seen.get(want, 0), count))


def topic_gone(bootstrap, topic):
    c = harness.Conn(bootstrap)
    try:
        md = c.metadata([topic])
    finally:
        c.close()
    t = md["topics"].get(topic)
    return t is None or t[0] == 3


def main(exe, args):
    client = args[0]
    total = int(args[1]) if len(args) > 1 else 10000
    topic = "it-%s-%d" % (client, int(time.time()))
    broker = harness.Broker(exe, mock_topics=["%s:%d" % (topic, PARTITIONS)])
    try:
        broker.start()
        cl = clients.adapter(client, broker.bootstrap)
        if not broker.is_mock:
            cl.create(topic, PARTITIONS)
            log("created", topic)
        ts0 = int(time.time() * 1000) - 600000
        plan = dataset.plan_for(cl.codecs, total)
        delivered = {}
        for start, count, codec in plan:
            t = time.time()
            acks = cl.produce(topic, start, count, codec, ts0)
            if acks is not None:
                check(sorted(acks) == list(range(start, start + count)),
                      "%s: %d of %d records acknowledged" % (client, len(acks), count))
                delivered.update(acks)
            log("produced %d records with %s in %.1fs" % (count, codec, time.time() - t))
        recs = cl.consume(topic, PARTITIONS, total)
        kw = dict(ts0=ts0 if cl.sets_timestamps else None, delivered=delivered or None,
                  per_record_headers=cl.per_record_headers)
        by_part = dataset.verify(recs, plan, PARTITIONS, what=client + " consume", **kw)
        log("consumed and verified %d records" % len(recs))
        check_codecs(broker.bootstrap, topic, plan, by_part)
        log("stored batches use the expected codecs")
        # librdkafka's mock cluster does not implement offsets for times.
        check_offsets(cl, topic, by_part, by_time=not broker.is_mock)
        log("offsets verified")
        if broker.is_mock:
            log("mock cluster: skipping restart and delete")
            return
        broker.restart()
        again = cl.consume(topic, PARTITIONS, total)
        dataset.verify(again, plan, PARTITIONS, what=client + " consume after restart", **kw)
        dataset.same_records(recs, again, "after restart")
        check_offsets(cl, topic, by_part)
        log("verified again after restart")
        cl.delete(topic)
        harness.wait_for(lambda: topic_gone(broker.bootstrap, topic), 30, "topic deletion")
        log("deleted", topic)
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
