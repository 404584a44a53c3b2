"""Idempotent producers end to end against a real serpentlog.

Usage: test_idempotence.py SERPENTLOG
1. Raw protocol: ApiVersions advertises InitProducerId 0-5 and DescribeProducers
   0; InitProducerId hands out distinct ids (a transactional id is refused with
   COORDINATOR_NOT_AVAILABLE); the same idempotent batch sent twice gets the
   same base offset and is stored once; a sequence gap gets
   OUT_OF_ORDER_SEQUENCE_NUMBER (45), an old epoch INVALID_PRODUCER_EPOCH (47),
   a new epoch not starting at 0 gets 45. After kill -9 and a restart the
   producer state is rebuilt from the log (the duplicate still answers its
   original offset), producer ids are never reused, and DescribeProducers
   lists the producer. Five idempotent requests pipelined on one connection are
   answered in order, resent ones as duplicates, a gap among them refused.
2. librdkafka (confluent-kafka, enable.idempotence=true) produces 100,000
   records through a TCP proxy that cuts every connection several times, and
   the broker is killed with SIGKILL and restarted once mid-stream; reading the
   partition back gives exactly the 100,000 records, in order, no duplicates.
"""

import os
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from harness import (Broker, Conn, Reader, array, build_batch, bytes_, check,  # noqa: E402
                     compact_string, i16, i32, log, run_test, string, uvarint)

from confluent_kafka import Producer  # noqa: E402

TOTAL = 100000


# ---- raw protocol helpers

def init_pid(c, version=0, txn_id=None):
    """InitProducerId v0/v1 (non-flexible): (error, producer_id, epoch)."""
    r = c.call(22, version, string(txn_id) + i32(60000))
    r.i32()
    return r.i16(), r.i64(), r.i16()


def batch(pid, epoch, seq, n, tag):
    recs = [(b"k", b"%s-%d" % (tag, seq + i), [], 1000 + i) for i in range(n)]
    return build_batch(recs, 1000, producer_id=pid, producer_epoch=epoch, base_seq=seq)


def describe_producers(c, topic, partition):
    """DescribeProducers v0 (flexible): (error, [(pid, epoch, last_seq, last_ts, ...)])."""
    body = uvarint(2) + compact_string(topic) + uvarint(2) + i32(partition) + b"\x00" + b"\x00"
    r = c.call(61, 0, body, flexible_header=True, flexible_response=True)
    r.i32()

    def carray(r, fn):
        n = r.uvarint() - 1
        return [fn(r) for _ in range(max(n, 0))]

    def cstring(r):
        n = r.uvarint() - 1
        return None if n < 0 else r.take(n).decode()

    def prod(r):
        p = (r.i64(), r.i32(), r.i32(), r.i64(), r.i32(), r.i64())
        r.uvarint()
        return p

    def part(r):
        p = (r.i32(), r.i16(), cstring(r), carray(r, prod))
        r.uvarint()
        return p

    def topic_(r):
        t = (cstring(r), carray(r, part))
        r.uvarint()
        return t

    topics = carray(r, topic_)
    check(len(topics) == 1 and len(topics[0][1]) == 1, "DescribeProducers shape %r" % (topics,))
    _idx, err, _msg, prods = topics[0][1][0]
    return err, prods


