"""0060: SIGTERM while a Metadata-triggered topic auto-creation is in flight.

Usage: test_0060_shutdown_during_auto_create.py SERPENTLOG
Metadata v1 for an unknown topic starts an auto-creation (Kafka answers
LEADER_NOT_AVAILABLE or UNKNOWN_TOPIC_OR_PARTITION first); a SIGTERM right after,
with the client still connected, must still shut down cleanly (exit 0, so no sanitizer report), and the broker
must restart on that data dir with the topic either fully there (one partition
or more, readable from offset 0) or absent, never half-created. Each round
starts several creations from several connections (the registry runs them one
at a time on shard 0, the partition logs open on their owner shards), and the
stop must be prompt and must not need the shutdown barrier's timeout.
"""

import time

import harness
from harness import Conn, check, log

AUTO_CREATE_FIRST_ANSWERS = (0, 3, 5)  # ok / unknown (creating) / leader not available


TOPICS_PER_ROUND = 3
STOP_SECONDS_MAX = 10.0  # the barrier's timeout is 15 s: a stop this slow waited for it


def main(exe, args):
    broker = harness.Broker(exe)
    try:
        broker.start()
        for rnd in range(5):
            names = ["auto-%d-%d" % (rnd, k) for k in range(TOPICS_PER_ROUND)]
            conns = [Conn(broker.bootstrap) for _ in names]
            try:
                for c, name in zip(conns, names):
                    c.send(3, 1, harness.array([name], harness.string))
                for c, name in zip(conns, names):
                    r = harness.Reader(c.recv_frame())
                    r.i32()  # correlation id
                    r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
                    r.i32()  # controller
                    topics = r.array(lambda r: (r.i16(), r.string(), r.i8(),
                                                r.array(lambda r: (r.i16(), r.i32(), r.i32(),
                                                                   r.array(harness.Reader.i32),
                                                                   r.array(harness.Reader.i32)))))
                    err = topics[0][0] if topics else None
                    check(err in AUTO_CREATE_FIRST_ANSWERS,
                          "Metadata v1 for %s answered %r" % (name, err))
                t0 = time.time()
                broker.stop()  # right away, clients still connected: creations may be in flight
                took = time.time() - t0
            finally:
                for c in conns:
                    c.close()
            with open(broker._log_path(), "rb") as f:
                text = f.read().decode(errors="replace")
            check("shutdown barrier" not in text,
                  "the stop needed the barrier's timeout:\n" + broker.log_tail())
            check(took < STOP_SECONDS_MAX, "stop took %.1f s" % took)
            broker.start()
            c = Conn(broker.bootstrap)
            states = []
            try:
                for name in names:
                    md = c.metadata([name], version=4, allow_auto_create=False)
                    err, parts = md["topics"].get(name, (3, []))
                    check(err in (0, 3), "after restart %s answers %d" % (name, err))
                    if err == 0:
                        check(parts, "%s exists with no partitions" % name)
                        for idx, _perr, _leader in parts:
                            ferr, hw, _data = c.fetch(name, idx, 0)
                            check(ferr == 0 and hw == 0,
                                  "%s/%d fetch error %d hw %d" % (name, idx, ferr, hw))
                    states.append("present" if err == 0 else "absent")
            finally:
                c.close()
            log("round %d: stop in %.2f s with auto-creates in flight; after restart %s" %
                (rnd, took, ", ".join("%s %s" % x for x in zip(names, states))))
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
