"""0030: bad bytes on raw sockets must not hurt the broker or its data.

Usage: test_0030_bad_input.py SERPENTLOG [frames]
Like Redis's protocol tests: each case sends a malformed or forbidden request
on its own connection and asserts Kafka's reaction (the connection closes, or
the exact error code), then a well-behaved client on a new connection must
still work: kcat -L must list the topics, a raw Produce must be acknowledged at
the next offset and every record acknowledged so far must still be fetched at
its acknowledged offset. At the end confluent-kafka reads the whole partition.
With "frames" only the framing/header/version cases run and the health check
stops at kcat -L (for brokers without Produce/Fetch yet).
"""

import struct
import time

import clients
import harness
from harness import Conn, build_batch, check, i8, i16, i32, log, string

GOOD = "good"
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
UNSUPPORTED_VERSION = 35
INVALID_RECORD = 87


class State:
    def __init__(self, broker, with_data):
        self.broker = broker
        self.with_data = with_data
        self.acked = []  # (offset, key, value) in partition 0 of GOOD
        self.ts = int(time.time() * 1000)

    def records(self, label, n=5):
        return [(("%s-%d" % (label, j)).encode(), ("value of %s #%d" % (label, j)).encode() * 3,
                 [(b"case", label.encode())], self.ts + j) for j in range(n)]

    def healthy(self, label):
        """A good client on a fresh connection: produce, then fetch everything acked."""
        check(self.broker.alive(), "broker died after case %r:\n%s" % (label,
                                                                      self.broker.log_tail()))
        out = clients.run(["kcat", "-L", "-b", self.broker.bootstrap, "-m", "10"], timeout=30)
        want = 'topic "%s" with 1 partitions' % GOOD if self.with_data else " 1 brokers:"
        check(want in out, "after %s: kcat -L printed\n%s" % (label, out))
        if not self.with_data:
            log("ok:", label)
            return
        c = Conn(self.broker.bootstrap)
        try:
            recs = self.records(label)
            err, base = c.produce(GOOD, 0, build_batch(recs, self.ts))
            check(err == 0, "after %s: produce error %d" % (label, err))
            check(base == len(self.acked), "after %s: base offset %d, expected %d" %
                  (label, base, len(self.acked)))
            for j, (k, v, _h, _t) in enumerate(recs):
                self.acked.append((base + j, k, v))
            got, hw = c.fetch_all(GOOD, 0)
            check(hw == len(self.acked), "after %s: high watermark %d, expected %d" %
                  (label, hw, len(self.acked)))
            check([(r["offset"], r["key"], r["value"]) for r in got] == self.acked,
                  "after %s: fetched records differ from the acknowledged ones" % label)
        finally:
            c.close()
        log("ok:", label)


def closes_without_answer(st, label, data, shut_write=False):
    c = Conn(st.broker.bootstrap)
    try:
        c.send_raw(data)
        if shut_write:
            c.sock.shutdown(1)
        got = c.expect_closed()
        check(got == b"", "%s: broker answered %r before closing" % (label, got[:32]))
    finally:
        c.close()
    st.healthy(label)


def frame(api_key, version, body, corr=7, client_id="bad-input"):
    payload = i16(api_key) + i16(version) + i32(corr) + string(client_id) + body
    return i32(len(payload)) + payload


def case_truncated(st):
    # The size promises 100 bytes, 10 arrive, then the client goes away.
    c = Conn(st.broker.bootstrap)
    c.send_raw(i32(100) + frame(18, 0, b"")[4:14])
    c.close()
    st.healthy("truncated frame, client gone")
    # Same, but the client only half-closes: the broker sees EOF mid-frame.
    closes_without_answer(st, "truncated frame, EOF mid-frame", i32(100) + b"\x00" * 10,
                          shut_write=True)
    # A frame too short to hold a request header.
    closes_without_answer(st, "frame shorter than a header", i32(3) + b"\x00\x12\x00")


def case_sizes(st):
    closes_without_answer(st, "size above socket.request.max.bytes",
                          i32(200 << 20) + frame(18, 0, b"")[4:])
    closes_without_answer(st, "negative size", i32(-5) + b"\x00" * 16)


def case_unknown_api(st):
    closes_without_answer(st, "unknown api key 9999", frame(9999, 0, b""))
    closes_without_answer(st, "metadata v999", frame(3, 999, i32(-1)))


def case_api_versions_unsupported(st):
    c = Conn(st.broker.bootstrap)
    try:
        # ApiVersions v99 is flexible by the header rule (>= 3): header v2, compact body.
        payload = (i16(18) + i16(99) + i32(41) + string("bad-input") + b"\x00" +
                   b"\x06hello\x041.0\x00")
        c.send_raw(i32(len(payload)) + payload)
        r = harness.Reader(c.recv_frame())
        check(r.i32() == 41, "ApiVersions v99: wrong correlation id")
        err = r.i16()
        check(err == UNSUPPORTED_VERSION, "ApiVersions v99: error %d, expected 35" % err)
        keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
        av = [k for k in keys if k[0] == 18]
        check(len(av) == 1 and av[0][1] == 0 and av[0][2] >= 3,
              "ApiVersions v99 answer should list ApiVersions 0..max, got %r" % (keys,))
        # The connection stays usable: a v0 request now succeeds.
        err, ranges = c.api_versions(0)
        check(err == 0 and 18 in ranges, "ApiVersions v0 after v99: error %d, %r" % (err, ranges))
    finally:
        c.close()
    st.healthy("ApiVersions v99")