def raw_checks(broker):
    c = Conn(broker.bootstrap)
    err, apis = c.api_versions()
    check(err == 0, "ApiVersions error %d" % err)
    check(apis.get(22) == (0, 5), "InitProducerId advertised as %r" % (apis.get(22),))
    check(apis.get(61) == (0, 0), "DescribeProducers advertised as %r" % (apis.get(61),))
    err, pid, epoch = init_pid(c)
    check(err == 0 and pid >= 0 and epoch == 0, "InitProducerId: %r" % ((err, pid, epoch),))
    err2, pid2, _ = init_pid(c, 1)
    check(err2 == 0 and pid2 != pid, "second InitProducerId: %r" % ((err2, pid2),))
    err, _, _ = init_pid(c, 0, "txn-1")
    check(err == 15, "transactional InitProducerId answered %d, want 15" % err)
    res = c.create_topics([("idem-raw", 2)])
    check(res["idem-raw"][0] == 0, "create topic: %r" % (res,))

    t = "idem-raw"
    b0 = batch(pid, 0, 0, 3, b"a")
    check(c.produce(t, 1, b0) == (0, 0), "first batch")
    check(c.produce(t, 1, b0) == (0, 0), "duplicate batch must answer the original offset 0")
    b1 = batch(pid, 0, 3, 2, b"a")
    check(c.produce(t, 1, b1) == (0, 3), "next batch")
    check(c.produce(t, 1, b0) == (0, 0), "older duplicate (still in the 5-batch window)")
    check(c.produce(t, 1, b1, acks=1) == (0, 3), "duplicate with acks=1")
    check(c.produce(t, 1, batch(pid, 0, 9, 1, b"a"))[0] == 45, "gap must answer 45")
    check(c.produce(t, 1, batch(pid, 0, 4, 2, b"a"))[0] == 45, "overlap must answer 45")
    check(c.produce(t, 1, batch(pid, 1, 2, 1, b"a"))[0] == 45, "new epoch must start at 0")
    b2 = batch(pid, 1, 0, 4, b"b")
    check(c.produce(t, 1, b2) == (0, 5), "bumped epoch at sequence 0")
    check(c.produce(t, 1, batch(pid, 0, 5, 1, b"a"))[0] == 47, "old epoch must answer 47")
    # Another producer on the same partition is independent.
    check(c.produce(t, 1, batch(pid2, 0, 0, 1, b"c")) == (0, 9), "second producer")
    recs, hw = c.fetch_all(t, 1)
    vals = [r["value"] for r in recs]
    want = [b"a-0", b"a-1", b"a-2", b"a-3", b"a-4", b"b-0", b"b-1", b"b-2", b"b-3", b"c-0"]
    check(hw == 10 and vals == want, "stored records %r (hw %d)" % (vals, hw))
    c.close()

    broker.kill9()
    broker.start()
    c = Conn(broker.bootstrap)
    # Producer state came back from the log headers.
    check(c.produce(t, 1, b2) == (0, 5), "duplicate after restart must answer offset 5")
    check(c.produce(t, 1, batch(pid, 1, 5, 1, b"b"))[0] == 45, "gap after restart")
    check(c.produce(t, 1, batch(pid, 0, 5, 1, b"a"))[0] == 47, "old epoch after restart")
    check(c.produce(t, 1, batch(pid, 1, 4, 1, b"b")) == (0, 10), "next batch after restart")
    err, prods = describe_producers(c, t, 1)
    check(err == 0, "DescribeProducers error %d" % err)
    byid = {p[0]: p for p in prods}
    check(set(byid) == {pid, pid2}, "DescribeProducers lists %r" % (prods,))
    check(byid[pid][1] == 1 and byid[pid][2] == 4, "producer %d described as %r" %
          (pid, byid[pid]))
    err, prods = describe_producers(c, t, 7)
    check(err == 3, "DescribeProducers of a missing partition: %d" % err)
    err, pid3, _ = init_pid(c)
    check(err == 0 and pid3 > max(pid, pid2), "id %d after restart reuses an old one" % pid3)
    recs, hw = c.fetch_all(t, 1)
    check(hw == 11 and len(recs) == 11, "after restart: %d records, hw %d" % (len(recs), hw))
    c.close()
    log("raw idempotence checks passed")


def produce_pipelined(c, topic, partition, batches):
    """Sends one Produce v3 (acks=-1) per batch without waiting, then reads the
    answers: [(error, base_offset)] in request order."""
    corrs = []
    for b in batches:
        body = (string(None) + i16(-1) + i32(10000) +
                array([string(topic) + array([i32(partition) + bytes_(b)])]))
        corrs.append(c.send(0, 3, body))
    out = []
    for corr in corrs:
        r = Reader(c.recv_frame())
        got = r.i32()
        check(got == corr, "pipelined answer %d, expected %d (out of order)" % (got, corr))
        resp = r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i16(), r.i64(), r.i64()))))
        _idx, err, base, _lat = resp[0][1][0]
        out.append((err, base))
    return out


