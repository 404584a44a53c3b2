"""0060: SIGTERM while a Metadata-triggered topic auto-creation is in flight.

Usage: test_0060_shutdown_during_auto_create.py SERPENTLOG
Metadata v1 for an unknown topic starts an auto-creation (Kafka answers
LEADER_NOT_AVAILABLE or UNKNOWN_TOPIC_OR_PARTITION first); a SIGTERM right after,
with the client still connected, must still shut down cleanly (exit 0, so no sanitizer report), and the broker
must restart on that data dir with the topic either fully there (one partition
or more, readable from offset 0) or absent, never half-created.
"""

import harness
from harness import Conn, check, log

AUTO_CREATE_FIRST_ANSWERS = (0, 3, 5)  # ok / unknown (creating) / leader not available


def main(exe, args):
    broker = harness.Broker(exe)
    try:
        broker.start()
        for rnd in range(3):
            name = "auto-%d" % rnd
            c = Conn(broker.bootstrap)
            err = c.metadata([name])["topics"].get(name, (None,))[0]
            check(err in AUTO_CREATE_FIRST_ANSWERS, "Metadata v1 for %s answered %r" % (name, err))
            try:
                broker.stop()  # right away, client still connected: creation may be in flight
            finally:
                c.close()
            broker.start()
            c = Conn(broker.bootstrap)
            try:
                md = c.metadata([name], version=4, allow_auto_create=False)
                err, parts = md["topics"].get(name, (3, []))
                check(err in (0, 3), "after restart %s answers %d" % (name, err))
                if err == 0:
                    check(parts, "%s exists with no partitions" % name)
                    ferr, hw, _data = c.fetch(name, 0, 0)
                    check(ferr == 0 and hw == 0, "%s/0 fetch error %d hw %d" % (name, ferr, hw))
            finally:
                c.close()
            log("round %d: clean stop with an auto-create in flight, %s %s after restart" %
                (rnd, name, "present" if err == 0 else "absent"))
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
