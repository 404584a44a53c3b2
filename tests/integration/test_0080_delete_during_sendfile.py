"""0080: DeleteTopics while a large Fetch response is still being sent.

Usage: test_0080_delete_during_sendfile.py SERPENTLOG
A raw reader with a tiny receive buffer asks for ~12 MB of a topic and reads
only the first 64 KiB, so the broker's sendfile of the response waits with the
partition's segment files pinned (fetch_owner.c). Another connection deletes
the topic: the partition directory must move aside (`<topic>-0.<tag>.deleted`)
and its log stay open. Then a new topic with many partitions is created and
written, whose files would take the deleted log's fd numbers had they been
closed. The reader resumes: every byte it gets must be the deleted topic's
(every batch's CRC holds, every value carries the deleted topic's tag, offsets
0..n-1 in order), and once it has everything the directory set aside is
removed. Two rounds (the partition's owner shard differs per topic id), then
a SIGTERM that must exit 0 (no sanitizer report).

StalledFetch, fill() and deleted_dirs() are shared with test_0081 and test_0082.
"""

import os
import socket
import struct
import time

import harness
from harness import Reader, array, build_batch, check, i8, i16, i32, i64, log, string

BATCHES = 12  # ~1 MB each: well over the loopback socket buffers (tcp_wmem max 4 MiB)
RECORDS_PER_BATCH = 100


def fill(bootstrap, topic, tag):
    """Produce BATCHES batches of ~1 MB to topic/0; every value starts with tag.

    Returns the number of records written."""
    ts = int(time.time() * 1000)
    recs = [(b"k%d" % i, tag + b"-%06d-" % i + b"x" * 9800, [], ts)
            for i in range(RECORDS_PER_BATCH)]
    batch = build_batch(recs, ts)  # the broker assigns offsets: one batch, sent again
    c = harness.Conn(bootstrap, timeout=30)
    try:
        for _ in range(BATCHES):
            err, _base = c.produce(topic, 0, batch)
            check(err == 0, "produce to %s/0: error %d" % (topic, err))
    finally:
        c.close()
    return BATCHES * RECORDS_PER_BATCH


class StalledFetch:
    """A Fetch v4 of topic/0 from offset 0 for everything, read 64 KiB then paused."""

    def __init__(self, bootstrap, topic):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(30)
        self.sock.connect((host, int(port)))
        self.topic = topic
        body = (i32(-1) + i32(0) + i32(1) + i32(64 << 20) + i8(0) + array(
            [string(topic) + array([i32(0) + i64(0) + i32(64 << 20)])]))
        payload = i16(1) + i16(4) + i32(7) + string("sl-integ-slow") + body
        self.sock.sendall(i32(len(payload)) + payload)
        self.head = self._exact(64 << 10)
        self.size = struct.unpack(">i", self.head[:4])[0]
        check(self.size > 8 << 20, "fetch response of %d bytes: too small to stall" % self.size)

    def _exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise harness.ConnectionClosed("closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def finish(self):
        """Reads the rest; returns (error_code, high_watermark, records bytes)."""
        frame = self.head[4:] + self._exact(self.size + 4 - len(self.head))
        self.sock.close()
        r = Reader(frame)
        check(r.i32() == 7, "slow fetch answered with a wrong correlation id")
        r.i32()  # throttle
        topics = r.array(lambda r: (r.string(), r.array(
            lambda r: (r.i32(), r.i16(), r.i64(), r.i64(),
                       r.array(lambda r: (r.i64(), r.i64())), r.bytes_()))))
        check(len(topics) == 1 and topics[0][0] == self.topic and len(topics[0][1]) == 1,
              "slow fetch response shape")
        _idx, err, hw, _lso, _aborted, recs = topics[0][1][0]
        return err, hw, recs or b""

    def close(self):
        self.sock.close()


def deleted_dirs(data_dir, topic):
    """Names of topic/0's directories renamed aside by a deletion."""
    return sorted(n for n in os.listdir(data_dir)
                  if n.startswith(topic + "-0.") and n.endswith(".deleted"))


def one_round(broker, rnd):
    old, new = "sendfile-old-%d" % rnd, "sendfile-new-%d" % rnd
    c = harness.Conn(broker.bootstrap)
    try:
        check(c.create_topics([(old, 1)])[old][0] == 0, "create %s" % old)
    finally:
        c.close()
    tag = b"OLD%d" % rnd
    n = fill(broker.bootstrap, old, tag)
    slow = StalledFetch(broker.bootstrap, old)
    try:
        c = harness.Conn(broker.bootstrap)
        try:
            check(c.delete_topics([old])[old] == 0, "delete %s" % old)
            aside = deleted_dirs(broker.data_dir, old)
            check(len(aside) == 1, "deleted partition not set aside while its response is "
                  "being sent: %r" % sorted(os.listdir(broker.data_dir)))
            check(not os.path.exists(os.path.join(broker.data_dir, old + "-0")),
                  "%s-0 still in place after the delete" % old)
            # New logs: their fds would reuse the deleted log's if it were closed.
            check(c.create_topics([(new, 16)])[new][0] == 0, "create %s" % new)
            ts = int(time.time() * 1000)
            for p in range(16):
                recs = [(b"n", b"NEW-%d-%d" % (p, j) + b"y" * 2000, [], ts) for j in range(20)]
                err, _ = c.produce(new, p, build_batch(recs, ts))
                check(err == 0, "produce to %s/%d: error %d" % (new, p, err))
            md = c.metadata([old], version=4, allow_auto_create=False)
            check(md["topics"].get(old, (3,))[0] == 3, "%s still served after its delete" % old)
        finally:
            c.close()
        err, hw, data = slow.finish()
    finally:
        slow.close()
    check(err == 0, "slow fetch: partition error %d" % err)
    check(hw == n, "slow fetch: high watermark %d, expected %d" % (hw, n))
    recs = harness.parse_batches(data)  # checks every batch's CRC
    check(len(recs) == n, "slow fetch returned %d of %d records" % (len(recs), n))
    for i, r in enumerate(recs):
        check(r["offset"] == i, "record %d has offset %d" % (i, r["offset"]))
        check(r["value"].startswith(tag + b"-"),
              "record %d is not the deleted topic's: %r" % (i, r["value"][:24]))
    harness.wait_for(lambda: not deleted_dirs(broker.data_dir, old), 15,
                     "the deleted partition's directory to go once the fetch was sent")
    log("round %d: %d bytes of the deleted topic sent whole after delete + new logs; "
        "%s removed afterwards" % (rnd, len(data), aside[0]))


def main(exe, args):
    broker = harness.Broker(exe)
    try:
        broker.start()
        for rnd in range(2):
            one_round(broker, rnd)
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
