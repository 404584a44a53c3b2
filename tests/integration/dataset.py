"""The records every client test produces, and the checks on what comes back.

Record i of a run has key k%06d, a compressible value, headers (codec, idx)
and timestamp ts0 + i. Every client program (C, Go, JS, Python) generates the
same records from (start, count, codec, ts0), so the checks here apply to any
producer/consumer pair. Consumers report records as dicts
{p, o, k, v, h: [[key, value]], ts}.
"""

from harness import TestFailure, check

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


def key(i):
    return "k%06d" % i


def value(i):
    # Repetitive so every codec really compresses (librdkafka sends a batch
    # uncompressed when compression would not shrink it).
    return "v%06d-" % i + "serpentlog-" * (8 + i % 5)


def headers(i, codec, per_record=True):
    h = [["codec", codec]]
    if per_record:
        h.append(["idx", str(i)])
    return h


def plan_for(codecs, total):
    """Split total records over codecs: [(start, count, codec)]."""
    n = len(codecs)
    plan = []
    start = 0
    for j, c in enumerate(codecs):
        cnt = total // n + (1 if j < total % n else 0)
        plan.append((start, cnt, c))
        start += cnt
    return plan


def codec_of(plan, i):
    for start, cnt, c in plan:
        if start <= i < start + cnt:
            return c
    return None


def verify(records, plan, partitions, ts0=None, delivered=None, per_record_headers=True,
           first_offsets=None, what="consume"):
    """Check consumed records against the plan. Raises TestFailure.

    records: consumer output in the order received.
    ts0: if given, every record's timestamp must be ts0 + i.
    delivered: {i: (partition, offset)} from the producer's acks, if it reports them.
    first_offsets: {partition: offset} where the topic's data starts (default 0).
    Returns {partition: [records in offset order]}."""
    total = sum(c for _s, c, _c in plan)
    check(len(records) == total, "%s: got %d records, expected %d" % (what, len(records), total))
    seen = {}
    by_part = {}
    for r in records:
        k = r["k"]
        check(isinstance(k, str) and len(k) == 7 and k[0] == "k" and k[1:].isdigit(),
              "%s: unexpected key %r at p%s o%s" % (what, k, r.get("p"), r.get("o")))
        i = int(k[1:])
        codec = codec_of(plan, i)
        check(codec is not None, "%s: key %s not produced" % (what, k))
        check(i not in seen, "%s: key %s seen twice (o%d and o%d)" % (what, k, seen.get(i, -1),
                                                                       r["o"]))
        seen[i] = r["o"]
        check(r["v"] == value(i), "%s: value of %s differs: %r" % (what, k, r["v"][:80]))
        exp_h = headers(i, codec, per_record_headers)
        got_h = [list(x) for x in r["h"]]
        check(got_h == exp_h, "%s: headers of %s: %r, expected %r" % (what, k, got_h, exp_h))
        if ts0 is not None:
            check(r["ts"] == ts0 + i, "%s: timestamp of %s is %s, expected %d" %
                  (what, k, r["ts"], ts0 + i))
        if delivered is not None:
            check(delivered.get(i) == (r["p"], r["o"]), "%s: %s at p%d o%d but acked at %r" %
                  (what, k, r["p"], r["o"], delivered.get(i)))
        by_part.setdefault(r["p"], []).append(r)
    check(sorted(by_part) == list(range(partitions)),
          "%s: records landed in partitions %r, expected all of 0..%d" %
          (what, sorted(by_part), partitions - 1))
    for p, recs in by_part.items():
        offs = [r["o"] for r in recs]
        base = (first_offsets or {}).get(p, 0)
        check(offs == list(range(base, base + len(offs))),
              "%s: partition %d offsets not contiguous from %d in consume order: %r..." %
              (what, p, base, offs[:10]))
        idx = [int(r["k"][1:]) for r in recs]
        check(idx == sorted(idx), "%s: partition %d not in produce order" % (what, p))
    return by_part


def expected_offset_for_time(recs, ts):
    """Kafka's offsets-for-times answer for one partition: first offset with timestamp >= ts."""
    for r in recs:
        if r["ts"] >= ts:
            return r["o"]
    return None


def same_records(a, b, what):
    """Two consumptions of the same topic must agree record for record."""
    ka = sorted((r["p"], r["o"], r["k"], r["v"], repr(r["h"]), r["ts"]) for r in a)
    kb = sorted((r["p"], r["o"], r["k"], r["v"], repr(r["h"]), r["ts"]) for r in b)
    if ka != kb:
        for x, y in zip(ka, kb):
            if x != y:
                raise TestFailure("%s: first difference %r vs %r" % (what, x[:4], y[:4]))
        raise TestFailure("%s: %d vs %d records" % (what, len(ka), len(kb)))
