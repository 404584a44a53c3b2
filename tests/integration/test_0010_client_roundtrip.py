"""0010: one real client end to end against one serpentlog process.

Usage: test_0010_client_roundtrip.py SERPENTLOG CLIENT [--total N] [--time-batch] [--keep-topic]
Create a 6-partition topic; produce TOTAL (10,000) keyed records with headers,
split over every codec the client supports; consume them back (assign, from the
beginning) checking key, value, headers, timestamp, offset and per-partition
order against what the producer acknowledged; list earliest/latest offsets and
offsets by timestamp; restart the broker (SIGTERM, exit 0) and read everything
again; delete the topic and check Metadata no longer has it.
--time-batch accepts a batch's base offset as the answer to offsets-for-times
(serpentlog answers at batch granularity; Kafka answers the exact record).
--keep-topic skips the delete step (see README.md: deleting a topic while a
fetch is parked on it is a known broker bug with its own test, 0050).
"""

import sys
import time

import clients
import dataset
import harness
from harness import check, log

PARTITIONS = 6


def check_offsets(cl, topic, by_part, batches, by_time=True, batch_granular=False):
    """Earliest/latest per partition, and offsets for times: Kafka answers the first
    record whose timestamp >= the target; with batch_granular the base offset of
    the stored batch holding that record is accepted instead (and nothing else)."""
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
            if batch_granular:
                want = batches[(p, want)][1]
            got = cl.offset(topic, p, ts)
            check(got == want, "%s: offset for time %d in p%d is %r, expected %r%s" %
                  (cl.name, ts, p, got, want, " (batch base)" if batch_granular else ""))
        late = max(r["ts"] for r in recs) + 1
        got = cl.offset(topic, p, late)
        check(got is None, "%s: offset for a time after every record in p%d is %r, expected none" %
              (cl.name, p, got))


def stored_batches(bootstrap, topic):
    """{(partition, offset): (codec, batch base offset)} for every stored record."""
    c = harness.Conn(bootstrap)
    out = {}
    try:
        for p in range(PARTITIONS):
            for base, span, codec in c.batch_codecs(topic, p):
                for o in range(base, base + span):
                    out[(p, o)] = (codec, base)
    finally:
        c.close()
    return out


def librdkafka_codec_gate(versions, name):
    """Why librdkafka <= 2.11 would not use codec `name` with these advertised ranges
    (it tests exact versions, client-versions.md "feature detection"), or None."""
    def has(key, v):
        lo, hi = versions.get(key, (1, 0))
        return lo <= v <= hi
    if name in ("gzip", "snappy", "lz4") and not has(0, 0):
        return "Produce v0 not advertised"
    if name == "lz4" and not has(10, 0):
        return "FindCoordinator v0 not advertised"
    if name == "zstd" and not (has(0, 7) and has(1, 10)):
        return "Produce v7 / Fetch v10 not advertised"
    return None


def check_codecs(cl, bootstrap, plan, by_part, batches):
    """The stored batches really use each phase's codec (a client may send a batch
    uncompressed when compression would not shrink it, never with another codec)."""
    codec_ids = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
    c = harness.Conn(bootstrap)
    try:
        _err, versions = c.api_versions(0)
    finally:
        c.close()
    for start, count, name in plan:
        want = codec_ids[name]
        seen = {}
        for p, recs in by_part.items():
            for r in recs:
                if start <= int(r["k"][1:]) < start + count:
                    got = batches.get((p, r["o"]), (None,))[0]
                    check(got in (want, 0), "record %s at p%d o%d stored with codec %r, "
                          "produced as %s" % (r["k"], p, r["o"], got, name))
                    seen[got] = seen.get(got, 0) + 1
        gate = librdkafka_codec_gate(versions, name) if cl.librdkafka else None
        if gate:
            log("WARNING: librdkafka sends %s uncompressed here: %s" % (name, gate))
            continue
        check(seen.get(want, 0) * 2 >= count, "%s phase: only %d of %d records compressed" %
              (name, seen.get(want, 0), count))


def topic_gone(bootstrap, topic):
    c = harness.Conn(bootstrap)
    try:
        # v4 with AllowAutoTopicCreation=false: a v1 request would re-create it.
        md = c.metadata([topic], version=4, allow_auto_create=False)
    finally:
        c.close()
    t = md["topics"].get(topic)
    return t is None or t[0] == 3


def main(exe, args):
    client = args[0]
    total = int(args[args.index("--total") + 1]) if "--total" in args else 10000
    batch_granular = "--time-batch" in args
    keep_topic = "--keep-topic" in args
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
        batches = stored_batches(broker.bootstrap, topic)
        check_codecs(cl, broker.bootstrap, plan, by_part, batches)
        log("stored batches use the expected codecs")
        # librdkafka's mock cluster does not implement offsets for times.
        check_offsets(cl, topic, by_part, batches, by_time=not broker.is_mock,
                      batch_granular=batch_granular)
        log("offsets verified")
        if broker.is_mock:
            log("mock cluster: skipping restart and delete")
            return
        broker.restart()
        again = cl.consume(topic, PARTITIONS, total)
        dataset.verify(again, plan, PARTITIONS, what=client + " consume after restart", **kw)
        dataset.same_records(recs, again, "after restart")
        check_offsets(cl, topic, by_part, batches, batch_granular=batch_granular)
        log("verified again after restart")
        if not keep_topic:
            cl.delete(topic)
            harness.wait_for(lambda: topic_gone(broker.bootstrap, topic), 30, "topic deletion")
            log("deleted", topic)
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