def pipelined_checks(broker):
    """Five idempotent requests in flight on one connection, as the Java client
    sends them (max.in.flight.requests.per.connection=5): each is checked against
    the sequences appended before it, all wait for the same group commits, and the
    answers come back in order."""
    c = Conn(broker.bootstrap)
    t = "idem-pipe"
    check(c.create_topics([(t, 1)])[t][0] == 0, "create topic")
    err, pid, _ = init_pid(c)
    check(err == 0, "InitProducerId: %d" % err)
    five = [batch(pid, 0, 2 * k, 2, b"p") for k in range(5)]
    got = produce_pipelined(c, t, 0, five)
    check(got == [(0, 2 * k) for k in range(5)], "five in flight answered %r" % (got,))
    # A client that lost the connection resends everything that was in flight.
    got = produce_pipelined(c, t, 0, five)
    check(got == [(0, 2 * k) for k in range(5)], "five resent answered %r" % (got,))
    # A gap in the middle: it and what follows it are refused, what precedes it is not.
    got = produce_pipelined(c, t, 0, [batch(pid, 0, 10, 2, b"p"), batch(pid, 0, 13, 2, b"p"),
                                      batch(pid, 0, 15, 2, b"p")])
    check([e for e, _ in got] == [0, 45, 45], "gap in flight answered %r" % (got,))
    recs, hw = c.fetch_all(t, 0)
    vals = [r["value"] for r in recs]
    check(hw == 12 and vals == [b"p-%d" % i for i in range(12)],
          "stored %r (hw %d)" % (vals, hw))
    c.close()
    log("pipelined idempotence checks passed")


# ---- a TCP proxy that can cut every connection

class Proxy:
    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.lock = threading.Lock()
        self.socks = []
        self.cuts = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                cs, _ = self.ls.accept()
            except OSError:
                return
            try:
                ss = socket.create_connection(self.target, timeout=2)
            except OSError:
                cs.close()
                continue
            with self.lock:
                self.socks += [cs, ss]
            threading.Thread(target=self._pump, args=(cs, ss), daemon=True).start()
            threading.Thread(target=self._pump, args=(ss, cs), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.cuts += 1

    def stop(self):
        self.stopped = True
        self.cut()
        self.ls.close()


def client_run(broker, proxy):
    topic = "idem-rdk"
    c = Conn(broker.bootstrap)
    check(c.create_topics([(topic, 1)])[topic][0] == 0, "create topic")
    c.close()
    acked = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append(msg.offset())

    p = Producer({"bootstrap.servers": "127.0.0.1:%d" % proxy.port,
                  "enable.idempotence": True, "linger.ms": 5, "batch.num.messages": 500,
                  # a short queue ties the loop below to acknowledgements, so the
                  # cuts and the kill hit requests in flight
                  "queue.buffering.max.messages": 3000,
                  "message.timeout.ms": 180000, "retry.backoff.ms": 50,
                  "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500})
    cut_at = {15000, 35000, 55000, 85000}
    kill_at = 70000
    for i in range(TOTAL):
        if i in cut_at:
            log("cutting every connection at record", i)
            proxy.cut()
        if i == kill_at:
            broker.kill9()
            time.sleep(0.5)
            broker.start()
        while True:
            try:
                p.produce(topic, value=b"v%06d" % i, partition=0, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(180)
    check(left == 0, "%d records undelivered" % left)
    check(not errors, "delivery errors: %r" % errors[:5])
    check(len(acked) == TOTAL, "%d delivery reports" % len(acked))
    check(sorted(acked) == list(range(TOTAL)), "acknowledged offsets are not 0..%d" % (TOTAL - 1))

    c = Conn(broker.bootstrap)
    recs, hw = c.fetch_all(topic, 0)
    c.close()
    vals = [r["value"] for r in recs]
    check(hw == TOTAL, "high watermark %d, want %d (duplicates or losses)" % (hw, TOTAL))
    check(len(vals) == TOTAL, "read %d records" % len(vals))
    bad = [i for i, v in enumerate(vals) if v != b"v%06d" % i]
    check(not bad, "records out of order/duplicated from offset %d: %r" %
          (bad[0] if bad else -1, vals[bad[0]] if bad else None))
    log("librdkafka idempotent producer: %d records exactly once through %d cuts and a kill -9"
        % (TOTAL, proxy.cuts))


def main(exe, args):
    broker = Broker(exe)
    proxy = Proxy(broker.port)
    broker.extra_args += ["--advertised", "127.0.0.1:%d" % proxy.port]
    try:
        broker.start()
        raw_checks(broker)
        pipelined_checks(broker)
        client_run(broker, proxy)
        broker.stop()
    finally:
        proxy.stop()
        broker.close()


if __name__ == "__main__":
    run_test(main)
