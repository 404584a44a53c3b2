"""0081: a deletion interrupted by a crash leaves a directory that startup removes.

Usage: test_0081_deleted_leftover_sweep.py SERPENTLOG
DeleteTopics moves a partition directory that a Fetch still reads from aside
(`<topic>-<n>.<tag>.deleted`) and removes it once the response is sent. Here a
stalled reader (test_0080's StalledFetch) keeps it, the broker is killed with
SIGKILL, and the leftover is damaged on purpose. Then: `serpentlog verify
DATA` must ignore it (exit 0, only the live partitions verified, the leftover
counted as skipped, not read; verify of the leftover itself says what it is);
the restarted broker must remove it, must not serve the deleted
topic (Metadata and Fetch answer UNKNOWN_TOPIC_OR_PARTITION, a new topic of
the same name starts empty), must keep the other topic's records, and must
leave alone names that only look similar (a `.deleted` directory that is not
`<topic>-<n>.<tag>.deleted`, a plain file with the pattern's name).
"""

import os
import subprocess
import time

import harness
from harness import build_batch, check, log
from test_0080_delete_during_sendfile import StalledFetch, deleted_dirs, fill

UNKNOWN_TOPIC_OR_PARTITION = 3


def verify(exe, data_dir):
    p = subprocess.run([exe, "verify", data_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return p.returncode, p.stdout.decode(errors="replace")


def main(exe, args):
    broker = harness.Broker(exe)
    try:
        broker.start()
        c = harness.Conn(broker.bootstrap)
        try:
            for name, parts in (("gone", 1), ("kept", 2)):
                check(c.create_topics([(name, parts)])[name][0] == 0, "create %s" % name)
            ts = int(time.time() * 1000)
            kept = [(b"k%d" % j, b"kept-%d" % j, [], ts) for j in range(50)]
            for p in range(2):
                check(c.produce("kept", p, build_batch(kept, ts))[0] == 0, "produce kept/%d" % p)
        finally:
            c.close()
        fill(broker.bootstrap, "gone", b"GONE")
        slow = StalledFetch(broker.bootstrap, "gone")
        try:
            c = harness.Conn(broker.bootstrap)
            try:
                check(c.delete_topics(["gone"])["gone"] == 0, "delete gone")
            finally:
                c.close()
            aside = deleted_dirs(broker.data_dir, "gone")
            check(len(aside) == 1, "no directory set aside: %r" % os.listdir(broker.data_dir))
            broker.kill9()  # before the response is sent: the leftover stays
        finally:
            slow.close()
        left = os.path.join(broker.data_dir, aside[0])
        check(os.path.isdir(left), "%s vanished with the kill" % aside[0])
        # Damage it: were it verified or loaded, it would fail.
        logs = [f for f in os.listdir(left) if f.endswith(".log")]
        check(logs, "no segment in %s: %r" % (aside[0], os.listdir(left)))
        with open(os.path.join(left, logs[0]), "r+b") as f:
            f.seek(4096)
            f.write(b"\xff" * 8192)
        lookalike_dir = os.path.join(broker.data_dir, "notes.old.deleted")
        os.mkdir(lookalike_dir)
        lookalike_file = os.path.join(broker.data_dir, "kept-7.0x1.deleted")
        with open(lookalike_file, "wb") as f:
            f.write(b"not a directory")

        rc, out = verify(exe, broker.data_dir)
        check(rc == 0, "serpentlog verify exited %d:\n%s" % (rc, out))
        check(".deleted" not in out, "verify looked at the leftover:\n" + out)
        check("2 partitions verified, 0 damaged, 1 left by topic deletions skipped" in out,
              "verify summary:\n" + out)
        rc, out = verify(exe, left + "/")
        check(rc == 0 and "left by a topic deletion" in out,
              "verify of the leftover itself: exit %d:\n%s" % (rc, out))

        broker.start()
        check(not deleted_dirs(broker.data_dir, "gone"),
              "leftover still there after restart: %r" % os.listdir(broker.data_dir))
        check(os.path.isdir(lookalike_dir), "startup removed notes.old.deleted")
        check(os.path.isfile(lookalike_file), "startup removed the file kept-7.0x1.deleted")
        c = harness.Conn(broker.bootstrap)
        try:
            md = c.metadata(["gone"], version=4, allow_auto_create=False)
            check(md["topics"].get("gone", (UNKNOWN_TOPIC_OR_PARTITION,))[0] ==
                  UNKNOWN_TOPIC_OR_PARTITION, "deleted topic served after restart: %r" % md)
            err, _hw, data = c.fetch("gone", 0, 0)
            check(err == UNKNOWN_TOPIC_OR_PARTITION and not data,
                  "fetch of the deleted topic: error %d, %d bytes" % (err, len(data)))
            for p in range(2):
                recs, _hw = c.fetch_all("kept", p)
                check([r["value"] for r in recs] == [v for _k, v, _h, _t in kept],
                      "kept/%d lost records: %d read" % (p, len(recs)))
            check(c.create_topics([("gone", 1)])["gone"][0] == 0, "re-create gone")
            err, hw, data = c.fetch("gone", 0, 0)
            check(err == 0 and hw == 0 and not harness.parse_batches(data),
                  "re-created topic not empty: error %d, hw %d" % (err, hw))
        finally:
            c.close()
        log("leftover %s ignored by verify, removed at startup; look-alikes kept" % aside[0])
        broker.stop()
    finally:
        broker.close()


if __name__ == "__main__":
    harness.run_test(main)
