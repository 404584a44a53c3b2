"""0082: SIGTERM while deleted partitions wait for stalled Fetch responses.

Usage: test_0082_stop_with_stalled_fetch.py SERPENTLOG
Three topics are each read by a stalled reader (test_0080's StalledFetch: a
~12 MB response whose sendfile waits) and then deleted, so each partition's
log stays open in a directory set aside until its ranges come home from the
connection's shard. SIGTERM then: the drain cannot finish those responses, so
after its timeout the connections close, their ranges are released by
cross-shard calls, and the shutdown barrier must keep every shard in its loop
until they have arrived: exit 0 (no leak, no use-after-free under the
sanitizers), no set-aside directory left behind, no barrier timeout, and a
restart serves the other topic's records and none of the deleted ones.
"""

import os
import time

import harness
from harness import build_batch, check, log
from test_0080_delete_during_sendfile import StalledFetch, deleted_dirs, fill

TOPICS = ["stalled-%d" % i for i in range(3)]


def main(exe, args):
    broker = harness.Broker(exe)
    readers = []
    try:
        broker.start()
        c = harness.Conn(broker.bootstrap)
        try:
            for name in TOPICS + ["kept"]:
                check(c.create_topics([(name, 1)])[name][0] == 0, "create %s" % name)
            ts = int(time.time() * 1000)
            kept = [(b"k%d" % j, b"kept-%d" % j, [], ts) for j in range(20)]
            check(c.produce("kept", 0, build_batch(kept, ts))[0] == 0, "produce kept/0")
        finally:
            c.close()
        for name in TOPICS:
            fill(broker.bootstrap, name, name.encode())
            readers.append(StalledFetch(broker.bootstrap, name))
        c = harness.Conn(broker.bootstrap)
        try:
            for name in TOPICS:
                check(c.delete_topics([name])[name] == 0, "delete %s" % name)
                check(len(deleted_dirs(broker.data_dir, name)) == 1,
                      "%s not set aside: %r" % (name, sorted(os.listdir(broker.data_dir))))
        finally:
            c.close()
        t0 = time.time()
        broker.stop()  # exit 0: no sanitizer report
        took = time.time() - t0
        with open(broker._log_path(), "rb") as f:
            text = f.read().decode(errors="replace")
        check("shutdown barrier" not in text, "the barrier timed out:\n" + broker.log_tail())
        left = [n for n in os.listdir(broker.data_dir) if n.endswith(".deleted")]
        check(not left, "set-aside directories left by a clean stop: %r" % left)
        for r in readers:
            r.close()
        readers = []
        broker.start()
        c = harness.Conn(broker.bootstrap)
        try:
            recs, _hw = c.fetch_all("kept", 0)
            check([r["value"] for r in recs] == [v for _k, v, _h, _t in kept],
                  "kept/0 after restart: %d records" % len(recs))
            for name in TOPICS:
                md = c.metadata([name], version=4, allow_auto_create=False)
                check(md["topics"].get(name, (3,))[0] == 3, "%s served after restart" % name)
        finally:
            c.close()
        log("stop with %d stalled responses of deleted topics took %.1f s; nothing left behind" %
            (len(TOPICS), took))
        broker.stop()
    finally:
        for r in readers:
            r.close()
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