def case_malformed_body(st):
    # Metadata v1 claiming a million topics, with no bytes behind the count.
    closes_without_answer(st, "metadata with absurd array count", frame(3, 1, i32(1000000)))
    # A topic-name string running past the end of the frame.
    closes_without_answer(st, "string past end of frame", frame(3, 1, i32(1) + i16(500) + b"ab"))
    if not st.with_data:
        return
    # Produce v3 whose records bytes claim more than the frame holds.
    body = (string(None) + i16(-1) + i32(1000) + i32(1) + string(GOOD) + i32(1) + i32(0) +
            i32(1 << 20) + b"\x00" * 8)
    closes_without_answer(st, "produce records length past end", frame(0, 3, body))


def produce_error(st, label, topic, batch, allowed):
    c = Conn(st.broker.bootstrap)
    try:
        err, _base = c.produce(topic, 0, batch)
    finally:
        c.close()
    check(err in allowed, "%s: produce error %d, expected one of %r" % (label, err, allowed))
    st.healthy(label)


def case_corrupt_batches(st):
    recs = st.records("corrupt")
    produce_error(st, "batch with a bad CRC", GOOD, build_batch(recs, st.ts, corrupt_crc=True),
                  (CORRUPT_MESSAGE,))
    produce_error(st, "batch claiming 7 records, holding 5", GOOD,
                  build_batch(recs, st.ts, count_override=7), (CORRUPT_MESSAGE, INVALID_RECORD))
    produce_error(st, "batch with lastOffsetDelta 9 for 5 records", GOOD,
                  build_batch(recs, st.ts, last_delta_override=9),
                  (CORRUPT_MESSAGE, INVALID_RECORD))
    # The last record cut short: its length varint runs past the batch end. The CRC
    # and batchLength are made consistent with the cut, so only record parsing notices.
    good = build_batch(recs, st.ts)
    tail = good[21:-10]
    bad = (good[:8] + i32(9 + len(tail)) + good[12:17] + struct.pack(">I", harness.crc32c(tail)) +
           tail)
    produce_error(st, "batch with a truncated record", GOOD, bad,
                  (CORRUPT_MESSAGE, INVALID_RECORD))


def case_topics(st):
    c = Conn(st.broker.bootstrap)
    try:
        for name in ("bad/name", "..", "a" * 250, "white space"):
            res = c.create_topics([(name, 1)])
            check(res.get(name, (None,))[0] == INVALID_TOPIC_EXCEPTION,
                  "CreateTopics %r: %r, expected 17" % (name[:20], res))
    finally:
        c.close()
    st.healthy("invalid topic names")
    recs = st.records("nowhere")
    produce_error(st, "produce to an unknown topic", "no-such-topic", build_batch(recs, st.ts),
                  (UNKNOWN_TOPIC_OR_PARTITION,))
    c = Conn(st.broker.bootstrap)
    try:
        md = c.metadata(["no-such-topic"], version=4, allow_auto_create=False)
        check(md["topics"].get("no-such-topic", (None,))[0] == UNKNOWN_TOPIC_OR_PARTITION,
              "produce to an unknown topic created it: %r" % (md["topics"],))
        check(c.create_topics([("doomed", 2)])["doomed"][0] == 0, "create doomed")
        err, _ = c.produce("doomed", 1, build_batch(recs, st.ts))
        check(err == 0, "produce to doomed: %d" % err)
        check(c.delete_topics(["doomed"])["doomed"] == 0, "delete doomed")
    finally:
        c.close()

    def gone():
        c = Conn(st.broker.bootstrap)
        try:
            md = c.metadata(["doomed"], version=4, allow_auto_create=False)
            return md["topics"].get("doomed", (UNKNOWN_TOPIC_OR_PARTITION,))[0] != 0
        finally:
            c.close()
    harness.wait_for(gone, 30, "deleted topic to leave Metadata")
    produce_error(st, "produce to a deleted topic", "doomed", build_batch(recs, st.ts),
                  (UNKNOWN_TOPIC_OR_PARTITION,))


def case_pipelined(st):
    """kafka-python sends ApiVersions and Metadata back to back: answers in order."""
    c = Conn(st.broker.bootstrap)
    try:
        f1 = c.request_frame(18, 0, b"")
        f2 = c.request_frame(3, 0, i32(0))
        f3 = c.request_frame(18, 1, b"")
        c.send_raw(f1 + f2 + f3)
        for want in (1, 2, 3):
            got = struct.unpack(">i", c.recv_frame()[:4])[0]
            check(got == want, "pipelined responses out of order: %d, expected %d" % (got, want))
    finally:
        c.close()
    st.healthy("pipelined requests")


def main(exe, args):
    broker = harness.Broker(exe, extra_args=["--set", "auto.create.topics.enable=false"])
    try:
        broker.start()
        st = State(broker, with_data=args[:1] != ["frames"])
        if st.with_data:
            c = Conn(broker.bootstrap)
            res = c.create_topics([(GOOD, 1)])
            c.close()
            check(res[GOOD][0] == 0, "create %s: %r" % (GOOD, res))
        st.healthy("baseline")
        cases = [case_truncated, case_sizes, case_unknown_api, case_api_versions_unsupported,
                 case_malformed_body, case_pipelined]
        if not st.with_data:
            for case in cases:
                case(st)
            broker.stop()
            return
        for case in cases + [case_corrupt_batches, case_topics]:
            case(st)
        recs = clients.adapter("confluent", broker.bootstrap).consume(GOOD, 1, len(st.acked))
        check([(r["o"], r["k"].encode(), r["v"].encode()) for r in recs] == st.acked,
              "confluent-kafka read back different records")
        log("confluent-kafka read all %d acknowledged records" % len(st.acked))
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
