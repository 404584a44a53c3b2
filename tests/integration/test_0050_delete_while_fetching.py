"""0050: deleting a topic while consumers long-poll it.

Usage: test_0050_delete_while_fetching.py SERPENTLOG
Consumers park Fetch requests (max wait 3 s) on partitions of a topic at its
high watermark; another connection deletes the topic. Each parked Fetch must
still be answered on its connection (empty, or with an error for the
partition), clients that disconnected mid-poll must not matter, a new topic of
the same name must start empty at offset 0, and the broker must exit 0 on
SIGTERM (a sanitizer report makes that fail).
"""

import time

import harness
from harness import Conn, array, build_batch, check, i8, i32, i64, log, string

TOPIC = "doomed"
UNKNOWN_TOPIC_OR_PARTITION = 3


def park_fetch(bootstrap, partition, offset):
    """Send a Fetch v4 that waits up to 3 s; returns the connection and correlation id."""
    c = Conn(bootstrap, timeout=15)
    body = (i32(-1) + i32(3000) + i32(1) + i32(1 << 20) + i8(0) + array(
        [string(TOPIC) + array([i32(partition) + i64(offset) + i32(1 << 20)])]))
    return c, c.send(1, 4, body)


def produce_some(bootstrap, partitions, tag):
    c = Conn(bootstrap)
    try:
        ts = int(time.time() * 1000)
        for p in range(partitions):
            recs = [(b"%s-%d-%d" % (tag, p, j), b"v" * 50, [], ts) for j in range(10)]
            err, _ = c.produce(TOPIC, p, build_batch(recs, ts))
            check(err == 0, "produce to %s/%d: %d" % (TOPIC, p, err))
    finally:
        c.close()


def create(bootstrap, partitions):
    """CreateTopics, retrying while a previous deletion of the name completes (36)."""
    def attempt():
        c = Conn(bootstrap)
        try:
            err = c.create_topics([(TOPIC, partitions)])[TOPIC][0]
        finally:
            c.close()
        check(err in (0, 36), "create %s: error %d" % (TOPIC, err))
        return err == 0
    harness.wait_for(attempt, 15, "create %s" % TOPIC)


def main(exe, args):
    broker = harness.Broker(exe)
    try:
        broker.start()
        for rnd in range(3):
            create(broker.bootstrap, 4)
            produce_some(broker.bootstrap, 4, b"r%d" % rnd)
            parked = [park_fetch(broker.bootstrap, p, 10) for p in range(4)]
            gone = [park_fetch(broker.bootstrap, p, 10) for p in range(4)]
            for g, _corr in gone:
                g.close()  # these clients leave while their fetches are parked
            time.sleep(0.2)
            c = Conn(broker.bootstrap)
            check(c.delete_topics([TOPIC])[TOPIC] == 0, "delete %s" % TOPIC)
            c.close()
            for conn, corr in parked:
                r = harness.Reader(conn.recv_frame())
                check(r.i32() == corr, "parked fetch answered with a wrong correlation id")
                r.i32()
                topics = r.array(lambda r: (r.string(), r.array(
                    lambda r: (r.i32(), r.i16(), r.i64(), r.i64(),
                               r.array(lambda r: (r.i64(), r.i64())), r.bytes_()))))
                for _name, parts in topics:
                    for _idx, err, _hw, _lso, _ab, recs in parts:
                        check(err in (0, UNKNOWN_TOPIC_OR_PARTITION),
                              "parked fetch answered error %d" % err)
                        check(not harness.parse_batches(recs or b""),
                              "parked fetch returned records of the deleted topic")
                conn.close()
            check(broker.alive(), "broker died:\n" + broker.log_tail())
            log("round %d: parked fetches answered after delete" % rnd)
        # A topic recreated under the same name starts empty.
        create(broker.bootstrap, 1)
        c = Conn(broker.bootstrap)
        err, hw, data = c.fetch(TOPIC, 0, 0)
        c.close()
        check(err == 0 and hw == 0 and not harness.parse_batches(data),
              "recreated topic is not empty: error %d, high watermark %d" % (err, hw))
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
